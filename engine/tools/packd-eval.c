/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * packd-eval: the k-shot evaluation protocol (method.md §9) on MVTec-layout
 * folders.  Per category and k: support sets drawn from train/good with
 * seeds seed_base..seed_base+runs-1 (the draws of ../shared/ref/eval.py),
 * every test image scored; image AUROC, pixel AUROC and AUPRO (FPR <= 0.3)
 * at model resolution, and at the threshold calibrated from the support
 * images alone precision / recall / F1 and the false-positive rate on good
 * images.  Mean ± std over runs, as a table on stdout and as JSON.
 *
 *   packd-eval --data DIR --category NAME[,NAME|all] --shots 2,4,8 --runs 10
 *              --method knn|packd|combined [--model FILE] [--size 256] [--json OUT.json]
 *              [--report OUT.png] [--threads N] [--supports a.png,b.png,...]
 *              [--scores OUT.csv] [--seed-base 0] [--exclude DEFECT,...]
 *              [--model-pattern 'models/loo-%s.safetensors']
 *
 * --model-pattern loads one model per category (%s = its name), for
 * leave-one-category-out models; packd-eval-all.sh drives a whole data root.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <json-glib/json-glib.h>

#include "packd-dataset.h"
#include "packd-error.h"
#include "packd-imageio.h"
#include "packd-metrics.h"
#include "packd-scorer.h"
#include "scorer-impl.h"
#include "eval-category.h"
#include "eval-report.h"

#define AUPRO_FPR_LIMIT 0.3

typedef struct {
  char *data, *categories, *shots, *method_name, *model, *json, *report, *supports, *scores;
  char *exclude, *model_pattern, *calibration, *map_reference_name;
  int runs, size, threads, seed_base;
  PackdMethod method;
  PackdMapReference map_reference; /* --map-reference if given, else the model file's */
  gboolean calibration_max;     /* --calibration max: the first rule, from the support's scores */
  int *k_list, n_k;
} Options;

enum {
  M_IMAGE_AUROC, M_PIXEL_AUROC, M_AUPRO, M_PRECISION, M_RECALL, M_F1, M_FPR_GOOD,
  M_THRESHOLD, N_METRICS
};
static const char *const metric_names[N_METRICS] = {
  "image_auroc", "pixel_auroc", "aupro", "precision", "recall", "f1", "fpr_good", "threshold"
};

/* Results of all runs of one category × k. */
typedef struct {
  int k;
  GArray *values[N_METRICS];    /* doubles, one per run (pixel ones may be empty) */
  GPtrArray *supports;          /* per run: GStrv of relative paths */
  GArray *seeds;                /* gint64, -1 for --supports */
  GPtrArray *calibration;       /* per run: GArray of the support's calibration scores (float) */
  double seconds, cpu_seconds;  /* wall clock; CPU time of the process */
  guint n_scored;
  EvalReportCurve curve;
} KResult;

typedef struct {
  gboolean tty;
  gint64 start_us;
  guint64 done, total;          /* images scored in this category */
} Progress;

static void
progress_show (Progress *p, const char *cat, int k, int run, int runs, guint img, guint n)
{
  double secs, rate, eta;

  if (!p->tty)
    return;
  secs = (g_get_monotonic_time () - p->start_us) / 1e6;
  rate = secs > 0 ? p->done / secs : 0;
  eta = rate > 0 ? (p->total - p->done) / rate : 0;
  fprintf (stderr, "\r\033[K%s k=%d run %d/%d  image %u/%u  %.1f img/s  ETA %dm%02ds", cat, k,
      run + 1, runs, img, n, rate, (int) eta / 60, (int) eta % 60);
}

static void
progress_clear (Progress *p)
{
  if (p->tty)
    fprintf (stderr, "\r\033[K");
}

static gboolean
parse_k_list (const char *s, Options *o, GError **error)
{
  char **parts = g_strsplit (s, ",", -1);
  gboolean ok = TRUE;

  o->n_k = g_strv_length (parts);
  o->k_list = g_new0 (int, MAX (o->n_k, 1));
  for (int i = 0; i < o->n_k && ok; i++) {
    char *end;
    long v = strtol (parts[i], &end, 10);

    ok = *parts[i] && *end == '\0' && v >= 1 && v <= 10000;
    o->k_list[i] = (int) v;
  }
  if (!ok || o->n_k == 0)
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_INVALID_ARGUMENT,
        "--shots: expected a comma list of positive integers, got '%s'", s);
  g_strfreev (parts);
  return ok && o->n_k > 0;
}

/* User + system time of the whole process: with a busy machine the wall
 * clock says little, CPU seconds / threads is the time on an idle one. */
static double
process_cpu_seconds (void)
{
  struct rusage u;

  if (getrusage (RUSAGE_SELF, &u) != 0)
    return 0;
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

static void
k_result_init (KResult *r, int k)
{
  memset (r, 0, sizeof *r);
  r->k = k;
  for (int m = 0; m < N_METRICS; m++)
    r->values[m] = g_array_new (FALSE, FALSE, sizeof (double));
  r->supports = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  r->seeds = g_array_new (FALSE, FALSE, sizeof (gint64));
  r->calibration = g_ptr_array_new_with_free_func ((GDestroyNotify) g_array_unref);
}

static void
k_result_clear (KResult *r)
{
  for (int m = 0; m < N_METRICS; m++)
    g_array_unref (r->values[m]);
  g_ptr_array_unref (r->supports);
  g_array_unref (r->seeds);
  g_ptr_array_unref (r->calibration);
  packd_roc_curve_clear (&r->curve.roc);
}

static void
k_result_stat (const KResult *r, int m, double *mean, double *std)
{
  packd_metrics_mean_std ((const double *) r->values[m]->data, r->values[m]->len, mean, std);
}

/* Support indices of one run: the given --supports, or a seeded draw. */
static gboolean
run_support_indices (const Options *o, const EvalCategory *c, int k, gint64 seed, guint *idx,
    GError **error)
{
  if (o->supports) {
    char **names = g_strsplit (o->supports, ",", -1);

    for (int i = 0; names[i]; i++) {
      int j = packd_dataset_find_train (c->ds, g_strstrip (names[i]));

      if (j < 0) {
        g_set_error (error, PACKD_ERROR, PACKD_ERROR_INVALID_ARGUMENT,
            "--supports: '%s' is not an image in %s/train/good", names[i], c->ds->root);
        g_strfreev (names);
        return FALSE;
      }
      idx[i] = j;
    }
    g_strfreev (names);
    return TRUE;
  }
  return packd_dataset_sample_support (c->ds, k, (guint64) seed, idx, error);
}

static void
csv_write_run (FILE *csv, const EvalCategory *c, int k, int run, gint64 seed, float threshold)
{
  for (guint i = 0; i < c->n; i++) {
    const PackdTestItem *it = &c->ds->tests[c->test_index[i]];

    fprintf (csv, "%s,%d,%d,%" G_GINT64_FORMAT ",%s,%s,%d,%.6f,%.6f,%.6f\n", c->ds->name, k, run,
        seed, it->relpath, it->defect, it->defective, c->raw[i],
        packd_score_normalise (c->raw[i], threshold), threshold);
  }
}

static gboolean
evaluate_k (const Options *o, PackdScorer *scorer, EvalCategory *c, KResult *r, Progress *prog,
    FILE *csv, EvalGrid *grid, gboolean want_grid, GError **error)
{
  int runs = o->supports ? 1 : o->runs;
  guint *idx = g_new (guint, r->k);
  PackdImage *sup_imgs = g_new (PackdImage, r->k);
  gint64 t0 = g_get_monotonic_time ();
  double cpu0 = process_cpu_seconds ();
  gboolean ok = FALSE;

  for (int run = 0; run < runs; run++) {
    gint64 seed = o->supports ? -1 : (gint64) o->seed_base + run;
    PackdSupport *support;
    PackdConfusion conf;
    float threshold;
    double v;
    char **names = g_new0 (char *, r->k + 1);

    if (!run_support_indices (o, c, r->k, seed, idx, error)) {
      g_free (names);
      goto out;
    }
    for (int i = 0; i < r->k; i++) {
      const PackdRgbImage *img = eval_category_train_image (c, idx[i], error);

      if (!img) {
        g_strfreev (names);
        goto out;
      }
      sup_imgs[i] = eval_image_view (img);
      names[i] = g_strdup (c->ds->train[idx[i]] + strlen (c->ds->root) + 1);
    }
    g_ptr_array_add (r->supports, names);
    g_array_append_val (r->seeds, seed);
    support = packd_scorer_build_support (scorer, sup_imgs, r->k, error);
    if (!support)
      goto out;
    packd_scorer_set_support (scorer, support);
    threshold = packd_support_get_threshold (support);
    {
      /* Kept so other threshold rules can be judged offline (JSON). */
      int n_cal;
      const float *cal = packd_support_get_calibration_scores (support, &n_cal);
      GArray *a = g_array_sized_new (FALSE, FALSE, sizeof (float), n_cal);

      g_array_append_vals (a, cal, n_cal);
      g_ptr_array_add (r->calibration, a);
      if (o->calibration_max && n_cal > 0)
        threshold = packd_calibration_threshold_rule (PACKD_CALIBRATION_MAX, cal, n_cal);
    }
    packd_support_unref (support);

    for (guint i = 0; i < c->n; i++) {
      PackdImage img = eval_image_view (&c->images[i]);
      PackdResult res;

      progress_show (prog, c->ds->name, r->k, run, runs, i + 1, c->n);
      if (!packd_scorer_score (scorer, &img, &res, error))
        goto out;
      if (c->pe && res.map_size != o->size) {
        g_set_error (error, PACKD_ERROR, PACKD_ERROR_MODEL,
            "the scorer returned %dx%d maps, expected %dx%d", res.map_size, res.map_size,
            o->size, o->size);
        goto out;
      }
      c->raw[i] = res.raw_score;
      if (c->pe)
        packd_pixel_eval_set_map (c->pe, i, res.map);
      prog->done++;
      r->n_scored++;
    }

    if (!packd_metrics_auroc (c->raw, c->labels, c->n, &v, error))
      goto out;
    g_array_append_val (r->values[M_IMAGE_AUROC], v);
    if (c->pe) {
      double pix, pro;

      if (!packd_pixel_eval_compute (c->pe, AUPRO_FPR_LIMIT, &pix, &pro, error))
        goto out;
      g_array_append_val (r->values[M_PIXEL_AUROC], pix);
      g_array_append_val (r->values[M_AUPRO], pro);
    }
    /* Normalised score >= 0.5 <=> raw score >= the calibrated threshold. */
    packd_metrics_at_threshold (c->raw, c->labels, c->n, threshold, &conf);
    g_array_append_val (r->values[M_PRECISION], conf.precision);
    g_array_append_val (r->values[M_RECALL], conf.recall);
    g_array_append_val (r->values[M_F1], conf.f1);
    g_array_append_val (r->values[M_FPR_GOOD], conf.fpr);
    v = threshold;
    g_array_append_val (r->values[M_THRESHOLD], v);
    if (run == 0 && !packd_metrics_roc_curve (c->raw, c->labels, c->n, &r->curve.roc, error))
      goto out;
    if (csv)
      csv_write_run (csv, c, r->k, run, seed, threshold);
    if (run == 0 && want_grid) {
      if (!eval_grid_collect (grid, scorer, c, error))
        goto out;
      grid->k = r->k;
      grid->seed = seed;
      grid->threshold = threshold;
      grid->ready = TRUE;
    }
  }
  ok = TRUE;

out:
  packd_scorer_set_support (scorer, NULL);
  r->seconds = (g_get_monotonic_time () - t0) / 1e6;
  r->cpu_seconds = process_cpu_seconds () - cpu0;
  g_free (idx);
  g_free (sup_imgs);
  return ok;
}

static void
json_add_stat (JsonBuilder *b, const KResult *r, int m)
{
  double mean, std;

  json_builder_set_member_name (b, metric_names[m]);
  if (r->values[m]->len == 0) {
    json_builder_add_null_value (b);
    return;
  }
  k_result_stat (r, m, &mean, &std);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "mean");
  json_builder_add_double_value (b, mean);
  json_builder_set_member_name (b, "std");
  json_builder_add_double_value (b, std);
  json_builder_set_member_name (b, "runs");
  json_builder_begin_array (b);
  for (guint i = 0; i < r->values[m]->len; i++)
    json_builder_add_double_value (b, g_array_index (r->values[m], double, i));
  json_builder_end_array (b);
  json_builder_end_object (b);
}

static void
json_add_result (JsonBuilder *b, const Options *o, const EvalCategory *c, const KResult *r)
{
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "category");
  json_builder_add_string_value (b, c->ds->name);
  json_builder_set_member_name (b, "method");
  json_builder_add_string_value (b, packd_method_to_string (o->method));
  if (o->method != PACKD_METHOD_KNN) {
    json_builder_set_member_name (b, "map_reference");
    json_builder_add_string_value (b, packd_map_reference_to_string (o->map_reference));
  }
  json_builder_set_member_name (b, "model");
  json_builder_add_string_value (b, o->model);
  json_builder_set_member_name (b, "size");
  json_builder_add_int_value (b, o->size);
  json_builder_set_member_name (b, "k");
  json_builder_add_int_value (b, r->k);
  json_builder_set_member_name (b, "n_runs");
  json_builder_add_int_value (b, r->seeds->len);
  json_builder_set_member_name (b, "n_train");
  json_builder_add_int_value (b, c->ds->n_train);
  json_builder_set_member_name (b, "n_test");
  json_builder_add_int_value (b, c->n);
  json_builder_set_member_name (b, "n_defective");
  json_builder_add_int_value (b, c->n_defective);
  for (int m = 0; m < N_METRICS; m++)
    json_add_stat (b, r, m);
  if (c->pixel_note) {
    json_builder_set_member_name (b, "pixel_note");
    json_builder_add_string_value (b, c->pixel_note);
  }
  json_builder_set_member_name (b, "aupro_fpr_limit");
  json_builder_add_double_value (b, AUPRO_FPR_LIMIT);
  json_builder_set_member_name (b, "seeds");
  json_builder_begin_array (b);
  for (guint i = 0; i < r->seeds->len; i++)
    json_builder_add_int_value (b, g_array_index (r->seeds, gint64, i));
  json_builder_end_array (b);
  json_builder_set_member_name (b, "supports");
  json_builder_begin_array (b);
  for (guint i = 0; i < r->supports->len; i++) {
    char **names = r->supports->pdata[i];

    json_builder_begin_array (b);
    for (int j = 0; names[j]; j++)
      json_builder_add_string_value (b, names[j]);
    json_builder_end_array (b);
  }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "calibration_scores");
  json_builder_begin_array (b);
  for (guint i = 0; i < r->calibration->len; i++) {
    const GArray *a = r->calibration->pdata[i];

    json_builder_begin_array (b);
    for (guint j = 0; j < a->len; j++)
      json_builder_add_double_value (b, g_array_index (a, float, j));
    json_builder_end_array (b);
  }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "seconds");
  json_builder_add_double_value (b, r->seconds);
  json_builder_set_member_name (b, "cpu_seconds");
  json_builder_add_double_value (b, r->cpu_seconds);
  json_builder_set_member_name (b, "images_per_second");
  json_builder_add_double_value (b, r->seconds > 0 ? r->n_scored / r->seconds : 0);
  json_builder_end_object (b);
}

static void
print_table_header (void)
{
  printf ("| category | k | runs | image AUROC | pixel AUROC | AUPRO | precision | recall | F1 "
      "| FPR good | img/s |\n");
  printf ("|---|---|---|---|---|---|---|---|---|---|---|\n");
  fflush (stdout);
}

static void
print_table_row (const EvalCategory *c, const KResult *r)
{
  static const int cols[] = {
    M_IMAGE_AUROC, M_PIXEL_AUROC, M_AUPRO, M_PRECISION, M_RECALL, M_F1, M_FPR_GOOD
  };

  printf ("| %s | %d | %u |", c->ds->name, r->k, r->seeds->len);
  for (guint i = 0; i < G_N_ELEMENTS (cols); i++) {
    double mean, std;

    if (r->values[cols[i]]->len == 0) {
      printf (" – |");
      continue;
    }
    k_result_stat (r, cols[i], &mean, &std);
    printf (" %.1f ± %.1f |", 100 * mean, 100 * std);
  }
  printf (" %.1f |\n", r->seconds > 0 ? r->n_scored / r->seconds : 0);
  fflush (stdout);
}

static gboolean
write_report (const Options *o, const EvalCategory *c, KResult *results, const EvalGrid *grid,
    const char *path, GError **error)
{
  EvalReportCurve *curves = g_new0 (EvalReportCurve, o->n_k);
  EvalReport rep = { 0 };
  const EvalReportTile *t = grid->tiles;
  gboolean ok;

  for (int i = 0; i < o->n_k; i++) {
    double sd;

    curves[i] = results[i].curve;
    curves[i].k = results[i].k;
    curves[i].n_runs = results[i].seeds->len;
    k_result_stat (&results[i], M_IMAGE_AUROC, &curves[i].image_auroc_mean,
        &curves[i].image_auroc_std);
    curves[i].pixel_auroc_mean = NAN;
    if (results[i].values[M_PIXEL_AUROC]->len)
      k_result_stat (&results[i], M_PIXEL_AUROC, &curves[i].pixel_auroc_mean, &sd);
    k_result_stat (&results[i], M_F1, &curves[i].f1_mean, &sd);
  }
  rep.category = c->ds->name;
  rep.method = packd_method_to_string (o->method);
  rep.model = o->model;
  rep.n_test = c->n;
  rep.n_defective = c->n_defective;
  rep.curves = curves;
  rep.n_curves = o->n_k;
  rep.grid_k = grid->k;
  rep.grid_seed = grid->seed;
  rep.threshold = grid->threshold;
  rep.map_size = o->size;
  for (int row = 0; row < EVAL_REPORT_ROWS; row++) {
    rep.rows[row] = t;
    rep.n_in_row[row] = grid->n_in_row[row];
    t += grid->n_in_row[row];
  }
  ok = eval_report_write (&rep, path, error);
  g_free (curves);
  return ok;
}

static gboolean
evaluate_category (const Options *o, PackdScorer *scorer, const char *dir, JsonBuilder *jb,
    FILE *csv, const char *report_path, GString *notes, GError **error)
{
  Progress prog = { isatty (2), 0, 0, 0 };
  EvalGrid grid = { 0 };
  KResult *results = g_new0 (KResult, o->n_k);
  EvalCategory *c;
  gint64 t0 = g_get_monotonic_time ();
  double cpu0 = process_cpu_seconds ();
  int n_done = 0;
  gboolean ok = FALSE;

  if (prog.tty)
    fprintf (stderr, "%s: decoding images...", dir);
  c = eval_category_load (dir, o->exclude, o->size, error);
  progress_clear (&prog);
  if (!c)
    goto out;
  prog.start_us = g_get_monotonic_time ();
  prog.total = (guint64) c->n * o->n_k * (o->supports ? 1 : o->runs);
  for (int i = 0; i < o->n_k; i++) {
    k_result_init (&results[i], o->k_list[i]);
    n_done++;
    if (!evaluate_k (o, scorer, c, &results[i], &prog, csv, &grid,
            report_path && i == o->n_k - 1, error))
      goto out;
    progress_clear (&prog);
    print_table_row (c, &results[i]);
    json_add_result (jb, o, c, &results[i]);
  }
  g_string_append_printf (notes, "- %s: %u test images (%u defective), %u train/good; "
      "%.0f s (CPU %.0f s), %.1f images/s%s%s\n", c->ds->name, c->n, c->n_defective,
      c->ds->n_train, (g_get_monotonic_time () - t0) / 1e6, process_cpu_seconds () - cpu0,
      prog.done / MAX ((g_get_monotonic_time () - prog.start_us) / 1e6, 1e-9),
      c->pixel_note ? "; pixel metrics skipped: " : "", c->pixel_note ? c->pixel_note : "");
  if (report_path && grid.ready && !write_report (o, c, results, &grid, report_path, error))
    goto out;
  ok = TRUE;

out:
  progress_clear (&prog);
  for (int i = 0; i < n_done; i++)
    k_result_clear (&results[i]);
  g_free (results);
  eval_grid_clear (&grid);
  eval_category_free (c);
  return ok;
}

static gboolean
write_json (JsonBuilder *jb, const char *path, GError **error)
{
  JsonGenerator *gen = json_generator_new ();
  JsonNode *root = json_builder_get_root (jb);
  gboolean ok;

  json_generator_set_pretty (gen, TRUE);
  json_generator_set_root (gen, root);
  ok = json_generator_to_file (gen, path, error);
  json_node_unref (root);
  g_object_unref (gen);
  return ok;
}

static void
json_begin_document (JsonBuilder *jb, const Options *o)
{
  json_builder_begin_object (jb);
  json_builder_set_member_name (jb, "tool");
  json_builder_add_string_value (jb, "packd-eval");
  json_builder_set_member_name (jb, "method");
  json_builder_add_string_value (jb, packd_method_to_string (o->method));
  json_builder_set_member_name (jb, "model");
  json_builder_add_string_value (jb, o->model_pattern ? o->model_pattern : o->model);
  json_builder_set_member_name (jb, "runs");
  json_builder_add_int_value (jb, o->supports ? 1 : o->runs);
  json_builder_set_member_name (jb, "seed_base");
  json_builder_add_int_value (jb, o->seed_base);
  json_builder_set_member_name (jb, "calibration");
  json_builder_add_string_value (jb, o->calibration_max ? "max" : "mean");
  json_builder_set_member_name (jb, "sampling");
  json_builder_add_string_value (jb, o->supports ? "given --supports" :
      "sorted(numpy.random.default_rng(seed).choice(n_train, k, replace=False))");
  if (o->exclude) {
    json_builder_set_member_name (jb, "excluded_defects");
    json_builder_add_string_value (jb, o->exclude);
  }
  json_builder_set_member_name (jb, "results");
  json_builder_begin_array (jb);
}

static gboolean
check_options (Options *o, GError **error)
{
  if (!o->data) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_INVALID_ARGUMENT, "--data DIR is required");
    return FALSE;
  }
  if (!packd_method_from_string (o->method_name, &o->method)) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_INVALID_ARGUMENT,
        "--method: unknown method '%s' (knn, packd or combined)", o->method_name);
    return FALSE;
  }
  if (o->runs < 1 || (o->size != 0 && o->size < 32) || o->threads < 0 || o->seed_base < 0) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_INVALID_ARGUMENT,
        "--runs must be >= 1, --size >= 32, --threads >= 0, --seed-base >= 0");
    return FALSE;
  }
  if (o->calibration && strcmp (o->calibration, "mean") != 0
      && strcmp (o->calibration, "max") != 0) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_INVALID_ARGUMENT,
        "--calibration: unknown rule '%s' (mean or max)", o->calibration);
    return FALSE;
  }
  o->calibration_max = g_strcmp0 (o->calibration, "max") == 0;
  if (o->map_reference_name
      && !packd_map_reference_from_string (o->map_reference_name, &o->map_reference)) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_INVALID_ARGUMENT,
        "--map-reference: unknown reference '%s' (none, support-mean or support-max)",
        o->map_reference_name);
    return FALSE;
  }
  if (o->model && o->model_pattern) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_INVALID_ARGUMENT,
        "give --model or --model-pattern, not both");
    return FALSE;
  }
  if (o->supports) {
    /* One given support set: k is its size, one run. */
    char **names = g_strsplit (o->supports, ",", -1);

    o->n_k = 1;
    o->k_list = g_new (int, 1);
    o->k_list[0] = g_strv_length (names);
    g_strfreev (names);
    return TRUE;
  }
  return parse_k_list (o->shots, o, error);
}

static PackdScorer *
open_scorer (Options *o, GError **error)
{
  PackdScorer *scorer = packd_scorer_new (o->model, o->method, error);
  int size;

  if (!scorer)
    return NULL;
  if (o->threads > 0)
    packd_scorer_set_threads (scorer, o->threads);
  if (o->map_reference_name)
    packd_scorer_set_map_reference (scorer, o->map_reference);
  o->map_reference = packd_scorer_get_map_reference (scorer);
  size = packd_scorer_get_input_size (scorer);
  if (o->size == 0)
    o->size = size;
  if (o->size != size) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_INVALID_ARGUMENT,
        "--size %d: %s works at %d x %d", o->size, o->model, size, size);
    packd_scorer_free (scorer);
    return NULL;
  }
  return scorer;
}

int
main (int argc, char **argv)
{
  Options o = { .runs = 10 };
  GOptionEntry entries[] = {
    { "data", 'd', 0, G_OPTION_ARG_FILENAME, &o.data, "Data root (or one category folder)", "DIR" },
    { "category", 'c', 0, G_OPTION_ARG_STRING, &o.categories,
      "Category folder(s) under DIR: NAME, NAME,NAME or all", "NAME" },
    { "shots", 'k', 0, G_OPTION_ARG_STRING, &o.shots, "Support sizes (default 2,4,8)", "K,K" },
    { "runs", 'r', 0, G_OPTION_ARG_INT, &o.runs, "Support draws per k (default 10)", "N" },
    { "seed-base", 0, 0, G_OPTION_ARG_INT, &o.seed_base, "First seed (default 0)", "S" },
    { "method", 0, 0, G_OPTION_ARG_STRING, &o.method_name, "knn (default), packd or combined (packd + knn; both need a PACKD model)", "M" },
    { "model", 'm', 0, G_OPTION_ARG_FILENAME, &o.model,
      "Model file (default: $PACKD_MODEL, else the teacher for knn and models/"
      "packd-mobilenetv2.safetensors for packd and combined)", "FILE" },
    { "model-pattern", 0, 0, G_OPTION_ARG_FILENAME, &o.model_pattern,
      "Model per category, %s = category name (leave-one-category-out models)", "PATTERN" },
    { "size", 's', 0, G_OPTION_ARG_INT, &o.size, "Model input size (default: the model's)", "N" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &o.threads, "Scoring threads (default: all)", "N" },
    { "supports", 0, 0, G_OPTION_ARG_STRING, &o.supports,
      "One given support set (train/good file names) instead of seeded draws", "A,B,..." },
    { "calibration", 0, 0, G_OPTION_ARG_STRING, &o.calibration,
      "Threshold rule: mean (default, 1.15 x mean of the support's good-image scores) or max "
      "(the first rule, 1.1 x their max)", "RULE" },
    { "map-reference", 0, 0, G_OPTION_ARG_STRING, &o.map_reference_name,
      "packd, combined: subtract the support images' own maps per pixel: none, support-mean "
      "or support-max (default: the model file's)", "REF" },
    { "exclude", 0, 0, G_OPTION_ARG_STRING, &o.exclude,
      "Leave out these test folders (e.g. defective_p033)", "DEFECT,..." },
    { "json", 'j', 0, G_OPTION_ARG_FILENAME, &o.json, "Write results as JSON", "OUT.json" },
    { "scores", 0, 0, G_OPTION_ARG_FILENAME, &o.scores, "Write per-image scores as CSV", "OUT.csv" },
    { "report", 0, 0, G_OPTION_ARG_FILENAME, &o.report,
      "Draw ROC curves and scored examples (one PNG per category)", "OUT.png" },
    { NULL }
  };
  GOptionContext *ctx = g_option_context_new ("- k-shot evaluation on MVTec-layout folders");
  GError *err = NULL;
  PackdScorer *scorer = NULL;
  JsonBuilder *jb = NULL;
  GString *notes = g_string_new (NULL), *command = g_string_new (NULL);
  FILE *csv = NULL;
  char **dirs = NULL;
  int status = 1, n_failed = 0;

  /* The command as given, for the record under the table. */
  g_string_append (command, "packd-eval");
  for (int i = 1; i < argc; i++) {
    gboolean plain = *argv[i] != '\0';

    for (const char *p = argv[i]; *p && plain; p++)
      plain = g_ascii_isalnum (*p) || strchr ("_./,=:%+-", *p);
    if (plain) {
      g_string_append_printf (command, " %s", argv[i]);
    } else {
      char *q = g_shell_quote (argv[i]);
      g_string_append_printf (command, " %s", q);
      g_free (q);
    }
  }
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_set_description (ctx,
      "Support sets are drawn from train/good with seeds seed-base .. seed-base+runs-1,\n"
      "the same draws as ../shared/ref/eval.py.  Pixel metrics (AUROC, AUPRO at FPR <= 0.3)\n"
      "are computed at model resolution.  Precision, recall, F1 and the false-positive\n"
      "rate of good images use the threshold calibrated from the support images alone.\n");
  if (!g_option_context_parse (ctx, &argc, &argv, &err))
    goto out;
  if (!o.shots)
    o.shots = g_strdup ("2,4,8");
  if (!o.method_name)
    o.method_name = g_strdup ("knn");
  if (!check_options (&o, &err))
    goto out;
  if (!o.model) {
    const char *env = g_getenv ("PACKD_MODEL");
    o.model = g_strdup (env && *env ? env
        : o.method == PACKD_METHOD_KNN ? PACKD_DEFAULT_TEACHER : PACKD_SHIPPED_MODEL);
  }
  dirs = eval_resolve_categories (o.data, o.categories, &err);
  if (!dirs)
    goto out;
  if (o.supports && g_strv_length (dirs) != 1) {
    g_set_error (&err, PACKD_ERROR, PACKD_ERROR_INVALID_ARGUMENT,
        "--supports names the images of one category; give exactly one");
    goto out;
  }
  if (!o.model_pattern && !(scorer = open_scorer (&o, &err)))
    goto out;
  if (o.scores) {
    csv = fopen (o.scores, "w");
    if (!csv) {
      g_set_error (&err, PACKD_ERROR, PACKD_ERROR_IO, "%s: cannot write", o.scores);
      goto out;
    }
    fprintf (csv, "category,k,run,seed,image,defect,label,raw_score,score,threshold\n");
  }
  jb = json_builder_new ();
  json_begin_document (jb, &o);

  print_table_header ();
  for (int i = 0; dirs[i]; i++) {
    char *name = g_path_get_basename (dirs[i]);
    char *report = o.report ? eval_report_path_for (o.report, name, dirs[1] != NULL) : NULL;

    if (o.model_pattern) {
      g_free (o.model);
      o.model = eval_model_for_category (o.model_pattern, name);
      g_clear_pointer (&scorer, packd_scorer_free);
      scorer = open_scorer (&o, &err);
    }
    if (!scorer || !evaluate_category (&o, scorer, dirs[i], jb, csv, report, notes, &err)) {
      g_printerr ("packd-eval: %s\n", err->message);
      g_string_append_printf (notes, "- %s: FAILED: %s\n", name, err->message);
      g_clear_error (&err);
      n_failed++;
    }
    g_free (name);
    g_free (report);
    if (csv)
      fflush (csv);
  }
  printf ("\n%s", notes->str);
  printf ("\nCommand: `%s` (model %s at %d x %d; defaults --shots 2,4,8 --runs 10 --seed-base 0). "
      "AUROC, AUPRO, precision, recall, F1, FPR in %%, mean ± std over runs.\n", command->str,
      o.model_pattern ? o.model_pattern : o.model, o.size, o.size);

  json_builder_end_array (jb);
  json_builder_end_object (jb);
  if (o.json && !write_json (jb, o.json, &err))
    goto out;
  status = n_failed ? 1 : 0;

out:
  if (err) {
    g_printerr ("packd-eval: %s\n", err->message);
    g_error_free (err);
  }
  if (csv)
    fclose (csv);
  if (jb)
    g_object_unref (jb);
  packd_scorer_free (scorer);
  g_strfreev (dirs);
  g_string_free (notes, TRUE);
  g_string_free (command, TRUE);
  g_option_context_free (ctx);
  g_free (o.k_list);
  g_free (o.data);
  g_free (o.categories);
  g_free (o.shots);
  g_free (o.method_name);
  g_free (o.model);
  g_free (o.json);
  g_free (o.report);
  g_free (o.supports);
  g_free (o.scores);
  g_free (o.exclude);
  g_free (o.model_pattern);
  g_free (o.calibration);
  g_free (o.map_reference_name);
  return status;
}
