/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/* PEIM (method.md §4): prototype extraction from the pooled support
 * features and their integration into the student stream, forward and
 * backward, built from the attention pieces of layers/attention.h. */
#include "student-impl.h"
#include "simd-impl.h"

#include <cblas.h>
#include <string.h>

void
peim_queries_normalise (const float *queries, int M, int C, float *q_hat, float *q_norm)
{
  packd_l2_normalize_rows_forward (queries, M, C, q_hat, q_norm);
}

void
peim_extract_forward (const float *q_hat, const float *x, int64_t N, int M, int C,
    float tau_e, float *x_hat, float *a_soft, float *prototypes)
{
  /* A = softmax_N (cos(Q, X) / tau_e), P = A X */
  packd_l2_normalize_rows_forward (x, N, C, x_hat, NULL);
  packd_matmul_forward (FALSE, TRUE, M, N, C, 1.0f / tau_e, q_hat, x_hat, a_soft);
  packd_softmax_forward (a_soft, M, N);
  packd_matmul_forward (FALSE, FALSE, M, C, N, 1.0f, a_soft, x, prototypes);
}

void
peim_extract_backward (const float *x, const float *x_hat, const float *a_soft,
    int64_t N, int M, int C, float tau_e, const float *g_p, float *g_q_hat, float *scratch_mn)
{
  /* dA = dP X^T; through the softmax; dQ^ += dZ X^ / tau_e (X is a frozen
   * teacher feature: no gradient). */
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, M, N, C, 1.0f, g_p, C, x, C,
      0.0f, scratch_mn, N);
  packd_softmax_backward (a_soft, scratch_mn, M, N, scratch_mn);
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, M, C, N, 1.0f / tau_e, scratch_mn, N,
      x_hat, C, 1.0f, g_q_hat, C);
}

void
peim_integrate_forward (const float *y, const float *p, const float *proj, int64_t HW,
    int M, int C, float tau_a, PeimIntegrateSave *s, float *out)
{
  const float *yy = y, *pp = p;

  if (proj) {
    /* Level 4 has no distillation target: compare through W on both sides. */
    packd_matmul_forward (FALSE, FALSE, HW, C, C, 1.0f, y, proj, s->y_proj);
    packd_matmul_forward (FALSE, FALSE, M, C, C, 1.0f, p, proj, s->p_proj);
    yy = s->y_proj;
    pp = s->p_proj;
  }
  packd_l2_normalize_rows_forward (yy, HW, C, s->y_hat, s->y_norm);
  packd_l2_normalize_rows_forward (pp, M, C, s->p_hat, s->p_norm);
  packd_matmul_forward (FALSE, TRUE, HW, M, C, 1.0f / tau_a, s->y_hat, s->p_hat, s->w_soft);
  packd_softmax_forward (s->w_soft, HW, M);
  /* out = [y | W_soft P], rows of 2C */
  for (int64_t i = 0; i < HW; i++)
    memcpy (out + i * 2 * C, y + i * C, C * sizeof (float));
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, HW, C, M, 1.0f, s->w_soft, M, p, C,
      0.0f, out + C, 2 * C);
}

int64_t
peim_integrate_backward_scratch (int64_t HW, int M, int C)
{
  return HW * C + HW * M + (int64_t) M * C;
}

void
peim_integrate_backward (const float *y, const float *p, const float *proj, int64_t HW,
    int M, int C, float tau_a, const PeimIntegrateSave *s, const float *g_out, float *g_y,
    float *g_p, float *g_proj, float *scratch)
{
  float *d_yhat = scratch, *d_w = d_yhat + HW * C, *d_phat = d_w + HW * M;
  const float *g_r = g_out + C;
  const float inv_tau = 1.0f / tau_a;

  /* the identity half of the concat */
  for (int64_t i = 0; i < HW; i++) {
    const float *src = g_out + i * 2 * C;
    float *dst = g_y + i * C;
    for (int c = 0; c < C; c++)
      dst[c] += src[c];
  }
  /* r = W_soft P */
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, HW, M, C, 1.0f, g_r, 2 * C, p, C,
      0.0f, d_w, M);
  cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, M, C, HW, 1.0f, s->w_soft, M, g_r,
      2 * C, 1.0f, g_p, C);
  packd_softmax_backward (s->w_soft, d_w, HW, M, d_w);
  /* Z = Y^ P^^T / tau */
  packd_matmul_forward (FALSE, FALSE, HW, C, M, inv_tau, d_w, s->p_hat, d_yhat);
  cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, M, C, HW, inv_tau, d_w, M, s->y_hat, C,
      0.0f, d_phat, C);
  packd_l2_normalize_rows_backward (s->y_hat, s->y_norm, d_yhat, HW, C, d_yhat);
  packd_l2_normalize_rows_backward (s->p_hat, s->p_norm, d_phat, M, C, d_phat);
  if (proj) {
    /* yy = y W: dy += dyy W^T, dW += y^T dyy (and the same for p) */
    cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, HW, C, C, 1.0f, d_yhat, C, proj, C,
        1.0f, g_y, C);
    cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, M, C, C, 1.0f, d_phat, C, proj, C,
        1.0f, g_p, C);
    if (g_proj) {
      cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, C, C, HW, 1.0f, y, C, d_yhat, C,
          1.0f, g_proj, C);
      cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, C, C, M, 1.0f, p, C, d_phat, C,
          1.0f, g_proj, C);
    }
  } else {
    for (int64_t i = 0; i < HW * C; i++)
      g_y[i] += d_yhat[i];
    for (int64_t i = 0; i < (int64_t) M * C; i++)
      g_p[i] += d_phat[i];
  }
}

/* Query rows per task: a multiple of the GEMM row tiles (6, 12). */
#define PEIM_FAST_ROWS 48

int64_t
peim_fast_row_floats (int M, int C)
{
  return (int64_t) PEIM_FAST_ROWS * (C + M);
}

void
peim_fast_prepare (PeimFast *f, int M, int C, float tau_a)
{
  const float *pp = f->p;

  if (f->proj) {
    packd_gemm_rows (0, M, C, C, f->p, C, f->proj, C, f->proj_packed, NULL, PACKD_ACT_NONE,
        f->p_proj, C);
    pp = f->p_proj;
  }
  /* 1/tau folded into the normalised prototypes, stored as the GEMM's B */
  packd_l2_normalize_rows_forward (pp, M, C, f->p_hat, NULL);
  for (int m = 0; m < M; m++)
    for (int c = 0; c < C; c++)
      f->p_hat_t[(int64_t) c * M + m] = f->p_hat[(int64_t) m * C + c] / tau_a;
  packd_gemm_pack_b (f->p_hat_t, C, M, M, f->p_hat_packed);
  packd_gemm_pack_b (f->p, M, C, C, f->p_packed);
}

typedef struct {
  const PeimFast *f;
  const float *y;
  int64_t HW;
  int M, C;
  float *out;
} PeimFastJob;

static void
peim_fast_task (gpointer data, int task, int thread)
{
  const PeimFastJob *j = data;
  const PeimFast *f = j->f;
  const int M = j->M, C = j->C;
  const int64_t r0 = (int64_t) task * PEIM_FAST_ROWS, n = MIN (j->HW - r0, PEIM_FAST_ROWS);
  const float *y = j->y + r0 * C;
  float *y_hat = f->rows + thread * peim_fast_row_floats (M, C), *w = y_hat + n * C;
  float *out = j->out + r0 * 2 * C;

  if (f->proj)
    packd_gemm_rows (0, n, C, C, y, C, f->proj, C, f->proj_packed, NULL, PACKD_ACT_NONE, y_hat, C);
  packd_l2_normalize_rows_forward (f->proj ? y_hat : y, n, C, y_hat, NULL);
  packd_gemm_rows (0, n, M, C, y_hat, C, f->p_hat_t, M, f->p_hat_packed, NULL, PACKD_ACT_NONE,
      w, M);
  packd_softmax_forward (w, n, M);
  for (int64_t i = 0; i < n; i++)
    memcpy (out + i * 2 * C, y + i * C, C * sizeof (float));
  packd_gemm_rows (0, n, C, M, w, M, f->p, C, f->p_packed, NULL, PACKD_ACT_NONE, out + C, 2 * C);
}

void
peim_fast_integrate (const PeimFast *f, const float *y, int64_t HW, int M, int C, float *out,
    PackdThreads *pool)
{
  PeimFastJob j = { f, y, HW, M, C, out };

  /* Without SIMD kernels the GEMM is OpenBLAS, which brings its own threads. */
  if (packd_simd_level () == PACKD_SIMD_GENERIC)
    pool = NULL;
  packd_threads_run (pool, (HW + PEIM_FAST_ROWS - 1) / PEIM_FAST_ROWS, peim_fast_task, &j);
}

int64_t
peim_integrate_macs (int64_t HW, int M, int C, gboolean proj)
{
  /* similarities + weighted sum (+ the projection of the query side) */
  return 2 * HW * M * C + (proj ? HW * C * C : 0);
}
