/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "packd-teacher.h"
#include "packd-error.h"
#include "packd-layers.h"
#include "packd-threads.h"
#include "layers/block.h"

#include <string.h>

#define OP_NAME_LEN 48
#define NETWORK_INPUT (-1)
#define MAX_SLOTS 8
/* Scratch is planned for pools up to this size. */
#define MAX_THREADS 16

/* One node of the graph as loaded from the file (size independent). */
typedef struct {
  char name[OP_NAME_LEN];       /* output (tap) name */
  PackdOpKind kind;
  int input, input2;            /* op indices, NETWORK_INPUT for the image */
  int kernel, stride;
  PackdActivation act;
  int out_channels;
  int out_stride;               /* spatial stride of the output w.r.t. the input image */
  PackdTensor weight;
  float *packed;                /* conv weight packed for the GEMM kernels */
  const float *bias;
} TeacherOp;

struct _PackdTeacher {
  PackdSafetensors *owned_file; /* when loaded from a path */
  GArray *ops;                  /* TeacherOp, in execution order */
};

/* One planned op of a run (size dependent).  Inverted residual blocks
 * (expand, depthwise, project, add) whose inner outputs nobody else reads
 * run as one fused step (layers/block.h): the step's first op executes it
 * and only its last op's output gets a buffer. */
typedef struct {
  PackdConvParams params;
  PackdTensor out;
  int64_t macs;
  gint64 time_ns;
  int step;                     /* the op whose step computes this one (itself if not fused) */
  int step_last;                /* for a step's first op: the step's last op */
  PackdBlockParams block;       /* for the first op of a fused step */
} RunOp;

struct _PackdTeacherRun {
  const PackdTeacher *teacher;
  int n_ops;                    /* ops executed: up to the deepest tap */
  RunOp *ops;
  int n_taps;
  int *tap_ops;
  PackdArena *arena;
  PackdTensor input;
  float *scratch;
  gboolean profiling;
  int n_threads;                /* requested; 0: packd_threads_default () */
  PackdThreads *pool;           /* shared; NULL when running on one thread */
  int pool_threads;
};

static const char *op_kind_names[PACKD_OP_N_KINDS] = {
  "conv", "depthwise", "add", "avgpool", "dense", "softmax",
};

const char *
packd_op_kind_name (PackdOpKind kind)
{
  return kind < PACKD_OP_N_KINDS ? op_kind_names[kind] : "?";
}

/* ---- graph template ---------------------------------------------------- */

typedef struct {
  PackdTeacher *teacher;
  const PackdSafetensors *st;
  const char *prefix;
  int last;                     /* index of the previous op */
  int channels;                 /* its output channels */
  int stride;                   /* its output stride */
  gboolean truncated;           /* a layer is absent: the graph ends before it */
} GraphBuilder;

/* Adds a weighted op if its tensors are in the file.  Returns FALSE on a
 * shape error (error set); sets truncated when the layer is simply absent. */
static gboolean
builder_add (GraphBuilder *b, const char *layer, const char *out_name, PackdOpKind kind,
    int kernel, int stride, PackdActivation act, int out_channels, GError **error)
{
  char wname[96], bname[96];
  TeacherOp op = { 0 };
  PackdTensor bias;

  if (b->truncated)
    return TRUE;
  g_snprintf (wname, sizeof wname, "%s%s.weight", b->prefix, layer);
  g_snprintf (bname, sizeof bname, "%s%s.bias", b->prefix, layer);
  if (!packd_safetensors_has (b->st, wname)) {
    b->truncated = TRUE;
    return TRUE;
  }

  if (kind == PACKD_OP_CONV) {
    const int64_t shape[4] = { kernel, kernel, b->channels, out_channels };
    if (!packd_safetensors_get (b->st, wname, 4, shape, &op.weight, error))
      return FALSE;
  } else if (kind == PACKD_OP_DEPTHWISE) {
    const int64_t shape[3] = { kernel, kernel, b->channels };
    if (!packd_safetensors_get (b->st, wname, 3, shape, &op.weight, error))
      return FALSE;
    out_channels = b->channels;
  } else {                      /* dense */
    const int64_t shape[2] = { b->channels, out_channels };
    if (!packd_safetensors_get (b->st, wname, 2, shape, &op.weight, error))
      return FALSE;
  }
  const int64_t bshape[1] = { out_channels };
  if (!packd_safetensors_get (b->st, bname, 1, bshape, &bias, error))
    return FALSE;

  if (kind == PACKD_OP_CONV) {
    /* 64-byte aligned: each panel row is one cache line. */
    op.packed = g_aligned_alloc (packd_conv2d_packed_floats (&op.weight), sizeof (float), 64);
    if (op.packed == NULL) {
      g_set_error (error, PACKD_ERROR, PACKD_ERROR_NO_MEMORY, "cannot pack %s", wname);
      return FALSE;
    }
    packd_conv2d_pack_weight (&op.weight, op.packed);
  }
  g_strlcpy (op.name, out_name, OP_NAME_LEN);
  op.kind = kind;
  op.input = b->last;
  op.input2 = NETWORK_INPUT;
  op.kernel = kernel;
  op.stride = stride;
  op.act = act;
  op.out_channels = out_channels;
  op.out_stride = kind == PACKD_OP_DENSE ? 0 : b->stride * stride;
  op.bias = bias.data;
  g_array_append_val (b->teacher->ops, op);
  b->last = b->teacher->ops->len - 1;
  b->channels = out_channels;
  b->stride = op.out_stride;
  return TRUE;
}

static void
builder_add_plain (GraphBuilder *b, const char *out_name, PackdOpKind kind, int input2)
{
  TeacherOp op = { 0 };

  if (b->truncated)
    return;
  g_strlcpy (op.name, out_name, OP_NAME_LEN);
  op.kind = kind;
  op.input = b->last;
  op.input2 = input2;
  op.out_channels = b->channels;
  op.out_stride = kind == PACKD_OP_ADD ? b->stride : 0;
  g_array_append_val (b->teacher->ops, op);
  b->last = b->teacher->ops->len - 1;
  b->stride = op.out_stride;
}

/* Keras MobileNetV2 α=1.0: stages of inverted residual blocks (t, c, n, s). */
static const struct { int t, c, n, s; } mobilenetv2_stages[] = {
  { 6, 24, 2, 2 }, { 6, 32, 3, 2 }, { 6, 64, 4, 2 }, { 6, 96, 3, 1 },
  { 6, 160, 3, 2 }, { 6, 320, 1, 1 },
};

static gboolean
build_mobilenetv2 (GraphBuilder *b, GError **error)
{
  char layer[OP_NAME_LEN], out[OP_NAME_LEN];
  int block = 1;

  if (!builder_add (b, "Conv1", "Conv1_relu", PACKD_OP_CONV, 3, 2, PACKD_ACT_RELU6, 32, error)
      || !builder_add (b, "expanded_conv_depthwise", "expanded_conv_depthwise_relu",
          PACKD_OP_DEPTHWISE, 3, 1, PACKD_ACT_RELU6, 0, error)
      || !builder_add (b, "expanded_conv_project", "expanded_conv_project_BN", PACKD_OP_CONV,
          1, 1, PACKD_ACT_NONE, 16, error))
    return FALSE;

  for (guint s = 0; s < G_N_ELEMENTS (mobilenetv2_stages); s++) {
    for (int i = 0; i < mobilenetv2_stages[s].n; i++, block++) {
      const int stride = i == 0 ? mobilenetv2_stages[s].s : 1;
      const int in_channels = b->channels;
      const int block_input = b->last;
      const int c = mobilenetv2_stages[s].c;

      g_snprintf (layer, sizeof layer, "block_%d_expand", block);
      g_snprintf (out, sizeof out, "block_%d_expand_relu", block);
      if (!builder_add (b, layer, out, PACKD_OP_CONV, 1, 1, PACKD_ACT_RELU6,
              in_channels * mobilenetv2_stages[s].t, error))
        return FALSE;
      g_snprintf (layer, sizeof layer, "block_%d_depthwise", block);
      g_snprintf (out, sizeof out, "block_%d_depthwise_relu", block);
      if (!builder_add (b, layer, out, PACKD_OP_DEPTHWISE, 3, stride, PACKD_ACT_RELU6, 0, error))
        return FALSE;
      g_snprintf (layer, sizeof layer, "block_%d_project", block);
      g_snprintf (out, sizeof out, "block_%d_project_BN", block);
      if (!builder_add (b, layer, out, PACKD_OP_CONV, 1, 1, PACKD_ACT_NONE, c, error))
        return FALSE;
      if (stride == 1 && in_channels == c) {
        g_snprintf (out, sizeof out, "block_%d_add", block);
        builder_add_plain (b, out, PACKD_OP_ADD, block_input);
      }
    }
  }

  if (!builder_add (b, "Conv_1", "out_relu", PACKD_OP_CONV, 1, 1, PACKD_ACT_RELU6, 1280, error))
    return FALSE;
  builder_add_plain (b, "global_average_pooling", PACKD_OP_AVGPOOL, NETWORK_INPUT);
  if (!builder_add (b, "dense_1", "dense_1", PACKD_OP_DENSE, 0, 1, PACKD_ACT_RELU, 256, error)
      || !builder_add (b, "dense_2", "dense_2", PACKD_OP_DENSE, 0, 1, PACKD_ACT_RELU, 128, error)
      || !builder_add (b, "dense_3", "dense_3", PACKD_OP_DENSE, 0, 1, PACKD_ACT_NONE,
          PACKD_TEACHER_N_CLASSES, error))
    return FALSE;
  builder_add_plain (b, "softmax", PACKD_OP_SOFTMAX, NETWORK_INPUT);
  return TRUE;
}

PackdTeacher *
packd_teacher_new (const PackdSafetensors *st, const char *prefix, GError **error)
{
  PackdTeacher *teacher = g_new0 (PackdTeacher, 1);
  GraphBuilder b = { teacher, st, prefix ? prefix : "", NETWORK_INPUT, 3, 1, FALSE };

  teacher->ops = g_array_new (FALSE, TRUE, sizeof (TeacherOp));
  if (!build_mobilenetv2 (&b, error))
    goto fail;
  if (teacher->ops->len == 0) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_MODEL,
        "no MobileNetV2 teacher in the model file (tensor %sConv1.weight missing)", b.prefix);
    goto fail;
  }
  return teacher;

fail:
  packd_teacher_free (teacher);
  return NULL;
}

PackdTeacher *
packd_teacher_load (const char *path, GError **error)
{
  PackdSafetensors *st = packd_safetensors_open (path, error);
  PackdTeacher *teacher;

  if (st == NULL)
    return NULL;
  teacher = packd_teacher_new (st, "", error);
  if (teacher == NULL) {
    g_prefix_error (error, "%s: ", path);
    packd_safetensors_free (st);
    return NULL;
  }
  teacher->owned_file = st;
  return teacher;
}

void
packd_teacher_free (PackdTeacher *teacher)
{
  if (teacher == NULL)
    return;
  for (guint i = 0; i < teacher->ops->len; i++)
    g_aligned_free (g_array_index (teacher->ops, TeacherOp, i).packed);
  g_array_unref (teacher->ops);
  packd_safetensors_free (teacher->owned_file);
  g_free (teacher);
}

static int
teacher_find_op (const PackdTeacher *teacher, const char *name)
{
  for (guint i = 0; i < teacher->ops->len; i++)
    if (strcmp (g_array_index (teacher->ops, TeacherOp, i).name, name) == 0)
      return i;
  return -1;
}

gboolean
packd_teacher_has_tap (const PackdTeacher *teacher, const char *name)
{
  return teacher_find_op (teacher, name) >= 0;
}

int
packd_teacher_tap_channels (const PackdTeacher *teacher, const char *name)
{
  int i = teacher_find_op (teacher, name);
  return i < 0 ? -1 : g_array_index (teacher->ops, TeacherOp, i).out_channels;
}

int
packd_teacher_tap_stride (const PackdTeacher *teacher, const char *name)
{
  int i = teacher_find_op (teacher, name);
  return i < 0 ? -1 : g_array_index (teacher->ops, TeacherOp, i).out_stride;
}

/* ---- planning ---------------------------------------------------------- */

static const TeacherOp *
teacher_op (const PackdTeacher *teacher, int i)
{
  return &g_array_index (teacher->ops, TeacherOp, i);
}

static gsize
aligned_bytes (int64_t floats)
{
  return ((gsize) floats * sizeof (float) + 63) & ~(gsize) 63;
}

static gboolean
is_pointwise_conv (const TeacherOp *op)
{
  return op->kind == PACKD_OP_CONV && op->kernel == 1 && op->stride == 1;
}

/* Finds the fusable blocks: a 3x3 depthwise whose output only the next op
 * (a pointwise conv) reads, with the conv before it (the pointwise expand,
 * or the stem) and the residual add after it when their outputs are read by
 * nothing else.  Taps stay materialised.  Extends last_use of each block's input to the end of
 * the block (it is read throughout). */
static void
plan_fusion (PackdTeacherRun *run, const gboolean *persistent, int *last_use,
    const int64_t *out_h, const int64_t *out_w, int height, int width, int64_t *scratch_floats)
{
  const PackdTeacher *teacher = run->teacher;

  for (int i = 0; i < run->n_ops; i++)
    run->ops[i].step = run->ops[i].step_last = i;
  for (int d = 0; d + 1 < run->n_ops; d++) {
    const TeacherOp *dw = teacher_op (teacher, d), *proj = teacher_op (teacher, d + 1);
    int first = d, last = d + 1, e = dw->input;
    gboolean residual = FALSE;

    if (dw->kind != PACKD_OP_DEPTHWISE || dw->kernel != 3 || !is_pointwise_conv (proj)
        || proj->input != d || persistent[d] || last_use[d] != d + 1)
      continue;
    if (e == d - 1 && e >= 0 && run->ops[e].step == e
        && teacher_op (teacher, e)->kind == PACKD_OP_CONV && !persistent[e] && last_use[e] == d)
      first = e;
    const int block_input = teacher_op (teacher, first)->input;
    if (d + 2 < run->n_ops && teacher_op (teacher, d + 2)->kind == PACKD_OP_ADD
        && teacher_op (teacher, d + 2)->input == d + 1
        && teacher_op (teacher, d + 2)->input2 == block_input && !persistent[d + 1]
        && last_use[d + 1] == d + 2 && dw->stride == 1) {
      last = d + 2;
      residual = TRUE;
    }

    RunOp *r = &run->ops[first];
    PackdBlockParams *b = &r->block;
    const TeacherOp *ex = first < d ? teacher_op (teacher, first) : NULL;
    b->expand_weight = ex ? &ex->weight : NULL;
    b->expand_packed = ex ? ex->packed : NULL;
    b->expand_bias = ex ? ex->bias : NULL;
    if (ex) {
      b->expand = run->ops[first].params;
      b->expand_h = out_h[first];
      b->expand_w = out_w[first];
    }
    b->dw = run->ops[d].params;
    b->dw_weight = &dw->weight;
    b->dw_bias = dw->bias;
    b->project_weight = &proj->weight;
    b->project_packed = proj->packed;
    b->project_bias = proj->bias;
    b->project_act = proj->act;
    b->residual = residual;
    for (int i = first; i <= last; i++)
      run->ops[i].step = first;
    r->step_last = last;
    if (block_input >= 0)
      last_use[block_input] = MAX (last_use[block_input], last);

    PackdTensor tin, tout;
    const int in_c = block_input == NETWORK_INPUT ? 3 : teacher_op (teacher, block_input)->out_channels;
    packd_tensor_init_nhwc (&tin, 1, block_input == NETWORK_INPUT ? height : out_h[block_input],
        block_input == NETWORK_INPUT ? width : out_w[block_input], in_c, NULL);
    packd_tensor_init_nhwc (&tout, 1, out_h[last], out_w[last], teacher_op (teacher, last)->out_channels,
        NULL);
    *scratch_floats = MAX (*scratch_floats, packd_block_scratch_floats (b, &tin, &tout, MAX_THREADS));
    d = last;
  }
}

/* Whether op i's output is kept in a buffer (not inside a fused step). */
static gboolean
run_op_materialised (const PackdTeacherRun *run, int i)
{
  return run->ops[run->ops[i].step].step_last == i;
}

PackdTeacherRun *
packd_teacher_run_new (const PackdTeacher *teacher, int height, int width,
    const char *const *taps, int n_taps, GError **error)
{
  PackdTeacherRun *run;
  int64_t *out_h, *out_w, *numel;
  int *last_use, *slot_of;
  gboolean *persistent;
  int64_t slot_floats = 0, scratch_floats = 0;
  int n_slots = 0;
  gsize bytes;

  if (height < 32 || width < 32 || height % 32 || width % 32) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_INVALID_ARGUMENT,
        "teacher input %dx%d: width and height must be multiples of 32", width, height);
    return NULL;
  }
  if (n_taps < 1) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_INVALID_ARGUMENT, "no teacher taps requested");
    return NULL;
  }

  run = g_new0 (PackdTeacherRun, 1);
  run->teacher = teacher;
  run->n_taps = n_taps;
  run->tap_ops = g_new (int, n_taps);
  for (int t = 0; t < n_taps; t++) {
    run->tap_ops[t] = teacher_find_op (teacher, taps[t]);
    if (run->tap_ops[t] < 0) {
      g_set_error (error, PACKD_ERROR, PACKD_ERROR_MODEL,
          "teacher has no layer '%s' (unknown name, or the model file stops before it)", taps[t]);
      packd_teacher_run_free (run);
      return NULL;
    }
    run->n_ops = MAX (run->n_ops, run->tap_ops[t] + 1);
  }
  run->ops = g_new0 (RunOp, run->n_ops);

  out_h = g_new0 (int64_t, run->n_ops);
  out_w = g_new0 (int64_t, run->n_ops);
  numel = g_new0 (int64_t, run->n_ops);
  last_use = g_new0 (int, run->n_ops);
  slot_of = g_new0 (int, run->n_ops);
  persistent = g_new0 (gboolean, run->n_ops);

  /* Shapes, MACs and scratch sizes. */
  for (int i = 0; i < run->n_ops; i++) {
    const TeacherOp *op = teacher_op (teacher, i);
    RunOp *r = &run->ops[i];
    const int64_t in_h = op->input == NETWORK_INPUT ? height : out_h[op->input];
    const int64_t in_w = op->input == NETWORK_INPUT ? width : out_w[op->input];
    const int64_t in_c = op->input == NETWORK_INPUT ? 3 : teacher_op (teacher, op->input)->out_channels;
    int oh = in_h, ow = in_w;

    if (op->kind == PACKD_OP_CONV || op->kind == PACKD_OP_DEPTHWISE) {
      packd_conv_params_same (&r->params, op->kernel, op->stride, in_h, in_w, op->act, &oh, &ow);
      r->macs = (int64_t) oh * ow * op->kernel * op->kernel
          * (op->kind == PACKD_OP_CONV ? in_c * op->out_channels : op->out_channels);
      if (op->kind == PACKD_OP_CONV) {
        PackdTensor tin, tout;
        packd_tensor_init_nhwc (&tin, 1, in_h, in_w, in_c, NULL);
        packd_tensor_init_nhwc (&tout, 1, oh, ow, op->out_channels, NULL);
        scratch_floats = MAX (scratch_floats,
            packd_conv2d_packed_scratch_floats (&r->params, &tin, &tout, MAX_THREADS));
      }
    } else if (op->kind != PACKD_OP_ADD) {
      oh = ow = 1;
      if (op->kind == PACKD_OP_DENSE)
        r->macs = in_c * op->out_channels;
    }
    out_h[i] = oh;
    out_w[i] = ow;
    numel[i] = (int64_t) oh * ow * op->out_channels;
    last_use[i] = i;
    if (op->input >= 0)
      last_use[op->input] = i;
    if (op->input2 >= 0)
      last_use[op->input2] = i;
  }
  for (int t = 0; t < n_taps; t++)
    persistent[run->tap_ops[t]] = TRUE;
  plan_fusion (run, persistent, last_use, out_h, out_w, height, width, &scratch_floats);

  /* Intermediate outputs share a few equal slots; a slot is free again once
   * the last op reading it has run.  Taps get buffers of their own. */
  {
    int slot_value[MAX_SLOTS];
    for (int s = 0; s < MAX_SLOTS; s++)
      slot_value[s] = -1;
    for (int i = 0; i < run->n_ops; i++) {
      slot_of[i] = -1;
      if (persistent[i] || !run_op_materialised (run, i))
        continue;
      slot_floats = MAX (slot_floats, numel[i]);
      for (int s = 0; s < MAX_SLOTS; s++) {
        if (slot_value[s] >= 0 && last_use[slot_value[s]] >= i)
          continue;
        slot_value[s] = i;
        slot_of[i] = s;
        n_slots = MAX (n_slots, s + 1);
        break;
      }
      if (slot_of[i] < 0) {
        g_set_error (error, PACKD_ERROR, PACKD_ERROR_MODEL,
            "teacher graph needs more than %d live buffers", MAX_SLOTS);
        goto fail;
      }
    }
  }

  bytes = aligned_bytes ((int64_t) height * width * 3) + aligned_bytes (scratch_floats)
      + n_slots * aligned_bytes (slot_floats);
  for (int i = 0; i < run->n_ops; i++)
    if (persistent[i])
      bytes += aligned_bytes (numel[i]);
  run->arena = packd_arena_new (bytes);
  if (run->arena == NULL) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_NO_MEMORY,
        "cannot allocate %" G_GSIZE_FORMAT " bytes for the teacher at %dx%d", bytes, width, height);
    goto fail;
  }

  {
    float *slot_data[MAX_SLOTS];
    packd_arena_alloc_nhwc (run->arena, &run->input, 1, height, width, 3);
    run->scratch = scratch_floats ? packd_arena_alloc (run->arena, scratch_floats) : NULL;
    for (int s = 0; s < n_slots; s++)
      slot_data[s] = packd_arena_alloc (run->arena, slot_floats);
    for (int i = 0; i < run->n_ops; i++) {
      const TeacherOp *op = teacher_op (teacher, i);
      float *data = persistent[i] ? packd_arena_alloc (run->arena, numel[i])
          : slot_of[i] >= 0 ? slot_data[slot_of[i]] : NULL;
      packd_tensor_init_nhwc (&run->ops[i].out, 1, out_h[i], out_w[i], op->out_channels, data);
    }
  }

fail:
  g_free (out_h);
  g_free (out_w);
  g_free (numel);
  g_free (last_use);
  g_free (slot_of);
  g_free (persistent);
  if (run->arena == NULL) {
    packd_teacher_run_free (run);
    return NULL;
  }
  return run;
}

void
packd_teacher_run_free (PackdTeacherRun *run)
{
  if (run == NULL)
    return;
  packd_threads_release_shared (run->pool);
  packd_arena_free (run->arena);
  g_free (run->ops);
  g_free (run->tap_ops);
  g_free (run);
}

PackdTensor *
packd_teacher_run_input (PackdTeacherRun *run)
{
  return &run->input;
}

/* ---- forward ----------------------------------------------------------- */

static void
op_forward (PackdTeacherRun *run, int i)
{
  const TeacherOp *op = teacher_op (run->teacher, i);
  RunOp *r = &run->ops[i];
  const PackdTensor *in = op->input == NETWORK_INPUT ? &run->input : &run->ops[op->input].out;

  if (r->step_last != i) {
    packd_block_forward (&r->block, in, &run->ops[r->step_last].out, run->scratch, run->pool);
    return;
  }
  switch (op->kind) {
    case PACKD_OP_CONV:
      packd_conv2d_forward_packed (&r->params, in, &op->weight, op->packed, op->bias, &r->out,
          run->scratch, run->pool);
      break;
    case PACKD_OP_DEPTHWISE:
      packd_depthwise_forward_threads (&r->params, in, &op->weight, op->bias, &r->out, run->pool);
      break;
    case PACKD_OP_ADD:
      packd_add_forward (in, &run->ops[op->input2].out, &r->out);
      break;
    case PACKD_OP_AVGPOOL:
      packd_global_avgpool_forward (in, &r->out);
      break;
    case PACKD_OP_DENSE:
      packd_dense_forward (in, &op->weight, op->bias, op->act, &r->out);
      break;
    case PACKD_OP_SOFTMAX:
      memcpy (r->out.data, in->data, op->out_channels * sizeof (float));
      packd_softmax_forward (r->out.data, 1, op->out_channels);
      break;
    default:
      g_return_if_reached ();
  }
}

/* The pool follows the requested thread count; it is (re)made only when
 * that changes, so steady-state forwards do not allocate. */
static void
run_update_pool (PackdTeacherRun *run)
{
  int n = run->n_threads > 0 ? run->n_threads : packd_threads_default ();

  n = CLAMP (n, 1, MAX_THREADS);
  if (n == run->pool_threads)
    return;
  packd_threads_release_shared (run->pool);
  run->pool = packd_threads_acquire_shared (n);
  run->pool_threads = n;
}

void
packd_teacher_run_set_threads (PackdTeacherRun *run, int n_threads)
{
  run->n_threads = MAX (n_threads, 0);
}

void
packd_teacher_run_forward (PackdTeacherRun *run)
{
  run_update_pool (run);
  for (int i = 0; i < run->n_ops; i++) {
    if (run->ops[i].step != i) {
      run->ops[i].time_ns = 0;
      continue;                 /* computed by its fused step */
    }
    if (run->profiling) {
      gint64 t0 = g_get_monotonic_time ();
      op_forward (run, i);
      run->ops[i].time_ns = (g_get_monotonic_time () - t0) * 1000;
    } else {
      op_forward (run, i);
    }
  }
}

const PackdTensor *
packd_teacher_run_tap (const PackdTeacherRun *run, int i)
{
  g_return_val_if_fail (i >= 0 && i < run->n_taps, NULL);
  return &run->ops[run->tap_ops[i]].out;
}

int
packd_teacher_run_n_ops (const PackdTeacherRun *run)
{
  return run->n_ops;
}

const char *
packd_teacher_run_op_name (const PackdTeacherRun *run, int i)
{
  return teacher_op (run->teacher, i)->name;
}

PackdOpKind
packd_teacher_run_op_kind (const PackdTeacherRun *run, int i)
{
  return teacher_op (run->teacher, i)->kind;
}

int
packd_teacher_run_op_step (const PackdTeacherRun *run, int i)
{
  return run->ops[i].step;
}

int64_t
packd_teacher_run_op_macs (const PackdTeacherRun *run, int i)
{
  return run->ops[i].macs;
}

int64_t
packd_teacher_run_total_macs (const PackdTeacherRun *run)
{
  int64_t total = 0;
  for (int i = 0; i < run->n_ops; i++)
    total += run->ops[i].macs;
  return total;
}

void
packd_teacher_run_set_profiling (PackdTeacherRun *run, gboolean enable)
{
  run->profiling = enable;
}

gint64
packd_teacher_run_op_time_ns (const PackdTeacherRun *run, int i)
{
  return run->ops[i].time_ns;
}

gsize
packd_teacher_run_arena_bytes (const PackdTeacherRun *run)
{
  return packd_arena_size (run->arena);
}
