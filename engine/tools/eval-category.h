/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef EVAL_CATEGORY_H
#define EVAL_CATEGORY_H

#include <glib.h>

#include "packd-dataset.h"
#include "packd-imageio.h"
#include "packd-metrics.h"
#include "packd-scorer.h"
#include "eval-report.h"

G_BEGIN_DECLS

/* One category of packd-eval in memory: every test image decoded once, the
 * ground-truth masks resized to model resolution, train/good images decoded
 * on first use as supports. */
typedef struct {
  PackdDataset *ds;
  guint *test_index;            /* tests used (after excluding folders) -> ds->tests */
  guint n, n_defective;
  PackdRgbImage *images;
  guint8 *labels;
  guint8 **masks;               /* map_size^2, NULL = all good */
  char *pixel_note;             /* why pixel metrics are skipped, or NULL */
  GHashTable *train_cache;      /* train index -> PackdRgbImage* */
  PackdPixelEval *pe;           /* NULL when pixel metrics are skipped */
  float *raw;                   /* raw score per test image, current run */
} EvalCategory;

/* exclude: comma list of test folders to leave out, or NULL. */
EvalCategory *eval_category_load (const char *dir, const char *exclude, int map_size,
    GError **error);
void eval_category_free (EvalCategory *c);
const PackdRgbImage *eval_category_train_image (EvalCategory *c, guint index, GError **error);
const char *eval_category_test_name (const EvalCategory *c, guint i);
PackdImage eval_image_view (const PackdRgbImage *img);

/* Category folders to evaluate: categories is NAME[,NAME] or "all" under
 * the data root, or NULL when data is one category folder itself.  A
 * NULL-terminated list of paths, or NULL with error set. */
char **eval_resolve_categories (const char *data, const char *categories, GError **error);
/* pattern with every "%s" replaced by the category name (per-category models). */
char *eval_model_for_category (const char *pattern, const char *category);
/* One report per category when several are evaluated: OUT.png -> OUT-NAME.png. */
char *eval_report_path_for (const char *path, const char *category, gboolean several);

/* The example grid of the report, taken from one run. */
#define EVAL_GRID_PER_ROW 4
#define EVAL_GRID_TILES (EVAL_REPORT_ROWS * EVAL_GRID_PER_ROW)

typedef struct {
  EvalReportTile tiles[EVAL_GRID_TILES];
  float *maps[EVAL_GRID_TILES];
  int n_in_row[EVAL_REPORT_ROWS];
  int k;
  gint64 seed;
  float threshold;
  gboolean ready;
} EvalGrid;

/* Picks the best and worst scored good and defective images of the current
 * run (c->raw) and rescores them with the support set still in scorer to
 * keep their maps. */
gboolean eval_grid_collect (EvalGrid *grid, PackdScorer *scorer, const EvalCategory *c,
    GError **error);
void eval_grid_clear (EvalGrid *grid);

G_END_DECLS

#endif /* EVAL_CATEGORY_H */
