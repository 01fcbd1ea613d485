/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <cairo.h>
#include <check.h>
#include <gio/gio.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "packd-error.h"
#include "packd-imageio.h"
#include "test-util.h"

static char *tmpdir;

static void
setup (void)
{
  tmpdir = packd_test_make_tmp_dir ("imageio");
}

static void
teardown (void)
{
  packd_test_remove_tree (tmpdir);
  g_clear_pointer (&tmpdir, g_free);
}

static char *
tmp_path (const char *name)
{
  return g_build_filename (tmpdir, name, NULL);
}

static guint8 *
random_bytes (gsize n, guint32 seed)
{
  GRand *r = g_rand_new_with_seed (seed);
  guint8 *p = g_malloc (n);
  for (gsize i = 0; i < n; i++)
    p[i] = g_rand_int_range (r, 0, 256);
  g_rand_free (r);
  return p;
}

/* Encodes one frame of packed pixels (bpp bytes per pixel, no row padding)
 * with `encoder` into `path`, independently of the code under test. */
static void
gst_encode (const char *format, const guint8 *pixels, int bpp, int width, int height,
    const char *encoder, const char *path)
{
  if (!gst_is_initialized ())
    gst_init (NULL, NULL);
  GstVideoInfo info;
  gst_video_info_set_format (&info, gst_video_format_from_string (format), width, height);
  GstBuffer *buf = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (&info), NULL);
  gst_buffer_memset (buf, 0, 0, GST_VIDEO_INFO_SIZE (&info));   /* row padding */
  GstVideoFrame frame;
  ck_assert (gst_video_frame_map (&frame, &info, buf, GST_MAP_WRITE));
  for (int y = 0; y < height; y++)
    memcpy ((guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&frame, 0) +
        y * GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0), pixels + y * width * bpp, width * bpp);
  gst_video_frame_unmap (&frame);

  g_autofree char *desc = g_strdup_printf ("appsrc name=src format=time ! %s ! filesink name=sink",
      encoder);
  GstElement *pipeline = gst_parse_launch (desc, NULL);
  ck_assert_ptr_nonnull (pipeline);
  GstElement *src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  g_object_set (sink, "location", path, NULL);
  GstCaps *caps = gst_video_info_to_caps (&info);
  gst_caps_set_simple (caps, "framerate", GST_TYPE_FRACTION, 0, 1, NULL);
  g_object_set (src, "caps", caps, NULL);
  gst_caps_unref (caps);
  GST_BUFFER_PTS (buf) = 0;
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  ck_assert_int_eq (gst_app_src_push_buffer (GST_APP_SRC (src), buf), GST_FLOW_OK);
  gst_app_src_end_of_stream (GST_APP_SRC (src));
  GstBus *bus = gst_element_get_bus (pipeline);
  GstMessage *msg = gst_bus_timed_pop_filtered (bus, 10 * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  ck_assert_ptr_nonnull (msg);
  ck_assert_int_eq (GST_MESSAGE_TYPE (msg), GST_MESSAGE_EOS);
  gst_message_unref (msg);
  gst_object_unref (bus);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (src);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
}

/* A minimal PNG writer for what neither Cairo nor pngenc can write:
 * 16-bit RGB (3 channels) and RGBA (4). */
static guint32
png_crc (const guint8 *p, gsize n, guint32 crc)
{
  for (gsize i = 0; i < n; i++) {
    crc ^= p[i];
    for (int k = 0; k < 8; k++)
      crc = (crc >> 1) ^ (0xedb88320u & -(crc & 1));
  }
  return crc;
}

static void
png_chunk (GByteArray *png, const char *type, const guint8 *data, guint32 len)
{
  guint32 be = GUINT32_TO_BE (len);
  g_byte_array_append (png, (guint8 *) &be, 4);
  g_byte_array_append (png, (const guint8 *) type, 4);
  if (len)
    g_byte_array_append (png, data, len);
  guint32 crc = png_crc ((const guint8 *) type, 4, 0xffffffffu);
  crc = png_crc (data, len, crc) ^ 0xffffffffu;
  be = GUINT32_TO_BE (crc);
  g_byte_array_append (png, (guint8 *) &be, 4);
}

/* A PNG file: the IHDR of a w x h image of bit depth `depth` and colour
 * type `colour`, one IDAT holding `raw` (filtered rows) compressed, IEND.
 * `raw` may hold fewer rows than h (a header-only bomb). */
static void
write_png (const char *path, guint32 w, guint32 h, int depth, int colour, const guint8 *raw,
    gsize raw_len)
{
  GOutputStream *mem = g_memory_output_stream_new_resizable ();
  GZlibCompressor *zlib = g_zlib_compressor_new (G_ZLIB_COMPRESSOR_FORMAT_ZLIB, -1);
  GOutputStream *z = g_converter_output_stream_new (mem, G_CONVERTER (zlib));
  ck_assert (g_output_stream_write_all (z, raw, raw_len, NULL, NULL, NULL));
  ck_assert (g_output_stream_close (z, NULL, NULL));

  GByteArray *png = g_byte_array_new ();
  g_byte_array_append (png, (const guint8 *) "\x89PNG\r\n\x1a\n", 8);
  guint8 ihdr[13] = { 0 };
  guint32 be = GUINT32_TO_BE (w);
  memcpy (ihdr, &be, 4);
  be = GUINT32_TO_BE (h);
  memcpy (ihdr + 4, &be, 4);
  ihdr[8] = depth;
  ihdr[9] = colour;
  png_chunk (png, "IHDR", ihdr, 13);
  png_chunk (png, "IDAT", g_memory_output_stream_get_data (G_MEMORY_OUTPUT_STREAM (mem)),
      g_memory_output_stream_get_data_size (G_MEMORY_OUTPUT_STREAM (mem)));
  png_chunk (png, "IEND", NULL, 0);
  ck_assert (g_file_set_contents (path, (const char *) png->data, png->len, NULL));
  g_byte_array_unref (png);
  g_object_unref (z);
  g_object_unref (zlib);
  g_object_unref (mem);
}

static void
write_png16 (const char *path, const guint16 *samples, int channels, int w, int h)
{
  gsize row = 1 + (gsize) w * channels * 2;
  g_autofree guint8 *raw = g_malloc0 (row * h);
  for (int y = 0; y < h; y++)
    for (int i = 0; i < w * channels; i++) {
      guint16 v = samples[(gsize) y * w * channels + i];
      raw[y * row + 1 + 2 * i] = v >> 8;
      raw[y * row + 2 + 2 * i] = v & 0xff;
    }
  write_png (path, w, h, 16, channels == 4 ? 6 : 2, raw, row * h);
}

/* Encodes packed RGB (components 3) or grey (1) as a JPEG file with libjpeg's
 * defaults (4:2:0 chroma for colour).  GStreamer's jpegenc is avoided: it
 * reads past the frame for tiny images. */
static void
jpeg_encode (const guint8 *pixels, int components, int width, int height, int quality,
    const char *path)
{
  gsize len;
  g_autofree guint8 *jpeg = packd_test_encode_jpeg (pixels, components, width, height, quality,
      FALSE, &len);
  ck_assert (g_file_set_contents (path, (const char *) jpeg, len, NULL));
}

static void
load_ok (const char *path, PackdRgbImage *img, int width, int height)
{
  g_autoptr (GError) error = NULL;
  ck_assert_msg (packd_image_load_rgb (path, img, &error), "%s: %s", path,
      error ? error->message : "");
  ck_assert_int_eq (img->width, width);
  ck_assert_int_eq (img->height, height);
  ck_assert_ptr_nonnull (img->rgb);
}

static void
load_fails (const char *path, int code)
{
  PackdRgbImage img;
  g_autoptr (GError) error = NULL;
  gint64 start = g_get_monotonic_time ();
  ck_assert_msg (!packd_image_load_rgb (path, &img, &error), "%s decoded", path);
  ck_assert (g_get_monotonic_time () - start < 11 * G_USEC_PER_SEC);
  ck_assert_ptr_null (img.rgb);
  ck_assert_ptr_nonnull (error);
  ck_assert_msg (g_error_matches (error, PACKD_ERROR, code), "%s: %s", path, error->message);
  ck_assert_msg (strstr (error->message, path) != NULL, "%s", error->message);
}

static const int sizes[][2] = { {1, 1}, {7, 5}, {333, 17}, {64, 48} };

/* Random pixels of a GStreamer raw format with bpp bytes per pixel, size
 * sizes[size], through pngenc and back: every pixel's R, G, B must equal
 * byte channel_step * c of the pixel (grey: 0, every channel the same). */
static void
check_png_decode (const char *format, int bpp, int channel_step, int size, guint32 seed,
    const char *name)
{
  int w = sizes[size][0], h = sizes[size][1];
  g_autofree guint8 *src = random_bytes ((gsize) w * h * bpp, seed + size);
  g_autofree char *path = tmp_path (name);
  PackdRgbImage img;

  gst_encode (format, src, bpp, w, h, "pngenc", path);
  load_ok (path, &img, w, h);
  for (int i = 0; i < w * h; i++)
    for (int c = 0; c < 3; c++)
      ck_assert_int_eq (img.rgb[3 * i + c], src[bpp * i + channel_step * c]);
  packd_rgb_image_clear (&img);
}

START_TEST (test_png_rgb_round_trip)
{
  int w = sizes[_i][0], h = sizes[_i][1];
  g_autofree guint8 *rgb = random_bytes ((gsize) w * h * 3, 42 + _i);
  g_autofree char *path = tmp_path ("rgb.png");
  g_autoptr (GError) error = NULL;
  ck_assert (packd_image_save_png (path, rgb, w, h, &error));

  /* What Cairo reads back (independent of the loader): byte order right. */
  cairo_surface_t *s = cairo_image_surface_create_from_png (path);
  ck_assert_int_eq (cairo_surface_status (s), CAIRO_STATUS_SUCCESS);
  ck_assert_int_eq (cairo_image_surface_get_width (s), w);
  guint32 px = *(guint32 *) cairo_image_surface_get_data (s);
  ck_assert_uint_eq (px & 0xffffff, ((guint32) rgb[0] << 16) | (rgb[1] << 8) | rgb[2]);
  cairo_surface_destroy (s);

  PackdRgbImage img;
  load_ok (path, &img, w, h);
  ck_assert_int_eq (memcmp (img.rgb, rgb, (gsize) w * h * 3), 0);
  packd_rgb_image_clear (&img);
  ck_assert_ptr_null (img.rgb);
  ck_assert_int_eq (img.width, 0);
}
END_TEST

START_TEST (test_png_channel_order)
{
  /* A PNG written by Cairo directly: red, green, blue, white columns. */
  const guint32 cols[4] = { 0xffff0000, 0xff00ff00, 0xff0000ff, 0xffffffff };
  cairo_surface_t *s = cairo_image_surface_create (CAIRO_FORMAT_RGB24, 4, 3);
  guint8 *data = cairo_image_surface_get_data (s);
  for (int y = 0; y < 3; y++)
    for (int x = 0; x < 4; x++)
      ((guint32 *) (data + y * cairo_image_surface_get_stride (s)))[x] = cols[x];
  cairo_surface_mark_dirty (s);
  g_autofree char *path = tmp_path ("cols.png");
  ck_assert_int_eq (cairo_surface_write_to_png (s, path), CAIRO_STATUS_SUCCESS);
  cairo_surface_destroy (s);

  PackdRgbImage img;
  load_ok (path, &img, 4, 3);
  const guint8 expect[12] = { 255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255 };
  for (int y = 0; y < 3; y++)
    ck_assert_int_eq (memcmp (img.rgb + y * 12, expect, 12), 0);
  packd_rgb_image_clear (&img);
}
END_TEST

START_TEST (test_png_grey)
{
  check_png_decode ("GRAY8", 1, 0, _i, 7, "grey.png");
}
END_TEST

START_TEST (test_png_grey16)
{
  /* 16-bit grey becomes its high byte (no dithering pattern). */
  check_png_decode ("GRAY16_BE", 2, 0, _i, 99, "grey16.png");
}
END_TEST

START_TEST (test_png_rgb16)
{
  /* 16-bit RGB and RGBA: the high byte of each sample, alpha dropped. */
  int w = sizes[_i][0], h = sizes[_i][1];
  for (int channels = 3; channels <= 4; channels++) {
    gsize n = (gsize) w * h * channels;
    g_autofree guint16 *samples = g_new (guint16, n);
    GRand *r = g_rand_new_with_seed (321 + _i);
    for (gsize i = 0; i < n; i++)
      samples[i] = g_rand_int_range (r, 0, 65536);
    g_rand_free (r);
    g_autofree char *path = tmp_path ("rgb16.png");
    write_png16 (path, samples, channels, w, h);
    PackdRgbImage img;
    load_ok (path, &img, w, h);
    for (int i = 0; i < w * h; i++)
      for (int c = 0; c < 3; c++)
        ck_assert_msg (img.rgb[3 * i + c] == samples[channels * i + c] >> 8,
            "%d channels, pixel %d channel %d: %d, expected %d", channels, i, c,
            img.rgb[3 * i + c], samples[channels * i + c] >> 8);
    packd_rgb_image_clear (&img);
  }
}
END_TEST

START_TEST (test_png_rgba)
{
  /* Alpha is dropped, not composited: the colour channels come back as
   * stored, as PIL's Image.convert("RGB") does. */
  check_png_decode ("RGBA", 4, 1, _i, 1234, "rgba.png");
}
END_TEST

/* A smooth pattern (periods of tens of pixels at every image size) that
 * JPEG, even with 4:2:0 chroma, represents well. */
static guint8 *
smooth_rgb (int w, int h)
{
  guint8 *p = g_malloc ((gsize) w * h * 3);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      guint8 *q = p + ((gsize) y * w + x) * 3;
      q[0] = 128 + 90 * sin (x / 11.0);
      q[1] = 128 + 90 * cos (y / 7.0);
      q[2] = 128 + 60 * sin ((x + y) / 13.0);
    }
  return p;
}

static double
mean_abs_error (const guint8 *a, const guint8 *b, gsize n)
{
  double sum = 0;
  for (gsize i = 0; i < n; i++)
    sum += abs ((int) a[i] - (int) b[i]);
  return sum / n;
}

START_TEST (test_jpeg)
{
  int w = sizes[_i][0], h = sizes[_i][1];
  g_autofree guint8 *rgb = smooth_rgb (w, h);
  g_autofree char *path = tmp_path ("img.jpg");
  jpeg_encode (rgb, 3, w, h, 95, path);
  PackdRgbImage img;
  load_ok (path, &img, w, h);
  double mae = mean_abs_error (img.rgb, rgb, (gsize) w * h * 3);
  ck_assert_msg (mae < 3.0, "%dx%d: mean abs error %.2f", w, h, mae);
  packd_rgb_image_clear (&img);

  /* grey JPEG: grey output */
  g_autofree guint8 *grey = g_malloc ((gsize) w * h);
  for (int i = 0; i < w * h; i++)
    grey[i] = rgb[3 * i];
  jpeg_encode (grey, 1, w, h, 95, path);
  load_ok (path, &img, w, h);
  double sum = 0;
  for (int i = 0; i < w * h; i++) {
    ck_assert_int_eq (img.rgb[3 * i], img.rgb[3 * i + 1]);
    ck_assert_int_eq (img.rgb[3 * i], img.rgb[3 * i + 2]);
    sum += abs ((int) img.rgb[3 * i] - grey[i]);
  }
  ck_assert_msg (sum / (w * h) < 3.0, "grey %dx%d: mean abs error %.2f", w, h, sum / (w * h));
  packd_rgb_image_clear (&img);
}
END_TEST

START_TEST (test_errors)
{
  g_autofree char *missing = tmp_path ("missing.png");
  load_fails (missing, PACKD_ERROR_IO);
  load_fails (tmpdir, PACKD_ERROR_IO);

  g_autofree char *empty = tmp_path ("empty.png");
  ck_assert (g_file_set_contents (empty, "", 0, NULL));
  load_fails (empty, PACKD_ERROR_FORMAT);

  g_autofree char *text = tmp_path ("text.png");
  const char *words = "This is not an image, only a few words of text.\n";
  ck_assert (g_file_set_contents (text, words, -1, NULL));
  load_fails (text, PACKD_ERROR_FORMAT);

  g_autofree guint8 *noise = random_bytes (5000, 5);
  g_autofree char *noise_path = tmp_path ("noise.jpg");
  ck_assert (g_file_set_contents (noise_path, (char *) noise, 5000, NULL));
  load_fails (noise_path, PACKD_ERROR_FORMAT);
  /* JPEG magic, then garbage */
  memcpy (noise, "\xff\xd8\xff", 3);
  ck_assert (g_file_set_contents (noise_path, (char *) noise, 5000, NULL));
  load_fails (noise_path, PACKD_ERROR_FORMAT);
  /* PNG signature and a 16-bit RGB header (the Cairo route), then garbage */
  g_autofree char *png16 = tmp_path ("bad16.png");
  memcpy (noise, "\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0\0\x10\0\0\0\x10\x10\x02", 26);
  memcpy (noise + 33, "\0\0\x10\0IDAT", 8);
  ck_assert (g_file_set_contents (png16, (char *) noise, 5000, NULL));
  load_fails (png16, PACKD_ERROR_FORMAT);
}
END_TEST

static void
load_fails_too_large (const char *path)
{
  PackdRgbImage img;
  g_autoptr (GError) error = NULL;
  ck_assert (!packd_image_load_rgb (path, &img, &error));
  ck_assert_ptr_null (img.rgb);
  ck_assert_msg (g_error_matches (error, PACKD_ERROR, PACKD_ERROR_FORMAT), "%s", error->message);
  ck_assert_msg (strstr (error->message, "image too large: 20000x10000 is 200.0 megapixels") &&
      strstr (error->message, path) == error->message, "%s", error->message);
}

/* A w x h PNG whose data holds only `rows` all-zero rows (fewer than h:
 * the size check must come before the data runs out). */
static void
write_png_header_only (const char *path, guint32 w, guint32 h, int depth, int colour, int rows)
{
  int channels = colour == 2 ? 3 : 1;
  gsize row = 1 + (gsize) w * channels * depth / 8;
  g_autofree guint8 *raw = g_malloc0 (row * rows);
  write_png (path, w, h, depth, colour, raw, row * rows);
}

/* Decompression bombs: small files declaring 200 megapixels are refused
 * from their headers (PNG through GStreamer and through Cairo, BMP, GIF,
 * JPEG), before a decoder allocates anything. */
START_TEST (test_too_large)
{
  g_autofree char *grey = tmp_path ("huge-grey8.png");
  write_png_header_only (grey, 20000, 10000, 8, 0, 4);
  load_fails_too_large (grey);

  g_autofree char *rgb16 = tmp_path ("huge-rgb16.png");
  write_png_header_only (rgb16, 20000, 10000, 16, 2, 1);
  load_fails_too_large (rgb16);

  /* BMP: a BITMAPINFOHEADER, height negative (top-down), no pixel data */
  guint8 bmp[PACKD_TEST_BMP_HEADER_SIZE];
  packd_test_bmp_header (bmp, 20000, -10000);
  g_autofree char *bmp_path = tmp_path ("huge.bmp");
  ck_assert (g_file_set_contents (bmp_path, (const char *) bmp, sizeof bmp, NULL));
  load_fails_too_large (bmp_path);

  /* GIF: the logical screen descriptor */
  const guint8 gif[13] = { 'G', 'I', 'F', '8', '9', 'a', 20000 & 0xff, 20000 >> 8,
    10000 & 0xff, 10000 >> 8 };
  g_autofree char *gif_path = tmp_path ("huge.gif");
  ck_assert (g_file_set_contents (gif_path, (const char *) gif, sizeof gif, NULL));
  load_fails_too_large (gif_path);

  /* a valid 16x16 JPEG whose frame header (SOF0) is patched to 20000x10000 */
  guint8 pixels[16 * 16 * 3] = { 0 };
  gsize len;
  g_autofree guint8 *jpeg = packd_test_encode_jpeg (pixels, 3, 16, 16, 90, FALSE, &len);
  gsize sof = 0;
  for (gsize i = 2; i + 9 < len && sof == 0; i++)
    if (jpeg[i] == 0xff && jpeg[i + 1] == 0xc0)
      sof = i;
  ck_assert (sof > 0);
  jpeg[sof + 5] = 10000 >> 8;   /* height, then width, big-endian */
  jpeg[sof + 6] = 10000 & 0xff;
  jpeg[sof + 7] = 20000 >> 8;
  jpeg[sof + 8] = 20000 & 0xff;
  g_autofree char *jpg = tmp_path ("huge.jpg");
  ck_assert (g_file_set_contents (jpg, (const char *) jpeg, len, NULL));
  load_fails_too_large (jpg);

  /* the limit is on pixels, not on a side: 40000x2 still loads */
  g_autofree guint8 *wide = g_malloc0 (40000 * 2 * 3);
  g_autofree char *wide_path = tmp_path ("wide.jpg");
  jpeg_encode (wide, 3, 40000, 2, 90, wide_path);
  PackdRgbImage img;
  load_ok (wide_path, &img, 40000, 2);
  packd_rgb_image_clear (&img);
}
END_TEST

/* Cuts a valid file at several lengths; each must fail cleanly, quickly. */
static void
check_truncations (const char *path)
{
  g_autofree char *raw = NULL;
  gsize len;
  ck_assert (g_file_get_contents (path, &raw, &len, NULL));
  g_autofree char *cut_path = tmp_path ("cut.img");
  const double fractions[] = { 0.0005, 0.01, 0.1, 0.5, 0.9 };
  for (guint i = 0; i < G_N_ELEMENTS (fractions); i++) {
    gsize cut = MAX (1, (gsize) (len * fractions[i]));
    ck_assert (g_file_set_contents (cut_path, raw, cut, NULL));
    load_fails (cut_path, PACKD_ERROR_FORMAT);
  }
}

START_TEST (test_truncated)
{
  int w = 96, h = 64;
  g_autofree guint8 *rgb = random_bytes ((gsize) w * h * 3, 77);
  g_autofree char *png = tmp_path ("full.png");
  ck_assert (packd_image_save_png (png, rgb, w, h, NULL));
  check_truncations (png);

  g_autofree char *jpg = tmp_path ("full.jpg");
  jpeg_encode (rgb, 3, w, h, 90, jpg);
  check_truncations (jpg);

  /* Bytes after the end-of-image marker (some cameras pad files) are
   * ignored, as PIL does. */
  PackdRgbImage full, padded;
  load_ok (jpg, &full, w, h);
  g_autofree char *raw = NULL;
  gsize len;
  ck_assert (g_file_get_contents (jpg, &raw, &len, NULL));
  ck_assert (raw[len - 2] == (char) 0xff && raw[len - 1] == (char) 0xd9);
  g_autofree char *with_tail = g_malloc0 (len + 100);
  memcpy (with_tail, raw, len);
  g_autofree char *tail_path = tmp_path ("tail.jpg");
  ck_assert (g_file_set_contents (tail_path, with_tail, len + 100, NULL));
  load_ok (tail_path, &padded, w, h);
  ck_assert_int_eq (memcmp (full.rgb, padded.rgb, (gsize) w * h * 3), 0);
  packd_rgb_image_clear (&full);
  packd_rgb_image_clear (&padded);
}
END_TEST

START_TEST (test_save_errors)
{
  guint8 px[3] = { 1, 2, 3 };
  g_autoptr (GError) error = NULL;
  g_autofree char *bad = g_build_filename (tmpdir, "no-such-dir", "x.png", NULL);
  ck_assert (!packd_image_save_png (bad, px, 1, 1, &error));
  ck_assert (g_error_matches (error, PACKD_ERROR, PACKD_ERROR_IO));
  ck_assert_ptr_nonnull (strstr (error->message, bad));
  g_clear_error (&error);
  g_autofree char *ok = tmp_path ("x.png");
  ck_assert (!packd_image_save_png (ok, px, 0, 1, &error));
  ck_assert (g_error_matches (error, PACKD_ERROR, PACKD_ERROR_INVALID_ARGUMENT));
  g_clear_error (&error);
  ck_assert (!packd_image_save_png (ok, NULL, 1, 1, &error));
  ck_assert (g_error_matches (error, PACKD_ERROR, PACKD_ERROR_INVALID_ARGUMENT));
}
END_TEST

typedef struct {
  const char *path;
  const guint8 *expect;
  gsize size;
} ThreadJob;

static gpointer
load_in_thread (gpointer data)
{
  const ThreadJob *job = data;
  gboolean same = TRUE;
  for (int k = 0; k < 3 && same; k++) {
    PackdRgbImage img;
    g_autoptr (GError) error = NULL;
    if (!packd_image_load_rgb (job->path, &img, &error)) {
      g_printerr ("%s\n", error->message);
      return GINT_TO_POINTER (FALSE);
    }
    same = memcmp (img.rgb, job->expect, job->size) == 0;
    packd_rgb_image_clear (&img);
  }
  return GINT_TO_POINTER (same);
}

START_TEST (test_threads)
{
  int w = 50, h = 30;
  ThreadJob jobs[4];
  char *paths[4];
  guint8 *pixels[4];
  GThread *threads[4];
  for (int i = 0; i < 4; i++) {
    char name[16];
    g_snprintf (name, sizeof (name), "t%d.png", i);
    paths[i] = tmp_path (name);
    pixels[i] = random_bytes ((gsize) w * h * 3, 500 + i);
    ck_assert (packd_image_save_png (paths[i], pixels[i], w, h, NULL));
    jobs[i] = (ThreadJob) { paths[i], pixels[i], (gsize) w * h * 3 };
  }
  for (int i = 0; i < 4; i++)
    threads[i] = g_thread_new ("load", load_in_thread, &jobs[i]);
  for (int i = 0; i < 4; i++) {
    ck_assert (GPOINTER_TO_INT (g_thread_join (threads[i])));
    g_free (paths[i]);
    g_free (pixels[i]);
  }
}
END_TEST

static Suite *
imageio_suite (void)
{
  Suite *s = suite_create ("imageio");
  TCase *tc = tcase_create ("core");
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_loop_test (tc, test_png_rgb_round_trip, 0, G_N_ELEMENTS (sizes));
  tcase_add_test (tc, test_png_channel_order);
  tcase_add_loop_test (tc, test_png_grey, 0, G_N_ELEMENTS (sizes));
  tcase_add_loop_test (tc, test_png_grey16, 0, G_N_ELEMENTS (sizes));
  tcase_add_loop_test (tc, test_png_rgb16, 0, G_N_ELEMENTS (sizes));
  tcase_add_loop_test (tc, test_png_rgba, 0, G_N_ELEMENTS (sizes));
  tcase_add_loop_test (tc, test_jpeg, 0, G_N_ELEMENTS (sizes));
  tcase_add_test (tc, test_errors);
  tcase_add_test (tc, test_truncated);
  tcase_add_test (tc, test_too_large);
  tcase_add_test (tc, test_save_errors);
  tcase_add_test (tc, test_threads);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  /* No gst_init() here: the loader must initialise GStreamer itself (the
   * test's own encoders call it only when they run first). */
  int status = packd_test_run (imageio_suite ());
  /* frees GStreamer's global clock and thread pools, for leak checkers */
  if (gst_is_initialized ())
    gst_deinit ();
  return status;
}
