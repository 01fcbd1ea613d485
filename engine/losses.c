/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "packd-losses.h"
#include "layers/attention.h"
#include "layers/cosine-backward.h"

#include <math.h>
#include <string.h>

static gboolean
features_match (const PackdTensor *teacher, const PackdTensor *student,
    const PackdTensor *grad_student)
{
  g_return_val_if_fail (teacher->ndim == 4 && packd_tensor_same_shape (teacher, student), FALSE);
  g_return_val_if_fail (grad_student == NULL
      || packd_tensor_numel (grad_student) == packd_tensor_numel (student), FALSE);
  return TRUE;
}

double
packd_loss_kd (const PackdTensor *teacher, const PackdTensor *student, PackdKdMode mode,
    float weight, PackdTensor *grad_student)
{
  const int64_t B = student->shape[0];
  const int64_t len = mode == PACKD_KD_FLAT ? packd_tensor_numel (student) / MAX (B, 1)
      : student->shape[3];
  const int64_t rows = packd_tensor_numel (student) / MAX (len, 1);
  double *cos, loss = 0;

  if (!features_match (teacher, student, grad_student) || rows == 0)
    return NAN;
  cos = g_new (double, rows);
  packd_cosine_rows_similarity (student->data, teacher->data, rows, len, cos);
  for (int64_t r = 0; r < rows; r++)
    loss += 1.0 - cos[r];
  g_free (cos);
  if (grad_student)
    packd_cosine_rows_distance_backward (student->data, teacher->data, rows, len, NULL,
        weight / (float) rows, grad_student->data, NULL);
  return loss / (double) rows;
}

static inline double
softplus (double z)
{
  return z > 0 ? z + log1p (exp (-z)) : log1p (exp (z));
}

double
packd_loss_contrastive (const PackdTensor *teacher, const PackdTensor *student,
    float tau, float weight, PackdTensor *grad_student)
{
  const int64_t B = student->shape[0], C = student->shape[3];
  const int64_t HW = student->shape[1] * student->shape[2];
  const int64_t P = B * HW;
  double loss = 0;
  double *c_pos, *c_neg;
  float *g_pos, *g_neg;

  if (!features_match (teacher, student, grad_student))
    return NAN;
  g_return_val_if_fail (B >= 2 && HW > 0 && tau > 0, NAN);

  c_pos = g_new (double, 2 * HW);
  c_neg = c_pos + HW;
  g_pos = g_new (float, 2 * HW);
  g_neg = g_pos + HW;
  for (int64_t b = 0; b < B; b++) {
    const int64_t nb = (b + B - 1) % B;
    const float *t = teacher->data + b * HW * C;
    const float *s = student->data + b * HW * C;
    const float *n = student->data + nb * HW * C;

    packd_cosine_rows_similarity (s, t, HW, C, c_pos);
    packd_cosine_rows_similarity (n, t, HW, C, c_neg);
    for (int64_t p = 0; p < HW; p++) {
      const double z = (c_neg[p] - c_pos[p]) / tau;
      const double sig = 1.0 / (1.0 + exp (-z));
      loss += softplus (z);
      /* dl/dcos(s,t) = -sig/tau, dl/dcos(n,t) = +sig/tau; the distance
       * backward takes dl/d(1-cos), hence the flipped signs. */
      g_pos[p] = (float) (sig / tau);
      g_neg[p] = (float) (-sig / tau);
    }
    if (grad_student) {
      packd_cosine_rows_distance_backward (s, t, HW, C, g_pos, weight / (float) P,
          grad_student->data + b * HW * C, NULL);
      packd_cosine_rows_distance_backward (n, t, HW, C, g_neg, weight / (float) P,
          grad_student->data + nb * HW * C, NULL);
    }
  }
  g_free (c_pos);
  g_free (g_pos);
  return loss / (double) P;
}

/* Log-softmax of each row of z [rows, n] into out (double, stable). */
static void
log_softmax_rows (const float *z, int64_t rows, int64_t n, double *out)
{
  for (int64_t r = 0; r < rows; r++) {
    const float *zr = z + r * n;
    double m = zr[0], sum = 0;
    for (int64_t i = 1; i < n; i++)
      m = MAX (m, zr[i]);
    for (int64_t i = 0; i < n; i++)
      sum += exp (zr[i] - m);
    const double lse = m + log (sum);
    for (int64_t i = 0; i < n; i++)
      out[r * n + i] = zr[i] - lse;
  }
}

double
packd_loss_relation (const PackdTensor *teacher, const PackdTensor *student,
    const PackdTensor *refs, float tau, float weight, PackdTensor *grad_student,
    PackdTensor *grad_refs)
{
  const int64_t B = student->shape[0], C = student->shape[3];
  const int64_t HW = student->shape[1] * student->shape[2];
  const int64_t P = B * HW;
  int64_t Br, R;
  double loss = 0;

  if (!features_match (teacher, student, grad_student))
    return NAN;
  g_return_val_if_fail (refs->ndim == 3 && refs->shape[2] == C && tau > 0 && HW > 0, NAN);
  Br = refs->shape[0];
  R = refs->shape[1];
  g_return_val_if_fail ((Br == 1 || Br == B) && R > 0, NAN);
  g_return_val_if_fail (grad_refs == NULL || packd_tensor_same_shape (grad_refs, refs), NAN);

  /* Per image: rows of T^, S^ [HW,C] and R^ [R,C] normalised, logits
   * Z = X^ R^^T / tau [HW,R]; dL/dZs = q - p and, for the references,
   * dL/dZt = p * (log p - log q - KL). */
  const float inv_tau = 1.0f / tau, scale = weight / (float) P;
  float *t_hat = g_new (float, 2 * HW * C + R * C);
  float *s_hat = t_hat + HW * C, *r_hat = s_hat + HW * C;
  float *s_norm = g_new (float, HW + R), *r_norm = s_norm + HW;
  float *zt = g_new (float, 4 * HW * R);
  float *zs = zt + HW * R, *dzs = zs + HW * R, *dzt = dzs + HW * R;
  double *logp = g_new (double, 2 * HW * R), *logq = logp + HW * R;
  float *d_s_hat = g_new (float, HW * C);
  float *d_r_hat = g_new (float, R * C);

  for (int64_t b = 0; b < B; b++) {
    const float *ref = refs->data + (Br == 1 ? 0 : b) * R * C;
    packd_l2_normalize_rows_forward (teacher->data + b * HW * C, HW, C, t_hat, NULL);
    packd_l2_normalize_rows_forward (student->data + b * HW * C, HW, C, s_hat, s_norm);
    packd_l2_normalize_rows_forward (ref, R, C, r_hat, r_norm);
    packd_matmul_forward (FALSE, TRUE, HW, R, C, inv_tau, t_hat, r_hat, zt);
    packd_matmul_forward (FALSE, TRUE, HW, R, C, inv_tau, s_hat, r_hat, zs);
    log_softmax_rows (zt, HW, R, logp);
    log_softmax_rows (zs, HW, R, logq);

    for (int64_t p = 0; p < HW; p++) {
      const double *lp = logp + p * R, *lq = logq + p * R;
      double kl = 0;
      for (int64_t r = 0; r < R; r++)
        kl += exp (lp[r]) * (lp[r] - lq[r]);
      loss += kl;
      for (int64_t r = 0; r < R; r++) {
        const double pr = exp (lp[r]);
        dzs[p * R + r] = (float) (scale * (exp (lq[r]) - pr));
        dzt[p * R + r] = (float) (scale * pr * (lp[r] - lq[r] - kl));
      }
    }
    if (grad_student) {
      packd_matmul_backward (FALSE, TRUE, HW, R, C, inv_tau, s_hat, r_hat, dzs,
          d_s_hat, NULL, FALSE);
      packd_l2_normalize_rows_backward (s_hat, s_norm, d_s_hat, HW, C, d_s_hat);
      float *gs = grad_student->data + b * HW * C;
      for (int64_t i = 0; i < HW * C; i++)
        gs[i] += d_s_hat[i];
    }
    if (grad_refs) {
      packd_matmul_backward (FALSE, TRUE, HW, R, C, inv_tau, s_hat, r_hat, dzs,
          NULL, d_r_hat, FALSE);
      packd_matmul_backward (FALSE, TRUE, HW, R, C, inv_tau, t_hat, r_hat, dzt,
          NULL, d_r_hat, TRUE);
      packd_l2_normalize_rows_backward (r_hat, r_norm, d_r_hat, R, C, d_r_hat);
      float *gr = grad_refs->data + (Br == 1 ? 0 : b) * R * C;
      for (int64_t i = 0; i < R * C; i++)
        gr[i] += d_r_hat[i];
    }
  }
  g_free (t_hat);
  g_free (s_norm);
  g_free (zt);
  g_free (logp);
  g_free (d_s_hat);
  g_free (d_r_hat);
  return loss / (double) P;
}

double
packd_loss_orthogonal (const PackdTensor *prototypes, float weight,
    PackdTensor *grad_prototypes)
{
  const int nd = prototypes->ndim;
  int64_t M, C, B;
  double loss = 0;

  g_return_val_if_fail (nd >= 2, NAN);
  M = prototypes->shape[nd - 2];
  C = prototypes->shape[nd - 1];
  g_return_val_if_fail (M > 0 && C > 0, NAN);
  B = packd_tensor_numel (prototypes) / (M * C);
  g_return_val_if_fail (B > 0, NAN);
  g_return_val_if_fail (grad_prototypes == NULL
      || packd_tensor_numel (grad_prototypes) == B * M * C, NAN);

  float *n_hat = g_new (float, 2 * M * C), *dn = n_hat + M * C;
  float *norms = g_new (float, M);
  float *gram = g_new (float, M * M);
  /* dL/dN = (2 / M^2 B) (E + E^T) N = 4 E N / (M^2 B), E = N N^T - I symmetric. */
  const float scale = weight * 4.0f / (float) (M * M * B);

  for (int64_t b = 0; b < B; b++) {
    const float *pb = prototypes->data + b * M * C;
    double fro = 0;
    packd_l2_normalize_rows_forward (pb, M, C, n_hat, norms);
    packd_matmul_forward (FALSE, TRUE, M, M, C, 1.0f, n_hat, n_hat, gram);
    for (int64_t i = 0; i < M; i++)
      gram[i * M + i] -= 1.0f;
    for (int64_t i = 0; i < M * M; i++)
      fro += (double) gram[i] * gram[i];
    loss += fro / (double) (M * M);
    if (grad_prototypes) {
      float *gp = grad_prototypes->data + b * M * C;
      packd_matmul_forward (FALSE, FALSE, M, C, M, scale, gram, n_hat, dn);
      packd_l2_normalize_rows_backward (n_hat, norms, dn, M, C, dn);
      for (int64_t i = 0; i < M * C; i++)
        gp[i] += dn[i];
    }
  }
  g_free (n_hat);
  g_free (norms);
  g_free (gram);
  return loss / (double) B;
}
