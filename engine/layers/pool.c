/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "pool.h"

#include <string.h>

void
packd_global_avgpool_forward (const PackdTensor *in, PackdTensor *out)
{
  const int64_t N = in->shape[0], HW = in->shape[1] * in->shape[2], C = in->shape[3];

  for (int64_t n = 0; n < N; n++) {
    float *o = out->data + n * C;
    for (int64_t c = 0; c < C; c++)
      o[c] = 0.f;
    /* Accumulate row by row; order matches a straightforward mean. */
    for (int64_t i = 0; i < HW; i++) {
      const float *x = in->data + (n * HW + i) * C;
      for (int64_t c = 0; c < C; c++)
        o[c] += x[c];
    }
    for (int64_t c = 0; c < C; c++)
      o[c] /= (float) HW;
  }
}

void
packd_avgpool_same_forward (const PackdTensor *in, int kernel, PackdTensor *out)
{
  const int N = in->shape[0], H = in->shape[1], W = in->shape[2], C = in->shape[3];
  const int r = kernel / 2;
  const float inv = 1.0f / (float) (kernel * kernel);

  for (int n = 0; n < N; n++) {
    const float *src = in->data + (int64_t) n * H * W * C;
    float *dst = out->data + (int64_t) n * H * W * C;
    for (int y = 0; y < H; y++)
      for (int x = 0; x < W; x++) {
        float *restrict o = dst + ((int64_t) y * W + x) * C;
        memset (o, 0, C * sizeof (float));
        for (int yy = MAX (y - r, 0); yy <= MIN (y + r, H - 1); yy++)
          for (int xx = MAX (x - r, 0); xx <= MIN (x + r, W - 1); xx++) {
            const float *restrict s = src + ((int64_t) yy * W + xx) * C;
            for (int c = 0; c < C; c++)
              o[c] += s[c];
          }
        for (int c = 0; c < C; c++)
          o[c] *= inv;
      }
  }
}
