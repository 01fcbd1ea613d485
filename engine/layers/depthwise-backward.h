/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PACKD_LAYERS_DEPTHWISE_BACKWARD_H
#define PACKD_LAYERS_DEPTHWISE_BACKWARD_H

#include "depthwise.h"

G_BEGIN_DECLS

/* Backward of packd_depthwise_forward, conventions as in conv2d-backward.h
 * (grad_out masked in place when p->act is set, grad_in overwritten,
 * grad_w [kh,kw,C] and grad_b [C] accumulated).  Direct loops, no scratch. */
void packd_depthwise_backward (const PackdConvParams *p, const PackdTensor *in,
    const PackdTensor *weight, const PackdTensor *out, PackdTensor *grad_out,
    PackdTensor *grad_in, float *grad_w, float *grad_b);

G_END_DECLS

#endif
