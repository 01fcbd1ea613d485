/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PACKD_LAYERS_ATTENTION_H
#define PACKD_LAYERS_ATTENTION_H

#include "eltwise.h"

G_BEGIN_DECLS

/* The pieces PEIM's cosine attention is built from (method.md §4):
 *   cos(Q, X) / tau = N(Q) . N(X)^T / tau   (row L2-normalise, matmul with alpha = 1/tau),
 *   A = softmax(...)                          (packd_softmax_forward),
 *   P = A . X                                 (matmul).
 * Matrices are row-major float buffers; batches are loops over offsets. */

/* out[m,n] = alpha * op(a) . op(b) with op(a) [m,k], op(b) [k,n]; a is stored
 * [m,k], or [k,m] when trans_a (same for b).  One cblas_sgemm. */
void packd_matmul_forward (gboolean trans_a, gboolean trans_b, int64_t m, int64_t n, int64_t k,
    float alpha, const float *a, const float *b, float *out);

/* Gradients of that product, stored like a and like b (nullable = skip).
 * accumulate FALSE overwrites, TRUE adds: matmul operands in PEIM feed
 * several products (P is used by the integration and the orthogonal loss),
 * and sgemm's beta makes summing free. */
void packd_matmul_backward (gboolean trans_a, gboolean trans_b, int64_t m, int64_t n, int64_t k,
    float alpha, const float *a, const float *b, const float *grad_out,
    float *grad_a, float *grad_b, gboolean accumulate);

/* Backward of packd_softmax_forward over rows of n: from the forward
 * output y, grad_in = y * (grad_out - sum(y * grad_out)).  grad_in may
 * alias grad_out (overwritten). */
void packd_softmax_backward (const float *y, const float *grad_out, int64_t rows, int64_t n,
    float *grad_in);

#define PACKD_L2_NORMALIZE_EPS 1e-8f

/* out[r] = in[r] / max(|in[r]|, eps) over rows of n; norms[r] = |in[r]|
 * (kept for the backward; nullable).  out may alias in. */
void packd_l2_normalize_rows_forward (const float *in, int64_t rows, int64_t n, float *out,
    float *norms);

/* Backward from the forward output y and the saved norms:
 * grad_in = (grad_out - y * (y . grad_out)) / |x| where |x| > eps, else
 * grad_out / eps.  grad_in may alias grad_out (overwritten). */
void packd_l2_normalize_rows_backward (const float *y, const float *norms,
    const float *grad_out, int64_t rows, int64_t n, float *grad_in);

G_END_DECLS

#endif
