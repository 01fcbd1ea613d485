/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/* Gradient checks of PEIM's attention pieces: matmul in all four
 * transpose combinations (overwrite and accumulate), softmax and row
 * L2-normalisation backward. */
#include <math.h>
#include <string.h>

#include "gradcheck-util.h"

#define RANGE(rng, lo, hi) g_rand_int_range ((rng), (lo), (hi) + 1)

typedef struct {
  gboolean ta, tb;
  int64_t m, n, k;
  float alpha;
  float *a, *b, *out, *r;
} MatmulCtx;

static double
matmul_loss (gpointer data, guint64 *pattern)
{
  MatmulCtx *c = data;
  packd_matmul_forward (c->ta, c->tb, c->m, c->n, c->k, c->alpha, c->a, c->b, c->out);
  return gc_dot (c->r, c->out, c->m * c->n);
}

START_TEST (test_matmul_backward)
{
  GRand *rng = g_rand_new_with_seed (6001);

  for (int ta = 0; ta <= 1; ta++)
    for (int tb = 0; tb <= 1; tb++)
      for (int rep = 0; rep < 3; rep++) {
        MatmulCtx c = { ta, tb, RANGE (rng, 1, 6), RANGE (rng, 1, 6), RANGE (rng, 1, 7),
          (float) g_rand_double_range (rng, 0.5, 3) };
        const int64_t na = c.m * c.k, nb = c.k * c.n;
        char what[100];

        c.a = packd_test_random_floats (rng, na, -1, 1);
        c.b = packd_test_random_floats (rng, nb, -1, 1);
        c.out = g_new (float, c.m * c.n);
        c.r = packd_test_random_floats (rng, c.m * c.n, -1, 1);
        g_autofree float *ga = gc_nans (na), *gb = gc_nans (nb);
        g_autofree float *ga0 = packd_test_random_floats (rng, na, -1, 1);
        g_autofree float *gb0 = packd_test_random_floats (rng, nb, -1, 1);
        g_autofree float *ga_acc = g_memdup2 (ga0, na * sizeof (float));
        g_autofree float *gb_acc = g_memdup2 (gb0, nb * sizeof (float));

        packd_matmul_backward (ta, tb, c.m, c.n, c.k, c.alpha, c.a, c.b, c.r, ga, gb, FALSE);
        packd_matmul_backward (ta, tb, c.m, c.n, c.k, c.alpha, c.a, c.b, c.r, ga_acc, gb_acc,
            TRUE);
        g_autofree float *da = gc_accumulated (ga_acc, ga0, na, 1.f);
        g_autofree float *db = gc_accumulated (gb_acc, gb0, nb, 1.f);
        gc_assert_same ("matmul accumulate a", da, ga, na, 1e-5);
        gc_assert_same ("matmul accumulate b", db, gb, nb, 1e-5);
        g_snprintf (what, sizeof what, "matmul ta%d tb%d %dx%dx%d a", ta, tb, (int) c.m,
            (int) c.n, (int) c.k);
        gc_check_float (what, matmul_loss, &c, c.a, na, ga, &gc_float_tol);
        what[strlen (what) - 1] = 'b';
        gc_check_float (what, matmul_loss, &c, c.b, nb, gb, &gc_float_tol);
        g_free (c.a);
        g_free (c.b);
        g_free (c.out);
        g_free (c.r);
      }
  g_rand_free (rng);
}
END_TEST

typedef struct {
  float *x, *y, *r, *norms;
  int64_t rows, n;
  gboolean l2;
} RowCtx;

static double
row_loss (gpointer data, guint64 *pattern)
{
  RowCtx *c = data;
  if (c->l2)
    packd_l2_normalize_rows_forward (c->x, c->rows, c->n, c->y, c->norms);
  else {
    memcpy (c->y, c->x, c->rows * c->n * sizeof (float));
    packd_softmax_forward (c->y, c->rows, c->n);
  }
  return gc_dot (c->r, c->y, c->rows * c->n);
}

START_TEST (test_softmax_l2_backward)
{
  GRand *rng = g_rand_new_with_seed (6002);

  for (int l2 = 0; l2 <= 1; l2++)
    for (int rep = 0; rep < 4; rep++) {
      RowCtx c = { .rows = RANGE (rng, 1, 4), .n = RANGE (rng, 1, 9), .l2 = l2 };
      const int64_t count = c.rows * c.n;
      guint64 dummy;
      char what[100];

      c.x = packd_test_random_floats (rng, count, -3, 3);
      c.y = g_new (float, count);
      c.r = packd_test_random_floats (rng, count, -1, 1);
      c.norms = g_new (float, c.rows);
      g_autofree float *gi = gc_nans (count);
      g_autofree float *in_place = g_memdup2 (c.r, count * sizeof (float));

      row_loss (&c, &dummy);
      if (l2) {
        packd_l2_normalize_rows_backward (c.y, c.norms, c.r, c.rows, c.n, gi);
        packd_l2_normalize_rows_backward (c.y, c.norms, in_place, c.rows, c.n, in_place);
      } else {
        packd_softmax_backward (c.y, c.r, c.rows, c.n, gi);
        packd_softmax_backward (c.y, in_place, c.rows, c.n, in_place);
      }
      gc_assert_same ("backward in place", in_place, gi, count, 0);
      g_snprintf (what, sizeof what, "%s %dx%d", l2 ? "l2-normalise" : "softmax",
          (int) c.rows, (int) c.n);
      gc_check_float (what, row_loss, &c, c.x, count, gi, &gc_float_tol);
      g_free (c.x);
      g_free (c.y);
      g_free (c.r);
      g_free (c.norms);
    }
  g_rand_free (rng);
}
END_TEST

/* Softmax over large logits stays finite and its gradient sums to zero
 * per row (softmax is shift-invariant). */
START_TEST (test_softmax_backward_large_logits)
{
  float x[6] = { 80, 70, -50, 90, 89, 88 }, r[6] = { 1, -2, 3, 0.5f, -1, 2 }, g[6];

  packd_softmax_forward (x, 2, 3);
  packd_softmax_backward (x, r, 2, 3, g);
  for (int row = 0; row < 2; row++) {
    double s = 0;
    for (int i = 0; i < 3; i++) {
      ck_assert (isfinite (g[row * 3 + i]));
      s += g[row * 3 + i];
    }
    ck_assert_msg (fabs (s) < 1e-6, "row %d gradient sums to %g", row, s);
  }
}
END_TEST

/* A zero row normalises to zero (x / eps) with a finite gradient. */
START_TEST (test_l2_normalize_zero_row)
{
  float x[3] = { 0, 0, 0 }, y[3], norms[1], r[3] = { 1e-9f, -2e-9f, 3e-9f }, g[3];

  packd_l2_normalize_rows_forward (x, 1, 3, y, norms);
  packd_l2_normalize_rows_backward (y, norms, r, 1, 3, g);
  for (int i = 0; i < 3; i++) {
    ck_assert_float_eq (y[i], 0.f);
    ck_assert_float_eq_tol (g[i], r[i] / PACKD_L2_NORMALIZE_EPS, 1e-5);
  }
}
END_TEST

TCase *
gc_attention_tcase (void)
{
  TCase *tc = tcase_create ("attention");
  tcase_add_test (tc, test_matmul_backward);
  tcase_add_test (tc, test_softmax_l2_backward);
  tcase_add_test (tc, test_softmax_backward_large_logits);
  tcase_add_test (tc, test_l2_normalize_zero_row);
  return tc;
}
