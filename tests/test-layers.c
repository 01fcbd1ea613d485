/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/* Every layer kind against the double-precision naive references in
 * naive-ref.c on random shapes (fixed seeds, odd sizes included), plus
 * hand-computed values for the rules that are easy to get subtly wrong
 * (padding divisors, resize conventions, blur reflection).
 *
 * Tolerance: |got - want| <= 1e-4 |want| + atol.  The engine computes in
 * float32, the references in double, so the absolute floor grows with the
 * number of products summed into one output and with their magnitude:
 * atol = 1e-6 * terms * magnitude (a few float32 ulps per term; an indexing
 * mistake shows up as an error of the order of the values themselves). */
#include <check.h>
#include <math.h>
#include <string.h>

#include "packd-layers.h"
#include "naive-ref.h"
#include "test-util.h"

#define RTOL 1e-4

static const int sizes_hw[] = { 1, 2, 3, 5, 7, 13, 17, 32, 33 };
static const int sizes_c[] = { 1, 3, 5, 16, 17, 33 };
static const int sizes_n[] = { 1, 2 };
static const PackdActivation acts[] = { PACKD_ACT_NONE, PACKD_ACT_RELU, PACKD_ACT_RELU6 };

#define PICK(rng, set) ((set)[g_rand_int_range ((rng), 0, G_N_ELEMENTS (set))])

static double
atol_for (int64_t terms, double magnitude)
{
  return 1e-6 * (double) MAX (terms, 1) * magnitude;
}

/* Exact-size heap buffers, so valgrind sees any overrun. */
static float *
alloc_floats (int64_t count)
{
  return g_new (float, MAX (count, 1));
}

static double *
alloc_doubles (int64_t count)
{
  return g_new (double, MAX (count, 1));
}

/* ------------------------------------------------------------------ conv */

typedef struct {
  int n, h, w, cin, cout, k, stride, pad_top, pad_left, out_h, out_w;
  gboolean bias;
  PackdActivation act;
} ConvCase;

/* Runs conv2d on random data for one geometry; returns the scratch size so
 * the caller can check which code path ran. */
static int64_t
run_conv_case (GRand *rng, const ConvCase *cc)
{
  PackdConvParams p = { cc->k, cc->k, cc->stride, cc->pad_top, cc->pad_left, cc->act };
  const int64_t in_count = (int64_t) cc->n * cc->h * cc->w * cc->cin;
  const int64_t out_count = (int64_t) cc->n * cc->out_h * cc->out_w * cc->cout;
  g_autofree float *x = packd_test_random_floats (rng, in_count, -2, 2);
  g_autofree float *wt = packd_test_random_floats (rng,
      (int64_t) cc->k * cc->k * cc->cin * cc->cout, -1, 1);
  g_autofree float *bias = cc->bias ? packd_test_random_floats (rng, cc->cout, -1, 1) : NULL;
  g_autofree float *y = alloc_floats (out_count);
  g_autofree double *want = alloc_doubles (out_count);
  PackdTensor tin, tw, tout;
  const int64_t wshape[4] = { cc->k, cc->k, cc->cin, cc->cout };
  char what[200];

  packd_tensor_init_nhwc (&tin, cc->n, cc->h, cc->w, cc->cin, x);
  packd_tensor_init (&tw, 4, wshape, wt);
  packd_tensor_init_nhwc (&tout, cc->n, cc->out_h, cc->out_w, cc->cout, y);
  int64_t scratch_n = packd_conv2d_scratch_floats (&p, &tin, &tout);
  ck_assert_int_ge (scratch_n, 0);
  g_autofree float *scratch = scratch_n > 0 ? alloc_floats (scratch_n) : NULL;

  packd_conv2d_forward (&p, &tin, &tw, bias, &tout, scratch);
  naive_conv2d (x, cc->n, cc->h, cc->w, cc->cin, wt, cc->k, cc->k, cc->cout, bias,
      cc->stride, cc->pad_top, cc->pad_left, cc->act, cc->out_h, cc->out_w, want);
  g_snprintf (what, sizeof what,
      "conv2d n%d %dx%dx%d -> %dx%dx%d k%d s%d pad(%d,%d) bias%d act%d",
      cc->n, cc->h, cc->w, cc->cin, cc->out_h, cc->out_w, cc->cout, cc->k, cc->stride,
      cc->pad_top, cc->pad_left, cc->bias, cc->act);
  packd_test_assert_close (y, want, out_count, RTOL,
      atol_for ((int64_t) cc->k * cc->k * cc->cin + 1, 2), what);
  return scratch_n;
}

START_TEST (test_conv2d_params_same)
{
  /* kernel, stride, in_h, in_w -> out_h, out_w, pad_top, pad_left.  Even
   * input at stride 2 puts the single pad after (MobileNetV2's (0,1)); odd
   * input splits it. */
  static const int cases[][8] = {
    { 3, 2, 8, 8, 4, 4, 0, 0 }, { 3, 2, 7, 13, 4, 7, 1, 1 }, { 3, 1, 5, 1, 5, 1, 1, 1 },
    { 1, 2, 5, 6, 3, 3, 0, 0 }, { 1, 1, 33, 2, 33, 2, 0, 0 }, { 3, 2, 1, 2, 1, 1, 1, 0 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    const int *c = cases[i];
    PackdConvParams p;
    int oh, ow;
    packd_conv_params_same (&p, c[0], c[1], c[2], c[3], PACKD_ACT_RELU6, &oh, &ow);
    ck_assert_msg (oh == c[4] && ow == c[5] && p.pad_top == c[6] && p.pad_left == c[7],
        "SAME k%d s%d %dx%d: out %dx%d pad (%d,%d)", c[0], c[1], c[2], c[3], oh, ow,
        p.pad_top, p.pad_left);
    ck_assert (p.kernel_h == c[0] && p.kernel_w == c[0] && p.stride == c[1]);
    ck_assert_int_eq (p.act, PACKD_ACT_RELU6);
  }
}
END_TEST

START_TEST (test_conv2d_random)
{
  GRand *rng = g_rand_new_with_seed (1001);
  int pointwise_runs = 0, im2col_runs = 0;

  for (int k = 1; k <= 3; k += 2)
    for (int stride = 1; stride <= 2; stride++)
      for (int explicit_pads = 0; explicit_pads <= 1; explicit_pads++)
        for (guint a = 0; a < G_N_ELEMENTS (acts); a++)
          for (int bias = 0; bias <= 1; bias++)
            for (int rep = 0; rep < 2; rep++) {
              ConvCase cc = { PICK (rng, sizes_n), PICK (rng, sizes_hw), PICK (rng, sizes_hw),
                PICK (rng, sizes_c), PICK (rng, sizes_c), k, stride, 0, 0, 0, 0, bias, acts[a] };
              if (explicit_pads) {
                /* Pads up to k (a pad of k only adds zero rows, still valid). */
                int pad_bottom = g_rand_int_range (rng, 0, k + 1);
                int pad_right = g_rand_int_range (rng, 0, k + 1);
                cc.pad_top = g_rand_int_range (rng, 0, k + 1);
                cc.pad_left = g_rand_int_range (rng, 0, k + 1);
                pad_bottom = MAX (pad_bottom, k - cc.h - cc.pad_top);
                pad_right = MAX (pad_right, k - cc.w - cc.pad_left);
                cc.out_h = (cc.h + cc.pad_top + pad_bottom - k) / stride + 1;
                cc.out_w = (cc.w + cc.pad_left + pad_right - k) / stride + 1;
              } else {
                PackdConvParams p;
                packd_conv_params_same (&p, k, stride, cc.h, cc.w, cc.act, &cc.out_h, &cc.out_w);
                cc.pad_top = p.pad_top;
                cc.pad_left = p.pad_left;
              }
              if (run_conv_case (rng, &cc) == 0)
                pointwise_runs++;
              else
                im2col_runs++;
            }
  /* Both the direct 1x1 sgemm path and the im2col path were exercised. */
  ck_assert_int_gt (pointwise_runs, 0);
  ck_assert_int_gt (im2col_runs, 0);
  g_rand_free (rng);
}
END_TEST

/* The output size comes from the output tensor: a conv into a smaller tensor
 * crops, into a larger one reads zeros (bias only) -- also for 1x1 stride 1,
 * which must then leave the plain-sgemm path. */
START_TEST (test_conv2d_output_size_from_tensor)
{
  GRand *rng = g_rand_new_with_seed (1002);
  const ConvCase cases[] = {
    { 1, 5, 7, 3, 4, 1, 1, 0, 0, 3, 4, TRUE, PACKD_ACT_NONE },
    { 2, 5, 7, 3, 4, 1, 1, 0, 0, 6, 9, TRUE, PACKD_ACT_NONE },
    { 1, 5, 7, 5, 3, 1, 1, 0, 0, 5, 6, FALSE, PACKD_ACT_RELU },
    { 1, 7, 5, 3, 2, 3, 1, 1, 1, 4, 4, TRUE, PACKD_ACT_RELU6 },
    { 1, 6, 6, 3, 2, 3, 2, 0, 0, 2, 2, TRUE, PACKD_ACT_NONE },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    run_conv_case (rng, &cases[i]);
  g_rand_free (rng);
}
END_TEST

/* ------------------------------------------------------------- depthwise */

START_TEST (test_depthwise_random)
{
  GRand *rng = g_rand_new_with_seed (1003);

  for (int stride = 1; stride <= 2; stride++)
    for (int explicit_pads = 0; explicit_pads <= 1; explicit_pads++)
      for (guint a = 0; a < G_N_ELEMENTS (acts); a++)
        for (int with_bias = 0; with_bias <= 1; with_bias++)
          for (int rep = 0; rep < 2; rep++) {
            const int n = PICK (rng, sizes_n), h = PICK (rng, sizes_hw), w = PICK (rng, sizes_hw);
            const int c = PICK (rng, sizes_c), k = 3;
            PackdConvParams p;
            int oh, ow;
            packd_conv_params_same (&p, k, stride, h, w, acts[a], &oh, &ow);
            if (explicit_pads) {
              p.pad_top = g_rand_int_range (rng, 0, k);
              p.pad_left = g_rand_int_range (rng, 0, k);
              oh = (h + p.pad_top + g_rand_int_range (rng, k - 1, k + 1) - k) / stride + 1;
              ow = (w + p.pad_left + g_rand_int_range (rng, k - 1, k + 1) - k) / stride + 1;
            }
            const int64_t out_count = (int64_t) n * oh * ow * c;
            g_autofree float *x = packd_test_random_floats (rng, (int64_t) n * h * w * c, -2, 2);
            g_autofree float *wt = packd_test_random_floats (rng, (int64_t) k * k * c, -1, 1);
            g_autofree float *bias = with_bias ? packd_test_random_floats (rng, c, -1, 1) : NULL;
            g_autofree float *y = alloc_floats (out_count);
            g_autofree double *want = alloc_doubles (out_count);
            const int64_t wshape[3] = { k, k, c };
            PackdTensor tin, tw, tout;
            char what[160];

            packd_tensor_init_nhwc (&tin, n, h, w, c, x);
            packd_tensor_init (&tw, 3, wshape, wt);
            packd_tensor_init_nhwc (&tout, n, oh, ow, c, y);
            packd_depthwise_forward (&p, &tin, &tw, bias, &tout);
            naive_depthwise (x, n, h, w, c, wt, k, k, bias, stride, p.pad_top, p.pad_left,
                acts[a], oh, ow, want);
            g_snprintf (what, sizeof what, "depthwise n%d %dx%dx%d -> %dx%d s%d pad(%d,%d) act%d",
                n, h, w, c, oh, ow, stride, p.pad_top, p.pad_left, acts[a]);
            packd_test_assert_close (y, want, out_count, RTOL, atol_for (k * k + 1, 2), what);
          }
  g_rand_free (rng);
}
END_TEST

/* -------------------------------------------------------------- bias_act */

START_TEST (test_bias_act)
{
  GRand *rng = g_rand_new_with_seed (1004);

  for (guint a = 0; a < G_N_ELEMENTS (acts); a++)
    for (int with_bias = 0; with_bias <= 1; with_bias++)
      for (int rep = 0; rep < 3; rep++) {
        const int rows = PICK (rng, sizes_hw), channels = PICK (rng, sizes_c);
        const int64_t count = (int64_t) rows * channels;
        /* Range crosses both 0 and 6. */
        g_autofree float *data = packd_test_random_floats (rng, count, -9, 9);
        g_autofree float *bias = with_bias ? packd_test_random_floats (rng, channels, -3, 3) : NULL;
        g_autofree double *want = alloc_doubles (count);

        naive_bias_act (data, rows, channels, bias, acts[a], want);
        packd_bias_act_forward (data, rows, channels, bias, acts[a]);
        packd_test_assert_close (data, want, count, RTOL, 1e-6, "bias_act");
      }
  g_rand_free (rng);
}
END_TEST

/* --------------------------------------------------------------- eltwise */

START_TEST (test_add)
{
  GRand *rng = g_rand_new_with_seed (1005);

  for (int alias = 0; alias < 3; alias++)
    for (int rep = 0; rep < 4; rep++) {
      const int n = PICK (rng, sizes_n), h = PICK (rng, sizes_hw), w = PICK (rng, sizes_hw);
      const int c = PICK (rng, sizes_c);
      const int64_t count = (int64_t) n * h * w * c;
      g_autofree float *a = packd_test_random_floats (rng, count, -5, 5);
      g_autofree float *b = packd_test_random_floats (rng, count, -5, 5);
      g_autofree float *separate = alloc_floats (count);
      g_autofree double *want = alloc_doubles (count);
      PackdTensor ta, tb, tout;

      naive_add (a, b, count, want);
      packd_tensor_init_nhwc (&ta, n, h, w, c, a);
      packd_tensor_init_nhwc (&tb, n, h, w, c, b);
      /* alias 0: separate output, 1: out = a, 2: out = b. */
      packd_tensor_init_nhwc (&tout, n, h, w, c, alias == 0 ? separate : alias == 1 ? a : b);
      packd_add_forward (&ta, &tb, &tout);
      packd_test_assert_close (tout.data, want, count, RTOL, 1e-6, alias ? "add aliased" : "add");
    }
  g_rand_free (rng);
}
END_TEST

START_TEST (test_concat)
{
  GRand *rng = g_rand_new_with_seed (1006);

  for (int rep = 0; rep < 12; rep++) {
    const int n = PICK (rng, sizes_n), h = PICK (rng, sizes_hw), w = PICK (rng, sizes_hw);
    const int n_inputs = g_rand_int_range (rng, 1, 5), rows = n * h * w;
    PackdTensor t[4], tout;
    const PackdTensor *inputs[4];
    const float *datas[4];
    int channels[4], total = 0;

    for (int i = 0; i < n_inputs; i++) {
      channels[i] = PICK (rng, sizes_c);
      total += channels[i];
      packd_tensor_init_nhwc (&t[i], n, h, w, channels[i],
          packd_test_random_floats (rng, (int64_t) rows * channels[i], -1, 1));
      inputs[i] = &t[i];
      datas[i] = t[i].data;
    }
    g_autofree float *y = alloc_floats ((int64_t) rows * total);
    g_autofree double *want = alloc_doubles ((int64_t) rows * total);
    packd_tensor_init_nhwc (&tout, n, h, w, total, y);
    packd_concat_channels_forward (inputs, n_inputs, &tout);
    naive_concat_channels (datas, channels, n_inputs, rows, want);
    /* A copy: exact. */
    packd_test_assert_close (y, want, (int64_t) rows * total, RTOL, 0, "concat");
    for (int i = 0; i < n_inputs; i++)
      g_free (t[i].data);
  }
  g_rand_free (rng);
}
END_TEST

START_TEST (test_softmax)
{
  GRand *rng = g_rand_new_with_seed (1007);
  const int widths[] = { 1, 2, 3, 5, 17, 33, 1000 };

  for (guint wi = 0; wi < G_N_ELEMENTS (widths); wi++)
    for (int large = 0; large <= 1; large++) {
      const int rows = PICK (rng, sizes_hw), n = widths[wi];
      const int64_t count = (int64_t) rows * n;
      /* Large logits (around 1000) overflow expf without the max shift. */
      g_autofree float *x = packd_test_random_floats (rng, count, large ? 980 : -10,
          large ? 1020 : 10);
      g_autofree double *want = alloc_doubles (count);

      naive_softmax (x, rows, n, want);
      packd_softmax_forward (x, rows, n);
      packd_test_assert_close (x, want, count, RTOL, 1e-6,
          large ? "softmax large logits" : "softmax");
      for (int r = 0; r < rows; r++) {
        double sum = 0;
        for (int i = 0; i < n; i++)
          sum += x[(int64_t) r * n + i];
        ck_assert_double_eq_tol (sum, 1.0, 1e-5);
      }
    }
  g_rand_free (rng);
}
END_TEST

/* ---------------------------------------------------------- deconv/dense */

START_TEST (test_deconv2x2_random)
{
  GRand *rng = g_rand_new_with_seed (1008);

  for (guint a = 0; a < G_N_ELEMENTS (acts); a++)
    for (int with_bias = 0; with_bias <= 1; with_bias++)
      for (int rep = 0; rep < 3; rep++) {
        const int n = PICK (rng, sizes_n), h = PICK (rng, sizes_hw), w = PICK (rng, sizes_hw);
        const int cin = PICK (rng, sizes_c), cout = PICK (rng, sizes_c);
        const int64_t out_count = (int64_t) n * 4 * h * w * cout;
        const int64_t wshape[4] = { cin, 2, 2, cout };
        g_autofree float *x = packd_test_random_floats (rng, (int64_t) n * h * w * cin, -2, 2);
        g_autofree float *wt = packd_test_random_floats (rng, (int64_t) cin * 4 * cout, -1, 1);
        g_autofree float *bias = with_bias ? packd_test_random_floats (rng, cout, -1, 1) : NULL;
        g_autofree float *y = alloc_floats (out_count);
        g_autofree double *want = alloc_doubles (out_count);
        PackdTensor tin, tw, tout;
        char what[120];

        packd_tensor_init_nhwc (&tin, n, h, w, cin, x);
        packd_tensor_init (&tw, 4, wshape, wt);
        packd_tensor_init_nhwc (&tout, n, 2 * h, 2 * w, cout, y);
        g_autofree float *scratch = alloc_floats (packd_deconv2x2_scratch_floats (&tin, &tw));
        packd_deconv2x2_forward (&tin, &tw, bias, acts[a], &tout, scratch);
        naive_deconv2x2 (x, n, h, w, cin, wt, cout, bias, acts[a], want);
        g_snprintf (what, sizeof what, "deconv2x2 n%d %dx%dx%d -> %d act%d",
            n, h, w, cin, cout, acts[a]);
        packd_test_assert_close (y, want, out_count, RTOL, atol_for (cin + 1, 2), what);
      }
  g_rand_free (rng);
}
END_TEST

START_TEST (test_dense_random)
{
  GRand *rng = g_rand_new_with_seed (1009);
  const int rows_set[] = { 1, 2, 3, 5 };
  const int width_set[] = { 1, 3, 5, 16, 17, 33, 100, 1280 };

  for (guint a = 0; a < G_N_ELEMENTS (acts); a++)
    for (int with_bias = 0; with_bias <= 1; with_bias++)
      for (int as_nhwc = 0; as_nhwc <= 1; as_nhwc++) {
        const int rows = PICK (rng, rows_set), k = PICK (rng, width_set);
        const int m = PICK (rng, width_set);
        const int64_t wshape[2] = { k, m }, oshape[2] = { rows, m }, ishape[2] = { rows, k };
        g_autofree float *x = packd_test_random_floats (rng, (int64_t) rows * k, -2, 2);
        g_autofree float *wt = packd_test_random_floats (rng, (int64_t) k * m, -1, 1);
        g_autofree float *bias = with_bias ? packd_test_random_floats (rng, m, -1, 1) : NULL;
        g_autofree float *y = alloc_floats ((int64_t) rows * m);
        g_autofree double *want = alloc_doubles ((int64_t) rows * m);
        PackdTensor tin, tw, tout;

        /* A pooled [N,1,1,K] activation is a valid input as is. */
        if (as_nhwc)
          packd_tensor_init_nhwc (&tin, rows, 1, 1, k, x);
        else
          packd_tensor_init (&tin, 2, ishape, x);
        packd_tensor_init (&tw, 2, wshape, wt);
        packd_tensor_init (&tout, 2, oshape, y);
        packd_dense_forward (&tin, &tw, bias, acts[a], &tout);
        naive_dense (x, rows, k, wt, m, bias, acts[a], want);
        packd_test_assert_close (y, want, (int64_t) rows * m, RTOL, atol_for (k + 1, 2), "dense");
      }
  g_rand_free (rng);
}
END_TEST

/* ------------------------------------------------------------------ pool */

START_TEST (test_global_avgpool_random)
{
  GRand *rng = g_rand_new_with_seed (1010);

  for (int rep = 0; rep < 12; rep++) {
    const int n = PICK (rng, sizes_n), h = PICK (rng, sizes_hw), w = PICK (rng, sizes_hw);
    const int c = PICK (rng, sizes_c);
    g_autofree float *x = packd_test_random_floats (rng, (int64_t) n * h * w * c, -3, 3);
    g_autofree float *y = alloc_floats (n * c);
    g_autofree double *want = alloc_doubles (n * c);
    PackdTensor tin, tout;

    packd_tensor_init_nhwc (&tin, n, h, w, c, x);
    packd_tensor_init_nhwc (&tout, n, 1, 1, c, y);
    packd_global_avgpool_forward (&tin, &tout);
    naive_global_avgpool (x, n, h, w, c, want);
    packd_test_assert_close (y, want, n * c, RTOL, atol_for ((int64_t) h * w, 3), "global avgpool");
  }
  g_rand_free (rng);
}
END_TEST

START_TEST (test_avgpool_same_random)
{
  GRand *rng = g_rand_new_with_seed (1011);

  for (int kernel = 1; kernel <= 5; kernel += 2)
    for (int rep = 0; rep < 5; rep++) {
      const int n = PICK (rng, sizes_n), h = PICK (rng, sizes_hw), w = PICK (rng, sizes_hw);
      const int c = PICK (rng, sizes_c);
      const int64_t count = (int64_t) n * h * w * c;
      g_autofree float *x = packd_test_random_floats (rng, count, -3, 3);
      g_autofree float *y = alloc_floats (count);
      g_autofree double *want = alloc_doubles (count);
      PackdTensor tin, tout;

      packd_tensor_init_nhwc (&tin, n, h, w, c, x);
      packd_tensor_init_nhwc (&tout, n, h, w, c, y);
      packd_avgpool_same_forward (&tin, kernel, &tout);
      naive_avgpool_same (x, n, h, w, c, kernel, want);
      packd_test_assert_close (y, want, count, RTOL, atol_for (kernel * kernel, 3), "avgpool same");
    }
  g_rand_free (rng);
}
END_TEST

/* The zero padding counts in the divisor: on a map of ones a 3x3 mean is
 * 4/9 at corners, 6/9 along edges and 1 inside. */
START_TEST (test_avgpool_same_border_divisor)
{
  const int h = 4, w = 5, c = 2;
  float x[4 * 5 * 2], y[4 * 5 * 2], single[1] = { 9.f }, single_out[1];
  PackdTensor tin, tout;

  for (guint i = 0; i < G_N_ELEMENTS (x); i++)
    x[i] = 1.f;
  packd_tensor_init_nhwc (&tin, 1, h, w, c, x);
  packd_tensor_init_nhwc (&tout, 1, h, w, c, y);
  packd_avgpool_same_forward (&tin, 3, &tout);
  for (int yy = 0; yy < h; yy++)
    for (int xx = 0; xx < w; xx++) {
      int rows_in = 3 - (yy == 0) - (yy == h - 1);
      int cols_in = 3 - (xx == 0) - (xx == w - 1);
      for (int ch = 0; ch < c; ch++)
        ck_assert_float_eq_tol (y[(yy * w + xx) * c + ch], rows_in * cols_in / 9.0f, 1e-6f);
    }

  /* A single pixel: 8 of its 9 taps are padding. */
  packd_tensor_init_nhwc (&tin, 1, 1, 1, 1, single);
  packd_tensor_init_nhwc (&tout, 1, 1, 1, 1, single_out);
  packd_avgpool_same_forward (&tin, 3, &tout);
  ck_assert_float_eq_tol (single_out[0], 1.0f, 1e-6f);
}
END_TEST

/* ---------------------------------------------------------------- resize */

START_TEST (test_resize_bilinear_random)
{
  GRand *rng = g_rand_new_with_seed (1012);

  for (int align = 0; align <= 1; align++)
    for (int rep = 0; rep < 12; rep++) {
      int n = PICK (rng, sizes_n), h = PICK (rng, sizes_hw), w = PICK (rng, sizes_hw);
      int oh = PICK (rng, sizes_hw), ow = PICK (rng, sizes_hw);
      const int c = PICK (rng, sizes_c);
      if (rep == 0)
        h = w = 1;              /* 1-pixel input */
      else if (rep == 1)
        oh = ow = 1;            /* 1-pixel output */
      const int64_t out_count = (int64_t) n * oh * ow * c;
      g_autofree float *x = packd_test_random_floats (rng, (int64_t) n * h * w * c, -1, 1);
      g_autofree float *y = alloc_floats (out_count);
      g_autofree double *want = alloc_doubles (out_count);
      PackdTensor tin, tout;
      char what[120];

      packd_tensor_init_nhwc (&tin, n, h, w, c, x);
      packd_tensor_init_nhwc (&tout, n, oh, ow, c, y);
      packd_resize_bilinear_forward (&tin, align, &tout);
      naive_resize_bilinear (x, n, h, w, c, oh, ow, align, want);
      g_snprintf (what, sizeof what, "resize n%d %dx%dx%d -> %dx%d align_corners %d",
          n, h, w, c, oh, ow, align);
      packd_test_assert_close (y, want, out_count, RTOL, atol_for (4, 1), what);
    }
  g_rand_free (rng);
}
END_TEST

static void
resize_1d (const float *x, int n_in, int n_out, gboolean align, gboolean vertical, float *y)
{
  PackdTensor tin, tout;
  packd_tensor_init_nhwc (&tin, 1, vertical ? n_in : 1, vertical ? 1 : n_in, 1, (float *) x);
  packd_tensor_init_nhwc (&tout, 1, vertical ? n_out : 1, vertical ? 1 : n_out, 1, y);
  packd_resize_bilinear_forward (&tin, align, &tout);
}

START_TEST (test_resize_bilinear_hand_values)
{
  const float ab[2] = { 1.f, 4.f }, ac[2] = { 1.f, 5.f }, three[3] = { 2.f, 7.f, -1.f };
  float y[5];
  GRand *rng = g_rand_new_with_seed (1013);

  for (int vertical = 0; vertical <= 1; vertical++) {
    /* align_corners: 2 -> 3 is [a, (a+b)/2, b]. */
    resize_1d (ab, 2, 3, TRUE, vertical, y);
    ck_assert_float_eq_tol (y[0], 1.f, 1e-6f);
    ck_assert_float_eq_tol (y[1], 2.5f, 1e-6f);
    ck_assert_float_eq_tol (y[2], 4.f, 1e-6f);
    /* align_corners: 3 -> 2 keeps the end samples. */
    resize_1d (three, 3, 2, TRUE, vertical, y);
    ck_assert_float_eq_tol (y[0], 2.f, 1e-6f);
    ck_assert_float_eq_tol (y[1], -1.f, 1e-6f);
    /* Half-pixel: 2 -> 4 samples at -0.25 (clamped), 0.25, 0.75, 1.25 (edge). */
    resize_1d (ac, 2, 4, FALSE, vertical, y);
    ck_assert_float_eq_tol (y[0], 1.f, 1e-6f);
    ck_assert_float_eq_tol (y[1], 2.f, 1e-6f);
    ck_assert_float_eq_tol (y[2], 4.f, 1e-6f);
    ck_assert_float_eq_tol (y[3], 5.f, 1e-6f);
  }

  /* Half-pixel 64 -> 32 is the mean of each 2x2 cell. */
  {
    const int c = 3;
    g_autofree float *x = packd_test_random_floats (rng, 64 * 64 * c, -1, 1);
    g_autofree float *out = alloc_floats (32 * 32 * c);
    PackdTensor tin, tout;
    packd_tensor_init_nhwc (&tin, 1, 64, 64, c, x);
    packd_tensor_init_nhwc (&tout, 1, 32, 32, c, out);
    packd_resize_bilinear_forward (&tin, FALSE, &tout);
    for (int oy = 0; oy < 32; oy++)
      for (int ox = 0; ox < 32; ox++)
        for (int ch = 0; ch < c; ch++) {
          double mean = 0;
          for (int dy = 0; dy < 2; dy++)
            for (int dx = 0; dx < 2; dx++)
              mean += x[((2 * oy + dy) * 64 + 2 * ox + dx) * c + ch] / 4.0;
          ck_assert_double_eq_tol (out[(oy * 32 + ox) * c + ch], mean, 1e-6);
        }
  }

  /* A single pixel spreads unchanged; same size is the identity. */
  for (int align = 0; align <= 1; align++) {
    float px[2] = { 0.25f, -3.f }, big[5 * 7 * 2], img[3 * 5 * 2], same[3 * 5 * 2];
    PackdTensor tin, tout;
    packd_tensor_init_nhwc (&tin, 1, 1, 1, 2, px);
    packd_tensor_init_nhwc (&tout, 1, 5, 7, 2, big);
    packd_resize_bilinear_forward (&tin, align, &tout);
    for (int i = 0; i < 5 * 7; i++) {
      ck_assert_float_eq_tol (big[2 * i], 0.25f, 1e-7f);
      ck_assert_float_eq_tol (big[2 * i + 1], -3.f, 1e-7f);
    }
    for (guint i = 0; i < G_N_ELEMENTS (img); i++)
      img[i] = (float) g_rand_double_range (rng, -1, 1);
    packd_tensor_init_nhwc (&tin, 1, 3, 5, 2, img);
    packd_tensor_init_nhwc (&tout, 1, 3, 5, 2, same);
    packd_resize_bilinear_forward (&tin, align, &tout);
    for (guint i = 0; i < G_N_ELEMENTS (img); i++)
      ck_assert_float_eq_tol (same[i], img[i], 1e-6f);
  }
  g_rand_free (rng);
}
END_TEST

START_TEST (test_resize_u8_to_rgb)
{
  static const struct { int channels; int order[3]; const char *name; } formats[] = {
    { 4, { 2, 1, 0 }, "BGRx" }, { 3, { 0, 1, 2 }, "RGB" }, { 4, { 0, 1, 2 }, "RGBx" },
    { 1, { 0, 0, 0 }, "GRAY8" },
  };
  GRand *rng = g_rand_new_with_seed (1014);

  for (guint f = 0; f < G_N_ELEMENTS (formats); f++)
    for (int align = 0; align <= 1; align++)
      for (int rep = 0; rep < 4; rep++) {
        const int width = PICK (rng, sizes_hw), height = PICK (rng, sizes_hw);
        const int oh = PICK (rng, sizes_hw), ow = PICK (rng, sizes_hw);
        /* Padded rows: the padding holds random bytes that must never be read. */
        const int stride = width * formats[f].channels + g_rand_int_range (rng, 0, 6);
        g_autofree guint8 *pixels = g_new (guint8, (gsize) stride * height);
        g_autofree float *y = alloc_floats ((int64_t) oh * ow * 3);
        g_autofree double *want = alloc_doubles ((int64_t) oh * ow * 3);
        PackdTensor tout;
        char what[120];

        for (int i = 0; i < stride * height; i++)
          pixels[i] = (guint8) g_rand_int_range (rng, 0, 256);
        packd_tensor_init_nhwc (&tout, 1, oh, ow, 3, y);
        packd_resize_u8_to_rgb_forward (pixels, width, height, stride, formats[f].channels,
            formats[f].order, align, &tout);
        naive_resize_u8_to_rgb (pixels, width, height, stride, formats[f].channels,
            formats[f].order, align, oh, ow, want);
        g_snprintf (what, sizeof what, "resize_u8 %s %dx%d stride %d -> %dx%d align %d",
            formats[f].name, width, height, stride, ow, oh, align);
        packd_test_assert_close (y, want, (int64_t) oh * ow * 3, RTOL, atol_for (4, 1), what);
      }

  /* Hand values: 2x2 BGRx with 4 padding bytes per row, same size out. */
  {
    const guint8 bgrx[2 * 12] = { 10, 20, 30, 255, 40, 50, 60, 255, 0xEE, 0xEE, 0xEE, 0xEE,
      1, 2, 3, 4, 5, 6, 7, 8, 0xEE, 0xEE, 0xEE, 0xEE };
    const int order[3] = { 2, 1, 0 };
    const float rgb[4][3] = { { 30, 20, 10 }, { 60, 50, 40 }, { 3, 2, 1 }, { 7, 6, 5 } };
    float out[2 * 2 * 3];
    PackdTensor tout;
    packd_tensor_init_nhwc (&tout, 1, 2, 2, 3, out);
    for (int align = 0; align <= 1; align++) {
      packd_resize_u8_to_rgb_forward (bgrx, 2, 2, 12, 4, order, align, &tout);
      for (int p = 0; p < 4; p++)
        for (int ch = 0; ch < 3; ch++)
          ck_assert_float_eq_tol (out[p * 3 + ch], rgb[p][ch] / 255.f, 1e-6f);
    }
  }
  g_rand_free (rng);
}
END_TEST

/* ------------------------------------------------------------------ blur */

static void
check_blur (GRand *rng, int h, int w, float sigma, float truncate, gboolean in_place)
{
  g_autofree float *x = packd_test_random_floats (rng, (int64_t) h * w, -1, 1);
  float *y = in_place ? x : alloc_floats ((int64_t) h * w);
  g_autofree float *scratch = alloc_floats ((int64_t) h * w);
  g_autofree double *want = alloc_doubles ((int64_t) h * w);
  char what[120];

  naive_gaussian_blur (x, h, w, sigma, truncate, want);
  int radius = packd_gaussian_blur_forward (x, h, w, sigma, truncate, y, scratch);
  ck_assert_int_eq (radius, naive_gaussian_radius (sigma, truncate));
  g_snprintf (what, sizeof what, "blur %dx%d sigma %g truncate %g radius %d%s",
      h, w, sigma, truncate, radius, in_place ? " in place" : "");
  packd_test_assert_close (y, want, (int64_t) h * w, RTOL, atol_for (2 * (2 * radius + 1), 1),
      what);
  if (!in_place)
    g_free (y);
}

START_TEST (test_gaussian_blur_random)
{
  GRand *rng = g_rand_new_with_seed (1015);
  const float sigmas[] = { 0.5f, 1.f, 2.f, 4.f };

  for (guint s = 0; s < G_N_ELEMENTS (sigmas); s++)
    for (int rep = 0; rep < 4; rep++)
      check_blur (rng, PICK (rng, sizes_hw), PICK (rng, sizes_hw), sigmas[s],
          rep < 2 ? 4.f : 2.f, rep % 2);
  g_rand_free (rng);
}
END_TEST

START_TEST (test_gaussian_blur_radius_and_constant)
{
  const int h = 37, w = 29;
  g_autofree float *map = alloc_floats (h * w);
  g_autofree float *scratch = alloc_floats (h * w);
  double sum = 0;

  for (int i = 0; i < h * w; i++)
    map[i] = 0.7f;
  /* scipy: int(truncate * sigma + 0.5). */
  ck_assert_int_eq (naive_gaussian_radius (4.0, 4.0), 16);
  ck_assert_int_eq (naive_gaussian_radius (2.5, 4.0), 10);
  ck_assert_int_eq (packd_gaussian_blur_forward (map, 1, 1, 1.f, 4.f, scratch, scratch + 1), 4);
  ck_assert_int_eq (packd_gaussian_blur_forward (map, 1, 1, 0.5f, 4.f, scratch, scratch + 1), 2);

  /* A constant map stays constant (weights sum to 1, borders included). */
  ck_assert_int_eq (packd_gaussian_blur_forward (map, h, w, 4.f, 4.f, map, scratch), 16);
  for (int i = 0; i < h * w; i++) {
    ck_assert_float_eq_tol (map[i], 0.7f, 1e-6f);
    sum += map[i];
  }
  ck_assert_double_eq_tol (sum, 0.7 * h * w, 1e-5 * 0.7 * h * w);
}
END_TEST

/* Windows wider than the map: the reflection must repeat (d c b a | a b c d |
 * d c b a | a b ...), not clamp or read outside. */
START_TEST (test_gaussian_blur_map_smaller_than_radius)
{
  GRand *rng = g_rand_new_with_seed (1016);
  float one = 0.3f, one_scratch;

  check_blur (rng, 5, 5, 4.f, 4.f, FALSE);
  check_blur (rng, 2, 3, 4.f, 4.f, FALSE);
  check_blur (rng, 1, 7, 4.f, 4.f, TRUE);
  check_blur (rng, 3, 1, 2.f, 4.f, FALSE);
  ck_assert_int_eq (naive_reflect_index (-1, 5), 0);
  ck_assert_int_eq (naive_reflect_index (5, 5), 4);
  ck_assert_int_eq (naive_reflect_index (-7, 5), 3);
  ck_assert_int_eq (naive_reflect_index (16, 5), 3);
  packd_gaussian_blur_forward (&one, 1, 1, 4.f, 4.f, &one, &one_scratch);
  ck_assert_float_eq_tol (one, 0.3f, 1e-6f);
  g_rand_free (rng);
}
END_TEST

/* ---------------------------------------------------------------- cosine */

START_TEST (test_cosine_distance)
{
  GRand *rng = g_rand_new_with_seed (1017);
  const int c = 33, rows = 7;
  g_autofree float *a = g_new0 (float, rows * c);
  g_autofree float *b = g_new0 (float, rows * c);
  float out[7];
  const double expected[7] = { 0, 2, 1, 1, 1, 0, 1 };
  PackdTensor ta, tb;

  for (int i = 0; i < c; i++) {
    float v = (float) g_rand_double_range (rng, -1, 1);
    a[0 * c + i] = b[0 * c + i] = v;            /* identical */
    a[1 * c + i] = v;                           /* opposite */
    b[1 * c + i] = -v;
    a[2 * c + i] = i % 2 ? 0.f : v;             /* orthogonal supports */
    b[2 * c + i] = i % 2 ? v : 0.f;
    a[3 * c + i] = v;                           /* b zero */
    /* row 4: both zero */
    a[5 * c + i] = v;                           /* scale invariant */
    b[5 * c + i] = 3.5f * v;
    b[6 * c + i] = v;                           /* a zero */
  }
  packd_tensor_init_nhwc (&ta, 1, 1, rows, c, a);
  packd_tensor_init_nhwc (&tb, 1, 1, rows, c, b);
  packd_cosine_distance_forward (&ta, &tb, out);
  for (int r = 0; r < rows; r++)
    ck_assert_msg (fabs (out[r] - expected[r]) <= 1e-5, "cosine row %d: %g, expected %g",
        r, out[r], expected[r]);

  for (int rep = 0; rep < 10; rep++) {
    const int n = PICK (rng, sizes_n), h = PICK (rng, sizes_hw), w = PICK (rng, sizes_hw);
    const int ch = PICK (rng, sizes_c), count = n * h * w;
    g_autofree float *x = packd_test_random_floats (rng, (int64_t) count * ch, -2, 2);
    g_autofree float *z = packd_test_random_floats (rng, (int64_t) count * ch, -2, 2);
    g_autofree float *y = alloc_floats (count);
    g_autofree double *want = alloc_doubles (count);
    packd_tensor_init_nhwc (&ta, n, h, w, ch, x);
    packd_tensor_init_nhwc (&tb, n, h, w, ch, z);
    packd_cosine_distance_forward (&ta, &tb, y);
    naive_cosine_distance (x, z, count, ch, PACKD_COSINE_EPS, want);
    packd_test_assert_close (y, want, count, RTOL, atol_for (ch, 1), "cosine distance");
  }
  g_rand_free (rng);
}
END_TEST

static Suite *
layers_suite (void)
{
  Suite *s = suite_create ("layers");
  TCase *tc = tcase_create ("forward");

  tcase_add_test (tc, test_conv2d_params_same);
  tcase_add_test (tc, test_conv2d_random);
  tcase_add_test (tc, test_conv2d_output_size_from_tensor);
  tcase_add_test (tc, test_depthwise_random);
  tcase_add_test (tc, test_bias_act);
  tcase_add_test (tc, test_add);
  tcase_add_test (tc, test_concat);
  tcase_add_test (tc, test_softmax);
  tcase_add_test (tc, test_deconv2x2_random);
  tcase_add_test (tc, test_dense_random);
  tcase_add_test (tc, test_global_avgpool_random);
  tcase_add_test (tc, test_avgpool_same_random);
  tcase_add_test (tc, test_avgpool_same_border_divisor);
  tcase_add_test (tc, test_resize_bilinear_random);
  tcase_add_test (tc, test_resize_bilinear_hand_values);
  tcase_add_test (tc, test_resize_u8_to_rgb);
  tcase_add_test (tc, test_gaussian_blur_random);
  tcase_add_test (tc, test_gaussian_blur_radius_and_constant);
  tcase_add_test (tc, test_gaussian_blur_map_smaller_than_radius);
  tcase_add_test (tc, test_cosine_distance);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  return packd_test_run (layers_suite ());
}
