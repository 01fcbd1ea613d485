/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "packd-metrics.h"
#include "packd-error.h"

#include <math.h>
#include <string.h>

/* Every score is turned into a 64-bit item: an order-preserving 32-bit key
 * of the float in the high half, a tag in the low half (0 = good pixel or
 * image, otherwise positive: 1, or the 1-based region id for AUPRO).  One
 * in-place radix sort on the key then serves both levels. */

static inline guint32
float_to_key (float f)
{
  guint32 u;

  if (f == 0.0f)
    f = 0.0f;                   /* -0 and +0 are the same threshold */
  memcpy (&u, &f, sizeof u);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

static inline float
key_to_float (guint32 k)
{
  guint32 u = (k & 0x80000000u) ? (k & 0x7fffffffu) : ~k;
  float f;

  memcpy (&f, &u, sizeof f);
  return f;
}

#define ITEM_KEY(v) ((guint32) ((v) >> 32))
#define ITEM_TAG(v) ((guint32) (v))

static void
insertion_sort_items (guint64 *a, gsize n)
{
  for (gsize i = 1; i < n; i++) {
    guint64 v = a[i];
    gsize j = i;

    while (j > 0 && ITEM_KEY (a[j - 1]) > ITEM_KEY (v)) {
      a[j] = a[j - 1];
      j--;
    }
    a[j] = v;
  }
}

/* In-place MSD radix sort (American flag sort) on the high 32 bits, one
 * byte per level; the order of equal keys is irrelevant (ties are grouped). */
static void
radix_sort_items (guint64 *a, gsize n, int shift)
{
  gsize count[256] = { 0 }, next[256], end[256];
  gsize pos = 0;

  if (n < 48) {
    insertion_sort_items (a, n);
    return;
  }
  for (gsize i = 0; i < n; i++)
    count[(a[i] >> shift) & 0xff]++;
  for (int b = 0; b < 256; b++) {
    next[b] = pos;
    pos += count[b];
    end[b] = pos;
  }
  for (int b = 0; b < 256; b++) {
    while (next[b] < end[b]) {
      guint64 v = a[next[b]];
      int d = (v >> shift) & 0xff;

      while (d != b) {
        guint64 t = a[next[d]];

        a[next[d]++] = v;
        v = t;
        d = (v >> shift) & 0xff;
      }
      a[next[b]++] = v;
    }
  }
  if (shift == 32)
    return;
  pos = 0;
  for (int b = 0; b < 256; b++) {
    if (count[b] > 1)
      radix_sort_items (a + pos, count[b], shift - 8);
    pos += count[b];
  }
}

static void
sort_items (guint64 *a, gsize n)
{
  radix_sort_items (a, n, 56);
}

/* Walks sorted items from the highest score down, one group of tied scores
 * at a time, and integrates ROC (and PRO when inv_region_size is given). */
typedef struct {
  gsize n_pos, n_neg;           /* AUROC: positives = tag != 0 */
  const double *inv_region_size;        /* indexed by tag - 1 */
  gsize n_regions;
  double fpr_limit;
  GArray *roc;                  /* of RocPoint, optional */
} Walk;

typedef struct {
  double fpr, tpr;
  float threshold;
} RocPoint;

static void
walk_sorted (const guint64 *items, gsize n, const Walk *w, double *auroc, double *aupro)
{
  gsize tp = 0, fp = 0, i = n;
  double area2 = 0.0;           /* twice the ROC area in count units */
  double pro = 0.0, pro_area = 0.0, prev_fpr = 0.0, prev_pro = 0.0;
  gboolean pro_done = (w->inv_region_size == NULL);
  double n_neg = (double) w->n_neg;

  if (w->roc) {
    RocPoint p = { 0.0, 0.0, INFINITY };
    g_array_append_val (w->roc, p);
  }
  while (i > 0) {
    guint32 key = ITEM_KEY (items[i - 1]);
    gsize tp0 = tp, fp0 = fp;

    do {
      guint32 tag = ITEM_TAG (items[i - 1]);

      if (tag) {
        tp++;
        if (!pro_done)
          pro += w->inv_region_size[tag - 1];
      } else {
        fp++;
      }
      i--;
    } while (i > 0 && ITEM_KEY (items[i - 1]) == key);

    area2 += (double) (fp - fp0) * (double) (tp + tp0);
    if (w->roc) {
      RocPoint p = { fp / n_neg, tp / (double) w->n_pos, key_to_float (key) };
      g_array_append_val (w->roc, p);
    }
    if (!pro_done) {
      double x = fp / n_neg, y = pro / w->n_regions;

      if (x <= w->fpr_limit) {
        pro_area += 0.5 * (y + prev_pro) * (x - prev_fpr);
        prev_fpr = x;
        prev_pro = y;
      } else {
        /* Crossing the limit: interpolate PRO at fpr_limit, as MVTec's
         * trapezoid(x_max=...) does. */
        double y_at = prev_pro + (y - prev_pro) * (w->fpr_limit - prev_fpr) / (x - prev_fpr);

        pro_area += 0.5 * (y_at + prev_pro) * (w->fpr_limit - prev_fpr);
        pro_done = TRUE;
      }
    }
  }
  if (auroc)
    *auroc = area2 / (2.0 * (double) w->n_pos * (double) w->n_neg);
  if (aupro)
    *aupro = pro_area / w->fpr_limit;
}

static guint64 *
image_items (const float *scores, const guint8 *labels, gsize n, gsize *n_pos,
    GError **error)
{
  guint64 *items;

  if (n == 0 || !scores || !labels) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_INVALID_ARGUMENT,
        "no scores to evaluate");
    return NULL;
  }
  items = g_new (guint64, n);
  *n_pos = 0;
  for (gsize i = 0; i < n; i++) {
    if (isnan (scores[i])) {
      g_set_error (error, PACKD_ERROR, PACKD_ERROR_INVALID_ARGUMENT,
          "score %" G_GSIZE_FORMAT " is NaN", i);
      g_free (items);
      return NULL;
    }
    items[i] = ((guint64) float_to_key (scores[i]) << 32) | (labels[i] ? 1u : 0u);
    *n_pos += labels[i] ? 1 : 0;
  }
  if (*n_pos == 0 || *n_pos == n) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_INVALID_ARGUMENT,
        "ROC needs both classes, but all %" G_GSIZE_FORMAT " samples are %s",
        n, *n_pos ? "defective" : "good");
    g_free (items);
    return NULL;
  }
  sort_items (items, n);
  return items;
}

gboolean
packd_metrics_auroc (const float *scores, const guint8 *labels, gsize n, double *auroc,
    GError **error)
{
  gsize n_pos;
  guint64 *items = image_items (scores, labels, n, &n_pos, error);
  Walk w = { 0 };

  if (!items)
    return FALSE;
  w.n_pos = n_pos;
  w.n_neg = n - n_pos;
  walk_sorted (items, n, &w, auroc, NULL);
  g_free (items);
  return TRUE;
}

gboolean
packd_metrics_roc_curve (const float *scores, const guint8 *labels, gsize n,
    PackdRocCurve *curve, GError **error)
{
  gsize n_pos;
  guint64 *items = image_items (scores, labels, n, &n_pos, error);
  Walk w = { 0 };

  memset (curve, 0, sizeof *curve);
  if (!items)
    return FALSE;
  w.n_pos = n_pos;
  w.n_neg = n - n_pos;
  w.roc = g_array_new (FALSE, FALSE, sizeof (RocPoint));
  walk_sorted (items, n, &w, NULL, NULL);
  g_free (items);

  curve->n_points = w.roc->len;
  curve->fpr = g_new (double, w.roc->len);
  curve->tpr = g_new (double, w.roc->len);
  curve->thresholds = g_new (float, w.roc->len);
  for (guint i = 0; i < w.roc->len; i++) {
    RocPoint *p = &g_array_index (w.roc, RocPoint, i);

    curve->fpr[i] = p->fpr;
    curve->tpr[i] = p->tpr;
    curve->thresholds[i] = p->threshold;
  }
  g_array_unref (w.roc);
  return TRUE;
}

void
packd_roc_curve_clear (PackdRocCurve *curve)
{
  g_clear_pointer (&curve->fpr, g_free);
  g_clear_pointer (&curve->tpr, g_free);
  g_clear_pointer (&curve->thresholds, g_free);
  curve->n_points = 0;
}

static double
safe_ratio (double a, double b)
{
  return b > 0.0 ? a / b : 0.0;
}

void
packd_metrics_at_threshold (const float *scores, const guint8 *labels, gsize n,
    float threshold, PackdConfusion *out)
{
  memset (out, 0, sizeof *out);
  for (gsize i = 0; i < n; i++) {
    gboolean flagged = scores[i] >= threshold;

    if (labels[i])
      flagged ? out->tp++ : out->fn++;
    else
      flagged ? out->fp++ : out->tn++;
  }
  out->precision = safe_ratio (out->tp, out->tp + out->fp);
  out->recall = safe_ratio (out->tp, out->tp + out->fn);
  out->f1 = safe_ratio (2.0 * out->tp, 2.0 * out->tp + out->fp + out->fn);
  out->fpr = safe_ratio (out->fp, out->fp + out->tn);
}

void
packd_metrics_mean_std (const double *values, gsize n, double *mean, double *std)
{
  double m = 0.0, ss = 0.0;

  for (gsize i = 0; i < n; i++)
    m += values[i];
  m = n ? m / n : 0.0;
  for (gsize i = 0; i < n; i++)
    ss += (values[i] - m) * (values[i] - m);
  if (mean)
    *mean = m;
  if (std)
    *std = n > 1 ? sqrt (ss / (n - 1)) : 0.0;
}

guint
packd_mask_label_regions (const guint8 *mask, int width, int height, guint32 *labels,
    guint **sizes)
{
  gsize n_px = (gsize) width * height;
  guint32 *stack = g_new (guint32, n_px);
  GArray *size_arr = g_array_new (FALSE, FALSE, sizeof (guint));
  guint n = 0;

  memset (labels, 0, n_px * sizeof *labels);
  for (gsize start = 0; start < n_px; start++) {
    gsize top = 0;
    guint size = 0;

    if (!mask[start] || labels[start])
      continue;
    n++;
    labels[start] = n;
    stack[top++] = start;
    /* Flood fill over the 8 neighbours (the 3x3 structure of MVTec's code). */
    while (top > 0) {
      guint32 p = stack[--top];
      int x = p % width, y = p / width;

      size++;
      for (int dy = -1; dy <= 1; dy++) {
        for (int dx = -1; dx <= 1; dx++) {
          int nx = x + dx, ny = y + dy;
          gsize q;

          if (nx < 0 || ny < 0 || nx >= width || ny >= height)
            continue;
          q = (gsize) ny * width + nx;
          if (mask[q] && !labels[q]) {
            labels[q] = n;
            stack[top++] = q;
          }
        }
      }
    }
    g_array_append_val (size_arr, size);
  }
  g_free (stack);
  if (sizes)
    *sizes = (guint *) g_array_free (size_arr, FALSE);
  else
    g_array_free (size_arr, TRUE);
  return n;
}

struct _PackdPixelEval {
  int width, height, n_images;
  gsize n_px;                   /* per image */
  guint64 *items;               /* n_images * n_px */
  guint8 **masks;               /* per image, NULL = all good */
  gboolean *map_set;
  gboolean has_nan;
  guint32 *labels;              /* scratch, n_px */
};

PackdPixelEval *
packd_pixel_eval_new (int width, int height, int n_images)
{
  PackdPixelEval *pe;

  g_return_val_if_fail (width > 0 && height > 0 && n_images > 0, NULL);
  pe = g_new0 (PackdPixelEval, 1);
  pe->width = width;
  pe->height = height;
  pe->n_images = n_images;
  pe->n_px = (gsize) width * height;
  pe->items = g_try_new (guint64, pe->n_px * n_images);
  if (!pe->items) {
    g_free (pe);
    return NULL;
  }
  pe->masks = g_new0 (guint8 *, n_images);
  pe->map_set = g_new0 (gboolean, n_images);
  pe->labels = g_new (guint32, pe->n_px);
  return pe;
}

void
packd_pixel_eval_free (PackdPixelEval *pe)
{
  if (!pe)
    return;
  for (int i = 0; i < pe->n_images; i++)
    g_free (pe->masks[i]);
  g_free (pe->masks);
  g_free (pe->map_set);
  g_free (pe->labels);
  g_free (pe->items);
  g_free (pe);
}

void
packd_pixel_eval_set_mask (PackdPixelEval *pe, int index, const guint8 *mask)
{
  g_return_if_fail (pe && index >= 0 && index < pe->n_images);
  g_clear_pointer (&pe->masks[index], g_free);
  if (!mask)
    return;
  for (gsize p = 0; p < pe->n_px; p++) {
    if (mask[p]) {
      pe->masks[index] = g_memdup2 (mask, pe->n_px);
      return;
    }
  }
}

void
packd_pixel_eval_set_map (PackdPixelEval *pe, int index, const float *map)
{
  guint64 *dst;

  g_return_if_fail (pe && index >= 0 && index < pe->n_images && map);
  dst = pe->items + (gsize) index * pe->n_px;
  for (gsize p = 0; p < pe->n_px; p++) {
    if (isnan (map[p]))
      pe->has_nan = TRUE;
    dst[p] = (guint64) float_to_key (map[p]) << 32;
  }
  pe->map_set[index] = TRUE;
}

gboolean
packd_pixel_eval_compute (PackdPixelEval *pe, double fpr_limit, double *auroc, double *aupro,
    GError **error)
{
  GArray *inv_size = g_array_new (FALSE, FALSE, sizeof (double));
  gsize n_total = pe->n_px * pe->n_images, n_pos = 0;
  Walk w = { 0 };
  gboolean ok = FALSE;

  for (int i = 0; i < pe->n_images; i++) {
    if (!pe->map_set[i]) {
      g_set_error (error, PACKD_ERROR, PACKD_ERROR_INVALID_ARGUMENT,
          "pixel metrics: no map set for image %d of %d", i, pe->n_images);
      goto out;
    }
  }
  if (pe->has_nan) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_INVALID_ARGUMENT,
        "pixel metrics: an anomaly map contains NaN");
    goto out;
  }
  if (aupro && !(fpr_limit > 0.0 && fpr_limit <= 1.0)) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_INVALID_ARGUMENT,
        "AUPRO FPR limit %g is not in (0, 1]", fpr_limit);
    goto out;
  }

  /* Tag the defect pixels: region ids for AUPRO, else just 1. */
  for (int i = 0; i < pe->n_images; i++) {
    guint64 *dst = pe->items + (gsize) i * pe->n_px;
    const guint8 *mask = pe->masks[i];

    if (!mask)
      continue;
    if (aupro) {
      guint *sizes, base = inv_size->len;
      guint n = packd_mask_label_regions (mask, pe->width, pe->height, pe->labels, &sizes);

      for (guint r = 0; r < n; r++) {
        double v = 1.0 / sizes[r];
        g_array_append_val (inv_size, v);
      }
      g_free (sizes);
      for (gsize p = 0; p < pe->n_px; p++) {
        if (pe->labels[p]) {
          dst[p] |= base + pe->labels[p];
          n_pos++;
        }
      }
    } else {
      for (gsize p = 0; p < pe->n_px; p++) {
        if (mask[p]) {
          dst[p] |= 1u;
          n_pos++;
        }
      }
    }
  }
  if (n_pos == 0 || n_pos == n_total) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_INVALID_ARGUMENT,
        "pixel metrics need both classes, but all %" G_GSIZE_FORMAT " pixels are %s",
        n_total, n_pos ? "defective" : "good");
    goto out;
  }

  sort_items (pe->items, n_total);
  w.n_pos = n_pos;
  w.n_neg = n_total - n_pos;
  if (aupro) {
    w.inv_region_size = (const double *) inv_size->data;
    w.n_regions = inv_size->len;
    w.fpr_limit = fpr_limit;
  }
  walk_sorted (pe->items, n_total, &w, auroc, aupro);
  ok = TRUE;

out:
  /* The items are sorted (or partly tagged): every map must be set again. */
  memset (pe->map_set, 0, pe->n_images * sizeof (gboolean));
  pe->has_nan = FALSE;
  g_array_unref (inv_size);
  return ok;
}
