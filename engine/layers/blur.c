/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/* Both passes run along contiguous memory, 8 outputs per vector: the row
 * pass over a mirrored copy of a block of the row, the column pass as a
 * weighted sum of whole rows.  Four vectors at a time keep four independent
 * multiply-add chains in flight.  Compiled per SIMD level from one body
 * (PACKD_SIMD_CLONES); every output sums its taps in kernel order.  The
 * weights come as vectors of LANES equal floats (see simd-impl.h). */
#include "blur.h"
#include "simd-impl.h"

#include <math.h>

#define ROW_BLOCK 256           /* outputs per mirrored block of the row pass */

typedef PackdF32x8 V;
#define LANES PACKD_F32X8_LANES
#define LOAD PACKD_F32X8_LOAD
#define STORE PACKD_F32X8_STORE

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

/* out[x] = sum_k kernel[k] * src_k[x] for x < n, where src_k = base + k *
 * step (row pass: step 1 along a padded row) or src_k = rows[k] (column
 * pass: rows != NULL); kernel_n holds each weight LANES times. */
static PACKD_SIMD_INLINE void
weighted_sum (const float *base, const float *const *rows, int n, const float *kernel,
    const float *kernel_n, int taps, float *out)
{
#define SRC(k) (rows ? rows[k] : base + (k))
#define W(k) LOAD (kernel_n + LANES * (k))
  int x = 0;

  for (; x + 4 * LANES <= n; x += 4 * LANES) {
    const float *s = SRC (0) + x;
    V a0 = W (0) * LOAD (s), a1 = W (0) * LOAD (s + LANES);
    V a2 = W (0) * LOAD (s + 2 * LANES), a3 = W (0) * LOAD (s + 3 * LANES);
    for (int k = 1; k < taps; k++) {
      const V w = W (k);
      s = SRC (k) + x;
      a0 += w * LOAD (s);
      a1 += w * LOAD (s + LANES);
      a2 += w * LOAD (s + 2 * LANES);
      a3 += w * LOAD (s + 3 * LANES);
    }
    STORE (out + x, a0);
    STORE (out + x + LANES, a1);
    STORE (out + x + 2 * LANES, a2);
    STORE (out + x + 3 * LANES, a3);
  }
  for (; x + LANES <= n; x += LANES) {
    V a = W (0) * LOAD (SRC (0) + x);
    for (int k = 1; k < taps; k++)
      a += W (k) * LOAD (SRC (k) + x);
    STORE (out + x, a);
  }
  for (; x < n; x++) {
    float a = kernel[0] * SRC (0)[x];
    for (int k = 1; k < taps; k++)
      a += kernel[k] * SRC (k)[x];
    out[x] = a;
  }
#undef SRC
#undef W
}

static PACKD_SIMD_INLINE void
blur_rows_body (const float *in, int height, int width, const float *kernel,
    const float *kernel_n, int radius, float *out)
{
  float pad[ROW_BLOCK + 2 * PACKD_BLUR_MAX_RADIUS];

  for (int y = 0; y < height; y++) {
    const float *src = in + (gsize) y * width;
    for (int x0 = 0; x0 < width; x0 += ROW_BLOCK) {
      const int n = MIN (ROW_BLOCK, width - x0);
      /* pad[i] = input column x0 - radius + i, mirrored at the borders. */
      for (int i = 0; i < n + 2 * radius; i++) {
        const int x = x0 - radius + i;
        pad[i] = src[x >= 0 && x < width ? x : reflect_index (x, width)];
      }
      weighted_sum (pad, NULL, n, kernel, kernel_n, 2 * radius + 1, out + (gsize) y * width + x0);
    }
  }
}

static PACKD_SIMD_INLINE void
blur_columns_body (const float *in, int height, int width, const float *kernel,
    const float *kernel_n, int radius, float *out)
{
  const float *rows[2 * PACKD_BLUR_MAX_RADIUS + 1];

  for (int y = 0; y < height; y++) {
    for (int k = 0; k <= 2 * radius; k++)
      rows[k] = in + (gsize) reflect_index (y - radius + k, height) * width;
    weighted_sum (NULL, rows, width, kernel, kernel_n, 2 * radius + 1, out + (gsize) y * width);
  }
}

PACKD_SIMD_CLONES (blur_rows, (const float *in, int height, int width, const float *kernel,
        const float *kernel_n, int radius, float *out),
    (in, height, width, kernel, kernel_n, radius, out))
PACKD_SIMD_CLONES (blur_columns, (const float *in, int height, int width, const float *kernel,
        const float *kernel_n, int radius, float *out),
    (in, height, width, kernel, kernel_n, radius, out))

int
packd_gaussian_blur_forward (const float *in, int height, int width, float sigma,
    float truncate, float *out, float *scratch)
{
  float kernel[2 * PACKD_BLUR_MAX_RADIUS + 1], kernel_n[(2 * PACKD_BLUR_MAX_RADIUS + 1) * LANES];
  int radius = (int) (truncate * sigma + 0.5f);
  double sum = 0;

  radius = CLAMP (radius, 0, PACKD_BLUR_MAX_RADIUS);
  for (int k = -radius; k <= radius; k++) {
    double v = sigma > 0 ? exp (-0.5 * (double) k * k / ((double) sigma * sigma)) : (k == 0);
    kernel[k + radius] = (float) v;
    sum += v;
  }
  for (int k = 0; k < 2 * radius + 1; k++) {
    kernel[k] = (float) (kernel[k] / sum);
    for (int l = 0; l < LANES; l++)
      kernel_n[LANES * k + l] = kernel[k];
  }

  /* Rows (along x) into scratch, then columns (along y) into out. */
  blur_rows (in, height, width, kernel, kernel_n, radius, scratch);
  blur_columns (scratch, height, width, kernel, kernel_n, radius, out);
  return radius;
}
