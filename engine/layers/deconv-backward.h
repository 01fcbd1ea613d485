/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PACKD_LAYERS_DECONV_BACKWARD_H
#define PACKD_LAYERS_DECONV_BACKWARD_H

#include "deconv.h"

G_BEGIN_DECLS

/* Backward of packd_deconv2x2_forward, conventions as in conv2d-backward.h
 * (grad_out masked in place when act is set, grad_in overwritten, grad_w
 * [Cin,2,2,Cout] and grad_b [Cout] accumulated).  grad_out is gathered back
 * into [H*W, 4*Cout] (the forward's scatter reversed) in scratch, sized by
 * packd_deconv2x2_scratch_floats, then two sgemms. */
void packd_deconv2x2_backward (const PackdTensor *in, const PackdTensor *weight,
    PackdActivation act, const PackdTensor *out, PackdTensor *grad_out,
    PackdTensor *grad_in, float *grad_w, float *grad_b, float *scratch);

G_END_DECLS

#endif
