/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "packd-regions.h"

static gint
region_compare_score_desc (gconstpointer a, gconstpointer b)
{
  const PackdRegion *ra = a;
  const PackdRegion *rb = b;

  if (ra->score > rb->score)
    return -1;
  if (ra->score < rb->score)
    return 1;
  return 0;
}

/* Grows the component containing seed with an explicit stack (maps can be
 * large enough to overflow the C stack with recursion) and returns its box. */
static PackdRegion
region_grow (const float *map, int width, int height, float threshold, guint8 *visited,
    int *stack, int seed)
{
  int x0 = seed % width, x1 = x0, y0 = seed / width, y1 = y0;
  float peak = map[seed];
  int n_pixels = 0;
  int top = 0;

  stack[top++] = seed;
  visited[seed] = 1;
  while (top > 0) {
    int p = stack[--top];
    int px = p % width, py = p / width;

    n_pixels++;
    if (map[p] > peak)
      peak = map[p];
    x0 = MIN (x0, px);
    x1 = MAX (x1, px);
    y0 = MIN (y0, py);
    y1 = MAX (y1, py);

    for (int dy = -1; dy <= 1; dy++) {
      int ny = py + dy;
      if (ny < 0 || ny >= height)
        continue;
      for (int dx = -1; dx <= 1; dx++) {
        int nx = px + dx;
        int q = ny * width + nx;
        if (nx < 0 || nx >= width || visited[q] || !(map[q] >= threshold))
          continue;
        visited[q] = 1;
        stack[top++] = q;
      }
    }
  }

  PackdRegion region = {
    .x = (float) x0 / width,
    .y = (float) y0 / height,
    .w = (float) (x1 - x0 + 1) / width,
    .h = (float) (y1 - y0 + 1) / height,
    .score = peak,
    .n_pixels = n_pixels,
  };
  return region;
}

int
packd_regions_find (const float *map, int width, int height, float threshold,
    float min_width, float min_height, int max_regions, GArray *regions)
{
  g_return_val_if_fail (map != NULL && regions != NULL, 0);
  g_return_val_if_fail (width > 0 && height > 0, 0);
  g_return_val_if_fail (g_array_get_element_size (regions) == sizeof (PackdRegion), 0);

  const int n = width * height;
  /* Every pixel is pushed at most once, so n entries always suffice. */
  guint8 *visited = g_malloc0 (n);
  int *stack = g_new (int, n);
  GArray *found = g_array_new (FALSE, FALSE, sizeof (PackdRegion));

  for (int p = 0; p < n; p++) {
    if (visited[p] || !(map[p] >= threshold))
      continue;
    PackdRegion region = region_grow (map, width, height, threshold, visited, stack, p);
    if (region.w * width < min_width || region.h * height < min_height)
      continue;
    g_array_append_val (found, region);
  }

  g_array_sort (found, region_compare_score_desc);
  int n_kept = found->len;
  if (max_regions > 0 && n_kept > max_regions)
    n_kept = max_regions;
  g_array_append_vals (regions, found->data, n_kept);

  g_array_unref (found);
  g_free (stack);
  g_free (visited);
  return n_kept;
}
