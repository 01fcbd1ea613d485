/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* Plain-C stand-in for libFuzzer's main(): runs every file of the given
 * corpus directories (or single files) through LLVMFuzzerTestOneInput once,
 * so the seed and regression corpora run as ordinary tests in any build.
 *
 *   replay-<target> tests/fuzz/corpus/<target> [more dirs or files]
 *
 * Exit status 0 when every input was run; a bug shows as a crash or an
 * abort from the target's invariant checks (or a sanitizer report). */

#include <glib.h>
#include <string.h>

#include "fuzz-common.h"

static int
run_file (const char *path)
{
  g_autofree char *contents = NULL;
  gsize len;
  g_autoptr (GError) error = NULL;
  if (!g_file_get_contents (path, &contents, &len, &error)) {
    g_printerr ("replay: %s\n", error->message);
    return 1;
  }
  /* An exact-size copy, so reading one byte past the input is caught by
   * the sanitizers as it would be under libFuzzer. */
  g_autofree guint8 *copy = g_memdup2 (contents, len);
  LLVMFuzzerTestOneInput (copy, len);
  return 0;
}

static gint
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* Files of dir in name order (stable output), subdirectories skipped. */
static int
run_dir (const char *dir_path, int *n_run)
{
  g_autoptr (GError) error = NULL;
  GDir *dir = g_dir_open (dir_path, 0, &error);
  if (dir == NULL) {
    g_printerr ("replay: %s\n", error->message);
    return 1;
  }
  g_autoptr (GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);
  const char *name;
  while ((name = g_dir_read_name (dir)) != NULL) {
    char *path = g_build_filename (dir_path, name, NULL);
    if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
      g_ptr_array_add (paths, path);
    else
      g_free (path);
  }
  g_dir_close (dir);
  g_ptr_array_sort (paths, compare_names);
  for (guint i = 0; i < paths->len; i++) {
    if (run_file (g_ptr_array_index (paths, i)) != 0)
      return 1;
    (*n_run)++;
  }
  return 0;
}

int
main (int argc, char **argv)
{
  int n_run = 0;
  if (argc < 2) {
    g_printerr ("usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
    return 2;
  }
  LLVMFuzzerInitialize (&argc, &argv);
  for (int i = 1; i < argc; i++) {
    int status;
    if (g_file_test (argv[i], G_FILE_TEST_IS_DIR))
      status = run_dir (argv[i], &n_run);
    else {
      status = run_file (argv[i]);
      n_run += status == 0;
    }
    if (status != 0)
      return 1;
  }
  g_print ("replayed %d inputs\n", n_run);
  /* An empty corpus would make the test pass without testing anything. */
  return n_run > 0 ? 0 : 1;
}
