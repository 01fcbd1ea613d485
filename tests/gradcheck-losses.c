/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/* The training losses against double-precision references written from
 * their definitions (packd-losses.h, method.md §4-§5): the value must match
 * and the engine's gradient must match central differences of the
 * reference (h = 1e-5 in double).  Gradients are requested with a weight
 * and onto a random start, so the checks also cover weighting and
 * accumulation. */
#include <math.h>
#include <string.h>

#include "gradcheck-util.h"
#include "packd-losses.h"

#define RANGE(rng, lo, hi) g_rand_int_range ((rng), (lo), (hi) + 1)
#define WEIGHT 0.7f

typedef struct {
  int64_t B, H, W, C, R, Br, M;
  double tau;
  PackdKdMode mode;
  double *t, *s, *refs;         /* refs [Br,R,C]; for the orthogonal loss, P [B,M,C] */
} LossRef;

static double
ref_cos (const double *a, const double *b, int64_t len)
{
  double dot = 0, aa = 0, bb = 0;
  for (int64_t i = 0; i < len; i++) {
    dot += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return dot / MAX (sqrt (aa) * sqrt (bb), (double) PACKD_COSINE_EPS);
}

static double
ref_kd (gpointer data)
{
  LossRef *r = data;
  const int64_t total = r->B * r->H * r->W * r->C;
  const int64_t len = r->mode == PACKD_KD_FLAT ? total / r->B : r->C;
  double sum = 0;
  for (int64_t i = 0; i < total / len; i++)
    sum += 1 - ref_cos (r->t + i * len, r->s + i * len, len);
  return sum / (double) (total / len);
}

static double
ref_contrastive (gpointer data)
{
  LossRef *r = data;
  const int64_t HW = r->H * r->W, C = r->C;
  double sum = 0;
  for (int64_t b = 0; b < r->B; b++) {
    const int64_t prev = (b + r->B - 1) % r->B;
    for (int64_t p = 0; p < HW; p++) {
      const double *t = r->t + (b * HW + p) * C;
      const double pos = exp (ref_cos (r->s + (b * HW + p) * C, t, C) / r->tau);
      const double neg = exp (ref_cos (r->s + (prev * HW + p) * C, t, C) / r->tau);
      sum += -log (pos / (pos + neg));
    }
  }
  return sum / (double) (r->B * HW);
}

static double
ref_relation (gpointer data)
{
  LossRef *r = data;
  const int64_t HW = r->H * r->W, C = r->C, R = r->R;
  double *lt = g_new (double, R), *ls = g_new (double, R), sum = 0;
  for (int64_t b = 0; b < r->B; b++) {
    const double *refs = r->refs + (r->Br == 1 ? 0 : b) * R * C;
    for (int64_t p = 0; p < HW; p++) {
      double zt = 0, zs = 0, kl = 0;
      for (int64_t j = 0; j < R; j++) {
        lt[j] = exp (ref_cos (r->t + (b * HW + p) * C, refs + j * C, C) / r->tau);
        ls[j] = exp (ref_cos (r->s + (b * HW + p) * C, refs + j * C, C) / r->tau);
        zt += lt[j];
        zs += ls[j];
      }
      for (int64_t j = 0; j < R; j++)
        kl += lt[j] / zt * log ((lt[j] / zt) / (ls[j] / zs));
      sum += kl;
    }
  }
  g_free (lt);
  g_free (ls);
  return sum / (double) (r->B * HW);
}

static double
ref_orthogonal (gpointer data)
{
  LossRef *r = data;
  const int64_t M = r->M, C = r->C;
  double sum = 0;
  for (int64_t b = 0; b < r->B; b++) {
    const double *P = r->refs + b * M * C;
    double fro = 0;
    for (int64_t i = 0; i < M; i++)
      for (int64_t j = 0; j < M; j++) {
        double dot = 0, ni = 0, nj = 0;
        for (int64_t c = 0; c < C; c++) {
          dot += P[i * C + c] * P[j * C + c];
          ni += P[i * C + c] * P[i * C + c];
          nj += P[j * C + c] * P[j * C + c];
        }
        const double g = dot / (MAX (sqrt (ni), (double) PACKD_L2_NORMALIZE_EPS)
            * MAX (sqrt (nj), (double) PACKD_L2_NORMALIZE_EPS)) - (i == j);
        fro += g * g;
      }
    sum += fro / (double) (M * M);
  }
  return sum / (double) r->B;
}

static void
assert_value (const char *what, double got, double want)
{
  ck_assert_msg (fabs (got - want) <= 1e-5 * fabs (want) + 1e-6,
      "%s: loss %.9g, reference %.9g", what, got, want);
}

/* Feature pair [B,H,W,C] in float for the engine, double for the reference. */
typedef struct {
  PackdTensor t, s, gs;
  float *gs0;
} Features;

static void
features_init (Features *f, LossRef *r, GRand *rng, double lo, double hi)
{
  const int64_t n = r->B * r->H * r->W * r->C;
  packd_tensor_init_nhwc (&f->t, r->B, r->H, r->W, r->C, packd_test_random_floats (rng, n, lo, hi));
  packd_tensor_init_nhwc (&f->s, r->B, r->H, r->W, r->C, packd_test_random_floats (rng, n, lo, hi));
  f->gs0 = packd_test_random_floats (rng, n, -1, 1);
  packd_tensor_init_nhwc (&f->gs, r->B, r->H, r->W, r->C, g_memdup2 (f->gs0, n * sizeof (float)));
  r->t = gc_to_doubles (f->t.data, n);
  r->s = gc_to_doubles (f->s.data, n);
}

static void
features_clear (Features *f, LossRef *r)
{
  g_free (f->t.data);
  g_free (f->s.data);
  g_free (f->gs.data);
  g_free (f->gs0);
  g_free (r->t);
  g_free (r->s);
}

START_TEST (test_loss_kd)
{
  GRand *rng = g_rand_new_with_seed (7001);

  for (int mode = 0; mode <= 1; mode++)
    for (int rep = 0; rep < 3; rep++) {
      LossRef r = { RANGE (rng, 1, 3), RANGE (rng, 1, 3), RANGE (rng, 1, 4), RANGE (rng, 2, 5),
        .mode = mode == 0 ? PACKD_KD_FLAT : PACKD_KD_PIXEL };
      const int64_t n = r.B * r.H * r.W * r.C;
      Features f;
      char what[100];

      /* Non-negative teacher features, as after the teacher's ReLU6. */
      features_init (&f, &r, rng, 0, 2);
      const double loss = packd_loss_kd (&f.t, &f.s, r.mode, WEIGHT, &f.gs);
      g_snprintf (what, sizeof what, "kd %s %dx%dx%dx%d", mode == 0 ? "flat" : "pixel",
          (int) r.B, (int) r.H, (int) r.W, (int) r.C);
      assert_value (what, loss, ref_kd (&r));
      g_autofree float *g = gc_accumulated (f.gs.data, f.gs0, n, WEIGHT);
      gc_check_double (what, ref_kd, &r, r.s, n, g, &gc_double_tol);
      features_clear (&f, &r);
    }
  g_rand_free (rng);
}
END_TEST

/* A student equal to the teacher up to scale has zero KD loss and zero
 * gradient; the opposite direction has loss 2. */
START_TEST (test_loss_kd_extremes)
{
  float t[6] = { 1, 2, 0, 3, 1, 1 }, s[6], g[6] = { 0 };
  PackdTensor tt, ts, tg;

  packd_tensor_init_nhwc (&tt, 1, 1, 2, 3, t);
  packd_tensor_init_nhwc (&ts, 1, 1, 2, 3, s);
  packd_tensor_init_nhwc (&tg, 1, 1, 2, 3, g);
  for (int i = 0; i < 6; i++)
    s[i] = 3 * t[i];
  ck_assert_double_eq_tol (packd_loss_kd (&tt, &ts, PACKD_KD_FLAT, 1, &tg), 0, 1e-7);
  for (int i = 0; i < 6; i++)
    ck_assert_float_eq_tol (g[i], 0, 1e-7);
  for (int i = 0; i < 6; i++)
    s[i] = -t[i];
  ck_assert_double_eq_tol (packd_loss_kd (&tt, &ts, PACKD_KD_PIXEL, 1, NULL), 2, 1e-7);
}
END_TEST

START_TEST (test_loss_contrastive)
{
  GRand *rng = g_rand_new_with_seed (7002);
  static const double taus[] = { 0.1, 0.5 };

  for (guint ti = 0; ti < G_N_ELEMENTS (taus); ti++)
    for (int rep = 0; rep < 3; rep++) {
      LossRef r = { RANGE (rng, 2, 4), RANGE (rng, 1, 3), RANGE (rng, 1, 3), RANGE (rng, 2, 5),
        .tau = taus[ti] };
      const int64_t n = r.B * r.H * r.W * r.C;
      Features f;
      char what[100];

      features_init (&f, &r, rng, -1, 2);
      const double loss = packd_loss_contrastive (&f.t, &f.s, r.tau, WEIGHT, &f.gs);
      g_snprintf (what, sizeof what, "contrastive tau %g %dx%dx%dx%d", r.tau, (int) r.B,
          (int) r.H, (int) r.W, (int) r.C);
      assert_value (what, loss, ref_contrastive (&r));
      g_autofree float *g = gc_accumulated (f.gs.data, f.gs0, n, WEIGHT);
      gc_check_double (what, ref_contrastive, &r, r.s, n, g, &gc_double_tol);
      features_clear (&f, &r);
    }
  g_rand_free (rng);
}
END_TEST

START_TEST (test_loss_relation)
{
  GRand *rng = g_rand_new_with_seed (7003);
  static const double taus[] = { 0.1, 0.5 };

  for (guint ti = 0; ti < G_N_ELEMENTS (taus); ti++)
    for (int shared = 0; shared <= 1; shared++)
      for (int rep = 0; rep < 2; rep++) {
        LossRef r = { RANGE (rng, 1, 3), RANGE (rng, 1, 3), RANGE (rng, 1, 3), RANGE (rng, 2, 5),
          .R = RANGE (rng, 1, 6), .tau = taus[ti] };
        r.Br = shared ? 1 : r.B;
        const int64_t n = r.B * r.H * r.W * r.C, n_refs = r.Br * r.R * r.C;
        const int64_t ref_shape[3] = { r.Br, r.R, r.C };
        Features f;
        PackdTensor trefs, tgrefs;
        char what[100];

        features_init (&f, &r, rng, -1, 2);
        g_autofree float *refs = packd_test_random_floats (rng, n_refs, -1, 2);
        g_autofree float *gr0 = packd_test_random_floats (rng, n_refs, -1, 1);
        g_autofree float *gr = g_memdup2 (gr0, n_refs * sizeof (float));
        packd_tensor_init (&trefs, 3, ref_shape, refs);
        packd_tensor_init (&tgrefs, 3, ref_shape, gr);
        r.refs = gc_to_doubles (refs, n_refs);

        const double loss = packd_loss_relation (&f.t, &f.s, &trefs, r.tau, WEIGHT, &f.gs,
            &tgrefs);
        g_snprintf (what, sizeof what, "relation tau %g %dx%dx%dx%d R%d/%d", r.tau, (int) r.B,
            (int) r.H, (int) r.W, (int) r.C, (int) r.R, (int) r.Br);
        assert_value (what, loss, ref_relation (&r));
        g_autofree float *g = gc_accumulated (f.gs.data, f.gs0, n, WEIGHT);
        g_autofree float *grefs = gc_accumulated (gr, gr0, n_refs, WEIGHT);
        gc_check_double (what, ref_relation, &r, r.s, n, g, &gc_double_tol);
        gc_check_double ("relation refs", ref_relation, &r, r.refs, n_refs, grefs,
            &gc_double_tol);
        g_free (r.refs);
        features_clear (&f, &r);
      }
  g_rand_free (rng);
}
END_TEST

START_TEST (test_loss_orthogonal)
{
  GRand *rng = g_rand_new_with_seed (7004);

  for (int rep = 0; rep < 6; rep++) {
    LossRef r = { .B = RANGE (rng, 1, 3), .M = RANGE (rng, 1, 5), .C = RANGE (rng, 2, 6) };
    const int64_t n = r.B * r.M * r.C, shape[3] = { r.B, r.M, r.C };
    /* Half the cases non-negative, like teacher-space prototypes. */
    g_autofree float *p = packd_test_random_floats (rng, n, rep % 2 ? 0 : -1, 1);
    g_autofree float *g0 = packd_test_random_floats (rng, n, -1, 1);
    g_autofree float *gp = g_memdup2 (g0, n * sizeof (float));
    PackdTensor tp, tg;
    char what[100];

    packd_tensor_init (&tp, 3, shape, p);
    packd_tensor_init (&tg, 3, shape, gp);
    r.refs = gc_to_doubles (p, n);
    const double loss = packd_loss_orthogonal (&tp, WEIGHT, &tg);
    g_snprintf (what, sizeof what, "orthogonal %dx%dx%d", (int) r.B, (int) r.M, (int) r.C);
    assert_value (what, loss, ref_orthogonal (&r));
    g_autofree float *g = gc_accumulated (gp, g0, n, WEIGHT);
    gc_check_double (what, ref_orthogonal, &r, r.refs, n, g, &gc_double_tol);
    g_free (r.refs);
  }
  g_rand_free (rng);
}
END_TEST

/* Orthonormal prototypes cost nothing; identical ones cost (M^2 - M) / M^2. */
START_TEST (test_loss_orthogonal_extremes)
{
  float eye[3 * 4] = { 2, 0, 0, 0, 0, 0.5f, 0, 0, 0, 0, 0, 3 };
  float same[3 * 4] = { 1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4 };
  const int64_t shape[2] = { 3, 4 };
  PackdTensor t;

  packd_tensor_init (&t, 2, shape, eye);
  ck_assert_double_eq_tol (packd_loss_orthogonal (&t, 1, NULL), 0, 1e-7);
  t.data = same;
  ck_assert_double_eq_tol (packd_loss_orthogonal (&t, 1, NULL), 6.0 / 9.0, 1e-6);
}
END_TEST

TCase *
gc_losses_tcase (void)
{
  TCase *tc = tcase_create ("losses");
  tcase_add_test (tc, test_loss_kd);
  tcase_add_test (tc, test_loss_kd_extremes);
  tcase_add_test (tc, test_loss_contrastive);
  tcase_add_test (tc, test_loss_relation);
  tcase_add_test (tc, test_loss_orthogonal);
  tcase_add_test (tc, test_loss_orthogonal_extremes);
  return tc;
}
