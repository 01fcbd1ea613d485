/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PACKD_METRICS_H
#define PACKD_METRICS_H

#include <glib.h>

G_BEGIN_DECLS

/* Detection metrics for the evaluation protocol (method.md §9).
 *
 * Labels: 0 = good (negative), anything else = defective (positive).  A
 * higher score means "more anomalous".  Scores must not be NaN.
 *
 * AUROC is computed exactly like sklearn's roc_auc_score: sort by score,
 * group tied scores into one ROC point, trapezoid rule.  A pair of tied
 * scores across the classes therefore counts 1/2.  It needs both classes;
 * otherwise PACKD_ERROR_INVALID_ARGUMENT. */

gboolean packd_metrics_auroc (const float *scores, const guint8 *labels, gsize n,
    double *auroc, GError **error);

/* ROC curve, one point per distinct score (descending), starting at (0, 0)
 * with threshold +inf; point i is "score >= thresholds[i] is defective". */
typedef struct {
  gsize n_points;
  double *fpr;
  double *tpr;
  float *thresholds;
} PackdRocCurve;

gboolean packd_metrics_roc_curve (const float *scores, const guint8 *labels, gsize n,
    PackdRocCurve *curve, GError **error);
void packd_roc_curve_clear (PackdRocCurve *curve);

/* Confusion counts and rates when "score >= threshold" means defective.
 * Undefined ratios (0/0) are 0, as sklearn's zero_division default. */
typedef struct {
  gsize tp, fp, tn, fn;
  double precision;
  double recall;     /* true-positive rate */
  double f1;
  double fpr;        /* false-positive rate: share of good images flagged */
} PackdConfusion;

void packd_metrics_at_threshold (const float *scores, const guint8 *labels, gsize n,
    float threshold, PackdConfusion *out);

/* Mean and sample standard deviation (ddof = 1; 0 when n < 2). */
void packd_metrics_mean_std (const double *values, gsize n, double *mean, double *std);

/* Pixel-level metrics over many maps of one size (millions of pixels).
 *
 * Pixel AUROC as above, over all pixels of all images.  AUPRO as in the
 * MVTec AD evaluation code: ground-truth regions are the 8-connected
 * components of each mask (scipy.ndimage.label with a 3x3 structure);
 * every distinct score is a threshold; PRO = mean over all regions of the
 * share of the region at or above the threshold, FPR over all good pixels
 * (of good and defective images); the PRO-vs-FPR curve starts at (0, 0), is
 * integrated with the trapezoid rule up to fpr_limit (interpolating the
 * last segment) and divided by fpr_limit.
 *
 * Memory: 8 bytes per pixel, plus 1 byte per pixel of the masks that were
 * set.  The exact sort is an in-place radix sort, O(n).
 *
 *   pe = packd_pixel_eval_new (256, 256, n_images);
 *   packd_pixel_eval_set_mask (pe, i, mask_or_NULL);   once per image
 *   packd_pixel_eval_set_map (pe, i, map);             every image, every run
 *   packd_pixel_eval_compute (pe, 0.3, &auroc, &aupro, &err);
 *
 * compute() sorts the maps in place: after it, every map must be set again. */
typedef struct _PackdPixelEval PackdPixelEval;

PackdPixelEval *packd_pixel_eval_new (int width, int height, int n_images);
void packd_pixel_eval_free (PackdPixelEval *pe);
/* mask: width*height bytes, nonzero = defect; NULL = all good.  Copied. */
void packd_pixel_eval_set_mask (PackdPixelEval *pe, int index, const guint8 *mask);
/* map: width*height floats (row-major).  Copied. */
void packd_pixel_eval_set_map (PackdPixelEval *pe, int index, const float *map);
/* aupro may be NULL (then no region labelling is needed).  Fails when a map
 * is missing, a map has NaN, or there are no defect / no good pixels. */
gboolean packd_pixel_eval_compute (PackdPixelEval *pe, double fpr_limit, double *auroc,
    double *aupro, GError **error);

/* 8-connected components of a binary mask (nonzero = set).  labels gets 0
 * for unset pixels and 1..n for the components (raster order of their first
 * pixel); returns n.  sizes, when non-NULL, receives a new array of n pixel
 * counts (g_free it). */
guint packd_mask_label_regions (const guint8 *mask, int width, int height, guint32 *labels,
    guint **sizes);

G_END_DECLS

#endif /* PACKD_METRICS_H */
