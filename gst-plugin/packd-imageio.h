/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PACKD_IMAGEIO_H
#define PACKD_IMAGEIO_H

#include <glib.h>

G_BEGIN_DECLS

/* Image files decoded into packed 8-bit RGB, with the pixels PIL's
 * Image.open(p).convert("RGB") gives: JPEG through libjpeg(-turbo) at its
 * defaults as PIL does, everything else with GStreamer (decodebin: PNG, BMP,
 * ... in any bit depth, grey, alpha; alpha is dropped, 16-bit keeps the high
 * byte), except 16-bit RGB PNG, which pngdec gets wrong, through Cairo.  Shared by the element (support images) and the tools; the engine
 * itself has no GStreamer.  Calls gst_init() if needed.  Thread-safe. */

typedef struct {
  guint8 *rgb;   /* width*height*3 bytes, no row padding; g_free() it */
  int width;
  int height;
} PackdRgbImage;

/* Largest image packd_image_load_rgb() decodes, in pixels: PIL's
 * decompression-bomb limit (2 x Image.MAX_IMAGE_PIXELS).  A larger image is
 * refused from its header, before any pixel memory is allocated: a support
 * image is sampled down to the model's input size anyway, and a small file
 * declaring a huge image must not cost gigabytes. */
#define PACKD_IMAGE_MAX_PIXELS G_GUINT64_CONSTANT (178956970)

gboolean packd_image_load_rgb (const char *path, PackdRgbImage *out, GError **error);
void packd_rgb_image_clear (PackdRgbImage *img);
/* Writes packed RGB as PNG (via Cairo). */
gboolean packd_image_save_png (const char *path, const guint8 *rgb, int width, int height,
    GError **error);

G_END_DECLS

#endif /* PACKD_IMAGEIO_H */
