/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "deconv.h"

#include <cblas.h>
#include <string.h>

int64_t
packd_deconv2x2_scratch_floats (const PackdTensor *in, const PackdTensor *weight)
{
  return in->shape[1] * in->shape[2] * 4 * weight->shape[3];
}

void
packd_deconv2x2_forward (const PackdTensor *in, const PackdTensor *weight, const float *bias,
    PackdActivation act, PackdTensor *out, float *scratch)
{
  const int N = in->shape[0], H = in->shape[1], W = in->shape[2], C = in->shape[3];
  const int Co = weight->shape[3];

  g_return_if_fail (weight->shape[0] == C && out->shape[1] == 2 * H && out->shape[2] == 2 * W
      && out->shape[3] == Co);
  for (int n = 0; n < N; n++) {
    const float *src = in->data + (int64_t) n * H * W * C;
    float *dst = out->data + (int64_t) n * 4 * H * W * Co;
    cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, (int64_t) H * W, 4 * Co, C,
        1.0f, src, C, weight->data, 4 * Co, 0.0f, scratch, 4 * Co);
    for (int y = 0; y < H; y++)
      for (int x = 0; x < W; x++)
        for (int i = 0; i < 2; i++)
          for (int j = 0; j < 2; j++) {
            const float *s = scratch + ((int64_t) y * W + x) * 4 * Co + (i * 2 + j) * Co;
            float *d = dst + ((int64_t) (2 * y + i) * 2 * W + 2 * x + j) * Co;
            memcpy (d, s, Co * sizeof (float));
          }
    packd_bias_act_forward (dst, (int64_t) 4 * H * W, Co, bias, act);
  }
}
