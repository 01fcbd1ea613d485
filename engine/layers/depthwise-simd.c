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

#include <immintrin.h>

#define ALWAYS_INLINE inline __attribute__ ((always_inline))

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

/* ---------------------------------------------------------------- AVX-512 */

#pragma GCC push_options
#pragma GCC target ("avx512f,fma")

static ALWAYS_INLINE __m512
act_512 (__m512 v, PackdActivation act)
{
  if (act != PACKD_ACT_NONE)
    v = _mm512_max_ps (v, _mm512_setzero_ps ());
  if (act == PACKD_ACT_RELU6)
    v = _mm512_min_ps (v, _mm512_set1_ps (6.f));
  return v;
}

/* Output at column x (taps x, x+1, x+2) of the current channel block. */
#define DW_PIXEL_512(a, x, LOAD) \
  do { \
    __m512 a0_ = _mm512_fmadd_ps (w[0][0], LOAD (in0 + (x) * C), b); \
    __m512 a1_ = _mm512_mul_ps (w[1][0], LOAD (in1 + (x) * C)); \
    __m512 a2_ = _mm512_mul_ps (w[2][0], LOAD (in2 + (x) * C)); \
    a0_ = _mm512_fmadd_ps (w[0][1], LOAD (in0 + ((x) + 1) * C), a0_); \
    a1_ = _mm512_fmadd_ps (w[1][1], LOAD (in1 + ((x) + 1) * C), a1_); \
    a2_ = _mm512_fmadd_ps (w[2][1], LOAD (in2 + ((x) + 1) * C), a2_); \
    a0_ = _mm512_fmadd_ps (w[0][2], LOAD (in0 + ((x) + 2) * C), a0_); \
    a1_ = _mm512_fmadd_ps (w[1][2], LOAD (in1 + ((x) + 2) * C), a1_); \
    a2_ = _mm512_fmadd_ps (w[2][2], LOAD (in2 + ((x) + 2) * C), a2_); \
    (a) = _mm512_add_ps (a0_, _mm512_add_ps (a1_, a2_)); \
  } while (0)
#define LOAD_FULL_512(p) _mm512_loadu_ps (p)
#define LOAD_MASKED_512(p) _mm512_maskz_loadu_ps (m, p)

/* One border pixel whose first tap column is x (some columns outside). */
static void
dw_border_pixel_512 (const DwRows *r, const float *weight, const float *bias, int64_t C,
    int x, int width, PackdActivation act, float *out)
{
  int col[3];
  gboolean col_ok[3];

  for (int kx = 0; kx < 3; kx++) {
    col_ok[kx] = x + kx >= 0 && x + kx < width;
    col[kx] = CLAMP (x + kx, 0, width - 1);
  }
  for (int64_t c0 = 0; c0 < C; c0 += 16) {
    const __mmask16 m = C - c0 >= 16 ? 0xffff : (__mmask16) ((1u << (C - c0)) - 1);
    __m512 acc = bias ? _mm512_maskz_loadu_ps (m, bias + c0) : _mm512_setzero_ps ();
    for (int ky = 0; ky < 3; ky++)
      for (int kx = 0; kx < 3; kx++)
        if (r->row_ok[ky] && col_ok[kx])
          acc = _mm512_fmadd_ps (_mm512_maskz_loadu_ps (m, weight + (ky * 3 + kx) * C + c0),
              _mm512_maskz_loadu_ps (m, r->rows[ky] + col[kx] * C + c0), acc);
    _mm512_mask_storeu_ps (out + c0, m, act_512 (acc, act));
  }
}

void
packd_depthwise3x3_row_avx512 (const float *const rows[3], const float *weight,
    const float *bias, int channels, int stride, int x0, int n_out, int width,
    PackdActivation act, float *out)
{
  const int64_t C = channels;
  DwRows r;
  int begin, end;

  dw_rows_resolve (rows, &r);
  dw_interior (stride, x0, n_out, width, &begin, &end);
  for (int i = 0; i < begin; i++)
    dw_border_pixel_512 (&r, weight, bias, C, x0 + i * stride, width, act, out + i * C);
  for (int64_t c0 = 0; c0 < C && begin < end; c0 += 16) {
    const __mmask16 m = C - c0 >= 16 ? 0xffff : (__mmask16) ((1u << (C - c0)) - 1);
    const int64_t xb = x0 + (int64_t) begin * stride;
    const float *in0 = r.rows[0] + xb * C + c0, *in1 = r.rows[1] + xb * C + c0;
    const float *in2 = r.rows[2] + xb * C + c0;
    const __m512 b = bias ? _mm512_maskz_loadu_ps (m, bias + c0) : _mm512_setzero_ps ();
    float *o = out + begin * C + c0;
    const int n = end - begin;
    __m512 w[3][3];
    int i = 0;

    for (int ky = 0; ky < 3; ky++)
      for (int kx = 0; kx < 3; kx++)
        w[ky][kx] = r.row_ok[ky] ? _mm512_maskz_loadu_ps (m, weight + (ky * 3 + kx) * C + c0)
            : _mm512_setzero_ps ();
    if (m == 0xffff && stride == 1) {
      for (; i + 2 <= n; i += 2) {
        __m512 y0, y1;
        DW_PIXEL_512 (y0, i, LOAD_FULL_512);
        DW_PIXEL_512 (y1, i + 1, LOAD_FULL_512);
        _mm512_storeu_ps (o + i * C, act_512 (y0, act));
        _mm512_storeu_ps (o + (i + 1) * C, act_512 (y1, act));
      }
    } else if (m == 0xffff) {
      for (; i < n; i++) {
        __m512 y;
        DW_PIXEL_512 (y, i * stride, LOAD_FULL_512);
        _mm512_storeu_ps (o + i * C, act_512 (y, act));
      }
    }
    for (; i < n; i++) {
      __m512 y;
      DW_PIXEL_512 (y, i * stride, LOAD_MASKED_512);
      _mm512_mask_storeu_ps (o + i * C, m, act_512 (y, act));
    }
  }
  for (int i = MAX (begin, end); i < n_out; i++)
    dw_border_pixel_512 (&r, weight, bias, C, x0 + i * stride, width, act, out + i * C);
}

#pragma GCC pop_options

/* ------------------------------------------------------------------- AVX2 */

#pragma GCC push_options
#pragma GCC target ("avx2,fma")

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
mask_256 (int64_t lanes)
{
  const __m256i lane = _mm256_setr_epi32 (0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32 (_mm256_set1_epi32 ((int) MIN (lanes, 8)), lane);
}

#define DW_PIXEL_256(a, x, LOAD) \
  do { \
    __m256 a0_ = _mm256_fmadd_ps (w[0][0], LOAD (in0 + (x) * C), b); \
    __m256 a1_ = _mm256_mul_ps (w[1][0], LOAD (in1 + (x) * C)); \
    __m256 a2_ = _mm256_mul_ps (w[2][0], LOAD (in2 + (x) * C)); \
    a0_ = _mm256_fmadd_ps (w[0][1], LOAD (in0 + ((x) + 1) * C), a0_); \
    a1_ = _mm256_fmadd_ps (w[1][1], LOAD (in1 + ((x) + 1) * C), a1_); \
    a2_ = _mm256_fmadd_ps (w[2][1], LOAD (in2 + ((x) + 1) * C), a2_); \
    a0_ = _mm256_fmadd_ps (w[0][2], LOAD (in0 + ((x) + 2) * C), a0_); \
    a1_ = _mm256_fmadd_ps (w[1][2], LOAD (in1 + ((x) + 2) * C), a1_); \
    a2_ = _mm256_fmadd_ps (w[2][2], LOAD (in2 + ((x) + 2) * C), a2_); \
    (a) = _mm256_add_ps (a0_, _mm256_add_ps (a1_, a2_)); \
  } while (0)
#define LOAD_FULL_256(p) _mm256_loadu_ps (p)
#define LOAD_MASKED_256(p) _mm256_maskload_ps (p, m)

static void
dw_border_pixel_256 (const DwRows *r, const float *weight, const float *bias, int64_t C,
    int x, int width, PackdActivation act, float *out)
{
  int col[3];
  gboolean col_ok[3];

  for (int kx = 0; kx < 3; kx++) {
    col_ok[kx] = x + kx >= 0 && x + kx < width;
    col[kx] = CLAMP (x + kx, 0, width - 1);
  }
  for (int64_t c0 = 0; c0 < C; c0 += 8) {
    const __m256i m = mask_256 (C - c0);
    __m256 acc = bias ? _mm256_maskload_ps (bias + c0, m) : _mm256_setzero_ps ();
    for (int ky = 0; ky < 3; ky++)
      for (int kx = 0; kx < 3; kx++)
        if (r->row_ok[ky] && col_ok[kx])
          acc = _mm256_fmadd_ps (_mm256_maskload_ps (weight + (ky * 3 + kx) * C + c0, m),
              _mm256_maskload_ps (r->rows[ky] + col[kx] * C + c0, m), acc);
    _mm256_maskstore_ps (out + c0, m, act_256 (acc, act));
  }
}

void
packd_depthwise3x3_row_avx2 (const float *const rows[3], const float *weight,
    const float *bias, int channels, int stride, int x0, int n_out, int width,
    PackdActivation act, float *out)
{
  const int64_t C = channels;
  DwRows r;
  int begin, end;

  dw_rows_resolve (rows, &r);
  dw_interior (stride, x0, n_out, width, &begin, &end);
  for (int i = 0; i < begin; i++)
    dw_border_pixel_256 (&r, weight, bias, C, x0 + i * stride, width, act, out + i * C);
  for (int64_t c0 = 0; c0 < C && begin < end; c0 += 8) {
    const __m256i m = mask_256 (C - c0);
    const gboolean full = C - c0 >= 8;
    const int64_t xb = x0 + (int64_t) begin * stride;
    const float *in0 = r.rows[0] + xb * C + c0, *in1 = r.rows[1] + xb * C + c0;
    const float *in2 = r.rows[2] + xb * C + c0;
    const __m256 b = bias ? _mm256_maskload_ps (bias + c0, m) : _mm256_setzero_ps ();
    float *o = out + begin * C + c0;
    const int n = end - begin;
    __m256 w[3][3];
    int i = 0;

    for (int ky = 0; ky < 3; ky++)
      for (int kx = 0; kx < 3; kx++)
        w[ky][kx] = r.row_ok[ky] ? _mm256_maskload_ps (weight + (ky * 3 + kx) * C + c0, m)
            : _mm256_setzero_ps ();
    if (full && stride == 1) {
      for (; i + 2 <= n; i += 2) {
        __m256 y0, y1;
        DW_PIXEL_256 (y0, i, LOAD_FULL_256);
        DW_PIXEL_256 (y1, i + 1, LOAD_FULL_256);
        _mm256_storeu_ps (o + i * C, act_256 (y0, act));
        _mm256_storeu_ps (o + (i + 1) * C, act_256 (y1, act));
      }
    } else if (full) {
      for (; i < n; i++) {
        __m256 y;
        DW_PIXEL_256 (y, i * stride, LOAD_FULL_256);
        _mm256_storeu_ps (o + i * C, act_256 (y, act));
      }
    }
    for (; i < n; i++) {
      __m256 y;
      DW_PIXEL_256 (y, i * stride, LOAD_MASKED_256);
      _mm256_maskstore_ps (o + i * C, m, act_256 (y, act));
    }
  }
  for (int i = MAX (begin, end); i < n_out; i++)
    dw_border_pixel_256 (&r, weight, bias, C, x0 + i * stride, width, act, out + i * C);
}

#pragma GCC pop_options

#endif /* __x86_64__ */
