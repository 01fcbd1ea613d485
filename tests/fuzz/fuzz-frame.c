/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* Fuzz target: a decoded frame of any size, row stride and pixel format
 * turned into the teacher's input tensor (packd_resize_u8_to_rgb_forward,
 * the scorer's PackdImage -> tensor path in engine/knn.c), up- and
 * down-sampling, both corner conventions.  The pixel buffer is exactly as
 * long as the PackdImage contract requires (no padding after the last
 * row), so any read past it is an ASan report.
 *
 * Input: 8 header bytes (width, height, format, row padding, output size,
 * align corners), then the pixels (repeated as needed). */

#include <string.h>

#include "fuzz-common.h"
#include "layers/resize.h"
#include "packd-scorer.h"

#define MAX_SIDE 512
#define MAX_OUT 64

/* The channel layout of each PackdPixelFormat, as engine/knn.c reads it. */
static const struct {
  PackdPixelFormat format;
  int channels;
  int order[3];
} formats[] = {
  { PACKD_PIXEL_RGB, 3, { 0, 1, 2 } },
  { PACKD_PIXEL_BGRX, 4, { 2, 1, 0 } },
  { PACKD_PIXEL_RGBX, 4, { 0, 1, 2 } },
  { PACKD_PIXEL_GRAY, 1, { 0, 0, 0 } },
};

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size < 8)
    return 0;
  const int width = 1 + (data[0] | (data[1] & 1) << 8) % MAX_SIDE;
  const int height = 1 + (data[2] | (data[3] & 1) << 8) % MAX_SIDE;
  const int f = (data[3] >> 1) % G_N_ELEMENTS (formats);
  const int padding = data[4] % 17;
  const int out_h = 1 + data[5] % MAX_OUT;
  const int out_w = 1 + data[6] % MAX_OUT;
  const gboolean align_corners = data[7] & 1;
  const guint8 *payload = data + 8;
  const gsize payload_len = size - 8;

  const int channels = formats[f].channels;
  const int stride = width * channels + padding;
  const gsize len = (gsize) (height - 1) * stride + (gsize) width * channels;
  guint8 *pixels = g_malloc (len);
  if (payload_len == 0)
    memset (pixels, 0x80, len);
  else {
    /* the payload, then the buffer doubled onto itself */
    gsize filled = MIN (payload_len, len);
    memcpy (pixels, payload, filled);
    while (filled < len) {
      gsize n = MIN (filled, len - filled);
      memcpy (pixels + filled, pixels, n);
      filled += n;
    }
  }

  float *out = g_new (float, (gsize) out_h * out_w * 3);
  PackdTensor t;
  packd_tensor_init_nhwc (&t, 1, out_h, out_w, 3, out);
  packd_resize_u8_to_rgb_forward (pixels, width, height, stride, channels, formats[f].order,
      align_corners, &t);
  /* Bilinear weights are convex: every output lies in [0, 1] (up to rounding). */
  for (gsize i = 0; i < (gsize) out_h * out_w * 3; i++)
    FUZZ_CHECK (out[i] >= -1e-6f && out[i] <= 1.f + 1e-6f);
  g_free (out);
  g_free (pixels);
  return 0;
}
