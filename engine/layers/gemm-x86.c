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

/* Outside the target pragmas: the intrinsics carry their own targets. */
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

/* The tiles themselves are gemm-x86-template.h, included once per ISA
 * below with that ISA's vector operations. */

/* ---------------------------------------------------------------- AVX-512 */

#pragma GCC push_options
#pragma GCC target ("avx512f,fma")
#define SIMD_VEC_ISA 512
#include "simd-vec.h"
#define GEMM_MR 12              /* 24 accumulators, 2 B vectors, 1 broadcast: 27 of 32 */
#define GEMM_NAME(x) gemm_##x##_512
#define GEMM_ROWS packd_gemm_rows_avx512
#define GEMM_MIN_ROWS packd_gemm_min_rows_avx512
#include "gemm-x86-template.h"
#include "simd-vec-undef.h"
#pragma GCC pop_options

/* ------------------------------------------------------------------- AVX2 */

#pragma GCC push_options
#pragma GCC target ("avx2,fma")
#define SIMD_VEC_ISA 256
#include "simd-vec.h"
#define GEMM_MR 6               /* 12 accumulators, 2 B vectors, 1 broadcast: 15 of 16 */
#define GEMM_NAME(x) gemm_##x##_256
#define GEMM_ROWS packd_gemm_rows_avx2
#define GEMM_MIN_ROWS packd_gemm_min_rows_avx2
#include "gemm-x86-template.h"
#include "simd-vec-undef.h"
#pragma GCC pop_options

#endif /* __x86_64__ */
