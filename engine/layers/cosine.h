/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PACKD_LAYERS_COSINE_H
#define PACKD_LAYERS_COSINE_H

#include "packd-tensor.h"

G_BEGIN_DECLS

#define PACKD_COSINE_EPS 1e-8f

/* Per-pixel cosine distance over channels: a, b [N,H,W,C] (same shape),
 * out N*H*W floats: 1 - a.b / max(|a||b|, eps).  A zero vector has
 * similarity 0 (distance 1). */
void packd_cosine_distance_forward (const PackdTensor *a, const PackdTensor *b, float *out);

G_END_DECLS

#endif
