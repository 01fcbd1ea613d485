/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/* The capture pipeline of packd-record-on-anomaly and its encoder choice. */
#include "record-pipeline.h"

/* In order of preference for "auto": H.264 plays everywhere; VP8 and JPEG
 * need only gst-plugins-good. */
static const PackdRecordEncoder encoders[] = {
  {"h264", "x264enc", "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=%u "
        "! video/x-h264,stream-format=avc,alignment=au,profile=constrained-baseline", "mp4"},
  {"vp8", "vp8enc", "vp8enc deadline=1 keyframe-max-dist=%u", "mkv"},
  {"jpeg", "jpegenc", "jpegenc", "mkv"},
};

const PackdRecordEncoder *
packd_record_choose_encoder (const gchar * name, GError ** error)
{
  for (guint i = 0; i < G_N_ELEMENTS (encoders); i++) {
    GstElementFactory *factory;
    if (g_strcmp0 (name, "auto") != 0 && g_strcmp0 (name, encoders[i].name) != 0)
      continue;
    factory = gst_element_factory_find (encoders[i].factory);
    if (factory != NULL) {
      gst_object_unref (factory);
      return &encoders[i];
    }
    if (g_strcmp0 (name, "auto") != 0) {
      g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_MISSING_PLUGIN,
          "encoder %s needs the %s element, which is not installed", name,
          encoders[i].factory);
      return NULL;
    }
  }
  g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_MISSING_PLUGIN,
      "no usable encoder for '%s' (h264: x264enc, vp8: vp8enc, jpeg: jpegenc)", name);
  return NULL;
}

gboolean
packd_record_choose_container (const gchar * container, const PackdRecordEncoder * enc,
    const gchar ** muxer, const gchar ** extension, GError ** error)
{
  if (g_strcmp0 (container, "auto") == 0)
    container = enc->container;
  if (g_strcmp0 (container, "mp4") == 0 && g_strcmp0 (enc->name, "h264") == 0) {
    *muxer = "mp4mux";
    *extension = "mp4";
  } else if (g_strcmp0 (container, "mkv") == 0) {
    *muxer = "matroskamux";
    *extension = "mkv";
  } else {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "container '%s' does not fit encoder %s (mp4: h264 only; mkv: any)", container,
        enc->name);
    return FALSE;
  }
  return TRUE;
}

GstElement *
packd_record_build_pipeline (const gchar * source, const gchar * file, const gchar * device,
    const PackdRecordEncoder * enc, guint keyframe_interval, gboolean display, GError ** error)
{
  gchar *encoder = g_strdup_printf (enc->description, keyframe_interval);
  const gchar *src = source;
  gchar *description;
  GstElement *pipeline;

  if (file != NULL)
    src = "filesrc name=file ! decodebin";
  else if (src == NULL)
    /* A camera does not wait for a slow analysis: drop the oldest frames. */
    src = "v4l2src name=camera ! queue leaky=downstream max-size-buffers=2";
  description = g_strdup_printf ("%s ! videoconvert ! packdfilter name=detector ! %s"
      "videoconvert ! %s ! appsink name=ring sync=false", src,
      display ? "tee name=t ! queue ! videoconvert ! autovideosink sync=false t. ! queue ! "
      : "", encoder);
  pipeline = gst_parse_launch_full (description, NULL, GST_PARSE_FLAG_FATAL_ERRORS, error);
  if (pipeline != NULL) {
    GstElement *e;
    if (file != NULL && (e = gst_bin_get_by_name (GST_BIN (pipeline), "file")) != NULL) {
      g_object_set (e, "location", file, NULL);
      gst_object_unref (e);
    }
    if (device != NULL && (e = gst_bin_get_by_name (GST_BIN (pipeline), "camera")) != NULL) {
      g_object_set (e, "device", device, NULL);
      gst_object_unref (e);
    }
  }
  g_free (description);
  g_free (encoder);
  return pipeline;
}
