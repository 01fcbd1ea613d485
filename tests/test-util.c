/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "test-util.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <jpeglib.h>   /* after stdio.h, for FILE */
#include <sys/wait.h>
#include <unistd.h>

/* Made by packd_test_run() in the parent process before the tests fork, so
 * the children inherit the path and the parent removes the folder. */
static char *run_tmp_dir;

/* A test harness that gives up on the run (meson's timeout) sends SIGTERM:
 * the parent then removes the run's folder before dying of the signal.  Only
 * async-signal-safe calls, hence rm(1) through fork/execve. */
static pid_t run_pid;
static char *rm_argv[] = { "rm", "-rf", NULL, NULL };
static const int cleanup_signals[] = { SIGTERM, SIGINT, SIGHUP };
static struct sigaction saved_actions[G_N_ELEMENTS (cleanup_signals)];

static void
remove_run_dir_and_die (int sig)
{
  if (getpid () == run_pid) {
    static char *const no_env[] = { NULL };
    pid_t rm = fork ();
    if (rm == 0) {
      execve ("/bin/rm", rm_argv, no_env);
      _exit (127);
    }
    if (rm > 0)
      waitpid (rm, NULL, 0);
  }
  signal (sig, SIG_DFL);
  raise (sig);
}

static void
catch_cleanup_signals (gboolean on)
{
  struct sigaction action = { .sa_handler = remove_run_dir_and_die };

  sigemptyset (&action.sa_mask);
  for (guint i = 0; i < G_N_ELEMENTS (cleanup_signals); i++) {
    if (on)
      sigaction (cleanup_signals[i], &action, &saved_actions[i]);
    else
      sigaction (cleanup_signals[i], &saved_actions[i], NULL);
  }
}

void
packd_test_remove_tree (const char *path)
{
  GDir *dir;
  const char *name;

  if (!g_file_test (path, G_FILE_TEST_IS_DIR) || g_file_test (path, G_FILE_TEST_IS_SYMLINK)) {
    g_unlink (path);
    return;
  }
  dir = g_dir_open (path, 0, NULL);
  while (dir && (name = g_dir_read_name (dir))) {
    char *child = g_build_filename (path, name, NULL);
    packd_test_remove_tree (child);
    g_free (child);
  }
  if (dir)
    g_dir_close (dir);
  g_rmdir (path);
}

int
packd_test_run (Suite *suite)
{
  SRunner *runner = srunner_create (suite);
  int failed;

  run_tmp_dir = g_dir_make_tmp ("packd-test-XXXXXX", NULL);
  if (run_tmp_dir) {
    run_pid = getpid ();
    rm_argv[2] = run_tmp_dir;
    catch_cleanup_signals (TRUE);
  }
  srunner_run_all (runner, CK_NORMAL);
  failed = srunner_ntests_failed (runner);
  srunner_free (runner);
  if (run_tmp_dir) {
    catch_cleanup_signals (FALSE);
    packd_test_remove_tree (run_tmp_dir);
  }
  g_clear_pointer (&run_tmp_dir, g_free);
  return failed == 0 ? 0 : 1;
}

char *
packd_test_make_tmp_dir (const char *prefix)
{
  char *template = g_strdup_printf ("%s-XXXXXX", prefix);
  char *path;

  if (run_tmp_dir) {
    path = g_build_filename (run_tmp_dir, template, NULL);
    if (g_mkdtemp (path) == NULL)
      g_clear_pointer (&path, g_free);
  } else {
    path = g_dir_make_tmp (template, NULL);
  }
  ck_assert_msg (path != NULL, "cannot make a temporary folder %s: %s", template,
      g_strerror (errno));
  g_free (template);
  return path;
}

const char *
packd_test_teacher_path (void)
{
  const char *path = g_getenv ("PACKD_TEACHER");

  ck_assert_msg (path != NULL, "PACKD_TEACHER is not set (run models/import-teacher.sh)");
  return path;
}

float *
packd_test_random_floats (GRand *rng, int64_t count, double lo, double hi)
{
  float *v = g_new (float, MAX (count, 1));

  for (int64_t i = 0; i < count; i++)
    v[i] = (float) g_rand_double_range (rng, lo, hi);
  return v;
}

void
packd_test_assert_close (const float *got, const double *want, int64_t count, double rtol,
    double atol, const char *what)
{
  for (int64_t i = 0; i < count; i++) {
    double err = fabs ((double) got[i] - want[i]);
    /* Not ck_assert_msg: its per-call bookkeeping dominates the run time. */
    if (!(err <= rtol * fabs (want[i]) + atol))
      ck_abort_msg ("%s: element %" G_GINT64_FORMAT " is %.9g, expected %.9g (err %.3g, atol %.3g)",
          what, (gint64) i, (double) got[i], want[i], err, atol);
  }
}

static void
put_le (guint8 *p, guint32 value, int bytes)
{
  for (int i = 0; i < bytes; i++)
    p[i] = value >> (8 * i);
}

void
packd_test_bmp_header (guint8 header[PACKD_TEST_BMP_HEADER_SIZE], guint32 width, gint32 height)
{
  memset (header, 0, PACKD_TEST_BMP_HEADER_SIZE);
  header[0] = 'B';
  header[1] = 'M';
  put_le (header + 10, PACKD_TEST_BMP_HEADER_SIZE, 4);    /* pixel data offset */
  put_le (header + 14, 40, 4);                            /* BITMAPINFOHEADER */
  put_le (header + 18, width, 4);
  put_le (header + 22, (guint32) height, 4);
  put_le (header + 26, 1, 2);                             /* planes */
  put_le (header + 28, 24, 2);                            /* bits per pixel */
}

guint8 *
packd_test_encode_jpeg (const guint8 *pixels, int components, int width, int height,
    int quality, gboolean progressive, gsize *len)
{
  struct jpeg_compress_struct cinfo;
  struct jpeg_error_mgr jerr;
  unsigned char *mem = NULL;
  unsigned long mem_len = 0;
  guint8 *jpeg;

  cinfo.err = jpeg_std_error (&jerr);
  jpeg_create_compress (&cinfo);
  jpeg_mem_dest (&cinfo, &mem, &mem_len);
  cinfo.image_width = width;
  cinfo.image_height = height;
  cinfo.input_components = components;
  cinfo.in_color_space = components == 3 ? JCS_RGB : JCS_GRAYSCALE;
  jpeg_set_defaults (&cinfo);
  jpeg_set_quality (&cinfo, quality, TRUE);
  if (progressive)
    jpeg_simple_progression (&cinfo);
  jpeg_start_compress (&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = (JSAMPROW) pixels + (gsize) cinfo.next_scanline * width * components;
    jpeg_write_scanlines (&cinfo, &row, 1);
  }
  jpeg_finish_compress (&cinfo);
  jpeg_destroy_compress (&cinfo);
  /* libjpeg allocates with malloc(); callers free with g_free(). */
  jpeg = g_memdup2 (mem, mem_len);
  free (mem);
  *len = mem_len;
  return jpeg;
}
