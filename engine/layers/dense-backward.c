/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "dense-backward.h"
#include "activation-backward.h"
#include "conv2d-backward.h"

#include <cblas.h>

void
packd_dense_backward (const PackdTensor *in, const PackdTensor *weight,
    PackdActivation act, const PackdTensor *out, PackdTensor *grad_out,
    PackdTensor *grad_in, float *grad_w, float *grad_b)
{
  const int64_t N = in->shape[0];
  const int64_t K = weight->shape[0], M = weight->shape[1];

  g_return_if_fail (packd_tensor_numel (in) == N * K && packd_tensor_numel (grad_out) == N * M);
  g_return_if_fail (grad_in == NULL || packd_tensor_numel (grad_in) == N * K);

  if (act != PACKD_ACT_NONE)
    packd_activation_backward (act, out, grad_out, grad_out);
  if (grad_b)
    packd_bias_backward (grad_out->data, N, M, grad_b);
  if (grad_w)
    cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, K, M, N,
        1.0f, in->data, K, grad_out->data, M, 1.0f, grad_w, M);
  if (grad_in)
    cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, N, K, M,
        1.0f, grad_out->data, M, weight->data, M, 0.0f, grad_in->data, K);
}
