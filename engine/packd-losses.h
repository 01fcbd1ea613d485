/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PACKD_LOSSES_H
#define PACKD_LOSSES_H

#include "packd-tensor.h"

G_BEGIN_DECLS

/* PACKD's training losses (method.md §4-§5), one level at a time: the
 * trainer sums levels and weights terms (L = L_KD + 0.1 L_CD + 0.1 L_orth).
 *
 * Each returns the loss value and ADDS weight * dL/d(input) into the
 * gradient buffers it is given (NULL = value only), so terms and levels sum
 * into one gradient per activation.  Features are NHWC [B,H,W,C]; teacher
 * features are constants (frozen, no gradient).  Cosine similarities use
 * cos = a.b / max(|a||b|, PACKD_COSINE_EPS) (layers/cosine.h); sums run in
 * double.  Misuse (shape mismatch) returns NAN with a g_critical. */

typedef enum {
  PACKD_KD_FLAT,    /* 1 - cos over the whole flattened C*H*W map per image (RD) */
  PACKD_KD_PIXEL,   /* mean over pixels of 1 - cos over channels */
} PackdKdMode;

/* L_KD = mean_b [1 - cos(vec T_b, vec S_b)] (FLAT), or the per-pixel mean. */
double packd_loss_kd (const PackdTensor *teacher, const PackdTensor *student, PackdKdMode mode,
    float weight, PackdTensor *grad_student);

/* Representation InfoNCE with one negative: per position p of image b, with
 * t = T_b(p), s = S_b(p) and n = S_{b-1 mod B}(p) (the batch rolled by one,
 * so batches must hold distinct categories next to each other; B >= 2):
 *   l = -log(e^{cos(s,t)/tau} / (e^{cos(s,t)/tau} + e^{cos(n,t)/tau}))
 *     = softplus((cos(n,t) - cos(s,t)) / tau),
 * averaged over B*H*W.  The negative is student output too, so gradient
 * flows into both s and n (into image b-1's slot of grad_student). */
double packd_loss_contrastive (const PackdTensor *teacher, const PackdTensor *student,
    float tau, float weight, PackdTensor *grad_student);

/* Relation KL: per query position, over the R reference vectors of that
 * image (support positions or prototypes, refs [B,R,C] or [1,R,C] shared):
 *   KL( softmax_r cos(t, ref_r)/tau || softmax_r cos(s, ref_r)/tau ),
 * averaged over B*H*W.  grad_refs (nullable, same shape as refs) receives
 * the full gradient, through both distributions, for trainable references
 * such as prototypes. */
double packd_loss_relation (const PackdTensor *teacher, const PackdTensor *student,
    const PackdTensor *refs, float tau, float weight, PackdTensor *grad_student,
    PackdTensor *grad_refs);

/* L_orth = mean_b ||N(P_b) N(P_b)^T - I||_F^2 / M^2 for prototypes
 * [..., M, C] (leading dims = batch of prototype sets), N = row
 * L2-normalisation. */
double packd_loss_orthogonal (const PackdTensor *prototypes, float weight,
    PackdTensor *grad_prototypes);

G_END_DECLS

#endif /* PACKD_LOSSES_H */
