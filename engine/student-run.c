/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/* Forward, losses and backward of the student for one batch size
 * (method.md §1, §4, §5).  Data flow:
 *   OCBE(T1, T2, T3) -> F^S4 -> PEIM4 -> stage 3 -> F^S3 -> PEIM3 -> stage 2
 *   -> F^S2 -> PEIM2 -> stage 1 -> F^S1.
 * Every buffer is allocated when the run is made.  Inference runs use the
 * folded, packed units of student-fast.c on the engine pool (the weights
 * as they are when the run is made); training runs, and inference runs set
 * to the reference path, go unit by unit as written in method.md. */
#include "student-impl.h"
#include "packd-error.h"
#include "packd-losses.h"

#include <string.h>

typedef struct {
  const Unit *u;
  PackdConvParams p;
  PackdTensor wt;                /* view of the weight */
  PackdTensor in;                /* borrowed input */
  PackdTensor z, y;              /* conv output (BN input), unit output */
  PackdTensor gy;                /* dL/dy, turned into dL/dz in place */
  float *bmean, *binvstd;
  StudentFastUnit fast;          /* inference runs */
} UnitRun;

typedef struct {
  UnitRun up, head;
  UnitRun expand[PACKD_STUDENT_MAX_BLOCKS], dw[PACKD_STUDENT_MAX_BLOCKS],
      project[PACKD_STUDENT_MAX_BLOCKS];
  PackdTensor x[PACKD_STUDENT_MAX_BLOCKS + 1], gx[PACKD_STUDENT_MAX_BLOCKS + 1];
  PackdTensor tmp;               /* grad of a block input through its branch */
  PackdBlockParams blocks[PACKD_STUDENT_MAX_BLOCKS];   /* inference runs */
} StageRun;

typedef struct {
  int C, HW;
  PackdTensor hat, g_hat;        /* PEIM output [B,g,g,2C] (or F^S copy size without PEIM) */
  PackdTensor protos, g_protos;  /* [B,M,C] */
  float *q_hat, *q_norm, *g_q_hat;
  float *x_hat, *a_soft;         /* per image: max_rows*C, M*max_rows */
  float *y_hat, *y_norm, *p_hat, *p_norm, *w_soft, *y_proj, *p_proj;
  PeimFast fast;                 /* inference runs */
  const float *support[64];
  int n_support[64];
} LevelRun;

struct _PackdStudentRun {
  PackdStudent *s;
  int B, max_support;
  gboolean training;
  GPtrArray *buffers;
  PackdTensor teacher[4];        /* levels 1..3 */
  UnitRun p1_dw1, p1_pw1, p1_dw2, p1_pw2, p2_dw, p2_pw, enc_pw, enc_dw, enc_out;
  PackdTensor cat, g_cat;
  StageRun stages[3];
  LevelRun lv[PACKD_STUDENT_LEVELS + 1];  /* levels 2..4 */
  float *scratch;
  int64_t scratch_floats;
  /* inference */
  gboolean reference;
  PackdThreads *pool;            /* shared, follows packd_threads_default () */
  int pool_threads;
  float *block_scratch;
  int64_t block_scratch_floats;
};

static float *
run_alloc (PackdStudentRun *r, int64_t n)
{
  float *p = g_try_new0 (float, MAX (n, 1));
  if (p)
    g_ptr_array_add (r->buffers, p);
  return p;
}

static gboolean
tensor_alloc (PackdStudentRun *r, PackdTensor *t, int64_t h, int64_t w, int64_t c)
{
  float *p = run_alloc (r, r->B * h * w * c);
  packd_tensor_init_nhwc (t, r->B, h, w, c, p);
  return p != NULL;
}

static gboolean
unit_run_init (PackdStudentRun *r, UnitRun *ur, const Unit *u, const PackdTensor *in)
{
  const int H = in->shape[1], W = in->shape[2];
  int Ho = H, Wo = W;

  ur->u = u;
  ur->in = *in;
  packd_tensor_init (&ur->wt, u->w->ndim, u->w->shape, u->w->data);
  if (u->kind == UNIT_DW)
    packd_conv_params_same (&ur->p, 3, u->stride, H, W, PACKD_ACT_NONE, &Ho, &Wo);
  else if (u->kind == UNIT_PW)
    packd_conv_params_same (&ur->p, 1, 1, H, W, PACKD_ACT_NONE, &Ho, &Wo);
  else {
    Ho = 2 * H;
    Wo = 2 * W;
    r->scratch_floats = MAX (r->scratch_floats,
        packd_deconv2x2_scratch_floats (in, &ur->wt));
  }
  if (!tensor_alloc (r, &ur->y, Ho, Wo, u->cout) || !tensor_alloc (r, &ur->gy, Ho, Wo, u->cout))
    return FALSE;
  ur->z = ur->y;
  if (u->bn) {
    if (!tensor_alloc (r, &ur->z, Ho, Wo, u->cout))
      return FALSE;
    ur->bmean = run_alloc (r, u->cout);
    ur->binvstd = run_alloc (r, u->cout);
  }
  return r->training || student_fast_unit_init (&ur->fast, u, in, r->buffers);
}

static void
unit_forward (PackdStudentRun *r, UnitRun *ur)
{
  const Unit *u = ur->u;
  const float *bias = u->b ? u->b->data : NULL;

  switch (u->kind) {
    case UNIT_PW:
      packd_conv2d_forward (&ur->p, &ur->in, &ur->wt, bias, &ur->z, NULL);
      break;
    case UNIT_DW:
      packd_depthwise_forward (&ur->p, &ur->in, &ur->wt, bias, &ur->z);
      break;
    case UNIT_DECONV:
      packd_deconv2x2_forward (&ur->in, &ur->wt, bias, PACKD_ACT_NONE, &ur->z, r->scratch);
      break;
  }
  if (u->bn) {
    if (r->training)
      packd_batchnorm_train_forward (&ur->z, u->gamma->data, u->beta->data,
          PACKD_BATCHNORM_MOMENTUM, PACKD_BATCHNORM_EPS, u->rmean->data, u->rvar->data,
          ur->bmean, ur->binvstd, &ur->y);
    else
      packd_batchnorm_eval_forward (&ur->z, u->gamma->data, u->beta->data, u->rmean->data,
          u->rvar->data, PACKD_BATCHNORM_EPS, &ur->y);
  }
  if (u->act != PACKD_ACT_NONE)
    packd_bias_act_forward (ur->y.data, packd_tensor_numel (&ur->y) / u->cout, u->cout, NULL,
        u->act);
}

/* ur->gy holds dL/dy; gin (nullable) is overwritten with dL/d(input). */
static void
unit_backward (PackdStudentRun *r, UnitRun *ur, PackdTensor *gin)
{
  const Unit *u = ur->u;
  float *gb = u->b ? u->b->grad : NULL;

  if (u->act != PACKD_ACT_NONE)
    packd_activation_backward (u->act, &ur->y, &ur->gy, &ur->gy);
  if (u->bn)
    packd_batchnorm_backward (&ur->z, u->gamma->data, ur->bmean, ur->binvstd, &ur->gy, &ur->gy,
        u->gamma->grad, u->beta->grad);
  switch (u->kind) {
    case UNIT_PW:
      packd_conv2d_backward (&ur->p, &ur->in, &ur->wt, NULL, &ur->gy, gin, u->w->grad, gb, NULL);
      break;
    case UNIT_DW:
      packd_depthwise_backward (&ur->p, &ur->in, &ur->wt, NULL, &ur->gy, gin, u->w->grad, gb);
      break;
    case UNIT_DECONV:
      packd_deconv2x2_backward (&ur->in, &ur->wt, PACKD_ACT_NONE, NULL, &ur->gy, gin, u->w->grad,
          gb, r->scratch);
      break;
  }
}

static gboolean
stage_run_init (PackdStudentRun *r, StageRun *sr, const Stage *st, const PackdTensor *in)
{
  if (!unit_run_init (r, &sr->up, &st->up, in))
    return FALSE;
  sr->x[0] = sr->up.y;
  sr->gx[0] = sr->up.gy;
  for (int k = 0; k < st->n_blocks; k++) {
    if (!unit_run_init (r, &sr->expand[k], &st->expand[k], &sr->x[k])
        || !unit_run_init (r, &sr->dw[k], &st->dw[k], &sr->expand[k].y)
        || !unit_run_init (r, &sr->project[k], &st->project[k], &sr->dw[k].y)
        || !tensor_alloc (r, &sr->x[k + 1], sr->x[0].shape[1], sr->x[0].shape[2],
            sr->x[0].shape[3])
        || !tensor_alloc (r, &sr->gx[k + 1], sr->x[0].shape[1], sr->x[0].shape[2],
            sr->x[0].shape[3]))
      return FALSE;
  }
  if (!tensor_alloc (r, &sr->tmp, sr->x[0].shape[1], sr->x[0].shape[2], sr->x[0].shape[3]))
    return FALSE;
  for (int k = 0; !r->training && k < st->n_blocks; k++) {
    student_fast_block_params (&sr->blocks[k], &sr->expand[k].fast, &sr->dw[k].fast,
        &sr->project[k].fast, &sr->x[k]);
    r->block_scratch_floats = MAX (r->block_scratch_floats,
        packd_block_scratch_floats (&sr->blocks[k], &sr->x[k], &sr->x[k + 1],
            STUDENT_MAX_THREADS));
  }
  return unit_run_init (r, &sr->head, &st->head, &sr->x[st->n_blocks]);
}

static void
stage_forward (PackdStudentRun *r, StageRun *sr, const Stage *st)
{
  unit_forward (r, &sr->up);
  for (int k = 0; k < st->n_blocks; k++) {
    unit_forward (r, &sr->expand[k]);
    unit_forward (r, &sr->dw[k]);
    unit_forward (r, &sr->project[k]);
    packd_add_forward (&sr->x[k], &sr->project[k].y, &sr->x[k + 1]);
  }
  unit_forward (r, &sr->head);
}

/* head.gy holds dL/dF^S; gin receives dL/d(stage input). */
static void
stage_backward (PackdStudentRun *r, StageRun *sr, const Stage *st, PackdTensor *gin)
{
  const int64_t n = packd_tensor_numel (&sr->tmp);

  unit_backward (r, &sr->head, &sr->gx[st->n_blocks]);
  for (int k = st->n_blocks - 1; k >= 0; k--) {
    memcpy (sr->project[k].gy.data, sr->gx[k + 1].data, n * sizeof (float));
    unit_backward (r, &sr->project[k], &sr->dw[k].gy);
    unit_backward (r, &sr->dw[k], &sr->expand[k].gy);
    unit_backward (r, &sr->expand[k], &sr->tmp);
    /* residual: skip path + branch */
    for (int64_t i = 0; i < n; i++)
      sr->gx[k].data[i] = sr->gx[k + 1].data[i] + sr->tmp.data[i];
  }
  unit_backward (r, &sr->up, gin);
}

static const PackdTensor *
level_student (const PackdStudentRun *r, int L)
{
  return L == 4 ? &r->enc_out.y : &r->stages[L - 1].head.y;
}

static PackdTensor *
level_student_grad (PackdStudentRun *r, int L)
{
  return L == 4 ? &r->enc_out.gy : &r->stages[L - 1].head.gy;
}

static gboolean
level_run_init (PackdStudentRun *r, int L)
{
  const PackdStudentArch *a = &r->s->arch;
  LevelRun *lv = &r->lv[L];
  const int g = packd_student_arch_grid (a, L), M = a->prototypes;
  const int64_t B = r->B, C = a->tap_channels[L - 1], HW = (int64_t) g * g;
  const int64_t max_rows = (int64_t) r->max_support * HW;

  lv->C = C;
  lv->HW = HW;
  if (!tensor_alloc (r, &lv->g_hat, g, g, a->peim ? 2 * C : C))
    return FALSE;
  if (!a->peim)
    return TRUE;
  if (!tensor_alloc (r, &lv->hat, g, g, 2 * C))
    return FALSE;
  {
    const int64_t shape[3] = { B, M, C };
    packd_tensor_init (&lv->protos, 3, shape, run_alloc (r, B * M * C));
    packd_tensor_init (&lv->g_protos, 3, shape, run_alloc (r, B * M * C));
  }
  lv->q_hat = run_alloc (r, M * C);
  lv->q_norm = run_alloc (r, M);
  lv->g_q_hat = run_alloc (r, M * C);
  if (r->training) {
    lv->x_hat = run_alloc (r, B * max_rows * C);
    lv->a_soft = run_alloc (r, B * M * max_rows);
    if (!lv->x_hat || !lv->a_soft)
      return FALSE;
    r->scratch_floats = MAX (r->scratch_floats, M * max_rows);
  }
  lv->y_hat = run_alloc (r, B * HW * C);
  lv->y_norm = run_alloc (r, B * HW);
  lv->p_hat = run_alloc (r, B * M * C);
  lv->p_norm = run_alloc (r, B * M);
  lv->w_soft = run_alloc (r, B * HW * M);
  if (L == 4) {
    lv->y_proj = run_alloc (r, B * HW * C);
    lv->p_proj = run_alloc (r, B * M * C);
  }
  r->scratch_floats = MAX (r->scratch_floats, peim_integrate_backward_scratch (HW, M, C));
  if (!r->training) {
    PeimFast *f = &lv->fast;
    f->p_hat = run_alloc (r, (int64_t) M * C);
    f->p_hat_t = run_alloc (r, (int64_t) M * C);
    f->p_hat_packed = run_alloc (r, packd_gemm_packed_floats (C, M));
    f->p_packed = run_alloc (r, packd_gemm_packed_floats (M, C));
    f->rows = run_alloc (r, STUDENT_MAX_THREADS * peim_fast_row_floats (M, C));
    if (!f->p_hat || !f->p_hat_t || !f->p_hat_packed || !f->p_packed || !f->rows)
      return FALSE;
    if (L == 4) {
      float *packed = run_alloc (r, packd_gemm_packed_floats (C, C));
      f->p_proj = run_alloc (r, (int64_t) M * C);
      if (!packed || !f->p_proj)
        return FALSE;
      packd_gemm_pack_b (r->s->proj4->data, C, C, C, packed);
      f->proj = r->s->proj4->data;
      f->proj_packed = packed;
    }
  }
  return lv->protos.data && lv->g_protos.data && lv->y_hat && lv->w_soft;
}

PackdStudentRun *
packd_student_run_new (PackdStudent *s, int batch, int max_support_images, gboolean training,
    GError **error)
{
  const PackdStudentArch *a = &s->arch;
  PackdStudentRun *r;
  gboolean ok;
  int g[PACKD_STUDENT_LEVELS + 1];

  if (batch < 1 || batch > 64 || max_support_images < 1 || max_support_images > 64) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_INVALID_ARGUMENT,
        "student run: batch %d / support images %d out of range 1..64", batch,
        max_support_images);
    return NULL;
  }
  r = g_new0 (PackdStudentRun, 1);
  r->s = s;
  r->B = batch;
  r->max_support = max_support_images;
  r->training = training;
  r->buffers = g_ptr_array_new_with_free_func (g_free);
  for (int L = 1; L <= 4; L++)
    g[L] = packd_student_arch_grid (a, L);

  ok = tensor_alloc (r, &r->teacher[1], g[1], g[1], a->tap_channels[0])
      && tensor_alloc (r, &r->teacher[2], g[2], g[2], a->tap_channels[1])
      && tensor_alloc (r, &r->teacher[3], g[3], g[3], a->tap_channels[2])
      && unit_run_init (r, &r->p1_dw1, &s->p1_dw1, &r->teacher[1])
      && unit_run_init (r, &r->p1_pw1, &s->p1_pw1, &r->p1_dw1.y)
      && unit_run_init (r, &r->p1_dw2, &s->p1_dw2, &r->p1_pw1.y)
      && unit_run_init (r, &r->p1_pw2, &s->p1_pw2, &r->p1_dw2.y)
      && unit_run_init (r, &r->p2_dw, &s->p2_dw, &r->teacher[2])
      && unit_run_init (r, &r->p2_pw, &s->p2_pw, &r->p2_dw.y)
      && tensor_alloc (r, &r->cat, g[3], g[3], 2 * a->ocbe_channels + a->tap_channels[2])
      && tensor_alloc (r, &r->g_cat, g[3], g[3], 2 * a->ocbe_channels + a->tap_channels[2])
      && unit_run_init (r, &r->enc_pw, &s->enc_pw, &r->cat)
      && unit_run_init (r, &r->enc_dw, &s->enc_dw, &r->enc_pw.y)
      && unit_run_init (r, &r->enc_out, &s->enc_out, &r->enc_dw.y);
  for (int L = 4; ok && L >= 2; L--) {
    ok = level_run_init (r, L);
    if (ok)
      ok = stage_run_init (r, &r->stages[L - 2], &s->stages[L - 2],
          a->peim ? &r->lv[L].hat : level_student (r, L));
  }
  if (ok)
    ok = (r->scratch = run_alloc (r, r->scratch_floats)) != NULL;
  if (ok && r->block_scratch_floats)
    ok = (r->block_scratch = run_alloc (r, r->block_scratch_floats)) != NULL;
  if (!ok) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_NO_MEMORY,
        "cannot allocate the student workspace (batch %d)", batch);
    packd_student_run_free (r);
    return NULL;
  }
  return r;
}

void
packd_student_run_free (PackdStudentRun *r)
{
  if (r == NULL)
    return;
  packd_threads_release_shared (r->pool);
  g_ptr_array_unref (r->buffers);
  g_free (r);
}

int
packd_student_run_batch (const PackdStudentRun *r)
{
  return r->B;
}

PackdTensor *
packd_student_run_teacher (PackdStudentRun *r, int level)
{
  g_return_val_if_fail (level >= 1 && level <= 3, NULL);
  return &r->teacher[level];
}

void
packd_student_run_set_support (PackdStudentRun *r, int b, int level, const float *rows,
    int n_images)
{
  g_return_if_fail (b >= 0 && b < r->B && level >= 2 && level <= 4);
  g_return_if_fail (n_images >= 1 && n_images <= r->max_support);
  r->lv[level].support[b] = rows;
  r->lv[level].n_support[b] = n_images;
}

void
packd_student_run_set_prototypes (PackdStudentRun *r, int b, int level, const float *prototypes)
{
  LevelRun *lv = &r->lv[level];
  const int64_t MC = (int64_t) r->s->arch.prototypes * lv->C;

  g_return_if_fail (r->s->arch.peim && b >= 0 && b < r->B && level >= 2 && level <= 4);
  memcpy (lv->protos.data + b * MC, prototypes, MC * sizeof (float));
}

static PeimIntegrateSave
integrate_save (const LevelRun *lv, int b, int M)
{
  const int64_t HW = lv->HW, C = lv->C;
  PeimIntegrateSave s = {
    lv->y_hat + b * HW * C, lv->y_norm + b * HW, lv->p_hat + b * M * C, lv->p_norm + b * M,
    lv->w_soft + b * HW * M,
    lv->y_proj ? lv->y_proj + b * HW * C : NULL, lv->p_proj ? lv->p_proj + b * M * C : NULL,
  };
  return s;
}

static void
peim_forward (PackdStudentRun *r, int L, gboolean extract)
{
  const PackdStudent *s = r->s;
  LevelRun *lv = &r->lv[L];
  const int M = s->arch.prototypes, C = lv->C;
  const int64_t HW = lv->HW, max_rows = (int64_t) r->max_support * HW;
  const float *y = level_student (r, L)->data;

  if (extract)
    peim_queries_normalise (s->queries[L]->data, M, C, lv->q_hat, lv->q_norm);
  for (int b = 0; b < r->B; b++) {
    float *p = lv->protos.data + (int64_t) b * M * C;
    PeimIntegrateSave save = integrate_save (lv, b, M);
    if (extract)
      peim_extract_forward (lv->q_hat, lv->support[b], lv->n_support[b] * HW, M, C,
          s->arch.tau_e, lv->x_hat + b * max_rows * C, lv->a_soft + b * M * max_rows, p);
    peim_integrate_forward (y + b * HW * C, p, L == 4 ? s->proj4->data : NULL, HW, M, C,
        s->arch.tau_a, &save, lv->hat.data + b * HW * 2 * C);
  }
}

void
student_run_set_reference (PackdStudentRun *r, gboolean reference)
{
  r->reference = reference;
}

/* The pool follows the default thread count; re-acquired only when that
 * changes, so steady-state forwards do not allocate. */
static void
run_update_pool (PackdStudentRun *r)
{
  const int n = CLAMP (packd_threads_default (), 1, STUDENT_MAX_THREADS);

  if (n == r->pool_threads)
    return;
  packd_threads_release_shared (r->pool);
  r->pool = packd_threads_acquire_shared (n);
  r->pool_threads = n;
}

static void
fast_unit (PackdStudentRun *r, UnitRun *ur)
{
  student_fast_unit_forward (&ur->fast, ur->u->kind, &ur->in, &ur->y, r->pool);
}

static void
forward_fast (PackdStudentRun *r)
{
  const PackdStudent *s = r->s;
  const PackdTensor *parts[3] = { &r->p1_pw2.y, &r->p2_pw.y, &r->teacher[3] };
  const int M = s->arch.prototypes;

  run_update_pool (r);
  fast_unit (r, &r->p1_dw1);
  fast_unit (r, &r->p1_pw1);
  fast_unit (r, &r->p1_dw2);
  fast_unit (r, &r->p1_pw2);
  fast_unit (r, &r->p2_dw);
  fast_unit (r, &r->p2_pw);
  packd_concat_channels_forward (parts, 3, &r->cat);
  fast_unit (r, &r->enc_pw);
  fast_unit (r, &r->enc_dw);
  fast_unit (r, &r->enc_out);
  for (int L = 4; L >= 2; L--) {
    StageRun *sr = &r->stages[L - 2];
    LevelRun *lv = &r->lv[L];
    if (s->arch.peim) {
      const float *y = level_student (r, L)->data;
      for (int b = 0; b < r->B; b++) {
        lv->fast.p = lv->protos.data + (int64_t) b * M * lv->C;
        peim_fast_prepare (&lv->fast, M, lv->C, s->arch.tau_a);
        peim_fast_integrate (&lv->fast, y + b * lv->HW * lv->C, lv->HW, M, lv->C,
            lv->hat.data + b * lv->HW * 2 * lv->C, r->pool);
      }
    }
    fast_unit (r, &sr->up);
    for (int k = 0; k < s->stages[L - 2].n_blocks; k++)
      packd_block_forward (&sr->blocks[k], &sr->x[k], &sr->x[k + 1], r->block_scratch, r->pool);
    fast_unit (r, &sr->head);
  }
}

void
packd_student_run_forward (PackdStudentRun *r, gboolean extract)
{
  const PackdStudent *s = r->s;
  const PackdTensor *parts[3] = { &r->p1_pw2.y, &r->p2_pw.y, &r->teacher[3] };

  g_return_if_fail (!extract || r->training);
  if (!r->training && !r->reference) {
    forward_fast (r);
    return;
  }
  unit_forward (r, &r->p1_dw1);
  unit_forward (r, &r->p1_pw1);
  unit_forward (r, &r->p1_dw2);
  unit_forward (r, &r->p1_pw2);
  unit_forward (r, &r->p2_dw);
  unit_forward (r, &r->p2_pw);
  packd_concat_channels_forward (parts, 3, &r->cat);
  unit_forward (r, &r->enc_pw);
  unit_forward (r, &r->enc_dw);
  unit_forward (r, &r->enc_out);
  for (int L = 4; L >= 2; L--) {
    if (s->arch.peim)
      peim_forward (r, L, extract);
    stage_forward (r, &r->stages[L - 2], &s->stages[L - 2]);
  }
}

const PackdTensor *
packd_student_run_student (const PackdStudentRun *r, int level)
{
  g_return_val_if_fail (level >= 1 && level <= 3, NULL);
  return level_student (r, level);
}

const PackdTensor *
packd_student_run_prototypes (const PackdStudentRun *r, int level)
{
  g_return_val_if_fail (level >= 2 && level <= 4 && r->s->arch.peim, NULL);
  return &r->lv[level].protos;
}

void
packd_loss_weights_init_default (PackdLossWeights *w)
{
  w->contrastive = 0.1f;
  w->orthogonal = 0.1f;
  w->tau = 0.1f;
}

double
packd_student_run_loss (PackdStudentRun *r, const PackdLossWeights *w, PackdLossTerms *terms)
{
  const gboolean peim = r->s->arch.peim;
  PackdLossTerms t = { 0 };

  for (int L = 1; L <= 4; L++) {
    PackdTensor *g = level_student_grad (r, L);
    memset (g->data, 0, packd_tensor_numel (g) * sizeof (float));
    if (peim && L >= 2)
      memset (r->lv[L].g_protos.data, 0, packd_tensor_numel (&r->lv[L].g_protos) * sizeof (float));
  }
  for (int L = 1; L <= 3; L++) {
    const PackdTensor *fs = level_student (r, L);
    PackdTensor *g = level_student_grad (r, L);
    t.kd += packd_loss_kd (&r->teacher[L], fs, PACKD_KD_FLAT, 1.0f, g);
    if (r->B >= 2)
      t.contrastive += packd_loss_contrastive (&r->teacher[L], fs, w->tau, w->contrastive, g);
    if (peim && L >= 2)
      t.relation += packd_loss_relation (&r->teacher[L], fs, &r->lv[L].protos, w->tau,
          w->contrastive, g, &r->lv[L].g_protos);
  }
  if (peim)
    for (int L = 2; L <= 4; L++)
      t.orthogonal += packd_loss_orthogonal (&r->lv[L].protos, w->orthogonal / 3.0f,
          &r->lv[L].g_protos) / 3.0;
  t.total = t.kd + w->contrastive * (t.contrastive + t.relation) + w->orthogonal * t.orthogonal;
  if (terms)
    *terms = t;
  return t.total;
}

static void
peim_backward (PackdStudentRun *r, int L)
{
  PackdStudent *s = r->s;
  LevelRun *lv = &r->lv[L];
  const int M = s->arch.prototypes, C = lv->C;
  const int64_t HW = lv->HW;
  const float *y = level_student (r, L)->data;
  float *gy = level_student_grad (r, L)->data;

  for (int b = 0; b < r->B; b++) {
    PeimIntegrateSave save = integrate_save (lv, b, M);
    peim_integrate_backward (y + b * HW * C, lv->protos.data + (int64_t) b * M * C,
        L == 4 ? s->proj4->data : NULL, HW, M, C, s->arch.tau_a, &save,
        lv->g_hat.data + b * HW * 2 * C, gy + b * HW * C,
        lv->g_protos.data + (int64_t) b * M * C, L == 4 ? s->proj4->grad : NULL, r->scratch);
  }
}

static void
extract_backward (PackdStudentRun *r, int L)
{
  PackdStudent *s = r->s;
  LevelRun *lv = &r->lv[L];
  const int M = s->arch.prototypes, C = lv->C;
  const int64_t HW = lv->HW, max_rows = (int64_t) r->max_support * HW;
  float *gq = s->queries[L]->grad;

  memset (lv->g_q_hat, 0, (gsize) M * C * sizeof (float));
  for (int b = 0; b < r->B; b++)
    peim_extract_backward (lv->support[b], lv->x_hat + b * max_rows * C,
        lv->a_soft + b * M * max_rows, lv->n_support[b] * HW, M, C, s->arch.tau_e,
        lv->g_protos.data + (int64_t) b * M * C, lv->g_q_hat, r->scratch);
  packd_l2_normalize_rows_backward (lv->q_hat, lv->q_norm, lv->g_q_hat, M, C, lv->g_q_hat);
  for (int64_t i = 0; i < (int64_t) M * C; i++)
    gq[i] += lv->g_q_hat[i];
}

void
packd_student_run_backward (PackdStudentRun *r)
{
  PackdStudent *s = r->s;
  const gboolean peim = s->arch.peim;
  const int counts[3] = { s->arch.ocbe_channels, s->arch.ocbe_channels, s->arch.tap_channels[2] };
  PackdTensor *g_parts[3] = { &r->p1_pw2.gy, &r->p2_pw.gy, NULL };

  g_return_if_fail (r->training);
  for (int L = 2; L <= 4; L++) {
    LevelRun *lv = &r->lv[L];
    PackdTensor *gfs = level_student_grad (r, L);
    stage_backward (r, &r->stages[L - 2], &s->stages[L - 2], &lv->g_hat);
    if (peim) {
      peim_backward (r, L);
    } else {
      for (int64_t i = 0; i < packd_tensor_numel (gfs); i++)
        gfs->data[i] += lv->g_hat.data[i];
    }
  }
  unit_backward (r, &r->enc_out, &r->enc_dw.gy);
  unit_backward (r, &r->enc_dw, &r->enc_pw.gy);
  unit_backward (r, &r->enc_pw, &r->g_cat);
  packd_concat_channels_backward (&r->g_cat, counts, g_parts, 3);
  unit_backward (r, &r->p1_pw2, &r->p1_dw2.gy);
  unit_backward (r, &r->p1_dw2, &r->p1_pw1.gy);
  unit_backward (r, &r->p1_pw1, &r->p1_dw1.gy);
  unit_backward (r, &r->p1_dw1, NULL);
  unit_backward (r, &r->p2_pw, &r->p2_dw.gy);
  unit_backward (r, &r->p2_dw, NULL);
  if (peim)
    for (int L = 2; L <= 4; L++)
      extract_backward (r, L);
}

static guint64
pattern_update (guint64 h, const UnitRun *ur)
{
  const int64_t n = packd_tensor_numel (&ur->y);

  if (ur->u->act == PACKD_ACT_NONE)
    return h;
  for (int64_t i = 0; i < n; i++) {
    const float v = ur->y.data[i];
    h = (h ^ (guint64) ((v > 0.f) | ((v < 6.f) << 1))) * 1099511628211ULL;
  }
  return h;
}

guint64
packd_student_run_activation_pattern (const PackdStudentRun *r)
{
  guint64 h = 14695981039346656037ULL;
  const UnitRun *units[] = { &r->p1_dw1, &r->p1_pw1, &r->p1_dw2, &r->p1_pw2, &r->p2_dw,
    &r->p2_pw, &r->enc_pw, &r->enc_dw, &r->enc_out };

  for (guint i = 0; i < G_N_ELEMENTS (units); i++)
    h = pattern_update (h, units[i]);
  for (int j = 0; j < 3; j++) {
    const StageRun *sr = &r->stages[j];
    h = pattern_update (h, &sr->up);
    for (int k = 0; k < r->s->stages[j].n_blocks; k++) {
      h = pattern_update (h, &sr->expand[k]);
      h = pattern_update (h, &sr->dw[k]);
    }
  }
  return h;
}
