/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <check.h>
#include <string.h>

#include "packd-error.h"
#include "packd-dataset.h"
#include "test-util.h"

/* A fake category: empty files are enough, nothing decodes pixels here. */
static char *tmp_root;
static char *cat_dir;

static void
touch (const char *rel)
{
  char *path = g_build_filename (tmp_root, rel, NULL);
  char *dir = g_path_get_dirname (path);

  ck_assert_int_eq (g_mkdir_with_parents (dir, 0755), 0);
  ck_assert (g_file_set_contents (path, "", 0, NULL));
  g_free (dir);
  g_free (path);
}

static void
make_tree (void)
{
  static const char *const files[] = {
    "cat/train/good/005.png", "cat/train/good/001.png", "cat/train/good/010.PNG",
    "cat/train/good/002.jpg", "cat/train/good/003.jpeg", "cat/train/good/notes.txt",
    "cat/train/good/.hidden.png",
    "cat/test/good/000.png", "cat/test/good/001.png",
    "cat/test/crack/000.png", "cat/test/crack/001.png", "cat/test/crack/002.png",
    "cat/test/broken/000.jpg", "cat/test/readme.txt",
    "cat/ground_truth/crack/000_mask.png", "cat/ground_truth/crack/002_mask.png",
    "cat/ground_truth/good/000_mask.png",     /* must not be paired with a good image */
    "nomask/train/good/a.png", "nomask/test/good/b.png", "nomask/test/dent/c.png",
    "notacategory/readme.txt", "loose-file.png",
    NULL
  };
  char *dir;

  tmp_root = packd_test_make_tmp_dir ("dataset");
  for (int i = 0; files[i]; i++)
    touch (files[i]);
  dir = g_build_filename (tmp_root, "cat", "ground_truth", "broken", NULL);
  g_mkdir_with_parents (dir, 0755);
  g_free (dir);
  cat_dir = g_build_filename (tmp_root, "cat", NULL);
}

static void
setup (void)
{
  make_tree ();
}

static void
teardown (void)
{
  packd_test_remove_tree (tmp_root);
  g_clear_pointer (&tmp_root, g_free);
  g_clear_pointer (&cat_dir, g_free);
}

START_TEST (test_scan_category)
{
  static const char *const train[] = { "001.png", "002.jpg", "003.jpeg", "005.png", "010.PNG" };
  static const struct {
    const char *rel, *defect, *mask;
    gboolean defective;
  } tests[] = {
    { "test/broken/000.jpg", "broken", NULL, TRUE },
    { "test/crack/000.png", "crack", "ground_truth/crack/000_mask.png", TRUE },
    { "test/crack/001.png", "crack", NULL, TRUE },
    { "test/crack/002.png", "crack", "ground_truth/crack/002_mask.png", TRUE },
    { "test/good/000.png", "good", NULL, FALSE },
    { "test/good/001.png", "good", NULL, FALSE },
  };
  GError *err = NULL;
  PackdDataset *ds = packd_dataset_open (cat_dir, &err);

  ck_assert_msg (ds != NULL, "%s", err ? err->message : "");
  ck_assert_str_eq (ds->name, "cat");
  ck_assert (ds->has_masks);
  ck_assert_uint_eq (ds->n_train, G_N_ELEMENTS (train));
  for (guint i = 0; i < ds->n_train; i++) {
    char *expect = g_build_filename (cat_dir, "train", "good", train[i], NULL);
    ck_assert_str_eq (ds->train[i], expect);
    g_free (expect);
  }
  ck_assert_ptr_null (ds->train[ds->n_train]);
  ck_assert_uint_eq (ds->n_tests, G_N_ELEMENTS (tests));
  ck_assert_uint_eq (ds->n_defective, 4);
  for (guint i = 0; i < ds->n_tests; i++) {
    const PackdTestItem *it = &ds->tests[i];
    char *path = g_build_filename (cat_dir, tests[i].rel, NULL);

    ck_assert_str_eq (it->relpath, tests[i].rel);
    ck_assert_str_eq (it->path, path);
    ck_assert_str_eq (it->defect, tests[i].defect);
    ck_assert_int_eq (it->defective, tests[i].defective);
    if (tests[i].mask) {
      char *mask = g_build_filename (cat_dir, tests[i].mask, NULL);
      ck_assert_ptr_nonnull (it->mask_path);
      ck_assert_str_eq (it->mask_path, mask);
      g_free (mask);
    } else {
      ck_assert_ptr_null (it->mask_path);
    }
    g_free (path);
  }
  packd_dataset_free (ds);
}
END_TEST

START_TEST (test_category_without_masks_and_trailing_slash)
{
  char *dir = g_strconcat (tmp_root, "/nomask/", NULL);
  PackdDataset *ds = packd_dataset_open (dir, NULL);

  ck_assert_ptr_nonnull (ds);
  ck_assert_str_eq (ds->name, "nomask");
  ck_assert (!ds->has_masks);
  ck_assert_uint_eq (ds->n_tests, 2);
  ck_assert_str_eq (ds->tests[0].defect, "dent");
  ck_assert (ds->tests[0].defective);
  ck_assert_ptr_null (ds->tests[0].mask_path);
  packd_dataset_free (ds);
  g_free (dir);
}
END_TEST

START_TEST (test_missing_dirs_are_errors)
{
  GError *err = NULL;
  char *missing = g_build_filename (tmp_root, "does-not-exist", NULL);
  char *no_train = g_build_filename (tmp_root, "notacategory", NULL);

  ck_assert_ptr_null (packd_dataset_open (missing, &err));
  ck_assert (g_error_matches (err, PACKD_ERROR, PACKD_ERROR_IO));
  g_clear_error (&err);
  ck_assert_ptr_null (packd_dataset_open (no_train, &err));
  ck_assert (g_error_matches (err, PACKD_ERROR, PACKD_ERROR_IO));
  ck_assert (strstr (err->message, "train/good") != NULL);
  g_clear_error (&err);
  ck_assert_ptr_null (packd_dataset_list_categories (missing, &err));
  ck_assert_ptr_nonnull (err);
  g_clear_error (&err);
  g_free (missing);
  g_free (no_train);
}
END_TEST

/* One folder's images (what the pipelines list for --support-dir): images
 * only, hidden files and subfolders skipped, byte order of the names. */
START_TEST (test_list_images)
{
  static const char *const want[] = { "001.png", "002.jpg", "003.jpeg", "005.png", "010.PNG" };
  GError *err = NULL;
  char *good = g_build_filename (cat_dir, "train", "good", NULL);
  char *test = g_build_filename (cat_dir, "test", NULL);
  char *missing = g_build_filename (tmp_root, "does-not-exist", NULL);
  char **paths = packd_dataset_list_images (good, &err);

  ck_assert_msg (paths != NULL, "%s", err ? err->message : "");
  ck_assert_uint_eq (g_strv_length (paths), G_N_ELEMENTS (want));
  for (guint i = 0; i < G_N_ELEMENTS (want); i++) {
    char *expect = g_build_filename (good, want[i], NULL);
    ck_assert_str_eq (paths[i], expect);
    g_free (expect);
  }
  g_strfreev (paths);

  /* test/ holds folders and a text file: no images */
  paths = packd_dataset_list_images (test, &err);
  ck_assert_ptr_nonnull (paths);
  ck_assert_ptr_null (paths[0]);
  g_strfreev (paths);

  ck_assert_ptr_null (packd_dataset_list_images (missing, &err));
  ck_assert_ptr_nonnull (err);
  g_clear_error (&err);
  g_free (missing);
  g_free (test);
  g_free (good);
}
END_TEST

START_TEST (test_list_categories)
{
  GError *err = NULL;
  char **cats = packd_dataset_list_categories (tmp_root, &err);

  ck_assert_msg (cats != NULL, "%s", err ? err->message : "");
  ck_assert_uint_eq (g_strv_length (cats), 2);
  ck_assert_str_eq (cats[0], "cat");
  ck_assert_str_eq (cats[1], "nomask");
  g_strfreev (cats);
}
END_TEST

START_TEST (test_find_train)
{
  PackdDataset *ds = packd_dataset_open (cat_dir, NULL);

  ck_assert_int_eq (packd_dataset_find_train (ds, "005.png"), 3);
  ck_assert_int_eq (packd_dataset_find_train (ds, "train/good/002.jpg"), 1);
  ck_assert_int_eq (packd_dataset_find_train (ds, ds->train[4]), 4);
  /* A test image is never a support candidate. */
  ck_assert_int_eq (packd_dataset_find_train (ds, "test/good/000.png"), -1);
  ck_assert_int_eq (packd_dataset_find_train (ds, "nope.png"), -1);
  packd_dataset_free (ds);
}
END_TEST

START_TEST (test_sampling_matches_numpy)
{
  /* sorted(numpy.random.default_rng(seed).choice(n, k, replace=False)),
   * computed with numpy 1.24 (an independent implementation). */
  static const guint seed0_239_8[] = { 3, 9, 17, 63, 72, 119, 148, 197 };
  guint idx[8];

  ck_assert (packd_sample_without_replacement (239, 8, 0, idx, NULL));
  for (int i = 0; i < 8; i++)
    ck_assert_uint_eq (idx[i], seed0_239_8[i]);
}
END_TEST

START_TEST (test_sampling_properties)
{
  PackdDataset *ds = packd_dataset_open (cat_dir, NULL);
  guint a[8], b[8];
  gboolean some_differ = FALSE;
  GError *err = NULL;

  /* Deterministic per seed, distinct, ascending, in range. */
  for (guint64 seed = 0; seed < 50; seed++) {
    guint n = 10 + seed * 37, k = 1 + seed % 8;

    ck_assert (packd_sample_without_replacement (n, k, seed, a, NULL));
    ck_assert (packd_sample_without_replacement (n, k, seed, b, NULL));
    ck_assert (memcmp (a, b, k * sizeof (guint)) == 0);
    for (guint i = 0; i < k; i++) {
      ck_assert_uint_lt (a[i], n);
      if (i > 0)
        ck_assert_uint_lt (a[i - 1], a[i]);
    }
  }
  /* Different seeds give different draws. */
  ck_assert (packd_sample_without_replacement (239, 4, 0, a, NULL));
  for (guint64 seed = 1; seed < 10; seed++) {
    ck_assert (packd_sample_without_replacement (239, 4, seed, b, NULL));
    some_differ |= memcmp (a, b, 4 * sizeof (guint)) != 0;
  }
  ck_assert (some_differ);
  /* k == n takes everything. */
  ck_assert (packd_sample_without_replacement (5, 5, 3, a, NULL));
  for (guint i = 0; i < 5; i++)
    ck_assert_uint_eq (a[i], i);

  /* Support draws come from train/good only. */
  for (guint64 seed = 0; seed < 10; seed++) {
    char *train_dir = g_build_filename (cat_dir, "train", "good", NULL);

    ck_assert (packd_dataset_sample_support (ds, 2, seed, a, NULL));
    for (int i = 0; i < 2; i++)
      ck_assert (g_str_has_prefix (ds->train[a[i]], train_dir));
    g_free (train_dir);
  }
  ck_assert (!packd_dataset_sample_support (ds, 6, 0, a, &err));
  ck_assert (g_error_matches (err, PACKD_ERROR, PACKD_ERROR_INVALID_ARGUMENT));
  g_clear_error (&err);
  ck_assert (!packd_sample_without_replacement (5, 0, 0, a, &err));
  ck_assert (g_error_matches (err, PACKD_ERROR, PACKD_ERROR_INVALID_ARGUMENT));
  g_clear_error (&err);
  packd_dataset_free (ds);
}
END_TEST

START_TEST (test_mask_resize_binary)
{
  /* 4x4 RGB mask, every row [v, v, 0, 0]; 4 -> 7 with aligned corners
   * samples columns 0, .5, 1, 1.5, 2, 2.5, 3.  At 1.5 the value is v/2:
   * 127.5 > 127 for v = 255 (set), 127 for v = 254 (not set). */
  static const guint8 expect_255[] = { 1, 1, 1, 1, 0, 0, 0 };
  static const guint8 expect_254[] = { 1, 1, 1, 0, 0, 0, 0 };
  guint8 src[4 * 4 * 3], out[7 * 7];

  for (int v = 254; v <= 255; v++) {
    const guint8 *expect = v == 255 ? expect_255 : expect_254;

    memset (src, 0, sizeof src);
    for (int y = 0; y < 4; y++)
      for (int x = 0; x < 2; x++)
        memset (src + (y * 4 + x) * 3, v, 3);
    packd_mask_resize_binary (src, 4, 4, 4 * 3, 3, out, 7);
    for (int y = 0; y < 7; y++)
      for (int x = 0; x < 7; x++)
        ck_assert_uint_eq (out[y * 7 + x], expect[x]);
  }
}
END_TEST

static Suite *
dataset_suite (void)
{
  Suite *s = suite_create ("dataset");
  TCase *tc = tcase_create ("core");

  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_scan_category);
  tcase_add_test (tc, test_category_without_masks_and_trailing_slash);
  tcase_add_test (tc, test_missing_dirs_are_errors);
  tcase_add_test (tc, test_list_images);
  tcase_add_test (tc, test_list_categories);
  tcase_add_test (tc, test_find_train);
  tcase_add_test (tc, test_sampling_matches_numpy);
  tcase_add_test (tc, test_sampling_properties);
  tcase_add_test (tc, test_mask_resize_binary);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  return packd_test_run (dataset_suite ());
}
