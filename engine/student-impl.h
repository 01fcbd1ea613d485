/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PACKD_STUDENT_IMPL_H
#define PACKD_STUDENT_IMPL_H

#include "packd-student.h"
#include "packd-backward.h"
#include "layers/block.h"
#include "layers/gemm.h"

G_BEGIN_DECLS

/* Private pieces of the student shared by student.c (parameters, file),
 * student-run.c (forward/backward) and peim.c. */

typedef struct {
  char *name;
  float *data, *grad;          /* grad NULL for BN running statistics */
  int ndim;
  int64_t shape[PACKD_MAX_DIMS];
  int64_t n;
} StudentParam;

typedef enum {
  UNIT_PW,                     /* 1x1 conv */
  UNIT_DW,                     /* 3x3 depthwise, stride 1 or 2 */
  UNIT_DECONV,                 /* 2x2 stride-2 transposed conv */
} UnitKind;

/* conv (no bias when followed by BN) -> BN -> activation */
typedef struct {
  UnitKind kind;
  int cin, cout, stride;
  gboolean bn;
  PackdActivation act;
  StudentParam *w, *b;                     /* b: only without BN */
  StudentParam *gamma, *beta, *rmean, *rvar;
} Unit;

/* Decoder stage producing F^S of level L = index + 1. */
typedef struct {
  Unit up;
  int n_blocks;
  Unit expand[PACKD_STUDENT_MAX_BLOCKS], dw[PACKD_STUDENT_MAX_BLOCKS],
      project[PACKD_STUDENT_MAX_BLOCKS];
  Unit head;
} Stage;

struct _PackdStudent {
  PackdStudentArch arch;
  GPtrArray *params;                       /* StudentParam*, file order */
  /* OCBE */
  Unit p1_dw1, p1_pw1, p1_dw2, p1_pw2, p2_dw, p2_pw, enc_pw, enc_dw, enc_out;
  Stage stages[3];                         /* [0] -> F^S1, [2] -> F^S3 */
  StudentParam *queries[PACKD_STUDENT_LEVELS + 1];  /* levels 2..4: [M, C] */
  StudentParam *proj4;                     /* level 4 comparison projection [C4, C4] */
};

/* ---- inference units (student-fast.c) ----------------------------------- */

/* Threads the inference forward may use (scratch is sized for them). */
#define STUDENT_MAX_THREADS 16

/* A unit for inference: eval-mode BN folded into the weight and a bias, the
 * activation fused, the weight packed for the engine GEMM.  Made from the
 * weights at the time of the call (an inference run is made after loading). */
typedef struct {
  PackdConvParams p;           /* geometry, with the activation */
  PackdTensor w;               /* folded weight, the unit's layout */
  float *bias;                 /* [cout] (deconv: [2 cout], repeated) */
  float *packed;               /* PW: packed weight; deconv: the halves i = 0, 1 */
  int64_t half_floats;         /* deconv: floats per packed half */
} StudentFastUnit;

/* Allocations are added to buffers (freed with g_free). */
gboolean student_fast_unit_init (StudentFastUnit *f, const Unit *u, const PackdTensor *in,
    GPtrArray *buffers);
/* in -> out (the unit's output size); pool nullable. */
void student_fast_unit_forward (const StudentFastUnit *f, UnitKind kind, const PackdTensor *in,
    PackdTensor *out, PackdThreads *pool);
/* A decoder block (expand, dw, project + input) as the engine's fused block. */
void student_fast_block_params (PackdBlockParams *b, const StudentFastUnit *expand,
    const StudentFastUnit *dw, const StudentFastUnit *project, const PackdTensor *in);

/* An inference run goes unit by unit as a training run does (BN in eval
 * mode, OpenBLAS), not through the units above: the reference in tests. */
void student_run_set_reference (PackdStudentRun *run, gboolean reference);

/* ---- PEIM (peim.c) ------------------------------------------------------ */

/* Extraction of one prototype set: X [N,C] -> P [M,C], keeping what the
 * backward needs (a_soft [M,N], q_hat [M,C], q_norm [M], x_hat [N,C]). */
typedef struct {
  float *x_hat, *a_soft;
} PeimExtractSave;

void peim_queries_normalise (const float *queries, int M, int C, float *q_hat, float *q_norm);
void peim_extract_forward (const float *q_hat, const float *x, int64_t N, int M, int C,
    float tau_e, float *x_hat, float *a_soft, float *prototypes);
/* g_p [M,C] -> accumulates dL/d(q_hat) into g_q_hat [M,C]. */
void peim_extract_backward (const float *x, const float *x_hat, const float *a_soft,
    int64_t N, int M, int C, float tau_e, const float *g_p, float *g_q_hat, float *scratch_mn);

/* Integration for one image: y [HW,C], p [M,C] -> out [HW,2C] = concat(y, r),
 * r = softmax_m(cos(W y, W p_m)/tau_a) . p, W = proj (nullable = identity).
 * Saved: y_hat [HW,C], y_norm [HW], p_hat [M,C], p_norm [M], w_soft [HW,M],
 * and with proj y_proj [HW,C], p_proj [M,C]. */
typedef struct {
  float *y_hat, *y_norm, *p_hat, *p_norm, *w_soft, *y_proj, *p_proj;
} PeimIntegrateSave;

void peim_integrate_forward (const float *y, const float *p, const float *proj, int64_t HW,
    int M, int C, float tau_a, PeimIntegrateSave *save, float *out);
/* g_out [HW,2C] -> g_y [HW,C] (ACCUMULATED), g_p [M,C] (accumulated),
 * g_proj [C,C] (accumulated, nullable).  scratch: HW*C + HW*M + M*C floats. */
void peim_integrate_backward (const float *y, const float *p, const float *proj, int64_t HW,
    int M, int C, float tau_a, const PeimIntegrateSave *save, const float *g_out, float *g_y,
    float *g_p, float *g_proj, float *scratch);
int64_t peim_integrate_backward_scratch (int64_t HW, int M, int C);

/* Inference integration (same result up to rounding), rows spread over a
 * pool.  Prepared once per prototype set into buffers of the sizes below:
 * p_proj, p_hat [M,C]; p_hat_t [C,M]; p_hat_packed, p_packed (packed GEMM
 * operands); rows: STUDENT_MAX_THREADS * peim_fast_row_floats. */
typedef struct {
  const float *p, *proj, *proj_packed;     /* proj, proj_packed: level 4 only */
  float *p_proj, *p_hat, *p_hat_t, *p_hat_packed, *p_packed;
  float *rows;
} PeimFast;

int64_t peim_fast_row_floats (int M, int C);
void peim_fast_prepare (PeimFast *f, int M, int C, float tau_a);
void peim_fast_integrate (const PeimFast *f, const float *y, int64_t HW, int M, int C,
    float *out, PackdThreads *pool);

/* MACs of the integration of one image. */
int64_t peim_integrate_macs (int64_t HW, int M, int C, gboolean proj);

G_END_DECLS

#endif
