/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PACKD_TEACHER_H
#define PACKD_TEACHER_H

#include <glib.h>
#include "packd-tensor.h"
#include "packd-safetensors.h"

G_BEGIN_DECLS

/* The frozen MobileNetV2 (α 1.0, Keras layout) teacher, weights from a
 * safetensors file written by packd-convert-teacher (BN folded, HWIO).
 *
 * PackdTeacher holds the weights (immutable, may be shared between
 * threads).  A PackdTeacherRun is a workspace for one input size and one set
 * of taps: it plans the graph once (shapes, MACs, buffers in one arena) and
 * then runs forwards without allocating.  One run per thread.
 *
 * Tap names are Keras layer names of post-activation outputs:
 *   Conv1_relu, expanded_conv_depthwise_relu, expanded_conv_project_BN,
 *   block_N_expand_relu, block_N_depthwise_relu, block_N_project_BN,
 *   block_N_add (N = 1..16 where the block has a residual), out_relu,
 *   global_average_pooling (mean over the whole out_relu map: equals Keras'
 *   AvgPool 7x7 at 224x224 input), dense_1, dense_2, softmax (5 classes). */

#define PACKD_TEACHER_N_CLASSES 5

typedef struct _PackdTeacher PackdTeacher;
typedef struct _PackdTeacherRun PackdTeacherRun;

typedef enum {
  PACKD_OP_CONV,        /* dense conv (stem 3x3/2 or 1x1 pointwise) */
  PACKD_OP_DEPTHWISE,
  PACKD_OP_ADD,
  PACKD_OP_AVGPOOL,
  PACKD_OP_DENSE,
  PACKD_OP_SOFTMAX,
  PACKD_OP_N_KINDS
} PackdOpKind;

const char *packd_op_kind_name (PackdOpKind kind);

/* Loads and checks every tensor's shape against the architecture.  prefix
 * ("" for a teacher file) lets a model file embed the teacher under e.g.
 * "teacher.".  The safetensors object must outlive the teacher (views). */
PackdTeacher *packd_teacher_new (const PackdSafetensors *st, const char *prefix, GError **error);
/* Opens path and keeps it open for the teacher's lifetime. */
PackdTeacher *packd_teacher_load (const char *path, GError **error);
void packd_teacher_free (PackdTeacher *teacher);
gboolean packd_teacher_has_tap (const PackdTeacher *teacher, const char *name);
/* Output channels of a tap (-1 if unknown). */
int packd_teacher_tap_channels (const PackdTeacher *teacher, const char *name);
/* Stride of a tap relative to the input (2, 4, ..., 32; 0 for head outputs). */
int packd_teacher_tap_stride (const PackdTeacher *teacher, const char *name);

/* height and width: multiples of 32 (>= 32). */
PackdTeacherRun *packd_teacher_run_new (const PackdTeacher *teacher, int height, int width,
    const char *const *taps, int n_taps, GError **error);
void packd_teacher_run_free (PackdTeacherRun *run);

/* The [1,H,W,3] RGB input buffer in [0,1] to fill before forward(). */
PackdTensor *packd_teacher_run_input (PackdTeacherRun *run);
/* Runs the graph up to the deepest tap.  No allocation (the thread pool is
 * made by the first forward and when the thread count changes). */
void packd_teacher_run_forward (PackdTeacherRun *run);
/* Threads of the engine's own pool used by forward(), the caller included
 * (at most 16); 0 (the default) follows packd_threads_default(), i.e.
 * OpenBLAS's thread count unless set otherwise. */
void packd_teacher_run_set_threads (PackdTeacherRun *run, int n_threads);
/* Tap i (order of run_new), valid until the next forward(). */
const PackdTensor *packd_teacher_run_tap (const PackdTeacherRun *run, int i);

/* Planned ops (what forward() executes) for benchmarks and reports. */
int packd_teacher_run_n_ops (const PackdTeacherRun *run);
const char *packd_teacher_run_op_name (const PackdTeacherRun *run, int i);
PackdOpKind packd_teacher_run_op_kind (const PackdTeacherRun *run, int i);
int64_t packd_teacher_run_op_macs (const PackdTeacherRun *run, int i);
int64_t packd_teacher_run_total_macs (const PackdTeacherRun *run);
/* Ops of a fused step (an inverted residual block computed in one pass,
 * its inner outputs never stored) all return the step's first op here; an
 * op that runs on its own returns itself.  Only outputs of ops that end a
 * step (and taps, which are never fused away) are valid after forward(). */
int packd_teacher_run_op_step (const PackdTeacherRun *run, int i);
/* When enabled, forward() records per-op wall time (ns), read back here;
 * a fused step's time is on its first op, its other ops read 0. */
void packd_teacher_run_set_profiling (PackdTeacherRun *run, gboolean enable);
gint64 packd_teacher_run_op_time_ns (const PackdTeacherRun *run, int i);
gsize packd_teacher_run_arena_bytes (const PackdTeacherRun *run);

G_END_DECLS

#endif /* PACKD_TEACHER_H */
