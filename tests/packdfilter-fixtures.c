/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "packdfilter-fixtures.h"

#include <glib/gstdio.h>
#include <string.h>

#include "packd-imageio.h"

gchar *tmpdir;
const gchar *teacher;
gchar *support_checker[4];
gchar *support_stripes[4];
gchar *not_an_image;
gchar *corrupt_model;

/* ------------------------------------------------------------------------ */
/* Synthetic frames: a regular texture with per-image noise, and optionally
 * a dark blob (the defect). */

static cairo_surface_t *
texture_new (Texture kind, guint32 seed, gboolean blob)
{
  cairo_surface_t *surface = cairo_image_surface_create (CAIRO_FORMAT_RGB24, WIDTH, HEIGHT);
  cairo_t *cr = cairo_create (surface);

  if (kind == TEXTURE_CHECKER) {
    cairo_set_source_rgb (cr, 0.80, 0.72, 0.55);
    cairo_paint (cr);
    cairo_set_source_rgb (cr, 0.60, 0.50, 0.36);
    for (int y = 0; y < HEIGHT; y += 8)
      for (int x = (y / 8) % 2 * 8; x < WIDTH; x += 16)
        cairo_rectangle (cr, x, y, 8, 8);
    cairo_fill (cr);
  } else {
    cairo_set_source_rgb (cr, 0.92, 0.94, 0.96);
    cairo_paint (cr);
    cairo_set_source_rgb (cr, 0.20, 0.35, 0.75);
    for (int y = 0; y < HEIGHT; y += 6)
      cairo_rectangle (cr, 0, y, WIDTH, 3);
    cairo_fill (cr);
  }
  if (blob) {
    cairo_set_source_rgb (cr, 0.12, 0.08, 0.06);
    cairo_arc (cr, BLOB_X, BLOB_Y, BLOB_R, 0, 2 * G_PI);
    cairo_fill (cr);
  }
  cairo_destroy (cr);

  cairo_surface_flush (surface);
  GRand *rand = g_rand_new_with_seed (seed);
  guint8 *data = cairo_image_surface_get_data (surface);
  const int stride = cairo_image_surface_get_stride (surface);
  for (int y = 0; y < HEIGHT; y++)
    for (int x = 0; x < WIDTH; x++)
      for (int c = 0; c < 3; c++) {
        guint8 *p = data + y * stride + x * 4 + c;
        *p = CLAMP (*p + g_rand_int_range (rand, -6, 7), 0, 255);
      }
  g_rand_free (rand);
  cairo_surface_mark_dirty (surface);
  return surface;
}

GstClockTime
frame_pts (guint index)
{
  return gst_util_uint64_scale_int (index, GST_SECOND, 30);
}

GstBuffer *
texture_buffer (Texture kind, guint32 seed, gboolean blob, guint index)
{
  cairo_surface_t *surface = texture_new (kind, seed, blob);
  const guint8 *data = cairo_image_surface_get_data (surface);
  const int stride = cairo_image_surface_get_stride (surface);
  GstBuffer *buffer = gst_buffer_new_allocate (NULL, WIDTH * HEIGHT * 4, NULL);
  GstMapInfo map;

  fail_unless (gst_buffer_map (buffer, &map, GST_MAP_WRITE));
  for (int y = 0; y < HEIGHT; y++)
    memcpy (map.data + y * WIDTH * 4, data + y * stride, WIDTH * 4);
  gst_buffer_unmap (buffer, &map);
  cairo_surface_destroy (surface);
  GST_BUFFER_PTS (buffer) = frame_pts (index);
  GST_BUFFER_DURATION (buffer) = frame_pts (index + 1) - frame_pts (index);
  return buffer;
}

static gchar *
texture_save_png (Texture kind, guint32 seed, const gchar * name)
{
  cairo_surface_t *surface = texture_new (kind, seed, FALSE);
  const guint8 *data = cairo_image_surface_get_data (surface);
  const int stride = cairo_image_surface_get_stride (surface);
  guint8 *rgb = g_malloc (WIDTH * HEIGHT * 3);
  gchar *path = g_build_filename (tmpdir, name, NULL);
  GError *error = NULL;

  for (int y = 0; y < HEIGHT; y++)
    for (int x = 0; x < WIDTH; x++) {
      guint32 p = *(const guint32 *) (data + y * stride + x * 4);
      guint8 *d = rgb + (y * WIDTH + x) * 3;
      d[0] = p >> 16;
      d[1] = p >> 8;
      d[2] = p;
    }
  fail_unless (packd_image_save_png (path, rgb, WIDTH, HEIGHT, &error), "%s",
      error ? error->message : "");
  g_free (rgb);
  cairo_surface_destroy (surface);
  return path;
}

void
fixtures_setup (void)
{
  teacher = g_getenv ("PACKD_TEACHER");
  fail_unless (teacher != NULL && g_file_test (teacher, G_FILE_TEST_IS_REGULAR),
      "PACKD_TEACHER must name the teacher model (models/import-teacher.sh)");
  tmpdir = g_dir_make_tmp ("packdfilter-XXXXXX", NULL);
  fail_unless (tmpdir != NULL);
  for (int i = 0; i < 3; i++) {
    gchar name[32];
    g_snprintf (name, sizeof (name), "checker%d.png", i);
    support_checker[i] = texture_save_png (TEXTURE_CHECKER, 100 + i, name);
    g_snprintf (name, sizeof (name), "stripes%d.png", i);
    support_stripes[i] = texture_save_png (TEXTURE_STRIPES, 200 + i, name);
  }
  not_an_image = g_build_filename (tmpdir, "notes.png", NULL);
  fail_unless (g_file_set_contents (not_an_image, "not a picture\n", -1, NULL));
  corrupt_model = g_build_filename (tmpdir, "corrupt.safetensors", NULL);
  fail_unless (g_file_set_contents (corrupt_model, "\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":", 13,
          NULL));
}

void
fixtures_teardown (void)
{
  GDir *dir = g_dir_open (tmpdir, 0, NULL);
  const gchar *name;

  while ((name = g_dir_read_name (dir)) != NULL) {
    gchar *path = g_build_filename (tmpdir, name, NULL);
    g_unlink (path);
    g_free (path);
  }
  g_dir_close (dir);
  g_rmdir (tmpdir);
  for (int i = 0; i < 3; i++) {
    g_clear_pointer (&support_checker[i], g_free);
    g_clear_pointer (&support_stripes[i], g_free);
  }
  g_clear_pointer (&not_an_image, g_free);
  g_clear_pointer (&corrupt_model, g_free);
  g_clear_pointer (&tmpdir, g_free);
}

/* ------------------------------------------------------------------------ */
/* Element, harness and meta helpers                                         */

void
set_support (GstElement * filter, gchar ** paths)
{
  GValue array = G_VALUE_INIT;

  g_value_init (&array, GST_TYPE_ARRAY);
  for (int i = 0; paths[i] != NULL; i++) {
    GValue item = G_VALUE_INIT;
    g_value_init (&item, G_TYPE_STRING);
    g_value_set_string (&item, paths[i]);
    gst_value_array_append_and_take_value (&array, &item);
  }
  g_object_set_property (G_OBJECT (filter), "support-images", &array);
  g_value_unset (&array);
}

GstElement *
filter_new (gchar ** support)
{
  GstElement *filter = gst_element_factory_make ("packdfilter", NULL);

  fail_unless (filter != NULL, "packdfilter not found: check GST_PLUGIN_PATH");
  gst_object_ref_sink (filter);
  g_object_set (filter, "model-file", teacher, NULL);
  set_support (filter, support);
  return filter;
}

GstHarness *
harness_new (GstElement * filter)
{
  GstHarness *h = gst_harness_new_with_element (filter, "sink", "src");

  gst_harness_set_src_caps_str (h, CAPS);
  gst_object_unref (filter);
  return h;
}

GstBuffer *
push_frame (GstHarness * h, Texture kind, guint32 seed, gboolean blob, guint index)
{
  GstBuffer *out = gst_harness_push_and_pull (h, texture_buffer (kind, seed, blob, index));
  fail_unless (out != NULL);
  return out;
}

const GstStructure *
meta_of (GstBuffer * buffer)
{
  GstCustomMeta *meta = gst_buffer_get_custom_meta (buffer, "PackdAnomalyMeta");
  fail_unless (meta != NULL, "no PackdAnomalyMeta on the buffer");
  return gst_custom_meta_get_structure (meta);
}

gdouble
meta_double (GstBuffer * buffer, const gchar * field)
{
  gdouble value;
  fail_unless (gst_structure_get_double (meta_of (buffer), field, &value), "no %s", field);
  return value;
}

gboolean
meta_boolean (GstBuffer * buffer, const gchar * field)
{
  gboolean value;
  fail_unless (gst_structure_get_boolean (meta_of (buffer), field, &value), "no %s", field);
  return value;
}

guint64
meta_uint64 (GstBuffer * buffer, const gchar * field)
{
  guint64 value;
  fail_unless (gst_structure_get_uint64 (meta_of (buffer), field, &value), "no %s", field);
  return value;
}

const GValue *
meta_regions (GstBuffer * buffer)
{
  const GValue *regions = gst_structure_get_value (meta_of (buffer), "regions");
  fail_unless (regions != NULL && GST_VALUE_HOLDS_ARRAY (regions));
  return regions;
}

void
region_get (const GValue * regions, guint i, gdouble * x, gdouble * y, gdouble * w,
    gdouble * h, gdouble * score)
{
  const GValue *item = gst_value_array_get_value (regions, i);
  fail_unless (GST_VALUE_HOLDS_STRUCTURE (item));
  fail_unless (gst_structure_get (gst_value_get_structure (item), "x", G_TYPE_DOUBLE, x,
          "y", G_TYPE_DOUBLE, y, "w", G_TYPE_DOUBLE, w, "h", G_TYPE_DOUBLE, h,
          "score", G_TYPE_DOUBLE, score, NULL));
}

gboolean
region_contains_blob (const GValue * regions, guint i)
{
  gdouble x, y, w, h, score;
  region_get (regions, i, &x, &y, &w, &h, &score);
  return x <= BLOB_X / WIDTH && BLOB_X / WIDTH <= x + w
      && y <= BLOB_Y / HEIGHT && BLOB_Y / HEIGHT <= y + h;
}

GstBus *
harness_bus (GstHarness * h)
{
  GstBus *bus = gst_bus_new ();
  gst_element_set_bus (h->element, bus);
  return bus;
}

GList *
pop_element_messages (GstBus * bus, const gchar * name)
{
  GList *found = NULL;
  GstMessage *msg;

  while ((msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT)) != NULL) {
    if (gst_message_has_name (msg, name))
      found = g_list_append (found, msg);
    else
      gst_message_unref (msg);
  }
  return found;
}

guint64
structure_uint64 (const GstStructure * s, const gchar * field)
{
  guint64 value;
  fail_unless (gst_structure_get_uint64 (s, field, &value), "no %s", field);
  return value;
}

void
measure_scores (gdouble * clean, gdouble * defect)
{
  GstHarness *h = harness_new (filter_new (support_checker));
  GstBuffer *out = push_frame (h, TEXTURE_CHECKER, 1, FALSE, 0);
  *clean = meta_double (out, "score");
  gst_buffer_unref (out);
  out = push_frame (h, TEXTURE_CHECKER, 2, TRUE, 1);
  *defect = meta_double (out, "score");
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}

/* Start fails with this error; text is in its message or debug string (the
 * engine's reason goes to the debug string). */
void
expect_start_error (GstElement * filter, GQuark domain, gint code, const gchar * text)
{
  GstBus *bus = gst_bus_new ();
  GstMessage *msg;
  GError *error = NULL;
  gchar *debug = NULL;

  gst_element_set_bus (filter, bus);
  fail_unless_equals_int (gst_element_set_state (filter, GST_STATE_PAUSED),
      GST_STATE_CHANGE_FAILURE);
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL, "no error message");
  gst_message_parse_error (msg, &error, &debug);
  fail_unless (g_error_matches (error, domain, code), "got %s/%d: %s",
      g_quark_to_string (error->domain), error->code, error->message);
  fail_unless (strstr (error->message, text) || (debug && strstr (debug, text)),
      "\"%s\" not in \"%s\" (%s)", text, error->message, debug ? debug : "");
  g_clear_error (&error);
  g_free (debug);
  gst_message_unref (msg);
  fail_unless_equals_int (gst_element_set_state (filter, GST_STATE_NULL),
      GST_STATE_CHANGE_SUCCESS);
  gst_element_set_bus (filter, NULL);
  gst_object_unref (bus);
  gst_object_unref (filter);
}
