/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "packd-imageio.h"
#include "packd-error.h"

#include <cairo.h>
#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <setjmp.h>
#include <stdio.h>              /* jpeglib.h needs FILE */
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>

/* Upper bound on the whole decode; a single still image takes milliseconds. */
#define DECODE_TIMEOUT (10 * GST_SECOND)

/* Grey stays grey up to the copy so that R=G=B=Y exactly; everything else
 * is converted to RGB by videoconvert (alpha dropped, as PIL's
 * convert("RGB") does). */
#define OUTPUT_CAPS "video/x-raw,format=(string){RGB,GRAY8}"

/* Reads the whole file: a missing or unreadable file is an IO error, an
 * empty one a FORMAT error.  Decoding then runs from memory. */
static GBytes *
read_image_file (const char *path, GError **error)
{
  g_autoptr (GError) file_error = NULL;
  char *contents;
  gsize len;
  if (!g_file_get_contents (path, &contents, &len, &file_error)) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_IO, "%s: cannot read image: %s", path,
        file_error->message);
    return NULL;
  }
  if (len == 0) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_FORMAT, "%s: empty file, not an image", path);
    g_free (contents);
    return NULL;
  }
  return g_bytes_new_take (contents, len);
}

/* Refuses an image whose header declares more than PACKD_IMAGE_MAX_PIXELS. */
static gboolean
check_image_size (const char *path, guint64 width, guint64 height, GError **error)
{
  if (width * height <= PACKD_IMAGE_MAX_PIXELS)
    return TRUE;
  g_set_error (error, PACKD_ERROR, PACKD_ERROR_FORMAT,
      "%s: image too large: %" G_GUINT64_FORMAT "x%" G_GUINT64_FORMAT " is %.1f megapixels, "
      "the limit is %.1f", path, width, height, width * height / 1e6,
      PACKD_IMAGE_MAX_PIXELS / 1e6);
  return FALSE;
}

/* The size a PNG, BMP or GIF header declares, read before any decoder runs:
 * GStreamer's decoders allocate their frame before anything downstream can
 * refuse its caps.  FALSE for other formats (JPEG is checked by libjpeg's
 * header reader; TIFF, PNM, ... have no limit) and short headers. */
/* byte by byte: header fields are not aligned (GST_READ_* may load words) */
static guint32
read_be32 (const guint8 *p)
{
  return (guint32) p[0] << 24 | (guint32) p[1] << 16 | (guint32) p[2] << 8 | p[3];
}

static guint32
read_le32 (const guint8 *p)
{
  return (guint32) p[3] << 24 | (guint32) p[2] << 16 | (guint32) p[1] << 8 | p[0];
}

static gboolean
header_declared_size (GBytes *contents, guint64 *width, guint64 *height)
{
  gsize len;
  const guint8 *d = g_bytes_get_data (contents, &len);
  if (len >= 24 && memcmp (d, "\x89PNG\r\n\x1a\n", 8) == 0 && memcmp (d + 12, "IHDR", 4) == 0) {
    *width = read_be32 (d + 16);
    *height = read_be32 (d + 20);
    return TRUE;
  }
  if (len >= 26 && d[0] == 'B' && d[1] == 'M' && read_le32 (d + 14) >= 40) {
    *width = ABS ((gint64) (gint32) read_le32 (d + 18));
    *height = ABS ((gint64) (gint32) read_le32 (d + 22));      /* < 0: top-down */
    return TRUE;
  }
  if (len >= 10 && memcmp (d, "GIF8", 4) == 0) {
    *width = d[6] | d[7] << 8;
    *height = d[8] | d[9] << 8;
    return TRUE;
  }
  return FALSE;
}

/* ---- JPEG: libjpeg directly ----
 * PIL decodes JPEG with libjpeg(-turbo) at its defaults: accurate integer
 * IDCT and "fancy" (triangle-filter) chroma upsampling.  GStreamer's jpegdec
 * turns fancy upsampling off and hands I420 to videoconvert, which differs
 * from PIL by about 1 grey level on average (up to ~30) on colour JPEGs.
 * Decoding with the same library and defaults gives PIL's pixels exactly. */

typedef struct {
  struct jpeg_error_mgr pub;
  jmp_buf jump;
  gboolean truncated;
} JpegErrors;

static void
jpeg_on_error (j_common_ptr cinfo)
{
  longjmp (((JpegErrors *) cinfo->err)->jump, 1);
}

/* Warnings about corrupt data are ignored, as PIL does; running out of data
 * is not: PIL refuses truncated files instead of padding them with grey. */
static void
jpeg_on_message (j_common_ptr cinfo, int level)
{
  JpegErrors *errors = (JpegErrors *) cinfo->err;
  if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) {
    errors->truncated = TRUE;
    longjmp (errors->jump, 1);
  }
}

static gboolean
is_jpeg (GBytes *contents)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (contents, &len);
  return len >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff;
}

static gboolean
decode_jpeg (const char *path, GBytes *contents, PackdRgbImage *out, GError **error)
{
  struct jpeg_decompress_struct cinfo;
  JpegErrors errors = { 0 };
  guint8 *volatile rgb = NULL;
  gsize len;
  const guint8 *data = g_bytes_get_data (contents, &len);

  cinfo.err = jpeg_std_error (&errors.pub);
  errors.pub.error_exit = jpeg_on_error;
  errors.pub.emit_message = jpeg_on_message;
  jpeg_create_decompress (&cinfo);
  if (setjmp (errors.jump)) {
    char reason[JMSG_LENGTH_MAX] = "truncated file";
    if (!errors.truncated)
      errors.pub.format_message ((j_common_ptr) &cinfo, reason);
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_FORMAT, "%s: cannot decode JPEG: %s", path,
        reason);
    jpeg_destroy_decompress (&cinfo);
    g_free (rgb);
    return FALSE;
  }
  jpeg_mem_src (&cinfo, data, len);
  jpeg_read_header (&cinfo, TRUE);
  if (!check_image_size (path, cinfo.image_width, cinfo.image_height, error)) {
    jpeg_destroy_decompress (&cinfo);
    return FALSE;
  }
  cinfo.out_color_space = JCS_RGB;      /* grey is replicated, as convert("RGB") does */
  jpeg_start_decompress (&cinfo);
  gsize row_bytes = (gsize) cinfo.output_width * 3;
  rgb = g_try_malloc (row_bytes * cinfo.output_height);
  if (rgb == NULL) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_NO_MEMORY, "%s: no memory for a %ux%u image",
        path, cinfo.output_width, cinfo.output_height);
    jpeg_destroy_decompress (&cinfo);
    return FALSE;
  }
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = rgb + cinfo.output_scanline * row_bytes;
    jpeg_read_scanlines (&cinfo, &row, 1);
  }
  out->width = cinfo.output_width;
  out->height = cinfo.output_height;
  out->rgb = rgb;
  /* No jpeg_finish_decompress(): all pixels are in, and like PIL we do not
   * insist on reading on to the end-of-image marker. */
  jpeg_destroy_decompress (&cinfo);
  return TRUE;
}

/* ---- 16-bit RGB PNG without alpha: Cairo ----
 * GStreamer 1.22's pngdec puts the alpha filler of such images in the wrong
 * place (every pixel comes out shifted by one channel).  Cairo reads them
 * right, keeping the high byte of each sample as PIL does. */

static gboolean
png_is_opaque_rgb16 (GBytes *contents)
{
  static const guint8 signature[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
  gsize len;
  const guint8 *data = g_bytes_get_data (contents, &len);
  if (len < 33 || memcmp (data, signature, 8) != 0 || memcmp (data + 12, "IHDR", 4) != 0 ||
      data[24] != 16 || data[25] != 2)
    return FALSE;
  /* A tRNS chunk (before the image data) gives real alpha, which pngdec handles. */
  for (gsize pos = 8; pos + 12 <= len;) {
    guint32 chunk_len;
    memcpy (&chunk_len, data + pos, 4);
    chunk_len = GUINT32_FROM_BE (chunk_len);
    if (memcmp (data + pos + 4, "tRNS", 4) == 0)
      return FALSE;
    if (memcmp (data + pos + 4, "IDAT", 4) == 0)
      return TRUE;
    if (chunk_len > len - pos - 12)
      break;
    pos += 12 + (gsize) chunk_len;
  }
  return FALSE;
}

typedef struct {
  const guint8 *data;
  gsize len, pos;
} ReadCursor;

static cairo_status_t
read_from_cursor (void *closure, unsigned char *buf, unsigned int n)
{
  ReadCursor *cursor = closure;
  if (n > cursor->len - cursor->pos)
    return CAIRO_STATUS_READ_ERROR;
  memcpy (buf, cursor->data + cursor->pos, n);
  cursor->pos += n;
  return CAIRO_STATUS_SUCCESS;
}

static gboolean
decode_png_cairo (const char *path, GBytes *contents, PackdRgbImage *out, GError **error)
{
  ReadCursor cursor = { 0 };
  cursor.data = g_bytes_get_data (contents, &cursor.len);
  cairo_surface_t *surface = cairo_image_surface_create_from_png_stream (read_from_cursor, &cursor);
  cairo_status_t status = cairo_surface_status (surface);
  if (status != CAIRO_STATUS_SUCCESS ||
      cairo_image_surface_get_format (surface) != CAIRO_FORMAT_RGB24) {
    /* Cairo reports every libpng error as "out of memory" */
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_FORMAT, "%s: cannot decode 16-bit PNG: %s", path,
        status == CAIRO_STATUS_SUCCESS ? "unexpected pixel format" :
        status == CAIRO_STATUS_NO_MEMORY ? "corrupt data" : cairo_status_to_string (status));
    cairo_surface_destroy (surface);
    return FALSE;
  }
  int width = cairo_image_surface_get_width (surface);
  int height = cairo_image_surface_get_height (surface);
  int stride = cairo_image_surface_get_stride (surface);
  const guint8 *data = cairo_image_surface_get_data (surface);
  out->rgb = g_malloc ((gsize) width * height * 3);
  out->width = width;
  out->height = height;
  for (int y = 0; y < height; y++) {
    const guint32 *src = (const guint32 *) (data + (gsize) y * stride);
    guint8 *dst = out->rgb + (gsize) y * width * 3;
    for (int x = 0; x < width; x++, dst += 3) {
      dst[0] = src[x] >> 16;
      dst[1] = src[x] >> 8;
      dst[2] = src[x];
    }
  }
  cairo_surface_destroy (surface);
  return TRUE;
}

/* ---- everything else: GStreamer ---- */

/* decodebin's pads are linked from its streaming thread.  A link made while
 * the main thread takes the pipeline to NULL changes the graph the bin is
 * iterating, and GStreamer warns "loop detected in the graph of bin"
 * (found by fuzzing, 1 in ~4,000 inputs that fail early): once `closing` is
 * set, nothing is linked any more. */
typedef struct {
  GMutex lock;
  gboolean closing;
  GstElement *convert;
} DecodeLink;

static void
on_pad_added (GstElement *decodebin, GstPad *pad, DecodeLink *link)
{
  g_autoptr (GstPad) sink = gst_element_get_static_pad (link->convert, "sink");
  g_autoptr (GstCaps) caps = gst_pad_get_current_caps (pad);
  if (caps == NULL)
    caps = gst_pad_query_caps (pad, NULL);
  const GstStructure *s = gst_caps_get_size (caps) ? gst_caps_get_structure (caps, 0) : NULL;
  /* Only the first video stream; an unlinked pad makes decodebin drop it. */
  g_mutex_lock (&link->lock);
  if (!link->closing && s && gst_structure_has_name (s, "video/x-raw") &&
      !gst_pad_is_linked (sink))
    gst_pad_link (pad, sink);
  g_mutex_unlock (&link->lock);
}

/* Support images are image files: decode only image/ types, so a file that
 * typefinds as anything else (subtitles, a video container) is not handed to
 * demuxers that may wait for more data; its pad is exposed undecoded. */
static gboolean
on_autoplug_continue (GstElement *decodebin, GstPad *pad, GstCaps *caps, gpointer data)
{
  const GstStructure *s = gst_caps_get_size (caps) ? gst_caps_get_structure (caps, 0) : NULL;
  return s && (g_str_has_prefix (gst_structure_get_name (s), "image/")
      || gst_structure_has_name (s, "video/x-raw"));
}

/* No demuxers: an image file holds one picture, and gst-libav's avdemux_gif
 * (found by fuzzing) blocks on a corrupt GIF under a lock that the pipeline's
 * shutdown then waits for, for ever.  Image decoders take the file directly.
 * No JPEG decoders either: real JPEGs (FF D8 FF, PIL's test too) went to
 * libjpeg above; what typefinds as JPEG without that signature is not an
 * image for PIL, and jpegdec's parser loops for ever on some such files
 * (found by fuzzing: the pipeline's shutdown then waits for it). */
/* decodebin's "autoplug-select" return values (its enum is not installed) */
typedef enum
{
  AUTOPLUG_SELECT_TRY,
  AUTOPLUG_SELECT_EXPOSE,
  AUTOPLUG_SELECT_SKIP
} AutoplugSelectResult;

static AutoplugSelectResult
on_autoplug_select (GstElement *decodebin, GstPad *pad, GstCaps *caps,
    GstElementFactory *factory, gpointer data)
{
  const gchar *klass = gst_element_factory_get_metadata (factory, GST_ELEMENT_METADATA_KLASS);
  const GstStructure *s = gst_caps_get_size (caps) ? gst_caps_get_structure (caps, 0) : NULL;
  if ((klass && strstr (klass, "Demuxer")) || (s && gst_structure_has_name (s, "image/jpeg")))
    return AUTOPLUG_SELECT_SKIP;
  return AUTOPLUG_SELECT_TRY;
}

/* decodebin exposed every stream and none was video (e.g. a file typefound
 * as subtitles): fail now rather than wait for the preroll timeout. */
static void
on_no_more_pads (GstElement *decodebin, DecodeLink *link)
{
  g_autoptr (GstPad) sink = gst_element_get_static_pad (link->convert, "sink");
  if (gst_pad_is_linked (sink))
    return;
  g_autoptr (GError) error = g_error_new_literal (GST_STREAM_ERROR, GST_STREAM_ERROR_WRONG_TYPE,
      "the file holds no image");
  gst_element_post_message (decodebin,
      gst_message_new_error (GST_OBJECT (decodebin), error, NULL));
}

static GstElement *
make_element (GstElement *pipeline, const char *factory, const char *path, GError **error)
{
  GstElement *e = gst_element_factory_make (factory, NULL);
  if (e == NULL) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_FORMAT,
        "%s: cannot decode image: GStreamer element '%s' is not installed", path, factory);
    return NULL;
  }
  gst_bin_add (GST_BIN (pipeline), e);
  return e;
}

static GstElement *
build_pipeline (const char *path, GBytes *contents, DecodeLink *link, GstElement **appsink,
    GError **error)
{
  GstElement *pipeline = gst_pipeline_new (NULL);
  GstElement *src = make_element (pipeline, "appsrc", path, error);
  GstElement *decode = src ? make_element (pipeline, "decodebin", path, error) : NULL;
  GstElement *convert = decode ? make_element (pipeline, "videoconvert", path, error) : NULL;
  GstElement *sink = convert ? make_element (pipeline, "appsink", path, error) : NULL;
  if (sink == NULL) {
    gst_object_unref (pipeline);
    return NULL;
  }
  g_autoptr (GstCaps) caps = gst_caps_from_string (OUTPUT_CAPS);
  g_object_set (sink, "caps", caps, "sync", FALSE, "max-buffers", 1, NULL);
  link->convert = convert;
  g_signal_connect (decode, "pad-added", G_CALLBACK (on_pad_added), link);
  g_signal_connect (decode, "no-more-pads", G_CALLBACK (on_no_more_pads), link);
  g_signal_connect (decode, "autoplug-continue", G_CALLBACK (on_autoplug_continue), NULL);
  g_signal_connect (decode, "autoplug-select", G_CALLBACK (on_autoplug_select), NULL);
  gst_element_link (src, decode);
  gst_element_link (convert, sink);
  /* the whole file as one buffer, then end of stream; appsrc queues both */
  g_object_set (src, "size", (gint64) g_bytes_get_size (contents), NULL);
  gst_app_src_push_buffer (GST_APP_SRC (src), gst_buffer_new_wrapped_bytes (contents));
  gst_app_src_end_of_stream (GST_APP_SRC (src));
  *appsink = sink;
  return pipeline;
}

/* Waits (bounded) for preroll; returns FALSE with the pipeline's error. */
static gboolean
wait_preroll (GstElement *pipeline, const char *path, GError **error)
{
  g_autoptr (GstBus) bus = gst_element_get_bus (pipeline);
  g_autoptr (GstMessage) msg = NULL;
  if (gst_element_set_state (pipeline, GST_STATE_PAUSED) == GST_STATE_CHANGE_FAILURE) {
    /* a failed state change leaves its reason on the bus */
    msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  } else {
    msg = gst_bus_timed_pop_filtered (bus, DECODE_TIMEOUT,
        GST_MESSAGE_ASYNC_DONE | GST_MESSAGE_ERROR);
    if (msg == NULL) {
      g_set_error (error, PACKD_ERROR, PACKD_ERROR_FORMAT,
          "%s: image decoding did not finish within %d s", path,
          (int) (DECODE_TIMEOUT / GST_SECOND));
      return FALSE;
    }
  }
  if (msg != NULL && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ASYNC_DONE)
    return TRUE;
  g_autoptr (GError) gst_error = NULL;
  if (msg != NULL)
    gst_message_parse_error (msg, &gst_error, NULL);
  g_set_error (error, PACKD_ERROR, PACKD_ERROR_FORMAT, "%s: cannot decode image: %s", path,
      gst_error ? gst_error->message : "pipeline failed to start");
  return FALSE;
}

static gboolean
copy_sample (GstSample *sample, const char *path, PackdRgbImage *out, GError **error)
{
  GstVideoInfo info;
  GstVideoFrame frame;
  GstBuffer *buffer = gst_sample_get_buffer (sample);
  GstCaps *caps = gst_sample_get_caps (sample);
  if (buffer == NULL || caps == NULL || !gst_video_info_from_caps (&info, caps) ||
      !gst_video_frame_map (&frame, &info, buffer, GST_MAP_READ)) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_FORMAT, "%s: decoder gave an unusable frame",
        path);
    return FALSE;
  }
  int width = GST_VIDEO_FRAME_WIDTH (&frame), height = GST_VIDEO_FRAME_HEIGHT (&frame);
  gboolean grey = GST_VIDEO_FRAME_FORMAT (&frame) == GST_VIDEO_FORMAT_GRAY8;
  const guint8 *plane = GST_VIDEO_FRAME_PLANE_DATA (&frame, 0);
  int stride = GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0);
  out->rgb = g_malloc ((gsize) width * height * 3);
  out->width = width;
  out->height = height;
  for (int y = 0; y < height; y++) {
    const guint8 *row = plane + (gsize) y * stride;
    guint8 *dst = out->rgb + (gsize) y * width * 3;
    if (!grey) {
      memcpy (dst, row, (gsize) width * 3);
      continue;
    }
    for (int x = 0; x < width; x++)
      dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = row[x];
  }
  gst_video_frame_unmap (&frame);
  return TRUE;
}

/* gst_init() is not safe to race with itself (a second caller can see
 * GStreamer initialised before its registry is loaded), hence the GOnce.
 * Returns the init error, kept for all later callers. */
static gpointer
init_gstreamer (gpointer unused)
{
  GError *error = NULL;
  if (gst_is_initialized () || gst_init_check (NULL, NULL, &error))
    return NULL;
  return error;
}

static gboolean
decode_gstreamer (const char *path, GBytes *contents, PackdRgbImage *out, GError **error)
{
  static GOnce init_once = G_ONCE_INIT;
  const GError *init_error = g_once (&init_once, init_gstreamer, NULL);
  if (init_error != NULL) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_FORMAT,
        "%s: cannot decode image: GStreamer failed to initialise: %s", path, init_error->message);
    return FALSE;
  }

  GstElement *appsink;
  DecodeLink link = { 0 };
  g_mutex_init (&link.lock);
  GstElement *pipeline = build_pipeline (path, contents, &link, &appsink, error);
  if (pipeline == NULL) {
    g_mutex_clear (&link.lock);
    return FALSE;
  }
  gboolean ok = wait_preroll (pipeline, path, error);
  if (ok) {
    /* Prerolled: the sample is already there, or the stream ended without one. */
    g_autoptr (GstSample) sample = gst_app_sink_try_pull_preroll (GST_APP_SINK (appsink), 0);
    if (sample == NULL) {
      g_set_error (error, PACKD_ERROR, PACKD_ERROR_FORMAT,
          "%s: no image could be decoded from the file", path);
      ok = FALSE;
    } else {
      ok = copy_sample (sample, path, out, error);
    }
  }
  g_mutex_lock (&link.lock);
  link.closing = TRUE;
  g_mutex_unlock (&link.lock);
  /* joins the streaming threads: no callback uses `link` after this */
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
  g_mutex_clear (&link.lock);
  return ok;
}

gboolean
packd_image_load_rgb (const char *path, PackdRgbImage *out, GError **error)
{
  g_return_val_if_fail (path != NULL && out != NULL, FALSE);
  memset (out, 0, sizeof (*out));
  g_autoptr (GBytes) contents = read_image_file (path, error);
  if (contents == NULL)
    return FALSE;
  guint64 width, height;
  if (header_declared_size (contents, &width, &height) &&
      !check_image_size (path, width, height, error))
    return FALSE;
  if (is_jpeg (contents))
    return decode_jpeg (path, contents, out, error);
  if (png_is_opaque_rgb16 (contents))
    return decode_png_cairo (path, contents, out, error);
  return decode_gstreamer (path, contents, out, error);
}

void
packd_rgb_image_clear (PackdRgbImage *img)
{
  if (img == NULL)
    return;
  g_clear_pointer (&img->rgb, g_free);
  img->width = img->height = 0;
}

gboolean
packd_image_save_png (const char *path, const guint8 *rgb, int width, int height,
    GError **error)
{
  g_return_val_if_fail (path != NULL, FALSE);
  if (rgb == NULL || width <= 0 || height <= 0) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_INVALID_ARGUMENT,
        "%s: cannot save a %dx%d image%s", path, width, height, rgb ? "" : " without pixels");
    return FALSE;
  }
  cairo_surface_t *surface = cairo_image_surface_create (CAIRO_FORMAT_RGB24, width, height);
  cairo_status_t status = cairo_surface_status (surface);
  if (status == CAIRO_STATUS_SUCCESS) {
    cairo_surface_flush (surface);
    guint8 *data = cairo_image_surface_get_data (surface);
    int stride = cairo_image_surface_get_stride (surface);
    for (int y = 0; y < height; y++) {
      guint32 *dst = (guint32 *) (data + (gsize) y * stride);
      const guint8 *src = rgb + (gsize) y * width * 3;
      /* RGB24 is native-endian xRGB in 32-bit words */
      for (int x = 0; x < width; x++, src += 3)
        dst[x] = 0xff000000u | ((guint32) src[0] << 16) | ((guint32) src[1] << 8) | src[2];
    }
    cairo_surface_mark_dirty (surface);
    status = cairo_surface_write_to_png (surface, path);
  }
  cairo_surface_destroy (surface);
  if (status != CAIRO_STATUS_SUCCESS) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_IO, "%s: cannot write PNG: %s", path,
        cairo_status_to_string (status));
    return FALSE;
  }
  return TRUE;
}
