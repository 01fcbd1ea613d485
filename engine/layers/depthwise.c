/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "depthwise.h"

#include <string.h>

void
packd_depthwise_forward (const PackdConvParams *p, const PackdTensor *in,
    const PackdTensor *weight, const float *bias, PackdTensor *out)
{
  const int N = in->shape[0], H = in->shape[1], W = in->shape[2], C = in->shape[3];
  const int Ho = out->shape[1], Wo = out->shape[2];
  const int kh = p->kernel_h, kw = p->kernel_w, s = p->stride;
  const float *restrict wt = weight->data;

  g_return_if_fail (out->shape[3] == C && weight->shape[2] == C);

  for (int n = 0; n < N; n++) {
    const float *src = in->data + (int64_t) n * H * W * C;
    float *dst = out->data + (int64_t) n * Ho * Wo * C;
    for (int oy = 0; oy < Ho; oy++) {
      for (int ox = 0; ox < Wo; ox++) {
        float *restrict acc = dst + ((int64_t) oy * Wo + ox) * C;
        if (bias)
          memcpy (acc, bias, C * sizeof (float));
        else
          memset (acc, 0, C * sizeof (float));
        for (int ky = 0; ky < kh; ky++) {
          int iy = oy * s - p->pad_top + ky;
          if (iy < 0 || iy >= H)
            continue;
          for (int kx = 0; kx < kw; kx++) {
            int ix = ox * s - p->pad_left + kx;
            if (ix < 0 || ix >= W)
              continue;
            const float *restrict x = src + ((int64_t) iy * W + ix) * C;
            const float *restrict k = wt + ((int64_t) ky * kw + kx) * C;
            for (int c = 0; c < C; c++)
              acc[c] += x[c] * k[c];
          }
        }
        if (p->act != PACKD_ACT_NONE)
          packd_bias_act_forward (acc, 1, C, NULL, p->act);
      }
    }
  }
}
