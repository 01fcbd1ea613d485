/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "eltwise-backward.h"

#include <string.h>

static void
copy_grad (const PackdTensor *src, PackdTensor *dst)
{
  const int64_t n = packd_tensor_numel (src);

  g_return_if_fail (packd_tensor_numel (dst) == n);
  if (dst->data != src->data)
    memcpy (dst->data, src->data, n * sizeof (float));
}

void
packd_add_backward (const PackdTensor *grad_out, PackdTensor *grad_a, PackdTensor *grad_b)
{
  if (grad_a)
    copy_grad (grad_out, grad_a);
  if (grad_b)
    copy_grad (grad_out, grad_b);
}

void
packd_concat_channels_backward (const PackdTensor *grad_out, const int *channel_counts,
    PackdTensor *const *grad_inputs, int n_inputs)
{
  const int64_t rows = grad_out->shape[0] * grad_out->shape[1] * grad_out->shape[2];
  const int64_t Co = grad_out->shape[3];
  int64_t offset = 0;

  for (int i = 0; i < n_inputs; i++) {
    const int64_t C = channel_counts[i];
    PackdTensor *g = grad_inputs[i];
    g_return_if_fail (offset + C <= Co);
    if (g) {
      g_return_if_fail (packd_tensor_numel (g) == rows * C);
      for (int64_t r = 0; r < rows; r++)
        memcpy (g->data + r * C, grad_out->data + r * Co + offset, C * sizeof (float));
    }
    offset += C;
  }
}
