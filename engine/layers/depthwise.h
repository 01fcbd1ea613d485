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
 * not im2col: depthwise has too little arithmetic per byte for GEMM. */
void packd_depthwise_forward (const PackdConvParams *p, const PackdTensor *in,
    const PackdTensor *weight, const float *bias, PackdTensor *out);

G_END_DECLS

#endif
