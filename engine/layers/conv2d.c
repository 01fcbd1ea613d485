/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "conv2d.h"

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
static gboolean
conv_is_pointwise (const PackdConvParams *p, const PackdTensor *in, const PackdTensor *out)
{
  return p->kernel_h == 1 && p->kernel_w == 1 && p->stride == 1 && p->pad_top == 0
      && p->pad_left == 0 && out->shape[1] == in->shape[1] && out->shape[2] == in->shape[2];
}

int64_t
packd_conv2d_scratch_floats (const PackdConvParams *p, const PackdTensor *in,
    const PackdTensor *out)
{
  if (conv_is_pointwise (p, in, out))
    return 0;
  return out->shape[1] * out->shape[2] * (int64_t) p->kernel_h * p->kernel_w * in->shape[3];
}

/* Rows of the im2col matrix are output positions, columns (ky,kx,cin) in
 * HWIO order so the weight tensor is used as is. */
static void
im2col_nhwc (const PackdConvParams *p, const float *in, int H, int W, int C,
    int Ho, int Wo, float *cols)
{
  const int kh = p->kernel_h, kw = p->kernel_w, s = p->stride;
  for (int oy = 0; oy < Ho; oy++) {
    for (int ox = 0; ox < Wo; ox++) {
      float *dst = cols + ((int64_t) oy * Wo + ox) * kh * kw * C;
      for (int ky = 0; ky < kh; ky++) {
        int iy = oy * s - p->pad_top + ky;
        for (int kx = 0; kx < kw; kx++, dst += C) {
          int ix = ox * s - p->pad_left + kx;
          if (iy < 0 || iy >= H || ix < 0 || ix >= W)
            memset (dst, 0, C * sizeof (float));
          else
            memcpy (dst, in + ((int64_t) iy * W + ix) * C, C * sizeof (float));
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
    if (!conv_is_pointwise (p, in, out)) {
      im2col_nhwc (p, src, H, W, C, Ho, Wo, scratch);
      a = scratch;
    }
    cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, M, Co, K,
        1.0f, a, K, weight->data, Co, 0.0f, dst, Co);
    packd_bias_act_forward (dst, M, Co, bias, p->act);
  }
}
