/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "batchnorm.h"

#include <math.h>

static void
apply_affine (const PackdTensor *in, const float *gamma, const float *beta,
    const float *mean, const float *invstd, PackdTensor *out)
{
  const int64_t C = in->shape[3];
  const int64_t rows = packd_tensor_numel (in) / C;

  for (int64_t r = 0; r < rows; r++) {
    const float *restrict x = in->data + r * C;
    float *restrict y = out->data + r * C;
    for (int64_t c = 0; c < C; c++)
      y[c] = gamma[c] * ((x[c] - mean[c]) * invstd[c]) + beta[c];
  }
}

void
packd_batchnorm_train_forward (const PackdTensor *in, const float *gamma, const float *beta,
    float momentum, float eps, float *running_mean, float *running_var,
    float *batch_mean, float *batch_invstd, PackdTensor *out)
{
  const int64_t C = in->shape[3];
  const int64_t rows = packd_tensor_numel (in) / C;
  double *sum, *sq;

  g_return_if_fail (packd_tensor_same_shape (in, out) && rows > 0);
  sum = g_new0 (double, C);
  sq = g_new0 (double, C);

  /* Two passes (mean, then squared deviations): no cancellation. */
  for (int64_t r = 0; r < rows; r++) {
    const float *x = in->data + r * C;
    for (int64_t c = 0; c < C; c++)
      sum[c] += x[c];
  }
  for (int64_t c = 0; c < C; c++)
    sum[c] /= (double) rows;
  for (int64_t r = 0; r < rows; r++) {
    const float *x = in->data + r * C;
    for (int64_t c = 0; c < C; c++) {
      double d = x[c] - sum[c];
      sq[c] += d * d;
    }
  }
  for (int64_t c = 0; c < C; c++) {
    double var = sq[c] / (double) rows;
    batch_mean[c] = (float) sum[c];
    batch_invstd[c] = (float) (1.0 / sqrt (var + eps));
    if (running_mean)
      running_mean[c] = (1.f - momentum) * running_mean[c] + momentum * (float) sum[c];
    if (running_var) {
      double unbiased = rows > 1 ? sq[c] / (double) (rows - 1) : var;
      running_var[c] = (1.f - momentum) * running_var[c] + momentum * (float) unbiased;
    }
  }
  g_free (sum);
  g_free (sq);
  apply_affine (in, gamma, beta, batch_mean, batch_invstd, out);
}

void
packd_batchnorm_eval_forward (const PackdTensor *in, const float *gamma, const float *beta,
    const float *running_mean, const float *running_var, float eps, PackdTensor *out)
{
  const int64_t C = in->shape[3];
  float *invstd;

  g_return_if_fail (packd_tensor_same_shape (in, out));
  invstd = g_new (float, C);
  for (int64_t c = 0; c < C; c++)
    invstd[c] = (float) (1.0 / sqrt ((double) running_var[c] + eps));
  apply_affine (in, gamma, beta, running_mean, invstd, out);
  g_free (invstd);
}

void
packd_batchnorm_backward (const PackdTensor *in, const float *gamma,
    const float *batch_mean, const float *batch_invstd, const PackdTensor *grad_out,
    PackdTensor *grad_in, float *grad_gamma, float *grad_beta)
{
  const int64_t C = in->shape[3];
  const int64_t rows = packd_tensor_numel (in) / C;
  double *sum_g, *sum_gx;

  g_return_if_fail (packd_tensor_same_shape (in, grad_out));
  g_return_if_fail (grad_in == NULL || packd_tensor_same_shape (in, grad_in));
  sum_g = g_new0 (double, C);
  sum_gx = g_new0 (double, C);

  /* Sums of grad_out and grad_out * xhat: gamma factors out of both. */
  for (int64_t r = 0; r < rows; r++) {
    const float *x = in->data + r * C, *dy = grad_out->data + r * C;
    for (int64_t c = 0; c < C; c++) {
      sum_g[c] += dy[c];
      sum_gx[c] += (double) dy[c] * ((x[c] - batch_mean[c]) * batch_invstd[c]);
    }
  }
  for (int64_t c = 0; c < C; c++) {
    if (grad_gamma)
      grad_gamma[c] += (float) sum_gx[c];
    if (grad_beta)
      grad_beta[c] += (float) sum_g[c];
  }
  if (grad_in) {
    float *k = g_new (float, 3 * C);
    float *scale = k, *mean_g = k + C, *mean_gx = k + 2 * C;
    for (int64_t c = 0; c < C; c++) {
      scale[c] = gamma[c] * batch_invstd[c];
      mean_g[c] = (float) (sum_g[c] / (double) rows);
      mean_gx[c] = (float) (sum_gx[c] / (double) rows);
    }
    for (int64_t r = 0; r < rows; r++) {
      const float *restrict x = in->data + r * C;
      const float *dy = grad_out->data + r * C;
      float *dx = grad_in->data + r * C;
      for (int64_t c = 0; c < C; c++) {
        float xhat = (x[c] - batch_mean[c]) * batch_invstd[c];
        dx[c] = scale[c] * (dy[c] - mean_g[c] - xhat * mean_gx[c]);
      }
    }
    g_free (k);
  }
  g_free (sum_g);
  g_free (sum_gx);
}
