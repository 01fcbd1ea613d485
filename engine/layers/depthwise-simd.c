/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/* 3x3 depthwise row kernels for AVX2+FMA and AVX-512F (target pragmas; only
 * called after the run-time check in depthwise.c).
 *
 * Inside the image, for each block of channels the nine weight vectors stay
 * in registers while the kernel walks the row, two pixels per step at
 * stride 1 (they share two of their three input columns).  The three kernel
 * rows are summed in separate chains to shorten the FMA dependency.  A tap
 * outside the image gets a zero weight and reads a valid pixel instead, so
 * border rows run the same loop and border pixels a short one. */
#include "depthwise.h"

#if defined(__x86_64__)

/* Outside the target pragmas: the intrinsics carry their own targets. */
#include <immintrin.h>

/* Where the taps of one output pixel read: row ky, column kx of the input
 * is rows[ky] + col[kx] * C, and tap_ok[ky][kx] says whether it is really
 * inside the image (if not, it points at a valid pixel and gets weight 0). */
typedef struct {
  const float *rows[3];
  gboolean row_ok[3];
} DwRows;

/* At least one row must be non-NULL (depthwise.c checks). */
static void
dw_rows_resolve (const float *const rows[3], DwRows *r)
{
  const float *any = rows[0] ? rows[0] : rows[1] ? rows[1] : rows[2];
  for (int ky = 0; ky < 3; ky++) {
    r->row_ok[ky] = rows[ky] != NULL;
    r->rows[ky] = rows[ky] ? rows[ky] : any;
  }
}

/* Pixels [*begin, *end) of the row have all three columns inside [0, width). */
static void
dw_interior (int stride, int x0, int n_out, int width, int *begin, int *end)
{
  int b = x0 >= 0 ? 0 : (-x0 + stride - 1) / stride;
  int e = width - 3 - x0 >= 0 ? (width - 3 - x0) / stride + 1 : 0;
  *begin = MIN (b, n_out);
  *end = CLAMP (e, *begin, n_out);
}

/* The row kernel itself is depthwise-simd-template.h, included once per ISA
 * below with that ISA's vector operations. */

/* ---------------------------------------------------------------- AVX-512 */

#pragma GCC push_options
#pragma GCC target ("avx512f,fma")
#define SIMD_VEC_ISA 512
#include "simd-vec.h"
#define DW_NAME(x) dw_##x##_512
#define DW_ROW packd_depthwise3x3_row_avx512
#include "depthwise-simd-template.h"
#include "simd-vec-undef.h"
#pragma GCC pop_options

/* ------------------------------------------------------------------- AVX2 */

#pragma GCC push_options
#pragma GCC target ("avx2,fma")
#define SIMD_VEC_ISA 256
#include "simd-vec.h"
#define DW_NAME(x) dw_##x##_256
#define DW_ROW packd_depthwise3x3_row_avx2
#include "depthwise-simd-template.h"
#include "simd-vec-undef.h"
#pragma GCC pop_options

#endif /* __x86_64__ */
