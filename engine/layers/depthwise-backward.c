/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "depthwise-backward.h"
#include "activation-backward.h"
#include "conv2d-backward.h"

#include <string.h>

void
packd_depthwise_backward (const PackdConvParams *p, const PackdTensor *in,
    const PackdTensor *weight, const PackdTensor *out, PackdTensor *grad_out,
    PackdTensor *grad_in, float *grad_w, float *grad_b)
{
  const int N = in->shape[0], H = in->shape[1], W = in->shape[2], C = in->shape[3];
  const int Ho = grad_out->shape[1], Wo = grad_out->shape[2];
  const int kh = p->kernel_h, kw = p->kernel_w, s = p->stride;
  const float *restrict wt = weight->data;

  g_return_if_fail (grad_out->shape[3] == C && weight->shape[2] == C);
  g_return_if_fail (grad_in == NULL || packd_tensor_same_shape (grad_in, in));

  if (p->act != PACKD_ACT_NONE)
    packd_activation_backward (p->act, out, grad_out, grad_out);
  if (grad_in)
    memset (grad_in->data, 0, packd_tensor_numel (grad_in) * sizeof (float));

  for (int n = 0; n < N; n++) {
    const float *src = in->data + (int64_t) n * H * W * C;
    const float *dz = grad_out->data + (int64_t) n * Ho * Wo * C;
    float *gin = grad_in ? grad_in->data + (int64_t) n * H * W * C : NULL;

    if (grad_b)
      packd_bias_backward (dz, (int64_t) Ho * Wo, C, grad_b);
    for (int oy = 0; oy < Ho; oy++)
      for (int ox = 0; ox < Wo; ox++) {
        const float *restrict g = dz + ((int64_t) oy * Wo + ox) * C;
        for (int ky = 0; ky < kh; ky++) {
          int iy = oy * s - p->pad_top + ky;
          if (iy < 0 || iy >= H)
            continue;
          for (int kx = 0; kx < kw; kx++) {
            int ix = ox * s - p->pad_left + kx;
            if (ix < 0 || ix >= W)
              continue;
            const int64_t at = ((int64_t) iy * W + ix) * C;
            const int64_t tap = ((int64_t) ky * kw + kx) * C;
            if (grad_w) {
              const float *restrict x = src + at;
              float *restrict gw = grad_w + tap;
              for (int c = 0; c < C; c++)
                gw[c] += x[c] * g[c];
            }
            if (gin) {
              const float *restrict k = wt + tap;
              float *restrict gi = gin + at;
              for (int c = 0; c < C; c++)
                gi[c] += k[c] * g[c];
            }
          }
        }
      }
  }
}
