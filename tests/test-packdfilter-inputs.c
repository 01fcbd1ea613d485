/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/* packdfilter with bad or odd inputs (docs/bad-inputs.md, element rows):
 * tiny, huge and extreme-aspect frames, frame size changes mid-stream in
 * both modes, a model of another architecture, and support images that are
 * empty, grey, 16-bit or have alpha. */
#include <glib/gstdio.h>
#include <string.h>

#include "packd-safetensors.h"
#include "packdfilter-fixtures.h"
#include "test-util.h"

/* A buffer of width x height BGRx, every byte value. */
static GstBuffer *
frame_new (gint width, gint height, guint index, guint8 value)
{
  gsize size = (gsize) width * height * 4;
  GstBuffer *buffer = gst_buffer_new_allocate (NULL, size, NULL);

  gst_buffer_memset (buffer, 0, value, size);
  GST_BUFFER_PTS (buffer) = frame_pts (index);
  GST_BUFFER_DURATION (buffer) = frame_pts (index + 1) - frame_pts (index);
  return buffer;
}

static void
set_size (GstHarness * h, gint width, gint height)
{
  gchar *caps = g_strdup_printf ("video/x-raw,format=BGRx,width=%d,height=%d,"
      "framerate=30/1", width, height);
  gst_harness_set_src_caps_str (h, caps);
  g_free (caps);
}

static void
check_heatmap_size (GstBuffer * out, gint width, gint height)
{
  gint hw, hh;
  fail_unless (gst_structure_get (meta_of (out), "heatmap-width", G_TYPE_INT, &hw,
          "heatmap-height", G_TYPE_INT, &hh, NULL));
  fail_unless_equals_int (hw, width);
  fail_unless_equals_int (hh, height);
  gdouble score = meta_double (out, "score");
  fail_unless (score >= 0.0 && score <= 1.0, "score %g", score);
}

/* ------------------------------------------------------------------------ */
/* Frames                                                                    */

GST_START_TEST (test_frame_1x1_and_extreme_aspect)
{
  /* Overlay on: the drawing must cope with a single pixel too. */
  GstHarness *h = harness_new (filter_new (support_checker));
  static const gint sizes[][4] = {
    /* width, height, heatmap width, heatmap height (long side 64) */
    {1, 1, 64, 64}, {1, 480, 1, 64}, {640, 1, 64, 1}, {2, 2, 64, 64},
  };

  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++) {
    set_size (h, sizes[i][0], sizes[i][1]);
    GstBuffer *out = gst_harness_push_and_pull (h, frame_new (sizes[i][0], sizes[i][1],
            i, 0x80 + i));
    fail_unless (out != NULL);
    fail_unless (meta_boolean (out, "inferred"));
    check_heatmap_size (out, sizes[i][2], sizes[i][3]);
    gst_buffer_unref (out);
  }
  gst_harness_teardown (h);
}

GST_END_TEST;

/* 16384 x 16384 BGRx is 1 GiB a frame.  The engine samples the frame at its
 * own 256 x 256, so with overlay off only the pages it reads become resident
 * (the frame is not filled here): the test needs no gigabyte of RAM. */
GST_START_TEST (test_frame_16k)
{
  GstElement *filter = filter_new (support_checker);
  GstHarness *h;

  g_object_set (filter, "overlay", FALSE, NULL);
  h = harness_new (filter);
  set_size (h, 16384, 16384);
  GstBuffer *in = gst_buffer_new_allocate (NULL, (gsize) 16384 * 16384 * 4, NULL);
  fail_unless (in != NULL);
  GST_BUFFER_PTS (in) = 0;
  GstBuffer *out = gst_harness_push_and_pull (h, in);
  fail_unless (out != NULL);
  fail_unless (meta_boolean (out, "inferred"));
  check_heatmap_size (out, 64, 64);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* Wider than Cairo's 32767-pixel surfaces: the overlay is not drawn (drawing
 * on Cairo's error surface leaked, found by LSan here), the frame still gets
 * its result. */
GST_START_TEST (test_frame_wider_than_cairo)
{
  GstHarness *h = harness_new (filter_new (support_checker));

  set_size (h, 40000, 2);
  GstBuffer *out = gst_harness_push_and_pull (h, frame_new (40000, 2, 0, 0x40));
  GstMapInfo map;
  fail_unless (out != NULL);
  check_heatmap_size (out, 64, 1);
  /* Not drawn: every byte as pushed. */
  fail_unless (gst_buffer_map (out, &map, GST_MAP_READ));
  for (gsize i = 0; i < map.size; i++)
    fail_unless (map.data[i] == 0x40, "byte %" G_GSIZE_FORMAT " changed", i);
  gst_buffer_unmap (out, &map);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* Caps renegotiated to other sizes between frames (the existing
 * test_caps_change_midstream keeps the byte size); the non-blocking worker
 * keeps one frame copy and must grow it. */
GST_START_TEST (test_caps_renegotiation_sizes)
{
  static const gint sizes[][2] = { {64, 48}, {320, 240}, {1, 1}, {48, 64}, {640, 480} };

  for (int non_blocking = 0; non_blocking < 2; non_blocking++) {
    GstElement *filter = filter_new (support_checker);
    guint with_meta = 0, index = 0;

    g_object_set (filter, "non-blocking", non_blocking, NULL);
    GstHarness *h = harness_new (filter);
    for (guint i = 0; i < G_N_ELEMENTS (sizes); i++) {
      gboolean size_has_meta = FALSE;
      gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
      set_size (h, sizes[i][0], sizes[i][1]);
      /* three frames of each size; non-blocking: then more, until one
       * carries a result (the worker's speed varies: ASan, a busy box) */
      for (int n = 0; n < 3 || (non_blocking && !size_has_meta); n++) {
        GstBuffer *out = gst_harness_push_and_pull (h, frame_new (sizes[i][0], sizes[i][1],
                index++, 0x30 * (n % 3 + 1)));
        fail_unless (out != NULL);
        fail_unless_equals_uint64 (gst_buffer_get_size (out),
            (gsize) sizes[i][0] * sizes[i][1] * 4);
        if (gst_buffer_get_custom_meta (out, "PackdAnomalyMeta") != NULL) {
          with_meta++;
          size_has_meta = TRUE;
          if (!non_blocking) {
            /* Blocking: the result is this frame's, so its aspect. */
            gint hw, hh;
            fail_unless (gst_structure_get (meta_of (out), "heatmap-width", G_TYPE_INT,
                    &hw, "heatmap-height", G_TYPE_INT, &hh, NULL));
            fail_unless_equals_int (sizes[i][0] >= sizes[i][1] ? hw : hh, 64);
          }
        }
        gst_buffer_unref (out);
        if (non_blocking && n >= 2 && !size_has_meta) {
          fail_unless (g_get_monotonic_time () < deadline,
              "no result for %dx%d frames within 60 s", sizes[i][0], sizes[i][1]);
          g_usleep (50 * 1000);
        }
      }
      fail_unless (size_has_meta, "no %dx%d frame carried a result", sizes[i][0], sizes[i][1]);
    }
    if (!non_blocking)
      fail_unless_equals_int (with_meta, index);
    gst_harness_teardown (h);
  }
}

GST_END_TEST;

/* ------------------------------------------------------------------------ */
/* Model and support images                                                  */


GST_START_TEST (test_error_model_other_architecture)
{
  /* A valid safetensors file whose tensors are not a MobileNetV2. */
  gchar *path = g_build_filename (tmpdir, "other-arch.safetensors", NULL);
  PackdSafetensorsWriter *w = packd_safetensors_writer_new ();
  float data[2 * 3 * 3 * 8] = { 0 };
  const int64_t shape[] = { 2, 3, 3, 8 };
  PackdTensor t;
  GError *error = NULL;

  packd_tensor_init (&t, 4, shape, data);
  packd_safetensors_writer_add (w, "encoder.conv1.weight", &t);
  fail_unless (packd_safetensors_writer_save (w, path, &error), "%s",
      error ? error->message : "");
  packd_safetensors_writer_free (w);

  GstElement *filter = filter_new (support_checker);
  g_object_set (filter, "model-file", path, NULL);
  expect_start_error (filter, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS, "MobileNetV2");
  g_unlink (path);
  g_free (path);
}

GST_END_TEST;

/* A support set whose second image is the file `name` holding `len` bytes:
 * the element must refuse to start with an OPEN_READ error naming `text`. */
static void
expect_support_image_refused (const gchar * name, const guint8 * contents, gsize len,
    const gchar * text)
{
  gchar *path = g_build_filename (tmpdir, name, NULL);
  gchar *support[] = { support_checker[0], path, NULL };

  fail_unless (g_file_set_contents (path, (const gchar *) contents, len, NULL));
  expect_start_error (filter_new (support), GST_RESOURCE_ERROR,
      GST_RESOURCE_ERROR_OPEN_READ, text);
  g_unlink (path);
  g_free (path);
}

GST_START_TEST (test_error_zero_byte_support_image)
{
  expect_support_image_refused ("empty.png", NULL, 0, "empty.png");
}

GST_END_TEST;

/* A 54-byte BMP declaring 20000x20000 (400 megapixels): refused from its
 * header, in milliseconds and without allocating its frame. */
GST_START_TEST (test_error_huge_support_image)
{
  guint8 bmp[PACKD_TEST_BMP_HEADER_SIZE];

  packd_test_bmp_header (bmp, 20000, 20000);
  expect_support_image_refused ("huge.bmp", bmp, sizeof bmp, "image too large");
}

GST_END_TEST;

/* Grey, grey + alpha, 16-bit and alpha PNGs (the fuzz seeds, which
 * test-imageio.c decodes pixel-exactly) work as support images. */
GST_START_TEST (test_support_images_grey_16bit_alpha)
{
  static const gchar *names[] = {
    "seed-grey8.png", "seed-grey16.png", "seed-greyalpha8.png", "seed-rgb16.png",
    "seed-rgba8.png", "seed-rgba16.png", "seed-grey.jpg",
  };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
    gchar *path = g_build_filename (IMAGE_CORPUS, names[i], NULL);
    gchar *support[] = { path, NULL };
    GstHarness *h = harness_new (filter_new (support));
    GstBus *bus = harness_bus (h);

    GstBuffer *out = push_frame (h, TEXTURE_CHECKER, 1, FALSE, 0);
    fail_unless (meta_boolean (out, "inferred"), "%s", names[i]);
    gdouble score = meta_double (out, "score");
    fail_unless (score >= 0.0 && score <= 1.0, "%s: score %g", names[i], score);
    fail_if (gst_bus_have_pending (bus) && gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR),
        "%s: error", names[i]);
    gst_buffer_unref (out);
    gst_element_set_bus (h->element, NULL);
    gst_object_unref (bus);
    gst_harness_teardown (h);
    g_free (path);
  }
}

GST_END_TEST;

static Suite *
packdfilter_inputs_suite (void)
{
  Suite *s = suite_create ("packdfilter-inputs");
  TCase *tc = tcase_create ("inputs");

  tcase_add_unchecked_fixture (tc, fixtures_setup, fixtures_teardown);
  tcase_add_test (tc, test_frame_1x1_and_extreme_aspect);
  tcase_add_test (tc, test_frame_16k);
  tcase_add_test (tc, test_frame_wider_than_cairo);
  tcase_add_test (tc, test_caps_renegotiation_sizes);
  tcase_add_test (tc, test_error_model_other_architecture);
  tcase_add_test (tc, test_error_zero_byte_support_image);
  tcase_add_test (tc, test_error_huge_support_image);
  tcase_add_test (tc, test_support_images_grey_16bit_alpha);
  suite_add_tcase (s, tc);
  return s;
}

GST_CHECK_MAIN (packdfilter_inputs);
