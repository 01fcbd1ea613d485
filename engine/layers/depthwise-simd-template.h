/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/* The 3x3 depthwise row kernel, written once for any vector width and
 * included by depthwise-simd.c once per ISA, inside that ISA's target
 * pragma, after simd-vec.h (the vector operations).  The includer defines
 *   DW_NAME(x)         x with the ISA suffix (file-local helpers)
 *   DW_ROW             the exported row function's name
 * No include guard: meant to be included more than once. */

/* Output at column x (taps x, x+1, x+2) of the current channel block; the
 * three kernel rows in separate chains. */
#define DW_PIXEL(a, x, LOAD) \
  do { \
    VF a0_ = V_FMA (w[0][0], LOAD (in0 + (x) * C), b); \
    VF a1_ = V_MUL (w[1][0], LOAD (in1 + (x) * C)); \
    VF a2_ = V_MUL (w[2][0], LOAD (in2 + (x) * C)); \
    a0_ = V_FMA (w[0][1], LOAD (in0 + ((x) + 1) * C), a0_); \
    a1_ = V_FMA (w[1][1], LOAD (in1 + ((x) + 1) * C), a1_); \
    a2_ = V_FMA (w[2][1], LOAD (in2 + ((x) + 1) * C), a2_); \
    a0_ = V_FMA (w[0][2], LOAD (in0 + ((x) + 2) * C), a0_); \
    a1_ = V_FMA (w[1][2], LOAD (in1 + ((x) + 2) * C), a1_); \
    a2_ = V_FMA (w[2][2], LOAD (in2 + ((x) + 2) * C), a2_); \
    (a) = V_ADD (a0_, V_ADD (a1_, a2_)); \
  } while (0)
#define DW_LOAD_FULL(p) V_LOAD (p)
#define DW_LOAD_MASKED(p) V_LOADM (p, m)

/* One border pixel whose first tap column is x (some columns outside). */
static void
DW_NAME (border_pixel) (const DwRows *r, const float *weight, const float *bias, int64_t C,
    int x, int width, PackdActivation act, float *out)
{
  int col[3];
  gboolean col_ok[3];

  for (int kx = 0; kx < 3; kx++) {
    col_ok[kx] = x + kx >= 0 && x + kx < width;
    col[kx] = CLAMP (x + kx, 0, width - 1);
  }
  for (int64_t c0 = 0; c0 < C; c0 += VW) {
    const VM m = V_MASK (C - c0);
    VF acc = bias ? V_LOADM (bias + c0, m) : V_ZERO ();
    for (int ky = 0; ky < 3; ky++)
      for (int kx = 0; kx < 3; kx++)
        if (r->row_ok[ky] && col_ok[kx])
          acc = V_FMA (V_LOADM (weight + (ky * 3 + kx) * C + c0, m),
              V_LOADM (r->rows[ky] + col[kx] * C + c0, m), acc);
    V_STOREM (out + c0, m, V_ACT (acc, act));
  }
}

void
DW_ROW (const float *const rows[3], const float *weight, const float *bias, int channels,
    int stride, int x0, int n_out, int width, PackdActivation act, float *out)
{
  const int64_t C = channels;
  DwRows r;
  int begin, end;

  dw_rows_resolve (rows, &r);
  dw_interior (stride, x0, n_out, width, &begin, &end);
  for (int i = 0; i < begin; i++)
    DW_NAME (border_pixel) (&r, weight, bias, C, x0 + i * stride, width, act, out + i * C);
  for (int64_t c0 = 0; c0 < C && begin < end; c0 += VW) {
    const VM m = V_MASK (C - c0);
    const gboolean full = C - c0 >= VW;
    const int64_t xb = x0 + (int64_t) begin * stride;
    const float *in0 = r.rows[0] + xb * C + c0, *in1 = r.rows[1] + xb * C + c0;
    const float *in2 = r.rows[2] + xb * C + c0;
    const VF b = bias ? V_LOADM (bias + c0, m) : V_ZERO ();
    float *o = out + begin * C + c0;
    const int n = end - begin;
    VF w[3][3];
    int i = 0;

    for (int ky = 0; ky < 3; ky++)
      for (int kx = 0; kx < 3; kx++)
        w[ky][kx] = r.row_ok[ky] ? V_LOADM (weight + (ky * 3 + kx) * C + c0, m) : V_ZERO ();
    if (full && stride == 1) {
      /* two pixels per step: they share two of their three input columns */
      for (; i + 2 <= n; i += 2) {
        VF y0, y1;
        DW_PIXEL (y0, i, DW_LOAD_FULL);
        DW_PIXEL (y1, i + 1, DW_LOAD_FULL);
        V_STORE (o + i * C, V_ACT (y0, act));
        V_STORE (o + (i + 1) * C, V_ACT (y1, act));
      }
    } else if (full) {
      for (; i < n; i++) {
        VF y;
        DW_PIXEL (y, i * stride, DW_LOAD_FULL);
        V_STORE (o + i * C, V_ACT (y, act));
      }
    }
    for (; i < n; i++) {
      VF y;
      DW_PIXEL (y, i * stride, DW_LOAD_MASKED);
      V_STOREM (o + i * C, m, V_ACT (y, act));
    }
  }
  for (int i = MAX (begin, end); i < n_out; i++)
    DW_NAME (border_pixel) (&r, weight, bias, C, x0 + i * stride, width, act, out + i * C);
}

#undef DW_PIXEL
#undef DW_LOAD_FULL
#undef DW_LOAD_MASKED
