/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PACKD_LAYERS_DECONV_H
#define PACKD_LAYERS_DECONV_H

#include "conv2d.h"

G_BEGIN_DECLS

/* 2x2 stride-2 transposed conv (no overlap): in [N,H,W,Cin], weight
 * [Cin,2,2,Cout], bias [Cout] or NULL, out [N,2H,2W,Cout].
 * out[2y+i, 2x+j, o] = b[o] + sum_c in[y,x,c] * w[c,i,j,o]: one sgemm
 * [HW,Cin] x [Cin,4*Cout] into scratch, then a scatter.  scratch holds
 * H*W*4*Cout floats. */
int64_t packd_deconv2x2_scratch_floats (const PackdTensor *in, const PackdTensor *weight);
void packd_deconv2x2_forward (const PackdTensor *in, const PackdTensor *weight, const float *bias,
    PackdActivation act, PackdTensor *out, float *scratch);

G_END_DECLS

#endif
