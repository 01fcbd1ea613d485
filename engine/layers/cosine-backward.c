/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "cosine-backward.h"

#include <math.h>
#include <string.h>

typedef struct {
  double dot, aa, bb;
} RowDots;

static inline RowDots
row_dots (const float *restrict x, const float *restrict y, int64_t len)
{
  RowDots d = { 0, 0, 0 };
  for (int64_t i = 0; i < len; i++) {
    d.dot += (double) x[i] * y[i];
    d.aa += (double) x[i] * x[i];
    d.bb += (double) y[i] * y[i];
  }
  return d;
}

void
packd_cosine_rows_similarity (const float *a, const float *b, int64_t rows, int64_t len,
    double *cos)
{
  for (int64_t r = 0; r < rows; r++) {
    RowDots d = row_dots (a + r * len, b + r * len, len);
    cos[r] = d.dot / MAX (sqrt (d.aa) * sqrt (d.bb), (double) PACKD_COSINE_EPS);
  }
}

/* d cos / d a = b / (|a||b|) - cos * a / |a|^2 where |a||b| > eps; below
 * eps the denominator is the constant eps and d cos / d a = b / eps. */
void
packd_cosine_rows_distance_backward (const float *a, const float *b, int64_t rows,
    int64_t len, const float *grad, float scale, float *grad_a, float *grad_b)
{
  for (int64_t r = 0; r < rows; r++) {
    const float *restrict x = a + r * len, *restrict y = b + r * len;
    const RowDots d = row_dots (x, y, len);
    const double norms = sqrt (d.aa) * sqrt (d.bb);
    /* dL/dcos = -dL/d(distance). */
    const double g = -(double) scale * (grad ? grad[r] : 1.0);
    double ka, kb, ca, cb;          /* grad_a = ka*y - ca*x, grad_b = kb*x - cb*y */

    if (norms > PACKD_COSINE_EPS) {
      const double cos = d.dot / norms;
      ka = kb = g / norms;
      ca = g * cos / d.aa;
      cb = g * cos / d.bb;
    } else {
      ka = kb = g / PACKD_COSINE_EPS;
      ca = cb = 0;
    }
    if (grad_a) {
      float *restrict ga = grad_a + r * len;
      for (int64_t i = 0; i < len; i++)
        ga[i] += (float) (ka * y[i] - ca * x[i]);
    }
    if (grad_b) {
      float *restrict gb = grad_b + r * len;
      for (int64_t i = 0; i < len; i++)
        gb[i] += (float) (kb * x[i] - cb * y[i]);
    }
  }
}

static void
zero_if (PackdTensor *t)
{
  if (t)
    memset (t->data, 0, packd_tensor_numel (t) * sizeof (float));
}

static void
distance_backward (const PackdTensor *a, const PackdTensor *b, int64_t len,
    const float *grad_out, PackdTensor *grad_a, PackdTensor *grad_b)
{
  const int64_t n = packd_tensor_numel (a);

  g_return_if_fail (packd_tensor_same_shape (a, b));
  g_return_if_fail (grad_a == NULL || packd_tensor_numel (grad_a) == n);
  g_return_if_fail (grad_b == NULL || packd_tensor_numel (grad_b) == n);
  zero_if (grad_a);
  zero_if (grad_b);
  packd_cosine_rows_distance_backward (a->data, b->data, n / len, len, grad_out, 1.f,
      grad_a ? grad_a->data : NULL, grad_b ? grad_b->data : NULL);
}

void
packd_cosine_distance_backward (const PackdTensor *a, const PackdTensor *b,
    const float *grad_out, PackdTensor *grad_a, PackdTensor *grad_b)
{
  distance_backward (a, b, a->shape[a->ndim - 1], grad_out, grad_a, grad_b);
}

void
packd_cosine_distance_flat_forward (const PackdTensor *a, const PackdTensor *b, float *out)
{
  const int64_t N = a->shape[0], len = packd_tensor_numel (a) / MAX (N, 1);
  double *cos;

  g_return_if_fail (packd_tensor_same_shape (a, b));
  cos = g_new (double, MAX (N, 1));
  packd_cosine_rows_similarity (a->data, b->data, N, len, cos);
  for (int64_t n = 0; n < N; n++)
    out[n] = (float) (1.0 - cos[n]);
  g_free (cos);
}

void
packd_cosine_distance_flat_backward (const PackdTensor *a, const PackdTensor *b,
    const float *grad_out, PackdTensor *grad_a, PackdTensor *grad_b)
{
  distance_backward (a, b, packd_tensor_numel (a) / MAX (a->shape[0], 1), grad_out,
      grad_a, grad_b);
}
