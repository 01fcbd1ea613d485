/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "blur.h"

#include <math.h>

static inline int
reflect_index (int i, int n)
{
  /* scipy 'reflect': period 2n, edge sample repeated. */
  const int period = 2 * n;
  i %= period;
  if (i < 0)
    i += period;
  return i < n ? i : period - 1 - i;
}

static void
blur_rows (const float *in, int rows, int n, int stride_elem, int stride_row,
    const float *kernel, int radius, float *out)
{
  for (int r = 0; r < rows; r++) {
    const float *src = in + (gsize) r * stride_row;
    float *dst = out + (gsize) r * stride_row;
    for (int i = 0; i < n; i++) {
      float acc = 0.f;
      if (i - radius >= 0 && i + radius < n) {
        for (int k = -radius; k <= radius; k++)
          acc += kernel[k + radius] * src[(gsize) (i + k) * stride_elem];
      } else {
        for (int k = -radius; k <= radius; k++)
          acc += kernel[k + radius] * src[(gsize) reflect_index (i + k, n) * stride_elem];
      }
      dst[(gsize) i * stride_elem] = acc;
    }
  }
}

int
packd_gaussian_blur_forward (const float *in, int height, int width, float sigma,
    float truncate, float *out, float *scratch)
{
  float kernel[2 * PACKD_BLUR_MAX_RADIUS + 1];
  int radius = (int) (truncate * sigma + 0.5f);
  double sum = 0;

  radius = CLAMP (radius, 0, PACKD_BLUR_MAX_RADIUS);
  for (int k = -radius; k <= radius; k++) {
    double v = sigma > 0 ? exp (-0.5 * (double) k * k / ((double) sigma * sigma)) : (k == 0);
    kernel[k + radius] = (float) v;
    sum += v;
  }
  for (int k = 0; k < 2 * radius + 1; k++)
    kernel[k] = (float) (kernel[k] / sum);

  /* Rows (along x) into scratch, then columns (along y) into out. */
  blur_rows (in, height, width, 1, width, kernel, radius, scratch);
  for (int x = 0; x < width; x++)
    blur_rows (scratch + x, 1, height, width, 0, kernel, radius, out + x);
  return radius;
}
