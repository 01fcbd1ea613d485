/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PACKD_LAYERS_CONV2D_IMPL_H
#define PACKD_LAYERS_CONV2D_IMPL_H

/* conv2d.c internals its adjoint (conv2d-backward.c) uses too, so the
 * gradient always sees the forward's own column layout. */

#include "conv2d.h"

G_BEGIN_DECLS

/* 1x1, stride 1, no padding, on the same grid: the activations themselves
 * are the im2col matrix. */
gboolean packd_conv2d_is_pointwise (const PackdConvParams *p, const PackdTensor *in,
    const PackdTensor *out);

/* Rows [r0, r1) of the im2col matrix of one NHWC image (H x W x C) into
 * cols: rows are output positions (oy*Wo+ox), columns (ky,kx,cin) in HWIO
 * order so the weight tensor is used as is; padding taps are 0. */
void packd_conv2d_im2col (const PackdConvParams *p, const float *in, int H, int W, int C,
    int Wo, int64_t r0, int64_t r1, float *cols);

G_END_DECLS

#endif
