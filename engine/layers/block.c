/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "block.h"
#include "depthwise.h"
#include "gemm.h"
#include "simd-impl.h"

#include <string.h>

/* Output rows per group: enough pixels (>= 64) for the GEMM row tiles. */
static int
group_rows (int out_w)
{
  return MAX (1, (64 + out_w - 1) / out_w);
}

/* Expanded rows one group needs: (G - 1) * stride + 3. */
static int
ring_rows (const PackdBlockParams *b, int group)
{
  return b->expand_weight ? (group - 1) * b->dw.stride + 3 : 0;
}

/* Width of the expanded tensor (the depthwise's input). */
static int
mid_width (const PackdBlockParams *b, const PackdTensor *in)
{
  return b->expand_weight ? b->expand_w : in->shape[2];
}

/* im2col rows for the expanded rows of one group (non-1x1 expand only). */
static int64_t
im2col_floats (const PackdBlockParams *b, int ring, int Wm)
{
  if (!b->expand_weight || (b->expand.kernel_h == 1 && b->expand.kernel_w == 1))
    return 0;
  return (int64_t) ring * Wm * b->expand.kernel_h * b->expand.kernel_w * b->expand_weight->shape[2];
}

/* Per thread: the ring of expanded rows, the im2col rows of a non-1x1
 * expand, the depthwise rows of one group; whole cache lines. */
static int64_t
scratch_per_thread (const PackdBlockParams *b, int Wm, int Ce, int Wo)
{
  const int g = group_rows (Wo), ring = ring_rows (b, g);
  const int64_t n = (int64_t) ring * Wm * Ce + im2col_floats (b, ring, Wm) + (int64_t) g * Wo * Ce;
  return (n + 15) / 16 * 16;
}

int64_t
packd_block_scratch_floats (const PackdBlockParams *b, const PackdTensor *in,
    const PackdTensor *out, int n_threads)
{
  return MAX (n_threads, 1) * scratch_per_thread (b, mid_width (b, in), b->dw_weight->shape[2],
      out->shape[2]);
}

typedef struct {
  const PackdBlockParams *b;
  PackdTensor in;               /* one image */
  float *out;
  int H, W, Cin;                /* block input */
  int Hm, Wm, Ce;               /* expanded (the depthwise's input) */
  int Ho, Wo, Co;
  int group, ring, rows_per_band;
  float *scratch;
  int64_t per_thread;
  PackdDepthwiseRowFunc row_func;
} BlockJob;

/* Expanded rows [r0, r1) into their ring slots (r % ring). */
static void
expand_rows (const BlockJob *j, float *ring, float *im2col, int r0, int r1)
{
  const PackdBlockParams *b = j->b;

  while (r0 < r1) {
    const int slot = r0 % j->ring, n = MIN (r1 - r0, j->ring - slot);  /* up to the wrap */
    packd_conv2d_rows_packed (&b->expand, &j->in, b->expand_weight, b->expand_packed,
        b->expand_bias, j->Wm, (int64_t) r0 * j->Wm, (int64_t) (r0 + n) * j->Wm,
        ring + (int64_t) slot * j->Wm * j->Ce, im2col);
    r0 += n;
  }
}

/* A depthwise row whose three tap rows are all outside the image. */
static void
bias_only_row (const PackdBlockParams *b, int Wo, int Ce, float *out)
{
  for (int x = 0; x < Wo; x++) {
    float *o = out + (int64_t) x * Ce;
    if (b->dw_bias)
      memcpy (o, b->dw_bias, Ce * sizeof (float));
    else
      memset (o, 0, Ce * sizeof (float));
    packd_bias_act_forward (o, 1, Ce, NULL, b->dw.act);
  }
}

static void
block_band (gpointer data, int band, int thread)
{
  const BlockJob *j = data;
  const PackdBlockParams *b = j->b;
  const int s = b->dw.stride, pt = b->dw.pad_top;
  float *ring = j->scratch + thread * j->per_thread;
  float *im2col = ring + (int64_t) j->ring * j->Wm * j->Ce;
  float *dw_rows = im2col + im2col_floats (b, j->ring, j->Wm);
  const int oy_begin = band * j->rows_per_band, oy_end = MIN (j->Ho, oy_begin + j->rows_per_band);
  int have = -1;                /* expanded rows [.., have) are in the ring */

  for (int g0 = oy_begin; g0 < oy_end; g0 += j->group) {
    const int g1 = MIN (oy_end, g0 + j->group);
    const int need_lo = MAX (0, g0 * s - pt), need_hi = MIN (j->Hm, (g1 - 1) * s - pt + 3);

    if (b->expand_weight && need_lo < need_hi) {
      expand_rows (j, ring, im2col, MAX (need_lo, have), need_hi);
      have = need_hi;
    }
    for (int oy = g0; oy < g1; oy++) {
      const float *rows[3];
      for (int ky = 0; ky < 3; ky++) {
        const int iy = oy * s - pt + ky;
        rows[ky] = iy < 0 || iy >= j->Hm ? NULL
            : b->expand_weight ? ring + (int64_t) (iy % j->ring) * j->Wm * j->Ce
            : j->in.data + (int64_t) iy * j->W * j->Cin;
      }
      float *dst = dw_rows + (int64_t) (oy - g0) * j->Wo * j->Ce;
      if (rows[0] || rows[1] || rows[2])
        j->row_func (rows, b->dw_weight->data, b->dw_bias, j->Ce, s, -b->dw.pad_left, j->Wo, j->Wm,
            b->dw.act, dst);
      else
        bias_only_row (b, j->Wo, j->Ce, dst);
    }
    float *out = j->out + (int64_t) g0 * j->Wo * j->Co;
    const int pixels = (g1 - g0) * j->Wo;
    packd_gemm_rows (0, pixels, j->Co, j->Ce, dw_rows, j->Ce, b->project_weight->data, j->Co,
        b->project_packed, b->project_bias, b->project_act, out, j->Co);
    if (b->residual) {
      const float *in = j->in.data + (int64_t) g0 * j->W * j->Cin;
      for (int64_t i = 0; i < (int64_t) pixels * j->Co; i++)
        out[i] += in[i];
    }
  }
}

void
packd_block_forward (const PackdBlockParams *b, const PackdTensor *in, PackdTensor *out,
    float *scratch, PackdThreads *pool)
{
  BlockJob j = { 0 };
  int n_threads;

  j.b = b;
  j.H = in->shape[1];
  j.W = in->shape[2];
  j.Cin = in->shape[3];
  j.Hm = b->expand_weight ? b->expand_h : j.H;
  j.Wm = mid_width (b, in);
  j.Ce = b->dw_weight->shape[2];
  j.Ho = out->shape[1];
  j.Wo = out->shape[2];
  j.Co = out->shape[3];
  g_return_if_fail ((b->expand_weight ? b->expand_weight->shape[3] : j.Cin) == j.Ce
      && (!b->expand_weight || b->expand_weight->shape[2] == j.Cin)
      && b->project_weight->shape[2] == j.Ce && b->project_weight->shape[3] == j.Co);
  g_return_if_fail (!b->residual || (b->dw.stride == 1 && j.Co == j.Cin && j.Ho == j.H
          && j.Wo == j.W));
  /* Without SIMD kernels the GEMMs are OpenBLAS calls, which bring their own
   * threads: run the bands on the caller. */
  if (packd_simd_level () == PACKD_SIMD_GENERIC)
    pool = NULL;
  n_threads = packd_threads_get_n (pool);
  j.group = group_rows (j.Wo);
  j.ring = ring_rows (b, j.group);
  j.scratch = scratch;
  j.per_thread = scratch_per_thread (b, j.Wm, j.Ce, j.Wo);
  j.row_func = packd_depthwise3x3_row_func ();
  /* Each band recomputes the two expanded rows it shares with the band
   * above.  Two bands per thread balance better when a thread is held up;
   * one per thread when bands would be so short that the recomputation
   * costs more.  Whole groups each. */
  j.rows_per_band = (j.Ho + 2 * n_threads - 1) / (2 * n_threads);
  if (n_threads == 1 || j.rows_per_band < 16)
    j.rows_per_band = (j.Ho + n_threads - 1) / n_threads;
  j.rows_per_band = (j.rows_per_band + j.group - 1) / j.group * j.group;
  for (int n = 0; n < in->shape[0]; n++) {
    packd_tensor_init_nhwc (&j.in, 1, j.H, j.W, j.Cin, in->data + (int64_t) n * j.H * j.W * j.Cin);
    j.out = out->data + (int64_t) n * j.Ho * j.Wo * j.Co;
    packd_threads_run (pool, (j.Ho + j.rows_per_band - 1) / j.rows_per_band, block_band, &j);
  }
}
