/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dense.h"

#include <cblas.h>

void
packd_dense_forward (const PackdTensor *in, const PackdTensor *weight, const float *bias,
    PackdActivation act, PackdTensor *out)
{
  const int64_t N = in->shape[0];
  const int64_t K = weight->shape[0], M = weight->shape[1];

  g_return_if_fail (packd_tensor_numel (in) == N * K && packd_tensor_numel (out) == N * M);
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, N, M, K,
      1.0f, in->data, K, weight->data, M, 0.0f, out->data, M);
  packd_bias_act_forward (out->data, N, M, bias, act);
}
