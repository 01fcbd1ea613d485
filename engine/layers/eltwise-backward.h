/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PACKD_LAYERS_ELTWISE_BACKWARD_H
#define PACKD_LAYERS_ELTWISE_BACKWARD_H

#include "eltwise.h"

G_BEGIN_DECLS

/* Backward of out = a + b: both inputs receive grad_out.  grad_a and
 * grad_b are overwritten (NULL skips; either may alias grad_out).  To sum a
 * branch into an existing gradient, use packd_add_forward (g, branch, g). */
void packd_add_backward (const PackdTensor *grad_out, PackdTensor *grad_a, PackdTensor *grad_b);

/* Backward of packd_concat_channels_forward: splits grad_out's channels
 * back into the inputs' gradients, in order (overwritten; a NULL entry
 * skips that input but still consumes its channel_counts[i] channels). */
void packd_concat_channels_backward (const PackdTensor *grad_out, const int *channel_counts,
    PackdTensor *const *grad_inputs, int n_inputs);

G_END_DECLS

#endif
