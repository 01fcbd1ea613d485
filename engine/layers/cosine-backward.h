/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PACKD_LAYERS_COSINE_BACKWARD_H
#define PACKD_LAYERS_COSINE_BACKWARD_H

#include "cosine.h"

G_BEGIN_DECLS

/* Row-wise cores, shared with the losses.  Rows are consecutive runs of
 * `len` floats; cos = a.b / max(|a||b|, PACKD_COSINE_EPS) as in cosine.h,
 * with dot products and norms accumulated in double (rows may be whole
 * feature maps of 10^5..10^6 values). */
void packd_cosine_rows_similarity (const float *a, const float *b, int64_t rows, int64_t len,
    double *cos);
/* Adds scale * grad[r] * d(1 - cos_r)/d(a_r) into grad_a and likewise for
 * b (grad nullable = all ones; grad_a / grad_b nullable = skip). */
void packd_cosine_rows_distance_backward (const float *a, const float *b, int64_t rows,
    int64_t len, const float *grad, float scale, float *grad_a, float *grad_b);

/* Backward of packd_cosine_distance_forward (per pixel, over channels):
 * grad_out has one float per pixel; grad_a, grad_b overwritten (NULL
 * skips, e.g. the frozen teacher side). */
void packd_cosine_distance_backward (const PackdTensor *a, const PackdTensor *b,
    const float *grad_out, PackdTensor *grad_a, PackdTensor *grad_b);

/* Flattened-map variant (RD's KD loss): one distance per image over the
 * whole H*W*C map, out[N] = 1 - cos(vec a_n, vec b_n); and its backward
 * (grad_out[N], grad_a / grad_b overwritten, nullable). */
void packd_cosine_distance_flat_forward (const PackdTensor *a, const PackdTensor *b, float *out);
void packd_cosine_distance_flat_backward (const PackdTensor *a, const PackdTensor *b,
    const float *grad_out, PackdTensor *grad_a, PackdTensor *grad_b);

G_END_DECLS

#endif
