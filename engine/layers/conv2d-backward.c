/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "conv2d-backward.h"
#include "conv2d-impl.h"
#include "activation-backward.h"

#include <cblas.h>
#include <string.h>

int64_t
packd_conv2d_backward_scratch_floats (const PackdConvParams *p, const PackdTensor *in,
    const PackdTensor *out)
{
  return packd_conv2d_scratch_floats (p, in, out);
}

void
packd_bias_backward (const float *grad, int64_t rows, int64_t channels, float *grad_b)
{
  for (int64_t r = 0; r < rows; r++) {
    const float *restrict g = grad + r * channels;
    for (int64_t c = 0; c < channels; c++)
      grad_b[c] += g[c];
  }
}

/* The adjoint of im2col: every column entry adds back into the input pixel
 * it was copied from; padding entries are dropped. */
static void
col2im_nhwc (const PackdConvParams *p, const float *cols, int H, int W, int C,
    int Ho, int Wo, float *in)
{
  const int kh = p->kernel_h, kw = p->kernel_w, s = p->stride;
  memset (in, 0, (gsize) H * W * C * sizeof (float));
  for (int oy = 0; oy < Ho; oy++)
    for (int ox = 0; ox < Wo; ox++) {
      const float *src = cols + ((int64_t) oy * Wo + ox) * kh * kw * C;
      for (int ky = 0; ky < kh; ky++) {
        int iy = oy * s - p->pad_top + ky;
        for (int kx = 0; kx < kw; kx++, src += C) {
          int ix = ox * s - p->pad_left + kx;
          if (iy < 0 || iy >= H || ix < 0 || ix >= W)
            continue;
          float *restrict dst = in + ((int64_t) iy * W + ix) * C;
          for (int c = 0; c < C; c++)
            dst[c] += src[c];
        }
      }
    }
}

void
packd_conv2d_backward (const PackdConvParams *p, const PackdTensor *in,
    const PackdTensor *weight, const PackdTensor *out, PackdTensor *grad_out,
    PackdTensor *grad_in, float *grad_w, float *grad_b, float *scratch)
{
  const int N = in->shape[0], H = in->shape[1], W = in->shape[2], C = in->shape[3];
  const int Ho = grad_out->shape[1], Wo = grad_out->shape[2], Co = grad_out->shape[3];
  const int K = p->kernel_h * p->kernel_w * C;
  const int64_t M = (int64_t) Ho * Wo;
  const gboolean pointwise = packd_conv2d_is_pointwise (p, in, grad_out);

  g_return_if_fail (weight->shape[3] == Co && weight->shape[2] == C);
  g_return_if_fail (grad_in == NULL || packd_tensor_same_shape (grad_in, in));

  if (p->act != PACKD_ACT_NONE)
    packd_activation_backward (p->act, out, grad_out, grad_out);

  for (int n = 0; n < N; n++) {
    const float *src = in->data + (int64_t) n * H * W * C;
    const float *dz = grad_out->data + (int64_t) n * M * Co;

    if (grad_b)
      packd_bias_backward (dz, M, Co, grad_b);
    if (grad_w) {
      const float *cols = src;
      if (!pointwise) {
        packd_conv2d_im2col (p, src, H, W, C, Wo, 0, M, scratch);
        cols = scratch;
      }
      cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, K, Co, M,
          1.0f, cols, K, dz, Co, 1.0f, grad_w, Co);
    }
    if (grad_in) {
      float *gin = grad_in->data + (int64_t) n * H * W * C;
      float *dcols = pointwise ? gin : scratch;
      cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, M, K, Co,
          1.0f, dz, Co, weight->data, Co, 0.0f, dcols, K);
      if (!pointwise)
        col2im_nhwc (p, dcols, H, W, C, Ho, Wo, gin);
    }
  }
}
