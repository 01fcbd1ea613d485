/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PACKD_OPTIM_H
#define PACKD_OPTIM_H

#include <glib.h>
#include "packd-safetensors.h"

G_BEGIN_DECLS

/* Adam (Kingma & Ba) with bias correction, as torch.optim.Adam without
 * weight decay:
 *   m = b1 m + (1-b1) g,  v = b2 v + (1-b2) g^2,  t += 1,
 *   p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps).
 * Defaults are RD's recipe (method.md §6). */
#define PACKD_ADAM_LR 0.005f
#define PACKD_ADAM_BETA1 0.5f
#define PACKD_ADAM_BETA2 0.999f
#define PACKD_ADAM_EPS 1e-8f

typedef struct _PackdAdam PackdAdam;

PackdAdam *packd_adam_new (float lr, float beta1, float beta2, float eps);
void packd_adam_free (PackdAdam *adam);

/* Registers n parameters at data with their gradient buffer grad (both
 * caller-owned, outliving adam).  name (unique) keys the moments in a
 * checkpoint.  Moments start at zero. */
void packd_adam_add_param (PackdAdam *adam, const char *name, float *data, float *grad,
    int64_t n);
/* Zeroes every registered gradient buffer (backward passes accumulate). */
void packd_adam_zero_grad (PackdAdam *adam);
/* One update of every parameter from its current gradient. */
void packd_adam_step (PackdAdam *adam);

int64_t packd_adam_get_step (const PackdAdam *adam);
float packd_adam_get_lr (const PackdAdam *adam);
void packd_adam_set_lr (PackdAdam *adam, float lr);

/* Checkpointing for exact resume: the moments as tensors "adam.m.<name>"
 * and "adam.v.<name>" and the step counter and hyper-parameters as
 * metadata "adam.step", "adam.lr", "adam.beta1", "adam.beta2", "adam.eps"
 * (decimal text that round-trips exactly).  Parameters themselves are the
 * caller's to save. */
void packd_adam_save_state (const PackdAdam *adam, PackdSafetensorsWriter *writer);
/* Restores what save_state wrote into an adam with the same parameters
 * registered (names and sizes).  All or nothing: on error (missing or
 * malformed entry, size mismatch) adam is unchanged. */
gboolean packd_adam_load_state (PackdAdam *adam, const PackdSafetensors *st, GError **error);

G_END_DECLS

#endif /* PACKD_OPTIM_H */
