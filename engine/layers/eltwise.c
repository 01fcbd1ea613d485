/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "eltwise.h"

#include <math.h>
#include <string.h>

void
packd_add_forward (const PackdTensor *a, const PackdTensor *b, PackdTensor *out)
{
  const int64_t n = packd_tensor_numel (out);
  const float *pa = a->data, *pb = b->data;
  float *po = out->data;

  g_return_if_fail (packd_tensor_numel (a) == n && packd_tensor_numel (b) == n);
  for (int64_t i = 0; i < n; i++)
    po[i] = pa[i] + pb[i];
}

void
packd_concat_channels_forward (const PackdTensor *const *inputs, int n_inputs, PackdTensor *out)
{
  const int64_t rows = out->shape[0] * out->shape[1] * out->shape[2];
  const int64_t Co = out->shape[3];
  int64_t offset = 0;

  for (int i = 0; i < n_inputs; i++) {
    const PackdTensor *t = inputs[i];
    const int64_t C = t->shape[3];
    g_return_if_fail (t->shape[0] * t->shape[1] * t->shape[2] == rows && offset + C <= Co);
    for (int64_t r = 0; r < rows; r++)
      memcpy (out->data + r * Co + offset, t->data + r * C, C * sizeof (float));
    offset += C;
  }
}

void
packd_softmax_forward (float *data, int64_t rows, int64_t n)
{
  for (int64_t r = 0; r < rows; r++) {
    float *x = data + r * n;
    float m = x[0];
    for (int64_t i = 1; i < n; i++)
      m = MAX (m, x[i]);
    double sum = 0;
    for (int64_t i = 0; i < n; i++) {
      x[i] = expf (x[i] - m);
      sum += x[i];
    }
    for (int64_t i = 0; i < n; i++)
      x[i] = (float) (x[i] / sum);
  }
}
