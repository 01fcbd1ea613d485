/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PACKD_LAYERS_CONV2D_H
#define PACKD_LAYERS_CONV2D_H

#include "packd-tensor.h"
#include "packd-threads.h"

G_BEGIN_DECLS

/* Activation fused into the epilogue of convs and dense layers. */
typedef enum {
  PACKD_ACT_NONE,
  PACKD_ACT_RELU,
  PACKD_ACT_RELU6,
} PackdActivation;

/* Geometry shared by conv2d and depthwise.  The output size comes from the
 * output tensor; input positions outside [0,H)x[0,W) read as zero. */
typedef struct {
  int kernel_h, kernel_w;
  int stride;
  int pad_top, pad_left;
  PackdActivation act;
} PackdConvParams;

/* TF "SAME": output = ceil(in/stride), pad_total = max((out-1)*s + k - in, 0),
 * before = pad_total/2 (MobileNetV2's ZeroPadding2D((0,1),(0,1)) on even sizes). */
void packd_conv_params_same (PackdConvParams *p, int kernel, int stride, int in_h, int in_w,
    PackdActivation act, int *out_h, int *out_w);

/* Applies bias (nullable, [C]) and activation in place over a [..., C] buffer
 * of rows x channels floats. */
void packd_bias_act_forward (float *data, int64_t rows, int64_t channels, const float *bias,
    PackdActivation act);

/* in [N,H,W,Cin] NHWC contiguous; weight HWIO [kh,kw,Cin,Cout]; bias [Cout] or
 * NULL; out [N,Ho,Wo,Cout].  1x1 stride-1 convs are one sgemm over the
 * activations; others use im2col into scratch (see scratch_floats). */
int64_t packd_conv2d_scratch_floats (const PackdConvParams *p, const PackdTensor *in,
    const PackdTensor *out);
void packd_conv2d_forward (const PackdConvParams *p, const PackdTensor *in,
    const PackdTensor *weight, const float *bias, PackdTensor *out, float *scratch);

/* The fast path for weights that are used many times (a model's layers):
 * pack the weight once (size independent), then each forward computes
 * blocks of output rows with the engine's SIMD GEMM (bias and activation
 * applied in registers; non-1x1 convs gather their im2col rows block by
 * block into a per-thread scratch), spread over pool (NULL: the caller
 * only).  The results equal packd_conv2d_forward's up to float rounding
 * (another summation order); that is what runs when no SIMD kernel is
 * available (see simd-impl.h). */
int64_t packd_conv2d_packed_floats (const PackdTensor *weight);
void packd_conv2d_pack_weight (const PackdTensor *weight, float *packed);
/* Scratch for pools of up to n_threads threads. */
int64_t packd_conv2d_packed_scratch_floats (const PackdConvParams *p, const PackdTensor *in,
    const PackdTensor *out, int n_threads);
/* Output pixels [r0, r1) (row-major over [Ho, out_w]) of image 0 of in into
 * dst ((r1 - r0) x Cout, contiguous), on the calling thread; scratch holds
 * (r1 - r0) * kh * kw * Cin floats (unused by 1x1 stride-1 convs). */
void packd_conv2d_rows_packed (const PackdConvParams *p, const PackdTensor *in,
    const PackdTensor *weight, const float *packed, const float *bias, int out_w,
    int64_t r0, int64_t r1, float *dst, float *scratch);
void packd_conv2d_forward_packed (const PackdConvParams *p, const PackdTensor *in,
    const PackdTensor *weight, const float *packed, const float *bias, PackdTensor *out,
    float *scratch, PackdThreads *pool);

G_END_DECLS

#endif
