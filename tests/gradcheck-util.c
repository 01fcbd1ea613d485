/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "gradcheck-util.h"

#include <math.h>

/* float forward: rounding of the few outputs an element touches (~1e-6)
 * over 2h = 2e-3 leaves ~5e-4 of noise on O(1) gradients; a small h also
 * keeps kink crossings rare. */
const GcTolerance gc_float_tol = { 1e-3, 1e-2, 2e-3 };
/* double reference: truncation O(h^2) ~ 1e-10; float analytic ~1e-6. */
const GcTolerance gc_double_tol = { 1e-5, 1e-3, 1e-4 };

static void
compare (const char *what, const double *numeric, const gboolean *skipped, int64_t n,
    const float *analytic, const GcTolerance *tol)
{
  double max_num = 0;
  int64_t n_skipped = 0;

  for (int64_t i = 0; i < n; i++)
    if (!skipped[i])
      max_num = MAX (max_num, fabs (numeric[i]));
    else
      n_skipped++;
  if (n_skipped * 10 > n)
    ck_abort_msg ("%s: %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT
        " elements straddle an activation kink", what, (gint64) n_skipped, (gint64) n);
  for (int64_t i = 0; i < n; i++) {
    if (skipped[i])
      continue;
    const double a = analytic[i], num = numeric[i];
    const double err = fabs (a - num);
    if (!(err <= tol->rtol * MAX (fabs (a), fabs (num)) + tol->atol_frac * max_num + 1e-12))
      ck_abort_msg ("%s: d/dx[%" G_GINT64_FORMAT "] analytic %.7g, numeric %.7g "
          "(largest %.3g)", what, (gint64) i, a, num, max_num);
  }
}

void
gc_check_float (const char *what, GcFloatFn f, gpointer ctx, float *x, int64_t n,
    const float *analytic, const GcTolerance *tol)
{
  double *numeric = g_new (double, MAX (n, 1));
  gboolean *skipped = g_new0 (gboolean, MAX (n, 1));
  guint64 pat0 = 0;
  const double f0 = f (ctx, &pat0);

  for (int64_t i = 0; i < n; i++) {
    const float v = x[i];
    const float xp = (float) (v + tol->h), xm = (float) (v - tol->h);
    guint64 pat_p = 0, pat_m = 0;
    x[i] = xp;
    const double fp = f (ctx, &pat_p);
    x[i] = xm;
    const double fm = f (ctx, &pat_m);
    x[i] = v;
    /* Steps are the representable ones (exact in double), not h.  Where
     * one side crosses a kink, the other side's one-sided difference is
     * still exact for these piecewise-linear functions. */
    if (pat_p == pat0 && pat_m == pat0)
      numeric[i] = (fp - fm) / ((double) xp - (double) xm);
    else if (pat_p == pat0)
      numeric[i] = (fp - f0) / ((double) xp - (double) v);
    else if (pat_m == pat0)
      numeric[i] = (f0 - fm) / ((double) v - (double) xm);
    else
      skipped[i] = TRUE;
  }
  compare (what, numeric, skipped, n, analytic, tol);
  g_free (numeric);
  g_free (skipped);
}

void
gc_check_double (const char *what, GcDoubleFn f, gpointer ctx, double *x, int64_t n,
    const float *analytic, const GcTolerance *tol)
{
  double *numeric = g_new (double, MAX (n, 1));
  gboolean *skipped = g_new0 (gboolean, MAX (n, 1));

  for (int64_t i = 0; i < n; i++) {
    const double v = x[i];
    x[i] = v + tol->h;
    const double fp = f (ctx);
    x[i] = v - tol->h;
    const double fm = f (ctx);
    x[i] = v;
    numeric[i] = (fp - fm) / (2 * tol->h);
  }
  compare (what, numeric, skipped, n, analytic, tol);
  g_free (numeric);
  g_free (skipped);
}

double *
gc_to_doubles (const float *x, int64_t n)
{
  double *d = g_new (double, MAX (n, 1));
  for (int64_t i = 0; i < n; i++)
    d[i] = x[i];
  return d;
}

float *
gc_nans (int64_t n)
{
  float *v = g_new (float, MAX (n, 1));
  for (int64_t i = 0; i < n; i++)
    v[i] = NAN;
  return v;
}

double
gc_dot (const float *r, const float *y, int64_t n)
{
  double s = 0;
  for (int64_t i = 0; i < n; i++)
    s += (double) r[i] * y[i];
  return s;
}

guint64
gc_act_pattern (const float *y, int64_t n, PackdActivation act)
{
  guint64 h = 14695981039346656037ull;
  if (act == PACKD_ACT_NONE)
    return 0;
  for (int64_t i = 0; i < n; i++) {
    const gboolean pass = y[i] > 0.f && (act != PACKD_ACT_RELU6 || y[i] < 6.f);
    h = (h ^ (guint64) pass) * 1099511628211ull;
  }
  return h;
}

float *
gc_accumulated (const float *g, const float *g0, int64_t n, float scale)
{
  float *d = g_new (float, MAX (n, 1));
  for (int64_t i = 0; i < n; i++)
    d[i] = (g[i] - g0[i]) / scale;
  return d;
}

void
gc_assert_same (const char *what, const float *a, const float *b, int64_t n, double tol)
{
  double max_b = 0;
  for (int64_t i = 0; i < n; i++)
    max_b = MAX (max_b, fabs (b[i]));
  for (int64_t i = 0; i < n; i++)
    if (!(fabs ((double) a[i] - b[i]) <= tol * max_b + 1e-12))
      ck_abort_msg ("%s: element %" G_GINT64_FORMAT " is %.7g, expected %.7g", what,
          (gint64) i, a[i], b[i]);
}
