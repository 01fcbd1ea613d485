/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "conv2d.h"
#include "conv2d-impl.h"
#include "gemm.h"
#include "simd-impl.h"

#include <cblas.h>
#include <string.h>

void
packd_conv_params_same (PackdConvParams *p, int kernel, int stride, int in_h, int in_w,
    PackdActivation act, int *out_h, int *out_w)
{
  int oh = (in_h + stride - 1) / stride;
  int ow = (in_w + stride - 1) / stride;
  int pad_h = MAX ((oh - 1) * stride + kernel - in_h, 0);
  int pad_w = MAX ((ow - 1) * stride + kernel - in_w, 0);

  p->kernel_h = p->kernel_w = kernel;
  p->stride = stride;
  p->pad_top = pad_h / 2;
  p->pad_left = pad_w / 2;
  p->act = act;
  if (out_h)
    *out_h = oh;
  if (out_w)
    *out_w = ow;
}

void
packd_bias_act_forward (float *data, int64_t rows, int64_t channels, const float *bias,
    PackdActivation act)
{
  for (int64_t r = 0; r < rows; r++) {
    float *restrict row = data + r * channels;
    if (bias)
      for (int64_t c = 0; c < channels; c++)
        row[c] += bias[c];
    if (act == PACKD_ACT_RELU)
      for (int64_t c = 0; c < channels; c++)
        row[c] = row[c] > 0.f ? row[c] : 0.f;
    else if (act == PACKD_ACT_RELU6)
      for (int64_t c = 0; c < channels; c++)
        row[c] = row[c] < 0.f ? 0.f : (row[c] > 6.f ? 6.f : row[c]);
  }
}

/* The output grid must match the input's too: the output size comes from the
 * output tensor, and a cropped or zero-extended output is not a plain sgemm. */
gboolean
packd_conv2d_is_pointwise (const PackdConvParams *p, const PackdTensor *in, const PackdTensor *out)
{
  return p->kernel_h == 1 && p->kernel_w == 1 && p->stride == 1 && p->pad_top == 0
      && p->pad_left == 0 && out->shape[1] == in->shape[1] && out->shape[2] == in->shape[2];
}

int64_t
packd_conv2d_scratch_floats (const PackdConvParams *p, const PackdTensor *in,
    const PackdTensor *out)
{
  if (packd_conv2d_is_pointwise (p, in, out))
    return 0;
  return out->shape[1] * out->shape[2] * (int64_t) p->kernel_h * p->kernel_w * in->shape[3];
}

/* Short copies (a 3-channel stem copies 9 floats per kernel row): a plain
 * loop, which GCC must not turn back into a memcpy call per piece. */
static inline void
copy_floats (float *restrict dst, const float *restrict src, int n)
{
  for (int i = 0; i < n; i++)
    dst[i] = src[i];
}

/* The kw taps of one kernel row are adjacent pixels, so inside the image
 * they are one contiguous piece of kw*C floats. */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__ ((optimize ("no-tree-loop-distribute-patterns")))
#endif
void
packd_conv2d_im2col (const PackdConvParams *p, const float *in, int H, int W, int C,
    int Wo, int64_t r0, int64_t r1, float *cols)
{
  const int kh = p->kernel_h, kw = p->kernel_w, s = p->stride;
  for (int64_t r = r0; r < r1; r++) {
    const int oy = r / Wo, ox = r % Wo;
    const int ix0 = ox * s - p->pad_left;
    float *dst = cols + (r - r0) * kh * kw * C;
    for (int ky = 0; ky < kh; ky++, dst += kw * C) {
      int iy = oy * s - p->pad_top + ky;
      if (iy < 0 || iy >= H) {
        for (int i = 0; i < kw * C; i++)
          dst[i] = 0.f;
      } else if (ix0 >= 0 && ix0 + kw <= W) {
        copy_floats (dst, in + ((int64_t) iy * W + ix0) * C, kw * C);
      } else {
        for (int kx = 0; kx < kw; kx++) {
          int ix = ix0 + kx;
          if (ix < 0 || ix >= W)
            for (int c = 0; c < C; c++)
              dst[kx * C + c] = 0.f;
          else
            copy_floats (dst + kx * C, in + ((int64_t) iy * W + ix) * C, C);
        }
      }
    }
  }
}

void
packd_conv2d_forward (const PackdConvParams *p, const PackdTensor *in,
    const PackdTensor *weight, const float *bias, PackdTensor *out, float *scratch)
{
  const int N = in->shape[0], H = in->shape[1], W = in->shape[2], C = in->shape[3];
  const int Ho = out->shape[1], Wo = out->shape[2], Co = out->shape[3];
  const int K = p->kernel_h * p->kernel_w * C;
  const int64_t M = (int64_t) Ho * Wo;

  g_return_if_fail (weight->shape[3] == Co && weight->shape[2] == C);

  for (int n = 0; n < N; n++) {
    const float *src = in->data + (int64_t) n * H * W * C;
    float *dst = out->data + (int64_t) n * M * Co;
    const float *a = src;
    if (!packd_conv2d_is_pointwise (p, in, out)) {
      packd_conv2d_im2col (p, src, H, W, C, Wo, 0, M, scratch);
      a = scratch;
    }
    cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, M, Co, K,
        1.0f, a, K, weight->data, Co, 0.0f, dst, Co);
    packd_bias_act_forward (dst, M, Co, bias, p->act);
  }
}

/* ---- packed weights, SIMD GEMM, row blocks over threads ----------------- */

/* Output rows per task: several tasks per thread so a thread that is
 * descheduled for a while holds up little, and a multiple of every kernel's
 * row tile (6, 12). */
#define MAX_ROWS_PER_TASK 192

static int64_t
rows_per_task (int64_t rows, int n_threads)
{
  int64_t r = rows / (8 * n_threads);
  r = CLAMP (r, 12, MAX_ROWS_PER_TASK);
  return (r + 11) / 12 * 12;
}

int64_t
packd_conv2d_packed_floats (const PackdTensor *weight)
{
  const int64_t k = weight->shape[0] * weight->shape[1] * weight->shape[2];
  return packd_gemm_packed_floats (k, weight->shape[3]);
}

void
packd_conv2d_pack_weight (const PackdTensor *weight, float *packed)
{
  const int64_t k = weight->shape[0] * weight->shape[1] * weight->shape[2];
  const int n = weight->shape[3];
  packd_gemm_pack_b (weight->data, k, n, n, packed);
}

int64_t
packd_conv2d_packed_scratch_floats (const PackdConvParams *p, const PackdTensor *in,
    const PackdTensor *out, int n_threads)
{
  const int64_t k = (int64_t) p->kernel_h * p->kernel_w * in->shape[3];
  if (packd_conv2d_is_pointwise (p, in, out))
    return 0;
  /* The plain path (no SIMD) needs the whole im2col matrix. */
  return MAX (packd_conv2d_scratch_floats (p, in, out),
      MAX (n_threads, 1) * MAX_ROWS_PER_TASK * k);
}

typedef struct {
  const PackdConvParams *p;
  const float *src;             /* one image */
  int H, W, C, Wo, Co, K;
  int64_t rows, rows_per_task;
  const PackdTensor *weight;
  const float *packed, *bias;
  float *dst, *scratch;
} ConvJob;

void
packd_conv2d_rows_packed (const PackdConvParams *p, const PackdTensor *in,
    const PackdTensor *weight, const float *packed, const float *bias, int out_w,
    int64_t r0, int64_t r1, float *dst, float *scratch)
{
  const int H = in->shape[1], W = in->shape[2], C = in->shape[3], Co = weight->shape[3];
  const int K = p->kernel_h * p->kernel_w * C;

  /* 1x1 stride 1 on the same grid: the activations are the GEMM's rows. */
  if (p->kernel_h == 1 && p->kernel_w == 1 && p->stride == 1 && p->pad_top == 0
      && p->pad_left == 0 && out_w == W && r1 <= (int64_t) H * W) {
    packd_gemm_rows (0, r1 - r0, Co, K, in->data + r0 * K, K, weight->data, Co, packed, bias,
        p->act, dst, Co);
  } else {
    packd_conv2d_im2col (p, in->data, H, W, C, out_w, r0, r1, scratch);
    packd_gemm_rows (0, r1 - r0, Co, K, scratch, K, weight->data, Co, packed, bias, p->act, dst, Co);
  }
}

static void
conv_task (gpointer data, int task, int thread)
{
  const ConvJob *j = data;
  const int64_t r0 = task * j->rows_per_task, r1 = MIN (j->rows, r0 + j->rows_per_task);
  PackdTensor image;

  packd_tensor_init_nhwc (&image, 1, j->H, j->W, j->C, (float *) j->src);
  packd_conv2d_rows_packed (j->p, &image, j->weight, j->packed, j->bias, j->Wo, r0, r1,
      j->dst + r0 * j->Co, j->scratch + thread * j->rows_per_task * j->K);
}

void
packd_conv2d_forward_packed (const PackdConvParams *p, const PackdTensor *in,
    const PackdTensor *weight, const float *packed, const float *bias, PackdTensor *out,
    float *scratch, PackdThreads *pool)
{
  const int N = in->shape[0], H = in->shape[1], W = in->shape[2], C = in->shape[3];
  const int n_threads = packd_threads_get_n (pool);
  ConvJob j = { p, NULL, H, W, C, out->shape[2], out->shape[3], p->kernel_h * p->kernel_w * C,
    out->shape[1] * out->shape[2], 0, weight, packed, bias, NULL, scratch };

  g_return_if_fail (weight->shape[3] == j.Co && weight->shape[2] == C);
  if (packd_simd_level () == PACKD_SIMD_GENERIC) {
    /* OpenBLAS then owns the threads (one call over all rows). */
    packd_conv2d_forward (p, in, weight, bias, out, scratch);
    return;
  }
  j.rows_per_task = rows_per_task (j.rows, n_threads);
  for (int n = 0; n < N; n++) {
    j.src = in->data + (int64_t) n * H * W * C;
    j.dst = out->data + (int64_t) n * j.rows * j.Co;
    packd_threads_run (pool, (j.rows + j.rows_per_task - 1) / j.rows_per_task, conv_task, &j);
  }
}
