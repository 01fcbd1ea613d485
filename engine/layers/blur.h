/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PACKD_LAYERS_BLUR_H
#define PACKD_LAYERS_BLUR_H

#include <glib.h>

G_BEGIN_DECLS

#define PACKD_BLUR_MAX_RADIUS 64

/* Separable Gaussian blur of a single-channel H x W map, as
 * scipy.ndimage.gaussian_filter(sigma, truncate, mode='reflect'):
 * radius = (int)(truncate*sigma + 0.5) (<= PACKD_BLUR_MAX_RADIUS), weights
 * exp(-x^2/(2 sigma^2)) normalised, borders mirrored with the edge repeated
 * (d c b a | a b c d).  in and out may alias; scratch holds H*W floats.
 * Returns the radius used. */
int packd_gaussian_blur_forward (const float *in, int height, int width, float sigma,
    float truncate, float *out, float *scratch);

G_END_DECLS

#endif
