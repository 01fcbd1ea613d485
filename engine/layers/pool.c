/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "pool.h"
#include "simd-impl.h"

#include <string.h>

void
packd_global_avgpool_forward (const PackdTensor *in, PackdTensor *out)
{
  const int64_t N = in->shape[0], HW = in->shape[1] * in->shape[2], C = in->shape[3];

  for (int64_t n = 0; n < N; n++) {
    float *o = out->data + n * C;
    for (int64_t c = 0; c < C; c++)
      o[c] = 0.f;
    /* Accumulate row by row; order matches a straightforward mean. */
    for (int64_t i = 0; i < HW; i++) {
      const float *x = in->data + (n * HW + i) * C;
      for (int64_t c = 0; c < C; c++)
        o[c] += x[c];
    }
    for (int64_t c = 0; c < C; c++)
      o[c] /= (float) HW;
  }
}

/* The k x k mean is separable: for each output row, the column sums of its
 * k input rows are made once per pixel (k - 1 adds) and kept in a ring of k
 * columns, and each output adds the k column sums around it (k - 1 adds):
 * 2 (k - 1) adds and k loads per value instead of k^2 - 1 and k^2.
 * Channels go in chunks so the ring stays on the stack and in L1. */
#define POOL_CHUNK 256          /* channels per pass; multiple of 8 */
#define POOL_MAX_RING 15        /* larger kernels take the direct loop */

typedef PackdF32x8 V;
#define LANES PACKD_F32X8_LANES
#define LOAD PACKD_F32X8_LOAD
#define STORE PACKD_F32X8_STORE

/* dst[c] = scale * the sum of the n vectors src[i][c] (or zeros if n ==
 * 0), c < len; scale_n holds scale LANES times (see simd-impl.h). */
static PACKD_SIMD_INLINE void
sum_rows (const float *const *src, int n, int len, float scale, const float *scale_n, float *dst)
{
  const V vscale = LOAD (scale_n);
  int c = 0;

  for (; c + LANES <= len; c += LANES) {
    V a = n > 0 ? LOAD (src[0] + c) : (V) { 0 };
    for (int i = 1; i < n; i++)
      a += LOAD (src[i] + c);
    STORE (dst + c, a * vscale);
  }
  for (; c < len; c++) {
    float a = n > 0 ? src[0][c] : 0.f;
    for (int i = 1; i < n; i++)
      a += src[i][c];
    dst[c] = a * scale;
  }
}

static PACKD_SIMD_INLINE void
avgpool_rows_body (const float *src, int H, int W, int C, int kernel, float *dst)
{
  /* The window is 2r + 1 wide (as the direct loop), the divisor k^2. */
  const int r = kernel / 2, span = 2 * r + 1;
  const float inv = 1.0f / (float) (kernel * kernel);
  float ring[POOL_MAX_RING][POOL_CHUNK], one_n[LANES], inv_n[LANES];
  const float *rows[POOL_MAX_RING], *ring_rows[POOL_MAX_RING];

  for (int k = 0; k < span; k++)
    ring_rows[k] = ring[k];
  for (int l = 0; l < LANES; l++) {
    one_n[l] = 1.f;
    inv_n[l] = inv;
  }
  for (int y = 0; y < H; y++) {
    const int y0 = MAX (y - r, 0), y1 = MIN (y + r, H - 1);
    for (int c0 = 0; c0 < C; c0 += POOL_CHUNK) {
      const int len = MIN (POOL_CHUNK, C - c0);
      /* ring[x % span] = column sum of input column x (zero outside). */
      for (int x = -r; x < W + r; x++) {
        const int slot = (x + span) % span;
        if (x < W) {
          for (int yy = y0; yy <= y1; yy++)
            rows[yy - y0] = src + ((int64_t) yy * W + MAX (x, 0)) * C + c0;
          sum_rows (rows, x >= 0 ? y1 - y0 + 1 : 0, len, 1.f, one_n, ring[slot]);
        } else {
          memset (ring[slot], 0, len * sizeof (float));
        }
        /* the ring now holds columns x - 2r .. x: output x - r */
        if (x - r >= 0)
          sum_rows (ring_rows, span, len, inv, inv_n, dst + ((int64_t) y * W + x - r) * C + c0);
      }
    }
  }
}

PACKD_SIMD_CLONES (avgpool_rows, (const float *src, int H, int W, int C, int kernel, float *dst),
    (src, H, W, C, kernel, dst))

/* Any kernel size: every output sums its window directly. */
static void
avgpool_direct (const float *src, int H, int W, int C, int kernel, float *dst)
{
  const int r = kernel / 2;
  const float inv = 1.0f / (float) (kernel * kernel);

  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++) {
      float *restrict o = dst + ((int64_t) y * W + x) * C;
      memset (o, 0, C * sizeof (float));
      for (int yy = MAX (y - r, 0); yy <= MIN (y + r, H - 1); yy++)
        for (int xx = MAX (x - r, 0); xx <= MIN (x + r, W - 1); xx++) {
          const float *restrict s = src + ((int64_t) yy * W + xx) * C;
          for (int c = 0; c < C; c++)
            o[c] += s[c];
        }
      for (int c = 0; c < C; c++)
        o[c] *= inv;
    }
}

void
packd_avgpool_same_forward (const PackdTensor *in, int kernel, PackdTensor *out)
{
  const int N = in->shape[0], H = in->shape[1], W = in->shape[2], C = in->shape[3];

  for (int n = 0; n < N; n++) {
    const float *src = in->data + (int64_t) n * H * W * C;
    float *dst = out->data + (int64_t) n * H * W * C;
    if (kernel >= 1 && 2 * (kernel / 2) + 1 <= POOL_MAX_RING)
      avgpool_rows (src, H, W, C, kernel, dst);
    else
      avgpool_direct (src, H, W, C, kernel, dst);
  }
}
