/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PACKD_LAYERS_H
#define PACKD_LAYERS_H

/* The layer kinds, one file pair each under layers/ (forward now; backward
 * passes sit beside them).  Activations NHWC float32. */
#include "layers/conv2d.h"
#include "layers/depthwise.h"
#include "layers/deconv.h"
#include "layers/dense.h"
#include "layers/pool.h"
#include "layers/eltwise.h"
#include "layers/resize.h"
#include "layers/blur.h"
#include "layers/cosine.h"

#endif
