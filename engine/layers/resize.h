/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PACKD_LAYERS_RESIZE_H
#define PACKD_LAYERS_RESIZE_H

#include "packd-tensor.h"

G_BEGIN_DECLS

/* Bilinear resize of NHWC [N,H,W,C] to out [N,Ho,Wo,C].
 * align_corners TRUE: src = dst*(in-1)/(out-1) (TF alignCorners, method.md §7);
 * FALSE: half-pixel centres, src = (dst+0.5)*in/out-0.5 clamped at 0
 * (torch F.interpolate default). */
void packd_resize_bilinear_forward (const PackdTensor *in, gboolean align_corners, PackdTensor *out);

/* The same on an 8-bit interleaved image with `channels` channels and a row
 * stride in bytes, producing float NHWC [1,Ho,Wo,3] RGB in [0,1].
 * channel_order gives the byte offsets of R,G,B within a pixel (grey: 0,0,0). */
void packd_resize_u8_to_rgb_forward (const guint8 *pixels, int width, int height, int stride,
    int channels, const int channel_order[3], gboolean align_corners, PackdTensor *out);

G_END_DECLS

#endif
