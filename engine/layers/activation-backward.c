/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "activation-backward.h"

#include <string.h>

void
packd_activation_backward (PackdActivation act, const PackdTensor *out,
    const PackdTensor *grad_out, PackdTensor *grad_in)
{
  const int64_t n = packd_tensor_numel (grad_out);
  const float *g = grad_out->data;
  float *d = grad_in->data;

  g_return_if_fail (packd_tensor_numel (grad_in) == n);
  if (act == PACKD_ACT_NONE) {
    if (d != g)
      memmove (d, g, n * sizeof (float));
    return;
  }
  g_return_if_fail (out != NULL && packd_tensor_numel (out) == n);

  const float *y = out->data;
  const float hi = act == PACKD_ACT_RELU6 ? 6.f : G_MAXFLOAT;
  for (int64_t i = 0; i < n; i++)
    d[i] = (y[i] > 0.f && y[i] < hi) ? g[i] : 0.f;
}
