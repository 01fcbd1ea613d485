/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PACKD_LAYERS_ACTIVATION_BACKWARD_H
#define PACKD_LAYERS_ACTIVATION_BACKWARD_H

#include "conv2d.h"

G_BEGIN_DECLS

/* Backward of y = act(x) (forward: packd_bias_act_forward with bias NULL).
 * The mask comes from the forward OUTPUT y, so x need not be kept:
 * ReLU passes where y > 0, ReLU6 where 0 < y < 6 (the kinks themselves get
 * zero gradient, like torch).  grad_in = grad_out * mask; grad_in may alias
 * grad_out (the usual use: mask in place).  PACKD_ACT_NONE copies. */
void packd_activation_backward (PackdActivation act, const PackdTensor *out,
    const PackdTensor *grad_out, PackdTensor *grad_in);

G_END_DECLS

#endif
