/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "pipeline-util.h"

#include <errno.h>
#include <glib/gstdio.h>

#include "packd-dataset.h"


gchar **
packd_pipeline_split_lists (gchar **lists)
{
  GPtrArray *items = g_ptr_array_new ();

  for (guint i = 0; lists != NULL && lists[i] != NULL; i++) {
    gchar **parts = g_strsplit (lists[i], ",", -1);
    for (guint j = 0; parts[j] != NULL; j++) {
      if (*parts[j] != '\0')
        g_ptr_array_add (items, g_strdup (parts[j]));
    }
    g_strfreev (parts);
  }
  g_ptr_array_add (items, NULL);
  return (gchar **) g_ptr_array_free (items, FALSE);
}

gchar **
packd_pipeline_collect_support (gchar ** lists, const gchar * dir, GError ** error)
{
  gchar **support = packd_pipeline_split_lists (lists), **from_dir, **joined;
  guint n = 0;

  if (dir == NULL)
    return support;
  from_dir = packd_dataset_list_images (dir, error);
  if (from_dir == NULL) {
    g_strfreev (support);
    return NULL;
  }
  joined = g_new0 (gchar *, g_strv_length (support) + g_strv_length (from_dir) + 1);
  for (guint i = 0; support[i] != NULL; i++)
    joined[n++] = support[i];
  for (guint i = 0; from_dir[i] != NULL; i++)
    joined[n++] = from_dir[i];
  /* The strings moved to joined. */
  g_free (support);
  g_free (from_dir);
  return joined;
}

gboolean
packd_pipeline_check_detector (GError ** error)
{
  GstElementFactory *factory = gst_element_factory_find ("packdfilter");

  if (factory == NULL) {
    g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_MISSING_PLUGIN,
        "the packdfilter element is not available: install packd, or run uninstalled "
        "with GST_PLUGIN_PATH=<builddir>/gst-plugin");
    return FALSE;
  }
  gst_object_unref (factory);
  return TRUE;
}

void
packd_pipeline_set_support (GstElement * detector, gchar ** paths)
{
  GValue array = G_VALUE_INIT;

  gst_value_array_init (&array, paths ? g_strv_length (paths) : 0);
  for (guint i = 0; paths != NULL && paths[i] != NULL; i++) {
    GValue path = G_VALUE_INIT;
    g_value_init (&path, G_TYPE_STRING);
    g_value_set_string (&path, paths[i]);
    gst_value_array_append_and_take_value (&array, &path);
  }
  g_object_set_property (G_OBJECT (detector), "support-images", &array);
  g_value_unset (&array);
}

void
packd_pipeline_add_detector_options (GOptionContext * ctx, PackdDetectorOptions * opts)
{
  /* The context copies the entries; the strings are static. */
  const GOptionEntry entries[] = {
    {"support", 's', 0, G_OPTION_ARG_STRING_ARRAY, &opts->support_lists,
        "Support images of good parts (comma-separated, repeatable)", "A.png,B.png"},
    {"support-dir", 'S', 0, G_OPTION_ARG_FILENAME, &opts->support_dir,
        "Use every image in DIR as a support image", "DIR"},
    {"model-file", 'm', 0, G_OPTION_ARG_FILENAME, &opts->model_file,
        "Model file (element default)", "FILE"},
    {"method", 0, 0, G_OPTION_ARG_STRING, &opts->method, "knn or packd (element default)", "M"},
    {"threshold", 't', 0, G_OPTION_ARG_DOUBLE, &opts->threshold,
        "Normalised threshold, 0.5 = calibrated boundary (element default)", "X"},
    {"no-overlay", 0, 0, G_OPTION_ARG_NONE, &opts->no_overlay,
        "Leave the frames without heatmap, boxes and score", NULL},
    {NULL}
  };

  g_option_context_add_main_entries (ctx, entries, NULL);
}

void
packd_pipeline_configure_detector (GstElement * detector, const PackdDetectorOptions * opts,
    gchar ** support)
{
  packd_pipeline_set_support (detector, support);
  g_object_set (detector, "overlay", !opts->no_overlay, NULL);
  if (opts->model_file != NULL)
    g_object_set (detector, "model-file", opts->model_file, NULL);
  if (opts->method != NULL)
    gst_util_set_object_arg (G_OBJECT (detector), "method", opts->method);
  if (opts->threshold >= 0.0)
    g_object_set (detector, "threshold", opts->threshold, NULL);
}

void
packd_pipeline_detector_options_clear (PackdDetectorOptions * opts)
{
  g_clear_pointer (&opts->support_lists, g_strfreev);
  g_clear_pointer (&opts->support_dir, g_free);
  g_clear_pointer (&opts->model_file, g_free);
  g_clear_pointer (&opts->method, g_free);
}

gboolean
packd_pipeline_make_dir (const gchar * path, GError ** error)
{
  if (g_mkdir_with_parents (path, 0755) != 0) {
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
        "cannot create %s: %s", path, g_strerror (errno));
    return FALSE;
  }
  return TRUE;
}

FILE *
packd_pipeline_open_file (const gchar * path, const gchar * mode, GError ** error)
{
  FILE *file = g_fopen (path, mode);

  if (file == NULL)
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
        "cannot write %s: %s", path, g_strerror (errno));
  return file;
}

GError *
packd_pipeline_error_from_message (GstMessage * message)
{
  GError *error = NULL;
  gchar *debug = NULL;
  GError *full;

  gst_message_parse_error (message, &error, &debug);
  full = g_error_new (error->domain, error->code, "%s: %s%s%s%s",
      GST_OBJECT_NAME (GST_MESSAGE_SRC (message)), error->message,
      debug ? "\n  (" : "", debug ? debug : "", debug ? ")" : "");
  g_error_free (error);
  g_free (debug);
  return full;
}

void
packd_pipeline_json_add_regions (JsonBuilder * builder, const gchar * name,
    const GValue * regions)
{
  static const gchar *const fields[] = { "x", "y", "w", "h", "score", NULL };
  guint n = 0;

  if (regions != NULL && GST_VALUE_HOLDS_ARRAY (regions))
    n = gst_value_array_get_size (regions);
  json_builder_set_member_name (builder, name);
  json_builder_begin_array (builder);
  for (guint i = 0; i < n; i++) {
    const GValue *value = gst_value_array_get_value (regions, i);
    const GstStructure *region;

    if (!GST_VALUE_HOLDS_STRUCTURE (value))
      continue;
    region = gst_value_get_structure (value);
    json_builder_begin_object (builder);
    for (guint f = 0; fields[f] != NULL; f++) {
      gdouble v = 0.0;
      gst_structure_get_double (region, fields[f], &v);
      json_builder_set_member_name (builder, fields[f]);
      json_builder_add_double_value (builder, v);
    }
    json_builder_end_object (builder);
  }
  json_builder_end_array (builder);
}

gchar *
packd_pipeline_json_to_line (JsonBuilder * builder)
{
  JsonGenerator *generator = json_generator_new ();
  JsonNode *root = json_builder_get_root (builder);
  gchar *json, *line;

  json_generator_set_root (generator, root);
  json = json_generator_to_data (generator, NULL);
  line = g_strconcat (json, "\n", NULL);
  g_free (json);
  json_node_unref (root);
  g_object_unref (generator);
  return line;
}
