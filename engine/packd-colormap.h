/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PACKD_COLORMAP_H
#define PACKD_COLORMAP_H

#include <glib.h>

G_BEGIN_DECLS

/* The "jet" colour map used for anomaly heat maps (blue = normal, red =
 * anomalous), in its classic piecewise-linear form:
 *   r = clamp (1.5 - |4v - 3|), g = clamp (1.5 - |4v - 2|), b = clamp (1.5 - |4v - 1|)
 * v is clamped to [0, 1]; NaN maps to 0. */
void packd_colormap_jet (float v01, guint8 rgb[3]);

/* The same as a 256-entry table: entry i (3 bytes R,G,B) is jet (i / 255). */
const guint8 *packd_colormap_jet_lut (void);

G_END_DECLS

#endif /* PACKD_COLORMAP_H */
