/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * packd-bench: times the teacher trunk (and the knn scorer) and prints the
 * numbers next to the sgemm peak measured in the same run.  Numbers are
 * printed, never asserted.
 *
 *   packd-bench [--model FILE] [--size 256] [--threads 2] [--runs 200] [--warmup 20]
 *   packd-bench --peer-json --threads T --warmup W --runs R --round N
 *       one JSON line for ../shared/peers/run.sh (PACKD_PEER_CMD)
 */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "packd-error.h"
#include "packd-scorer.h"
#include "packd-teacher.h"

/* The peers' trunk: input -> block_13_expand_relu with the three RD taps. */
static const char *const trunk_taps[] = {
  "block_3_expand_relu", "block_6_expand_relu", "block_13_expand_relu",
};

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

static double
percentile (double *sorted, int n, double p)
{
  int i = (int) ceil (p / 100.0 * n) - 1;
  return sorted[CLAMP (i, 0, n - 1)];
}

static double
now_ms (void)
{
  return g_get_monotonic_time () / 1000.0;
}

/* Best GFLOP/s of square sgemm over a few sizes, as ../shared/peers/sgemm_peak.c. */
static double
sgemm_peak_gflops (void)
{
  static const int sizes[] = { 1024, 2048 };
  double best = 0;

  for (guint s = 0; s < G_N_ELEMENTS (sizes); s++) {
    const int n = sizes[s];
    float *a = g_new (float, (gsize) n * n), *b = g_new (float, (gsize) n * n);
    float *c = g_new (float, (gsize) n * n);
    for (gsize i = 0; i < (gsize) n * n; i++) {
      a[i] = (float) (i % 97) / 97.f - 0.5f;
      b[i] = (float) (i % 89) / 89.f - 0.5f;
    }
    cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.f, a, n, b, n, 0.f, c, n);
    double t_start = now_ms ();
    for (int reps = 0; reps < 5 || now_ms () - t_start < 400; reps++) {
      double t0 = now_ms ();
      cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.f, a, n, b, n, 0.f, c, n);
      best = MAX (best, 2.0 * n * (double) n * n / ((now_ms () - t0) * 1e6));
    }
    g_free (a);
    g_free (b);
    g_free (c);
  }
  return best;
}

static void
fill_input (PackdTensor *x)
{
  for (int64_t i = 0; i < packd_tensor_numel (x); i++)
    x->data[i] = (float) ((i * 2654435761u) % 1000) / 1000.f;
}

typedef struct {
  const char *model;
  int size, threads, runs, warmup, round;
  gboolean peer_json;
} Options;

static int
run_peer_json (PackdTeacherRun *run, const Options *o)
{
  double *ms = g_new (double, o->runs);

  for (int i = 0; i < o->warmup; i++)
    packd_teacher_run_forward (run);
  for (int i = 0; i < o->runs; i++) {
    double t0 = now_ms ();
    packd_teacher_run_forward (run);
    ms[i] = now_ms () - t0;
  }
  printf ("{\"peer\": \"packd\", \"threads\": %d, \"round\": %d, \"runs\": %d, \"ms\": [",
      o->threads, o->round, o->runs);
  for (int i = 0; i < o->runs; i++)
    printf ("%s%.4f", i ? ", " : "", ms[i]);
  printf ("], \"rel_err\": null}\n");
  g_free (ms);
  return 0;
}

static void
time_teacher (PackdTeacherRun *run, const Options *o, double peak)
{
  const int n_ops = packd_teacher_run_n_ops (run);
  double *ms = g_new (double, o->runs);
  double kind_ms[PACKD_OP_N_KINDS] = { 0 };
  int64_t kind_macs[PACKD_OP_N_KINDS] = { 0 };
  const double mmac = packd_teacher_run_total_macs (run) / 1e6;

  for (int i = 0; i < o->warmup; i++)
    packd_teacher_run_forward (run);
  for (int i = 0; i < o->runs; i++) {
    double t0 = now_ms ();
    packd_teacher_run_forward (run);
    ms[i] = now_ms () - t0;
  }
  qsort (ms, o->runs, sizeof (double), cmp_double);
  double median = percentile (ms, o->runs, 50);
  double gflops = 2 * mmac / 1e3 / (median / 1e3);
  printf ("teacher trunk %dx%d (to block_13_expand_relu): %.1f MMAC\n", o->size, o->size, mmac);
  printf ("  median %.3f ms  min %.3f ms  p99 %.3f ms  (%d runs)  %.1f GFLOP/s  = %.1f %% of sgemm peak\n",
      median, ms[0], percentile (ms, o->runs, 99), o->runs, gflops, 100 * gflops / peak);

  /* Per layer kind, from a profiled pass (timer overhead per op is small). */
  packd_teacher_run_set_profiling (run, TRUE);
  const int prof_runs = MAX (o->runs / 4, 5);
  for (int r = 0; r < prof_runs; r++) {
    packd_teacher_run_forward (run);
    for (int i = 0; i < n_ops; i++)
      kind_ms[packd_teacher_run_op_kind (run, i)] += packd_teacher_run_op_time_ns (run, i) / 1e6 / prof_runs;
  }
  packd_teacher_run_set_profiling (run, FALSE);
  for (int i = 0; i < n_ops; i++)
    kind_macs[packd_teacher_run_op_kind (run, i)] += packd_teacher_run_op_macs (run, i);
  printf ("  per layer kind (profiled mean):\n");
  for (int k = 0; k < PACKD_OP_N_KINDS; k++) {
    if (kind_ms[k] == 0 && kind_macs[k] == 0)
      continue;
    double g = kind_ms[k] > 0 ? 2 * kind_macs[k] / 1e9 / (kind_ms[k] / 1e3) : 0;
    printf ("    %-10s %7.1f MMAC  %7.3f ms  %6.1f GFLOP/s  %5.1f %% of peak\n",
        packd_op_kind_name (k), kind_macs[k] / 1e6, kind_ms[k], g, 100 * g / peak);
  }
  g_free (ms);
}

static void
print_module_macs (PackdTeacherRun *run)
{
  /* Modules = the stretches between the RD taps. */
  static const char *const ends[] = {
    "block_3_expand_relu", "block_6_expand_relu", "block_13_expand_relu",
  };
  int64_t acc = 0;
  guint e = 0;

  printf ("  MMAC per module:");
  for (int i = 0; i < packd_teacher_run_n_ops (run) && e < G_N_ELEMENTS (ends); i++) {
    acc += packd_teacher_run_op_macs (run, i);
    if (strcmp (packd_teacher_run_op_name (run, i), ends[e]) == 0) {
      printf ("  ..%s %.1f", ends[e], acc / 1e6);
      acc = 0;
      e++;
    }
  }
  printf ("\n");
}

static void
time_knn (const Options *o, double peak)
{
  GError *error = NULL;
  PackdScorer *s = packd_scorer_new (o->model, PACKD_METHOD_KNN, &error);
  const int w = 320, h = 240, k = 8;
  guint8 *pix;
  PackdImage imgs[8];
  PackdSupport *sup;
  PackdResult res;
  double *ms;

  if (s == NULL) {
    printf ("knn: %s\n", error->message);
    g_error_free (error);
    return;
  }
  packd_scorer_set_threads (s, o->threads);
  pix = g_new (guint8, (gsize) w * h * 3 * k);
  for (gsize i = 0; i < (gsize) w * h * 3 * k; i++)
    pix[i] = (guint8) ((i * 2654435761u) >> 13);
  for (int i = 0; i < k; i++)
    imgs[i] = (PackdImage) { pix + (gsize) i * w * h * 3, w, h, w * 3, PACKD_PIXEL_RGB };
  double t0 = now_ms ();
  sup = packd_scorer_build_support (s, imgs, k, &error);
  double build_ms = now_ms () - t0;
  if (sup == NULL) {
    printf ("knn: %s\n", error->message);
    g_error_free (error);
    goto out;
  }
  packd_scorer_set_support (s, sup);
  packd_support_unref (sup);
  ms = g_new (double, o->runs);
  for (int i = 0; i < o->warmup; i++)
    packd_scorer_score (s, &imgs[0], &res, NULL);
  for (int i = 0; i < o->runs; i++) {
    double t1 = now_ms ();
    packd_scorer_score (s, &imgs[i % k], &res, NULL);
    ms[i] = now_ms () - t1;
  }
  qsort (ms, o->runs, sizeof (double), cmp_double);
  printf ("knn k=%d, %dx%d RGB frame -> score (resize, teacher, search, map, blur):\n", k, w, h);
  printf ("  median %.3f ms (%.0f FPS)  p99 %.3f ms;  support build + calibration %.0f ms\n",
      percentile (ms, o->runs, 50), 1000 / percentile (ms, o->runs, 50), percentile (ms, o->runs, 99),
      build_ms);
  (void) peak;
  g_free (ms);
out:
  g_free (pix);
  packd_scorer_free (s);
}

int
main (int argc, char **argv)
{
  Options o = { NULL, 256, 2, 200, 20, 0, FALSE };
  GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_FILENAME, &o.model, "Teacher or model file", "FILE" },
    { "size", 's', 0, G_OPTION_ARG_INT, &o.size, "Input size (multiple of 32)", "N" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &o.threads, "Threads", "N" },
    { "runs", 'r', 0, G_OPTION_ARG_INT, &o.runs, "Timed runs", "N" },
    { "warmup", 'w', 0, G_OPTION_ARG_INT, &o.warmup, "Untimed warm-up runs", "N" },
    { "round", 0, 0, G_OPTION_ARG_INT, &o.round, "Round number (peer mode)", "N" },
    { "peer-json", 0, 0, G_OPTION_ARG_NONE, &o.peer_json, "Print one JSON line for shared/peers/run.sh", NULL },
    { NULL }
  };
  GOptionContext *ctx = g_option_context_new ("- time the packd teacher and scorer");
  GError *error = NULL;
  PackdTeacher *teacher;
  PackdTeacherRun *run;
  int ret = 0;

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    fprintf (stderr, "packd-bench: %s\n", error->message);
    return 2;
  }
  g_option_context_free (ctx);
  if (o.model == NULL)
    o.model = g_strdup (g_getenv ("PACKD_TEACHER") ? g_getenv ("PACKD_TEACHER") : PACKD_DEFAULT_TEACHER);
  if (o.runs < 1)
    o.runs = 1;

  openblas_set_num_threads (MAX (o.threads, 1));
  teacher = packd_teacher_load (o.model, &error);
  if (teacher == NULL) {
    fprintf (stderr, "packd-bench: %s\n", error->message);
    return 1;
  }
  run = packd_teacher_run_new (teacher, o.size, o.size, trunk_taps, 3, &error);
  if (run == NULL) {
    fprintf (stderr, "packd-bench: %s\n", error->message);
    packd_teacher_free (teacher);
    return 1;
  }
  fill_input (packd_teacher_run_input (run));

  if (o.peer_json) {
    ret = run_peer_json (run, &o);
  } else {
    double peak;
    printf ("packd-bench: OpenBLAS core %s, %d thread(s) (OPENBLAS_CORETYPE=%s), %s\n",
        openblas_get_corename (), openblas_get_num_threads (),
        g_getenv ("OPENBLAS_CORETYPE") ? g_getenv ("OPENBLAS_CORETYPE") : "unset",
        openblas_get_config ());
    peak = sgemm_peak_gflops ();
    printf ("sgemm peak (square 1024/2048, best): %.1f GFLOP/s\n", peak);
    time_teacher (run, &o, peak);
    print_module_macs (run);
    time_knn (&o, peak);
  }
  packd_teacher_run_free (run);
  packd_teacher_free (teacher);
  return ret;
}
