/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PACKD_BACKWARD_H
#define PACKD_BACKWARD_H

/* Training-side layer code: backward passes beside each forward layer
 * (conventions in layers/conv2d-backward.h: grad_in overwritten, parameter
 * gradients accumulated), batch normalisation (forward and backward), and
 * the matmul / softmax / normalisation pieces of PEIM. */
#include "packd-layers.h"
#include "layers/activation-backward.h"
#include "layers/conv2d-backward.h"
#include "layers/depthwise-backward.h"
#include "layers/deconv-backward.h"
#include "layers/dense-backward.h"
#include "layers/batchnorm.h"
#include "layers/eltwise-backward.h"
#include "layers/resize-backward.h"
#include "layers/cosine-backward.h"
#include "layers/attention.h"

#endif
