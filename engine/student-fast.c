/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/* The student's units for inference: eval-mode batch norm folded into the
 * weights (BN is per output channel, the last dimension of every unit's
 * weight), the activation fused into the GEMM or depthwise epilogue, the
 * weights packed once for the engine GEMM, the work spread over the engine
 * pool.  No OpenBLAS with a SIMD level. */
#include "student-impl.h"
#include "simd-impl.h"

#include <math.h>
#include <string.h>

static float *
buffers_alloc (GPtrArray *buffers, int64_t n)
{
  float *p = g_try_new0 (float, MAX (n, 1));
  if (p)
    g_ptr_array_add (buffers, p);
  return p;
}

gboolean
student_fast_unit_init (StudentFastUnit *f, const Unit *u, const PackdTensor *in,
    GPtrArray *buffers)
{
  const int H = in->shape[1], W = in->shape[2], co = u->cout;
  int Ho, Wo;
  float *w = buffers_alloc (buffers, u->w->n);

  memset (f, 0, sizeof (*f));
  f->bias = buffers_alloc (buffers, 2 * co);
  if (!w || !f->bias)
    return FALSE;
  memcpy (w, u->w->data, u->w->n * sizeof (float));
  packd_tensor_init (&f->w, u->w->ndim, u->w->shape, w);
  if (u->bn) {
    for (int c = 0; c < co; c++) {
      const float scale = u->gamma->data[c] / sqrtf (u->rvar->data[c] + PACKD_BATCHNORM_EPS);
      f->bias[c] = u->beta->data[c] - u->rmean->data[c] * scale;
      for (int64_t i = c; i < u->w->n; i += co)
        w[i] *= scale;
    }
  } else if (u->b) {
    memcpy (f->bias, u->b->data, co * sizeof (float));
  }
  switch (u->kind) {
    case UNIT_PW:
      packd_conv_params_same (&f->p, 1, 1, H, W, u->act, &Ho, &Wo);
      f->packed = buffers_alloc (buffers, packd_conv2d_packed_floats (&f->w));
      if (!f->packed)
        return FALSE;
      packd_conv2d_pack_weight (&f->w, f->packed);
      break;
    case UNIT_DW:
      packd_conv_params_same (&f->p, 3, u->stride, H, W, u->act, &Ho, &Wo);
      break;
    case UNIT_DECONV:
      /* out rows 2y + i of input row y: [W, Cin] x w[:, i, :, :] ([Cin, 2 cout]) */
      f->p.act = u->act;
      memcpy (f->bias + co, f->bias, co * sizeof (float));
      f->half_floats = packd_gemm_packed_floats (u->cin, 2 * co);
      f->packed = buffers_alloc (buffers, 2 * f->half_floats);
      if (!f->packed)
        return FALSE;
      for (int i = 0; i < 2; i++)
        packd_gemm_pack_b (w + i * 2 * co, u->cin, 2 * co, 4 * co, f->packed + i * f->half_floats);
      break;
  }
  return TRUE;
}

typedef struct {
  const StudentFastUnit *f;
  const float *in;
  float *out;
  int H, W, Cin, Co;
} DeconvJob;

/* task = 2 y + i: output row 2 y + i from input row y */
static void
deconv_task (gpointer data, int task, int thread)
{
  const DeconvJob *j = data;
  const int y = task / 2, i = task % 2;

  packd_gemm_rows (0, j->W, 2 * j->Co, j->Cin, j->in + (int64_t) y * j->W * j->Cin, j->Cin,
      j->f->w.data + i * 2 * j->Co, 4 * j->Co, j->f->packed + i * j->f->half_floats, j->f->bias,
      j->f->p.act, j->out + (int64_t) (2 * y + i) * 2 * j->W * j->Co, 2 * j->Co);
}

void
student_fast_unit_forward (const StudentFastUnit *f, UnitKind kind, const PackdTensor *in,
    PackdTensor *out, PackdThreads *pool)
{
  switch (kind) {
    case UNIT_PW:
      packd_conv2d_forward_packed (&f->p, in, &f->w, f->packed, f->bias, out, NULL, pool);
      break;
    case UNIT_DW:
      packd_depthwise_forward_threads (&f->p, in, &f->w, f->bias, out, pool);
      break;
    case UNIT_DECONV:{
      DeconvJob j = { f, NULL, NULL, in->shape[1], in->shape[2], in->shape[3], out->shape[3] };
      /* Without SIMD kernels the GEMM is OpenBLAS, which brings its own threads. */
      if (packd_simd_level () == PACKD_SIMD_GENERIC)
        pool = NULL;
      for (int n = 0; n < in->shape[0]; n++) {
        j.in = in->data + (int64_t) n * j.H * j.W * j.Cin;
        j.out = out->data + (int64_t) n * 4 * j.H * j.W * j.Co;
        packd_threads_run (pool, 2 * j.H, deconv_task, &j);
      }
      break;
    }
  }
}

void
student_fast_block_params (PackdBlockParams *b, const StudentFastUnit *expand,
    const StudentFastUnit *dw, const StudentFastUnit *project, const PackdTensor *in)
{
  memset (b, 0, sizeof (*b));
  b->expand_weight = &expand->w;
  b->expand_packed = expand->packed;
  b->expand_bias = expand->bias;
  b->expand = expand->p;
  b->expand_h = in->shape[1];
  b->expand_w = in->shape[2];
  b->dw = dw->p;
  b->dw_weight = &dw->w;
  b->dw_bias = dw->bias;
  b->project_weight = &project->w;
  b->project_packed = project->packed;
  b->project_bias = project->bias;
  b->project_act = project->p.act;
  b->residual = TRUE;
}
