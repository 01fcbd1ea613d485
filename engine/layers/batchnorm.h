/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PACKD_LAYERS_BATCHNORM_H
#define PACKD_LAYERS_BATCHNORM_H

#include "packd-tensor.h"

G_BEGIN_DECLS

/* Batch normalisation over N,H,W per channel of NHWC [N,H,W,C], as torch
 * BatchNorm2d: y = gamma * (x - mean) / sqrt(var + eps) + beta.
 * Defaults follow torch (eps 1e-5, momentum 0.1). */
#define PACKD_BATCHNORM_EPS 1e-5f
#define PACKD_BATCHNORM_MOMENTUM 0.1f

/* Training mode: mean and biased variance of this batch (accumulated in
 * double) normalise the input; the running statistics move towards the
 * batch's with running = (1 - momentum) * running + momentum * batch, the
 * variance unbiased (M/(M-1), M = N*H*W) as in torch.  batch_mean and
 * batch_invstd ([C] each, 1/sqrt(var+eps)) are saved for the backward.
 * running_mean/running_var may be NULL (no update).  out may alias in only
 * when no backward follows (the backward needs in). */
void packd_batchnorm_train_forward (const PackdTensor *in, const float *gamma, const float *beta,
    float momentum, float eps, float *running_mean, float *running_var,
    float *batch_mean, float *batch_invstd, PackdTensor *out);

/* Inference mode: the running statistics normalise.  out may alias in. */
void packd_batchnorm_eval_forward (const PackdTensor *in, const float *gamma, const float *beta,
    const float *running_mean, const float *running_var, float eps, PackdTensor *out);

/* Backward of the training-mode forward (batch statistics are functions of
 * the input, so every output depends on every input of its channel):
 *   xhat = (x - mean) * invstd,  g = grad_out * gamma,
 *   grad_in = invstd * (g - mean(g) - xhat * mean(g * xhat)),
 *   grad_gamma += sum(grad_out * xhat),  grad_beta += sum(grad_out).
 * grad_in overwritten (NULL skips; may alias grad_out); grad_gamma,
 * grad_beta accumulated (NULL skips). */
void packd_batchnorm_backward (const PackdTensor *in, const float *gamma,
    const float *batch_mean, const float *batch_invstd, const PackdTensor *grad_out,
    PackdTensor *grad_in, float *grad_gamma, float *grad_beta);

G_END_DECLS

#endif
