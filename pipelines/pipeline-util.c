/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "pipeline-util.h"
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

void
packd_pipeline_json_add_time (JsonBuilder * builder, const gchar * name, GstClockTime time)
{
  json_builder_set_member_name (builder, name);
  if (GST_CLOCK_TIME_IS_VALID (time))
    json_builder_add_int_value (builder, (gint64) time);
  else
    json_builder_add_null_value (builder);
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
