/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PACKD_STUDENT_H
#define PACKD_STUDENT_H

#include <glib.h>
#include "packd-tensor.h"
#include "packd-safetensors.h"
#include "packd-teacher.h"
#include "packd-optim.h"
#include "packd-scorer.h"

G_BEGIN_DECLS

/* The trainable half of PACKD (method.md §1-§5): OCBE, the MobileNetV2-style
 * decoder with 2x2 transposed-conv upsampling, and PEIM at levels 4/3/2.
 *
 * Levels are numbered as in method.md: level L (1..4) is teacher tap L-1 of
 * the architecture (strides 4, 8, 16, 32).  The student reads the teacher
 * features F^T1..F^T3 of the query and produces F^S1..F^S3; PEIM's
 * prototypes come from the support features F^T2..F^T4.
 *
 * The architecture is data: it is written into a model file as JSON under
 * the metadata key "packd.arch" and the loader builds the network from it. */

#define PACKD_STUDENT_LEVELS 4
#define PACKD_STUDENT_MAX_BLOCKS 8

typedef struct {
  int size;                              /* input size (square), multiple of 32 */
  char *taps[PACKD_STUDENT_LEVELS];      /* teacher taps of levels 1..4 */
  int tap_channels[PACKD_STUDENT_LEVELS];
  int ocbe_channels;                     /* width of the level-1/2 down paths */
  int ocbe_hidden;                       /* expansion of the stride-32 stage */
  int decoder_channels[3];               /* stage widths producing F^S1, F^S2, F^S3 */
  int expand;                            /* MobileNetV2 expansion in decoder blocks */
  int blocks[3];                         /* residual blocks per stage (S1, S2, S3) */
  gboolean peim;                         /* FALSE: plain RD (no prototypes) */
  int prototypes;                        /* M */
  float tau_e, tau_a;                    /* extraction / integration temperatures */
  PackdMapReference map_reference;       /* scoring default; "map_reference", optional */
} PackdStudentArch;

/* method.md defaults: the wide taps, M = 32, tau 0.1. */
void packd_student_arch_init_default (PackdStudentArch *arch);
void packd_student_arch_clear (PackdStudentArch *arch);
void packd_student_arch_copy (const PackdStudentArch *src, PackdStudentArch *dst);
char *packd_student_arch_to_json (const PackdStudentArch *arch);
/* Parses and checks ranges and consistency (PACKD_ERROR_MODEL). */
gboolean packd_student_arch_from_json (const char *json, PackdStudentArch *arch, GError **error);
/* Tap names/channels/strides against a teacher. */
gboolean packd_student_arch_check_teacher (const PackdStudentArch *arch,
    const PackdTeacher *teacher, GError **error);
/* Grid size (H = W) of level L (1..4) at the arch's input size. */
int packd_student_arch_grid (const PackdStudentArch *arch, int level);

typedef struct _PackdStudent PackdStudent;

/* Random initialisation (He for ReLU6 layers, BN gamma 1 / beta 0, level-4
 * projection identity), deterministic for a seed. */
PackdStudent *packd_student_new (const PackdStudentArch *arch, guint64 seed, GError **error);
/* Architecture from "packd.arch", weights under "student." (copied). */
PackdStudent *packd_student_new_from_file (const PackdSafetensors *st, GError **error);
void packd_student_free (PackdStudent *student);
const PackdStudentArch *packd_student_get_arch (const PackdStudent *student);
/* The scoring default saved with the model (not a layer: any time). */
void packd_student_set_map_reference (PackdStudent *student, PackdMapReference reference);
/* Writes "packd.arch" and every tensor (trainable and BN running stats). */
void packd_student_save (const PackdStudent *student, PackdSafetensorsWriter *writer);

/* Parameters: trainable tensors (for the optimiser and gradient checks). */
int packd_student_n_params (const PackdStudent *student);
const char *packd_student_param_name (const PackdStudent *student, int i);
float *packd_student_param_data (PackdStudent *student, int i, int64_t *n);
float *packd_student_param_grad (PackdStudent *student, int i);
void packd_student_register_params (PackdStudent *student, PackdAdam *adam);
void packd_student_zero_grad (PackdStudent *student);

/* MACs per module for one image at the arch's size (forward, inference):
 * names "ocbe", "decoder", "peim" (integration; extraction runs once per
 * support set and is reported as "peim-extract" per support image). */
int packd_student_n_modules (void);
const char *packd_student_module_name (int i);
int64_t packd_student_module_macs (const PackdStudent *student, int i);

/* Prototype extraction for inference (no gradient): X [rows, C_L] pooled
 * support features of level L (2..4) -> P [M, C_L]. */
void packd_student_extract_prototypes (const PackdStudent *student, int level,
    const float *support_rows, int64_t rows, float *prototypes);

/* A workspace for a batch size: forward (BN in train or eval mode),
 * losses and backward.  No allocation after creation. */
typedef struct _PackdStudentRun PackdStudentRun;

PackdStudentRun *packd_student_run_new (PackdStudent *student, int batch, int max_support_images,
    gboolean training, GError **error);
void packd_student_run_free (PackdStudentRun *run);
int packd_student_run_batch (const PackdStudentRun *run);

/* Level 1..3 teacher features of the queries, [B,H,W,C] buffers to fill. */
PackdTensor *packd_student_run_teacher (PackdStudentRun *run, int level);
/* Training: support features of image b at level 2..4, n_images maps of
 * [H,W,C] contiguous (n_images <= max_support_images); borrowed until the
 * backward.  Inference: give prototypes [M,C] instead. */
void packd_student_run_set_support (PackdStudentRun *run, int b, int level, const float *rows,
    int n_images);
void packd_student_run_set_prototypes (PackdStudentRun *run, int b, int level,
    const float *prototypes);
/* extract TRUE computes the prototypes from the supports (training), FALSE
 * uses those given. */
void packd_student_run_forward (PackdStudentRun *run, gboolean extract);
/* F^S of level 1..3 [B,H,W,C] after forward. */
const PackdTensor *packd_student_run_student (const PackdStudentRun *run, int level);
/* Prototypes [B,M,C] of level 2..4. */
const PackdTensor *packd_student_run_prototypes (const PackdStudentRun *run, int level);

typedef struct {
  double total, kd, contrastive, relation, orthogonal;
} PackdLossTerms;

typedef struct {
  float contrastive;     /* 0.1 */
  float orthogonal;      /* 0.1 */
  float tau;             /* contrastive / relation temperature, 0.1 */
} PackdLossWeights;

void packd_loss_weights_init_default (PackdLossWeights *w);
/* L = L_KD + w_cd (representation + relation) + w_orth L_orth (method.md
 * §5) of the last forward; zeroes and fills the gradient buffers for the
 * backward.  Returns the total. */
double packd_student_run_loss (PackdStudentRun *run, const PackdLossWeights *w,
    PackdLossTerms *terms);
/* Parameter gradients (accumulated into the student's grad buffers) of the
 * last loss. */
void packd_student_run_backward (PackdStudentRun *run);
/* Hash of every ReLU6 mask of the last forward (gradient checks). */
guint64 packd_student_run_activation_pattern (const PackdStudentRun *run);

/* A PACKD model file: the teacher under "teacher." plus the student. */
typedef struct {
  PackdSafetensors *st;
  PackdTeacher *teacher;
  PackdStudent *student;
} PackdModel;

PackdModel *packd_model_load (const char *path, GError **error);
void packd_model_free (PackdModel *model);
/* Adds the teacher of teacher_st (prefix teacher_prefix, "" for a teacher
 * file) under "teacher." with its metadata, and the student. */
void packd_model_write (PackdSafetensorsWriter *writer, const PackdSafetensors *teacher_st,
    const char *teacher_prefix, const PackdStudent *student);

G_END_DECLS

#endif /* PACKD_STUDENT_H */
