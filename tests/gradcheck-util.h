/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PACKD_TESTS_GRADCHECK_UTIL_H
#define PACKD_TESTS_GRADCHECK_UTIL_H

/* Finite-difference gradient checking shared by the gradcheck test files.
 *
 * A check perturbs one input element at a time by +-h and takes the central
 * difference of a scalar function f (for layers L = sum r * out with a
 * fixed random r, so dL/dout = r), then compares it with the analytic
 * gradient: |a - n| <= rtol * max(|a|, |n|) + atol_frac * max_i |n_i| (the
 * absolute floor is relative to the largest gradient entry, so a wrong or
 * missing entry of normal size still fails).
 *
 * ReLU kinks: f also reports a hash of its activation pattern; where the
 * +h or -h evaluation sees another pattern than the unperturbed one, the
 * one-sided difference on the other side is used, and an element with
 * kinks on both sides is skipped (at most a tenth of them may be). */

#include <check.h>
#include <glib.h>

#include "packd-backward.h"
#include "test-util.h"

G_BEGIN_DECLS

/* Returns f at the current inputs; *pattern (never NULL) may be set to a
 * hash of the activation pattern, else left 0. */
typedef double (*GcFloatFn) (gpointer ctx, guint64 *pattern);
/* Same over double inputs (the losses' double-precision references). */
typedef double (*GcDoubleFn) (gpointer ctx);

typedef struct {
  double h;             /* perturbation */
  double rtol;
  double atol_frac;
} GcTolerance;

/* Layers: float forward, h = 1e-3.  Losses: double reference, h = 1e-5. */
extern const GcTolerance gc_float_tol;
extern const GcTolerance gc_double_tol;

/* Numeric gradient of f w.r.t. x[0..n) (x is restored) compared with
 * analytic[0..n); ck_abort on mismatch, naming `what` and the element. */
void gc_check_float (const char *what, GcFloatFn f, gpointer ctx, float *x, int64_t n,
    const float *analytic, const GcTolerance *tol);
void gc_check_double (const char *what, GcDoubleFn f, gpointer ctx, double *x, int64_t n,
    const float *analytic, const GcTolerance *tol);

double *gc_to_doubles (const float *x, int64_t n);
float *gc_nans (int64_t n);
/* sum r[i] * y[i] in double. */
double gc_dot (const float *r, const float *y, int64_t n);
/* FNV-1a over the mask bits of act applied to y (0 for PACKD_ACT_NONE). */
guint64 gc_act_pattern (const float *y, int64_t n, PackdActivation act);
/* Gradients are accumulated onto a random start g0: returns g - g0 in a
 * new buffer (divided by scale). */
float *gc_accumulated (const float *g, const float *g0, int64_t n, float scale);
/* max |a - b| <= tol * max |b| + 1e-12, else ck_abort naming what. */
void gc_assert_same (const char *what, const float *a, const float *b, int64_t n, double tol);

/* Test cases living in gradcheck-attention.c and gradcheck-losses.c. */
TCase *gc_attention_tcase (void);
TCase *gc_losses_tcase (void);

G_END_DECLS

#endif
