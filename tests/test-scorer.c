/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The few-shot scoring API with the knn method on synthetic textures.
 */
#include <check.h>
#include <math.h>
#include <string.h>

#include "packd-error.h"
#include "packd-safetensors.h"
#include "packd-scorer.h"
#include "scorer-impl.h"
#include "test-util.h"

#define W 160
#define H 120

static PackdScorer *scorer;

/* A woven texture with a per-image phase and a little noise: "good parts". */
static guint8 *
make_texture (int phase, guint32 seed, PackdPixelFormat fmt, int *stride)
{
  const int bpp = fmt == PACKD_PIXEL_RGB ? 3 : fmt == PACKD_PIXEL_GRAY ? 1 : 4;
  GRand *rand = g_rand_new_with_seed (seed);
  guint8 *p;

  *stride = W * bpp + 8;        /* padded rows */
  p = g_malloc0 ((gsize) *stride * H);
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++) {
      double v = 0.5 + 0.25 * sin ((x + phase) * 0.6) + 0.2 * cos ((y + phase) * 0.45);
      int g = CLAMP ((int) (v * 200) + g_rand_int_range (rand, -6, 7), 0, 255);
      guint8 *px = p + (gsize) y * *stride + x * bpp;
      if (bpp == 1)
        px[0] = g;
      else {
        px[0] = g;
        px[1] = CLAMP (g - 40, 0, 255);
        px[2] = CLAMP (g + 30, 0, 255);
      }
    }
  g_rand_free (rand);
  return p;
}

static void
paint_blob (guint8 *p, int stride, int bpp, int cx, int cy, int r)
{
  for (int y = cy - r; y <= cy + r; y++)
    for (int x = cx - r; x <= cx + r; x++)
      if ((x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r)
        for (int c = 0; c < MIN (bpp, 3); c++)
          p[(gsize) y * stride + x * bpp + c] = c == 0 ? 250 : 10;
}

static void
setup (void)
{
  GError *error = NULL;
  scorer = packd_scorer_new (packd_test_teacher_path (), PACKD_METHOD_KNN, &error);
  ck_assert_msg (scorer != NULL, "%s", error ? error->message : "?");
  packd_scorer_set_threads (scorer, 2);
}

static void
teardown (void)
{
  packd_scorer_free (scorer);
}

static PackdSupport *
build_support (int k, guint8 **bufs)
{
  PackdImage imgs[8];
  GError *error = NULL;
  PackdSupport *sup;
  int stride = 0;

  for (int i = 0; i < k; i++) {
    bufs[i] = make_texture (i * 3, 100 + i, PACKD_PIXEL_RGB, &stride);
    imgs[i] = (PackdImage) { bufs[i], W, H, stride, PACKD_PIXEL_RGB };
  }
  sup = packd_scorer_build_support (scorer, imgs, k, &error);
  ck_assert_msg (sup != NULL, "%s", error ? error->message : "?");
  return sup;
}

START_TEST (test_blob_scores_higher_and_is_localised)
{
  guint8 *bufs[4];
  PackdSupport *sup = build_support (4, bufs);
  int stride;
  guint8 *clean = make_texture (5, 7, PACKD_PIXEL_RGB, &stride);
  guint8 *defect = make_texture (5, 7, PACKD_PIXEL_RGB, &stride);
  PackdResult r_clean, r_defect;
  GError *error = NULL;

  paint_blob (defect, stride, 3, 110, 40, 9);
  packd_scorer_set_support (scorer, sup);
  ck_assert_int_eq (packd_support_get_n_images (sup), 4);
  ck_assert (packd_support_get_threshold (sup) > 0.f);

  PackdImage img = { clean, W, H, stride, PACKD_PIXEL_RGB };
  ck_assert (packd_scorer_score (scorer, &img, &r_clean, &error));
  img.pixels = defect;
  ck_assert (packd_scorer_score (scorer, &img, &r_defect, &error));
  ck_assert_msg (r_defect.raw_score > 1.5f * r_clean.raw_score, "defect %f clean %f",
      r_defect.raw_score, r_clean.raw_score);
  ck_assert_msg (r_clean.score < 0.5f, "clean frame above the calibrated threshold: %f (raw %f thr %f)",
      r_clean.score, r_clean.raw_score, r_clean.threshold);
  ck_assert_msg (r_defect.score > 0.5f, "defect below the threshold: %f", r_defect.score);

  /* The map peak lies at the blob (110,40 in a 160x120 frame). */
  {
    const int n = r_defect.map_size;
    int best = 0;
    for (int i = 1; i < n * n; i++)
      if (r_defect.map[i] > r_defect.map[best])
        best = i;
    double bx = (best % n + 0.5) * W / n, by = (best / n + 0.5) * H / n;
    ck_assert_msg (fabs (bx - 110) < 16 && fabs (by - 40) < 16, "peak at %.0f,%.0f", bx, by);
    ck_assert_float_eq_tol (r_defect.raw_score, r_defect.map[best], 1e-6);
  }
  /* Resampling to the frame keeps the peak near the blob too. */
  {
    float *frame_map = g_new (float, W * H);
    int best = 0;
    packd_result_resample_map (&r_defect, frame_map, W, H);
    for (int i = 1; i < W * H; i++)
      if (frame_map[i] > frame_map[best])
        best = i;
    ck_assert (abs (best % W - 110) < 16 && abs (best / W - 40) < 16);
    g_free (frame_map);
  }
  packd_support_unref (sup);
  for (int i = 0; i < 4; i++)
    g_free (bufs[i]);
  g_free (clean);
  g_free (defect);
}
END_TEST

START_TEST (test_pixel_formats_agree)
{
  guint8 *bufs[2];
  PackdSupport *sup = build_support (2, bufs);
  int s_rgb, s_bgrx;
  guint8 *rgb = make_texture (2, 9, PACKD_PIXEL_RGB, &s_rgb);
  guint8 *bgrx = make_texture (2, 9, PACKD_PIXEL_BGRX, &s_bgrx);
  PackdResult a, b;

  /* Same colours: reorder RGB into BGRx. */
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++)
      for (int c = 0; c < 3; c++)
        bgrx[(gsize) y * s_bgrx + x * 4 + (2 - c)] = rgb[(gsize) y * s_rgb + x * 3 + c];
  packd_scorer_set_support (scorer, sup);
  PackdImage i1 = { rgb, W, H, s_rgb, PACKD_PIXEL_RGB };
  PackdImage i2 = { bgrx, W, H, s_bgrx, PACKD_PIXEL_BGRX };
  ck_assert (packd_scorer_score (scorer, &i1, &a, NULL));
  float raw_a = a.raw_score;
  ck_assert (packd_scorer_score (scorer, &i2, &b, NULL));
  ck_assert_float_eq_tol (raw_a, b.raw_score, 1e-4 * raw_a);
  /* Deterministic: the same image twice gives the same score. */
  ck_assert (packd_scorer_score (scorer, &i2, &b, NULL));
  ck_assert_float_eq_tol (raw_a, b.raw_score, 1e-4 * raw_a);
  packd_support_unref (sup);
  g_free (bufs[0]);
  g_free (bufs[1]);
  g_free (rgb);
  g_free (bgrx);
}
END_TEST

START_TEST (test_misuse_errors)
{
  GError *error = NULL;
  PackdResult r;
  guint8 px[16] = { 0 };
  PackdImage img = { px, 2, 2, 6, PACKD_PIXEL_RGB };
  PackdImage zero = { px, 0, 2, 6, PACKD_PIXEL_RGB };
  PackdImage nodata = { NULL, 2, 2, 6, PACKD_PIXEL_RGB };
  PackdImage short_stride = { px, 2, 2, 3, PACKD_PIXEL_RGB };

  ck_assert (!packd_scorer_score (scorer, &img, &r, &error));
  ck_assert (g_error_matches (error, PACKD_ERROR, PACKD_ERROR_NO_SUPPORT));
  g_clear_error (&error);
  ck_assert_ptr_null (packd_scorer_build_support (scorer, &img, 0, &error));
  ck_assert (g_error_matches (error, PACKD_ERROR, PACKD_ERROR_INVALID_ARGUMENT));
  g_clear_error (&error);
  ck_assert_ptr_null (packd_scorer_build_support (scorer, &zero, 1, &error));
  ck_assert (g_error_matches (error, PACKD_ERROR, PACKD_ERROR_INVALID_ARGUMENT));
  g_clear_error (&error);
  ck_assert_ptr_null (packd_scorer_build_support (scorer, &nodata, 1, &error));
  g_clear_error (&error);
  ck_assert_ptr_null (packd_scorer_build_support (scorer, &short_stride, 1, &error));
  g_clear_error (&error);

  /* A tiny image (2x2) is a valid support and query: resized internally. */
  PackdSupport *sup = packd_scorer_build_support (scorer, &img, 1, &error);
  ck_assert_msg (sup != NULL, "%s", error ? error->message : "?");
  packd_scorer_set_support (scorer, sup);
  packd_support_unref (sup);
  ck_assert (!packd_scorer_score (scorer, &zero, &r, &error));
  ck_assert (g_error_matches (error, PACKD_ERROR, PACKD_ERROR_INVALID_ARGUMENT));
  g_clear_error (&error);
  ck_assert (packd_scorer_score (scorer, &img, &r, &error));
  ck_assert (isfinite (r.raw_score) && r.raw_score >= 0.f);
}
END_TEST

START_TEST (test_bad_models)
{
  GError *error = NULL;
  char *dir = packd_test_make_tmp_dir ("scorer");
  char *path = g_build_filename (dir, "other.safetensors", NULL);
  PackdSafetensorsWriter *w = packd_safetensors_writer_new ();
  float data[4] = { 1, 2, 3, 4 };
  PackdTensor t;
  const int64_t shape[2] = { 2, 2 };

  ck_assert_ptr_null (packd_scorer_new ("/nonexistent/model.safetensors", PACKD_METHOD_KNN, &error));
  ck_assert (error != NULL);
  g_clear_error (&error);
  ck_assert_ptr_null (packd_scorer_new (NULL, PACKD_METHOD_KNN, &error));
  g_clear_error (&error);

  /* A valid safetensors file of another architecture. */
  packd_tensor_init (&t, 2, shape, data);
  packd_safetensors_writer_add (w, "encoder.weight", &t);
  ck_assert (packd_safetensors_writer_save (w, path, &error));
  ck_assert_ptr_null (packd_scorer_new (path, PACKD_METHOD_KNN, &error));
  ck_assert (g_error_matches (error, PACKD_ERROR, PACKD_ERROR_MODEL));
  g_clear_error (&error);

  /* The teacher alone is no PACKD model. */
  ck_assert_ptr_null (packd_scorer_new (packd_test_teacher_path (), PACKD_METHOD_PACKD, &error));
  ck_assert (g_error_matches (error, PACKD_ERROR, PACKD_ERROR_MODEL));
  g_clear_error (&error);

  packd_safetensors_writer_free (w);
  packd_test_remove_tree (dir);
  g_free (path);
  g_free (dir);
}
END_TEST

typedef struct {
  PackdSupport *sets[2];
  gint stop;
  int swaps;
} SwapCtx;

static gpointer
swapper (gpointer data)
{
  SwapCtx *c = data;
  while (!g_atomic_int_get (&c->stop)) {
    packd_scorer_set_support (scorer, c->sets[c->swaps % 2]);
    c->swaps++;
    g_usleep (500);
  }
  return NULL;
}

START_TEST (test_support_swap_while_scoring)
{
  guint8 *a[2], *b[3];
  SwapCtx ctx = { { NULL, NULL }, 0, 0 };
  int stride;
  guint8 *q = make_texture (1, 3, PACKD_PIXEL_RGB, &stride);
  PackdImage img = { q, W, H, stride, PACKD_PIXEL_RGB };
  PackdResult r;
  GThread *th;

  ctx.sets[0] = build_support (2, a);
  ctx.sets[1] = build_support (3, b);
  packd_scorer_set_support (scorer, ctx.sets[0]);
  th = g_thread_new ("swapper", swapper, &ctx);
  for (int i = 0; i < 20; i++) {
    ck_assert (packd_scorer_score (scorer, &img, &r, NULL));
    /* Each result is consistent with one of the two sets' thresholds. */
    ck_assert (r.threshold == packd_support_get_threshold (ctx.sets[0])
        || r.threshold == packd_support_get_threshold (ctx.sets[1]));
  }
  g_atomic_int_set (&ctx.stop, 1);
  g_thread_join (th);
  ck_assert (ctx.swaps > 1);
  /* Dropping our references while the scorer holds one is safe. */
  packd_support_unref (ctx.sets[0]);
  packd_support_unref (ctx.sets[1]);
  ck_assert (packd_scorer_score (scorer, &img, &r, NULL));
  packd_scorer_set_support (scorer, NULL);
  ck_assert (!packd_scorer_score (scorer, &img, &r, NULL));
  for (int i = 0; i < 2; i++)
    g_free (a[i]);
  for (int i = 0; i < 3; i++)
    g_free (b[i]);
  g_free (q);
}
END_TEST

/* The threshold rules on hand-computed cases. */
START_TEST (test_calibration_rules)
{
  const float scores[] = { 1.f, 2.f, 3.f, 6.f };
  const float doubled[] = { 2.f, 4.f, 6.f, 12.f };
  const float same[] = { 5.f, 5.f, 5.f };

  /* default: 1.15 x mean = 1.15 x 3; first rule: 1.1 x max = 1.1 x 6 */
  ck_assert_float_eq_tol (packd_calibration_threshold (scores, 4), 3.45f, 1e-5f);
  ck_assert_float_eq_tol (packd_calibration_threshold_rule (PACKD_CALIBRATION_MEAN, scores, 4),
      3.45f, 1e-5f);
  ck_assert_float_eq_tol (packd_calibration_threshold_rule (PACKD_CALIBRATION_MAX, scores, 4),
      6.6f, 1e-5f);
  /* unit-free: scaling the scores scales the threshold */
  ck_assert_float_eq_tol (packd_calibration_threshold (doubled, 4), 6.9f, 1e-5f);
  /* no spread: still above every good score */
  ck_assert_float_eq_tol (packd_calibration_threshold (same, 3), 5.75f, 1e-5f);
  /* k = 1: the one (doubled) shifted-crop score */
  ck_assert_float_eq_tol (packd_calibration_threshold (scores + 3, 1), 6.9f, 1e-5f);
  ck_assert_float_eq (packd_calibration_threshold (scores, 0), 0.f);
  ck_assert_float_eq (packd_calibration_threshold (NULL, 4), 0.f);
}
END_TEST

/* A support set keeps the scores it was calibrated from: per image a
 * leave-one-out and a shifted-crop score (k = 1: one), and its threshold is
 * the rule applied to them. */
START_TEST (test_support_calibration_scores)
{
  for (int k = 1; k <= 3; k += 2) {
    guint8 *bufs[3];
    PackdSupport *sup = build_support (k, bufs);
    int n = -1;
    const float *cal = packd_support_get_calibration_scores (sup, &n);

    ck_assert_int_eq (n, k == 1 ? 1 : 2 * k);
    for (int i = 0; i < n; i++)
      ck_assert_msg (cal[i] > 0.f && isfinite (cal[i]), "score %d: %f", i, cal[i]);
    ck_assert_float_eq (packd_support_get_threshold (sup), packd_calibration_threshold (cal, n));
    packd_support_unref (sup);
    for (int i = 0; i < k; i++)
      g_free (bufs[i]);
  }
}
END_TEST

START_TEST (test_normalise)
{
  ck_assert_float_eq (packd_score_normalise (2.f, 2.f), 0.5f);
  ck_assert_float_eq (packd_score_normalise (0.f, 2.f), 0.f);
  ck_assert_float_eq (packd_score_normalise (3.f, 2.f), 0.75f);
  ck_assert_float_eq (packd_score_normalise (100.f, 2.f), 1.f);
  ck_assert (packd_score_normalise (1.f, 2.f) < packd_score_normalise (1.5f, 2.f));
  PackdMethod m;
  ck_assert (packd_method_from_string ("packd", &m) && m == PACKD_METHOD_PACKD);
  ck_assert (packd_method_from_string ("knn", &m) && m == PACKD_METHOD_KNN);
  ck_assert (!packd_method_from_string ("resnet", &m));
  ck_assert_str_eq (packd_method_to_string (PACKD_METHOD_KNN), "knn");
}
END_TEST

static Suite *
scorer_suite (void)
{
  Suite *s = suite_create ("scorer");
  TCase *tc = tcase_create ("knn");

  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, test_blob_scores_higher_and_is_localised);
  tcase_add_test (tc, test_pixel_formats_agree);
  tcase_add_test (tc, test_misuse_errors);
  tcase_add_test (tc, test_bad_models);
  tcase_add_test (tc, test_support_swap_while_scoring);
  tcase_add_test (tc, test_normalise);
  tcase_add_test (tc, test_calibration_rules);
  tcase_add_test (tc, test_support_calibration_scores);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  return packd_test_run (scorer_suite ());
}
