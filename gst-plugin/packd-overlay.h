/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PACKD_OVERLAY_H
#define PACKD_OVERLAY_H

#include <gst/video/video.h>

#include "packd-meta.h"

G_BEGIN_DECLS

/* Draws a result straight on a mapped 32-bit frame with Cairo: the heatmap
 * through a JET colormap blended at heatmap_alpha, red region boxes, and the
 * score with the verdict.  Formats: BGRx, BGRA (little-endian) and xRGB,
 * ARGB (big-endian), i.e. what Cairo's RGB24/ARGB32 are in memory. */

typedef struct {
  gboolean heatmap;
  gboolean regions;
  gboolean score;
  gdouble heatmap_alpha;
} PackdOverlayOptions;

typedef struct _PackdOverlay PackdOverlay;

PackdOverlay *packd_overlay_new (void);
void packd_overlay_free (PackdOverlay *overlay);
/* FALSE when the frame format cannot be drawn on. */
gboolean packd_overlay_draw (PackdOverlay *overlay, GstVideoFrame *frame,
    const PackdAnomalyInfo *info, const PackdOverlayOptions *options);

G_END_DECLS

#endif /* PACKD_OVERLAY_H */
