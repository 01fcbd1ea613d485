/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <check.h>
#include <math.h>

#include "packd-error.h"
#include "packd-metrics.h"
#include "packd-colormap.h"
#include "test-util.h"

#define EPS 1e-12

static double
auroc_of (const float *scores, const guint8 *labels, gsize n)
{
  GError *err = NULL;
  double a = -1.0;

  ck_assert_msg (packd_metrics_auroc (scores, labels, n, &a, &err), "%s",
      err ? err->message : "");
  return a;
}

START_TEST (test_auroc_perfect_and_reversed)
{
  const float s[] = { 0.1f, 0.2f, 0.8f, 0.9f };
  const guint8 good_low[] = { 0, 0, 1, 1 }, good_high[] = { 1, 1, 0, 0 };

  ck_assert_double_eq_tol (auroc_of (s, good_low, 4), 1.0, EPS);
  ck_assert_double_eq_tol (auroc_of (s, good_high, 4), 0.0, EPS);
}
END_TEST

START_TEST (test_auroc_partial_order)
{
  /* sklearn's doc example.  Pairs (defective, good): 0.35 > 0.1 yes,
   * 0.35 > 0.4 no, 0.8 > 0.1 yes, 0.8 > 0.4 yes: 3 of 4 = 0.75. */
  const float s[] = { 0.1f, 0.4f, 0.35f, 0.8f };
  const guint8 l[] = { 0, 0, 1, 1 };

  ck_assert_double_eq_tol (auroc_of (s, l, 4), 0.75, EPS);
}
END_TEST

START_TEST (test_auroc_ties_across_classes)
{
  /* good {0.2, 0.5}, defective {0.5, 0.9}.  Pairs: 0.9 beats both goods (2),
   * 0.5 beats 0.2 (1) and ties 0.5 (1/2): 3.5 / 4 = 0.875.  As a curve: the
   * tied group is one ROC step (0, 0.5) -> (0.5, 1), a diagonal trapezoid
   * of area 0.5 * (0.5 + 1) / 2 = 0.375, plus 0.5 after it. */
  const float s[] = { 0.2f, 0.5f, 0.5f, 0.9f };
  const guint8 l[] = { 0, 0, 1, 1 };
  /* Two tied groups: good {1, 1, 3}, defective {1, 3, 3}.
   * 3s: two defective vs one good: 2 ties -> 1; vs the 1s: 2 * 2 wins = 4.
   * defective 1: ties with two good 1s -> 1.  Total 6 / 9. */
  const float s2[] = { 1, 1, 3, 1, 3, 3 };
  const guint8 l2[] = { 0, 0, 0, 1, 1, 1 };

  ck_assert_double_eq_tol (auroc_of (s, l, 4), 0.875, EPS);
  ck_assert_double_eq_tol (auroc_of (s2, l2, 6), 6.0 / 9.0, EPS);
}
END_TEST

START_TEST (test_auroc_all_equal_and_signs)
{
  const float same[] = { 0.3f, 0.3f, 0.3f, 0.3f, 0.3f };
  const guint8 l[] = { 0, 1, 0, 1, 1 };
  /* -0 and +0 are the same score: one tie, 1/2. */
  const float zeros[] = { -0.0f, 0.0f };
  const guint8 lz[] = { 0, 1 };
  /* Negative scores keep their order: defective {-1, 0.5} above good {-2, -3}. */
  const float neg[] = { -2.0f, -1.0f, 0.5f, -3.0f };
  const guint8 ln[] = { 0, 1, 1, 0 };

  ck_assert_double_eq_tol (auroc_of (same, l, 5), 0.5, EPS);
  ck_assert_double_eq_tol (auroc_of (zeros, lz, 2), 0.5, EPS);
  ck_assert_double_eq_tol (auroc_of (neg, ln, 4), 1.0, EPS);
}
END_TEST

START_TEST (test_auroc_errors)
{
  const float s[] = { 0.1f, 0.2f, 0.3f };
  const guint8 all_good[] = { 0, 0, 0 }, all_bad[] = { 1, 1, 1 }, mixed[] = { 0, 1, 0 };
  const float with_nan[] = { 0.1f, NAN, 0.3f };
  GError *err = NULL;
  double a = -1.0;
  PackdRocCurve curve;

  ck_assert (!packd_metrics_auroc (s, all_good, 3, &a, &err));
  ck_assert (g_error_matches (err, PACKD_ERROR, PACKD_ERROR_INVALID_ARGUMENT));
  ck_assert_msg (strstr (err->message, "both classes") && strstr (err->message, "good"), "%s",
      err->message);
  g_clear_error (&err);
  ck_assert (!packd_metrics_auroc (s, all_bad, 3, &a, &err));
  ck_assert (g_error_matches (err, PACKD_ERROR, PACKD_ERROR_INVALID_ARGUMENT));
  ck_assert (strstr (err->message, "defective") != NULL);
  g_clear_error (&err);
  ck_assert (!packd_metrics_auroc (with_nan, mixed, 3, &a, &err));
  ck_assert (g_error_matches (err, PACKD_ERROR, PACKD_ERROR_INVALID_ARGUMENT));
  g_clear_error (&err);
  ck_assert (!packd_metrics_auroc (s, mixed, 0, &a, &err));
  g_clear_error (&err);
  ck_assert (!packd_metrics_roc_curve (s, all_good, 3, &curve, &err));
  ck_assert_ptr_null (curve.fpr);
  g_clear_error (&err);
}
END_TEST

START_TEST (test_roc_curve_points)
{
  /* Same data as the tie case: thresholds +inf, 0.9, 0.5, 0.2. */
  const float s[] = { 0.2f, 0.5f, 0.5f, 0.9f };
  const guint8 l[] = { 0, 0, 1, 1 };
  const double fpr[] = { 0, 0, 0.5, 1 }, tpr[] = { 0, 0.5, 1, 1 };
  const float thr[] = { INFINITY, 0.9f, 0.5f, 0.2f };
  PackdRocCurve c;
  GError *err = NULL;

  ck_assert (packd_metrics_roc_curve (s, l, 4, &c, &err));
  ck_assert_uint_eq (c.n_points, 4);
  for (int i = 0; i < 4; i++) {
    ck_assert_double_eq_tol (c.fpr[i], fpr[i], EPS);
    ck_assert_double_eq_tol (c.tpr[i], tpr[i], EPS);
    ck_assert (c.thresholds[i] == thr[i]);
  }
  packd_roc_curve_clear (&c);
  ck_assert_ptr_null (c.fpr);
}
END_TEST

START_TEST (test_at_threshold)
{
  /* score >= 0.4 flagged: 0.4 (good) FP, 0.8 TP, 0.6 (good) FP, 0.35 FN,
   * 0.1 TN.  P = 1/3, R = 1/2, F1 = 2 / (2 + 2 + 1) = 0.4, FPR = 2/3. */
  const float s[] = { 0.1f, 0.4f, 0.35f, 0.8f, 0.6f };
  const guint8 l[] = { 0, 0, 1, 1, 0 };
  PackdConfusion c;

  packd_metrics_at_threshold (s, l, 5, 0.4f, &c);
  ck_assert_uint_eq (c.tp, 1);
  ck_assert_uint_eq (c.fp, 2);
  ck_assert_uint_eq (c.tn, 1);
  ck_assert_uint_eq (c.fn, 1);
  ck_assert_double_eq_tol (c.precision, 1.0 / 3.0, EPS);
  ck_assert_double_eq_tol (c.recall, 0.5, EPS);
  ck_assert_double_eq_tol (c.f1, 0.4, EPS);
  ck_assert_double_eq_tol (c.fpr, 2.0 / 3.0, EPS);

  /* Nothing flagged: 0/0 precision and F1 are 0. */
  packd_metrics_at_threshold (s, l, 5, 10.0f, &c);
  ck_assert_uint_eq (c.tp + c.fp, 0);
  ck_assert_double_eq (c.precision, 0.0);
  ck_assert_double_eq (c.f1, 0.0);
  ck_assert_double_eq (c.fpr, 0.0);
}
END_TEST

START_TEST (test_mean_std)
{
  const double v[] = { 1, 2, 3, 4 };
  double m, sd;

  packd_metrics_mean_std (v, 4, &m, &sd);
  ck_assert_double_eq_tol (m, 2.5, EPS);
  ck_assert_double_eq_tol (sd, sqrt (5.0 / 3.0), EPS);        /* ddof = 1 */
  packd_metrics_mean_std (v, 1, &m, &sd);
  ck_assert_double_eq_tol (m, 1.0, EPS);
  ck_assert_double_eq (sd, 0.0);
}
END_TEST

START_TEST (test_label_regions_8_connected)
{
  /* Diagonal neighbours join (MVTec's 3x3 structure): 2 regions, not 4. */
  const guint8 mask[] = {
    1, 0, 0, 0, 1,
    0, 1, 1, 0, 0,
    0, 0, 0, 0, 1,
  };
  guint32 labels[15];
  guint *sizes;
  guint n = packd_mask_label_regions (mask, 5, 3, labels, &sizes);

  ck_assert_uint_eq (n, 3);
  ck_assert_uint_eq (labels[0], 1);
  ck_assert_uint_eq (labels[6], 1);
  ck_assert_uint_eq (labels[7], 1);
  ck_assert_uint_eq (labels[4], 2);
  ck_assert_uint_eq (labels[14], 3);
  ck_assert_uint_eq (labels[1], 0);
  ck_assert_uint_eq (sizes[0], 3);
  ck_assert_uint_eq (sizes[1], 1);
  ck_assert_uint_eq (sizes[2], 1);
  g_free (sizes);
}
END_TEST

/* One 3x3 defective image:
 *
 *   mask      map
 *   1 0 0     0.9  0.1  0.2
 *   0 1 1     0.3  0.7  0.05
 *   0 0 0     0.6  0.7  0.8
 *
 * 8-connected: one region of 3 pixels; 6 good pixels.
 * Sweep down: 0.9 -> (FPR 0, PRO 1/3); 0.8 -> (1/6, 1/3); 0.7 (one good and
 * one region pixel tied) -> (2/6, 2/3).  At FPR 0.3 the last segment gives
 * PRO 1/3 + (1/3)(0.3 - 1/6)/(1/6) = 0.6.  Area: 1/6 * 1/3 = 1/18 plus
 * (0.3 - 1/6)(1/3 + 0.6)/2 = 14/225: 53/450, / 0.3 = 53/135.
 * (With 4-connectivity the regions would be {1} and {2} pixels: 49/90.)
 * Pixel AUROC: 0.9 beats 6, 0.7 beats 4 and ties 1 (4.5), 0.05 beats 0:
 * 10.5 / 18. */
static const guint8 tiny_mask[] = { 1, 0, 0, 0, 1, 1, 0, 0, 0 };
static const float tiny_map[] = { 0.9f, 0.1f, 0.2f, 0.3f, 0.7f, 0.05f, 0.6f, 0.7f, 0.8f };

START_TEST (test_aupro_tiny)
{
  PackdPixelEval *pe = packd_pixel_eval_new (3, 3, 1);
  GError *err = NULL;
  double auroc = -1, aupro = -1;

  packd_pixel_eval_set_mask (pe, 0, tiny_mask);
  packd_pixel_eval_set_map (pe, 0, tiny_map);
  ck_assert_msg (packd_pixel_eval_compute (pe, 0.3, &auroc, &aupro, &err), "%s",
      err ? err->message : "");
  ck_assert_double_eq_tol (auroc, 10.5 / 18.0, EPS);
  ck_assert_double_eq_tol (aupro, 53.0 / 135.0, EPS);

  /* The maps were consumed: computing again without setting them fails. */
  ck_assert (!packd_pixel_eval_compute (pe, 0.3, &auroc, &aupro, &err));
  ck_assert (g_error_matches (err, PACKD_ERROR, PACKD_ERROR_INVALID_ARGUMENT));
  g_clear_error (&err);

  /* Up to FPR 1 the PRO curve is 1/3 on [0, 1/6], rises to 2/3 at 1/3,
   * then (0.6 -> 1/2 FPR, 0.3 -> 4/6, 0.2 -> 5/6, 0.1 -> 1) stays 2/3 until
   * 0.05 adds the last region pixel at FPR 1: 1/18 + 1/12 + (2/3)(2/3). */
  packd_pixel_eval_set_map (pe, 0, tiny_map);
  ck_assert (packd_pixel_eval_compute (pe, 1.0, NULL, &aupro, &err));
  ck_assert_double_eq_tol (aupro, 1.0 / 18 + 1.0 / 12 + 4.0 / 9, EPS);
  packd_pixel_eval_free (pe);
}
END_TEST

START_TEST (test_aupro_good_image_adds_false_positives)
{
  /* A second, good image whose pixels all score 0.75 (between 0.8 and 0.7):
   * 15 good pixels now.  0.9 -> (0, 1/3); 0.8 -> (1/15, 1/3); 0.75 ->
   * (10/15, 1/3): the limit 0.3 falls inside this flat segment, so the
   * AUPRO is 1/3 exactly. */
  PackdPixelEval *pe = packd_pixel_eval_new (3, 3, 2);
  float flat[9];
  GError *err = NULL;
  double auroc, aupro;

  for (int i = 0; i < 9; i++)
    flat[i] = 0.75f;
  packd_pixel_eval_set_mask (pe, 0, tiny_mask);
  packd_pixel_eval_set_mask (pe, 1, NULL);
  packd_pixel_eval_set_map (pe, 0, tiny_map);
  packd_pixel_eval_set_map (pe, 1, flat);
  ck_assert (packd_pixel_eval_compute (pe, 0.3, &auroc, &aupro, &err));
  ck_assert_double_eq_tol (aupro, 1.0 / 3.0, EPS);
  /* 0.9 beats 15; 0.7 beats 4, ties 1, loses to 9 + 1; 0.05 beats none:
   * 19.5 / 45. */
  ck_assert_double_eq_tol (auroc, 19.5 / 45.0, EPS);
  packd_pixel_eval_free (pe);
}
END_TEST

START_TEST (test_pixel_no_defects_is_error)
{
  PackdPixelEval *pe = packd_pixel_eval_new (3, 3, 1);
  GError *err = NULL;
  double auroc, aupro;

  packd_pixel_eval_set_mask (pe, 0, NULL);
  packd_pixel_eval_set_map (pe, 0, tiny_map);
  ck_assert (!packd_pixel_eval_compute (pe, 0.3, &auroc, &aupro, &err));
  ck_assert (g_error_matches (err, PACKD_ERROR, PACKD_ERROR_INVALID_ARGUMENT));
  g_clear_error (&err);
  packd_pixel_eval_free (pe);
}
END_TEST

/* Many pixels with many ties: the radix sort must agree with a pair count
 * (Mann-Whitney U) and with the image-level code on the same values. */
START_TEST (test_pixel_auroc_matches_pair_count)
{
  const int w = 40, h = 30, n = 3, n_px = w * h * n;
  float *maps = g_new (float, n_px);
  guint8 *masks = g_new0 (guint8, n_px);
  GRand *rand = g_rand_new_with_seed (7);
  PackdPixelEval *pe = packd_pixel_eval_new (w, h, n);
  double wins = 0, n_pos = 0, auroc, auroc_img;
  GError *err = NULL;

  for (int i = 0; i < n_px; i++) {
    masks[i] = g_rand_int_range (rand, 0, 10) == 0;
    /* Coarse values (many ties), negatives and a wide exponent range. */
    maps[i] = (g_rand_int_range (rand, -40, 40) + masks[i] * 8) * 0.25f;
    if (g_rand_int_range (rand, 0, 50) == 0)
      maps[i] *= 1e6f;
  }
  for (int i = 0; i < n_px; i++) {
    if (!masks[i])
      continue;
    n_pos++;
    for (int j = 0; j < n_px; j++)
      if (!masks[j])
        wins += maps[i] > maps[j] ? 1.0 : maps[i] == maps[j] ? 0.5 : 0.0;
  }
  for (int i = 0; i < n; i++) {
    packd_pixel_eval_set_mask (pe, i, masks + i * w * h);
    packd_pixel_eval_set_map (pe, i, maps + i * w * h);
  }
  ck_assert (packd_pixel_eval_compute (pe, 0.3, &auroc, NULL, &err));
  ck_assert_double_eq_tol (auroc, wins / (n_pos * (n_px - n_pos)), 1e-12);
  ck_assert (packd_metrics_auroc (maps, masks, n_px, &auroc_img, &err));
  ck_assert_double_eq_tol (auroc_img, auroc, 1e-12);

  packd_pixel_eval_free (pe);
  g_rand_free (rand);
  g_free (maps);
  g_free (masks);
}
END_TEST

START_TEST (test_colormap_jet)
{
  guint8 rgb[3];
  const guint8 *lut = packd_colormap_jet_lut ();

  packd_colormap_jet (0.0f, rgb);       /* dark blue */
  ck_assert (rgb[0] == 0 && rgb[1] == 0 && rgb[2] == 128);
  packd_colormap_jet (0.5f, rgb);       /* green-ish centre */
  ck_assert (rgb[0] == 128 && rgb[1] == 255 && rgb[2] == 128);
  packd_colormap_jet (1.0f, rgb);       /* dark red */
  ck_assert (rgb[0] == 128 && rgb[1] == 0 && rgb[2] == 0);
  packd_colormap_jet (7.0f, rgb);       /* clamped */
  ck_assert (rgb[0] == 128 && rgb[2] == 0);
  ck_assert (lut[0] == 0 && lut[2] == 128 && lut[255 * 3] == 128 && lut[255 * 3 + 2] == 0);
}
END_TEST

static Suite *
metrics_suite (void)
{
  Suite *s = suite_create ("metrics");
  TCase *tc = tcase_create ("core");

  tcase_add_test (tc, test_auroc_perfect_and_reversed);
  tcase_add_test (tc, test_auroc_partial_order);
  tcase_add_test (tc, test_auroc_ties_across_classes);
  tcase_add_test (tc, test_auroc_all_equal_and_signs);
  tcase_add_test (tc, test_auroc_errors);
  tcase_add_test (tc, test_roc_curve_points);
  tcase_add_test (tc, test_at_threshold);
  tcase_add_test (tc, test_mean_std);
  tcase_add_test (tc, test_label_regions_8_connected);
  tcase_add_test (tc, test_aupro_tiny);
  tcase_add_test (tc, test_aupro_good_image_adds_false_positives);
  tcase_add_test (tc, test_pixel_no_defects_is_error);
  tcase_add_test (tc, test_pixel_auroc_matches_pair_count);
  tcase_add_test (tc, test_colormap_jet);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  return packd_test_run (metrics_suite ());
}
