/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PACKD_LAYERS_CONV2D_BACKWARD_H
#define PACKD_LAYERS_CONV2D_BACKWARD_H

#include "conv2d.h"

G_BEGIN_DECLS

/* Conventions shared by every *_backward of a parametrised layer:
 *  - in, weight: the forward inputs; out: the forward output (needed only
 *    when p->act != PACKD_ACT_NONE, else may be NULL).
 *  - grad_out: dL/d(out).  With a fused activation it is masked IN PLACE
 *    (it becomes dL/d(pre-activation)), so it is not const.
 *  - grad_in: dL/d(in), OVERWRITTEN; NULL skips it (first layer).
 *  - grad_w, grad_b: dL/d(weight), dL/d(bias), ACCUMULATED (+=) so images,
 *    batches and branches sum; NULL skips (frozen weight / no bias).
 * All tensors contiguous NHWC, shapes as in the forward. */

/* Floats of scratch packd_conv2d_backward needs: one im2col matrix
 * (Ho*Wo x kh*kw*Cin) per image, 0 for 1x1 stride-1 convs. */
int64_t packd_conv2d_backward_scratch_floats (const PackdConvParams *p, const PackdTensor *in,
    const PackdTensor *out);

/* im2col + sgemm: grad_w += cols^T . dZ, grad_in = col2im (dZ . W^T). */
void packd_conv2d_backward (const PackdConvParams *p, const PackdTensor *in,
    const PackdTensor *weight, const PackdTensor *out, PackdTensor *grad_out,
    PackdTensor *grad_in, float *grad_w, float *grad_b, float *scratch);

/* grad_b[c] += sum over all rows of grad[rows, channels]; shared by the
 * layer backward passes. */
void packd_bias_backward (const float *grad, int64_t rows, int64_t channels, float *grad_b);

G_END_DECLS

#endif
