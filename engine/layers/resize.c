/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "resize.h"
#include "resize-impl.h"

#include <math.h>

void
packd_resize_bilinear_forward (const PackdTensor *in, gboolean align_corners, PackdTensor *out)
{
  const int N = in->shape[0], H = in->shape[1], W = in->shape[2], C = in->shape[3];
  const int Ho = out->shape[1], Wo = out->shape[2];
  for (int n = 0; n < N; n++) {
    const float *src = in->data + (int64_t) n * H * W * C;
    float *dst = out->data + (int64_t) n * Ho * Wo * C;
    for (int y = 0; y < Ho; y++) {
      const PackdResizeTap ty = packd_resize_tap (y, H, Ho, align_corners);
      const float *r0 = src + (int64_t) ty.i0 * W * C;
      const float *r1 = src + (int64_t) ty.i1 * W * C;
      const float wy = ty.w1;
      for (int x = 0; x < Wo; x++) {
        const PackdResizeTap tx = packd_resize_tap (x, W, Wo, align_corners);
        const float *a = r0 + (int64_t) tx.i0 * C, *b = r0 + (int64_t) tx.i1 * C;
        const float *c = r1 + (int64_t) tx.i0 * C, *d = r1 + (int64_t) tx.i1 * C;
        const float wx = tx.w1;
        float *restrict o = dst + ((int64_t) y * Wo + x) * C;
        for (int ch = 0; ch < C; ch++) {
          float top = a[ch] + (b[ch] - a[ch]) * wx;
          float bot = c[ch] + (d[ch] - c[ch]) * wx;
          o[ch] = top + (bot - top) * wy;
        }
      }
    }
  }
}

void
packd_resize_u8_to_rgb_forward (const guint8 *pixels, int width, int height, int stride,
    int channels, const int channel_order[3], gboolean align_corners, PackdTensor *out)
{
  const int Ho = out->shape[1], Wo = out->shape[2];
  const float scale = 1.0f / 255.0f;
  for (int y = 0; y < Ho; y++) {
    const PackdResizeTap ty = packd_resize_tap (y, height, Ho, align_corners);
    const guint8 *r0 = pixels + (gsize) ty.i0 * stride;
    const guint8 *r1 = pixels + (gsize) ty.i1 * stride;
    const float wy = ty.w1;
    float *o = out->data + (int64_t) y * Wo * 3;
    for (int x = 0; x < Wo; x++, o += 3) {
      const PackdResizeTap tx = packd_resize_tap (x, width, Wo, align_corners);
      const int x0 = tx.i0 * channels, x1 = tx.i1 * channels;
      const float wx = tx.w1;
      for (int ch = 0; ch < 3; ch++) {
        const int k = channel_order[ch];
        float a = r0[x0 + k] * scale, b = r0[x1 + k] * scale;
        float c = r1[x0 + k] * scale, d = r1[x1 + k] * scale;
        float top = a + (b - a) * wx;
        float bot = c + (d - c) * wx;
        o[ch] = top + (bot - top) * wy;
      }
    }
  }
}
