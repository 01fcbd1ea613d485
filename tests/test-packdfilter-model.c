/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/* packdfilter with the shipped model (models/packd-mobilenetv2.safetensors,
 * models/MODEL.md): it is the default model file, its student scores with
 * the support-mean map reference the file asks for (map-reference
 * overrides it), and knn and combined run on the same file. */
#include "packd-scorer.h"
#include "packdfilter-fixtures.h"

/* $PACKD_SHIPPED_MODEL, set by tests/meson.build */
static const gchar *
shipped_model (void)
{
  const gchar *path = g_getenv ("PACKD_SHIPPED_MODEL");
  fail_unless (path != NULL && *path != '\0', "PACKD_SHIPPED_MODEL is not set");
  return path;
}

/* A packdfilter on the default model (model-file left alone). */
static GstElement *
default_filter_new (const gchar * method)
{
  GstElement *filter = gst_element_factory_make ("packdfilter", NULL);

  fail_unless (filter != NULL, "packdfilter not found: check GST_PLUGIN_PATH");
  gst_object_ref_sink (filter);
  gst_util_set_object_arg (G_OBJECT (filter), "method", method);
  set_support (filter, support_checker);
  return filter;
}

GST_START_TEST (test_default_model_is_shipped)
{
  GstElement *filter = default_filter_new ("knn");
  gchar *model = NULL;
  GError *error = NULL;
  PackdScorer *scorer;

  g_object_get (filter, "model-file", &model, NULL);
  fail_unless_equals_string (model, shipped_model ());
  fail_unless (g_file_test (model, G_FILE_TEST_IS_REGULAR), "%s is missing", model);
  /* the file asks for the support-mean reference (MODEL.md) */
  scorer = packd_scorer_new (model, PACKD_METHOD_PACKD, &error);
  fail_unless (scorer != NULL, "%s", error ? error->message : "");
  fail_unless_equals_int (packd_scorer_get_map_reference (scorer),
      PACKD_MAP_REFERENCE_SUPPORT_MEAN);
  packd_scorer_free (scorer);
  g_free (model);
  gst_object_unref (filter);
}

GST_END_TEST;

/* Each method on the default model: the defect scores above a clean frame,
 * and the best region holds the blob. */
static void
check_method_finds_defect (const gchar * method)
{
  GstHarness *h = harness_new (default_filter_new (method));
  GstBuffer *clean = push_frame (h, TEXTURE_CHECKER, 1, FALSE, 0);
  GstBuffer *defect = push_frame (h, TEXTURE_CHECKER, 2, TRUE, 1);
  gdouble clean_score = meta_double (clean, "score");
  gdouble defect_score = meta_double (defect, "score");
  const GValue *regions = meta_regions (defect);

  GST_INFO ("%s: clean %.3f, defect %.3f", method, clean_score, defect_score);
  fail_unless (defect_score > clean_score + 0.05, "%s: defect %.3f vs clean %.3f", method,
      defect_score, clean_score);
  fail_unless (gst_value_array_get_size (regions) >= 1, "%s: no region", method);
  fail_unless (region_contains_blob (regions, 0), "%s: the best region misses the blob", method);
  gst_buffer_unref (clean);
  gst_buffer_unref (defect);
  gst_harness_teardown (h);
}

GST_START_TEST (test_packd_on_default_model)
{
  check_method_finds_defect ("packd");
}

GST_END_TEST;

GST_START_TEST (test_knn_on_default_model)
{
  check_method_finds_defect ("knn");
}

GST_END_TEST;

GST_START_TEST (test_combined_on_default_model)
{
  check_method_finds_defect ("combined");
}

GST_END_TEST;

/* Raw score of one defect frame with method packd and map-reference ref
 * (NULL: the property left at its default). */
static gdouble
packd_raw_score (const gchar * ref)
{
  GstElement *filter = default_filter_new ("packd");
  GstHarness *h;
  GstBuffer *out;
  gdouble raw;

  if (ref)
    gst_util_set_object_arg (G_OBJECT (filter), "map-reference", ref);
  h = harness_new (filter);
  out = push_frame (h, TEXTURE_CHECKER, 2, TRUE, 0);
  raw = meta_double (out, "raw-score");
  gst_buffer_unref (out);
  gst_harness_teardown (h);
  return raw;
}

/* map-reference defaults to the model file's choice and overrides it. */
GST_START_TEST (test_map_reference_property)
{
  GstElement *filter = default_filter_new ("packd");
  gint ref;
  gdouble by_default, mean, none;

  g_object_get (filter, "map-reference", &ref, NULL);
  fail_unless_equals_int (ref, -1);     /* "model" */
  gst_object_unref (filter);

  by_default = packd_raw_score (NULL);
  mean = packd_raw_score ("support-mean");
  none = packd_raw_score ("none");
  GST_INFO ("raw scores: default %g, support-mean %g, none %g", by_default, mean, none);
  fail_unless (by_default == mean, "default %g vs support-mean %g", by_default, mean);
  /* without the reference the support maps are not subtracted: higher */
  fail_unless (none > mean + 0.01, "none %g vs support-mean %g", none, mean);
}

GST_END_TEST;

static Suite *
packdfilter_model_suite (void)
{
  Suite *s = suite_create ("packdfilter-model");
  TCase *tc = tcase_create ("shipped");

  tcase_add_unchecked_fixture (tc, fixtures_setup, fixtures_teardown);
  tcase_add_test (tc, test_default_model_is_shipped);
  tcase_add_test (tc, test_packd_on_default_model);
  tcase_add_test (tc, test_knn_on_default_model);
  tcase_add_test (tc, test_combined_on_default_model);
  tcase_add_test (tc, test_map_reference_property);
  suite_add_tcase (s, tc);
  return s;
}

GST_CHECK_MAIN (packdfilter_model);
