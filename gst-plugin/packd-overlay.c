/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "packd-overlay.h"

#include <cairo.h>

#include "packd-colormap.h"

struct _PackdOverlay {
  /* The coloured heatmap is cached: frames that carry a held result (skipped
   * by inference-interval, non-blocking) reuse it as is. */
  cairo_surface_t *heatmap_surface;
  GBytes *heatmap_source;
  guint32 jet[256];             /* opaque ARGB32 */
};

/* engine/packd-colormap.h's JET as opaque ARGB32 words. */
static void
jet_table_init (guint32 *table)
{
  const guint8 *lut = packd_colormap_jet_lut ();

  for (int i = 0; i < 256; i++)
    table[i] = 0xff000000u | ((guint32) lut[3 * i] << 16) | ((guint32) lut[3 * i + 1] << 8)
        | lut[3 * i + 2];
}

PackdOverlay *
packd_overlay_new (void)
{
  PackdOverlay *overlay = g_new0 (PackdOverlay, 1);
  jet_table_init (overlay->jet);

  /* Font lookup (fontconfig) costs tens of ms the first time: pay it here
   * rather than on the first frame. */
  cairo_surface_t *surface = cairo_image_surface_create (CAIRO_FORMAT_RGB24, 8, 8);
  cairo_t *cr = cairo_create (surface);
  cairo_select_font_face (cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
  cairo_text_extents_t extents;
  cairo_text_extents (cr, "0", &extents);
  cairo_destroy (cr);
  cairo_surface_destroy (surface);
  return overlay;
}

void
packd_overlay_free (PackdOverlay *overlay)
{
  if (overlay == NULL)
    return;
  g_clear_pointer (&overlay->heatmap_surface, cairo_surface_destroy);
  g_clear_pointer (&overlay->heatmap_source, g_bytes_unref);
  g_free (overlay);
}

static gboolean
heatmap_surface_update (PackdOverlay *overlay, const PackdAnomalyInfo *info)
{
  const int w = info->heatmap_width, h = info->heatmap_height;
  gsize size = 0;
  const float *map = info->heatmap ? g_bytes_get_data (info->heatmap, &size) : NULL;

  if (map == NULL || w <= 0 || h <= 0 || size != (gsize) w * h * sizeof (float))
    return FALSE;
  if (overlay->heatmap_source == info->heatmap)
    return TRUE;

  if (overlay->heatmap_surface == NULL
      || cairo_image_surface_get_width (overlay->heatmap_surface) != w
      || cairo_image_surface_get_height (overlay->heatmap_surface) != h) {
    g_clear_pointer (&overlay->heatmap_surface, cairo_surface_destroy);
    overlay->heatmap_surface = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, w, h);
    if (cairo_surface_status (overlay->heatmap_surface) != CAIRO_STATUS_SUCCESS) {
      g_clear_pointer (&overlay->heatmap_surface, cairo_surface_destroy);
      return FALSE;
    }
  }

  cairo_surface_flush (overlay->heatmap_surface);
  guint8 *data = cairo_image_surface_get_data (overlay->heatmap_surface);
  int stride = cairo_image_surface_get_stride (overlay->heatmap_surface);
  for (int y = 0; y < h; y++) {
    guint32 *row = (guint32 *) (data + (gsize) y * stride);
    for (int x = 0; x < w; x++) {
      float v = map[y * w + x];
      int index = v > 0.f ? (v < 1.f ? (int) (v * 255.f + 0.5f) : 255) : 0;
      row[x] = overlay->jet[index];
    }
  }
  cairo_surface_mark_dirty (overlay->heatmap_surface);

  g_clear_pointer (&overlay->heatmap_source, g_bytes_unref);
  overlay->heatmap_source = g_bytes_ref (info->heatmap);
  return TRUE;
}

static void
draw_heatmap (PackdOverlay *overlay, cairo_t *cr, int width, int height,
    const PackdAnomalyInfo *info, double alpha)
{
  if (alpha <= 0.0 || !heatmap_surface_update (overlay, info))
    return;

  cairo_save (cr);
  cairo_scale (cr, (double) width / info->heatmap_width,
      (double) height / info->heatmap_height);
  cairo_set_source_surface (cr, overlay->heatmap_surface, 0, 0);
  cairo_pattern_t *pattern = cairo_get_source (cr);
  cairo_pattern_set_filter (pattern, CAIRO_FILTER_BILINEAR);
  /* PAD: no fade to transparent along the frame borders. */
  cairo_pattern_set_extend (pattern, CAIRO_EXTEND_PAD);
  cairo_paint_with_alpha (cr, alpha);
  cairo_restore (cr);
}

static void
draw_regions (cairo_t *cr, int width, int height, const PackdAnomalyInfo *info)
{
  if (info->regions == NULL || info->regions->len == 0)
    return;

  const double line = MAX (2.0, width / 320.0);
  cairo_save (cr);
  cairo_set_line_width (cr, line);
  cairo_set_font_size (cr, MAX (9.0, height / 40.0));
  for (guint i = 0; i < info->regions->len; i++) {
    const PackdRegion *r = &g_array_index (info->regions, PackdRegion, i);
    double x = r->x * width, y = r->y * height;
    char label[16];

    cairo_set_source_rgb (cr, 1.0, 0.1, 0.1);
    cairo_rectangle (cr, x + line / 2, y + line / 2,
        MAX (1.0, r->w * width - line), MAX (1.0, r->h * height - line));
    cairo_stroke (cr);
    g_snprintf (label, sizeof (label), "%.2f", r->score);
    cairo_move_to (cr, x + line, MAX (y - line, 10.0));
    cairo_show_text (cr, label);
  }
  cairo_restore (cr);
}

static void
draw_score (cairo_t *cr, int width, int height, const PackdAnomalyInfo *info)
{
  char text[64];
  cairo_text_extents_t extents;
  const double size = MAX (10.0, height / 24.0), pad = size / 3;

  g_snprintf (text, sizeof (text), "score %.2f  %s", info->score,
      info->anomalous ? "ANOMALY" : "OK");
  cairo_save (cr);
  cairo_set_font_size (cr, size);
  cairo_text_extents (cr, text, &extents);
  /* White-on-dark box so the text stays readable on any frame (anomalib). */
  cairo_set_source_rgba (cr, 0, 0, 0, 0.5);
  cairo_rectangle (cr, 0, 0, extents.x_advance + 2 * pad, size + 2 * pad);
  cairo_fill (cr);
  if (info->anomalous)
    cairo_set_source_rgb (cr, 1.0, 0.25, 0.25);
  else
    cairo_set_source_rgb (cr, 0.3, 1.0, 0.3);
  cairo_move_to (cr, pad, pad + size * 0.85);
  cairo_show_text (cr, text);
  cairo_restore (cr);
}

/* Cairo's ARGB32 is premultiplied, GStreamer's BGRA/ARGB is not. */
static void
frame_premultiply (guint8 *data, int width, int height, int stride, gboolean forward)
{
  for (int y = 0; y < height; y++) {
    guint32 *row = (guint32 *) (data + (gsize) y * stride);
    for (int x = 0; x < width; x++) {
      guint32 p = row[x];
      guint32 a = p >> 24;
      if (a == 255)
        continue;
      guint32 c[3] = { (p >> 16) & 0xff, (p >> 8) & 0xff, p & 0xff };
      for (int i = 0; i < 3; i++) {
        if (forward)
          c[i] = (c[i] * a + 127) / 255;
        else
          c[i] = a ? MIN (255u, (c[i] * 255 + a / 2) / a) : 0;
      }
      row[x] = (a << 24) | (c[0] << 16) | (c[1] << 8) | c[2];
    }
  }
}

gboolean
packd_overlay_draw (PackdOverlay *overlay, GstVideoFrame *frame,
    const PackdAnomalyInfo *info, const PackdOverlayOptions *options)
{
  const int width = GST_VIDEO_FRAME_WIDTH (frame);
  const int height = GST_VIDEO_FRAME_HEIGHT (frame);
  const int stride = GST_VIDEO_FRAME_PLANE_STRIDE (frame, 0);
  guint8 *data = GST_VIDEO_FRAME_PLANE_DATA (frame, 0);
  cairo_format_t format;
  gboolean has_alpha;

  switch (GST_VIDEO_FRAME_FORMAT (frame)) {
#if G_BYTE_ORDER == G_LITTLE_ENDIAN
    case GST_VIDEO_FORMAT_BGRx:
      format = CAIRO_FORMAT_RGB24;
      has_alpha = FALSE;
      break;
    case GST_VIDEO_FORMAT_BGRA:
      format = CAIRO_FORMAT_ARGB32;
      has_alpha = TRUE;
      break;
#else
    case GST_VIDEO_FORMAT_xRGB:
      format = CAIRO_FORMAT_RGB24;
      has_alpha = FALSE;
      break;
    case GST_VIDEO_FORMAT_ARGB:
      format = CAIRO_FORMAT_ARGB32;
      has_alpha = TRUE;
      break;
#endif
    default:
      return FALSE;
  }

  if (!options->heatmap && !options->regions && !options->score)
    return TRUE;

  cairo_surface_t *surface =
      cairo_image_surface_create_for_data (data, format, width, height, stride);
  /* Cairo refuses sides over 32767, and drawing on its error surface leaks
   * a pattern (cairo 1.16): leave such frames undrawn. */
  if (cairo_surface_status (surface) != CAIRO_STATUS_SUCCESS) {
    cairo_surface_destroy (surface);
    return FALSE;
  }
  if (has_alpha)
    frame_premultiply (data, width, height, stride, TRUE);
  cairo_t *cr = cairo_create (surface);
  cairo_select_font_face (cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);

  if (options->heatmap)
    draw_heatmap (overlay, cr, width, height, info, options->heatmap_alpha);
  if (options->regions)
    draw_regions (cr, width, height, info);
  if (options->score)
    draw_score (cr, width, height, info);

  gboolean ok = cairo_status (cr) == CAIRO_STATUS_SUCCESS;
  cairo_destroy (cr);
  cairo_surface_flush (surface);
  cairo_surface_destroy (surface);
  if (has_alpha)
    frame_premultiply (data, width, height, stride, FALSE);
  return ok;
}
