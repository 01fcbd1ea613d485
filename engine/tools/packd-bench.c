/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * packd-bench: times the engine module by module (colour conversion and
 * resize, teacher trunk with its layer kinds, knn embedding, knn search
 * exact and with coreset banks for k = 2, 4, 8, map + blur, the PACKD
 * teacher, student and map of a trained model, the whole knn and PACKD
 * scores) for 1 and 2 threads, next to the sgemm peak measured in the same
 * run.  The overlay is the element's (engine/tools/packd-bench-element.sh).
 * Numbers are printed, never asserted.
 *
 *   packd-bench [--model FILE] [--size 256] [--threads N] [--runs 200] [--warmup 20]
 *               [--busy N] [--coreset 0.1,0.05] [--packd-model FILE]
 *       --coreset F,F: coreset fractions timed besides the exact search
 *                 (search for k = 2, 4, 8 support images; whole score for 8)
 *       --packd-model FILE: also time the PACKD path of that trained model
 *                 (teacher, student = OCBE + decoder + PEIM, map, whole score)
 *       --threads N: only N threads (default: 1, then 2)
 *       --busy N: N extra threads spin during the timing (a busy neighbour,
 *                 e.g. the element's streaming thread)
 *   packd-bench --peer-json --threads T --warmup W --runs R --round N
 *       one JSON line for ../shared/peers/run.sh (PACKD_PEER_CMD)
 */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "packd-error.h"
#include "packd-scorer.h"
#include "packd-student.h"
#include "packd-teacher.h"
#include "packd-threads.h"
#include "scorer-impl.h"
#include "simd-impl.h"

/* The peers' trunk: input -> block_13_expand_relu with the three RD taps. */
static const char *const trunk_taps[] = {
  "block_3_expand_relu", "block_6_expand_relu", "block_13_expand_relu",
};

#define N_SUPPORT 8             /* knn with k = 8 good images */
#define FRAME_W 640             /* what the element typically receives */
#define FRAME_H 480

typedef struct {
  const char *model, *packd_model;
  int size, threads, runs, warmup, round, busy;
  char *coreset_arg;
  double coreset[4];
  int n_coreset;
  gboolean peer_json;
} Options;

/* ---- timing ------------------------------------------------------------ */

static double
now_ms (void)
{
  return g_get_monotonic_time () / 1000.0;
}

static double
cpu_ms (void)
{
  struct timespec t;
  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

static double
percentile (const double *sorted, int n, double p)
{
  int i = (int) ceil (p / 100.0 * n) - 1;
  return sorted[CLAMP (i, 0, n - 1)];
}

typedef struct {
  double median, p99, cpu;      /* ms; cpu = process CPU time per run */
} Timing;

typedef void (*BenchFunc) (gpointer data);

static Timing
time_runs (BenchFunc func, gpointer data, int warmup, int runs)
{
  double *ms = g_new (double, runs);
  Timing t;
  double c0;

  for (int i = 0; i < warmup; i++)
    func (data);
  c0 = cpu_ms ();
  for (int i = 0; i < runs; i++) {
    double t0 = now_ms ();
    func (data);
    ms[i] = now_ms () - t0;
  }
  t.cpu = (cpu_ms () - c0) / runs;
  qsort (ms, runs, sizeof (double), cmp_double);
  t.median = percentile (ms, runs, 50);
  t.p99 = percentile (ms, runs, 99);
  g_free (ms);
  return t;
}

/* gflop <= 0: not a compute module (no GFLOP/s column). */
static void
print_row (const char *name, Timing t, double gflop, double peak)
{
  printf ("  %-44s %8.3f %8.3f %8.3f", name, t.median, t.p99, t.cpu);
  if (gflop > 0)
    printf (" %8.1f %6.1f %%\n", gflop / (t.median / 1e3), 100 * gflop / (t.median / 1e3) / peak);
  else
    printf ("        -       -\n");
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

/* ---- busy neighbours ---------------------------------------------------- */

static gint busy_stop;

static gpointer
busy_main (gpointer data)
{
  volatile double x = 1.0;
  while (!g_atomic_int_get (&busy_stop))
    for (int i = 0; i < 10000; i++)
      x = x * 1.0000001 + 1e-9;
  return NULL;
}

/* ---- synthetic inputs --------------------------------------------------- */

static void
fill_input (PackdTensor *x)
{
  for (int64_t i = 0; i < packd_tensor_numel (x); i++)
    x->data[i] = (float) ((i * 2654435761u) % 1000) / 1000.f;
}

/* A smooth pattern with noise, different per image (phase). */
static guint8 *
make_frame (int w, int h, int bpp, int phase)
{
  guint8 *p = g_new (guint8, (gsize) w * h * bpp);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      for (int c = 0; c < bpp; c++) {
        double v = 0.5 + 0.25 * sin ((x + 7 * phase) * 0.05 + c) + 0.2 * cos ((y + phase) * 0.07);
        guint noise = ((x * 73856093u) ^ (y * 19349663u) ^ (phase * 83492791u)) >> 27;
        p[((gsize) y * w + x) * bpp + c] = CLAMP ((int) (v * 220) + (int) noise, 0, 255);
      }
  return p;
}

/* ---- modules ------------------------------------------------------------ */

typedef struct {
  PackdTeacherRun *run;
  PackdEmbedder *embedder;
  PackdKnnSearch *search;
  PackdScorer *scorer;
  const PackdImage *frame;
  const float *bank, *bank_norms;
  int bank_rows;
  float *grid_map, *map, *scratch_a, *scratch_b;
} Bench;

static void
bench_convert (gpointer data)
{
  Bench *b = data;
  packd_image_to_input (b->frame, packd_teacher_run_input (b->embedder->run));
}

static void
bench_teacher (gpointer data)
{
  packd_teacher_run_forward (((Bench *) data)->run);
}

static void
bench_embed (gpointer data)
{
  packd_embedder_pool_taps (((Bench *) data)->embedder);
}

static void
bench_search (gpointer data)
{
  Bench *b = data;
  for (int q = 0; q < b->search->n_queries; q++)
    b->grid_map[q] = INFINITY;
  packd_knn_search_run (b->search, b->embedder->embedding.data, b->bank, b->bank_norms, 0,
      b->bank_rows, b->grid_map);
}

static void
bench_map (gpointer data)
{
  Bench *b = data;
  packd_anomaly_map_finish (b->grid_map, b->embedder->grid, b->embedder->size, b->map,
      b->scratch_a, b->scratch_b);
}

static void
bench_score (gpointer data)
{
  Bench *b = data;
  PackdResult res;
  packd_scorer_score (b->scorer, b->frame, &res, NULL);
}

/* Per layer kind: sum over steps of each step's median profiled time.  A
 * fused inverted residual block is one step, reported as its own kind. */
static void
print_layer_kinds (PackdTeacherRun *run, int runs, double peak)
{
  const int n_ops = packd_teacher_run_n_ops (run), fused = PACKD_OP_N_KINDS;
  double *samples = g_new (double, (gsize) n_ops * runs), kind_ms[PACKD_OP_N_KINDS + 1] = { 0 };
  int64_t kind_macs[PACKD_OP_N_KINDS + 1] = { 0 };
  int kind_steps[PACKD_OP_N_KINDS + 1] = { 0 };

  packd_teacher_run_set_profiling (run, TRUE);
  for (int r = 0; r < runs; r++) {
    packd_teacher_run_forward (run);
    for (int i = 0; i < n_ops; i++)
      samples[(gsize) i * runs + r] = packd_teacher_run_op_time_ns (run, i) / 1e6;
  }
  packd_teacher_run_set_profiling (run, FALSE);
  for (int i = 0; i < n_ops; i++) {
    const int step = packd_teacher_run_op_step (run, i);
    const gboolean in_block = step != i || (i + 1 < n_ops && packd_teacher_run_op_step (run, i + 1) == i);
    const int k = in_block ? fused : (int) packd_teacher_run_op_kind (run, i);
    qsort (samples + (gsize) i * runs, runs, sizeof (double), cmp_double);
    kind_ms[k] += percentile (samples + (gsize) i * runs, runs, 50);
    kind_macs[k] += packd_teacher_run_op_macs (run, i);
    kind_steps[k] += step == i;
  }
  for (int k = 0; k <= fused; k++) {
    char name[64];
    if (kind_ms[k] == 0 && kind_macs[k] == 0)
      continue;
    if (k == fused)
      g_snprintf (name, sizeof name, "fused blocks (%d: expand, dw, project, add)", kind_steps[k]);
    else
      g_snprintf (name, sizeof name, "%s (%d)", packd_op_kind_name (k), kind_steps[k]);
    printf ("    %-42s %8.3f        -        -", name, kind_ms[k]);
    if (kind_macs[k] > 0) {
      double g = 2 * kind_macs[k] / 1e9 / (kind_ms[k] / 1e3);
      printf (" %8.1f %6.1f %%   (%.1f MMAC)\n", g, 100 * g / peak, kind_macs[k] / 1e6);
    } else {
      printf ("        -       -\n");
    }
  }
  g_free (samples);
}

/* A bank from N_SUPPORT synthetic images, as build_support lays it out. */
static float *
make_bank (PackdEmbedder *e, int *rows, float **norms)
{
  const int per = e->grid * e->grid;
  float *bank = g_new (float, (gsize) N_SUPPORT * per * e->dim);

  for (int i = 0; i < N_SUPPORT; i++) {
    guint8 *pix = make_frame (FRAME_W / 2, FRAME_H / 2, 3, i + 1);
    PackdImage img = { pix, FRAME_W / 2, FRAME_H / 2, FRAME_W / 2 * 3, PACKD_PIXEL_RGB };
    packd_embedder_run (e, &img);
    memcpy (bank + (gsize) i * per * e->dim, e->embedding.data, (gsize) per * e->dim * sizeof (float));
    g_free (pix);
  }
  *rows = N_SUPPORT * per;
  *norms = g_new (float, *rows);
  for (int r = 0; r < *rows; r++) {
    const float *x = bank + (gsize) r * e->dim;
    float n2 = 0.f;
    for (int c = 0; c < e->dim; c++)
      n2 += x[c] * x[c];
    (*norms)[r] = n2;
  }
  return bank;
}

/* The whole knn score (fresh scorer and support), exact or with a coreset. */
static void
time_scorer (Bench *b, const Options *o, double fraction, double peak)
{
  GError *error = NULL;
  PackdScorer *s = packd_scorer_new (o->model, PACKD_METHOD_KNN, &error);
  PackdImage imgs[N_SUPPORT];
  guint8 *pix[N_SUPPORT];
  PackdSupport *sup;
  char name[96];

  if (s == NULL) {
    printf ("  knn score: %s\n", error->message);
    g_error_free (error);
    return;
  }
  packd_scorer_set_threads (s, o->threads);
  packd_scorer_set_coreset_fraction (s, fraction);
  for (int i = 0; i < N_SUPPORT; i++) {
    pix[i] = make_frame (FRAME_W / 2, FRAME_H / 2, 3, i + 1);
    imgs[i] = (PackdImage) { pix[i], FRAME_W / 2, FRAME_H / 2, FRAME_W / 2 * 3, PACKD_PIXEL_RGB };
  }
  double t0 = now_ms ();
  sup = packd_scorer_build_support (s, imgs, N_SUPPORT, &error);
  double build_ms = now_ms () - t0;
  if (sup == NULL) {
    printf ("  knn score: %s\n", error->message);
    g_error_free (error);
  } else {
    packd_scorer_set_support (s, sup);
    packd_support_unref (sup);
    b->scorer = s;
    Timing t = time_runs (bench_score, b, o->warmup, o->runs);
    if (fraction < 1)
      g_snprintf (name, sizeof name, "knn score end to end, coreset %g (%.0f FPS)", fraction,
          1000 / t.median);
    else
      g_snprintf (name, sizeof name, "knn score end to end, exact (%.0f FPS)", 1000 / t.median);
    print_row (name, t, 0, peak);
    printf ("    (support build + calibration: %.0f ms)\n", build_ms);
  }
  for (int i = 0; i < N_SUPPORT; i++)
    g_free (pix[i]);
  packd_scorer_free (s);
}

/* ---- PACKD ------------------------------------------------------------- */

typedef struct {
  PackdTeacherRun *teacher;
  PackdStudentRun *student;
  const PackdImage *frame;
} PackdBench;

/* The conversion as the scorer does it, into the teacher's input. */
static void
bench_packd_convert (gpointer data)
{
  PackdBench *b = data;
  packd_image_to_input (b->frame, packd_teacher_run_input (b->teacher));
}

static void
bench_packd_teacher (gpointer data)
{
  packd_teacher_run_forward (((PackdBench *) data)->teacher);
}

static void
bench_packd_student (gpointer data)
{
  packd_student_run_forward (((PackdBench *) data)->student, FALSE);
}

/* The PACKD path of a trained model: its teacher (with the student's taps),
 * the student alone (OCBE + decoder + PEIM, eval mode, prototypes of
 * synthetic support features), and the whole score of a 640x480 frame
 * against a support set of N_SUPPORT synthetic images; what the whole score
 * spends beyond conversion, teacher and student is the map (three cosine
 * maps, upsampling, sum, blur). */
static void
bench_packd (const Options *o, const PackdImage *frame, double peak)
{
  GError *error = NULL;
  PackdModel *m = packd_model_load (o->packd_model, &error);
  PackdBench b = { 0 };
  Bench score = { 0 };          /* scorer and frame, for bench_score */
  PackdImage imgs[N_SUPPORT];
  guint8 *pix[N_SUPPORT] = { 0 };
  PackdSupport *sup = NULL;
  Timing tt, ts, te, tc;
  char name[96];

  if (m == NULL)
    goto fail;
  const PackdStudentArch *a = packd_student_get_arch (m->student);
  const char *taps[3] = { a->taps[0], a->taps[1], a->taps[2] };
  int64_t student_macs = 0, map_macs = packd_student_module_macs (m->student, 3);
  GRand *rng = g_rand_new_with_seed (7);

  for (int i = 0; i < 3; i++)           /* ocbe, decoder, peim */
    student_macs += packd_student_module_macs (m->student, i);
  b.teacher = packd_teacher_run_new (m->teacher, a->size, a->size, taps, 3, &error);
  if (b.teacher == NULL)
    goto fail;
  b.student = packd_student_run_new (m->student, 1, 1, FALSE, &error);
  if (b.student == NULL)
    goto fail;
  packd_teacher_run_set_threads (b.teacher, o->threads);
  fill_input (packd_teacher_run_input (b.teacher));
  packd_teacher_run_forward (b.teacher);
  for (int L = 1; L <= 3; L++) {
    const PackdTensor *tap = packd_teacher_run_tap (b.teacher, L - 1);
    memcpy (packd_student_run_teacher (b.student, L)->data, tap->data,
        packd_tensor_numel (tap) * sizeof (float));
  }
  if (a->peim)
    for (int L = 2; L <= 4; L++) {
      const gsize n = (gsize) a->prototypes * a->tap_channels[L - 1];
      float *p = g_new (float, n);
      for (gsize i = 0; i < n; i++)
        p[i] = (float) g_rand_double_range (rng, 0, 1);
      packd_student_run_set_prototypes (b.student, 0, L, p);
      g_free (p);
    }
  g_rand_free (rng);

  g_snprintf (name, sizeof name, "PACKD teacher %dx%d (3 taps)", a->size, a->size);
  tt = time_runs (bench_packd_teacher, &b, o->warmup, o->runs);
  print_row (name, tt, 2 * packd_teacher_run_total_macs (b.teacher) / 1e9, peak);
  g_snprintf (name, sizeof name, "PACKD student: OCBE+decoder+PEIM (%.0f MMAC)",
      student_macs / 1e6);
  ts = time_runs (bench_packd_student, &b, o->warmup, o->runs);
  print_row (name, ts, 2 * student_macs / 1e9, peak);
  for (int i = 0; i < 3; i++)
    printf ("    %-42s %8s        -        - %8s        -   (%.1f MMAC)\n",
        packd_student_module_name (i), "-", "-", packd_student_module_macs (m->student, i) / 1e6);
  if (o->threads > 1) {
    /* The student's layers call OpenBLAS, whose threads yield the cores
     * while they wait: the same with OpenBLAS on one thread. */
    openblas_set_num_threads (1);
    print_row ("  the same, OpenBLAS on 1 thread", time_runs (bench_packd_student, &b, o->warmup,
            o->runs), 2 * student_macs / 1e9, peak);
    openblas_set_num_threads (o->threads);
  }

  score.scorer = packd_scorer_new (o->packd_model, PACKD_METHOD_PACKD, &error);
  if (score.scorer == NULL)
    goto fail;
  packd_scorer_set_threads (score.scorer, o->threads);
  for (int i = 0; i < N_SUPPORT; i++) {
    pix[i] = make_frame (FRAME_W / 2, FRAME_H / 2, 3, i + 1);
    imgs[i] = (PackdImage) { pix[i], FRAME_W / 2, FRAME_H / 2, FRAME_W / 2 * 3, PACKD_PIXEL_RGB };
  }
  sup = packd_scorer_build_support (score.scorer, imgs, N_SUPPORT, &error);
  if (sup == NULL)
    goto fail;
  packd_scorer_set_support (score.scorer, sup);
  b.frame = score.frame = frame;
  te = time_runs (bench_score, &score, o->warmup, o->runs);
  tc = time_runs (bench_packd_convert, &b, o->warmup, o->runs);
  Timing tm = { te.median - tc.median - tt.median - ts.median, NAN,
    te.cpu - tc.cpu - tt.cpu - ts.cpu };
  printf ("  %-44s %8.3f        - %8.3f", "PACKD map + blur (score - the rows above)",
      tm.median, tm.cpu);
  printf (" %8.1f        -   (%.1f MMAC)\n", 2 * map_macs / 1e9 / (tm.median / 1e3), map_macs / 1e6);
  g_snprintf (name, sizeof name, "PACKD score end to end %dx%d frame (%.0f FPS)", frame->width,
      frame->height, 1000 / te.median);
  print_row (name, te, 0, peak);
  if (o->threads > 1) {
    openblas_set_num_threads (1);
    te = time_runs (bench_score, &score, o->warmup, o->runs);
    g_snprintf (name, sizeof name, "  the same, OpenBLAS on 1 thread (%.0f FPS)", 1000 / te.median);
    print_row (name, te, 0, peak);
    openblas_set_num_threads (o->threads);
  }
  goto out;

fail:
  printf ("  PACKD: %s\n", error ? error->message : "?");
  g_clear_error (&error);
out:
  packd_support_unref (sup);
  for (int i = 0; i < N_SUPPORT; i++)
    g_free (pix[i]);
  packd_scorer_free (score.scorer);
  packd_student_run_free (b.student);
  packd_teacher_run_free (b.teacher);
  packd_model_free (m);
}

static void
bench_threads (PackdTeacher *teacher, const Options *o)
{
  GError *error = NULL;
  Bench b = { 0 };
  guint8 *frame_pix = make_frame (FRAME_W, FRAME_H, 4, 0);
  PackdImage frame = { frame_pix, FRAME_W, FRAME_H, FRAME_W * 4, PACKD_PIXEL_BGRX };
  float *bank, *norms;
  int rows;
  double peak;
  char name[96];

  openblas_set_num_threads (o->threads);
  packd_threads_set_default (o->threads);
  peak = sgemm_peak_gflops ();
  printf ("\n== %d thread%s: engine pool %d, OpenBLAS %d; sgemm peak %.1f GFLOP/s ==\n",
      o->threads, o->threads > 1 ? "s" : "", o->threads, openblas_get_num_threads (), peak);
  printf ("  %-44s %8s %8s %8s %8s %8s\n", "module", "median", "p99", "cpu/run", "GFLOP/s", "% peak");

  b.run = packd_teacher_run_new (teacher, o->size, o->size, trunk_taps, 3, &error);
  b.embedder = packd_embedder_new (teacher, o->size, trunk_taps, 3, &error);
  if (b.run == NULL || b.embedder == NULL) {
    printf ("  %s\n", error->message);
    g_error_free (error);
    goto out;
  }
  packd_teacher_run_set_threads (b.run, o->threads);
  fill_input (packd_teacher_run_input (b.run));
  b.frame = &frame;

  g_snprintf (name, sizeof name, "colour conversion + resize %dx%d BGRx", FRAME_W, FRAME_H);
  print_row (name, time_runs (bench_convert, &b, o->warmup, o->runs), 0, peak);

  const double tflop = 2 * packd_teacher_run_total_macs (b.run) / 1e9;
  g_snprintf (name, sizeof name, "teacher trunk %dx%d (%.1f MMAC)", o->size, o->size, tflop / 2e-3);
  print_row (name, time_runs (bench_teacher, &b, o->warmup, o->runs), tflop, peak);
  print_layer_kinds (b.run, MAX (o->runs / 2, 5), peak);

  bank = make_bank (b.embedder, &rows, &norms);
  print_row ("knn embedding (3x3 mean, resample, concat)", time_runs (bench_embed, &b, o->warmup,
          o->runs), 0, peak);
  b.search = packd_knn_search_new (b.embedder->grid * b.embedder->grid, b.embedder->dim, &error);
  b.grid_map = g_new (float, b.embedder->grid * b.embedder->grid);
  b.map = g_new (float, (gsize) o->size * o->size);
  b.scratch_a = g_new (float, (gsize) o->size * o->size);
  b.scratch_b = g_new (float, (gsize) o->size * o->size);
  {
    /* The bank of k images is the first k of the N_SUPPORT images' rows. */
    const int nq = b.search->n_queries, dim = b.embedder->dim, per = rows / N_SUPPORT;
    const int runs = MAX (o->runs / 10, 5), warmup = MIN (o->warmup, 2);
    int *sel = g_new (int, rows);
    float *core = g_new (float, (gsize) rows * dim), *core_norms = g_new (float, rows);

    for (int k = 2; k <= N_SUPPORT; k *= 2) {
      const int k_rows = k * per;
      b.bank = bank;
      b.bank_norms = norms;
      b.bank_rows = k_rows;
      g_snprintf (name, sizeof name, "knn search k=%d exact (%dx%dx%d)", k, nq, k_rows, dim);
      print_row (name, time_runs (bench_search, &b, warmup, runs), 2.0 * nq * k_rows * dim / 1e9,
          peak);
      for (int f = 0; f < o->n_coreset; f++) {
        const int n_core = MAX (1, (int) ceil (o->coreset[f] * k_rows));
        if (!packd_knn_coreset_select (bank, k_rows, dim, n_core, sel, NULL))
          continue;
        for (int t = 0; t < n_core; t++) {
          memcpy (core + (gsize) t * dim, bank + (gsize) sel[t] * dim, dim * sizeof (float));
          core_norms[t] = norms[sel[t]];
        }
        b.bank = core;
        b.bank_norms = core_norms;
        b.bank_rows = n_core;
        g_snprintf (name, sizeof name, "knn search k=%d coreset %g (%dx%dx%d)", k, o->coreset[f],
            nq, n_core, dim);
        print_row (name, time_runs (bench_search, &b, o->warmup, o->runs),
            2.0 * nq * n_core * dim / 1e9, peak);
      }
    }
    g_free (sel);
    g_free (core);
    g_free (core_norms);
  }
  g_snprintf (name, sizeof name, "map + blur (%d -> %d, sigma 4)", b.embedder->grid, o->size);
  print_row (name, time_runs (bench_map, &b, o->warmup, o->runs), 0, peak);
  if (o->packd_model)
    bench_packd (o, &frame, peak);
  else
    printf ("  %-44s (no --packd-model given)\n", "PACKD: OCBE, decoder, PEIM");
  printf ("  %-44s (in the element: packd-bench-element.sh)\n", "overlay");

  time_scorer (&b, &(Options) { .model = o->model, .threads = o->threads,
        .runs = MAX (o->runs / 10, 5), .warmup = MIN (o->warmup, 2) }, 1.0, peak);
  for (int f = 0; f < o->n_coreset; f++)
    time_scorer (&b, o, o->coreset[f], peak);

  g_free (bank);
  g_free (norms);
  g_free (b.grid_map);
  g_free (b.map);
  g_free (b.scratch_a);
  g_free (b.scratch_b);
out:
  packd_knn_search_free (b.search);
  packd_embedder_free (b.embedder);
  packd_teacher_run_free (b.run);
  g_free (frame_pix);
}

static int
run_peer_json (PackdTeacher *teacher, const Options *o)
{
  GError *error = NULL;
  PackdTeacherRun *run = packd_teacher_run_new (teacher, o->size, o->size, trunk_taps, 3, &error);
  double *ms;

  if (run == NULL) {
    fprintf (stderr, "packd-bench: %s\n", error->message);
    return 1;
  }
  packd_teacher_run_set_threads (run, o->threads);
  fill_input (packd_teacher_run_input (run));
  ms = g_new (double, o->runs);
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
  packd_teacher_run_free (run);
  return 0;
}

int
main (int argc, char **argv)
{
  Options o = { .size = 256, .runs = 200, .warmup = 20 };
  GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_FILENAME, &o.model, "Teacher or model file", "FILE" },
    { "size", 's', 0, G_OPTION_ARG_INT, &o.size, "Input size (multiple of 32)", "N" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &o.threads, "Threads (default: 1, then 2)", "N" },
    { "runs", 'r', 0, G_OPTION_ARG_INT, &o.runs, "Timed runs", "N" },
    { "warmup", 'w', 0, G_OPTION_ARG_INT, &o.warmup, "Untimed warm-up runs", "N" },
    { "busy", 0, 0, G_OPTION_ARG_INT, &o.busy, "Threads spinning alongside (busy neighbours)", "N" },
    { "coreset", 0, 0, G_OPTION_ARG_STRING, &o.coreset_arg, "Coreset fractions of the knn bank (default 0.1)", "F,F" },
    { "packd-model", 0, 0, G_OPTION_ARG_FILENAME, &o.packd_model, "Also time the PACKD path of this trained model", "FILE" },
    { "round", 0, 0, G_OPTION_ARG_INT, &o.round, "Round number (peer mode)", "N" },
    { "peer-json", 0, 0, G_OPTION_ARG_NONE, &o.peer_json, "Print one JSON line for shared/peers/run.sh", NULL },
    { NULL }
  };
  GOptionContext *ctx = g_option_context_new ("- time the packd engine module by module");
  GError *error = NULL;
  PackdTeacher *teacher;
  GThread *busy[16];
  int ret = 0;

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    fprintf (stderr, "packd-bench: %s\n", error->message);
    return 2;
  }
  g_option_context_free (ctx);
  if (o.model == NULL)
    o.model = g_strdup (g_getenv ("PACKD_TEACHER") ? g_getenv ("PACKD_TEACHER") : PACKD_DEFAULT_TEACHER);
  o.runs = MAX (o.runs, 1);
  o.warmup = MAX (o.warmup, 0);
  o.busy = CLAMP (o.busy, 0, (int) G_N_ELEMENTS (busy));
  {
    char **parts = g_strsplit (o.coreset_arg ? o.coreset_arg : "0.1", ",", -1);
    for (int i = 0; parts[i] && o.n_coreset < (int) G_N_ELEMENTS (o.coreset); i++) {
      double f = g_ascii_strtod (parts[i], NULL);
      if (f > 0 && f < 1)
        o.coreset[o.n_coreset++] = f;
    }
    g_strfreev (parts);
  }

  teacher = packd_teacher_load (o.model, &error);
  if (teacher == NULL) {
    fprintf (stderr, "packd-bench: %s\n", error->message);
    return 1;
  }
  for (int i = 0; i < o.busy; i++)
    busy[i] = g_thread_new ("busy", busy_main, NULL);

  if (o.peer_json) {
    o.threads = MAX (o.threads, 1);
    openblas_set_num_threads (o.threads);
    packd_threads_set_default (o.threads);
    ret = run_peer_json (teacher, &o);
  } else {
    printf ("packd-bench: SIMD %s; OpenBLAS core %s (OPENBLAS_CORETYPE=%s), %s; %d busy neighbour%s\n",
        packd_simd_level_name (packd_simd_level ()), openblas_get_corename (),
        g_getenv ("OPENBLAS_CORETYPE") ? g_getenv ("OPENBLAS_CORETYPE") : "unset",
        openblas_get_config (), o.busy, o.busy == 1 ? "" : "s");
    printf ("times in ms (median, p99 of wall time; cpu/run = process CPU time per run)\n");
    for (int t = o.threads > 0 ? o.threads : 1; t <= (o.threads > 0 ? o.threads : 2); t++) {
      Options ot = o;
      ot.threads = t;
      bench_threads (teacher, &ot);
    }
  }
  g_atomic_int_set (&busy_stop, 1);
  for (int i = 0; i < o.busy; i++)
    g_thread_join (busy[i]);
  packd_teacher_free (teacher);
  g_free ((char *) o.model);
  g_free ((char *) o.packd_model);
  g_free (o.coreset_arg);
  return ret;
}
