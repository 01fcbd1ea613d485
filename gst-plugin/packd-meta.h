/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PACKD_META_H
#define PACKD_META_H

#include <gst/gst.h>

#include "packd-regions.h"

G_BEGIN_DECLS

/* PackdAnomalyMeta: the result of packdfilter attached to every frame that
 * has one.  It is a GstCustomMeta without tags, so videoconvert, videoscale
 * and encoders keep it; applications read it without any packd header:
 *
 *   GstCustomMeta *meta = gst_buffer_get_custom_meta (buf, "PackdAnomalyMeta");
 *   GstStructure *s = gst_custom_meta_get_structure (meta);
 *   gst_structure_get_double (s, "score", &score);
 *
 * Structure fields:
 *   score          G_TYPE_DOUBLE   normalised 0..1, 0.5 = calibrated boundary
 *   raw-score      G_TYPE_DOUBLE   max of the anomaly map (method units)
 *   threshold      G_TYPE_DOUBLE   normalised threshold the verdict used
 *   anomalous      G_TYPE_BOOLEAN  score >= threshold
 *   inferred       G_TYPE_BOOLEAN  FALSE: stale, the result of an earlier frame
 *   source-pts     G_TYPE_UINT64   PTS of the frame the result was computed on
 *   latency        G_TYPE_UINT64   analysis time of that frame (ns)
 *   heatmap-width  G_TYPE_INT
 *   heatmap-height G_TYPE_INT
 *   heatmap        G_TYPE_BYTES    float32 row-major, normalised like score
 *   regions        GST_TYPE_ARRAY  of "region" structures with double fields
 *                                  x, y, w, h (normalised to the frame) and score
 */
#define PACKD_ANOMALY_META_NAME "PackdAnomalyMeta"

/* A result as the element produces it; the meta is its serialised form. */
typedef struct {
  gdouble score;
  gdouble raw_score;
  gdouble threshold;
  gboolean anomalous;
  gboolean inferred;
  GstClockTime source_pts;
  GstClockTime latency;
  GBytes *heatmap;              /* float32 heatmap_width * heatmap_height */
  gint heatmap_width;
  gint heatmap_height;
  GArray *regions;              /* PackdRegion, normalised to the frame */
} PackdAnomalyInfo;

/* Registers the meta (idempotent); call from plugin_init. */
gboolean packd_anomaly_meta_register (void);

/* Adds the meta to a writable buffer; takes its own references. */
GstCustomMeta *packd_anomaly_meta_add (GstBuffer *buffer, const PackdAnomalyInfo *info);
GstCustomMeta *packd_anomaly_meta_get (GstBuffer *buffer);

/* Application helpers.  _read fills info with new references (clear it with
 * packd_anomaly_info_clear); FALSE when the buffer carries no valid meta. */
gboolean packd_anomaly_meta_read (GstBuffer *buffer, PackdAnomalyInfo *info);
void packd_anomaly_info_clear (PackdAnomalyInfo *info);
gboolean packd_anomaly_meta_get_score (GstBuffer *buffer, gdouble *score, gboolean *anomalous);
/* The heatmap, valid while the buffer lives; NULL when absent. */
const gfloat *packd_anomaly_meta_get_heatmap (GstBuffer *buffer, gint *width, gint *height);

/* The "region" structure used in the meta and in bus messages. */
GstStructure *packd_region_to_structure (const PackdRegion *region);
/* A GST_TYPE_ARRAY value of "region" structures. */
void packd_regions_to_value (const GArray *regions, GValue *value);

G_END_DECLS

#endif /* PACKD_META_H */
