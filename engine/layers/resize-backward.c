/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "resize-backward.h"
#include "resize-impl.h"

#include <math.h>
#include <string.h>

void
packd_resize_bilinear_backward (const PackdTensor *grad_out, gboolean align_corners,
    PackdTensor *grad_in)
{
  const int N = grad_in->shape[0], H = grad_in->shape[1], W = grad_in->shape[2];
  const int C = grad_in->shape[3];
  const int Ho = grad_out->shape[1], Wo = grad_out->shape[2];

  g_return_if_fail (grad_out->shape[0] == N && grad_out->shape[3] == C);
  memset (grad_in->data, 0, packd_tensor_numel (grad_in) * sizeof (float));
  for (int n = 0; n < N; n++) {
    const float *src = grad_out->data + (int64_t) n * Ho * Wo * C;
    float *dst = grad_in->data + (int64_t) n * H * W * C;
    for (int y = 0; y < Ho; y++) {
      const PackdResizeTap ty = packd_resize_tap (y, H, Ho, align_corners);
      float *r0 = dst + (int64_t) ty.i0 * W * C;
      float *r1 = dst + (int64_t) ty.i1 * W * C;
      for (int x = 0; x < Wo; x++) {
        const PackdResizeTap tx = packd_resize_tap (x, W, Wo, align_corners);
        const float w00 = (1.f - ty.w1) * (1.f - tx.w1), w01 = (1.f - ty.w1) * tx.w1;
        const float w10 = ty.w1 * (1.f - tx.w1), w11 = ty.w1 * tx.w1;
        float *a = r0 + (int64_t) tx.i0 * C, *b = r0 + (int64_t) tx.i1 * C;
        float *c = r1 + (int64_t) tx.i0 * C, *d = r1 + (int64_t) tx.i1 * C;
        const float *g = src + ((int64_t) y * Wo + x) * C;
        /* a..d may coincide at the borders: plain accumulation handles it. */
        for (int ch = 0; ch < C; ch++) {
          a[ch] += w00 * g[ch];
          b[ch] += w01 * g[ch];
          c[ch] += w10 * g[ch];
          d[ch] += w11 * g[ch];
        }
      }
    }
  }
}
