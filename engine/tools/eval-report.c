/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "eval-report.h"

#include <cairo.h>
#include <math.h>
#include <string.h>

#include "packd-colormap.h"
#include "packd-error.h"
#include "packd-scorer.h"

#define MARGIN 24
#define HEADER_H 78
#define ROC_SIZE 400
#define LEFT_W (ROC_SIZE + 2 * MARGIN + 40)
#define TILE 184
#define TILE_GAP 14
#define CAPTION_H 36
#define ROW_TITLE_H 26
#define ROW_H (ROW_TITLE_H + TILE + CAPTION_H + 8)
#define COLS 4

static const double curve_colours[][3] = {
  { 0.12, 0.47, 0.71 }, { 1.00, 0.50, 0.05 }, { 0.17, 0.63, 0.17 }, { 0.84, 0.15, 0.16 },
  { 0.58, 0.40, 0.74 }, { 0.55, 0.34, 0.29 },
};

static const char *const row_titles[EVAL_REPORT_ROWS] = {
  "Good images, lowest scores (best)",
  "Good images, highest scores (worst: false alarm when >= 0.5)",
  "Defective images, highest scores (best)",
  "Defective images, lowest scores (worst: missed when < 0.5)",
};

static void
text_at (cairo_t *cr, double x, double y, double size, gboolean bold, const char *s)
{
  cairo_select_font_face (cr, "Sans", CAIRO_FONT_SLANT_NORMAL,
      bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size (cr, size);
  cairo_move_to (cr, x, y);
  cairo_show_text (cr, s);
}

/* Shortens s from the left ("…ack/003.png") until it fits width. */
static void
text_fit (cairo_t *cr, double x, double y, double size, double width, const char *s)
{
  cairo_text_extents_t ext;
  const char *p = s;
  char *shown = g_strdup (s);

  cairo_select_font_face (cr, "Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size (cr, size);
  for (;;) {
    cairo_text_extents (cr, shown, &ext);
    if (ext.x_advance <= width || !*p)
      break;
    p = g_utf8_next_char (p);
    g_free (shown);
    shown = g_strconcat ("…", p, NULL);
  }
  cairo_move_to (cr, x, y);
  cairo_show_text (cr, shown);
  g_free (shown);
}

static void
draw_roc (cairo_t *cr, const EvalReport *r, double x0, double y0)
{
  const double s = ROC_SIZE;
  char buf[160];

  cairo_set_source_rgb (cr, 1, 1, 1);
  cairo_rectangle (cr, x0, y0, s, s);
  cairo_fill (cr);
  cairo_set_line_width (cr, 1);
  cairo_set_source_rgb (cr, 0.88, 0.88, 0.88);
  for (int i = 1; i < 10; i++) {
    cairo_move_to (cr, x0 + s * i / 10, y0);
    cairo_line_to (cr, x0 + s * i / 10, y0 + s);
    cairo_move_to (cr, x0, y0 + s * i / 10);
    cairo_line_to (cr, x0 + s, y0 + s * i / 10);
  }
  cairo_stroke (cr);
  /* Chance diagonal. */
  cairo_set_source_rgb (cr, 0.6, 0.6, 0.6);
  cairo_set_dash (cr, (const double[]) { 5, 4 }, 2, 0);
  cairo_move_to (cr, x0, y0 + s);
  cairo_line_to (cr, x0 + s, y0);
  cairo_stroke (cr);
  cairo_set_dash (cr, NULL, 0, 0);
  cairo_set_source_rgb (cr, 0, 0, 0);
  cairo_rectangle (cr, x0, y0, s, s);
  cairo_stroke (cr);

  for (int c = 0; c < r->n_curves; c++) {
    const PackdRocCurve *roc = &r->curves[c].roc;
    const double *col = curve_colours[c % G_N_ELEMENTS (curve_colours)];

    cairo_set_source_rgb (cr, col[0], col[1], col[2]);
    cairo_set_line_width (cr, 2.2);
    for (gsize i = 0; i < roc->n_points; i++) {
      double px = x0 + roc->fpr[i] * s, py = y0 + s - roc->tpr[i] * s;

      if (i == 0)
        cairo_move_to (cr, px, py);
      else
        cairo_line_to (cr, px, py);
    }
    cairo_stroke (cr);
  }

  cairo_set_source_rgb (cr, 0, 0, 0);
  for (int i = 0; i <= 10; i += 5) {
    g_snprintf (buf, sizeof buf, "%.1f", i / 10.0);
    text_at (cr, x0 + s * i / 10 - 8, y0 + s + 16, 11, FALSE, buf);
    text_at (cr, x0 - 26, y0 + s - s * i / 10 + 4, 11, FALSE, buf);
  }
  text_at (cr, x0 + s / 2 - 120, y0 + s + 34, 13, FALSE,
      "false-positive rate (good images flagged)");
  cairo_save (cr);
  cairo_move_to (cr, x0 - 32, y0 + s / 2 + 110);
  cairo_rotate (cr, -G_PI / 2);
  cairo_select_font_face (cr, "Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size (cr, 13);
  cairo_show_text (cr, "true-positive rate (defects found)");
  cairo_restore (cr);
  text_at (cr, x0, y0 - 10, 15, TRUE, "Image-level ROC (first run of each k)");

  /* Legend inside the plot, bottom right. */
  for (int c = 0; c < r->n_curves; c++) {
    const EvalReportCurve *cv = &r->curves[c];
    const double *col = curve_colours[c % G_N_ELEMENTS (curve_colours)];
    double ly = y0 + s - 14 - 18 * (r->n_curves - 1 - c);

    if (isnan (cv->pixel_auroc_mean))
      g_snprintf (buf, sizeof buf, "k=%d: image AUROC %.1f ± %.1f (%d run%s)", cv->k,
          100 * cv->image_auroc_mean, 100 * cv->image_auroc_std, cv->n_runs,
          cv->n_runs == 1 ? "" : "s");
    else
      g_snprintf (buf, sizeof buf, "k=%d: image %.1f ± %.1f, pixel %.1f (%d run%s)", cv->k,
          100 * cv->image_auroc_mean, 100 * cv->image_auroc_std, 100 * cv->pixel_auroc_mean,
          cv->n_runs, cv->n_runs == 1 ? "" : "s");
    cairo_set_source_rgb (cr, col[0], col[1], col[2]);
    cairo_rectangle (cr, x0 + 80, ly - 9, 14, 10);
    cairo_fill (cr);
    cairo_set_source_rgb (cr, 0, 0, 0);
    text_at (cr, x0 + 100, ly, 12, FALSE, buf);
  }
}

/* Horizontal colour bar of the normalised score, 0.5 = threshold. */
static void
draw_colour_bar (cairo_t *cr, double x0, double y0, double w)
{
  const guint8 *lut = packd_colormap_jet_lut ();

  text_at (cr, x0, y0 - 6, 13, TRUE, "Anomaly map colours (normalised score)");
  for (int i = 0; i < (int) w; i++) {
    const guint8 *c = lut + 3 * (int) (255.0 * i / (w - 1));

    cairo_set_source_rgb (cr, c[0] / 255.0, c[1] / 255.0, c[2] / 255.0);
    cairo_rectangle (cr, x0 + i, y0, 1.2, 16);
    cairo_fill (cr);
  }
  cairo_set_source_rgb (cr, 0, 0, 0);
  cairo_set_line_width (cr, 1.5);
  cairo_move_to (cr, x0 + w / 2, y0 - 2);
  cairo_line_to (cr, x0 + w / 2, y0 + 18);
  cairo_stroke (cr);
  text_at (cr, x0, y0 + 30, 11, FALSE, "0  normal");
  text_at (cr, x0 + w / 2 - 52, y0 + 30, 11, FALSE, "0.5 = threshold");
  text_at (cr, x0 + w - 60, y0 + 30, 11, FALSE, "1  defect");
}

static cairo_surface_t *
surface_from_rgb (const PackdRgbImage *img)
{
  cairo_surface_t *s = cairo_image_surface_create (CAIRO_FORMAT_RGB24, img->width, img->height);
  guint8 *data = cairo_image_surface_get_data (s);
  int stride = cairo_image_surface_get_stride (s);

  for (int y = 0; y < img->height; y++) {
    const guint8 *src = img->rgb + (gsize) y * img->width * 3;
    guint32 *dst = (guint32 *) (data + (gsize) y * stride);

    for (int x = 0; x < img->width; x++, src += 3)
      dst[x] = ((guint32) src[0] << 16) | ((guint32) src[1] << 8) | src[2];
  }
  cairo_surface_mark_dirty (s);
  return s;
}

/* JET heat map at alpha 0.5 plus the ground-truth outline (white, 2 px at
 * map resolution), premultiplied ARGB. */
static cairo_surface_t *
surface_overlay (const float *map, const guint8 *mask, int size, float threshold)
{
  cairo_surface_t *s = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, size, size);
  guint8 *data = cairo_image_surface_get_data (s);
  int stride = cairo_image_surface_get_stride (s);
  const guint8 *lut = packd_colormap_jet_lut ();

  for (int y = 0; y < size; y++) {
    guint32 *dst = (guint32 *) (data + (gsize) y * stride);

    for (int x = 0; x < size; x++) {
      gsize p = (gsize) y * size + x;
      gboolean edge = FALSE;

      if (mask && mask[p]) {
        /* A defect pixel within 2 px of a non-defect pixel (or the border). */
        for (int dy = -2; dy <= 2 && !edge; dy++)
          for (int dx = -2; dx <= 2 && !edge; dx++) {
            int nx = x + dx, ny = y + dy;
            edge = nx < 0 || ny < 0 || nx >= size || ny >= size || !mask[(gsize) ny * size + nx];
          }
      }
      if (edge) {
        dst[x] = 0xffffffffu;
      } else {
        float v = packd_score_normalise (map[p], threshold);
        const guint8 *c = lut + 3 * (int) lrintf (v * 255.0f);

        /* alpha 0.5, premultiplied */
        dst[x] = (0x80u << 24) | ((guint32) (c[0] / 2) << 16) | ((guint32) (c[1] / 2) << 8)
            | (c[2] / 2);
      }
    }
  }
  cairo_surface_mark_dirty (s);
  return s;
}

static void
paint_scaled (cairo_t *cr, cairo_surface_t *s, double x, double y, double w, double h)
{
  cairo_save (cr);
  cairo_translate (cr, x, y);
  cairo_scale (cr, w / cairo_image_surface_get_width (s), h / cairo_image_surface_get_height (s));
  cairo_set_source_surface (cr, s, 0, 0);
  cairo_pattern_set_filter (cairo_get_source (cr), CAIRO_FILTER_GOOD);
  cairo_paint (cr);
  cairo_restore (cr);
}

static void
draw_tile (cairo_t *cr, const EvalReport *r, const EvalReportTile *t, double x, double y)
{
  cairo_surface_t *img = surface_from_rgb (t->image);
  cairo_surface_t *over = surface_overlay (t->map, t->mask, r->map_size, r->threshold);
  gboolean flagged = t->score >= 0.5f, correct = flagged == t->defective;
  char buf[96];

  /* The image as the model sees it (resized to a square), map on top. */
  paint_scaled (cr, img, x, y, TILE, TILE);
  paint_scaled (cr, over, x, y, TILE, TILE);
  cairo_surface_destroy (img);
  cairo_surface_destroy (over);

  /* Frame: green = right verdict, red = wrong. */
  cairo_set_line_width (cr, 4);
  if (correct)
    cairo_set_source_rgb (cr, 0.1, 0.65, 0.2);
  else
    cairo_set_source_rgb (cr, 0.85, 0.1, 0.1);
  cairo_rectangle (cr, x - 2, y - 2, TILE + 4, TILE + 4);
  cairo_stroke (cr);

  cairo_set_source_rgb (cr, 0.15, 0.15, 0.15);
  text_fit (cr, x, y + TILE + 15, 11, TILE, t->name);
  g_snprintf (buf, sizeof buf, "score %.2f → %s%s", t->score, flagged ? "DEFECT" : "OK",
      correct ? "" : "  (wrong)");
  if (correct)
    cairo_set_source_rgb (cr, 0.1, 0.5, 0.15);
  else
    cairo_set_source_rgb (cr, 0.8, 0.05, 0.05);
  text_at (cr, x, y + TILE + 30, 12, TRUE, buf);
}

gboolean
eval_report_write (const EvalReport *r, const char *path, GError **error)
{
  const int grid_w = COLS * TILE + (COLS - 1) * TILE_GAP;
  const int width = LEFT_W + grid_w + 2 * MARGIN;
  const int height = HEADER_H + EVAL_REPORT_ROWS * ROW_H + MARGIN;
  cairo_surface_t *surface = cairo_image_surface_create (CAIRO_FORMAT_RGB24, width, height);
  cairo_t *cr = cairo_create (surface);
  cairo_status_t st;
  char *model_base = g_path_get_basename (r->model ? r->model : "?");
  char buf[512];
  double gx = LEFT_W + MARGIN, ly;

  cairo_set_source_rgb (cr, 0.97, 0.97, 0.96);
  cairo_paint (cr);

  cairo_set_source_rgb (cr, 0, 0, 0);
  g_snprintf (buf, sizeof buf, "packd-eval: %s   (method %s, model %s)", r->category, r->method,
      model_base);
  text_at (cr, MARGIN, 32, 22, TRUE, buf);
  g_snprintf (buf, sizeof buf, "%d test images, %d defective.  Examples on the right: one run "
      "with k = %d support images (seed %" G_GUINT64_FORMAT "), raw threshold %.4g "
      "calibrated from the supports alone.", r->n_test, r->n_defective, r->grid_k,
      r->grid_seed, r->threshold);
  text_at (cr, MARGIN, 58, 13, FALSE, buf);

  draw_roc (cr, r, MARGIN + 40, HEADER_H + 30);
  ly = HEADER_H + 30 + ROC_SIZE + 80;
  draw_colour_bar (cr, MARGIN + 40, ly, ROC_SIZE);
  ly += 66;
  cairo_set_source_rgb (cr, 0, 0, 0);
  text_at (cr, MARGIN + 40, ly, 13, TRUE, "How to read the examples");
  text_at (cr, MARGIN + 40, ly + 20, 12, FALSE,
      "Each tile: the test image, its anomaly map on top (alpha 0.5),");
  text_at (cr, MARGIN + 40, ly + 36, 12, FALSE,
      "white outline = where the defect really is (ground truth).");
  text_at (cr, MARGIN + 40, ly + 52, 12, FALSE,
      "Frame green = verdict right, red = wrong (score >= 0.5 -> DEFECT).");
  text_at (cr, MARGIN + 40, ly + 68, 12, FALSE,
      "AUROC: 100 = defects always score above good images, 50 = chance.");

  for (int row = 0; row < EVAL_REPORT_ROWS; row++) {
    double ry = HEADER_H + row * ROW_H;

    cairo_set_source_rgb (cr, 0, 0, 0);
    text_at (cr, gx, ry + 18, 14, TRUE, row_titles[row]);
    if (r->n_in_row[row] == 0)
      text_at (cr, gx, ry + ROW_TITLE_H + 20, 12, FALSE, "(none)");
    for (int i = 0; i < r->n_in_row[row]; i++)
      draw_tile (cr, r, &r->rows[row][i], gx + i * (TILE + TILE_GAP), ry + ROW_TITLE_H);
  }

  cairo_destroy (cr);
  st = cairo_surface_write_to_png (surface, path);
  cairo_surface_destroy (surface);
  g_free (model_base);
  if (st != CAIRO_STATUS_SUCCESS) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_IO, "%s: cannot write the report: %s", path,
        cairo_status_to_string (st));
    return FALSE;
  }
  return TRUE;
}
