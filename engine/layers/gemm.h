/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PACKD_LAYERS_GEMM_H
#define PACKD_LAYERS_GEMM_H

#include "conv2d.h"

G_BEGIN_DECLS

/* The engine's own single-threaded GEMM for layer weights (internal):
 *   c[i, :] = act (a[i, :] . B + bias)   for rows i in [m0, m1)
 * with B [k, n] (e.g. a 1x1 conv's HWIO weight) packed once into panels of
 * PACKD_GEMM_NR columns, and bias and activation applied to the
 * accumulators before they are stored (no second pass over c).  Callers
 * spread row ranges over threads.  The kernel follows packd_simd_level();
 * GENERIC calls cblas_sgemm on b_plain and then packd_bias_act_forward. */

#define PACKD_GEMM_NR 16

int64_t packd_gemm_packed_floats (int k, int n);
/* b row-major [k, n] with leading dimension ldb -> panels of k x NR floats,
 * zero padded to a multiple of NR columns. */
void packd_gemm_pack_b (const float *b, int k, int n, int ldb, float *packed);

void packd_gemm_rows (int m0, int m1, int n, int k, const float *a, int lda,
    const float *b_plain, int ldb, const float *b_packed, const float *bias,
    PackdActivation act, float *c, int ldc);

/* bt [n, k] row-major (leading dimension ldbt) packed as B = bt^T: the
 * layout packd_gemm_pack_b gives for the transposed matrix. */
void packd_gemm_pack_bt (const float *bt, int k, int n, int ldbt, float *packed);

/* The nearest-neighbour kernel: a holds candidate rows (e.g. a memory
 * bank), B the queries (packed, one column each), and for every query j < n
 *   col_min[j] = min (col_min[j], min over i in [m0, m1) of
 *                                 row_add[i] - 2 a[i, :] . B[:, j])
 * i.e. with row_add = |a_i|^2, the squared distance minus |q_j|^2.  Only
 * with a SIMD level (x86-64); returns FALSE at GENERIC, doing nothing. */
gboolean packd_gemm_min_rows (int m0, int m1, int n, int k, const float *a, int lda,
    const float *b_packed, const float *row_add, float *col_min);

/* The x86 kernels (gemm-x86.c); same contract, rows [m0, m1). */
void packd_gemm_rows_avx2 (int m0, int m1, int n, int k, const float *a, int lda,
    const float *b_packed, const float *bias, PackdActivation act, float *c, int ldc);
void packd_gemm_rows_avx512 (int m0, int m1, int n, int k, const float *a, int lda,
    const float *b_packed, const float *bias, PackdActivation act, float *c, int ldc);
void packd_gemm_min_rows_avx2 (int m0, int m1, int n, int k, const float *a, int lda,
    const float *b_packed, const float *row_add, float *col_min);
void packd_gemm_min_rows_avx512 (int m0, int m1, int n, int k, const float *a, int lda,
    const float *b_packed, const float *row_add, float *col_min);

G_END_DECLS

#endif
