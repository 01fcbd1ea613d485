/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/* The PACKD student: a finite-difference check of the whole network +
 * PEIM + losses, architecture descriptions in model files, a tiny overfit,
 * exact resume, and method 'packd' through the scoring API. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "packd-error.h"
#include "packd-scorer.h"
#include "packd-student.h"
#include "packd-threads.h"
#include "packd-trainer.h"
#include "student-impl.h"
#include "test-util.h"

/* ---- tiny random configuration (no teacher needed) ---------------------- */

static void
tiny_arch (PackdStudentArch *a, gboolean peim)
{
  static const int ch[4] = { 5, 6, 7, 8 };
  packd_student_arch_init_default (a);
  a->size = 128;
  for (int i = 0; i < 4; i++)
    a->tap_channels[i] = ch[i];
  a->ocbe_channels = 4;
  a->ocbe_hidden = 6;
  a->decoder_channels[0] = 3;
  a->decoder_channels[1] = 4;
  a->decoder_channels[2] = 5;
  a->expand = 2;
  a->blocks[0] = 1;
  a->blocks[1] = 1;
  a->blocks[2] = 2;
  a->peim = peim;
  a->prototypes = 3;
  a->tau_e = 0.5f;
  a->tau_a = 0.5f;
}

typedef struct {
  PackdStudent *s;
  PackdStudentRun *run;
  PackdLossWeights w;
  float *support[5];
} GradCtx;

static double
grad_ctx_loss (GradCtx *g, guint64 *pattern)
{
  packd_student_run_forward (g->run, packd_student_get_arch (g->s)->peim);
  if (pattern)
    *pattern = packd_student_run_activation_pattern (g->run);
  return packd_student_run_loss (g->run, &g->w, NULL);
}

static void
grad_ctx_init (GradCtx *g, gboolean peim, GRand *rng)
{
  PackdStudentArch a;
  const int B = 3, k = 2;

  tiny_arch (&a, peim);
  g->s = packd_student_new (&a, 7, NULL);
  ck_assert_ptr_nonnull (g->s);
  g->run = packd_student_run_new (g->s, B, k, TRUE, NULL);
  ck_assert_ptr_nonnull (g->run);
  packd_loss_weights_init_default (&g->w);
  /* larger weights than the defaults so every term moves the check */
  g->w.contrastive = 0.5f;
  g->w.orthogonal = 0.5f;
  g->w.tau = 0.5f;
  for (int L = 1; L <= 3; L++) {
    PackdTensor *t = packd_student_run_teacher (g->run, L);
    for (int64_t i = 0; i < packd_tensor_numel (t); i++)
      t->data[i] = (float) g_rand_double_range (rng, 0, 1);
  }
  for (int L = 2; L <= 4; L++) {
    const int grid = packd_student_arch_grid (&a, L);
    const int64_t per = (int64_t) grid * grid * a.tap_channels[L - 1];
    g->support[L] = g_new (float, B * k * per);
    for (int64_t i = 0; i < B * k * per; i++)
      g->support[L][i] = (float) g_rand_double_range (rng, 0, 1);
    if (peim)
      for (int b = 0; b < B; b++)
        packd_student_run_set_support (g->run, b, L, g->support[L] + b * k * per, b == 1 ? 1 : k);
  }
  packd_student_arch_clear (&a);
}

static void
grad_ctx_clear (GradCtx *g)
{
  for (int L = 2; L <= 4; L++)
    g_free (g->support[L]);
  packd_student_run_free (g->run);
  packd_student_free (g->s);
}

static void
check_whole_gradient (gboolean peim)
{
  GRand *rng = g_rand_new_with_seed (peim ? 11 : 12);
  GradCtx g;
  const int per_param = 3;
  /* small: BN couples all activations of a channel, so a larger step
   * crosses many ReLU6 kinks (h = 1e-3 is visibly off at the OCBE) */
  const double h = 1e-4;
  int n_checked = 0, n_skipped = 0, n_kinked = 0, n_tight = 0;
  double max_grad = 0;
  GArray *analytic = g_array_new (FALSE, FALSE, sizeof (double));
  GArray *numeric = g_array_new (FALSE, FALSE, sizeof (double));
  GPtrArray *what = g_ptr_array_new_with_free_func (g_free);

  grad_ctx_init (&g, peim, rng);
  packd_student_zero_grad (g.s);
  grad_ctx_loss (&g, NULL);
  packd_student_run_backward (g.run);
  /* gradients are read before any further forward (BN running stats move,
   * but train-mode outputs do not depend on them) */
  for (int p = 0; p < packd_student_n_params (g.s); p++) {
    int64_t n;
    packd_student_param_data (g.s, p, &n);
    const float *gr = packd_student_param_grad (g.s, p);
    for (int r = 0; r < per_param; r++) {
      const int64_t i = g_rand_int_range (rng, 0, (gint32) n);
      const double a = gr[i];
      g_array_append_val (analytic, a);
      g_ptr_array_add (what, g_strdup_printf ("%s[%" G_GINT64_FORMAT "]",
          packd_student_param_name (g.s, p), i));
    }
  }
  /* numeric, in the same order */
  {
    int idx = 0;
    GRand *rng2 = g_rand_new_with_seed (peim ? 11 : 12);
    GradCtx g2;
    guint64 pat0;
    grad_ctx_init (&g2, peim, rng2);
    /* same weights and inputs as g (same seeds); the draws continue in step */
    for (int p = 0; p < packd_student_n_params (g.s); p++) {
      int64_t n;
      float *x = packd_student_param_data (g2.s, p, &n);
      for (int r = 0; r < per_param; r++, idx++) {
        const int64_t i = g_rand_int_range (rng2, 0, (gint32) n);
        const float v = x[i];
        guint64 pp = 0, pm = 0;
        double f0, fp, fm, num;
        f0 = grad_ctx_loss (&g2, &pat0);
        x[i] = (float) (v + h);
        fp = grad_ctx_loss (&g2, &pp);
        x[i] = (float) (v - h);
        fm = grad_ctx_loss (&g2, &pm);
        x[i] = v;
        /* Where one side crosses a ReLU6 kink, the other side's one-sided
         * difference; where both do (BN couples every activation of a
         * channel, so crossings are common), the central one: a single
         * crossing moves the loss far less than the tolerance. */
        if (pp == pat0 && pm == pat0)
          num = (fp - fm) / ((double) (float) (v + h) - (double) (float) (v - h));
        else if (pp == pat0)
          num = (fp - f0) / ((double) (float) (v + h) - v);
        else if (pm == pat0)
          num = (f0 - fm) / (v - (double) (float) (v - h));
        else {
          num = (fp - fm) / ((double) (float) (v + h) - (double) (float) (v - h));
          n_kinked++;
        }
        g_array_append_val (numeric, num);
        if (isfinite (num))
          max_grad = MAX (max_grad, fabs (num));
      }
    }
    grad_ctx_clear (&g2);
    g_rand_free (rng2);
  }
  ck_assert_double_gt (max_grad, 1e-4);
  for (guint i = 0; i < numeric->len; i++) {
    const double n = g_array_index (numeric, double, i), a = g_array_index (analytic, double, i);
    if (!isfinite (n))
      continue;
    n_checked++;
    if (g_getenv ("GC_VERBOSE"))
      g_printerr ("%-40s a %+.6f n %+.6f\n", (char *) g_ptr_array_index (what, i), a, n);
    /* Kink crossings downstream of a perturbed weight leave a few percent
     * of noise; a wrong backward is off by far more, and for every element
     * of its layer. */
    if (fabs (a - n) > 0.1 * MAX (fabs (a), fabs (n)) + 0.03 * max_grad)
      ck_abort_msg ("%s: analytic %.6g numeric %.6g (max %.3g)",
          (char *) g_ptr_array_index (what, i), a, n, max_grad);
    if (fabs (a - n) <= 0.02 * MAX (fabs (a), fabs (n)) + 0.005 * max_grad)
      n_tight++;
  }
  ck_assert_int_ge (n_tight * 100, n_checked * 90);
  ck_assert_int_eq (n_skipped, 0);
  (void) n_kinked;
  ck_assert_int_gt (n_checked, 20);
  g_array_unref (analytic);
  g_array_unref (numeric);
  g_ptr_array_unref (what);
  grad_ctx_clear (&g);
  g_rand_free (rng);
}

START_TEST (test_gradient_whole_peim)
{
  check_whole_gradient (TRUE);
}
END_TEST

START_TEST (test_gradient_whole_plain)
{
  check_whole_gradient (FALSE);
}
END_TEST

/* ---- real teacher at 64x64, synthetic textures -------------------------- */

#define TEX 64

/* Category 0: stripes, category 1: a dot lattice; image i varies the phase
 * and the noise.  blob paints a dark red disc (the defect). */
static void
texture_fill (guint8 *rgb, int category, int index, gboolean blob)
{
  GRand *rng = g_rand_new_with_seed (1000 * category + index);
  const double phase = g_rand_double (rng) * 6.283;

  for (int y = 0; y < TEX; y++)
    for (int x = 0; x < TEX; x++) {
      double v;
      guint8 *p = rgb + (y * TEX + x) * 3;
      if (category == 0)
        v = 0.5 + 0.4 * sin (x * 0.6 + y * 0.15 + phase);
      else
        v = ((x + (int) (phase * 3)) % 8 < 3 && (y + (int) (phase * 2)) % 8 < 3) ? 0.85 : 0.25;
      v += g_rand_double_range (rng, -0.05, 0.05);
      p[0] = (guint8) CLAMP (v * 255, 0, 255);
      p[1] = (guint8) CLAMP (v * 230, 0, 255);
      p[2] = (guint8) CLAMP (v * 200, 0, 255);
      if (blob && (x - 40) * (x - 40) + (y - 22) * (y - 22) < 64) {
        p[0] = 200;
        p[1] = 20;
        p[2] = 30;
      }
    }
  g_rand_free (rng);
}

typedef struct {
  guint8 rgb[TEX * TEX * 3];
} TextureSource;

static gboolean
texture_load (gpointer data, int category, int index, PackdImage *image, GError **error)
{
  TextureSource *ts = data;
  texture_fill (ts->rgb, category, index, FALSE);
  image->pixels = ts->rgb;
  image->width = image->height = TEX;
  image->stride = TEX * 3;
  image->format = PACKD_PIXEL_RGB;
  return TRUE;
}

static const char *const texture_names[] = { "stripes", "dots" };
static const int texture_counts[] = { 5, 5 };

static void
texture_source_init (PackdImageSource *src, TextureSource *ts)
{
  memset (src, 0, sizeof (*src));
  src->n_categories = 2;
  src->names = texture_names;
  src->n_images = texture_counts;
  src->load = texture_load;
  src->data = ts;
}

static void
tiny_real_options (PackdTrainerOptions *o, gboolean peim)
{
  packd_trainer_options_init (o);
  o->arch.size = TEX;
  o->arch.ocbe_channels = 8;
  o->arch.ocbe_hidden = 16;
  o->arch.decoder_channels[0] = 8;
  o->arch.decoder_channels[1] = 8;
  o->arch.decoder_channels[2] = 16;
  o->arch.prototypes = 4;
  o->arch.peim = peim;
  o->batch = 2;
  o->shots[0] = 2;
  o->n_shots = 1;
  o->seed = 3;
  o->teacher_path = packd_test_teacher_path ();
}

/* Feature caches: a folder per trainer (as its default temporary one would
 * be), made under the test run's folder so that they go even when a test
 * fails before packd_trainer_free(). */
static GPtrArray *cache_dirs;

static void
training_setup (void)
{
  cache_dirs = g_ptr_array_new_with_free_func (g_free);
}

static void
training_teardown (void)
{
  for (guint i = 0; i < cache_dirs->len; i++)
    packd_test_remove_tree (cache_dirs->pdata[i]);
  g_clear_pointer (&cache_dirs, g_ptr_array_unref);
}

static PackdTrainer *
trainer_new (PackdTrainerOptions *o, const PackdImageSource *src, const char *resume_path,
    GError **error)
{
  char *cache = packd_test_make_tmp_dir ("train-cache");

  g_ptr_array_add (cache_dirs, cache);
  o->cache_dir = cache;
  return packd_trainer_new (o, src, resume_path, error);
}

/* Trains steps steps; returns the trainer (mean KD of the first / last 3
 * steps in kd_first / kd_last when non-NULL). */
static PackdTrainer *
train_tiny (int steps, gboolean peim, TextureSource *ts, double *kd_first, double *kd_last)
{
  PackdTrainerOptions o;
  PackdImageSource src;
  PackdTrainer *t;
  GError *err = NULL;
  double first = 0, last = 0;

  tiny_real_options (&o, peim);
  texture_source_init (&src, ts);
  t = trainer_new (&o, &src, NULL, &err);
  ck_assert_msg (t != NULL, "trainer: %s", err ? err->message : "?");
  for (int i = 0; i < steps; i++) {
    PackdLossTerms terms;
    ck_assert (packd_trainer_step (t, &terms, NULL));
    if (i < 3)
      first += terms.kd / 3;
    if (i >= steps - 3)
      last += terms.kd / 3;
  }
  if (kd_first)
    *kd_first = first;
  if (kd_last)
    *kd_last = last;
  packd_trainer_options_clear (&o);
  return t;
}

START_TEST (test_overfit)
{
  TextureSource ts;
  double first, last;
  PackdTrainer *t = train_tiny (100, TRUE, &ts, &first, &last);

  g_printerr ("overfit: KD %.4f -> %.4f\n", first, last);
  ck_assert_double_gt (first, 0.2);
  ck_assert_double_lt (last * 5, first);
  packd_trainer_free (t);
}
END_TEST

START_TEST (test_resume_exact)
{
  TextureSource ts;
  PackdTrainerOptions o;
  PackdImageSource src;
  GError *err = NULL;
  char *dir = packd_test_make_tmp_dir ("resume");
  char *ckpt = g_build_filename (dir, "ckpt.safetensors", NULL);
  PackdTrainer *straight, *half, *resumed;

  tiny_real_options (&o, TRUE);
  texture_source_init (&src, &ts);
  straight = trainer_new (&o, &src, NULL, &err);
  half = trainer_new (&o, &src, NULL, &err);
  ck_assert_ptr_nonnull (straight);
  ck_assert_ptr_nonnull (half);
  for (int i = 0; i < 6; i++)
    ck_assert (packd_trainer_step (straight, NULL, NULL));
  for (int i = 0; i < 3; i++)
    ck_assert (packd_trainer_step (half, NULL, NULL));
  ck_assert (packd_trainer_save_checkpoint (half, ckpt, &err));
  packd_trainer_free (half);
  resumed = trainer_new (&o, &src, ckpt, &err);
  ck_assert_msg (resumed != NULL, "resume: %s", err ? err->message : "?");
  ck_assert_int_eq (packd_trainer_get_step (resumed), 3);
  for (int i = 0; i < 3; i++)
    ck_assert (packd_trainer_step (resumed, NULL, NULL));
  {
    PackdStudent *a = packd_trainer_get_student (straight);
    PackdStudent *b = packd_trainer_get_student (resumed);
    double moved = 0;
    ck_assert_int_eq (packd_student_n_params (a), packd_student_n_params (b));
    for (int p = 0; p < packd_student_n_params (a); p++) {
      int64_t n, nb;
      const float *x = packd_student_param_data (a, p, &n);
      const float *y = packd_student_param_data (b, p, &nb);
      ck_assert_int_eq (n, nb);
      for (int64_t i = 0; i < n; i++) {
        ck_assert_msg (fabsf (x[i] - y[i]) <= 1e-6f * (1 + fabsf (x[i])), "%s[%d]: %g vs %g",
            packd_student_param_name (a, p), (int) i, x[i], y[i]);
        moved += fabsf (x[i]);
      }
    }
    ck_assert_double_gt (moved, 0);
  }
  /* and the resumed run did train: it differs from a fresh 3-step run */
  packd_trainer_free (straight);
  packd_trainer_free (resumed);
  packd_test_remove_tree (dir);
  g_free (ckpt);
  g_free (dir);
  packd_trainer_options_clear (&o);
}
END_TEST

/* ---- architecture descriptions ------------------------------------------- */

static char *
replace_once (const char *s, const char *from, const char *to)
{
  const char *at = strstr (s, from);
  ck_assert_msg (at != NULL, "'%s' not in %s", from, s);
  return g_strdup_printf ("%.*s%s%s", (int) (at - s), s, to, at + strlen (from));
}

static void
write_model (const char *path, PackdStudent *student, const char *arch_override)
{
  GError *err = NULL;
  PackdSafetensors *teacher = packd_safetensors_open (packd_test_teacher_path (), &err);
  PackdSafetensorsWriter *w = packd_safetensors_writer_new ();

  ck_assert_ptr_nonnull (teacher);
  packd_model_write (w, teacher, "", student);
  if (arch_override)
    packd_safetensors_writer_set_metadata (w, "packd.arch", arch_override);
  ck_assert (packd_safetensors_writer_save (w, path, &err));
  packd_safetensors_writer_free (w);
  packd_safetensors_free (teacher);
}

START_TEST (test_arch_corrupt)
{
  PackdTrainerOptions o;
  PackdStudent *student;
  char *dir = packd_test_make_tmp_dir ("arch");
  char *path = g_build_filename (dir, "model.safetensors", NULL);
  char *good, *bad[8];
  int n_bad = 0;
  GError *err = NULL;
  PackdModel *m;

  tiny_real_options (&o, TRUE);
  student = packd_student_new (&o.arch, 1, &err);
  ck_assert_ptr_nonnull (student);
  good = packd_student_arch_to_json (&o.arch);

  /* the untouched file loads and carries the teacher's licence */
  write_model (path, student, NULL);
  m = packd_model_load (path, &err);
  ck_assert_msg (m != NULL, "%s", err ? err->message : "?");
  ck_assert_ptr_nonnull (packd_safetensors_get_metadata (m->st, "teacher.licence"));
  ck_assert_int_eq (packd_student_get_arch (m->student)->ocbe_channels, 8);
  packd_model_free (m);

  bad[n_bad++] = g_strdup ("{\"format\": \"packd-student\", ");                 /* not JSON */
  bad[n_bad++] = replace_once (good, "\"prototypes\":4,", "");                  /* missing */
  bad[n_bad++] = replace_once (good, "\"size\":64", "\"size\":\"64\"");          /* type */
  bad[n_bad++] = replace_once (good, "\"size\":64", "\"size\":80");             /* not /32 */
  bad[n_bad++] = replace_once (good, "\"ocbe_channels\":8", "\"ocbe_channels\":9");  /* tensors */
  bad[n_bad++] = replace_once (good, "\"prototypes\":4", "\"prototypes\":5");   /* tensors */
  bad[n_bad++] = replace_once (good, "block_3_expand_relu", "block_2_add");     /* teacher */
  bad[n_bad++] = replace_once (good, "\"tau_e\":", "\"tau_e\":-");              /* range */
  for (int i = 0; i < n_bad; i++) {
    write_model (path, student, bad[i]);
    m = packd_model_load (path, &err);
    ck_assert_msg (m == NULL, "corrupt description %d loaded: %s", i, bad[i]);
    ck_assert_msg (err != NULL && err->domain == PACKD_ERROR, "case %d: no PACKD_ERROR", i);
    ck_assert_int_eq (err->code, PACKD_ERROR_MODEL);
    g_clear_error (&err);
    g_free (bad[i]);
  }
  /* no description at all, e.g. a teacher file given as a PACKD model */
  m = packd_model_load (packd_test_teacher_path (), &err);
  ck_assert_ptr_null (m);
  ck_assert_int_eq (err->code, PACKD_ERROR_MODEL);
  g_clear_error (&err);

  g_free (good);
  packd_student_free (student);
  packd_test_remove_tree (dir);
  g_free (path);
  g_free (dir);
  packd_trainer_options_clear (&o);
}
END_TEST

/* ---- method 'packd' through the scoring API -------------------------------- */

START_TEST (test_scorer_packd)
{
  TextureSource ts;
  PackdTrainer *t = train_tiny (60, TRUE, &ts, NULL, NULL);
  char *dir = packd_test_make_tmp_dir ("scorer");
  char *path = g_build_filename (dir, "model.safetensors", NULL);
  guint8 support_px[3][TEX * TEX * 3], clean[TEX * TEX * 3], blob[TEX * TEX * 3];
  PackdImage support[3], img = { clean, TEX, TEX, TEX * 3, PACKD_PIXEL_RGB };
  GError *err = NULL;
  PackdScorer *scorer;
  PackdSupport *sup;
  PackdResult r;
  float clean_score, clean_raw;

  ck_assert (packd_trainer_save_model (t, path, &err));
  packd_trainer_free (t);
  scorer = packd_scorer_new (path, PACKD_METHOD_PACKD, &err);
  ck_assert_msg (scorer != NULL, "%s", err ? err->message : "?");
  ck_assert_int_eq (packd_scorer_get_input_size (scorer), TEX);
  for (int i = 0; i < 3; i++) {
    texture_fill (support_px[i], 0, 20 + i, FALSE);
    support[i] = (PackdImage) { support_px[i], TEX, TEX, TEX * 3, PACKD_PIXEL_RGB };
  }
  sup = packd_scorer_build_support (scorer, support, 3, &err);
  ck_assert_msg (sup != NULL, "%s", err ? err->message : "?");
  ck_assert (isfinite (packd_support_get_threshold (sup)));
  ck_assert_float_gt (packd_support_get_threshold (sup), 0);
  packd_scorer_set_support (scorer, sup);
  packd_support_unref (sup);

  texture_fill (clean, 0, 30, FALSE);
  texture_fill (blob, 0, 30, TRUE);
  ck_assert (packd_scorer_score (scorer, &img, &r, &err));
  ck_assert_int_eq (r.map_size, TEX);
  for (int i = 0; i < TEX * TEX; i++)
    ck_assert (isfinite (r.map[i]) && r.map[i] >= 0);
  clean_raw = r.raw_score;
  clean_score = r.score;
  img.pixels = blob;
  ck_assert (packd_scorer_score (scorer, &img, &r, &err));
  g_printerr ("packd scorer: clean %.4f (%.3f) blob %.4f (%.3f) threshold %.4f\n", clean_raw,
      clean_score, r.raw_score, r.score, r.threshold);
  ck_assert_float_gt (r.raw_score, clean_raw);
  /* the map peaks on the blob (centre 40,22) */
  {
    int best = 0;
    for (int i = 1; i < TEX * TEX; i++)
      if (r.map[i] > r.map[best])
        best = i;
    ck_assert_int_lt (abs (best % TEX - 40), 12);
    ck_assert_int_lt (abs (best / TEX - 22), 12);
  }
  packd_scorer_free (scorer);
  /* knn reads the teacher embedded in the same file */
  scorer = packd_scorer_new (path, PACKD_METHOD_KNN, &err);
  ck_assert_msg (scorer != NULL, "knn on a PACKD model: %s", err ? err->message : "?");
  sup = packd_scorer_build_support (scorer, support, 3, &err);
  ck_assert_ptr_nonnull (sup);
  packd_scorer_set_support (scorer, sup);
  packd_support_unref (sup);
  ck_assert (packd_scorer_score (scorer, &img, &r, &err));
  packd_scorer_free (scorer);
  packd_test_remove_tree (dir);
  g_free (path);
  g_free (dir);
}
END_TEST

/* ---- method 'combined': packd and knn maps over their thresholds, summed ---- */

/* Scores img with a fresh scorer of the given method on support; copies the
 * map into map (TEX * TEX) and returns the support threshold. */
static float
score_with (const char *path, PackdMethod method, const PackdImage *support, int n,
    const PackdImage *img, float *map, float *raw)
{
  GError *err = NULL;
  PackdScorer *scorer = packd_scorer_new (path, method, &err);
  PackdSupport *sup;
  PackdResult r;
  float threshold;

  ck_assert_msg (scorer != NULL, "%s", err ? err->message : "?");
  sup = packd_scorer_build_support (scorer, support, n, &err);
  ck_assert_msg (sup != NULL, "%s", err ? err->message : "?");
  threshold = packd_support_get_threshold (sup);
  packd_scorer_set_support (scorer, sup);
  packd_support_unref (sup);
  ck_assert (packd_scorer_score (scorer, img, &r, &err));
  /* knn works at its default size; combined brings its map to the student's */
  if (r.map_size == TEX)
    memcpy (map, r.map, sizeof (float) * TEX * TEX);
  else
    packd_result_resample_map (&r, map, TEX, TEX);
  *raw = r.raw_score;
  packd_scorer_free (scorer);
  return threshold;
}

START_TEST (test_scorer_combined)
{
  TextureSource ts;
  PackdTrainer *t = train_tiny (30, TRUE, &ts, NULL, NULL);
  char *dir = packd_test_make_tmp_dir ("combined");
  char *path = g_build_filename (dir, "model.safetensors", NULL);
  guint8 support_px[3][TEX * TEX * 3], clean[TEX * TEX * 3], blob[TEX * TEX * 3];
  PackdImage support[3], img = { blob, TEX, TEX, TEX * 3, PACKD_PIXEL_RGB };
  float *map_p = g_new (float, TEX * TEX), *map_k = g_new (float, TEX * TEX);
  float *map_c = g_new (float, TEX * TEX);
  float thr_p, thr_k, thr_c, raw_p, raw_k, raw_c, raw_clean, peak = -INFINITY;
  PackdMethod m;
  GError *err = NULL;

  ck_assert (packd_method_from_string ("combined", &m) && m == PACKD_METHOD_COMBINED);
  ck_assert_str_eq (packd_method_to_string (PACKD_METHOD_COMBINED), "combined");
  ck_assert (packd_trainer_save_model (t, path, &err));
  packd_trainer_free (t);
  for (int i = 0; i < 3; i++) {
    texture_fill (support_px[i], 0, 20 + i, FALSE);
    support[i] = (PackdImage) { support_px[i], TEX, TEX, TEX * 3, PACKD_PIXEL_RGB };
  }
  texture_fill (clean, 0, 30, FALSE);
  texture_fill (blob, 0, 30, TRUE);

  thr_p = score_with (path, PACKD_METHOD_PACKD, support, 3, &img, map_p, &raw_p);
  thr_k = score_with (path, PACKD_METHOD_KNN, support, 3, &img, map_k, &raw_k);
  thr_c = score_with (path, PACKD_METHOD_COMBINED, support, 3, &img, map_c, &raw_c);
  ck_assert_float_gt (thr_p, 0);
  ck_assert_float_gt (thr_k, 0);
  /* each map at its own threshold sums to 2 */
  ck_assert_float_eq_tol (thr_c, 2.f, 1e-6f);
  for (int i = 0; i < TEX * TEX; i++) {
    float want = map_p[i] / thr_p + map_k[i] / thr_k;
    ck_assert_float_eq_tol (map_c[i], want, 1e-5f * (1.f + want));
    peak = MAX (peak, want);
  }
  ck_assert_float_eq_tol (raw_c, peak, 1e-5f * (1.f + peak));
  /* the blob scores above the clean texture */
  img.pixels = clean;
  score_with (path, PACKD_METHOD_COMBINED, support, 3, &img, map_c, &raw_clean);
  ck_assert_float_gt (raw_c, raw_clean);
  /* a teacher file has no student: combined refuses it */
  ck_assert_ptr_null (packd_scorer_new (packd_test_teacher_path (), PACKD_METHOD_COMBINED, &err));
  ck_assert_ptr_nonnull (err);
  g_clear_error (&err);

  g_free (map_p);
  g_free (map_k);
  g_free (map_c);
  packd_test_remove_tree (dir);
  g_free (path);
  g_free (dir);
}
END_TEST

/* ---- the inference forward against the reference path ------------------- */

/* Folded BN, fused activations, packed GEMMs, fused blocks and the pooled
 * PEIM give the unit-by-unit eval forward's features, on 1 and 2 threads,
 * with BN statistics, affine terms and the level-4 projection away from
 * their initial values (so a wrong fold cannot hide). */
static void
check_inference_forward (gboolean peim)
{
  GRand *rng = g_rand_new_with_seed (peim ? 21 : 22);
  PackdStudentArch a;
  PackdStudent *s;
  PackdStudentRun *fast, *ref;
  const int B = 2;

  tiny_arch (&a, peim);
  s = packd_student_new (&a, 9, NULL);
  ck_assert_ptr_nonnull (s);
  for (guint i = 0; i < s->params->len; i++) {
    StudentParam *p = g_ptr_array_index (s->params, i);
    for (int64_t j = 0; j < p->n; j++) {
      if (g_str_has_suffix (p->name, "running_var"))
        p->data[j] = (float) g_rand_double_range (rng, 0.2, 3.0);
      else if (g_str_has_suffix (p->name, "gamma"))
        p->data[j] = (float) g_rand_double_range (rng, 0.5, 1.5);
      else if (g_str_has_suffix (p->name, "running_mean") || g_str_has_suffix (p->name, "beta")
          || g_str_has_suffix (p->name, "bias") || g_str_has_suffix (p->name, "proj"))
        p->data[j] += (float) g_rand_double_range (rng, -0.5, 0.5);
    }
  }
  fast = packd_student_run_new (s, B, 1, FALSE, NULL);
  ref = packd_student_run_new (s, B, 1, FALSE, NULL);
  ck_assert (fast && ref);
  student_run_set_reference (ref, TRUE);
  for (int L = 1; L <= 3; L++) {
    PackdTensor *t = packd_student_run_teacher (fast, L);
    for (int64_t i = 0; i < packd_tensor_numel (t); i++)
      t->data[i] = (float) g_rand_double_range (rng, 0, 2);
    memcpy (packd_student_run_teacher (ref, L)->data, t->data,
        packd_tensor_numel (t) * sizeof (float));
  }
  if (peim) {
    for (int L = 2; L <= 4; L++) {
      const int64_t n = (int64_t) a.prototypes * a.tap_channels[L - 1];
      float *p = g_new (float, n);
      for (int b = 0; b < B; b++) {
        for (int64_t i = 0; i < n; i++)
          p[i] = (float) g_rand_double_range (rng, -1, 2);
        packd_student_run_set_prototypes (fast, b, L, p);
        packd_student_run_set_prototypes (ref, b, L, p);
      }
      g_free (p);
    }
  }
  packd_student_run_forward (ref, FALSE);
  for (int threads = 1; threads <= 2; threads++) {
    packd_threads_set_default (threads);
    for (int L = 1; L <= 3; L++)
      memset (packd_student_run_student (fast, L)->data, 0xff,
          packd_tensor_numel (packd_student_run_student (fast, L)) * sizeof (float));
    packd_student_run_forward (fast, FALSE);
    for (int L = 1; L <= 3; L++) {
      const PackdTensor *f = packd_student_run_student (fast, L);
      const PackdTensor *r = packd_student_run_student (ref, L);
      double max_ref = 0, max_diff = 0;
      ck_assert_int_eq (packd_tensor_numel (f), packd_tensor_numel (r));
      for (int64_t i = 0; i < packd_tensor_numel (r); i++) {
        max_ref = MAX (max_ref, fabs (r->data[i]));
        max_diff = MAX (max_diff, fabs ((double) f->data[i] - r->data[i]));
        ck_assert (isfinite (f->data[i]));
      }
      ck_assert_msg (max_ref > 0.1, "level %d: degenerate reference", L);
      ck_assert_msg (max_diff <= 1e-5 * (1 + max_ref), "level %d, %d thread(s): |fast - ref| %g "
          "(max |ref| %g)", L, threads, max_diff, max_ref);
    }
  }
  packd_threads_set_default (0);
  packd_student_run_free (fast);
  packd_student_run_free (ref);
  packd_student_free (s);
  packd_student_arch_clear (&a);
  g_rand_free (rng);
}

START_TEST (test_inference_forward_peim)
{
  check_inference_forward (TRUE);
}
END_TEST

START_TEST (test_inference_forward_plain)
{
  check_inference_forward (FALSE);
}
END_TEST

Suite *
student_suite (void)
{
  Suite *s = suite_create ("student");
  TCase *tc = tcase_create ("gradient");
  tcase_add_test (tc, test_gradient_whole_peim);
  tcase_add_test (tc, test_gradient_whole_plain);
  suite_add_tcase (s, tc);
  tc = tcase_create ("model");
  tcase_add_test (tc, test_arch_corrupt);
  suite_add_tcase (s, tc);
  tc = tcase_create ("inference");
  tcase_add_test (tc, test_inference_forward_peim);
  tcase_add_test (tc, test_inference_forward_plain);
  suite_add_tcase (s, tc);
  tc = tcase_create ("training");
  tcase_set_timeout (tc, 300);
  tcase_add_checked_fixture (tc, training_setup, training_teardown);
  tcase_add_test (tc, test_overfit);
  tcase_add_test (tc, test_resume_exact);
  tcase_add_test (tc, test_scorer_packd);
  tcase_add_test (tc, test_scorer_combined);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  return packd_test_run (student_suite ());
}
