/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PACKD_LAYERS_DENSE_H
#define PACKD_LAYERS_DENSE_H

#include "conv2d.h"

G_BEGIN_DECLS

/* in [N, in] (any tensor whose trailing dims multiply to in), weight [in,out],
 * bias [out] or NULL, out [N, out]. */
void packd_dense_forward (const PackdTensor *in, const PackdTensor *weight, const float *bias,
    PackdActivation act, PackdTensor *out);

G_END_DECLS

#endif
