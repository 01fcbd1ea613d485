/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The C teacher against the golden values of shared/teacher.md (independent
 * numpy forward of the same weights) and the dog.jpg end-to-end check.
 */
#include <check.h>
#include <math.h>
#include <string.h>

#include "packd-error.h"
#include "packd-layers.h"
#include "packd-teacher.h"
#include "packd-imageio.h"
#include "test-util.h"

/* teacher.md: |Δ| ≤ 2e-4 + 2e-5·|v| for activations and softmax. */
#define GOLDEN_TOL(v) (2e-4 + 2e-5 * fabs (v))

static PackdTeacher *teacher;

static void
setup (void)
{
  GError *error = NULL;
  const char *path = packd_test_teacher_path ();

  teacher = packd_teacher_load (path, &error);
  ck_assert_msg (teacher != NULL, "loading %s: %s", path, error ? error->message : "?");
}

static void
teardown (void)
{
  packd_teacher_free (teacher);
  teacher = NULL;
}

/* x[h,w,c] = ((7h + 3w + 11c) mod 256) / 255 */
static void
fill_golden_input (PackdTensor *x)
{
  const int H = x->shape[1], W = x->shape[2];
  for (int h = 0; h < H; h++)
    for (int w = 0; w < W; w++)
      for (int c = 0; c < 3; c++)
        x->data[((gsize) h * W + w) * 3 + c] = (float) ((7 * h + 3 * w + 11 * c) % 256) / 255.0f;
}

static void
tensor_mean_std (const PackdTensor *t, double *mean, double *std)
{
  const int64_t n = packd_tensor_numel (t);
  double s = 0, s2 = 0;
  for (int64_t i = 0; i < n; i++)
    s += t->data[i];
  *mean = s / n;
  for (int64_t i = 0; i < n; i++)
    s2 += (t->data[i] - *mean) * (t->data[i] - *mean);
  *std = sqrt (s2 / n);
}

static float
at (const PackdTensor *t, int h, int w, int c)
{
  return t->data[((int64_t) h * t->shape[2] + w) * t->shape[3] + c];
}

#define ASSERT_GOLDEN(got, want, what) \
  ck_assert_msg (fabs ((double) (got) - (want)) <= GOLDEN_TOL (want), \
      "%s: got %.6f, want %.6f", what, (double) (got), (double) (want))

typedef struct {
  const char *tap;
  double mean, std;
} GoldenStats;

START_TEST (test_golden_224)
{
  static const char *taps[] = {
    "Conv1_relu", "block_2_add", "block_3_expand_relu", "block_5_add", "block_6_expand_relu",
    "block_12_add", "block_13_expand_relu", "softmax",
  };
  static const GoldenStats stats[] = {
    { "Conv1_relu", 1.617809, 1.677076 },
    { "block_2_add", 0.374680, 7.349491 },
    { "block_3_expand_relu", 0.928444, 1.321743 },
    { "block_5_add", 2.051195, 8.647560 },
    { "block_6_expand_relu", 0.686041, 1.175851 },
    { "block_12_add", 0.144425, 5.483919 },
    { "block_13_expand_relu", 0.213189, 0.561039 },
  };
  static const double softmax[PACKD_TEACHER_N_CLASSES] =
      { 0.008478, 0.012679, 0.676185, 0.298078, 0.004580 };
  GError *error = NULL;
  PackdTeacherRun *run = packd_teacher_run_new (teacher, 224, 224, taps, G_N_ELEMENTS (taps), &error);

  ck_assert_msg (run != NULL, "%s", error ? error->message : "?");
  fill_golden_input (packd_teacher_run_input (run));
  packd_teacher_run_forward (run);

  for (guint i = 0; i < G_N_ELEMENTS (stats); i++) {
    double mean, std;
    char what[96];
    tensor_mean_std (packd_teacher_run_tap (run, i), &mean, &std);
    g_snprintf (what, sizeof what, "%s mean", stats[i].tap);
    ASSERT_GOLDEN (mean, stats[i].mean, what);
    g_snprintf (what, sizeof what, "%s std", stats[i].tap);
    ASSERT_GOLDEN (std, stats[i].std, what);
  }
  ck_assert_int_eq (packd_teacher_run_tap (run, 0)->shape[1], 112);
  ASSERT_GOLDEN (at (packd_teacher_run_tap (run, 0), 0, 0, 0), 1.827859, "Conv1_relu[0,0,0]");
  ASSERT_GOLDEN (at (packd_teacher_run_tap (run, 1), 0, 0, 0), 7.956828, "block_2_add[0,0,0]");
  ASSERT_GOLDEN (at (packd_teacher_run_tap (run, 1), 1, 2, 3), -5.840510, "block_2_add[1,2,3]");
  ASSERT_GOLDEN (at (packd_teacher_run_tap (run, 2), 0, 0, 0), 2.116661, "block_3_expand_relu[0,0,0]");
  ASSERT_GOLDEN (at (packd_teacher_run_tap (run, 2), 1, 2, 3), 1.351858, "block_3_expand_relu[1,2,3]");
  ASSERT_GOLDEN (at (packd_teacher_run_tap (run, 3), 0, 0, 0), 5.167216, "block_5_add[0,0,0]");
  ASSERT_GOLDEN (at (packd_teacher_run_tap (run, 4), 1, 2, 3), 0.592982, "block_6_expand_relu[1,2,3]");
  ASSERT_GOLDEN (at (packd_teacher_run_tap (run, 5), 1, 2, 3), 5.391622, "block_12_add[1,2,3]");
  for (int c = 0; c < PACKD_TEACHER_N_CLASSES; c++)
    ASSERT_GOLDEN (packd_teacher_run_tap (run, 7)->data[c], softmax[c], "softmax");
  packd_teacher_run_free (run);
}
END_TEST

START_TEST (test_golden_256)
{
  static const char *taps[] = { "block_3_expand_relu", "block_6_expand_relu", "block_13_expand_relu" };
  static const GoldenStats stats[] = {
    { "block_3_expand_relu", 0.926553, 1.321378 },
    { "block_6_expand_relu", 0.681909, 1.173468 },
    { "block_13_expand_relu", 0.202918, 0.546155 },
  };
  static const int sizes[] = { 64, 32, 16 };
  GError *error = NULL;
  PackdTeacherRun *run = packd_teacher_run_new (teacher, 256, 256, taps, 3, &error);

  ck_assert_msg (run != NULL, "%s", error ? error->message : "?");
  /* Twice: the second forward reuses every buffer and must give the same. */
  for (int pass = 0; pass < 2; pass++) {
    fill_golden_input (packd_teacher_run_input (run));
    packd_teacher_run_forward (run);
    for (int i = 0; i < 3; i++) {
      const PackdTensor *t = packd_teacher_run_tap (run, i);
      double mean, std;
      ck_assert_int_eq (t->shape[1], sizes[i]);
      ck_assert_int_eq (t->shape[2], sizes[i]);
      tensor_mean_std (t, &mean, &std);
      ASSERT_GOLDEN (mean, stats[i].mean, stats[i].tap);
      ASSERT_GOLDEN (std, stats[i].std, stats[i].tap);
    }
  }
  /* method.md §2: cumulative MMAC to block_13_expand_relu at 256² is 288. */
  ck_assert_int_eq ((packd_teacher_run_total_macs (run) + 500000) / 1000000, 288);
  packd_teacher_run_free (run);
}
END_TEST

START_TEST (test_dog_is_neutral)
{
  static const char *taps[] = { "softmax" };
  const char *dog = "/usr/share/darknet/data/dog.jpg";
  static const int rgb_order[3] = { 0, 1, 2 };
  PackdRgbImage img = { 0 };
  GError *error = NULL;
  PackdTeacherRun *run;

  ck_assert_msg (packd_image_load_rgb (dog, &img, &error), "%s (Debian package darknet)",
      error ? error->message : "?");
  run = packd_teacher_run_new (teacher, 224, 224, taps, 1, &error);
  ck_assert_msg (run != NULL, "%s", error ? error->message : "?");
  /* nsfwjs preprocessing: /255, bilinear alignCorners=true to 224². */
  packd_resize_u8_to_rgb_forward (img.rgb, img.width, img.height, img.width * 3, 3, rgb_order,
      TRUE, packd_teacher_run_input (run));
  packd_teacher_run_forward (run);
  const float *p = packd_teacher_run_tap (run, 0)->data;
  ck_assert_msg (p[2] > 0.9f, "P(Neutral) = %f", p[2]);
  packd_teacher_run_free (run);
  packd_rgb_image_clear (&img);
}
END_TEST

START_TEST (test_bad_sizes_and_taps)
{
  static const char *good[] = { "block_3_expand_relu" };
  static const char *bad[] = { "block_99_add" };
  GError *error = NULL;

  ck_assert_ptr_null (packd_teacher_run_new (teacher, 250, 256, good, 1, &error));
  ck_assert (g_error_matches (error, PACKD_ERROR, PACKD_ERROR_INVALID_ARGUMENT));
  g_clear_error (&error);
  ck_assert_ptr_null (packd_teacher_run_new (teacher, 256, 256, bad, 1, &error));
  ck_assert (g_error_matches (error, PACKD_ERROR, PACKD_ERROR_MODEL));
  ck_assert (strstr (error->message, "block_99_add") != NULL);
  g_clear_error (&error);
  ck_assert_ptr_null (packd_teacher_run_new (teacher, 256, 256, good, 0, &error));
  g_clear_error (&error);
  ck_assert_int_eq (packd_teacher_tap_channels (teacher, "block_13_expand_relu"), 576);
  ck_assert_int_eq (packd_teacher_tap_stride (teacher, "block_13_expand_relu"), 16);
  ck_assert_int_eq (packd_teacher_tap_stride (teacher, "block_3_expand_relu"), 4);
}
END_TEST

START_TEST (test_non_square)
{
  static const char *taps[] = { "block_6_expand_relu" };
  GError *error = NULL;
  PackdTeacherRun *run = packd_teacher_run_new (teacher, 96, 160, taps, 1, &error);

  ck_assert_msg (run != NULL, "%s", error ? error->message : "?");
  fill_golden_input (packd_teacher_run_input (run));
  packd_teacher_run_forward (run);
  const PackdTensor *t = packd_teacher_run_tap (run, 0);
  ck_assert_int_eq (t->shape[1], 12);
  ck_assert_int_eq (t->shape[2], 20);
  ck_assert_int_eq (t->shape[3], 192);
  for (int64_t i = 0; i < packd_tensor_numel (t); i++)
    ck_assert (t->data[i] >= 0.f && t->data[i] <= 6.f);  /* after ReLU6 */
  packd_teacher_run_free (run);
}
END_TEST

static Suite *
teacher_suite (void)
{
  Suite *s = suite_create ("teacher");
  TCase *tc = tcase_create ("forward");

  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, test_golden_224);
  tcase_add_test (tc, test_golden_256);
  tcase_add_test (tc, test_dog_is_neutral);
  tcase_add_test (tc, test_bad_sizes_and_taps);
  tcase_add_test (tc, test_non_square);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  return packd_test_run (teacher_suite ());
}
