/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "depthwise.h"
#include "simd-impl.h"

#include <string.h>

/* One output pixel, any kernel size, taps outside the image skipped. */
static void
pixel_forward (const PackdConvParams *p, const float *src, int H, int W, int C,
    const float *restrict wt, const float *bias, int oy, int ox, float *restrict acc)
{
  const int kh = p->kernel_h, kw = p->kernel_w, s = p->stride;

  if (bias)
    memcpy (acc, bias, C * sizeof (float));
  else
    memset (acc, 0, C * sizeof (float));
  for (int ky = 0; ky < kh; ky++) {
    int iy = oy * s - p->pad_top + ky;
    if (iy < 0 || iy >= H)
      continue;
    for (int kx = 0; kx < kw; kx++) {
      int ix = ox * s - p->pad_left + kx;
      if (ix < 0 || ix >= W)
        continue;
      const float *restrict x = src + ((int64_t) iy * W + ix) * C;
      const float *restrict k = wt + ((int64_t) ky * kw + kx) * C;
      for (int c = 0; c < C; c++)
        acc[c] += x[c] * k[c];
    }
  }
  if (p->act != PACKD_ACT_NONE)
    packd_bias_act_forward (acc, 1, C, NULL, p->act);
}

void
packd_depthwise3x3_row_generic (const float *const rows[3], const float *weight,
    const float *bias, int channels, int stride, int x0, int n_out, int width,
    PackdActivation act, float *out)
{
  const int64_t C = channels;

  for (int i = 0; i < n_out; i++) {
    float *restrict acc = out + i * C;
    const int x = x0 + i * stride;
    if (bias)
      memcpy (acc, bias, C * sizeof (float));
    else
      memset (acc, 0, C * sizeof (float));
    for (int ky = 0; ky < 3; ky++) {
      if (rows[ky] == NULL)
        continue;
      for (int kx = 0; kx < 3; kx++) {
        if (x + kx < 0 || x + kx >= width)
          continue;
        const float *restrict in = rows[ky] + (x + kx) * C;
        const float *restrict k = weight + (ky * 3 + kx) * C;
        for (int64_t c = 0; c < C; c++)
          acc[c] += in[c] * k[c];
      }
    }
    if (act != PACKD_ACT_NONE)
      packd_bias_act_forward (acc, 1, C, NULL, act);
  }
}

PackdDepthwiseRowFunc
packd_depthwise3x3_row_func (void)
{
#if defined(__x86_64__)
  switch (packd_simd_level ()) {
    case PACKD_SIMD_AVX512:
      return packd_depthwise3x3_row_avx512;
    case PACKD_SIMD_AVX2:
      return packd_depthwise3x3_row_avx2;
    default:
      break;
  }
#endif
  return packd_depthwise3x3_row_generic;
}

static PackdDepthwiseRowFunc
row_kernel (const PackdConvParams *p)
{
  return p->kernel_h == 3 && p->kernel_w == 3 ? packd_depthwise3x3_row_func () : NULL;
}

typedef struct {
  const PackdConvParams *p;
  const PackdTensor *in, *weight, *out;
  const float *bias;
  PackdDepthwiseRowFunc row_func;
  int rows_per_task, tasks_per_image;
} DepthwiseJob;

static void
depthwise_rows (const DepthwiseJob *j, int n, int oy0, int oy1)
{
  const PackdConvParams *p = j->p;
  const int H = j->in->shape[1], W = j->in->shape[2], C = j->in->shape[3];
  const int Wo = j->out->shape[2], s = p->stride;
  const float *src = j->in->data + (int64_t) n * H * W * C;
  float *dst = j->out->data + (int64_t) n * j->out->shape[1] * Wo * C;

  for (int oy = oy0; oy < oy1; oy++) {
    float *row_out = dst + (int64_t) oy * Wo * C;
    const float *rows[3] = { NULL, NULL, NULL };
    for (int ky = 0; ky < 3 && j->row_func; ky++) {
      int iy = oy * s - p->pad_top + ky;
      rows[ky] = iy >= 0 && iy < H ? src + (int64_t) iy * W * C : NULL;
    }
    /* A row with every tap outside the image is bias only: plain loop. */
    if (rows[0] || rows[1] || rows[2])
      j->row_func (rows, j->weight->data, j->bias, C, s, -p->pad_left, Wo, W, p->act, row_out);
    else
      for (int ox = 0; ox < Wo; ox++)
        pixel_forward (p, src, H, W, C, j->weight->data, j->bias, oy, ox,
            row_out + (int64_t) ox * C);
  }
}

static void
depthwise_task (gpointer data, int task, int thread)
{
  const DepthwiseJob *j = data;
  const int n = task / j->tasks_per_image, oy0 = (task % j->tasks_per_image) * j->rows_per_task;

  depthwise_rows (j, n, oy0, MIN (oy0 + j->rows_per_task, (int) j->out->shape[1]));
}

void
packd_depthwise_forward_threads (const PackdConvParams *p, const PackdTensor *in,
    const PackdTensor *weight, const float *bias, PackdTensor *out, PackdThreads *pool)
{
  const int N = in->shape[0], Ho = out->shape[1];
  const int n_threads = packd_threads_get_n (pool);
  DepthwiseJob j = { p, in, weight, out, bias, row_kernel (p), 0, 0 };

  g_return_if_fail (out->shape[3] == in->shape[3] && weight->shape[2] == in->shape[3]);
  /* A few tasks per thread, whole rows each. */
  j.rows_per_task = MAX (1, Ho / (4 * n_threads));
  j.tasks_per_image = (Ho + j.rows_per_task - 1) / j.rows_per_task;
  packd_threads_run (pool, N * j.tasks_per_image, depthwise_task, &j);
}

void
packd_depthwise_forward (const PackdConvParams *p, const PackdTensor *in,
    const PackdTensor *weight, const float *bias, PackdTensor *out)
{
  packd_depthwise_forward_threads (p, in, weight, bias, out, NULL);
}
