/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PACKD_LAYERS_RESIZE_BACKWARD_H
#define PACKD_LAYERS_RESIZE_BACKWARD_H

#include "resize.h"

G_BEGIN_DECLS

/* Backward (adjoint) of packd_resize_bilinear_forward with the same
 * align_corners: every output gradient is spread back onto its four source
 * pixels with the forward's weights.  grad_out [N,Ho,Wo,C], grad_in
 * [N,H,W,C] overwritten. */
void packd_resize_bilinear_backward (const PackdTensor *grad_out, gboolean align_corners,
    PackdTensor *grad_in);

G_END_DECLS

#endif
