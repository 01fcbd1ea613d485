/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PACKD_LAYERS_DEPTHWISE_H
#define PACKD_LAYERS_DEPTHWISE_H

#include "conv2d.h"

G_BEGIN_DECLS

/* Depthwise conv (multiplier 1): in [N,H,W,C], weight [kh,kw,C], bias [C] or
 * NULL, out [N,Ho,Wo,C].  A direct loop over channels (contiguous in NHWC),
 * not im2col: depthwise has too little arithmetic per byte for GEMM.
 * 3x3 kernels use SIMD row kernels inside the image (packd_simd_level());
 * border pixels and other kernel sizes take the plain loop. */
void packd_depthwise_forward (const PackdConvParams *p, const PackdTensor *in,
    const PackdTensor *weight, const float *bias, PackdTensor *out);
/* The same with blocks of output rows spread over pool (nullable). */
void packd_depthwise_forward_threads (const PackdConvParams *p, const PackdTensor *in,
    const PackdTensor *weight, const float *bias, PackdTensor *out, PackdThreads *pool);

/* Internal: the SIMD row kernels (depthwise-simd.c).  One output row of a
 * 3x3 depthwise conv: pixel i reads input columns x0 + i*stride + {0,1,2}
 * (those outside [0, width) read as zero) of the input rows rows[0..2]
 * (NULL: outside the image, reads as zero; not all three NULL). */
typedef void (*PackdDepthwiseRowFunc) (const float *const rows[3], const float *weight,
    const float *bias, int channels, int stride, int x0, int n_out, int width,
    PackdActivation act, float *out);
/* The row kernel of the active SIMD level (plain C at GENERIC). */
PackdDepthwiseRowFunc packd_depthwise3x3_row_func (void);
void packd_depthwise3x3_row_generic (const float *const rows[3], const float *weight,
    const float *bias, int channels, int stride, int x0, int n_out, int width,
    PackdActivation act, float *out);
void packd_depthwise3x3_row_avx2 (const float *const rows[3], const float *weight,
    const float *bias, int channels, int stride, int x0, int n_out, int width,
    PackdActivation act, float *out);
void packd_depthwise3x3_row_avx512 (const float *const rows[3], const float *weight,
    const float *bias, int channels, int stride, int x0, int n_out, int width,
    PackdActivation act, float *out);

G_END_DECLS

#endif
