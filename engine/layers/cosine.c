/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "cosine.h"

#include <math.h>

void
packd_cosine_distance_forward (const PackdTensor *a, const PackdTensor *b, float *out)
{
  const int64_t C = a->shape[a->ndim - 1];
  const int64_t rows = packd_tensor_numel (a) / C;

  g_return_if_fail (packd_tensor_same_shape (a, b));
  for (int64_t r = 0; r < rows; r++) {
    const float *restrict x = a->data + r * C, *restrict y = b->data + r * C;
    float dot = 0.f, xx = 0.f, yy = 0.f;
    for (int64_t c = 0; c < C; c++) {
      dot += x[c] * y[c];
      xx += x[c] * x[c];
      yy += y[c] * y[c];
    }
    float denom = sqrtf (xx) * sqrtf (yy);
    out[r] = 1.f - dot / MAX (denom, PACKD_COSINE_EPS);
  }
}
