/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "gemm.h"
#include "simd-impl.h"

#include <cblas.h>
#include <string.h>

int64_t
packd_gemm_packed_floats (int k, int n)
{
  return (int64_t) k * ((n + PACKD_GEMM_NR - 1) / PACKD_GEMM_NR) * PACKD_GEMM_NR;
}

void
packd_gemm_pack_b (const float *b, int k, int n, int ldb, float *packed)
{
  for (int j0 = 0; j0 < n; j0 += PACKD_GEMM_NR) {
    const int nc = MIN (PACKD_GEMM_NR, n - j0);
    float *panel = packed + (int64_t) (j0 / PACKD_GEMM_NR) * k * PACKD_GEMM_NR;
    for (int p = 0; p < k; p++) {
      float *dst = panel + (int64_t) p * PACKD_GEMM_NR;
      memcpy (dst, b + (int64_t) p * ldb + j0, nc * sizeof (float));
      memset (dst + nc, 0, (PACKD_GEMM_NR - nc) * sizeof (float));
    }
  }
}

void
packd_gemm_pack_bt (const float *bt, int k, int n, int ldbt, float *packed)
{
  /* A transpose: blocks of 64 k so the panel lines written stay in L1. */
  for (int j0 = 0; j0 < n; j0 += PACKD_GEMM_NR) {
    const int nc = MIN (PACKD_GEMM_NR, n - j0);
    float *panel = packed + (int64_t) (j0 / PACKD_GEMM_NR) * k * PACKD_GEMM_NR;
    for (int p0 = 0; p0 < k; p0 += 64) {
      const int pc = MIN (64, k - p0);
      for (int jj = 0; jj < PACKD_GEMM_NR; jj++) {
        float *dst = panel + (int64_t) p0 * PACKD_GEMM_NR + jj;
        if (jj < nc) {
          const float *src = bt + (int64_t) (j0 + jj) * ldbt + p0;
          for (int p = 0; p < pc; p++)
            dst[p * PACKD_GEMM_NR] = src[p];
        } else {
          for (int p = 0; p < pc; p++)
            dst[p * PACKD_GEMM_NR] = 0.f;
        }
      }
    }
  }
}

gboolean
packd_gemm_min_rows (int m0, int m1, int n, int k, const float *a, int lda,
    const float *b_packed, const float *row_add, float *col_min)
{
#if defined(__x86_64__)
  switch (packd_simd_level ()) {
    case PACKD_SIMD_AVX512:
      packd_gemm_min_rows_avx512 (m0, m1, n, k, a, lda, b_packed, row_add, col_min);
      return TRUE;
    case PACKD_SIMD_AVX2:
      packd_gemm_min_rows_avx2 (m0, m1, n, k, a, lda, b_packed, row_add, col_min);
      return TRUE;
    default:
      break;
  }
#endif
  return FALSE;
}

void
packd_gemm_rows (int m0, int m1, int n, int k, const float *a, int lda,
    const float *b_plain, int ldb, const float *b_packed, const float *bias,
    PackdActivation act, float *c, int ldc)
{
  if (m1 <= m0)
    return;
#if defined(__x86_64__)
  switch (packd_simd_level ()) {
    case PACKD_SIMD_AVX512:
      packd_gemm_rows_avx512 (m0, m1, n, k, a, lda, b_packed, bias, act, c, ldc);
      return;
    case PACKD_SIMD_AVX2:
      packd_gemm_rows_avx2 (m0, m1, n, k, a, lda, b_packed, bias, act, c, ldc);
      return;
    default:
      break;
  }
#endif
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, m1 - m0, n, k,
      1.0f, a + (int64_t) m0 * lda, lda, b_plain, ldb, 0.0f, c + (int64_t) m0 * ldc, ldc);
  for (int i = m0; i < m1; i++)
    packd_bias_act_forward (c + (int64_t) i * ldc, 1, n, bias, act);
}
