/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef EVAL_REPORT_H
#define EVAL_REPORT_H

#include <glib.h>

#include "packd-metrics.h"
#include "packd-imageio.h"

G_BEGIN_DECLS

/* The picture packd-eval --report draws (Cairo, PNG): ROC curves per k on
 * the left, and on the right a grid of test images with their anomaly maps
 * (JET, alpha 0.5) and ground-truth outlines: the best and worst scored
 * good and defective images of one run. */

typedef struct {
  const char *name;             /* e.g. "test/crack/003.png" */
  gboolean defective;
  float score;                  /* normalised: >= 0.5 is flagged */
  const PackdRgbImage *image;
  const float *map;             /* map_size^2 raw map */
  const guint8 *mask;           /* map_size^2 ground truth, or NULL */
} EvalReportTile;

#define EVAL_REPORT_ROWS 4

typedef struct {
  int k;
  PackdRocCurve roc;            /* of the run shown */
  double image_auroc_mean, image_auroc_std;
  double pixel_auroc_mean;      /* NaN when not measured */
  double f1_mean;
  int n_runs;
} EvalReportCurve;

typedef struct {
  const char *category;
  const char *method;
  const char *model;
  int n_test, n_defective;
  const EvalReportCurve *curves;
  int n_curves;
  /* The grid: rows "good, lowest scores", "good, highest", "defective,
   * highest", "defective, lowest"; from one run with k = grid_k. */
  int grid_k;
  guint64 grid_seed;
  float threshold;              /* raw threshold of that run's support set */
  int map_size;
  const EvalReportTile *rows[EVAL_REPORT_ROWS];
  int n_in_row[EVAL_REPORT_ROWS];
} EvalReport;

gboolean eval_report_write (const EvalReport *report, const char *png_path, GError **error);

G_END_DECLS

#endif /* EVAL_REPORT_H */
