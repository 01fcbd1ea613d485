/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/* packd-inspect-folder: the offline check of saved pictures.  Every image
 * of a folder goes through packdfilter; out come one JSON line per image,
 * annotated PNGs (heatmap, regions, score) and a summary (counts and the
 * worst images).  Images may have any size: each is decoded on its own and
 * pushed into one running pipeline, which renegotiates, so the model and the
 * support set are loaded once. */
#include <stdio.h>
#include <string.h>
#include <gst/app/app.h>
#include <gst/video/video.h>

#include "packd-dataset.h"
#include "packd-imageio.h"
#include "pipeline-util.h"

#define PULL_STEP (100 * GST_MSECOND)

typedef struct {
  gchar *file;
  gchar *annotated;             /* NULL when the image was not analysed */
  gchar *error;
  gdouble score;
  gboolean anomalous;
  guint n_regions;
} InspectResult;

typedef struct {
  GstElement *pipeline;
  GstElement *detector;
  GstAppSrc *src;
  GstAppSink *sink;
  GstBus *bus;
  gchar *annotated_dir;
  GHashTable *annotated_names;
  FILE *results;
} Inspector;

static void
inspect_result_clear (gpointer data)
{
  InspectResult *r = data;
  g_free (r->file);
  g_free (r->annotated);
  g_free (r->error);
}

/* Fails with the pipeline's error if one was posted. */
static gboolean
inspector_check_bus (Inspector * in, GError ** error)
{
  GstMessage *msg = gst_bus_pop_filtered (in->bus, GST_MESSAGE_ERROR);

  if (msg == NULL)
    return TRUE;
  g_propagate_error (error, packd_pipeline_error_from_message (msg));
  gst_message_unref (msg);
  return FALSE;
}

/* An annotated file name from the image's, unique within the run. */
static gchar *
inspector_annotated_path (Inspector * in, const gchar * file)
{
  gchar *base = g_path_get_basename (file);
  gchar *dot = strrchr (base, '.');
  gchar *name;

  if (dot != NULL && dot != base)
    *dot = '\0';
  name = g_strdup_printf ("%s.png", base);
  for (guint n = 2; g_hash_table_contains (in->annotated_names, name); n++) {
    g_free (name);
    name = g_strdup_printf ("%s-%u.png", base, n);
  }
  g_hash_table_add (in->annotated_names, g_strdup (name));
  g_free (base);

  gchar *path = g_build_filename (in->annotated_dir, name, NULL);
  g_free (name);
  return path;
}

static GstSample *
sample_from_rgb (const PackdRgbImage * image, guint index)
{
  GstVideoInfo info;
  GstCaps *caps;
  GstBuffer *buffer;
  GstMapInfo map;
  GstSample *sample;

  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGB, image->width, image->height);
  GST_VIDEO_INFO_FPS_N (&info) = 1;
  GST_VIDEO_INFO_FPS_D (&info) = 1;
  caps = gst_video_info_to_caps (&info);
  buffer = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (&info), NULL);
  gst_buffer_map (buffer, &map, GST_MAP_WRITE);
  /* GStreamer pads RGB rows to 4 bytes, packd-imageio packs them. */
  for (int y = 0; y < image->height; y++)
    memcpy (map.data + y * GST_VIDEO_INFO_PLANE_STRIDE (&info, 0),
        image->rgb + (gsize) y * image->width * 3, (gsize) image->width * 3);
  gst_buffer_unmap (buffer, &map);
  GST_BUFFER_PTS (buffer) = index * GST_SECOND;
  GST_BUFFER_DURATION (buffer) = GST_SECOND;
  sample = gst_sample_new (buffer, caps, NULL, NULL);
  gst_buffer_unref (buffer);
  gst_caps_unref (caps);
  return sample;
}

static gboolean
save_annotated (GstSample * sample, const gchar * path, GError ** error)
{
  GstVideoInfo info;
  GstVideoFrame frame;
  guint8 *rgb;
  gboolean ok;

  if (!gst_video_info_from_caps (&info, gst_sample_get_caps (sample))
      || !gst_video_frame_map (&frame, &info, gst_sample_get_buffer (sample), GST_MAP_READ)) {
    g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FORMAT,
        "annotated frame cannot be mapped");
    return FALSE;
  }
  const gint width = GST_VIDEO_FRAME_WIDTH (&frame), height = GST_VIDEO_FRAME_HEIGHT (&frame);
  rgb = g_malloc ((gsize) width * height * 3);
  for (gint y = 0; y < height; y++)
    memcpy (rgb + (gsize) y * width * 3,
        (const guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&frame, 0)
        + y * GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0), (gsize) width * 3);
  gst_video_frame_unmap (&frame);
  ok = packd_image_save_png (path, rgb, width, height, error);
  g_free (rgb);
  return ok;
}

static void
write_result_line (Inspector * in, const InspectResult * r, const GstStructure * s,
    gint width, gint height)
{
  JsonBuilder *b = json_builder_new ();
  gdouble raw_score = 0.0, threshold = 0.0;
  gchar *line;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "file");
  json_builder_add_string_value (b, r->file);
  if (r->error != NULL) {
    json_builder_set_member_name (b, "error");
    json_builder_add_string_value (b, r->error);
  } else {
    gst_structure_get_double (s, "raw-score", &raw_score);
    gst_structure_get_double (s, "threshold", &threshold);
    json_builder_set_member_name (b, "annotated");
    json_builder_add_string_value (b, r->annotated);
    json_builder_set_member_name (b, "resolution");
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "width");
    json_builder_add_int_value (b, width);
    json_builder_set_member_name (b, "height");
    json_builder_add_int_value (b, height);
    json_builder_end_object (b);
    json_builder_set_member_name (b, "score");
    json_builder_add_double_value (b, r->score);
    json_builder_set_member_name (b, "raw_score");
    json_builder_add_double_value (b, raw_score);
    json_builder_set_member_name (b, "threshold");
    json_builder_add_double_value (b, threshold);
    json_builder_set_member_name (b, "anomalous");
    json_builder_add_boolean_value (b, r->anomalous);
    packd_pipeline_json_add_regions (b, "regions", gst_structure_get_value (s, "regions"));
  }
  json_builder_end_object (b);
  line = packd_pipeline_json_to_line (b);
  fputs (line, in->results);
  g_free (line);
  g_object_unref (b);
}

/* Analyses one image; FALSE only when the pipeline itself failed (an
 * unreadable image is a result with an error). */
static gboolean
inspect_one (Inspector * in, const gchar * file, guint index, InspectResult * r,
    GError ** error)
{
  PackdRgbImage image = { 0 };
  GError *local = NULL;
  GstSample *in_sample, *out = NULL;
  GstCustomMeta *meta;
  const GstStructure *s = NULL;
  gint width = 0, height = 0;

  r->file = g_strdup (file);
  if (!packd_image_load_rgb (file, &image, &local)) {
    r->error = g_strdup (local->message);
    g_printerr ("warning: skipping an image: %s\n", local->message);
    g_clear_error (&local);
    write_result_line (in, r, NULL, 0, 0);
    return TRUE;
  }
  width = image.width;
  height = image.height;
  in_sample = sample_from_rgb (&image, index);
  packd_rgb_image_clear (&image);
  gst_app_src_push_sample (in->src, in_sample);
  gst_sample_unref (in_sample);

  /* One frame in, one frame out: wait for it, watching for errors. */
  while (out == NULL) {
    if (!inspector_check_bus (in, error))
      return FALSE;
    out = gst_app_sink_try_pull_sample (in->sink, PULL_STEP);
    if (out == NULL && gst_app_sink_is_eos (in->sink)) {
      if (inspector_check_bus (in, error))
        g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FAILED,
            "the pipeline ended before %s was analysed", file);
      return FALSE;
    }
  }

  meta = gst_buffer_get_custom_meta (gst_sample_get_buffer (out), "PackdAnomalyMeta");
  if (meta != NULL)
    s = gst_custom_meta_get_structure (meta);
  if (s == NULL || !gst_structure_get_double (s, "score", &r->score)) {
    r->error = g_strdup ("packdfilter attached no result to the frame");
  } else {
    const GValue *regions = gst_structure_get_value (s, "regions");
    gst_structure_get_boolean (s, "anomalous", &r->anomalous);
    r->n_regions = regions && GST_VALUE_HOLDS_ARRAY (regions) ?
        gst_value_array_get_size (regions) : 0;
    r->annotated = inspector_annotated_path (in, file);
    if (!save_annotated (out, r->annotated, &local)) {
      g_propagate_prefixed_error (error, local, "%s: ", r->annotated);
      gst_sample_unref (out);
      return FALSE;
    }
  }
  write_result_line (in, r, s, width, height);
  gst_sample_unref (out);
  return TRUE;
}

static gint
compare_worst_first (gconstpointer a, gconstpointer b)
{
  const InspectResult *ra = *(InspectResult * const *) a, *rb = *(InspectResult * const *) b;
  return (ra->score < rb->score) - (ra->score > rb->score);
}

static gboolean
write_summary (const gchar * path, GArray * results, guint n_worst, gdouble threshold,
    gchar ** support, const gchar * results_path, const gchar * annotated_dir,
    GError ** error)
{
  GPtrArray *analysed = g_ptr_array_new ();
  guint n_anomalous = 0, n_failed = 0;
  JsonBuilder *b = json_builder_new ();
  gchar *line;
  gboolean ok;

  for (guint i = 0; i < results->len; i++) {
    InspectResult *r = &g_array_index (results, InspectResult, i);
    if (r->error != NULL) {
      n_failed++;
      continue;
    }
    n_anomalous += r->anomalous;
    g_ptr_array_add (analysed, r);
  }
  g_ptr_array_sort (analysed, compare_worst_first);

  g_print ("%u images: %u anomalous, %u normal, %u not analysed (threshold %.2f)\n",
      results->len, n_anomalous, analysed->len - n_anomalous, n_failed, threshold);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "images");
  json_builder_add_int_value (b, results->len);
  json_builder_set_member_name (b, "anomalous");
  json_builder_add_int_value (b, n_anomalous);
  json_builder_set_member_name (b, "normal");
  json_builder_add_int_value (b, analysed->len - n_anomalous);
  json_builder_set_member_name (b, "failed");
  json_builder_add_int_value (b, n_failed);
  json_builder_set_member_name (b, "threshold");
  json_builder_add_double_value (b, threshold);
  json_builder_set_member_name (b, "support_images");
  json_builder_begin_array (b);
  for (guint i = 0; support[i] != NULL; i++)
    json_builder_add_string_value (b, support[i]);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "results");
  json_builder_add_string_value (b, results_path);
  json_builder_set_member_name (b, "annotated_dir");
  json_builder_add_string_value (b, annotated_dir);
  json_builder_set_member_name (b, "worst");
  json_builder_begin_array (b);
  if (analysed->len > 0)
    g_print ("worst images:\n");
  for (guint i = 0; i < MIN (n_worst, analysed->len); i++) {
    const InspectResult *r = g_ptr_array_index (analysed, i);
    g_print ("  %.3f %-9s %u regions  %s -> %s\n", r->score,
        r->anomalous ? "ANOMALOUS" : "normal", r->n_regions, r->file, r->annotated);
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "file");
    json_builder_add_string_value (b, r->file);
    json_builder_set_member_name (b, "annotated");
    json_builder_add_string_value (b, r->annotated);
    json_builder_set_member_name (b, "score");
    json_builder_add_double_value (b, r->score);
    json_builder_set_member_name (b, "anomalous");
    json_builder_add_boolean_value (b, r->anomalous);
    json_builder_set_member_name (b, "n_regions");
    json_builder_add_int_value (b, r->n_regions);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_end_object (b);

  line = packd_pipeline_json_to_line (b);
  ok = g_file_set_contents (path, line, -1, error);
  g_free (line);
  g_object_unref (b);
  g_ptr_array_free (analysed, TRUE);
  return ok;
}

static gboolean
inspector_start (Inspector * in, const PackdDetectorOptions * opts, gchar ** support,
    GError ** error)
{
  in->pipeline = gst_parse_launch ("appsrc name=src format=time ! videoconvert "
      "! packdfilter name=detector post-messages=false ! videoconvert "
      "! video/x-raw,format=RGB ! appsink name=sink sync=false", error);
  if (in->pipeline == NULL)
    return FALSE;
  in->detector = gst_bin_get_by_name (GST_BIN (in->pipeline), "detector");
  in->src = GST_APP_SRC (gst_bin_get_by_name (GST_BIN (in->pipeline), "src"));
  in->sink = GST_APP_SINK (gst_bin_get_by_name (GST_BIN (in->pipeline), "sink"));
  in->bus = gst_element_get_bus (in->pipeline);

  packd_pipeline_configure_detector (in->detector, opts, support);

  if (gst_element_set_state (in->pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    if (inspector_check_bus (in, error))
      g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_STATE_CHANGE,
          "the pipeline could not start");
    return FALSE;
  }
  return TRUE;
}

/* drain: end the stream cleanly first (not after an error). */
static void
inspector_stop (Inspector * in, gboolean drain)
{
  if (in->pipeline == NULL)
    return;
  if (drain) {
    GstMessage *msg;
    gst_app_src_end_of_stream (in->src);
    msg = gst_bus_timed_pop_filtered (in->bus, 5 * GST_SECOND,
        GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
    if (msg != NULL)
      gst_message_unref (msg);
  }
  gst_element_set_state (in->pipeline, GST_STATE_NULL);
  gst_object_unref (in->detector);
  gst_object_unref (in->src);
  gst_object_unref (in->sink);
  gst_object_unref (in->bus);
  gst_object_unref (in->pipeline);
}

int
main (int argc, char **argv)
{
  PackdDetectorOptions detector = PACKD_DETECTOR_OPTIONS_INIT;
  gchar *out_dir = NULL;
  gdouble threshold;
  gint n_worst = 5;
  const GOptionEntry entries[] = {
    {"out-dir", 'o', 0, G_OPTION_ARG_FILENAME, &out_dir,
        "Output folder (default packd-inspect-out)", "DIR"},
    {"worst", 'w', 0, G_OPTION_ARG_INT, &n_worst, "Images listed as the worst (5)", "N"},
    {NULL}
  };
  GOptionContext *ctx = g_option_context_new ("FOLDER|IMAGE... - check saved pictures "
      "against a few pictures of good parts");
  GError *error = NULL;
  Inspector in = { 0 };
  GArray *results = g_array_new (FALSE, TRUE, sizeof (InspectResult));
  GPtrArray *inputs = g_ptr_array_new_with_free_func (g_free);
  gchar **support = NULL, *results_path = NULL, *summary_path = NULL;
  int status = 1;

  g_array_set_clear_func (results, inspect_result_clear);
  packd_pipeline_add_detector_options (ctx, &detector);
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    goto out;
  if (argc < 2) {
    g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
        "no folder or image given (see --help)");
    goto out;
  }
  if (!packd_pipeline_check_detector (&error))
    goto out;

  support = packd_pipeline_collect_support (detector.support_lists, detector.support_dir,
      &error);
  if (support == NULL)
    goto out;
  for (int i = 1; i < argc; i++) {
    if (g_file_test (argv[i], G_FILE_TEST_IS_DIR)) {
      gchar **files = packd_dataset_list_images (argv[i], &error);
      if (files == NULL)
        goto out;
      for (guint j = 0; files[j] != NULL; j++)
        g_ptr_array_add (inputs, files[j]);
      g_free (files);
    } else {
      g_ptr_array_add (inputs, g_strdup (argv[i]));
    }
  }
  if (inputs->len == 0) {
    g_set_error (&error, G_FILE_ERROR, G_FILE_ERROR_NOENT, "no images to inspect");
    goto out;
  }

  if (out_dir == NULL)
    out_dir = g_strdup ("packd-inspect-out");
  in.annotated_dir = g_build_filename (out_dir, "annotated", NULL);
  in.annotated_names = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  if (!packd_pipeline_make_dir (in.annotated_dir, &error))
    goto out;
  results_path = g_build_filename (out_dir, "results.jsonl", NULL);
  summary_path = g_build_filename (out_dir, "summary.json", NULL);
  in.results = packd_pipeline_open_file (results_path, "w", &error);
  if (in.results == NULL)
    goto out;

  if (!inspector_start (&in, &detector, support, &error))
    goto out;
  g_print ("inspecting %u images against %u support images\n", inputs->len,
      g_strv_length (support));
  for (guint i = 0; i < inputs->len; i++) {
    g_array_set_size (results, i + 1);
    if (!inspect_one (&in, g_ptr_array_index (inputs, i), i,
            &g_array_index (results, InspectResult, i), &error))
      goto out;
  }
  g_object_get (in.detector, "threshold", &threshold, NULL);
  fflush (in.results);
  if (!write_summary (summary_path, results, MAX (n_worst, 0), threshold, support,
          results_path, in.annotated_dir, &error))
    goto out;
  g_print ("results:   %s\nannotated: %s/\nsummary:   %s\n", results_path,
      in.annotated_dir, summary_path);
  status = 0;

out:
  if (error != NULL)
    g_printerr ("packd-inspect-folder: %s\n", error->message);
  g_clear_error (&error);
  inspector_stop (&in, status == 0);
  if (in.results != NULL)
    fclose (in.results);
  g_free (in.annotated_dir);
  if (in.annotated_names != NULL)
    g_hash_table_unref (in.annotated_names);
  g_array_unref (results);
  g_ptr_array_unref (inputs);
  g_strfreev (support);
  packd_pipeline_detector_options_clear (&detector);
  g_free (out_dir);
  g_free (results_path);
  g_free (summary_path);
  g_option_context_free (ctx);
  return status;
}
