/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* The teacher file written by models/import-teacher.sh (packd-convert-teacher)
 * against the MobileNetV2 architecture of shared/teacher.md: metadata, the
 * exact set of tensors and shapes, BN folding, and the parameter count. */

#include <check.h>
#include <math.h>
#include <string.h>

#include "packd-safetensors.h"
#include "test-util.h"

/* teacher.md: the quantised source has 2,619,461 parameters and
 * Σ Conv1/kernel = −5.333411 before folding. */
#define SOURCE_PARAMS 2619461
#define RAW_CONV1_KERNEL_SUM (-5.333411)

static PackdSafetensors *st;

/* Expected tensors, built from the architecture table (not from the file). */
typedef struct {
  char name[64];
  int ndim;
  int64_t shape[4];
} Expected;

static GArray *expected;
static int64_t expected_params;
static int64_t bn_channels;     /* channels of all folded BatchNorms */

static void
expect (const char *name, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3)
{
  Expected e = { .ndim = ndim, .shape = { d0, d1, d2, d3 } };
  g_strlcpy (e.name, name, sizeof e.name);
  g_array_append_val (expected, e);
  int64_t n = 1;
  for (int i = 0; i < ndim; i++)
    n *= e.shape[i];
  expected_params += n;
}

/* A conv or depthwise layer + its folded BN: weight and bias [cout]. */
static void
expect_conv (const char *layer, int k, int64_t cin, int64_t cout, gboolean depthwise)
{
  char name[64];
  g_snprintf (name, sizeof name, "%s.weight", layer);
  if (depthwise)
    expect (name, 3, k, k, cout, 0);
  else
    expect (name, 4, k, k, cin, cout);
  g_snprintf (name, sizeof name, "%s.bias", layer);
  expect (name, 1, cout, 0, 0, 0);
  bn_channels += cout;
}

/* Keras MobileNetV2 α = 1.0: stem, 17 inverted-residual blocks (t, c, n, s
 * table of teacher.md), Conv_1 and the 256-128-5 dense head. */
static void
build_expected (void)
{
  static const struct { int t, c, n; } stages[] = {
    { 1, 16, 1 }, { 6, 24, 2 }, { 6, 32, 3 }, { 6, 64, 4 },
    { 6, 96, 3 }, { 6, 160, 3 }, { 6, 320, 1 },
  };
  expected = g_array_new (FALSE, FALSE, sizeof (Expected));
  expected_params = 0;
  bn_channels = 0;

  expect_conv ("Conv1", 3, 3, 32, FALSE);
  int64_t cin = 32;
  int block = 0;
  for (guint s = 0; s < G_N_ELEMENTS (stages); s++) {
    for (int r = 0; r < stages[s].n; r++, block++) {
      int64_t hidden = cin * stages[s].t;
      char prefix[32], layer[64];
      if (block == 0)
        g_strlcpy (prefix, "expanded_conv", sizeof prefix);
      else
        g_snprintf (prefix, sizeof prefix, "block_%d", block);
      if (stages[s].t != 1) {
        g_snprintf (layer, sizeof layer, "%s_expand", prefix);
        expect_conv (layer, 1, cin, hidden, FALSE);
      }
      g_snprintf (layer, sizeof layer, "%s_depthwise", prefix);
      expect_conv (layer, 3, hidden, hidden, TRUE);
      g_snprintf (layer, sizeof layer, "%s_project", prefix);
      expect_conv (layer, 1, hidden, stages[s].c, FALSE);
      cin = stages[s].c;
    }
  }
  ck_assert_int_eq (block, 17);
  expect_conv ("Conv_1", 1, 320, 1280, FALSE);

  expect ("dense_1.weight", 2, 1280, 256, 0, 0);
  expect ("dense_1.bias", 1, 256, 0, 0, 0);
  expect ("dense_2.weight", 2, 256, 128, 0, 0);
  expect ("dense_2.bias", 1, 128, 0, 0, 0);
  expect ("dense_3.weight", 2, 128, 5, 0, 0);
  expect ("dense_3.bias", 1, 5, 0, 0, 0);
}

static void
setup (void)
{
  GError *error = NULL;
  const char *path = packd_test_teacher_path ();
  st = packd_safetensors_open (path, &error);
  ck_assert_msg (st != NULL, "opening %s: %s (run models/import-teacher.sh BUILD_DIR)",
      path, error ? error->message : "?");
  build_expected ();
}

static void
teardown (void)
{
  g_clear_pointer (&st, packd_safetensors_free);
  g_array_free (expected, TRUE);
  expected = NULL;
}

static void
assert_metadata (const char *key, const char *value)
{
  const char *found = packd_safetensors_get_metadata (st, key);
  ck_assert_msg (found != NULL, "metadata %s missing", key);
  ck_assert_str_eq (found, value);
}

START_TEST (test_metadata)
{
  assert_metadata ("packd.format", "teacher");
  assert_metadata ("packd.format_version", "1");
  assert_metadata ("architecture", "mobilenetv2-1.0-keras");
  assert_metadata ("classes", "Drawing,Hentai,Neutral,Porn,Sexy");
  assert_metadata ("weights_sha256",
      "8e7dddbb16acacc1bf1601b1b8a761e730ff934b7f2d7771312b2f000e5f5f13");
  const char *source = packd_safetensors_get_metadata (st, "source");
  ck_assert_ptr_nonnull (source);
  ck_assert_msg (strstr (source, "nsfwjs@4.4.0") != NULL, "source: %s", source);
  const char *licence = packd_safetensors_get_metadata (st, "licence");
  ck_assert_ptr_nonnull (licence);
  ck_assert_msg (strstr (licence, "Infinite Red") != NULL, "licence: %s", licence);
  ck_assert_ptr_nonnull (packd_safetensors_get_metadata (st, "bn_folded"));
  ck_assert_ptr_nonnull (packd_safetensors_get_metadata (st, "dequant"));
}
END_TEST

/* Spot checks of the layouts the C teacher relies on. */
START_TEST (test_layouts)
{
  static const struct { const char *name; int ndim; int64_t shape[4]; } cases[] = {
    { "Conv1.weight", 4, { 3, 3, 3, 32 } },
    { "block_16_project.weight", 4, { 1, 1, 960, 320 } },
    { "expanded_conv_depthwise.weight", 3, { 3, 3, 32 } },
    { "dense_3.weight", 2, { 128, 5 } },
    { "Conv1.bias", 1, { 32 } },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    GError *error = NULL;
    PackdTensor t;
    ck_assert_msg (packd_safetensors_get (st, cases[i].name, cases[i].ndim, cases[i].shape,
            &t, &error), "%s: %s", cases[i].name, error ? error->message : "?");
  }
}
END_TEST

/* Every tensor of the architecture is present with its shape, nothing else,
 * and all values are finite.  Folding turns each BN's four vectors (γ, β, μ,
 * σ²) into one bias, so the file holds 3 parameters per BN channel fewer than
 * the source: 2,619,461 − 3 × 17,056 = 2,568,293. */
START_TEST (test_all_tensors)
{
  ck_assert_uint_eq (packd_safetensors_n_tensors (st), expected->len);
  int64_t params = 0;
  for (guint i = 0; i < expected->len; i++) {
    const Expected *e = &g_array_index (expected, Expected, i);
    GError *error = NULL;
    PackdTensor t;
    ck_assert_msg (packd_safetensors_get (st, e->name, e->ndim, e->shape, &t, &error),
        "%s: %s", e->name, error ? error->message : "?");
    int64_t n = packd_tensor_numel (&t), non_finite = 0;
    for (int64_t j = 0; j < n; j++)
      non_finite += !isfinite (t.data[j]);
    ck_assert_msg (non_finite == 0, "%s: %" G_GINT64_FORMAT " non-finite values", e->name, non_finite);
    params += n;
  }
  ck_assert_int_eq (params, expected_params);
  ck_assert_int_eq (params + 3 * bn_channels, SOURCE_PARAMS);
}
END_TEST

/* The stem kernel no longer sums to the raw dequantised value: it has been
 * scaled by γ/√(σ²+ε) per output channel, and the conv gained a bias. */
START_TEST (test_bn_folded)
{
  static const int64_t shape[] = { 3, 3, 3, 32 };
  static const int64_t bshape[] = { 32 };
  GError *error = NULL;
  PackdTensor w, b;
  ck_assert (packd_safetensors_get (st, "Conv1.weight", 4, shape, &w, &error));
  ck_assert (packd_safetensors_get (st, "Conv1.bias", 1, bshape, &b, &error));
  double sum = 0.0, bias_abs = 0.0;
  for (int64_t i = 0; i < packd_tensor_numel (&w); i++)
    sum += w.data[i];
  for (int i = 0; i < 32; i++)
    bias_abs += fabs (b.data[i]);
  ck_assert_msg (fabs (sum - RAW_CONV1_KERNEL_SUM) > 1.0,
      "Σ Conv1.weight = %f, the unfolded kernel sum: BN not folded?", sum);
  ck_assert_msg (bias_abs > 0.0, "Conv1.bias is all zero: BN not folded?");
}
END_TEST

static Suite *
teacher_file_suite (void)
{
  Suite *s = suite_create ("teacher-file");
  TCase *tc = tcase_create ("file");
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_metadata);
  tcase_add_test (tc, test_layouts);
  tcase_add_test (tc, test_all_tensors);
  tcase_add_test (tc, test_bn_folded);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  return packd_test_run (teacher_file_suite ());
}
