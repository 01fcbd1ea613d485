/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PACKD_TRAINER_H
#define PACKD_TRAINER_H

#include <glib.h>
#include "packd-scorer.h"
#include "packd-student.h"

G_BEGIN_DECLS

/* Episodic training of the PACKD student (method.md §6).
 *
 * Each step draws k from the shot list and a batch of queries whose
 * categories differ from their neighbours (so the batch rolled by one is
 * always another category: the contrastive negative), each with k support
 * images of its own category (query excluded).  The teacher is frozen, so
 * its features of every training image are computed once into one cache
 * file per category and memory-mapped.  Adam with RD's recipe.
 *
 * Images come from a source callback, so the engine needs no image
 * decoding: the CLI reads files, the tests generate textures. */

typedef struct {
  int n_categories;
  const char *const *names;          /* category names (cache file names) */
  const int *n_images;               /* per category */
  /* Image i of category c into *image (pixels valid until the next call or
   * release); FALSE + error on failure. */
  gboolean (*load) (gpointer data, int category, int index, PackdImage *image, GError **error);
  void (*release) (gpointer data, PackdImage *image);
  gpointer data;
} PackdImageSource;

typedef struct {
  PackdStudentArch arch;             /* used when not resuming */
  int batch;                         /* 8 */
  int shots[8];
  int n_shots;                       /* {2, 4, 8} */
  guint64 seed;
  float lr;                          /* PACKD_ADAM_LR */
  PackdLossWeights loss;
  int cache_images;                  /* images per category in the cache (0: all) */
  const char *cache_dir;             /* NULL: a temporary directory, removed at the end */
  const char *teacher_path;          /* teacher or PACKD model file */
} PackdTrainerOptions;

void packd_trainer_options_init (PackdTrainerOptions *o);
void packd_trainer_options_clear (PackdTrainerOptions *o);

typedef struct _PackdTrainer PackdTrainer;

/* Loads the teacher, fills (or reuses) the feature caches, builds the
 * student (or restores it, the optimiser and the sampler from checkpoint
 * resume_path, nullable). */
PackdTrainer *packd_trainer_new (const PackdTrainerOptions *options,
    const PackdImageSource *source, const char *resume_path, GError **error);
void packd_trainer_free (PackdTrainer *trainer);

/* One optimisation step.  FALSE + error when the loss is not finite. */
gboolean packd_trainer_step (PackdTrainer *trainer, PackdLossTerms *terms, GError **error);
int64_t packd_trainer_get_step (const PackdTrainer *trainer);
PackdStudent *packd_trainer_get_student (PackdTrainer *trainer);

/* Model + optimiser + sampler state; resuming from it continues exactly. */
gboolean packd_trainer_save_checkpoint (PackdTrainer *trainer, const char *path, GError **error);
/* The self-contained model file (teacher embedded, no optimiser state). */
gboolean packd_trainer_save_model (PackdTrainer *trainer, const char *path, GError **error);

G_END_DECLS

#endif /* PACKD_TRAINER_H */
