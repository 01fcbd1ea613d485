/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PACKD_LAYERS_ELTWISE_H
#define PACKD_LAYERS_ELTWISE_H

#include "packd-tensor.h"

G_BEGIN_DECLS

/* out = a + b (same shape, contiguous; out may alias a or b). */
void packd_add_forward (const PackdTensor *a, const PackdTensor *b, PackdTensor *out);

/* Concatenates NHWC tensors of equal N,H,W along channels into out. */
void packd_concat_channels_forward (const PackdTensor *const *inputs, int n_inputs, PackdTensor *out);

/* Softmax over the last dimension of a [rows, n] buffer, in place. */
void packd_softmax_forward (float *data, int64_t rows, int64_t n);

G_END_DECLS

#endif
