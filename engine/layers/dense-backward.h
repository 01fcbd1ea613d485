/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PACKD_LAYERS_DENSE_BACKWARD_H
#define PACKD_LAYERS_DENSE_BACKWARD_H

#include "dense.h"

G_BEGIN_DECLS

/* Backward of packd_dense_forward, conventions as in conv2d-backward.h
 * (grad_out masked in place when act is set, grad_in overwritten, grad_w
 * [in,out] and grad_b [out] accumulated). */
void packd_dense_backward (const PackdTensor *in, const PackdTensor *weight,
    PackdActivation act, const PackdTensor *out, PackdTensor *grad_out,
    PackdTensor *grad_in, float *grad_w, float *grad_b);

G_END_DECLS

#endif
