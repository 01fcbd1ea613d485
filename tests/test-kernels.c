/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/* The optimised kernels on every SIMD level this CPU has (generic, AVX2,
 * AVX-512), each against the double-precision naive references of
 * naive-ref.c on odd shapes, single-threaded and spread over a thread pool;
 * and the thread pool itself.  Tolerance as in test-layers.c:
 * |got - want| <= 1e-4 |want| + 1e-6 * terms * magnitude. */
#include <check.h>
#include <math.h>

#include "packd-layers.h"
#include "packd-scorer.h"
#include "packd-threads.h"
#include "layers/block.h"
#include "layers/gemm.h"
#include "scorer-impl.h"
#include "simd-impl.h"
#include "naive-ref.h"
#include "test-util.h"

#define RTOL 1e-4

static const PackdActivation acts[] = { PACKD_ACT_NONE, PACKD_ACT_RELU, PACKD_ACT_RELU6 };

/* Runs body once per SIMD level the CPU supports, with that level active. */
#define FOR_EACH_LEVEL(level) \
  for (PackdSimdLevel level = PACKD_SIMD_GENERIC; \
       level <= packd_simd_detect () && packd_simd_set_level (level) == level; level++)

static void
restore_level (void)
{
  packd_simd_set_level (PACKD_SIMD_N_LEVELS);
}

/* ------------------------------------------------------------- levels */

START_TEST (test_levels)
{
  int levels = 0;

  FOR_EACH_LEVEL (level) {
    ck_assert_int_eq (packd_simd_level (), level);
    levels++;
  }
  /* Asking for more than the CPU has gives what it has. */
  ck_assert_int_eq (packd_simd_set_level (PACKD_SIMD_N_LEVELS), packd_simd_detect ());
  ck_assert_int_eq (levels, packd_simd_detect () + 1);
#if defined(__x86_64__)
  if (__builtin_cpu_supports ("avx2") && __builtin_cpu_supports ("fma"))
    ck_assert_int_ge (packd_simd_detect (), PACKD_SIMD_AVX2);
#endif
  g_print ("kernels tested on levels generic..%s\n", packd_simd_level_name (packd_simd_detect ()));
}
END_TEST

/* --------------------------------------------------------------- GEMM */

/* Row ranges, k and n around the tile sizes (6 and 12 rows, 16 and 32
 * columns), with and without bias. */
START_TEST (test_gemm_rows)
{
  static const int ms[] = { 1, 5, 6, 7, 12, 13, 25, 40 };
  static const int ks[] = { 1, 3, 16, 27, 33 };
  static const int ns[] = { 1, 7, 8, 15, 16, 17, 24, 31, 32, 33, 48, 50 };
  GRand *rng = g_rand_new_with_seed (2001);

  FOR_EACH_LEVEL (level) {
    for (int rep = 0; rep < 60; rep++) {
      const int m = ms[g_rand_int_range (rng, 0, G_N_ELEMENTS (ms))];
      const int k = ks[g_rand_int_range (rng, 0, G_N_ELEMENTS (ks))];
      const int n = ns[g_rand_int_range (rng, 0, G_N_ELEMENTS (ns))];
      const PackdActivation act = acts[rep % 3];
      /* a wider than k (lda > k) and c wider than n: only the asked parts move */
      const int lda = k + 2, ldc = n + 3, m0 = g_rand_int_range (rng, 0, m);
      g_autofree float *a = packd_test_random_floats (rng, (int64_t) m * lda, -2, 2);
      g_autofree float *b = packd_test_random_floats (rng, (int64_t) k * n, -1, 1);
      g_autofree float *bias = rep % 2 ? packd_test_random_floats (rng, n, -1, 1) : NULL;
      g_autofree float *packed = g_new (float, packd_gemm_packed_floats (k, n));
      g_autofree float *c = g_new (float, (int64_t) m * ldc);
      g_autofree double *want = g_new (double, (int64_t) m * n);
      g_autofree float *dense_a = g_new (float, (int64_t) m * k);
      char what[128];

      for (int i = 0; i < m; i++)
        for (int p = 0; p < k; p++)
          dense_a[i * k + p] = a[i * lda + p];
      for (int64_t i = 0; i < (int64_t) m * ldc; i++)
        c[i] = -123.f;
      packd_gemm_pack_b (b, k, n, n, packed);
      packd_gemm_rows (m0, m, n, k, a, lda, b, n, packed, bias, act, c, ldc);
      naive_dense (dense_a, m, k, b, n, bias, act, want);
      g_snprintf (what, sizeof what, "%s gemm rows %d..%d k%d n%d act%d bias%d",
          packd_simd_level_name (level), m0, m, k, n, act, bias != NULL);
      for (int i = 0; i < m; i++) {
        for (int j = 0; j < ldc; j++) {
          if (i < m0 || j >= n)
            ck_assert_msg (c[i * ldc + j] == -123.f, "%s: wrote outside at %d,%d", what, i, j);
        }
        if (i >= m0)
          packd_test_assert_close (c + i * ldc, want + i * n, n, RTOL, 1e-6 * (k + 1) * 2, what);
      }
    }
  }
  restore_level ();
  g_rand_free (rng);
}
END_TEST

/* --------------------------------------------------------------- conv */

START_TEST (test_conv2d_packed)
{
  static const int hw[] = { 1, 2, 3, 5, 8, 13, 17, 33 };
  static const int chans[] = { 1, 3, 5, 16, 17, 33 };
  GRand *rng = g_rand_new_with_seed (2002);
  PackdThreads *pool = packd_threads_new (3);

  FOR_EACH_LEVEL (level) {
    for (int rep = 0; rep < 48; rep++) {
      const int k = rep % 2 ? 3 : 1, stride = (rep / 2) % 2 ? 2 : 1;
      const int h = hw[g_rand_int_range (rng, 0, G_N_ELEMENTS (hw))];
      const int w = hw[g_rand_int_range (rng, 0, G_N_ELEMENTS (hw))];
      const int cin = chans[g_rand_int_range (rng, 0, G_N_ELEMENTS (chans))];
      const int cout = chans[g_rand_int_range (rng, 0, G_N_ELEMENTS (chans))];
      const PackdActivation act = acts[rep % 3];
      PackdThreads *use_pool = (rep / 4) % 2 ? pool : NULL;
      const int n = 1 + rep % 2;
      PackdConvParams p;
      int oh, ow;
      packd_conv_params_same (&p, k, stride, h, w, act, &oh, &ow);
      const int64_t wshape[4] = { k, k, cin, cout };
      g_autofree float *x = packd_test_random_floats (rng, (int64_t) n * h * w * cin, -2, 2);
      g_autofree float *wt = packd_test_random_floats (rng, (int64_t) k * k * cin * cout, -1, 1);
      g_autofree float *bias = packd_test_random_floats (rng, cout, -1, 1);
      g_autofree float *y = g_new (float, (int64_t) n * oh * ow * cout);
      g_autofree double *want = g_new (double, (int64_t) n * oh * ow * cout);
      PackdTensor tin, tw, tout;
      char what[160];

      packd_tensor_init_nhwc (&tin, n, h, w, cin, x);
      packd_tensor_init (&tw, 4, wshape, wt);
      packd_tensor_init_nhwc (&tout, n, oh, ow, cout, y);
      g_autofree float *packed = g_new (float, packd_conv2d_packed_floats (&tw));
      g_autofree float *scratch = g_new (float,
          MAX (1, packd_conv2d_packed_scratch_floats (&p, &tin, &tout, 3)));
      packd_conv2d_pack_weight (&tw, packed);
      packd_conv2d_forward_packed (&p, &tin, &tw, packed, bias, &tout, scratch, use_pool);
      naive_conv2d (x, n, h, w, cin, wt, k, k, cout, bias, stride, p.pad_top, p.pad_left, act,
          oh, ow, want);
      g_snprintf (what, sizeof what, "%s packed conv n%d %dx%dx%d -> %dx%dx%d k%d s%d act%d threads%d",
          packd_simd_level_name (level), n, h, w, cin, oh, ow, cout, k, stride, act,
          packd_threads_get_n (use_pool));
      packd_test_assert_close (y, want, (int64_t) n * oh * ow * cout, RTOL,
          1e-6 * (k * k * cin + 1) * 2, what);
    }
  }
  restore_level ();
  packd_threads_free (pool);
  g_rand_free (rng);
}
END_TEST

/* Output sizes that differ from SAME (cropped, or extended with zero
 * input) also on the packed path, 1x1 included. */
START_TEST (test_conv2d_packed_output_size)
{
  /* n, h, w, cin, cout, k, stride, pad_top, pad_left, out_h, out_w */
  static const int cases[][11] = {
    { 1, 5, 7, 3, 4, 1, 1, 0, 0, 3, 4 }, { 2, 5, 7, 3, 20, 1, 1, 0, 0, 6, 9 },
    { 1, 5, 7, 5, 3, 1, 1, 0, 0, 7, 7 }, { 1, 7, 5, 3, 17, 3, 1, 1, 1, 4, 4 },
    { 1, 6, 6, 3, 2, 3, 2, 0, 0, 2, 2 }, { 1, 4, 4, 16, 33, 3, 2, 1, 1, 4, 3 },
  };
  GRand *rng = g_rand_new_with_seed (2007);
  PackdThreads *pool = packd_threads_new (2);

  FOR_EACH_LEVEL (level) {
    for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
      const int *c = cases[i];
      const int n = c[0], h = c[1], w = c[2], cin = c[3], cout = c[4], k = c[5];
      PackdConvParams p = { k, k, c[6], c[7], c[8], PACKD_ACT_RELU };
      const int64_t wshape[4] = { k, k, cin, cout }, out_count = (int64_t) n * c[9] * c[10] * cout;
      g_autofree float *x = packd_test_random_floats (rng, (int64_t) n * h * w * cin, -2, 2);
      g_autofree float *wt = packd_test_random_floats (rng, (int64_t) k * k * cin * cout, -1, 1);
      g_autofree float *bias = packd_test_random_floats (rng, cout, -1, 1);
      g_autofree float *y = g_new (float, out_count);
      g_autofree double *want = g_new (double, out_count);
      PackdTensor tin, tw, tout;
      char what[128];

      packd_tensor_init_nhwc (&tin, n, h, w, cin, x);
      packd_tensor_init (&tw, 4, wshape, wt);
      packd_tensor_init_nhwc (&tout, n, c[9], c[10], cout, y);
      g_autofree float *packed = g_new (float, packd_conv2d_packed_floats (&tw));
      g_autofree float *scratch = g_new (float,
          MAX (1, packd_conv2d_packed_scratch_floats (&p, &tin, &tout, 2)));
      packd_conv2d_pack_weight (&tw, packed);
      packd_conv2d_forward_packed (&p, &tin, &tw, packed, bias, &tout, scratch, i % 2 ? pool : NULL);
      naive_conv2d (x, n, h, w, cin, wt, k, k, cout, bias, p.stride, p.pad_top, p.pad_left, p.act,
          c[9], c[10], want);
      g_snprintf (what, sizeof what, "%s packed conv case %u", packd_simd_level_name (level), i);
      packd_test_assert_close (y, want, out_count, RTOL, 1e-6 * (k * k * cin + 1) * 2, what);
    }
  }
  restore_level ();
  packd_threads_free (pool);
  g_rand_free (rng);
}
END_TEST

/* ---------------------------------------------------------- depthwise */

/* SAME and explicit pads (border rows/columns of every kind, rows with all
 * taps outside), channel counts around the 8 and 16 lane widths. */
START_TEST (test_depthwise_levels)
{
  static const int hw[] = { 1, 2, 3, 4, 5, 7, 16, 19 };
  static const int chans[] = { 1, 5, 8, 16, 17, 24, 33, 48 };
  GRand *rng = g_rand_new_with_seed (2003);
  PackdThreads *pool = packd_threads_new (2);

  FOR_EACH_LEVEL (level) {
    for (int rep = 0; rep < 96; rep++) {
      const int stride = 1 + rep % 2, k = 3;
      const int n = 1 + (rep / 2) % 2;
      const int h = hw[g_rand_int_range (rng, 0, G_N_ELEMENTS (hw))];
      const int w = hw[g_rand_int_range (rng, 0, G_N_ELEMENTS (hw))];
      const int c = chans[g_rand_int_range (rng, 0, G_N_ELEMENTS (chans))];
      const PackdActivation act = acts[rep % 3];
      const gboolean with_bias = (rep / 3) % 2;
      PackdThreads *use_pool = (rep / 6) % 2 ? pool : NULL;
      PackdConvParams p;
      int oh, ow;
      packd_conv_params_same (&p, k, stride, h, w, act, &oh, &ow);
      if ((rep / 12) % 2) {
        p.pad_top = g_rand_int_range (rng, 0, k);
        p.pad_left = g_rand_int_range (rng, 0, k);
        oh = (h + p.pad_top + g_rand_int_range (rng, k - 1, k + 1) - k) / stride + 1;
        ow = (w + p.pad_left + g_rand_int_range (rng, k - 1, k + 1) - k) / stride + 1;
      }
      const int64_t out_count = (int64_t) n * oh * ow * c;
      const int64_t wshape[3] = { k, k, c };
      g_autofree float *x = packd_test_random_floats (rng, (int64_t) n * h * w * c, -2, 2);
      g_autofree float *wt = packd_test_random_floats (rng, (int64_t) k * k * c, -1, 1);
      g_autofree float *bias = with_bias ? packd_test_random_floats (rng, c, -1, 1) : NULL;
      g_autofree float *y = g_new (float, MAX (out_count, 1));
      g_autofree double *want = g_new (double, MAX (out_count, 1));
      PackdTensor tin, tw, tout;
      char what[160];

      packd_tensor_init_nhwc (&tin, n, h, w, c, x);
      packd_tensor_init (&tw, 3, wshape, wt);
      packd_tensor_init_nhwc (&tout, n, oh, ow, c, y);
      packd_depthwise_forward_threads (&p, &tin, &tw, bias, &tout, use_pool);
      naive_depthwise (x, n, h, w, c, wt, k, k, bias, stride, p.pad_top, p.pad_left, act, oh, ow,
          want);
      g_snprintf (what, sizeof what, "%s depthwise n%d %dx%dx%d -> %dx%d s%d pad(%d,%d) act%d threads%d",
          packd_simd_level_name (level), n, h, w, c, oh, ow, stride, p.pad_top, p.pad_left, act,
          packd_threads_get_n (use_pool));
      packd_test_assert_close (y, want, out_count, RTOL, 1e-6 * (k * k + 1) * 2, what);
    }
  }
  restore_level ();
  packd_threads_free (pool);
  g_rand_free (rng);
}
END_TEST

/* ------------------------------------------------------- fused block */

static float *
to_floats (const double *v, int64_t count)
{
  float *f = g_new (float, MAX (count, 1));
  for (int64_t i = 0; i < count; i++)
    f[i] = (float) v[i];
  return f;
}

/* [expand] -> depthwise 3x3 -> project [+ input] against the naive layers
 * one after the other (intermediates rounded to float, as the engine keeps
 * them), on sizes around the row groups and thread bands; the expand is a
 * 1x1 conv or a 3x3 one (stride 1 or 2, like the network's stem). */
START_TEST (test_block_fused)
{
  static const int hw[] = { 1, 2, 3, 5, 8, 16, 17, 33 };
  static const int chans[] = { 3, 8, 16, 17, 24 };
  GRand *rng = g_rand_new_with_seed (2006);
  PackdThreads *pool = packd_threads_new (3);

  FOR_EACH_LEVEL (level) {
    for (int rep = 0; rep < 64; rep++) {
      const gboolean expand = rep % 2, residual = (rep / 2) % 2;
      const int stride = residual ? 1 : 1 + (rep / 4) % 2;
      const int ek = expand && (rep / 16) % 2 ? 3 : 1;
      const int es = ek == 3 && !residual && (rep / 32) % 2 ? 2 : 1;
      const int h = hw[g_rand_int_range (rng, 0, G_N_ELEMENTS (hw))];
      const int w = hw[g_rand_int_range (rng, 0, G_N_ELEMENTS (hw))];
      const int cin = chans[g_rand_int_range (rng, 0, G_N_ELEMENTS (chans))];
      const int ce = expand ? chans[g_rand_int_range (rng, 0, G_N_ELEMENTS (chans))] : cin;
      const int co = residual ? cin : chans[g_rand_int_range (rng, 0, G_N_ELEMENTS (chans))];
      PackdThreads *use_pool = (rep / 8) % 2 ? pool : NULL;
      PackdBlockParams b = { 0 };
      int oh, ow, mh = h, mw = w;
      if (expand)
        packd_conv_params_same (&b.expand, ek, es, h, w, PACKD_ACT_RELU6, &mh, &mw);
      packd_conv_params_same (&b.dw, 3, stride, mh, mw, PACKD_ACT_RELU6, &oh, &ow);
      const int64_t ew_shape[4] = { ek, ek, cin, ce }, dw_shape[3] = { 3, 3, ce };
      const int64_t pw_shape[4] = { 1, 1, ce, co };
      g_autofree float *x = packd_test_random_floats (rng, (int64_t) h * w * cin, -2, 2);
      g_autofree float *ew = packd_test_random_floats (rng, (int64_t) ek * ek * cin * ce, -1, 1);
      g_autofree float *eb = packd_test_random_floats (rng, ce, -1, 1);
      g_autofree float *dw = packd_test_random_floats (rng, 9 * ce, -1, 1);
      g_autofree float *db = packd_test_random_floats (rng, ce, -1, 1);
      g_autofree float *pw = packd_test_random_floats (rng, (int64_t) ce * co, -1, 1);
      g_autofree float *pb = packd_test_random_floats (rng, co, -1, 1);
      g_autofree float *y = g_new (float, (int64_t) oh * ow * co);
      g_autofree double *e_ref = g_new (double, (int64_t) mh * mw * ce);
      g_autofree double *d_ref = g_new (double, (int64_t) oh * ow * ce);
      g_autofree double *want = g_new (double, (int64_t) oh * ow * co);
      PackdTensor tin, tout, tew, tdw, tpw;
      char what[160];

      packd_tensor_init_nhwc (&tin, 1, h, w, cin, x);
      packd_tensor_init_nhwc (&tout, 1, oh, ow, co, y);
      packd_tensor_init (&tew, 4, ew_shape, ew);
      packd_tensor_init (&tdw, 3, dw_shape, dw);
      packd_tensor_init (&tpw, 4, pw_shape, pw);
      g_autofree float *epacked = g_new (float, packd_conv2d_packed_floats (&tew));
      g_autofree float *ppacked = g_new (float, packd_conv2d_packed_floats (&tpw));
      packd_conv2d_pack_weight (&tew, epacked);
      packd_conv2d_pack_weight (&tpw, ppacked);
      if (expand) {
        b.expand_weight = &tew;
        b.expand_packed = epacked;
        b.expand_bias = eb;
        b.expand_h = mh;
        b.expand_w = mw;
      }
      b.dw_weight = &tdw;
      b.dw_bias = db;
      b.project_weight = &tpw;
      b.project_packed = ppacked;
      b.project_bias = pb;
      b.project_act = PACKD_ACT_NONE;
      b.residual = residual;
      g_autofree float *scratch = g_new (float, packd_block_scratch_floats (&b, &tin, &tout, 3));
      packd_block_forward (&b, &tin, &tout, scratch, use_pool);

      g_autofree float *e = NULL;
      if (expand) {
        naive_conv2d (x, 1, h, w, cin, ew, ek, ek, ce, eb, es, b.expand.pad_top, b.expand.pad_left,
            PACKD_ACT_RELU6, mh, mw, e_ref);
        e = to_floats (e_ref, (int64_t) mh * mw * ce);
      }
      naive_depthwise (expand ? e : x, 1, mh, mw, ce, dw, 3, 3, db, stride, b.dw.pad_top,
          b.dw.pad_left, PACKD_ACT_RELU6, oh, ow, d_ref);
      g_autofree float *d = to_floats (d_ref, (int64_t) oh * ow * ce);
      naive_conv2d (d, 1, oh, ow, ce, pw, 1, 1, co, pb, 1, 0, 0, PACKD_ACT_NONE, oh, ow, want);
      if (residual)
        for (int64_t i = 0; i < (int64_t) oh * ow * co; i++)
          want[i] += x[i];
      g_snprintf (what, sizeof what,
          "%s block %dx%dx%d expand%d (k%d s%d) ->%d s%d ->%d residual%d threads%d",
          packd_simd_level_name (level), h, w, cin, expand, ek, es, ce, stride, co, residual,
          packd_threads_get_n (use_pool));
      /* Intermediates up to 6 (ReLU6) summed over ce products, plus the
       * float rounding of the intermediates themselves. */
      packd_test_assert_close (y, want, (int64_t) oh * ow * co, RTOL,
          1e-5 * (ce + 9 + 9 * cin) * 6, what);
    }
  }
  restore_level ();
  packd_threads_free (pool);
  g_rand_free (rng);
}
END_TEST

/* --------------------------------------------------------- knn search */

/* Squared distance to the nearest bank row in [begin, end), combined by min
 * with what min_dist2 held, in double. */
static void
naive_nearest (const float *queries, int nq, const float *bank, int begin, int end, int dim,
    const float *start, double *want)
{
  for (int q = 0; q < nq; q++) {
    double best = start[q];
    for (int r = begin; r < end; r++) {
      double d = 0;
      for (int c = 0; c < dim; c++) {
        double diff = (double) queries[q * dim + c] - bank[r * dim + c];
        d += diff * diff;
      }
      best = MIN (best, d);
    }
    want[q] = best;
  }
}

/* Query counts around the 16-query panels and 128-query blocks, bank
 * sub-ranges, and a min_dist2 that already holds smaller values for some
 * queries (the scorer searches two ranges into one grid). */
START_TEST (test_knn_search_levels)
{
  static const int nqs[] = { 1, 15, 17, 130, 300 };
  static const int dims[] = { 1, 7, 40 };
  GRand *rng = g_rand_new_with_seed (2004);

  FOR_EACH_LEVEL (level) {
    for (int rep = 0; rep < 12; rep++) {
      const int nq = nqs[g_rand_int_range (rng, 0, G_N_ELEMENTS (nqs))];
      const int dim = dims[rep % 3], rows = g_rand_int_range (rng, 1, 60);
      const int begin = g_rand_int_range (rng, 0, rows), end = g_rand_int_range (rng, begin, rows + 1);
      g_autofree float *queries = packd_test_random_floats (rng, (int64_t) nq * dim, -1, 1);
      g_autofree float *bank = packd_test_random_floats (rng, (int64_t) rows * dim, -1, 1);
      g_autofree float *norms = g_new (float, rows);
      g_autofree float *got = g_new (float, nq);
      g_autofree double *want = g_new (double, nq);
      char what[128];
      PackdKnnSearch *s = packd_knn_search_new (nq, dim, NULL);

      for (int r = 0; r < rows; r++) {
        norms[r] = 0.f;
        for (int c = 0; c < dim; c++)
          norms[r] += bank[r * dim + c] * bank[r * dim + c];
      }
      for (int q = 0; q < nq; q++)
        got[q] = q % 3 == 0 ? (float) g_rand_double_range (rng, 0, 0.5) : INFINITY;
      /* The start values are what the naive search starts from too. */
      naive_nearest (queries, nq, bank, begin, end, dim, got, want);
      packd_knn_search_run (s, queries, bank, norms, begin, end, got);
      g_snprintf (what, sizeof what, "%s knn search nq%d dim%d rows %d..%d",
          packd_simd_level_name (level), nq, dim, begin, end);
      /* |q|^2 + |b|^2 - 2 q.b cancels: the error scales with the norms. */
      for (int q = 0; q < nq; q++)
        ck_assert_msg (isinf (want[q]) ? isinf (got[q]) : fabs (got[q] - want[q]) <= 1e-5 * 4 * dim,
            "%s: query %d is %.9g, expected %.9g", what, q, got[q], want[q]);
      packd_knn_search_free (s);
    }
  }
  restore_level ();
  g_rand_free (rng);
}
END_TEST

/* Four tight, far-apart clusters: farthest-point sampling takes one point
 * of each before a second of any; indices come back distinct and sorted,
 * and the same bank gives the same selection. */
START_TEST (test_coreset_select)
{
  const int per = 25, rows = 4 * per, dim = 300;
  GRand *rng = g_rand_new_with_seed (2005);
  g_autofree float *bank = g_new (float, rows * dim);
  int sel[4], again[4], all[100];

  for (int r = 0; r < rows; r++)
    for (int c = 0; c < dim; c++)
      bank[r * dim + c] = (c % 4 == r / per ? 10.f : 0.f) + (float) g_rand_double_range (rng, -0.1, 0.1);
  ck_assert (packd_knn_coreset_select (bank, rows, dim, 4, sel, NULL));
  ck_assert (packd_knn_coreset_select (bank, rows, dim, 4, again, NULL));
  for (int t = 0; t < 4; t++) {
    ck_assert_int_eq (sel[t], again[t]);
    ck_assert_msg (sel[t] / per == t, "pick %d (row %d) is not from cluster %d", t, sel[t], t);
  }
  ck_assert (packd_knn_coreset_select (bank, rows, dim, rows, all, NULL));
  for (int t = 0; t < rows; t++)
    ck_assert_int_eq (all[t], t);
  g_rand_free (rng);
}
END_TEST

static guint8 *
make_image (int w, int h, int phase, guint32 seed)
{
  GRand *rng = g_rand_new_with_seed (seed);
  guint8 *p = g_new (guint8, w * h * 3);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      for (int c = 0; c < 3; c++) {
        double v = 0.5 + 0.25 * sin ((x + phase) * 0.5 + c) + 0.2 * cos ((y + phase) * 0.4);
        p[(y * w + x) * 3 + c] = CLAMP ((int) (v * 200) + g_rand_int_range (rng, -8, 9), 0, 255);
      }
  g_rand_free (rng);
  return p;
}

/* A coreset bank is a subset of the exact one: every nearest-neighbour
 * distance can only grow, and the resize, the blur (non-negative weights)
 * and the max keep that order; so does the calibrated threshold's input. */
START_TEST (test_coreset_scores_not_below_exact)
{
  const int w = 96, h = 80;
  GError *error = NULL;
  PackdScorer *s = packd_scorer_new (packd_test_teacher_path (), PACKD_METHOD_KNN, &error);
  guint8 *pix[3];
  PackdImage imgs[3];
  PackdResult exact, reduced;
  PackdSupport *sup;

  ck_assert_msg (s != NULL, "%s", error ? error->message : "?");
  packd_scorer_set_threads (s, 2);
  for (int i = 0; i < 3; i++) {
    pix[i] = make_image (w, h, 3 * i, 100 + i);
    imgs[i] = (PackdImage) { pix[i], w, h, w * 3, PACKD_PIXEL_RGB };
  }
  ck_assert (packd_scorer_get_coreset_fraction (s) == 1.f);
  sup = packd_scorer_build_support (s, imgs, 2, &error);
  ck_assert_msg (sup != NULL, "%s", error ? error->message : "?");
  packd_scorer_set_support (s, sup);
  packd_support_unref (sup);
  ck_assert (packd_scorer_score (s, &imgs[2], &exact, NULL));
  const float exact_raw = exact.raw_score;

  packd_scorer_set_coreset_fraction (s, 0.1f);
  ck_assert (packd_scorer_get_coreset_fraction (s) == 0.1f);
  sup = packd_scorer_build_support (s, imgs, 2, &error);
  ck_assert_msg (sup != NULL, "%s", error ? error->message : "?");
  packd_scorer_set_support (s, sup);
  packd_support_unref (sup);
  ck_assert (packd_scorer_score (s, &imgs[2], &reduced, NULL));
  ck_assert_msg (reduced.raw_score >= exact_raw * (1 - 1e-5f),
      "coreset raw score %g below the exact %g", reduced.raw_score, exact_raw);
  /* Out-of-range fractions mean "exact". */
  packd_scorer_set_coreset_fraction (s, 1.5f);
  ck_assert (packd_scorer_get_coreset_fraction (s) == 1.f);
  for (int i = 0; i < 3; i++)
    g_free (pix[i]);
  packd_scorer_free (s);
}
END_TEST

/* ---------------------------------------------------------- threads */

typedef struct {
  gint *hits;
  gint *thread_seen;
  int n_threads;
} CountJob;

static void
count_task (gpointer data, int task, int thread)
{
  CountJob *j = data;
  ck_assert_int_ge (thread, 0);
  ck_assert_int_lt (thread, j->n_threads);
  g_atomic_int_inc (&j->hits[task]);
  g_atomic_int_set (&j->thread_seen[thread], 1);
}

/* Every task runs exactly once per job, over many back-to-back jobs (the
 * workers spinning) and after pauses (the workers asleep). */
START_TEST (test_threads_every_task_once)
{
  for (int n_threads = 1; n_threads <= 4; n_threads++) {
    PackdThreads *pool = packd_threads_new (n_threads);
    gint hits[257], seen[4] = { 0 };
    CountJob j = { hits, seen, n_threads };

    ck_assert_int_eq (packd_threads_get_n (pool), n_threads);
    ck_assert (n_threads > 1 || pool == NULL);
    for (int job = 0; job < 300; job++) {
      const int n_tasks = job % 258;
      for (int t = 0; t < 257; t++)
        hits[t] = 0;
      if (job % 100 == 99)
        g_usleep (5000);        /* longer than the workers spin */
      packd_threads_run (pool, n_tasks, count_task, &j);
      for (int t = 0; t < 257; t++)
        ck_assert_msg (hits[t] == (t < n_tasks), "threads %d job %d task %d ran %d times",
            n_threads, job, t, hits[t]);
    }
    ck_assert (seen[0]);
    packd_threads_free (pool);
  }
}
END_TEST

/* ----------------------------------------------------- blur and pool */

/* Widths around the 16- and 64-float steps and the 256-column row blocks,
 * heights below and above the radius, the knn map size itself; a
 * constant-plus-noise map so that border mirroring errors show. */
START_TEST (test_blur_levels)
{
  static const int sizes[][2] = {
    { 1, 1 }, { 3, 17 }, { 17, 3 }, { 9, 63 }, { 31, 64 }, { 5, 65 }, { 23, 79 },
    { 7, 255 }, { 4, 257 }, { 3, 300 }, { 256, 256 }, { 70, 513 },
  };
  static const float sigmas[] = { 0.5f, 1.5f, 4.f };
  GRand *rng = g_rand_new_with_seed (2006);

  FOR_EACH_LEVEL (level) {
    for (guint i = 0; i < G_N_ELEMENTS (sizes); i++) {
      const int h = sizes[i][0], w = sizes[i][1];
      const float sigma = sigmas[i % G_N_ELEMENTS (sigmas)];
      const gboolean in_place = i % 2;
      g_autofree float *x = packd_test_random_floats (rng, (int64_t) h * w, -1, 1);
      g_autofree float *scratch = g_new (float, (int64_t) h * w);
      g_autofree float *y = g_new (float, (int64_t) h * w);
      g_autofree double *want = g_new (double, (int64_t) h * w);
      char what[128];
      int radius;

      naive_gaussian_blur (x, h, w, sigma, 4.0, want);
      radius = packd_gaussian_blur_forward (x, h, w, sigma, 4.f, in_place ? x : y, scratch);
      g_snprintf (what, sizeof what, "%s blur %dx%d sigma %g%s", packd_simd_level_name (level),
          h, w, sigma, in_place ? " in place" : "");
      ck_assert_int_eq (radius, naive_gaussian_radius (sigma, 4.0));
      packd_test_assert_close (in_place ? x : y, want, (int64_t) h * w, RTOL,
          1e-6 * 2 * (2 * radius + 1), what);
    }
  }
  restore_level ();
  g_rand_free (rng);
}
END_TEST

/* Channels around the 16-float vectors and the 256-channel chunks, maps
 * narrower than the window, batch 2, odd and even kernels. */
START_TEST (test_avgpool_same_levels)
{
  static const int shapes[][4] = {      /* n, h, w, c */
    { 1, 1, 1, 1 }, { 1, 2, 3, 17 }, { 2, 5, 4, 16 }, { 1, 7, 9, 33 }, { 1, 6, 5, 144 },
    { 1, 4, 6, 257 }, { 1, 3, 3, 576 }, { 2, 9, 2, 5 },
  };
  static const int kernels[] = { 1, 2, 3, 5, 7 };
  GRand *rng = g_rand_new_with_seed (2007);

  FOR_EACH_LEVEL (level) {
    for (guint i = 0; i < G_N_ELEMENTS (shapes); i++)
      for (guint k = 0; k < G_N_ELEMENTS (kernels); k++) {
        const int n = shapes[i][0], h = shapes[i][1], w = shapes[i][2], c = shapes[i][3];
        const int64_t count = (int64_t) n * h * w * c;
        g_autofree float *x = packd_test_random_floats (rng, count, -3, 3);
        g_autofree float *y = g_new (float, count);
        g_autofree double *want = g_new (double, count);
        PackdTensor tin, tout;
        char what[128];

        packd_tensor_init_nhwc (&tin, n, h, w, c, x);
        packd_tensor_init_nhwc (&tout, n, h, w, c, y);
        packd_avgpool_same_forward (&tin, kernels[k], &tout);
        naive_avgpool_same (x, n, h, w, c, kernels[k], want);
        g_snprintf (what, sizeof what, "%s avgpool %dx%dx%dx%d kernel %d",
            packd_simd_level_name (level), n, h, w, c, kernels[k]);
        packd_test_assert_close (y, want, count, RTOL, 1e-6 * 3 * (kernels[k] + 1) * (kernels[k] + 1),
            what);
      }
  }
  restore_level ();
  g_rand_free (rng);
}
END_TEST

static Suite *
kernels_suite (void)
{
  Suite *s = suite_create ("kernels");
  TCase *tc = tcase_create ("kernels");

  tcase_set_timeout (tc, 300);
  tcase_add_test (tc, test_levels);
  tcase_add_test (tc, test_gemm_rows);
  tcase_add_test (tc, test_conv2d_packed);
  tcase_add_test (tc, test_conv2d_packed_output_size);
  tcase_add_test (tc, test_depthwise_levels);
  tcase_add_test (tc, test_block_fused);
  tcase_add_test (tc, test_knn_search_levels);
  tcase_add_test (tc, test_blur_levels);
  tcase_add_test (tc, test_avgpool_same_levels);
  tcase_add_test (tc, test_coreset_select);
  tcase_add_test (tc, test_threads_every_task_once);
  suite_add_tcase (s, tc);
  /* Separate case (CK_RUN_CASE=kernels skips it): it runs the teacher. */
  tc = tcase_create ("scorer");
  tcase_set_timeout (tc, 300);
  tcase_add_test (tc, test_coreset_scores_not_below_exact);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  return packd_test_run (kernels_suite ());
}
