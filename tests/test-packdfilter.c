/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include "packdfilter-fixtures.h"

/* ------------------------------------------------------------------------ */
/* Tests                                                                     */

GST_START_TEST (test_caps_accepted_and_refused)
{
  GstHarness *h = harness_new (filter_new (support_checker));
  GstBuffer *out = push_frame (h, TEXTURE_CHECKER, 1, FALSE, 0);
  gst_buffer_unref (out);

  /* BGRA is accepted as well, I420 is not (videoconvert goes in front). */
  gst_harness_set_src_caps_str (h,
      "video/x-raw,format=BGRA,width=128,height=96,framerate=30/1");
  out = push_frame (h, TEXTURE_CHECKER, 1, FALSE, 1);
  fail_unless (gst_buffer_get_custom_meta (out, "PackdAnomalyMeta") != NULL);
  gst_buffer_unref (out);

  gst_harness_set_src_caps_str (h,
      "video/x-raw,format=I420,width=128,height=96,framerate=30/1");
  fail_unless_equals_int (gst_harness_push (h, gst_buffer_new_allocate (NULL,
              WIDTH * HEIGHT * 3 / 2, NULL)), GST_FLOW_NOT_NEGOTIATED);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_caps_change_midstream)
{
  GstHarness *h = harness_new (filter_new (support_checker));
  GstBuffer *out = push_frame (h, TEXTURE_CHECKER, 1, FALSE, 0);
  gint hw, hh;

  gst_buffer_unref (out);
  gst_harness_set_src_caps_str (h,
      "video/x-raw,format=BGRx,width=96,height=128,framerate=30/1");
  /* Same bytes, read as a portrait frame. */
  out = push_frame (h, TEXTURE_CHECKER, 1, FALSE, 1);
  fail_unless (gst_structure_get (meta_of (out), "heatmap-width", G_TYPE_INT, &hw,
          "heatmap-height", G_TYPE_INT, &hh, NULL));
  fail_unless_equals_int (hw, 48);
  fail_unless_equals_int (hh, 64);
  fail_unless (meta_boolean (out, "inferred"));
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_meta_fields_sane)
{
  GstHarness *h = harness_new (filter_new (support_checker));
  GstBuffer *out = push_frame (h, TEXTURE_CHECKER, 1, FALSE, 4);
  const GstStructure *s = meta_of (out);
  gdouble score = meta_double (out, "score");
  gdouble raw = meta_double (out, "raw-score");
  gint hw, hh;

  fail_unless (score >= 0.0 && score <= 1.0, "score %g", score);
  fail_unless (isfinite (raw) && raw >= 0.0, "raw-score %g", raw);
  fail_unless_equals_float (meta_double (out, "threshold"), 0.5);
  fail_unless_equals_int (meta_boolean (out, "anomalous"), score >= 0.5);
  fail_unless (meta_boolean (out, "inferred"));
  fail_unless_equals_uint64 (meta_uint64 (out, "source-pts"), frame_pts (4));
  fail_unless (meta_uint64 (out, "latency") > 0);

  fail_unless (gst_structure_get (s, "heatmap-width", G_TYPE_INT, &hw,
          "heatmap-height", G_TYPE_INT, &hh, NULL));
  fail_unless_equals_int (hw, 64);      /* long side 64, frame aspect */
  fail_unless_equals_int (hh, 48);
  const GValue *heatmap = gst_structure_get_value (s, "heatmap");
  fail_unless (heatmap != NULL && G_VALUE_HOLDS (heatmap, G_TYPE_BYTES));
  gsize size;
  const gfloat *map = g_bytes_get_data (g_value_get_boxed (heatmap), &size);
  fail_unless_equals_int (size, hw * hh * sizeof (gfloat));
  gfloat peak = 0.f;
  for (int i = 0; i < hw * hh; i++) {
    fail_unless (map[i] >= 0.f && map[i] <= 1.f, "heatmap[%d] = %g", i, map[i]);
    peak = MAX (peak, map[i]);
  }
  /* The frame score is the map maximum; the heatmap is a resampled map. */
  fail_unless (fabs (peak - score) < 0.1, "heatmap peak %g, score %g", peak, score);
  meta_regions (out);

  gdouble last_score;
  guint64 analysed;
  g_object_get (h->element, "last-score", &last_score, "frames-analysed", &analysed, NULL);
  fail_unless_equals_float (last_score, score);
  fail_unless_equals_uint64 (analysed, 1);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_defect_scores_higher_with_region)
{
  GstHarness *h = harness_new (filter_new (support_checker));
  GstBuffer *clean = push_frame (h, TEXTURE_CHECKER, 1, FALSE, 0);
  GstBuffer *defect = push_frame (h, TEXTURE_CHECKER, 2, TRUE, 1);
  gdouble clean_score = meta_double (clean, "score");
  gdouble defect_score = meta_double (defect, "score");

  GST_INFO ("clean %.3f, defect %.3f", clean_score, defect_score);
  fail_unless (defect_score > clean_score + 0.1, "defect %.3f vs clean %.3f", defect_score,
      clean_score);
  fail_unless (meta_boolean (defect, "anomalous"), "defect %.3f", defect_score);
  fail_if (meta_boolean (clean, "anomalous"), "clean %.3f", clean_score);

  const GValue *regions = meta_regions (defect);
  fail_unless (gst_value_array_get_size (regions) >= 1);
  /* Regions come best first: the best one is the blob. */
  fail_unless (region_contains_blob (regions, 0));
  gdouble x, y, w, hgt, score;
  region_get (regions, 0, &x, &y, &w, &hgt, &score);
  fail_unless (w < 0.6 && hgt < 0.6, "region %gx%g is not local", w, hgt);
  fail_unless (score > 0.5 && score <= defect_score + 0.05, "region score %g", score);

  gst_buffer_unref (clean);
  gst_buffer_unref (defect);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_coreset_bank_still_finds_defect)
{
  GstElement *filter = filter_new (support_checker);
  gdouble fraction;

  g_object_set (filter, "coreset-fraction", 0.05, NULL);
  g_object_get (filter, "coreset-fraction", &fraction, NULL);
  fail_unless (fabs (fraction - 0.05) < 1e-9, "coreset-fraction read back %g", fraction);

  GstHarness *h = harness_new (filter);
  GstBuffer *clean = push_frame (h, TEXTURE_CHECKER, 1, FALSE, 0);
  GstBuffer *defect = push_frame (h, TEXTURE_CHECKER, 2, TRUE, 1);
  gdouble clean_score = meta_double (clean, "score");
  gdouble defect_score = meta_double (defect, "score");

  /* 5 % of the support positions still cover a regular texture: the blob
   * stands out and the clean frame stays below the calibrated threshold. */
  fail_unless (defect_score > clean_score + 0.1, "defect %.3f vs clean %.3f", defect_score,
      clean_score);
  fail_unless (meta_boolean (defect, "anomalous"), "defect %.3f", defect_score);
  fail_if (meta_boolean (clean, "anomalous"), "clean %.3f", clean_score);
  fail_unless (region_contains_blob (meta_regions (defect), 0));

  gst_buffer_unref (clean);
  gst_buffer_unref (defect);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_roi_meta_in_pixels)
{
  GstHarness *h = harness_new (filter_new (support_checker));
  GstBuffer *out = push_frame (h, TEXTURE_CHECKER, 2, TRUE, 0);
  const GValue *regions = meta_regions (out);
  guint n = gst_value_array_get_size (regions);
  gpointer state = NULL;
  GstMeta *meta;
  guint n_roi = 0;

  fail_unless (n >= 1);
  while ((meta = gst_buffer_iterate_meta_filtered (out, &state,
              GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE)) != NULL) {
    GstVideoRegionOfInterestMeta *roi = (GstVideoRegionOfInterestMeta *) meta;
    gdouble x, y, w, hgt, score;
    region_get (regions, n_roi, &x, &y, &w, &hgt, &score);
    fail_unless_equals_string (g_quark_to_string (roi->roi_type), "anomaly");
    fail_unless (fabs (roi->x - x * WIDTH) <= 1 && fabs (roi->y - y * HEIGHT) <= 1);
    fail_unless (fabs (roi->w - w * WIDTH) <= 1 && fabs (roi->h - hgt * HEIGHT) <= 1);
    fail_unless (gst_video_region_of_interest_meta_get_param (roi, "detection") != NULL);
    n_roi++;
  }
  fail_unless_equals_int (n_roi, n);
  gst_buffer_unref (out);

  g_object_set (h->element, "attach-roi-meta", FALSE, NULL);
  out = push_frame (h, TEXTURE_CHECKER, 2, TRUE, 1);
  fail_unless (gst_buffer_get_video_region_of_interest_meta (out) == NULL);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}

GST_END_TEST;

static gboolean
buffers_equal (GstBuffer * a, GstBuffer * b)
{
  GstMapInfo ma, mb;
  gboolean equal;

  fail_unless (gst_buffer_map (a, &ma, GST_MAP_READ));
  fail_unless (gst_buffer_map (b, &mb, GST_MAP_READ));
  equal = ma.size == mb.size && memcmp (ma.data, mb.data, ma.size) == 0;
  gst_buffer_unmap (a, &ma);
  gst_buffer_unmap (b, &mb);
  return equal;
}

GST_START_TEST (test_overlay_draws_only_when_enabled)
{
  GstElement *filter = filter_new (support_checker);
  GstHarness *h;
  GstBuffer *reference = texture_buffer (TEXTURE_CHECKER, 2, TRUE, 0);
  GstBuffer *out;

  g_object_set (filter, "overlay", FALSE, NULL);
  h = harness_new (filter);
  out = push_frame (h, TEXTURE_CHECKER, 2, TRUE, 0);
  fail_unless (buffers_equal (out, reference), "overlay=false changed the frame");
  gst_buffer_unref (out);

  /* overlay on, but every part off: still untouched */
  g_object_set (h->element, "overlay", TRUE, "draw-heatmap", FALSE, "draw-regions", FALSE,
      "draw-score", FALSE, NULL);
  out = push_frame (h, TEXTURE_CHECKER, 2, TRUE, 1);
  fail_unless (buffers_equal (out, reference));
  gst_buffer_unref (out);

  const gchar *parts[] = { "draw-heatmap", "draw-regions", "draw-score" };
  for (guint i = 0; i < G_N_ELEMENTS (parts); i++) {
    g_object_set (h->element, "draw-heatmap", FALSE, "draw-regions", FALSE,
        "draw-score", FALSE, NULL);
    g_object_set (h->element, parts[i], TRUE, NULL);
    out = push_frame (h, TEXTURE_CHECKER, 2, TRUE, 2 + i);
    fail_if (buffers_equal (out, reference), "%s drew nothing", parts[i]);
    /* The meta is the same whatever is drawn. */
    fail_unless (gst_buffer_get_custom_meta (out, "PackdAnomalyMeta") != NULL);
    gst_buffer_unref (out);
  }
  gst_buffer_unref (reference);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_threshold_change_while_playing)
{
  GstHarness *h = harness_new (filter_new (support_checker));
  GstBuffer *out = push_frame (h, TEXTURE_CHECKER, 1, FALSE, 0);
  gdouble score = meta_double (out, "score");

  fail_unless (score > 0.0 && score < 1.0, "score %g", score);
  gst_buffer_unref (out);

  g_object_set (h->element, "threshold", score / 2, NULL);
  out = push_frame (h, TEXTURE_CHECKER, 1, FALSE, 1);
  fail_unless_equals_float (meta_double (out, "threshold"), score / 2);
  fail_unless (meta_boolean (out, "anomalous"));
  gst_buffer_unref (out);

  g_object_set (h->element, "threshold", (score + 1.0) / 2, NULL);
  out = push_frame (h, TEXTURE_CHECKER, 1, FALSE, 2);
  fail_unless_equals_float (meta_double (out, "threshold"), (score + 1.0) / 2);
  fail_if (meta_boolean (out, "anomalous"));
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_support_swap_while_playing)
{
  GstHarness *h = harness_new (filter_new (support_checker));
  GstBus *bus = harness_bus (h);
  GstBuffer *out = push_frame (h, TEXTURE_STRIPES, 7, FALSE, 0);
  gdouble before = meta_double (out, "score");
  GList *swapped = NULL;
  guint index = 1;

  gst_buffer_unref (out);
  set_support (h->element, support_stripes);
  /* Frames keep flowing (with the old set) while the new one is built. */
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  while (swapped == NULL && g_get_monotonic_time () < deadline) {
    out = push_frame (h, TEXTURE_STRIPES, 7, FALSE, index++);
    meta_double (out, "score");
    gst_buffer_unref (out);
    swapped = pop_element_messages (bus, "packdfilter-support");
  }
  fail_unless (swapped != NULL, "no packdfilter-support message");
  guint n_images;
  fail_unless (gst_structure_get_uint (gst_message_get_structure (swapped->data),
          "n-images", &n_images));
  fail_unless_equals_int (n_images, 3);

  out = push_frame (h, TEXTURE_STRIPES, 7, FALSE, index++);
  gdouble after = meta_double (out, "score");
  GST_INFO ("stripes against checker %.3f, against stripes %.3f", before, after);
  fail_unless (after < before - 0.1, "before %.3f, after %.3f", before, after);
  gst_buffer_unref (out);

  g_list_free_full (swapped, (GDestroyNotify) gst_message_unref);
  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_bad_support_swap_keeps_old_set)
{
  GstHarness *h = harness_new (filter_new (support_checker));
  GstBus *bus = harness_bus (h);
  GstBuffer *out = push_frame (h, TEXTURE_CHECKER, 1, FALSE, 0);
  gdouble before = meta_double (out, "score");
  gchar *missing = g_build_filename (tmpdir, "missing.png", NULL);
  gchar *bad[] = { support_stripes[0], missing, NULL };
  GstMessage *msg;
  GError *error = NULL;

  gst_buffer_unref (out);
  set_support (h->element, bad);
  msg = gst_bus_timed_pop_filtered (bus, 60 * GST_SECOND, GST_MESSAGE_WARNING);
  fail_unless (msg != NULL, "no warning for a bad support set");
  gst_message_parse_warning (msg, &error, NULL);
  fail_unless (g_error_matches (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND),
      "%s", error->message);
  fail_unless (strstr (error->message, "missing.png") != NULL, "%s", error->message);
  g_clear_error (&error);
  gst_message_unref (msg);

  out = push_frame (h, TEXTURE_CHECKER, 1, FALSE, 1);
  fail_unless (fabs (meta_double (out, "score") - before) < 1e-4, "the support set changed");
  gst_buffer_unref (out);

  g_free (missing);
  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_anomaly_begin_end_messages)
{
  gdouble clean, defect;
  measure_scores (&clean, &defect);
  fail_unless (defect > clean);

  GstElement *filter = filter_new (support_checker);
  g_object_set (filter, "threshold", (clean + defect) / 2, "alert-min-frames", 2,
      "alert-hold-time", (guint64) 90 * GST_MSECOND, NULL);
  GstHarness *h = harness_new (filter);
  GstBus *bus = harness_bus (h);
  /* C D C D D D C C C C: one anomalous frame alone does not begin an
   * episode; two do (at 3); the end comes 90 ms after the last one (at 8). */
  const gboolean pattern[] = { 0, 1, 0, 1, 1, 1, 0, 0, 0, 0 };
  for (guint i = 0; i < G_N_ELEMENTS (pattern); i++)
    gst_buffer_unref (push_frame (h, TEXTURE_CHECKER, 1, pattern[i], i));

  GList *messages = pop_element_messages (bus, "packdfilter-anomaly");
  fail_unless_equals_int (g_list_length (messages), 2);
  const GstStructure *begin = gst_message_get_structure (messages->data);
  const GstStructure *end = gst_message_get_structure (messages->next->data);
  guint64 frames;
  gdouble peak;

  fail_unless_equals_string (gst_structure_get_string (begin, "state"), "begin");
  fail_unless_equals_uint64 (structure_uint64 (begin, "running-time"), frame_pts (4));
  fail_unless_equals_uint64 (structure_uint64 (begin, "timestamp"), frame_pts (4));
  fail_unless_equals_string (gst_structure_get_string (end, "state"), "end");
  fail_unless_equals_uint64 (structure_uint64 (end, "running-time"), frame_pts (8));
  fail_unless (gst_structure_get_uint64 (end, "frames", &frames));
  fail_unless_equals_uint64 (frames, 6);        /* 3..8 */
  fail_unless (gst_structure_get_double (end, "score", &peak));
  fail_unless (fabs (peak - defect) < 1e-4, "peak %g, defect %g", peak, defect);
  guint n_regions;
  fail_unless (gst_structure_get_uint (end, "n-regions", &n_regions));
  fail_unless (n_regions >= 1);

  g_list_free_full (messages, (GDestroyNotify) gst_message_unref);
  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_anomaly_end_at_eos)
{
  GstElement *filter = filter_new (support_checker);
  g_object_set (filter, "threshold", 0.0, NULL);        /* everything anomalous */
  GstHarness *h = harness_new (filter);
  GstBus *bus = harness_bus (h);

  gst_buffer_unref (push_frame (h, TEXTURE_CHECKER, 1, FALSE, 0));
  gst_buffer_unref (push_frame (h, TEXTURE_CHECKER, 1, FALSE, 1));
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  GList *messages = pop_element_messages (bus, "packdfilter-anomaly");
  fail_unless_equals_int (g_list_length (messages), 2);
  fail_unless_equals_string (gst_structure_get_string (gst_message_get_structure
          (messages->next->data), "state"), "end");

  g_list_free_full (messages, (GDestroyNotify) gst_message_unref);
  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_frame_messages)
{
  GstElement *filter = filter_new (support_checker);
  g_object_set (filter, "post-all-frames", TRUE, "inference-interval", 2, NULL);
  GstHarness *h = harness_new (filter);
  GstBus *bus = harness_bus (h);
  gdouble scores[10];
  guint n_scores = 0;

  for (guint i = 0; i < 10; i++) {
    GstBuffer *out = push_frame (h, TEXTURE_CHECKER, 1 + i, i == 4, i);
    if (meta_boolean (out, "inferred"))
      scores[n_scores++] = meta_double (out, "score");
    gst_buffer_unref (out);
  }
  fail_unless_equals_int (n_scores, 5);

  /* One message per analysed frame, none for the skipped ones. */
  GList *frames = pop_element_messages (bus, "packdfilter-frame");
  fail_unless_equals_int (g_list_length (frames), n_scores);
  guint i = 0;
  for (GList * l = frames; l != NULL; l = l->next, i++) {
    const GstStructure *s = gst_message_get_structure (l->data);
    gdouble score;
    fail_unless (gst_structure_get_double (s, "score", &score));
    fail_unless_equals_float (score, scores[i]);
    fail_unless_equals_uint64 (structure_uint64 (s, "running-time"), frame_pts (2 * i));
  }
  g_list_free_full (frames, (GDestroyNotify) gst_message_unref);

  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_stats_messages)
{
  GstElement *filter = filter_new (support_checker);
  g_object_set (filter, "stats-interval", (guint64) 100 * GST_MSECOND,
      "inference-interval", 2, NULL);
  GstHarness *h = harness_new (filter);
  GstBus *bus = harness_bus (h);

  for (guint i = 0; i < 10; i++)
    gst_buffer_unref (push_frame (h, TEXTURE_CHECKER, 1, FALSE, i));

  /* Periods end at frames 3 (100 ms), 6 and 9. */
  GList *stats = pop_element_messages (bus, "packdfilter-stats");
  fail_unless_equals_int (g_list_length (stats), 3);
  const GstStructure *s = gst_message_get_structure (g_list_last (stats)->data);
  gdouble fps;
  fail_unless_equals_uint64 (structure_uint64 (s, "running-time"), frame_pts (9));
  fail_unless_equals_uint64 (structure_uint64 (s, "frames-analysed"), 5);
  fail_unless_equals_uint64 (structure_uint64 (s, "frames-skipped"), 5);
  fail_unless (gst_structure_get_double (s, "fps", &fps) && fps > 0);
  fail_unless (structure_uint64 (s, "latency-avg") > 0);
  fail_unless (structure_uint64 (s, "latency-max") >= structure_uint64 (s, "latency-avg"));

  g_list_free_full (stats, (GDestroyNotify) gst_message_unref);
  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_inference_interval_holds_result)
{
  GstElement *filter = filter_new (support_checker);
  g_object_set (filter, "inference-interval", 3, NULL);
  GstHarness *h = harness_new (filter);
  guint64 analysed, skipped;

  for (guint i = 0; i < 6; i++) {
    GstBuffer *out = push_frame (h, TEXTURE_CHECKER, 1, FALSE, i);
    fail_unless_equals_int (meta_boolean (out, "inferred"), i % 3 == 0);
    fail_unless_equals_uint64 (meta_uint64 (out, "source-pts"), frame_pts (i - i % 3));
    gst_buffer_unref (out);
  }
  g_object_get (h->element, "frames-analysed", &analysed, "frames-skipped", &skipped, NULL);
  fail_unless_equals_uint64 (analysed, 2);
  fail_unless_equals_uint64 (skipped, 4);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_non_blocking_attaches_stale_results)
{
  GstElement *filter = filter_new (support_checker);
  g_object_set (filter, "non-blocking", TRUE, NULL);
  GstHarness *h = harness_new (filter);
  GstBuffer *out = push_frame (h, TEXTURE_CHECKER, 1, FALSE, 0);
  guint index = 1;

  /* The worker cannot be done before the first frame leaves. */
  fail_unless (gst_buffer_get_custom_meta (out, "PackdAnomalyMeta") == NULL);
  gst_buffer_unref (out);

  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  GstCustomMeta *meta = NULL;
  while (meta == NULL && g_get_monotonic_time () < deadline) {
    g_usleep (5000);
    out = push_frame (h, TEXTURE_CHECKER, 1, FALSE, index++);
    meta = gst_buffer_get_custom_meta (out, "PackdAnomalyMeta");
    if (meta == NULL)
      gst_buffer_unref (out);
  }
  fail_unless (meta != NULL, "no result from the worker");
  fail_if (meta_boolean (out, "inferred"));
  fail_unless (meta_uint64 (out, "source-pts") < GST_BUFFER_PTS (out));
  gst_buffer_unref (out);

  guint64 skipped;
  g_object_get (h->element, "frames-skipped", &skipped, NULL);
  fail_unless (skipped > 0);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_non_blocking_eos_reports_last_result)
{
  gchar *location = g_build_filename (tmpdir, "nonblocking.jsonl", NULL);
  GstElement *filter = filter_new (support_checker);
  g_object_set (filter, "non-blocking", TRUE, "json-location", location, NULL);
  GstHarness *h = harness_new (filter);
  guint64 analysed, skipped;
  const guint n_frames = 8;

  for (guint i = 0; i < n_frames; i++) {
    gst_buffer_unref (push_frame (h, TEXTURE_CHECKER, 1, FALSE, i));
    g_usleep (2000);
  }
  /* EOS waits for the frame in flight: every submitted frame is reported. */
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  g_object_get (h->element, "frames-analysed", &analysed, "frames-skipped", &skipped, NULL);
  fail_unless (analysed >= 1);
  fail_unless_equals_uint64 (analysed + skipped, n_frames);
  gst_harness_teardown (h);

  gchar *contents;
  fail_unless (g_file_get_contents (location, &contents, NULL, NULL));
  gchar **lines = g_strsplit (contents, "\n", -1);
  fail_unless_equals_int (g_strv_length (lines) - 1, analysed);
  g_strfreev (lines);
  g_free (contents);
  g_free (location);
}

GST_END_TEST;

static JsonObject *
json_line_object (JsonParser * parser, const gchar * line)
{
  GError *error = NULL;
  fail_unless (json_parser_load_from_data (parser, line, -1, &error), "%s: %s", line,
      error ? error->message : "");
  JsonNode *root = json_parser_get_root (parser);
  fail_unless (JSON_NODE_HOLDS_OBJECT (root));
  return json_node_get_object (root);
}

GST_START_TEST (test_json_lines_match_meta)
{
  gchar *location = g_build_filename (tmpdir, "out.jsonl", NULL);
  GstElement *filter = filter_new (support_checker);
  g_object_set (filter, "json-location", location, NULL);
  GstHarness *h = harness_new (filter);
  GstBuffer *outs[3];

  for (guint i = 0; i < 3; i++)
    outs[i] = push_frame (h, TEXTURE_CHECKER, 1 + i, i == 1, i);
  gst_harness_teardown (h);     /* closes the file */

  gchar *contents;
  fail_unless (g_file_get_contents (location, &contents, NULL, NULL));
  gchar **lines = g_strsplit (contents, "\n", -1);
  fail_unless_equals_int (g_strv_length (lines), 4);    /* + empty after the last \n */
  fail_unless_equals_string (lines[3], "");

  JsonParser *parser = json_parser_new ();
  for (guint i = 0; i < 3; i++) {
    JsonObject *o = json_line_object (parser, lines[i]);
    GstBuffer *b = outs[i];
    fail_unless_equals_int (json_object_get_int_member (o, "timestamp"),
        meta_uint64 (b, "source-pts"));
    fail_unless_equals_int (json_object_get_int_member (o, "running_time"), frame_pts (i));
    fail_unless_equals_int (json_object_get_int_member (o, "frame"), i);
    JsonObject *res = json_object_get_object_member (o, "resolution");
    fail_unless_equals_int (json_object_get_int_member (res, "width"), WIDTH);
    fail_unless_equals_int (json_object_get_int_member (res, "height"), HEIGHT);
    fail_unless_equals_float (json_object_get_double_member (o, "score"),
        meta_double (b, "score"));
    fail_unless_equals_float (json_object_get_double_member (o, "raw_score"),
        meta_double (b, "raw-score"));
    fail_unless_equals_float (json_object_get_double_member (o, "threshold"),
        meta_double (b, "threshold"));
    fail_unless_equals_int (json_object_get_boolean_member (o, "anomalous"),
        meta_boolean (b, "anomalous"));
    fail_unless_equals_int (json_object_get_boolean_member (o, "inferred"),
        meta_boolean (b, "inferred"));
    fail_unless_equals_int (json_object_get_boolean_member (o, "stale"),
        !meta_boolean (b, "inferred"));
    fail_unless (fabs (json_object_get_double_member (o, "latency_ms") -
            meta_uint64 (b, "latency") / 1e6) < 1e-6);

    JsonArray *jregions = json_object_get_array_member (o, "regions");
    const GValue *regions = meta_regions (b);
    fail_unless_equals_int (json_array_get_length (jregions),
        gst_value_array_get_size (regions));
    for (guint r = 0; r < json_array_get_length (jregions); r++) {
      JsonObject *jr = json_array_get_object_element (jregions, r);
      gdouble x, y, w, hgt, score;
      region_get (regions, r, &x, &y, &w, &hgt, &score);
      fail_unless_equals_float (json_object_get_double_member (jr, "x"), x);
      fail_unless_equals_float (json_object_get_double_member (jr, "y"), y);
      fail_unless_equals_float (json_object_get_double_member (jr, "w"), w);
      fail_unless_equals_float (json_object_get_double_member (jr, "h"), hgt);
      fail_unless_equals_float (json_object_get_double_member (jr, "score"), score);
    }
    gst_buffer_unref (b);
  }
  g_object_unref (parser);
  g_strfreev (lines);
  g_free (contents);
  g_free (location);
}

GST_END_TEST;


GST_START_TEST (test_error_missing_model)
{
  GstElement *filter = filter_new (support_checker);
  g_object_set (filter, "model-file", "/nonexistent/teacher.safetensors", NULL);
  expect_start_error (filter, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND,
      "/nonexistent/teacher.safetensors");
}

GST_END_TEST;

GST_START_TEST (test_error_corrupt_model)
{
  GstElement *filter = filter_new (support_checker);
  g_object_set (filter, "model-file", corrupt_model, NULL);
  expect_start_error (filter, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_OPEN_READ,
      corrupt_model);
}

GST_END_TEST;

GST_START_TEST (test_error_packd_method_needs_packd_model)
{
  GstElement *filter = filter_new (support_checker);
  gst_util_set_object_arg (G_OBJECT (filter), "method", "packd");
  expect_start_error (filter, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS, "packd");
}

GST_END_TEST;

GST_START_TEST (test_error_combined_method_needs_packd_model)
{
  GstElement *filter = filter_new (support_checker);
  gst_util_set_object_arg (G_OBJECT (filter), "method", "combined");
  expect_start_error (filter, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS, "combined");
}

GST_END_TEST;

GST_START_TEST (test_error_missing_support_image)
{
  gchar *missing = g_build_filename (tmpdir, "gone.png", NULL);
  gchar *paths[] = { support_checker[0], missing, NULL };
  GstElement *filter = filter_new (paths);
  expect_start_error (filter, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND, "gone.png");
  g_free (missing);
}

GST_END_TEST;

GST_START_TEST (test_error_unreadable_support_image)
{
  gchar *paths[] = { support_checker[0], not_an_image, NULL };
  GstElement *filter = filter_new (paths);
  expect_start_error (filter, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_OPEN_READ, "notes.png");
}

GST_END_TEST;

GST_START_TEST (test_error_no_support_images)
{
  gchar *paths[] = { NULL };
  GstElement *filter = filter_new (paths);
  expect_start_error (filter, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
      "support-images");
}

GST_END_TEST;

GST_START_TEST (test_support_images_property_round_trip)
{
  GstElement *filter = filter_new (support_checker);
  GValue value = G_VALUE_INIT;

  g_value_init (&value, GST_TYPE_ARRAY);
  g_object_get_property (G_OBJECT (filter), "support-images", &value);
  fail_unless_equals_int (gst_value_array_get_size (&value), 3);
  fail_unless_equals_string (g_value_get_string (gst_value_array_get_value (&value, 2)),
      support_checker[2]);
  g_value_unset (&value);

  /* The gst-launch syntax. */
  gst_util_set_object_arg (G_OBJECT (filter), "support-images", "<a.png,\"b c.jpg\">");
  g_value_init (&value, GST_TYPE_ARRAY);
  g_object_get_property (G_OBJECT (filter), "support-images", &value);
  fail_unless_equals_int (gst_value_array_get_size (&value), 2);
  fail_unless_equals_string (g_value_get_string (gst_value_array_get_value (&value, 1)),
      "b c.jpg");
  g_value_unset (&value);
  gst_object_unref (filter);
}

GST_END_TEST;

static Suite *
packdfilter_suite (void)
{
  Suite *s = suite_create ("packdfilter");
  TCase *tc = tcase_create ("general");

  tcase_add_unchecked_fixture (tc, fixtures_setup, fixtures_teardown);
  tcase_add_test (tc, test_caps_accepted_and_refused);
  tcase_add_test (tc, test_caps_change_midstream);
  tcase_add_test (tc, test_meta_fields_sane);
  tcase_add_test (tc, test_defect_scores_higher_with_region);
  tcase_add_test (tc, test_coreset_bank_still_finds_defect);
  tcase_add_test (tc, test_roi_meta_in_pixels);
  tcase_add_test (tc, test_overlay_draws_only_when_enabled);
  tcase_add_test (tc, test_threshold_change_while_playing);
  tcase_add_test (tc, test_support_swap_while_playing);
  tcase_add_test (tc, test_bad_support_swap_keeps_old_set);
  tcase_add_test (tc, test_anomaly_begin_end_messages);
  tcase_add_test (tc, test_anomaly_end_at_eos);
  tcase_add_test (tc, test_frame_messages);
  tcase_add_test (tc, test_stats_messages);
  tcase_add_test (tc, test_inference_interval_holds_result);
  tcase_add_test (tc, test_non_blocking_attaches_stale_results);
  tcase_add_test (tc, test_non_blocking_eos_reports_last_result);
  tcase_add_test (tc, test_json_lines_match_meta);
  tcase_add_test (tc, test_error_missing_model);
  tcase_add_test (tc, test_error_corrupt_model);
  tcase_add_test (tc, test_error_packd_method_needs_packd_model);
  tcase_add_test (tc, test_error_combined_method_needs_packd_model);
  tcase_add_test (tc, test_error_missing_support_image);
  tcase_add_test (tc, test_error_unreadable_support_image);
  tcase_add_test (tc, test_error_no_support_images);
  tcase_add_test (tc, test_support_images_property_round_trip);
  suite_add_tcase (s, tc);
  return s;
}

GST_CHECK_MAIN (packdfilter);
