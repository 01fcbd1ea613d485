/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "packd-meta.h"

#include <string.h>

gboolean
packd_anomaly_meta_register (void)
{
  static gsize registered = 0;

  if (g_once_init_enter (&registered)) {
    /* No tags: transforms (convert, scale, encode) keep the meta as is. */
    static const gchar *tags[] = { NULL };
    const GstMetaInfo *info =
        gst_meta_register_custom (PACKD_ANOMALY_META_NAME, tags, NULL, NULL, NULL);
    g_once_init_leave (&registered, info != NULL ? 1 : 2);
  }
  return registered == 1;
}

GstStructure *
packd_region_to_structure (const PackdRegion *region)
{
  return gst_structure_new ("region",
      "x", G_TYPE_DOUBLE, (gdouble) region->x,
      "y", G_TYPE_DOUBLE, (gdouble) region->y,
      "w", G_TYPE_DOUBLE, (gdouble) region->w,
      "h", G_TYPE_DOUBLE, (gdouble) region->h,
      "score", G_TYPE_DOUBLE, (gdouble) region->score, NULL);
}

void
packd_regions_to_value (const GArray *regions, GValue *value)
{
  g_value_init (value, GST_TYPE_ARRAY);
  for (guint i = 0; regions != NULL && i < regions->len; i++) {
    GValue item = G_VALUE_INIT;
    g_value_init (&item, GST_TYPE_STRUCTURE);
    g_value_take_boxed (&item,
        packd_region_to_structure (&g_array_index (regions, PackdRegion, i)));
    gst_value_array_append_and_take_value (value, &item);
  }
}

GstCustomMeta *
packd_anomaly_meta_add (GstBuffer *buffer, const PackdAnomalyInfo *info)
{
  g_return_val_if_fail (GST_IS_BUFFER (buffer), NULL);
  g_return_val_if_fail (info != NULL, NULL);

  GstCustomMeta *meta = gst_buffer_add_custom_meta (buffer, PACKD_ANOMALY_META_NAME);
  if (meta == NULL)
    return NULL;

  GstStructure *s = gst_custom_meta_get_structure (meta);
  gst_structure_set (s,
      "score", G_TYPE_DOUBLE, info->score,
      "raw-score", G_TYPE_DOUBLE, info->raw_score,
      "threshold", G_TYPE_DOUBLE, info->threshold,
      "anomalous", G_TYPE_BOOLEAN, info->anomalous,
      "inferred", G_TYPE_BOOLEAN, info->inferred,
      "source-pts", G_TYPE_UINT64, (guint64) info->source_pts,
      "latency", G_TYPE_UINT64, (guint64) info->latency,
      "heatmap-width", G_TYPE_INT, info->heatmap_width,
      "heatmap-height", G_TYPE_INT, info->heatmap_height, NULL);
  if (info->heatmap != NULL)
    gst_structure_set (s, "heatmap", G_TYPE_BYTES, info->heatmap, NULL);

  GValue regions = G_VALUE_INIT;
  packd_regions_to_value (info->regions, &regions);
  gst_structure_take_value (s, "regions", &regions);
  return meta;
}

GstCustomMeta *
packd_anomaly_meta_get (GstBuffer *buffer)
{
  g_return_val_if_fail (GST_IS_BUFFER (buffer), NULL);
  return gst_buffer_get_custom_meta (buffer, PACKD_ANOMALY_META_NAME);
}

static gboolean
region_from_structure (const GstStructure *s, PackdRegion *region)
{
  gdouble x, y, w, h, score;

  if (!gst_structure_get (s, "x", G_TYPE_DOUBLE, &x, "y", G_TYPE_DOUBLE, &y,
          "w", G_TYPE_DOUBLE, &w, "h", G_TYPE_DOUBLE, &h, "score", G_TYPE_DOUBLE, &score,
          NULL))
    return FALSE;
  *region = (PackdRegion) {
    .x = x, .y = y, .w = w, .h = h, .score = score, .n_pixels = 0,
  };
  return TRUE;
}

gboolean
packd_anomaly_meta_read (GstBuffer *buffer, PackdAnomalyInfo *info)
{
  g_return_val_if_fail (info != NULL, FALSE);
  memset (info, 0, sizeof (*info));

  GstCustomMeta *meta = packd_anomaly_meta_get (buffer);
  if (meta == NULL)
    return FALSE;
  const GstStructure *s = gst_custom_meta_get_structure (meta);
  guint64 source_pts, latency;

  if (!gst_structure_get (s,
          "score", G_TYPE_DOUBLE, &info->score,
          "raw-score", G_TYPE_DOUBLE, &info->raw_score,
          "threshold", G_TYPE_DOUBLE, &info->threshold,
          "anomalous", G_TYPE_BOOLEAN, &info->anomalous,
          "inferred", G_TYPE_BOOLEAN, &info->inferred,
          "source-pts", G_TYPE_UINT64, &source_pts,
          "latency", G_TYPE_UINT64, &latency,
          "heatmap-width", G_TYPE_INT, &info->heatmap_width,
          "heatmap-height", G_TYPE_INT, &info->heatmap_height, NULL))
    return FALSE;
  info->source_pts = source_pts;
  info->latency = latency;

  const GValue *heatmap = gst_structure_get_value (s, "heatmap");
  if (heatmap != NULL && G_VALUE_HOLDS (heatmap, G_TYPE_BYTES))
    info->heatmap = g_value_dup_boxed (heatmap);

  info->regions = g_array_new (FALSE, FALSE, sizeof (PackdRegion));
  const GValue *regions = gst_structure_get_value (s, "regions");
  if (regions != NULL && GST_VALUE_HOLDS_ARRAY (regions)) {
    for (guint i = 0; i < gst_value_array_get_size (regions); i++) {
      const GValue *item = gst_value_array_get_value (regions, i);
      PackdRegion region;
      if (GST_VALUE_HOLDS_STRUCTURE (item)
          && region_from_structure (gst_value_get_structure (item), &region))
        g_array_append_val (info->regions, region);
    }
  }
  return TRUE;
}

void
packd_anomaly_info_clear (PackdAnomalyInfo *info)
{
  g_clear_pointer (&info->heatmap, g_bytes_unref);
  g_clear_pointer (&info->regions, g_array_unref);
}

gboolean
packd_anomaly_meta_get_score (GstBuffer *buffer, gdouble *score, gboolean *anomalous)
{
  GstCustomMeta *meta = packd_anomaly_meta_get (buffer);
  if (meta == NULL)
    return FALSE;
  const GstStructure *s = gst_custom_meta_get_structure (meta);
  gdouble value;
  gboolean verdict;

  if (!gst_structure_get (s, "score", G_TYPE_DOUBLE, &value,
          "anomalous", G_TYPE_BOOLEAN, &verdict, NULL))
    return FALSE;
  if (score != NULL)
    *score = value;
  if (anomalous != NULL)
    *anomalous = verdict;
  return TRUE;
}

const gfloat *
packd_anomaly_meta_get_heatmap (GstBuffer *buffer, gint *width, gint *height)
{
  GstCustomMeta *meta = packd_anomaly_meta_get (buffer);
  if (meta == NULL)
    return NULL;
  const GstStructure *s = gst_custom_meta_get_structure (meta);
  const GValue *value = gst_structure_get_value (s, "heatmap");
  gint w, h;

  if (value == NULL || !G_VALUE_HOLDS (value, G_TYPE_BYTES)
      || !gst_structure_get (s, "heatmap-width", G_TYPE_INT, &w,
          "heatmap-height", G_TYPE_INT, &h, NULL))
    return NULL;
  GBytes *bytes = g_value_get_boxed (value);
  gsize size;
  const gfloat *data = g_bytes_get_data (bytes, &size);
  if (w <= 0 || h <= 0 || size != (gsize) w * h * sizeof (gfloat))
    return NULL;
  if (width != NULL)
    *width = w;
  if (height != NULL)
    *height = h;
  return data;
}
