/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "attention.h"

#include <cblas.h>
#include <math.h>

static inline CBLAS_TRANSPOSE
op (gboolean trans)
{
  return trans ? CblasTrans : CblasNoTrans;
}

void
packd_matmul_forward (gboolean trans_a, gboolean trans_b, int64_t m, int64_t n, int64_t k,
    float alpha, const float *a, const float *b, float *out)
{
  cblas_sgemm (CblasRowMajor, op (trans_a), op (trans_b), m, n, k, alpha,
      a, trans_a ? m : k, b, trans_b ? k : n, 0.0f, out, n);
}

/* With C = alpha op(A) op(B):  d op(A) = alpha dC op(B)^T,  d op(B) = alpha op(A)^T dC;
 * a transposed operand gets the transpose of that. */
void
packd_matmul_backward (gboolean trans_a, gboolean trans_b, int64_t m, int64_t n, int64_t k,
    float alpha, const float *a, const float *b, const float *grad_out,
    float *grad_a, float *grad_b, gboolean accumulate)
{
  const float beta = accumulate ? 1.0f : 0.0f;
  const int64_t lda = trans_a ? m : k, ldb = trans_b ? k : n;

  if (grad_a) {
    if (!trans_a)               /* [m,k] = dC [m,n] . op(B)^T */
      cblas_sgemm (CblasRowMajor, CblasNoTrans, op (!trans_b), m, k, n, alpha,
          grad_out, n, b, ldb, beta, grad_a, k);
    else                        /* [k,m] = op(B) [k,n] . dC^T */
      cblas_sgemm (CblasRowMajor, op (trans_b), CblasTrans, k, m, n, alpha,
          b, ldb, grad_out, n, beta, grad_a, m);
  }
  if (grad_b) {
    if (!trans_b)               /* [k,n] = op(A)^T [k,m] . dC */
      cblas_sgemm (CblasRowMajor, op (!trans_a), CblasNoTrans, k, n, m, alpha,
          a, lda, grad_out, n, beta, grad_b, n);
    else                        /* [n,k] = dC^T . op(A) */
      cblas_sgemm (CblasRowMajor, CblasTrans, op (trans_a), n, k, m, alpha,
          grad_out, n, a, lda, beta, grad_b, k);
  }
}

void
packd_softmax_backward (const float *y, const float *grad_out, int64_t rows, int64_t n,
    float *grad_in)
{
  for (int64_t r = 0; r < rows; r++) {
    const float *yr = y + r * n, *g = grad_out + r * n;
    float *d = grad_in + r * n;
    double dot = 0;
    for (int64_t i = 0; i < n; i++)
      dot += (double) yr[i] * g[i];
    for (int64_t i = 0; i < n; i++)
      d[i] = yr[i] * (float) (g[i] - dot);
  }
}

void
packd_l2_normalize_rows_forward (const float *in, int64_t rows, int64_t n, float *out,
    float *norms)
{
  for (int64_t r = 0; r < rows; r++) {
    const float *x = in + r * n;
    float *y = out + r * n;
    double ss = 0;
    for (int64_t i = 0; i < n; i++)
      ss += (double) x[i] * x[i];
    const double norm = sqrt (ss);
    const float inv = (float) (1.0 / MAX (norm, (double) PACKD_L2_NORMALIZE_EPS));
    for (int64_t i = 0; i < n; i++)
      y[i] = x[i] * inv;
    if (norms)
      norms[r] = (float) norm;
  }
}

void
packd_l2_normalize_rows_backward (const float *y, const float *norms,
    const float *grad_out, int64_t rows, int64_t n, float *grad_in)
{
  for (int64_t r = 0; r < rows; r++) {
    const float *yr = y + r * n, *g = grad_out + r * n;
    float *d = grad_in + r * n;
    if (norms[r] > PACKD_L2_NORMALIZE_EPS) {
      double dot = 0;
      for (int64_t i = 0; i < n; i++)
        dot += (double) yr[i] * g[i];
      const float inv = 1.0f / norms[r];
      for (int64_t i = 0; i < n; i++)
        d[i] = (g[i] - yr[i] * (float) dot) * inv;
    } else {
      for (int64_t i = 0; i < n; i++)
        d[i] = g[i] / PACKD_L2_NORMALIZE_EPS;
    }
  }
}
