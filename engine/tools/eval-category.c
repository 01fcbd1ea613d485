/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "eval-category.h"

#include <string.h>

#include "packd-error.h"

const PackdRgbImage *
eval_category_train_image (EvalCategory *c, guint index, GError **error)
{
  PackdRgbImage *img = g_hash_table_lookup (c->train_cache, GUINT_TO_POINTER (index));

  if (img)
    return img;
  img = g_new0 (PackdRgbImage, 1);
  if (!packd_image_load_rgb (c->ds->train[index], img, error)) {
    g_free (img);
    return NULL;
  }
  g_hash_table_insert (c->train_cache, GUINT_TO_POINTER (index), img);
  return img;
}

static void
rgb_image_free (gpointer p)
{
  packd_rgb_image_clear (p);
  g_free (p);
}

const char *
eval_category_test_name (const EvalCategory *c, guint i)
{
  return c->ds->tests[c->test_index[i]].relpath;
}

PackdImage
eval_image_view (const PackdRgbImage *img)
{
  PackdImage out = { img->rgb, img->width, img->height, img->width * 3, PACKD_PIXEL_RGB };
  return out;
}

void
eval_category_free (EvalCategory *c)
{
  if (!c)
    return;
  for (guint i = 0; i < c->n; i++) {
    if (c->images)
      packd_rgb_image_clear (&c->images[i]);
    if (c->masks)
      g_free (c->masks[i]);
  }
  g_free (c->images);
  g_free (c->masks);
  g_free (c->labels);
  g_free (c->test_index);
  g_free (c->raw);
  g_free (c->pixel_note);
  if (c->train_cache)
    g_hash_table_unref (c->train_cache);
  packd_pixel_eval_free (c->pe);
  packd_dataset_free (c->ds);
  g_free (c);
}

static gboolean
is_excluded (const char *exclude, const char *defect)
{
  gboolean found = FALSE;
  char **parts;

  if (!exclude)
    return FALSE;
  parts = g_strsplit (exclude, ",", -1);
  for (int i = 0; parts[i] && !found; i++)
    found = strcmp (parts[i], defect) == 0;
  g_strfreev (parts);
  return found;
}

EvalCategory *
eval_category_load (const char *dir, const char *exclude, int map_size, GError **error)
{
  EvalCategory *c = g_new0 (EvalCategory, 1);
  guint n_masks = 0, n_pos = 0;


  c->ds = packd_dataset_open (dir, error);
  if (!c->ds)
    goto fail;
  c->test_index = g_new (guint, c->ds->n_tests);
  for (guint i = 0; i < c->ds->n_tests; i++)
    if (!is_excluded (exclude, c->ds->tests[i].defect))
      c->test_index[c->n++] = i;
  c->images = g_new0 (PackdRgbImage, c->n);
  c->labels = g_new0 (guint8, c->n);
  c->masks = g_new0 (guint8 *, c->n);
  c->raw = g_new0 (float, c->n);
  c->train_cache = g_hash_table_new_full (NULL, NULL, NULL, rgb_image_free);

  for (guint i = 0; i < c->n; i++) {
    const PackdTestItem *it = &c->ds->tests[c->test_index[i]];

    if (!packd_image_load_rgb (it->path, &c->images[i], error))
      goto fail;
    c->labels[i] = it->defective;
    n_pos += it->defective;
    if (c->ds->has_masks && it->mask_path) {
      PackdRgbImage m = { 0 };

      if (!packd_image_load_rgb (it->mask_path, &m, error))
        goto fail;
      c->masks[i] = g_new (guint8, (gsize) map_size * map_size);
      packd_mask_resize_binary (m.rgb, m.width, m.height, m.width * 3, 3, c->masks[i], map_size);
      packd_rgb_image_clear (&m);
      n_masks++;
    }
  }
  c->n_defective = n_pos;
  if (n_pos == 0 || n_pos == c->n) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_INVALID_ARGUMENT,
        "%s: the test set needs good and defective images (%u of %u defective)",
        c->ds->name, n_pos, c->n);
    goto fail;
  }
  if (!c->ds->has_masks) {
    c->pixel_note = g_strdup ("no ground_truth/ folder: image-level metrics only");
  } else if (n_masks == 0) {
    c->pixel_note = g_strdup ("ground_truth/ has no masks for these test images");
  } else {
    c->pe = packd_pixel_eval_new (map_size, map_size, c->n);
    if (!c->pe) {
      g_set_error (error, PACKD_ERROR, PACKD_ERROR_NO_MEMORY,
          "%s: no memory for %u maps of %dx%d", c->ds->name, c->n, map_size, map_size);
      goto fail;
    }
    for (guint i = 0; i < c->n; i++)
      packd_pixel_eval_set_mask (c->pe, i, c->masks[i]);
  }
  return c;

fail:
  eval_category_free (c);
  return NULL;
}

static int
cmp_by_raw (const void *a, const void *b, void *user)
{
  const float *raw = user;
  float x = raw[*(const guint *) a], y = raw[*(const guint *) b];

  return (x > y) - (x < y);
}

gboolean
eval_grid_collect (EvalGrid *grid, PackdScorer *scorer, const EvalCategory *c, GError **error)
{
  guint *order = g_new (guint, c->n), *good = g_new (guint, c->n), *bad = g_new (guint, c->n);
  guint n_good = 0, n_bad = 0;
  int t = 0;
  gboolean ok = FALSE;

  eval_grid_clear (grid);
  for (guint i = 0; i < c->n; i++)
    order[i] = i;
  g_qsort_with_data (order, c->n, sizeof (guint), cmp_by_raw, c->raw);
  for (guint i = 0; i < c->n; i++) {
    if (c->labels[order[i]])
      bad[n_bad++] = order[i];
    else
      good[n_good++] = order[i];
  }
  /* Rows: good lowest, good highest, defective highest, defective lowest;
   * when a class is small, its two rows share it without repeats. */
  for (int row = 0; row < EVAL_REPORT_ROWS; row++) {
    gboolean defective = row >= 2, from_top = row == 1 || row == 2;
    const guint *list = defective ? bad : good;
    guint n = defective ? n_bad : n_good;
    guint first_n = MIN (EVAL_GRID_PER_ROW, (n + 1) / 2);
    guint count = (row == 0 || row == 2) ? first_n : MIN (EVAL_GRID_PER_ROW, n - first_n);

    grid->n_in_row[row] = count;
    for (guint j = 0; j < count; j++, t++) {
      guint i = from_top ? list[n - 1 - j] : list[j];
      PackdImage img = eval_image_view (&c->images[i]);
      EvalReportTile *tile = &grid->tiles[t];
      PackdResult res;

      if (!packd_scorer_score (scorer, &img, &res, error))
        goto out;
      grid->maps[t] = g_memdup2 (res.map, sizeof (float) * res.map_size * res.map_size);
      tile->name = eval_category_test_name (c, i);
      tile->defective = c->labels[i];
      tile->score = res.score;
      tile->image = &c->images[i];
      tile->map = grid->maps[t];
      tile->mask = c->masks[i];
    }
  }
  ok = TRUE;

out:
  g_free (order);
  g_free (good);
  g_free (bad);
  return ok;
}

void
eval_grid_clear (EvalGrid *grid)
{
  for (int i = 0; i < EVAL_GRID_TILES; i++)
    g_free (grid->maps[i]);
  memset (grid, 0, sizeof *grid);
}
char *
eval_report_path_for (const char *path, const char *category, gboolean several)
{
  const char *dot;

  if (!several)
    return g_strdup (path);
  dot = strrchr (path, '.');
  if (!dot || strchr (dot, G_DIR_SEPARATOR))
    return g_strdup_printf ("%s-%s.png", path, category);
  return g_strdup_printf ("%.*s-%s%s", (int) (dot - path), path, category, dot);
}

char **
eval_resolve_categories (const char *data, const char *categories, GError **error)
{
  char *self_train;
  char **names, **dirs;

  if (!categories) {
    /* --data pointing at one category folder. */
    self_train = g_build_filename (data, "train", "good", NULL);
    if (g_file_test (self_train, G_FILE_TEST_IS_DIR)) {
      g_free (self_train);
      dirs = g_new0 (char *, 2);
      dirs[0] = g_strdup (data);
      return dirs;
    }
    g_free (self_train);
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_INVALID_ARGUMENT,
        "%s is not a category folder: give --category NAME[,NAME] or --category all", data);
    return NULL;
  }
  if (strcmp (categories, "all") == 0)
    names = packd_dataset_list_categories (data, error);
  else
    names = g_strsplit (categories, ",", -1);
  if (!names)
    return NULL;
  dirs = g_new0 (char *, g_strv_length (names) + 1);
  for (int i = 0; names[i]; i++)
    dirs[i] = g_build_filename (data, g_strstrip (names[i]), NULL);
  g_strfreev (names);
  return dirs;
}

char *
eval_model_for_category (const char *pattern, const char *category)
{
  char **parts = g_strsplit (pattern, "%s", -1);
  char *path = g_strjoinv (category, parts);

  g_strfreev (parts);
  return path;
}
