/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/* Register-tiled GEMM micro-kernels for AVX2+FMA and AVX-512F, compiled with
 * target pragmas so the rest of the library stays baseline x86-64; gemm.c
 * only calls them when the CPU has the instructions.
 *
 * A tile is MR rows of a (read in place: activations are row-major with a
 * short k, so MR rows are one contiguous block that stays in L1 while the
 * tile sweeps all column panels) times one or two packed B panels.  Each
 * step over k broadcasts one a value per row and issues one FMA per
 * accumulator; bias and activation are applied to the accumulators, and the
 * last partial panel is stored through a mask. */
#include "gemm.h"

#if defined(__x86_64__)

#include <immintrin.h>

#define ALWAYS_INLINE inline __attribute__ ((always_inline))

/* Rows of the next tile when left rows remain: full tiles, except that the
 * last full tile and a short remainder are split evenly (64 rows: 12, 12,
 * 12, 12, 8, 8 rather than ..., 12, 4: a 4-row tile loads B for little). */
static inline int
tile_rows (int left, int mr_max)
{
  return left >= 2 * mr_max || left <= mr_max ? MIN (left, mr_max) : (left + 1) / 2;
}

/* ---------------------------------------------------------------- AVX-512 */

#pragma GCC push_options
#pragma GCC target ("avx512f,fma")

#define MR_512 12

static ALWAYS_INLINE __m512
act_512 (__m512 v, PackdActivation act)
{
  if (act != PACKD_ACT_NONE)
    v = _mm512_max_ps (v, _mm512_setzero_ps ());
  if (act == PACKD_ACT_RELU6)
    v = _mm512_min_ps (v, _mm512_set1_ps (6.f));
  return v;
}

/* acc0/acc1[i] = a row i . panels b, b1 (mr rows, np panels). */
#define ACCUMULATE_512() \
  do { \
    _Pragma ("GCC unroll 16") \
    for (int i = 0; i < mr; i++) { \
      acc0[i] = _mm512_setzero_ps (); \
      acc1[i] = _mm512_setzero_ps (); \
    } \
    for (int p = 0; p < k; p++) { \
      const __m512 vb0 = _mm512_loadu_ps (b + (int64_t) p * PACKD_GEMM_NR); \
      const __m512 vb1 = np > 1 ? _mm512_loadu_ps (b1 + (int64_t) p * PACKD_GEMM_NR) : vb0; \
      _Pragma ("GCC unroll 16") \
      for (int i = 0; i < mr; i++) { \
        const __m512 va = _mm512_set1_ps (a[(int64_t) i * lda + p]); \
        acc0[i] = _mm512_fmadd_ps (va, vb0, acc0[i]); \
        if (np > 1) \
          acc1[i] = _mm512_fmadd_ps (va, vb1, acc1[i]); \
      } \
    } \
  } while (0)

/* mr x (16 * np) tile; mask0/mask1 select the valid columns of each panel. */
static ALWAYS_INLINE void
tile_512 (const int mr, const int np, int k, const float *restrict a, int lda,
    const float *restrict b, const float *bias, PackdActivation act,
    float *restrict c, int ldc, __mmask16 mask0, __mmask16 mask1)
{
  __m512 acc0[MR_512], acc1[MR_512];
  const float *restrict b1 = b + (int64_t) k * PACKD_GEMM_NR;

  ACCUMULATE_512 ();

  const __m512 bias0 = bias ? _mm512_maskz_loadu_ps (mask0, bias) : _mm512_setzero_ps ();
  const __m512 bias1 = bias && np > 1 ? _mm512_maskz_loadu_ps (mask1, bias + 16) : _mm512_setzero_ps ();
#pragma GCC unroll 16
  for (int i = 0; i < mr; i++) {
    float *row = c + (int64_t) i * ldc;
    _mm512_mask_storeu_ps (row, mask0, act_512 (_mm512_add_ps (acc0[i], bias0), act));
    if (np > 1)
      _mm512_mask_storeu_ps (row + 16, mask1, act_512 (_mm512_add_ps (acc1[i], bias1), act));
  }
}

typedef void (*Tile512Func) (int k, const float *a, int lda, const float *b, const float *bias,
    PackdActivation act, float *c, int ldc, __mmask16 mask0, __mmask16 mask1);

#define TILE_512(MR, NP) \
  static void tile_512_##MR##_##NP (int k, const float *a, int lda, const float *b, \
      const float *bias, PackdActivation act, float *c, int ldc, __mmask16 mask0, __mmask16 mask1) \
  { tile_512 (MR, NP, k, a, lda, b, bias, act, c, ldc, mask0, mask1); }
#define TILES_512(MR) TILE_512 (MR, 1) TILE_512 (MR, 2)
TILES_512 (1) TILES_512 (2) TILES_512 (3) TILES_512 (4) TILES_512 (5) TILES_512 (6)
TILES_512 (7) TILES_512 (8) TILES_512 (9) TILES_512 (10) TILES_512 (11) TILES_512 (12)
#define ENTRY_512(MR) { tile_512_##MR##_1, tile_512_##MR##_2 }
static const Tile512Func tiles_512[MR_512 + 1][2] = {
  { NULL, NULL }, ENTRY_512 (1), ENTRY_512 (2), ENTRY_512 (3), ENTRY_512 (4), ENTRY_512 (5),
  ENTRY_512 (6), ENTRY_512 (7), ENTRY_512 (8), ENTRY_512 (9), ENTRY_512 (10), ENTRY_512 (11),
  ENTRY_512 (12),
};

static __mmask16
mask_512 (int cols)
{
  return cols >= 16 ? 0xffff : cols <= 0 ? 0 : (__mmask16) ((1u << cols) - 1);
}

/* The same tile for the distance search: col_min[j] = min (col_min[j],
 * min_i (row_add[i] - 2 acc[i][j])).  -2 acc is exact, so the fused
 * multiply-add rounds as the separate multiply and add would.  The
 * candidate is min's first operand, so a NaN one is skipped. */
static ALWAYS_INLINE void
tile_min_512 (const int mr, const int np, int k, const float *restrict a, int lda,
    const float *restrict b, const float *row_add, float *restrict col_min,
    __mmask16 mask0, __mmask16 mask1)
{
  __m512 acc0[MR_512], acc1[MR_512];
  const float *restrict b1 = b + (int64_t) k * PACKD_GEMM_NR;
  const __m512 minus2 = _mm512_set1_ps (-2.f);

  ACCUMULATE_512 ();
  __m512 m0 = _mm512_maskz_loadu_ps (mask0, col_min);
  __m512 m1 = np > 1 ? _mm512_maskz_loadu_ps (mask1, col_min + 16) : m0;
#pragma GCC unroll 16
  for (int i = 0; i < mr; i++) {
    const __m512 add = _mm512_set1_ps (row_add[i]);
    m0 = _mm512_min_ps (_mm512_fmadd_ps (acc0[i], minus2, add), m0);
    if (np > 1)
      m1 = _mm512_min_ps (_mm512_fmadd_ps (acc1[i], minus2, add), m1);
  }
  _mm512_mask_storeu_ps (col_min, mask0, m0);
  if (np > 1)
    _mm512_mask_storeu_ps (col_min + 16, mask1, m1);
}

typedef void (*TileMin512Func) (int k, const float *a, int lda, const float *b,
    const float *row_add, float *col_min, __mmask16 mask0, __mmask16 mask1);

#define TILE_MIN_512(MR, NP) \
  static void tile_min_512_##MR##_##NP (int k, const float *a, int lda, const float *b, \
      const float *row_add, float *col_min, __mmask16 mask0, __mmask16 mask1) \
  { tile_min_512 (MR, NP, k, a, lda, b, row_add, col_min, mask0, mask1); }
#define TILES_MIN_512(MR) TILE_MIN_512 (MR, 1) TILE_MIN_512 (MR, 2)
TILES_MIN_512 (1) TILES_MIN_512 (2) TILES_MIN_512 (3) TILES_MIN_512 (4) TILES_MIN_512 (5)
TILES_MIN_512 (6) TILES_MIN_512 (7) TILES_MIN_512 (8) TILES_MIN_512 (9) TILES_MIN_512 (10)
TILES_MIN_512 (11) TILES_MIN_512 (12)
#define ENTRY_MIN_512(MR) { tile_min_512_##MR##_1, tile_min_512_##MR##_2 }
static const TileMin512Func tiles_min_512[MR_512 + 1][2] = {
  { NULL, NULL }, ENTRY_MIN_512 (1), ENTRY_MIN_512 (2), ENTRY_MIN_512 (3), ENTRY_MIN_512 (4),
  ENTRY_MIN_512 (5), ENTRY_MIN_512 (6), ENTRY_MIN_512 (7), ENTRY_MIN_512 (8), ENTRY_MIN_512 (9),
  ENTRY_MIN_512 (10), ENTRY_MIN_512 (11), ENTRY_MIN_512 (12),
};

void
packd_gemm_min_rows_avx512 (int m0, int m1, int n, int k, const float *a, int lda,
    const float *b_packed, const float *row_add, float *col_min)
{
  for (int i = m0, mr; i < m1; i += mr) {
    const float *ai = a + (int64_t) i * lda;
    mr = tile_rows (m1 - i, MR_512);
    for (int j = 0; j < n; j += 2 * PACKD_GEMM_NR) {
      const int cols = n - j, np = cols > PACKD_GEMM_NR ? 2 : 1;
      tiles_min_512[mr][np - 1] (k, ai, lda, b_packed + (int64_t) j * k, row_add + i,
          col_min + j, mask_512 (cols), mask_512 (cols - 16));
    }
  }
}

void
packd_gemm_rows_avx512 (int m0, int m1, int n, int k, const float *a, int lda,
    const float *b_packed, const float *bias, PackdActivation act, float *c, int ldc)
{
  for (int i = m0, mr; i < m1; i += mr) {
    const float *ai = a + (int64_t) i * lda;
    float *ci = c + (int64_t) i * ldc;
    mr = tile_rows (m1 - i, MR_512);
    for (int j = 0; j < n; j += 2 * PACKD_GEMM_NR) {
      const int cols = n - j, np = cols > PACKD_GEMM_NR ? 2 : 1;
      tiles_512[mr][np - 1] (k, ai, lda, b_packed + (int64_t) j * k, bias ? bias + j : NULL, act,
          ci + j, ldc, mask_512 (cols), mask_512 (cols - 16));
    }
  }
}

#pragma GCC pop_options

/* ------------------------------------------------------------------- AVX2 */

#pragma GCC push_options
#pragma GCC target ("avx2,fma")

#define MR_256 6

static ALWAYS_INLINE __m256
act_256 (__m256 v, PackdActivation act)
{
  if (act != PACKD_ACT_NONE)
    v = _mm256_max_ps (v, _mm256_setzero_ps ());
  if (act == PACKD_ACT_RELU6)
    v = _mm256_min_ps (v, _mm256_set1_ps (6.f));
  return v;
}

static ALWAYS_INLINE __m256i
mask_256 (int cols)
{
  const __m256i lane = _mm256_setr_epi32 (0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32 (_mm256_set1_epi32 (cols), lane);
}

/* acc0/acc1[i] = a row i . panel b (mr rows, two registers per row). */
#define ACCUMULATE_256() \
  do { \
    _Pragma ("GCC unroll 8") \
    for (int i = 0; i < mr; i++) { \
      acc0[i] = _mm256_setzero_ps (); \
      acc1[i] = _mm256_setzero_ps (); \
    } \
    for (int p = 0; p < k; p++) { \
      const __m256 vb0 = _mm256_loadu_ps (b + (int64_t) p * PACKD_GEMM_NR); \
      const __m256 vb1 = _mm256_loadu_ps (b + (int64_t) p * PACKD_GEMM_NR + 8); \
      _Pragma ("GCC unroll 8") \
      for (int i = 0; i < mr; i++) { \
        const __m256 va = _mm256_broadcast_ss (a + (int64_t) i * lda + p); \
        acc0[i] = _mm256_fmadd_ps (va, vb0, acc0[i]); \
        acc1[i] = _mm256_fmadd_ps (va, vb1, acc1[i]); \
      } \
    } \
  } while (0)

/* mr x 16 tile (one panel, two registers per row); cols valid columns. */
static ALWAYS_INLINE void
tile_256 (const int mr, int k, const float *restrict a, int lda, const float *restrict b,
    const float *bias, PackdActivation act, float *restrict c, int ldc, int cols)
{
  __m256 acc0[MR_256], acc1[MR_256];

  ACCUMULATE_256 ();

  if (cols >= 16) {
    const __m256 bias0 = bias ? _mm256_loadu_ps (bias) : _mm256_setzero_ps ();
    const __m256 bias1 = bias ? _mm256_loadu_ps (bias + 8) : _mm256_setzero_ps ();
#pragma GCC unroll 8
    for (int i = 0; i < mr; i++) {
      float *row = c + (int64_t) i * ldc;
      _mm256_storeu_ps (row, act_256 (_mm256_add_ps (acc0[i], bias0), act));
      _mm256_storeu_ps (row + 8, act_256 (_mm256_add_ps (acc1[i], bias1), act));
    }
  } else {
    const __m256i mask0 = mask_256 (cols), mask1 = mask_256 (cols - 8);
    const __m256 bias0 = bias ? _mm256_maskload_ps (bias, mask0) : _mm256_setzero_ps ();
    const __m256 bias1 = bias ? _mm256_maskload_ps (bias + 8, mask1) : _mm256_setzero_ps ();
#pragma GCC unroll 8
    for (int i = 0; i < mr; i++) {
      float *row = c + (int64_t) i * ldc;
      _mm256_maskstore_ps (row, mask0, act_256 (_mm256_add_ps (acc0[i], bias0), act));
      _mm256_maskstore_ps (row + 8, mask1, act_256 (_mm256_add_ps (acc1[i], bias1), act));
    }
  }
}

typedef void (*Tile256Func) (int k, const float *a, int lda, const float *b, const float *bias,
    PackdActivation act, float *c, int ldc, int cols);

#define TILE_256(MR) \
  static void tile_256_##MR (int k, const float *a, int lda, const float *b, \
      const float *bias, PackdActivation act, float *c, int ldc, int cols) \
  { tile_256 (MR, k, a, lda, b, bias, act, c, ldc, cols); }
TILE_256 (1) TILE_256 (2) TILE_256 (3) TILE_256 (4) TILE_256 (5) TILE_256 (6)
static const Tile256Func tiles_256[MR_256 + 1] = {
  NULL, tile_256_1, tile_256_2, tile_256_3, tile_256_4, tile_256_5, tile_256_6,
};

static ALWAYS_INLINE void
tile_min_256 (const int mr, int k, const float *restrict a, int lda, const float *restrict b,
    const float *row_add, float *restrict col_min, int cols)
{
  __m256 acc0[MR_256], acc1[MR_256];
  const __m256 minus2 = _mm256_set1_ps (-2.f);
  const __m256i mask0 = mask_256 (cols), mask1 = mask_256 (cols - 8);

  ACCUMULATE_256 ();
  __m256 m0 = _mm256_maskload_ps (col_min, mask0), m1 = _mm256_maskload_ps (col_min + 8, mask1);
#pragma GCC unroll 8
  for (int i = 0; i < mr; i++) {
    const __m256 add = _mm256_set1_ps (row_add[i]);
    m0 = _mm256_min_ps (_mm256_fmadd_ps (acc0[i], minus2, add), m0);
    m1 = _mm256_min_ps (_mm256_fmadd_ps (acc1[i], minus2, add), m1);
  }
  _mm256_maskstore_ps (col_min, mask0, m0);
  _mm256_maskstore_ps (col_min + 8, mask1, m1);
}

typedef void (*TileMin256Func) (int k, const float *a, int lda, const float *b,
    const float *row_add, float *col_min, int cols);

#define TILE_MIN_256(MR) \
  static void tile_min_256_##MR (int k, const float *a, int lda, const float *b, \
      const float *row_add, float *col_min, int cols) \
  { tile_min_256 (MR, k, a, lda, b, row_add, col_min, cols); }
TILE_MIN_256 (1) TILE_MIN_256 (2) TILE_MIN_256 (3) TILE_MIN_256 (4) TILE_MIN_256 (5)
TILE_MIN_256 (6)
static const TileMin256Func tiles_min_256[MR_256 + 1] = {
  NULL, tile_min_256_1, tile_min_256_2, tile_min_256_3, tile_min_256_4, tile_min_256_5,
  tile_min_256_6,
};

void
packd_gemm_min_rows_avx2 (int m0, int m1, int n, int k, const float *a, int lda,
    const float *b_packed, const float *row_add, float *col_min)
{
  for (int i = m0, mr; i < m1; i += mr) {
    const float *ai = a + (int64_t) i * lda;
    mr = tile_rows (m1 - i, MR_256);
    for (int j = 0; j < n; j += PACKD_GEMM_NR)
      tiles_min_256[mr] (k, ai, lda, b_packed + (int64_t) j * k, row_add + i, col_min + j, n - j);
  }
}

void
packd_gemm_rows_avx2 (int m0, int m1, int n, int k, const float *a, int lda,
    const float *b_packed, const float *bias, PackdActivation act, float *c, int ldc)
{
  for (int i = m0, mr; i < m1; i += mr) {
    const float *ai = a + (int64_t) i * lda;
    float *ci = c + (int64_t) i * ldc;
    mr = tile_rows (m1 - i, MR_256);
    for (int j = 0; j < n; j += PACKD_GEMM_NR)
      tiles_256[mr] (k, ai, lda, b_packed + (int64_t) j * k, bias ? bias + j : NULL, act,
          ci + j, ldc, n - j);
  }
}

#pragma GCC pop_options

#endif /* __x86_64__ */
