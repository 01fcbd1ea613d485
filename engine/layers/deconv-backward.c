/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "deconv-backward.h"
#include "activation-backward.h"
#include "conv2d-backward.h"

#include <cblas.h>
#include <string.h>

void
packd_deconv2x2_backward (const PackdTensor *in, const PackdTensor *weight,
    PackdActivation act, const PackdTensor *out, PackdTensor *grad_out,
    PackdTensor *grad_in, float *grad_w, float *grad_b, float *scratch)
{
  const int N = in->shape[0], H = in->shape[1], W = in->shape[2], C = in->shape[3];
  const int Co = weight->shape[3];
  const int64_t HW = (int64_t) H * W;

  g_return_if_fail (weight->shape[0] == C && grad_out->shape[1] == 2 * H
      && grad_out->shape[2] == 2 * W && grad_out->shape[3] == Co);
  g_return_if_fail (grad_in == NULL || packd_tensor_same_shape (grad_in, in));

  if (act != PACKD_ACT_NONE)
    packd_activation_backward (act, out, grad_out, grad_out);

  for (int n = 0; n < N; n++) {
    const float *src = in->data + (int64_t) n * HW * C;
    const float *dz = grad_out->data + (int64_t) n * 4 * HW * Co;

    if (grad_b)
      packd_bias_backward (dz, 4 * HW, Co, grad_b);
    if (!grad_w && !grad_in)
      continue;
    for (int y = 0; y < H; y++)
      for (int x = 0; x < W; x++)
        for (int i = 0; i < 2; i++)
          for (int j = 0; j < 2; j++)
            memcpy (scratch + ((int64_t) y * W + x) * 4 * Co + (i * 2 + j) * Co,
                dz + ((int64_t) (2 * y + i) * 2 * W + 2 * x + j) * Co, Co * sizeof (float));
    if (grad_w)
      cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, C, 4 * Co, HW,
          1.0f, src, C, scratch, 4 * Co, 1.0f, grad_w, 4 * Co);
    if (grad_in)
      cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, HW, C, 4 * Co,
          1.0f, scratch, 4 * Co, weight->data, 4 * Co, 0.0f,
          grad_in->data + (int64_t) n * HW * C, C);
  }
}
