/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <check.h>
#include <math.h>

#include "packd-regions.h"
#include "test-util.h"

#define W 16
#define H 12

static float map[W * H];
static GArray *regions;

static void
setup (void)
{
  for (int i = 0; i < W * H; i++)
    map[i] = 0.1f;
  regions = g_array_new (FALSE, FALSE, sizeof (PackdRegion));
}

static void
teardown (void)
{
  g_array_unref (regions);
}

/* Fills the box [x0, x0+w) x [y0, y0+h) with value. */
static void
fill_box (int x0, int y0, int w, int h, float value)
{
  for (int y = y0; y < y0 + h; y++)
    for (int x = x0; x < x0 + w; x++)
      map[y * W + x] = value;
}

static PackdRegion *
region_at (guint i)
{
  return &g_array_index (regions, PackdRegion, i);
}

START_TEST (test_below_threshold_gives_nothing)
{
  int n = packd_regions_find (map, W, H, 0.5f, 0, 0, 0, regions);
  ck_assert_int_eq (n, 0);
  ck_assert_uint_eq (regions->len, 0);
}
END_TEST

START_TEST (test_single_blob_box_and_peak)
{
  fill_box (4, 3, 5, 2, 0.7f);
  map[4 * W + 6] = 0.95f;       /* the peak, inside the blob */

  int n = packd_regions_find (map, W, H, 0.5f, 0, 0, 0, regions);
  ck_assert_int_eq (n, 1);
  PackdRegion *r = region_at (0);
  ck_assert_float_eq_tol (r->x, 4.0f / W, 1e-6f);
  ck_assert_float_eq_tol (r->y, 3.0f / H, 1e-6f);
  ck_assert_float_eq_tol (r->w, 5.0f / W, 1e-6f);
  ck_assert_float_eq_tol (r->h, 2.0f / H, 1e-6f);
  ck_assert_float_eq_tol (r->score, 0.95f, 1e-6f);
  ck_assert_int_eq (r->n_pixels, 10);
}
END_TEST

START_TEST (test_threshold_is_inclusive)
{
  map[2 * W + 2] = 0.5f;
  ck_assert_int_eq (packd_regions_find (map, W, H, 0.5f, 0, 0, 0, regions), 1);
  ck_assert_int_eq (packd_regions_find (map, W, H, 0.51f, 0, 0, 0, regions), 0);
}
END_TEST

START_TEST (test_diagonal_neighbours_connect)
{
  /* A staircase touching only at corners is one 8-connected component. */
  for (int i = 0; i < 5; i++)
    map[(2 + i) * W + (3 + i)] = 0.8f;

  int n = packd_regions_find (map, W, H, 0.5f, 0, 0, 0, regions);
  ck_assert_int_eq (n, 1);
  ck_assert_int_eq (region_at (0)->n_pixels, 5);
  ck_assert_float_eq_tol (region_at (0)->w, 5.0f / W, 1e-6f);
  ck_assert_float_eq_tol (region_at (0)->h, 5.0f / H, 1e-6f);
}
END_TEST

START_TEST (test_separate_blobs_sorted_by_score)
{
  fill_box (0, 0, 2, 2, 0.6f);
  fill_box (10, 8, 3, 3, 0.9f);
  fill_box (6, 0, 2, 2, 0.75f);

  int n = packd_regions_find (map, W, H, 0.5f, 0, 0, 0, regions);
  ck_assert_int_eq (n, 3);
  ck_assert_float_eq_tol (region_at (0)->score, 0.9f, 1e-6f);
  ck_assert_float_eq_tol (region_at (0)->x, 10.0f / W, 1e-6f);
  ck_assert_float_eq_tol (region_at (1)->score, 0.75f, 1e-6f);
  ck_assert_float_eq_tol (region_at (2)->score, 0.6f, 1e-6f);
}
END_TEST

START_TEST (test_min_size_drops_small_regions)
{
  fill_box (1, 1, 1, 1, 0.9f);  /* 1x1: dropped */
  fill_box (5, 5, 4, 1, 0.8f);  /* 4x1: dropped, too low */
  fill_box (10, 2, 3, 3, 0.7f); /* 3x3: kept */

  int n = packd_regions_find (map, W, H, 0.5f, 2.0f, 2.0f, 0, regions);
  ck_assert_int_eq (n, 1);
  ck_assert_float_eq_tol (region_at (0)->x, 10.0f / W, 1e-6f);
  ck_assert_float_eq_tol (region_at (0)->score, 0.7f, 1e-6f);
}
END_TEST

START_TEST (test_max_regions_keeps_best)
{
  fill_box (0, 0, 1, 1, 0.6f);
  fill_box (4, 4, 1, 1, 0.9f);
  fill_box (8, 8, 1, 1, 0.7f);

  int n = packd_regions_find (map, W, H, 0.5f, 0, 0, 2, regions);
  ck_assert_int_eq (n, 2);
  ck_assert_float_eq_tol (region_at (0)->score, 0.9f, 1e-6f);
  ck_assert_float_eq_tol (region_at (1)->score, 0.7f, 1e-6f);
}
END_TEST

START_TEST (test_appends_and_ignores_nan)
{
  PackdRegion sentinel = { .score = -1.0f };
  g_array_append_val (regions, sentinel);
  map[0] = NAN;
  fill_box (3, 3, 2, 2, 0.8f);

  int n = packd_regions_find (map, W, H, 0.5f, 0, 0, 0, regions);
  ck_assert_int_eq (n, 1);
  ck_assert_uint_eq (regions->len, 2);
  ck_assert_float_eq (region_at (0)->score, -1.0f);
  ck_assert_int_eq (region_at (1)->n_pixels, 4);
}
END_TEST

START_TEST (test_whole_map_region)
{
  int n = packd_regions_find (map, W, H, 0.0f, 0, 0, 0, regions);
  ck_assert_int_eq (n, 1);
  ck_assert_float_eq_tol (region_at (0)->w, 1.0f, 1e-6f);
  ck_assert_float_eq_tol (region_at (0)->h, 1.0f, 1e-6f);
  ck_assert_int_eq (region_at (0)->n_pixels, W * H);
}
END_TEST

static Suite *
regions_suite (void)
{
  Suite *s = suite_create ("regions");
  TCase *tc = tcase_create ("find");

  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_below_threshold_gives_nothing);
  tcase_add_test (tc, test_single_blob_box_and_peak);
  tcase_add_test (tc, test_threshold_is_inclusive);
  tcase_add_test (tc, test_diagonal_neighbours_connect);
  tcase_add_test (tc, test_separate_blobs_sorted_by_score);
  tcase_add_test (tc, test_min_size_drops_small_regions);
  tcase_add_test (tc, test_max_regions_keeps_best);
  tcase_add_test (tc, test_appends_and_ignores_nan);
  tcase_add_test (tc, test_whole_map_region);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  return packd_test_run (regions_suite ());
}
