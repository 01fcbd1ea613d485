/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PACKD_DATASET_H
#define PACKD_DATASET_H

#include <glib.h>

G_BEGIN_DECLS

/* MVTec-layout category folders (../shared/data/README.md):
 *
 *   <cat>/train/good/<img>                    support candidates
 *   <cat>/test/good/<img>                     good test images
 *   <cat>/test/<defect>/<img>                 defective test images
 *   <cat>/ground_truth/<defect>/<stem>_mask.png
 *
 * Images are files ending in .jpg .jpeg .png .bmp .tif .tiff (any case).
 * Lists are in byte order of their paths, test folders in byte order of
 * their names: the order of ../shared/ref/eval.py, so per-image scores line
 * up with its JSON.  Only file names are read here, no pixels. */

typedef struct {
  char *path;        /* <cat>/test/<defect>/<file> */
  char *relpath;     /* test/<defect>/<file>, as in eval.py's JSON */
  char *defect;      /* folder name: "good", "crack", ... */
  gboolean defective;
  char *mask_path;   /* NULL for good images and defective ones without a mask */
} PackdTestItem;

typedef struct {
  char *name;        /* base name of the category folder */
  char *root;        /* the category folder */
  char **train;      /* train/good paths, NULL-terminated */
  guint n_train;
  PackdTestItem *tests;
  guint n_tests;
  guint n_defective;
  gboolean has_masks;        /* ground_truth/ exists: pixel metrics apply */
} PackdDataset;

PackdDataset *packd_dataset_open (const char *category_dir, GError **error);
void packd_dataset_free (PackdDataset *dataset);

/* Names of the category folders under data_root (those with train/good and
 * test/), sorted; NULL-terminated, g_strfreev() it.  Error when none. */
char **packd_dataset_list_categories (const char *data_root, GError **error);

/* The image files directly inside dir (hidden ones skipped), as paths in
 * byte order of their names; NULL-terminated, g_strfreev() it.  NULL and an
 * error when dir cannot be read. */
char **packd_dataset_list_images (const char *dir, GError **error);

/* k distinct indices in [0, n), ascending, for a seed: exactly
 * sorted(numpy.random.default_rng(seed).choice(n, k, replace=False)) — the
 * draws of ../shared/ref/eval.py (SeedSequence -> PCG64 -> Floyd's
 * algorithm or a tail shuffle, as numpy >= 1.17 does).  k > n, k == 0 → error. */
gboolean packd_sample_without_replacement (guint n, guint k, guint64 seed, guint *indices,
    GError **error);

/* A support draw from train/good: k indices into dataset->train. */
gboolean packd_dataset_sample_support (const PackdDataset *dataset, guint k, guint64 seed,
    guint *indices, GError **error);

/* Index of the train/good image whose file name (or path relative to the
 * category, or full path) is name; -1 when none. */
int packd_dataset_find_train (const PackdDataset *dataset, const char *name);

/* A ground-truth mask resized to size x size as eval.py does: bilinear with
 * aligned corners on the 0..255 values, then > 127 → 1, else 0.  src has
 * pixel_step bytes per pixel (the first one is used) and stride bytes per
 * row; out receives size*size bytes. */
void packd_mask_resize_binary (const guint8 *src, int width, int height, int stride,
    int pixel_step, guint8 *out, int size);

G_END_DECLS

#endif /* PACKD_DATASET_H */
