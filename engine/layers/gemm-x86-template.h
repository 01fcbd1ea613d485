/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/* The register-tiled GEMM and nearest-neighbour tiles, written once for any
 * vector width and included by gemm-x86.c once per ISA inside that ISA's
 * target pragma.  A tile is mr <= GEMM_MR rows of a by two vectors of
 * columns (2 VW: one 16-column panel for AVX2, two for AVX-512); nv says
 * how many of the two hold valid columns.  The includer includes simd-vec.h
 * (the vector operations) and defines GEMM_MR (at most 12), GEMM_NAME(x),
 * GEMM_ROWS and GEMM_MIN_ROWS (the exported functions).  No include guard:
 * meant to be included more than once. */

/* acc0/acc1[i] = a row i . the tile's first / second vector of columns;
 * b1 is where the second vector's columns start in the packed panels. */
#define GEMM_ACCUMULATE() \
  do { \
    _Pragma ("GCC unroll 16") \
    for (int i = 0; i < mr; i++) { \
      acc0[i] = V_ZERO (); \
      acc1[i] = V_ZERO (); \
    } \
    for (int p = 0; p < k; p++) { \
      const VF vb0 = V_LOAD (b + (int64_t) p * PACKD_GEMM_NR); \
      const VF vb1 = nv > 1 ? V_LOAD (b1 + (int64_t) p * PACKD_GEMM_NR) : vb0; \
      _Pragma ("GCC unroll 16") \
      for (int i = 0; i < mr; i++) { \
        const VF va = V_BCAST (a + (int64_t) i * lda + p); \
        acc0[i] = V_FMA (va, vb0, acc0[i]); \
        if (nv > 1) \
          acc1[i] = V_FMA (va, vb1, acc1[i]); \
      } \
    } \
  } while (0)
#define GEMM_SECOND_VECTOR(b, k) \
  ((b) + (VW / PACKD_GEMM_NR) * (int64_t) (k) * PACKD_GEMM_NR + VW % PACKD_GEMM_NR)

/* c = act (a . B + bias) for an mr x 2 VW tile of which cols are valid. */
static ALWAYS_INLINE void
GEMM_NAME (tile) (const int mr, const int nv, int k, const float *restrict a, int lda,
    const float *restrict b, const float *bias, PackdActivation act, float *restrict c, int ldc,
    int cols)
{
  VF acc0[GEMM_MR], acc1[GEMM_MR];
  const float *restrict b1 = GEMM_SECOND_VECTOR (b, k);

  GEMM_ACCUMULATE ();

  if (cols >= 2 * VW) {
    const VF bias0 = bias ? V_LOAD (bias) : V_ZERO ();
    const VF bias1 = bias ? V_LOAD (bias + VW) : V_ZERO ();
#pragma GCC unroll 16
    for (int i = 0; i < mr; i++) {
      float *row = c + (int64_t) i * ldc;
      V_STORE (row, V_ACT (V_ADD (acc0[i], bias0), act));
      V_STORE (row + VW, V_ACT (V_ADD (acc1[i], bias1), act));
    }
  } else {
    const VM m0 = V_MASK (cols), m1 = V_MASK (cols - VW);
    const VF bias0 = bias ? V_LOADM (bias, m0) : V_ZERO ();
    const VF bias1 = bias && nv > 1 ? V_LOADM (bias + VW, m1) : V_ZERO ();
#pragma GCC unroll 16
    for (int i = 0; i < mr; i++) {
      float *row = c + (int64_t) i * ldc;
      V_STOREM (row, m0, V_ACT (V_ADD (acc0[i], bias0), act));
      if (nv > 1)
        V_STOREM (row + VW, m1, V_ACT (V_ADD (acc1[i], bias1), act));
    }
  }
}

/* The same tile for the distance search: col_min[j] = min (col_min[j],
 * min_i (row_add[i] - 2 acc[i][j])).  -2 acc is exact, so the fused
 * multiply-add rounds as the separate multiply and add would.  The
 * candidate is min's first operand, so a NaN one is skipped. */
static ALWAYS_INLINE void
GEMM_NAME (tile_min) (const int mr, const int nv, int k, const float *restrict a, int lda,
    const float *restrict b, const float *row_add, float *restrict col_min, int cols)
{
  VF acc0[GEMM_MR], acc1[GEMM_MR];
  const float *restrict b1 = GEMM_SECOND_VECTOR (b, k);
  const VF minus2 = V_SET1 (-2.f);
  const VM m0 = V_MASK (cols), m1 = V_MASK (cols - VW);

  GEMM_ACCUMULATE ();
  VF min0 = V_LOADM (col_min, m0);
  VF min1 = nv > 1 ? V_LOADM (col_min + VW, m1) : min0;
#pragma GCC unroll 16
  for (int i = 0; i < mr; i++) {
    const VF add = V_SET1 (row_add[i]);
    min0 = V_MIN (V_FMA (acc0[i], minus2, add), min0);
    if (nv > 1)
      min1 = V_MIN (V_FMA (acc1[i], minus2, add), min1);
  }
  V_STOREM (col_min, m0, min0);
  if (nv > 1)
    V_STOREM (col_min + VW, m1, min1);
}

/* One out-of-line function per (mr, nv), in tables indexed [mr][nv - 1]. */
typedef void (*GEMM_NAME (TileFunc)) (int k, const float *a, int lda, const float *b,
    const float *bias, PackdActivation act, float *c, int ldc, int cols);
typedef void (*GEMM_NAME (TileMinFunc)) (int k, const float *a, int lda, const float *b,
    const float *row_add, float *col_min, int cols);

#define GEMM_TILES_NV(MR, NV) \
  static void GEMM_NAME (tile_##MR##_##NV) (int k, const float *a, int lda, const float *b, \
      const float *bias, PackdActivation act, float *c, int ldc, int cols) \
  { GEMM_NAME (tile) (MR, NV, k, a, lda, b, bias, act, c, ldc, cols); } \
  static void GEMM_NAME (tile_min_##MR##_##NV) (int k, const float *a, int lda, \
      const float *b, const float *row_add, float *col_min, int cols) \
  { GEMM_NAME (tile_min) (MR, NV, k, a, lda, b, row_add, col_min, cols); }
#define GEMM_TILES(MR) GEMM_TILES_NV (MR, 1) GEMM_TILES_NV (MR, 2)
#define GEMM_ENTRY(MR) { GEMM_NAME (tile_##MR##_1), GEMM_NAME (tile_##MR##_2) }
#define GEMM_ENTRY_MIN(MR) { GEMM_NAME (tile_min_##MR##_1), GEMM_NAME (tile_min_##MR##_2) }

GEMM_TILES (1) GEMM_TILES (2) GEMM_TILES (3) GEMM_TILES (4) GEMM_TILES (5) GEMM_TILES (6)
#if GEMM_MR > 6
GEMM_TILES (7) GEMM_TILES (8) GEMM_TILES (9) GEMM_TILES (10) GEMM_TILES (11) GEMM_TILES (12)
#endif

static const GEMM_NAME (TileFunc) GEMM_NAME (tiles)[GEMM_MR + 1][2] = {
  { NULL, NULL }, GEMM_ENTRY (1), GEMM_ENTRY (2), GEMM_ENTRY (3), GEMM_ENTRY (4), GEMM_ENTRY (5),
  GEMM_ENTRY (6),
#if GEMM_MR > 6
  GEMM_ENTRY (7), GEMM_ENTRY (8), GEMM_ENTRY (9), GEMM_ENTRY (10), GEMM_ENTRY (11),
  GEMM_ENTRY (12),
#endif
};
static const GEMM_NAME (TileMinFunc) GEMM_NAME (tiles_min)[GEMM_MR + 1][2] = {
  { NULL, NULL }, GEMM_ENTRY_MIN (1), GEMM_ENTRY_MIN (2), GEMM_ENTRY_MIN (3), GEMM_ENTRY_MIN (4),
  GEMM_ENTRY_MIN (5), GEMM_ENTRY_MIN (6),
#if GEMM_MR > 6
  GEMM_ENTRY_MIN (7), GEMM_ENTRY_MIN (8), GEMM_ENTRY_MIN (9), GEMM_ENTRY_MIN (10),
  GEMM_ENTRY_MIN (11), GEMM_ENTRY_MIN (12),
#endif
};

void
GEMM_MIN_ROWS (int m0, int m1, int n, int k, const float *a, int lda, const float *b_packed,
    const float *row_add, float *col_min)
{
  for (int i = m0, mr; i < m1; i += mr) {
    const float *ai = a + (int64_t) i * lda;
    mr = tile_rows (m1 - i, GEMM_MR);
    for (int j = 0; j < n; j += 2 * VW) {
      const int cols = n - j;
      GEMM_NAME (tiles_min)[mr][cols > VW] (k, ai, lda, b_packed + (int64_t) j * k,
          row_add + i, col_min + j, cols);
    }
  }
}

void
GEMM_ROWS (int m0, int m1, int n, int k, const float *a, int lda, const float *b_packed,
    const float *bias, PackdActivation act, float *c, int ldc)
{
  for (int i = m0, mr; i < m1; i += mr) {
    const float *ai = a + (int64_t) i * lda;
    float *ci = c + (int64_t) i * ldc;
    mr = tile_rows (m1 - i, GEMM_MR);
    for (int j = 0; j < n; j += 2 * VW) {
      const int cols = n - j;
      GEMM_NAME (tiles)[mr][cols > VW] (k, ai, lda, b_packed + (int64_t) j * k,
          bias ? bias + j : NULL, act, ci + j, ldc, cols);
    }
  }
}

#undef GEMM_ACCUMULATE
#undef GEMM_SECOND_VECTOR
#undef GEMM_TILES_NV
#undef GEMM_TILES
#undef GEMM_ENTRY
#undef GEMM_ENTRY_MIN
