/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/* packd-train: episodic PACKD training on MVTec-layout categories
 * (method.md §6).
 *
 *   packd-train --data DIR (--categories a,b,c | --exclude c) --steps N
 *               [--batch 8] [--shots 2,4,8] --out model.safetensors
 *               [--resume ckpt] [--seed S] [--threads N] [--size 256]
 *
 * Checkpoints go to OUT.ckpt every --checkpoint-every steps and on SIGINT /
 * SIGTERM; --resume continues exactly.  The loss log is OUT.loss.csv and
 * its plot OUT.loss.png. */
#include <cairo.h>
#include <cblas.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "packd-dataset.h"
#include "packd-error.h"
#include "packd-imageio.h"
#include "packd-threads.h"
#include "packd-trainer.h"

static volatile sig_atomic_t stop_requested = 0;

static void
on_signal (int sig)
{
  stop_requested = 1;
}

typedef struct {
  PackdDataset **sets;
  int n;
  char **names;
  int *n_images;
  PackdRgbImage current;
} FileSource;

static gboolean
file_source_load (gpointer data, int c, int i, PackdImage *image, GError **error)
{
  FileSource *fs = data;
  if (!packd_image_load_rgb (fs->sets[c]->train[i], &fs->current, error))
    return FALSE;
  image->pixels = fs->current.rgb;
  image->width = fs->current.width;
  image->height = fs->current.height;
  image->stride = fs->current.width * 3;
  image->format = PACKD_PIXEL_RGB;
  return TRUE;
}

static void
file_source_release (gpointer data, PackdImage *image)
{
  packd_rgb_image_clear (&((FileSource *) data)->current);
}

static gboolean
parse_int_list (const char *text, int *out, int max, int *n, GError **error)
{
  char **parts = g_strsplit (text, ",", -1);
  gboolean ok = TRUE;

  *n = 0;
  for (int i = 0; parts[i] && ok; i++) {
    guint64 v;
    if (*n >= max || !g_ascii_string_to_unsigned (g_strstrip (parts[i]), 10, 1, 64, &v, NULL)) {
      g_set_error (error, PACKD_ERROR, PACKD_ERROR_INVALID_ARGUMENT, "bad list '%s'", text);
      ok = FALSE;
    } else {
      out[(*n)++] = (int) v;
    }
  }
  g_strfreev (parts);
  return ok && *n > 0;
}

/* Training categories: --categories, or every category of DIR minus --exclude. */
static char **
choose_categories (const char *data, const char *only, const char *exclude, GError **error)
{
  char **all, **skip;
  GPtrArray *out;

  if (only)
    return g_strsplit (only, ",", -1);
  all = packd_dataset_list_categories (data, error);
  if (all == NULL)
    return NULL;
  skip = g_strsplit (exclude ? exclude : "", ",", -1);
  out = g_ptr_array_new ();
  for (int i = 0; all[i]; i++)
    if (!g_strv_contains ((const char *const *) skip, all[i]))
      g_ptr_array_add (out, g_strdup (all[i]));
  g_ptr_array_add (out, NULL);
  g_strfreev (all);
  g_strfreev (skip);
  return (char **) g_ptr_array_free (out, FALSE);
}

/* ---- loss plot ------------------------------------------------------------ */

#define N_SERIES 5
static const char *const series_names[N_SERIES] = { "total", "kd", "contrastive", "relation",
  "orthogonal" };
static const double series_rgb[N_SERIES][3] = {
  { 0, 0, 0 }, { 0.85, 0.2, 0.1 }, { 0.1, 0.4, 0.85 }, { 0.1, 0.6, 0.2 }, { 0.6, 0.3, 0.7 },
};

static gboolean
plot_losses (const char *csv, const char *png, GError **error)
{
  char *text = NULL;
  char **lines;
  GArray *steps = g_array_new (FALSE, FALSE, sizeof (double));
  GArray *vals[N_SERIES];
  const int W = 900, H = 500, ml = 70, mr = 150, mt = 30, mb = 50;
  double xmax = 1, ymin = INFINITY, ymax = -INFINITY;
  cairo_surface_t *surf;
  cairo_t *cr;
  gboolean ok;

  if (!g_file_get_contents (csv, &text, NULL, error))
    return FALSE;
  for (int s = 0; s < N_SERIES; s++)
    vals[s] = g_array_new (FALSE, FALSE, sizeof (double));
  lines = g_strsplit (text, "\n", -1);
  for (int i = 1; lines[i]; i++) {
    double v[1 + N_SERIES];
    if (sscanf (lines[i], "%lf,%lf,%lf,%lf,%lf,%lf", &v[0], &v[1], &v[2], &v[3], &v[4],
            &v[5]) != 6)
      continue;
    g_array_append_val (steps, v[0]);
    xmax = MAX (xmax, v[0]);
    for (int s = 0; s < N_SERIES; s++) {
      double y = log10 (MAX (v[1 + s], 1e-6));
      g_array_append_val (vals[s], y);
      if (v[1 + s] > 0) {
        ymin = MIN (ymin, y);
        ymax = MAX (ymax, y);
      }
    }
  }
  g_strfreev (lines);
  g_free (text);
  if (!isfinite (ymin)) {
    ymin = -1;
    ymax = 1;
  }
  ymin = floor (ymin);
  ymax = MAX (ceil (ymax), ymin + 1);

  surf = cairo_image_surface_create (CAIRO_FORMAT_RGB24, W, H);
  cr = cairo_create (surf);
  cairo_set_source_rgb (cr, 1, 1, 1);
  cairo_paint (cr);
  cairo_set_line_width (cr, 1);
  cairo_set_source_rgb (cr, 0.3, 0.3, 0.3);
  cairo_rectangle (cr, ml, mt, W - ml - mr, H - mt - mb);
  cairo_stroke (cr);
  cairo_set_font_size (cr, 12);
  for (double e = ymin; e <= ymax; e += 1) {
    double y = mt + (H - mt - mb) * (ymax - e) / (ymax - ymin);
    char label[32];
    g_snprintf (label, sizeof label, "1e%+d", (int) e);
    cairo_move_to (cr, 8, y + 4);
    cairo_show_text (cr, label);
  }
  {
    char label[64];
    g_snprintf (label, sizeof label, "step (max %.0f)", xmax);
    cairo_move_to (cr, ml + (W - ml - mr) / 2 - 40, H - 15);
    cairo_show_text (cr, label);
    cairo_move_to (cr, ml, 20);
    cairo_show_text (cr, "PACKD training losses (log scale)");
  }
  for (int s = 0; s < N_SERIES; s++) {
    cairo_set_source_rgb (cr, series_rgb[s][0], series_rgb[s][1], series_rgb[s][2]);
    for (guint i = 0; i < steps->len; i++) {
      double x = ml + (W - ml - mr) * g_array_index (steps, double, i) / xmax;
      double y = mt + (H - mt - mb) * (ymax - g_array_index (vals[s], double, i)) / (ymax - ymin);
      y = CLAMP (y, mt, H - mb);
      if (i == 0)
        cairo_move_to (cr, x, y);
      else
        cairo_line_to (cr, x, y);
    }
    cairo_stroke (cr);
    cairo_move_to (cr, W - mr + 10, mt + 20 + 18 * s);
    cairo_show_text (cr, series_names[s]);
  }
  cairo_destroy (cr);
  ok = cairo_surface_write_to_png (surf, png) == CAIRO_STATUS_SUCCESS;
  cairo_surface_destroy (surf);
  if (!ok)
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_IO, "%s: cannot write the plot", png);
  g_array_unref (steps);
  for (int s = 0; s < N_SERIES; s++)
    g_array_unref (vals[s]);
  return ok;
}

static void
format_duration (double seconds, char *buf, gsize len)
{
  const long s = (long) MAX (seconds, 0);
  g_snprintf (buf, len, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
}

int
main (int argc, char **argv)
{
  char *data = NULL, *only = NULL, *exclude = NULL, *shots = NULL, *out = NULL;
  char *resume = NULL, *teacher = NULL, *cache_dir = NULL, *map_reference = NULL;
  int steps = 1000, batch = 8, threads = 0, size = 256, every = 100, cache_images = 64;
  int prototypes = 32;
  PackdMapReference reference = PACKD_MAP_REFERENCE_NONE;
  gint64 seed = 0;
  double lr = PACKD_ADAM_LR, w_cd = 0.1, w_orth = 0.1;
  gboolean no_peim = FALSE;
  GOptionEntry entries[] = {
    { "data", 'd', 0, G_OPTION_ARG_FILENAME, &data, "Data root (MVTec layout)", "DIR" },
    { "categories", 'c', 0, G_OPTION_ARG_STRING, &only, "Train on these categories", "a,b" },
    { "exclude", 'x', 0, G_OPTION_ARG_STRING, &exclude, "Train on all categories but these", "c" },
    { "steps", 'n', 0, G_OPTION_ARG_INT, &steps, "Total steps (default 1000)", "N" },
    { "batch", 'b', 0, G_OPTION_ARG_INT, &batch, "Queries per step (default 8)", "B" },
    { "shots", 'k', 0, G_OPTION_ARG_STRING, &shots, "Support sizes drawn from (default 2,4,8)", "K" },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Model file to write", "FILE" },
    { "resume", 'r', 0, G_OPTION_ARG_FILENAME, &resume, "Continue from a checkpoint", "CKPT" },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &seed, "Seed (default 0)", "S" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &threads, "Threads (default: OpenBLAS')", "N" },
    { "size", 's', 0, G_OPTION_ARG_INT, &size, "Input size (default 256)", "N" },
    { "checkpoint-every", 0, 0, G_OPTION_ARG_INT, &every, "Checkpoint period (default 100)", "N" },
    { "cache-dir", 0, 0, G_OPTION_ARG_FILENAME, &cache_dir,
      "Teacher feature cache (default: OUT.cache)", "DIR" },
    { "cache-images", 0, 0, G_OPTION_ARG_INT, &cache_images,
      "Images per category in the cache, 0 = all (default 64)", "N" },
    { "teacher", 0, 0, G_OPTION_ARG_FILENAME, &teacher, "Teacher file", "FILE" },
    { "lr", 0, 0, G_OPTION_ARG_DOUBLE, &lr, "Adam learning rate (default 0.005)", "LR" },
    { "prototypes", 0, 0, G_OPTION_ARG_INT, &prototypes, "PEIM prototypes M (default 32)", "M" },
    { "no-peim", 0, 0, G_OPTION_ARG_NONE, &no_peim, "Plain RD: no PEIM", NULL },
    { "contrastive-weight", 0, 0, G_OPTION_ARG_DOUBLE, &w_cd, "L_CD weight (default 0.1)", "W" },
    { "orthogonal-weight", 0, 0, G_OPTION_ARG_DOUBLE, &w_orth, "L_orth weight (default 0.1)", "W" },
    { "map-reference", 0, 0, G_OPTION_ARG_STRING, &map_reference,
      "Scoring default saved in the model: none, support-mean or support-max (default none, "
      "or the checkpoint's with --resume; a finished checkpoint with --resume only rewrites "
      "the model)", "REF" },
    { NULL }
  };
  GOptionContext *ctx = g_option_context_new ("- train a PACKD student");
  GError *err = NULL;
  PackdTrainerOptions opt;
  FileSource fs = { 0 };
  PackdImageSource src = { 0 };
  PackdTrainer *trainer = NULL;
  char **cats = NULL, *ckpt = NULL, *csv = NULL, *png = NULL;
  FILE *log = NULL;
  int ret = 1;
  gint64 t0;
  int64_t first_step;

  packd_trainer_options_init (&opt);
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &err))
    goto out;
  if (!data || !out || steps < 1) {
    g_set_error (&err, PACKD_ERROR, PACKD_ERROR_INVALID_ARGUMENT,
        "--data, --out and --steps >= 1 are required (see --help)");
    goto out;
  }
  if (shots && !parse_int_list (shots, opt.shots, 8, &opt.n_shots, &err))
    goto out;
  if (map_reference && !packd_map_reference_from_string (map_reference, &reference)) {
    g_set_error (&err, PACKD_ERROR, PACKD_ERROR_INVALID_ARGUMENT,
        "--map-reference: unknown reference '%s' (none, support-mean or support-max)",
        map_reference);
    goto out;
  }
  if (threads > 0) {
    openblas_set_num_threads (threads);
    packd_threads_set_default (threads);
  }
  opt.batch = batch;
  opt.seed = (guint64) seed;
  opt.lr = (float) lr;
  opt.loss.contrastive = (float) w_cd;
  opt.loss.orthogonal = (float) w_orth;
  opt.cache_images = cache_images;
  opt.arch.size = size;
  opt.arch.peim = !no_peim;
  opt.arch.prototypes = prototypes;
  opt.cache_dir = cache_dir = cache_dir ? cache_dir : g_strconcat (out, ".cache", NULL);
  opt.teacher_path = teacher ? teacher : (g_getenv ("PACKD_TEACHER") ? g_getenv ("PACKD_TEACHER")
      : PACKD_DEFAULT_TEACHER);

  cats = choose_categories (data, only, exclude, &err);
  if (cats == NULL)
    goto out;
  fs.n = g_strv_length (cats);
  fs.sets = g_new0 (PackdDataset *, fs.n);
  fs.n_images = g_new0 (int, fs.n);
  for (int c = 0; c < fs.n; c++) {
    char *dir = g_build_filename (data, cats[c], NULL);
    fs.sets[c] = packd_dataset_open (dir, &err);
    g_free (dir);
    if (fs.sets[c] == NULL)
      goto out;
    fs.n_images[c] = fs.sets[c]->n_train;
  }
  src.n_categories = fs.n;
  src.names = (const char *const *) cats;
  src.n_images = fs.n_images;
  src.load = file_source_load;
  src.release = file_source_release;
  src.data = &fs;

  ckpt = g_strconcat (out, ".ckpt", NULL);
  csv = g_strconcat (out, ".loss.csv", NULL);
  png = g_strconcat (out, ".loss.png", NULL);
  {
    char *list = g_strjoinv (",", cats);
    g_printerr ("packd-train: %d categories (%s), teacher features cached in %s\n", fs.n, list,
        cache_dir);
    g_free (list);
  }
  t0 = g_get_monotonic_time ();
  trainer = packd_trainer_new (&opt, &src, resume, &err);
  if (trainer == NULL)
    goto out;
  if (map_reference)
    packd_student_set_map_reference (packd_trainer_get_student (trainer), reference);
  g_printerr ("packd-train: ready in %.1f s", (g_get_monotonic_time () - t0) / 1e6);
  {
    PackdStudent *st = packd_trainer_get_student (trainer);
    for (int m = 0; m < packd_student_n_modules (); m++)
      g_printerr ("%s %s %.1f MMAC", m ? "," : "; student", packd_student_module_name (m),
          packd_student_module_macs (st, m) / 1e6);
    g_printerr (" (peim-extract per support image)\n");
  }
  first_step = packd_trainer_get_step (trainer);
  log = fopen (csv, first_step > 0 ? "a" : "w");
  if (log == NULL) {
    g_set_error (&err, PACKD_ERROR, PACKD_ERROR_IO, "%s: cannot write", csv);
    goto out;
  }
  /* a resumed run may write to a new file: the header goes into any empty one */
  if (fseek (log, 0, SEEK_END) == 0 && ftell (log) == 0)
    fprintf (log, "step,total,kd,contrastive,relation,orthogonal,seconds\n");
  signal (SIGINT, on_signal);
  signal (SIGTERM, on_signal);

  t0 = g_get_monotonic_time ();
  while (packd_trainer_get_step (trainer) < steps && !stop_requested) {
    PackdLossTerms t;
    int64_t step;
    double elapsed, rate;
    char eta[32];
    if (!packd_trainer_step (trainer, &t, &err))
      break;
    step = packd_trainer_get_step (trainer);
    elapsed = (g_get_monotonic_time () - t0) / 1e6;
    rate = (step - first_step) / MAX (elapsed, 1e-9);
    format_duration ((steps - step) / MAX (rate, 1e-9), eta, sizeof eta);
    fprintf (log, "%" G_GINT64_FORMAT ",%.6g,%.6g,%.6g,%.6g,%.6g,%.1f\n", (gint64) step, t.total,
        t.kd, t.contrastive, t.relation, t.orthogonal, elapsed);
    fflush (log);
    g_printerr ("\rstep %" G_GINT64_FORMAT "/%d  loss %.4f (kd %.4f cd %.4f rel %.4f orth %.4f)"
        "  %.2f steps/s  ETA %s ", (gint64) step, steps, t.total, t.kd, t.contrastive,
        t.relation, t.orthogonal, rate, eta);
    if (every > 0 && step % every == 0 && !packd_trainer_save_checkpoint (trainer, ckpt, &err))
      break;
  }
  g_printerr ("\n");
  if (err)
    goto out;
  if (!packd_trainer_save_checkpoint (trainer, ckpt, &err))
    goto out;
  if (stop_requested) {
    g_printerr ("packd-train: interrupted at step %" G_GINT64_FORMAT "; resume with --resume %s\n",
        (gint64) packd_trainer_get_step (trainer), ckpt);
    ret = 130;
    goto out;
  }
  if (!packd_trainer_save_model (trainer, out, &err))
    goto out;
  fclose (log);
  log = NULL;
  if (!plot_losses (csv, png, &err))
    goto out;
  g_printerr ("packd-train: wrote %s (checkpoint %s, log %s, plot %s)\n", out, ckpt, csv, png);
  ret = 0;

out:
  if (err) {
    g_printerr ("packd-train: %s\n", err->message);
    g_error_free (err);
  }
  if (log)
    fclose (log);
  packd_trainer_free (trainer);
  for (int c = 0; c < fs.n; c++)
    packd_dataset_free (fs.sets ? fs.sets[c] : NULL);
  g_free (fs.sets);
  g_free (fs.n_images);
  g_strfreev (cats);
  packd_trainer_options_clear (&opt);
  g_free (cache_dir);
  g_free (ckpt);
  g_free (csv);
  g_free (png);
  g_free (map_reference);
  g_option_context_free (ctx);
  return ret;
}
