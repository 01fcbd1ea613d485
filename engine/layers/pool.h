/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PACKD_LAYERS_POOL_H
#define PACKD_LAYERS_POOL_H

#include "packd-tensor.h"

G_BEGIN_DECLS

/* Mean over H and W: in [N,H,W,C] -> out [N,1,1,C]. */
void packd_global_avgpool_forward (const PackdTensor *in, PackdTensor *out);

/* k x k mean, stride 1, zero padding k/2 counted in the divisor (k*k), as
 * torch AvgPool2d(k,1,k/2) / PatchCore's local aggregation.  in and out
 * [N,H,W,C], distinct buffers. */
void packd_avgpool_same_forward (const PackdTensor *in, int kernel, PackdTensor *out);

G_END_DECLS

#endif
