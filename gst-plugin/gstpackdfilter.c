/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/**
 * SECTION:element-packdfilter
 * @title: packdfilter
 *
 * Few-shot visual anomaly detection: give the element a few pictures of good
 * parts in #GstPackdFilter:support-images and every frame gets an anomaly
 * score, a verdict, anomalous regions and a heatmap.  The frame passes
 * through unchanged except for the optional overlay (JET heatmap, region
 * boxes, score text) drawn on it in place.
 *
 * Scores are normalised: 0.5 is the boundary calibrated on the support
 * images, #GstPackdFilter:threshold moves it.  Frames may be of any size (the
 * engine resizes internally); put videoconvert in front for other formats.
 *
 * Every frame that has a result carries a tagless GstCustomMeta named
 * "PackdAnomalyMeta" (fields in packd-meta.h: score, raw-score, threshold,
 * anomalous, inferred, source-pts, latency, heatmap, heatmap-width,
 * heatmap-height, regions), which survives videoconvert, videoscale and
 * encoders, and, with #GstPackdFilter:attach-roi-meta, one
 * GstVideoRegionOfInterestMeta of type "anomaly" per region (its "detection"
 * params are dropped by 1.22's videoconvert/videoscale).
 *
 * Element messages (all with timestamp, stream-time, running-time and
 * duration of the analysed frame):
 *
 * * `packdfilter-anomaly`: state (string "begin" or "end"), score (double,
 *   peak of the episode), threshold (double), frames (guint64, analysed frames
 *   in the episode), n-regions (guint), regions (array of "region" structures
 *   x, y, w, h, score, normalised), posted when #GstPackdFilter:alert-min-frames
 *   consecutive analysed frames are anomalous and when none was during
 *   #GstPackdFilter:alert-hold-time (or at EOS).
 * * `packdfilter-frame` (#GstPackdFilter:post-all-frames): score, raw-score,
 *   anomalous, inferred, latency, n-regions.
 * * `packdfilter-stats` (every #GstPackdFilter:stats-interval of running
 *   time): frames-analysed, frames-skipped, frames-anomalous, fps (analysed
 *   frames per wall-clock second since the previous stats), latency-avg,
 *   latency-max (ns, over the interval).
 * * `packdfilter-support`: n-images, raw-threshold, after a support set
 *   given while running replaced the previous one.
 *
 * With #GstPackdFilter:json-location, one JSON object per analysed frame is
 * written per line: timestamp, running_time, frame, resolution {width,
 * height}, score, raw_score, threshold, anomalous, inferred, latency_ms,
 * regions [{x, y, w, h, score}].
 *
 * QoS is on (GstVideoFilter default): behind a slow analysis the element
 * drops late frames.  Set qos=false when it sits before a recording tee.
 * Frames are mapped writable even with overlay=false (GstVideoFilter), which
 * copies buffers shared behind a tee.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 -m multifilesrc location=frames/%03d.jpg ! jpegdec ! videoconvert ! \
 *   packdfilter support-images='<good/000.png,good/001.png>' json-location=out.jsonl ! \
 *   videoconvert ! pngenc ! multifilesink location=out/%03d.png
 * ]|
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstpackdfilter.h"
#include "gstpackdfilter-analysis.h"

GST_DEBUG_CATEGORY (gst_packd_filter_debug);
#define GST_CAT_DEFAULT gst_packd_filter_debug

#ifndef PACKD_DEFAULT_MODEL
#define PACKD_DEFAULT_MODEL NULL
#endif

#define DEFAULT_PROP_MODEL_FILE PACKD_DEFAULT_MODEL
/* knn: ahead of the shipped student on most categories measured (models/MODEL.md). */
#define DEFAULT_PROP_METHOD PACKD_METHOD_KNN
#define DEFAULT_PROP_THRESHOLD 0.5
#define DEFAULT_PROP_PIXEL_THRESHOLD 0.5
#define DEFAULT_PROP_MIN_REGION_SIZE 5
#define DEFAULT_PROP_INFERENCE_INTERVAL 1
#define DEFAULT_PROP_NON_BLOCKING FALSE
#define DEFAULT_PROP_OVERLAY TRUE
#define DEFAULT_PROP_DRAW_HEATMAP TRUE
#define DEFAULT_PROP_DRAW_REGIONS TRUE
#define DEFAULT_PROP_DRAW_SCORE TRUE
#define DEFAULT_PROP_HEATMAP_ALPHA 0.5
#define DEFAULT_PROP_POST_MESSAGES TRUE
#define DEFAULT_PROP_POST_ALL_FRAMES FALSE
#define DEFAULT_PROP_ALERT_MIN_FRAMES 1
#define DEFAULT_PROP_ALERT_HOLD_TIME GST_SECOND
#define DEFAULT_PROP_STATS_INTERVAL 0
#define DEFAULT_PROP_JSON_LOCATION NULL
#define DEFAULT_PROP_ATTACH_ROI_META TRUE
#define DEFAULT_PROP_N_THREADS 0
#define DEFAULT_PROP_CORESET_FRACTION 1.0
#define DEFAULT_PROP_MAP_REFERENCE GST_PACKD_FILTER_MAP_REFERENCE_MODEL

enum
{
  PROP_0,
  PROP_SUPPORT_IMAGES,
  PROP_MODEL_FILE,
  PROP_METHOD,
  PROP_THRESHOLD,
  PROP_PIXEL_THRESHOLD,
  PROP_MIN_REGION_SIZE,
  PROP_INFERENCE_INTERVAL,
  PROP_NON_BLOCKING,
  PROP_OVERLAY,
  PROP_DRAW_HEATMAP,
  PROP_DRAW_REGIONS,
  PROP_DRAW_SCORE,
  PROP_HEATMAP_ALPHA,
  PROP_POST_MESSAGES,
  PROP_POST_ALL_FRAMES,
  PROP_ALERT_MIN_FRAMES,
  PROP_ALERT_HOLD_TIME,
  PROP_STATS_INTERVAL,
  PROP_JSON_LOCATION,
  PROP_ATTACH_ROI_META,
  PROP_N_THREADS,
  PROP_CORESET_FRACTION,
  PROP_MAP_REFERENCE,
  PROP_LAST_SCORE,
  PROP_FRAMES_ANALYSED,
  PROP_FRAMES_SKIPPED,
  PROP_FRAMES_ANOMALOUS,
  PROP_LAST_LATENCY,
};

#if G_BYTE_ORDER == G_LITTLE_ENDIAN
#define PACKD_FILTER_CAPS GST_VIDEO_CAPS_MAKE ("{ BGRx, BGRA }")
#else
#define PACKD_FILTER_CAPS GST_VIDEO_CAPS_MAKE ("{ xRGB, ARGB }")
#endif

static GstStaticPadTemplate gst_packd_filter_src_template =
GST_STATIC_PAD_TEMPLATE ("src", GST_PAD_SRC, GST_PAD_ALWAYS,
    GST_STATIC_CAPS (PACKD_FILTER_CAPS));

static GstStaticPadTemplate gst_packd_filter_sink_template =
GST_STATIC_PAD_TEMPLATE ("sink", GST_PAD_SINK, GST_PAD_ALWAYS,
    GST_STATIC_CAPS (PACKD_FILTER_CAPS));

#define gst_packd_filter_parent_class parent_class
G_DEFINE_TYPE (GstPackdFilter, gst_packd_filter, GST_TYPE_VIDEO_FILTER);
GST_ELEMENT_REGISTER_DEFINE_WITH_CODE (packdfilter, "packdfilter", GST_RANK_NONE,
    GST_TYPE_PACKD_FILTER,
    GST_DEBUG_CATEGORY_INIT (gst_packd_filter_debug, "packdfilter", 0,
        "few-shot visual anomaly detection"));

/* ------------------------------------------------------------------------ */
/* GstBaseTransform vfuncs                                                   */

static void
settings_snapshot (GstPackdFilter * self, GstPackdSettings * s)
{
  GST_OBJECT_LOCK (self);
  s->threshold = self->threshold;
  s->pixel_threshold = self->pixel_threshold;
  s->min_region_size = self->min_region_size;
  s->inference_interval = self->inference_interval;
  s->overlay.heatmap = self->overlay && self->draw_heatmap;
  s->overlay.regions = self->overlay && self->draw_regions;
  s->overlay.score = self->overlay && self->draw_score;
  s->overlay.heatmap_alpha = self->heatmap_alpha;
  s->post_messages = self->post_messages;
  s->post_all_frames = self->post_all_frames;
  s->alert_min_frames = self->alert_min_frames;
  s->alert_hold_time = self->alert_hold_time;
  s->stats_interval = self->stats_interval;
  s->attach_roi_meta = self->attach_roi_meta;
  GST_OBJECT_UNLOCK (self);
}

static gboolean
gst_packd_filter_start (GstBaseTransform * trans)
{
  GstPackdFilter *self = GST_PACKD_FILTER (trans);
  gchar *model_file, *json_location, **paths;
  PackdMethod method;
  gboolean non_blocking;
  guint n_threads;
  gdouble coreset_fraction;
  gint map_reference;
  PackdSupport *support;
  GError *error = NULL;

  GST_OBJECT_LOCK (self);
  model_file = g_strdup (self->model_file);
  json_location = g_strdup (self->json_location);
  paths = g_strdupv (self->support_images);
  method = self->method;
  non_blocking = self->non_blocking;
  n_threads = self->n_threads;
  coreset_fraction = self->coreset_fraction;
  map_reference = self->map_reference;
  self->last_score = 0.0;
  self->frames_analysed = self->frames_skipped = self->frames_anomalous = 0;
  self->last_latency = 0;
  GST_OBJECT_UNLOCK (self);

  if (model_file == NULL || *model_file == '\0')
    goto no_model;
  if (!g_file_test (model_file, G_FILE_TEST_IS_REGULAR))
    goto model_not_found;
  self->scorer = packd_scorer_new (model_file, method, &error);
  if (self->scorer == NULL)
    goto model_failed;
  if (n_threads > 0)
    packd_scorer_set_threads (self->scorer, n_threads);
  packd_scorer_set_coreset_fraction (self->scorer, (float) coreset_fraction);
  if (map_reference != GST_PACKD_FILTER_MAP_REFERENCE_MODEL)
    packd_scorer_set_map_reference (self->scorer, (PackdMapReference) map_reference);

  support = gst_packd_support_load (self->scorer, paths, &error);
  if (support == NULL)
    goto support_failed;
  packd_scorer_set_support (self->scorer, support);
  packd_support_unref (support);

  if (!gst_packd_report_open (&self->json_file, json_location, &error))
    goto json_failed;

  self->painter = packd_overlay_new ();
  self->frame_count = 0;
  gst_packd_alert_reset (self);
  gst_packd_stats_reset (self);
  if (non_blocking)
    self->worker = gst_packd_worker_new (self->scorer);

  g_mutex_lock (&self->support_lock);
  self->support_swappable = TRUE;
  g_mutex_unlock (&self->support_lock);

  GST_INFO_OBJECT (self, "model %s (%s), %u support images%s", model_file,
      packd_method_to_string (method), g_strv_length (paths),
      non_blocking ? ", non-blocking" : "");
  g_free (model_file);
  g_free (json_location);
  g_strfreev (paths);
  return TRUE;

no_model:
  GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND, ("No model file set."),
      ("set model-file or the PACKD_MODEL environment variable"));
  goto fail;
model_not_found:
  GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND,
      ("Model file \"%s\" not found.", model_file), (NULL));
  goto fail;
model_failed:
  if (error->domain == PACKD_ERROR && error->code == PACKD_ERROR_MODEL)
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("Model file \"%s\" cannot be used with method '%s'.", model_file,
            packd_method_to_string (method)), ("%s", error->message));
  else
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ,
        ("Could not load model file \"%s\": not a valid packd model file.",
            model_file), ("%s", error->message));
  goto fail;
support_failed:
json_failed:
  POST_GERROR (self, GST_MESSAGE_ERROR, error);
fail:
  g_clear_error (&error);
  g_clear_pointer (&self->scorer, packd_scorer_free);
  g_free (model_file);
  g_free (json_location);
  g_strfreev (paths);
  return FALSE;
}

static gboolean
gst_packd_filter_stop (GstBaseTransform * trans)
{
  GstPackdFilter *self = GST_PACKD_FILTER (trans);

  gst_packd_support_swaps_stop (self);
  g_clear_pointer (&self->worker, gst_packd_worker_free);
  g_clear_pointer (&self->last_result, gst_packd_filter_result_free);
  g_clear_pointer (&self->painter, packd_overlay_free);
  gst_packd_report_close (&self->json_file);
  gst_packd_alert_reset (self);
  g_clear_pointer (&self->scorer, packd_scorer_free);
  return TRUE;
}

static gboolean
gst_packd_filter_sink_event (GstBaseTransform * trans, GstEvent * event)
{
  GstPackdFilter *self = GST_PACKD_FILTER (trans);

  if (GST_EVENT_TYPE (event) == GST_EVENT_EOS) {
    if (self->worker != NULL) {
      /* The last frame's result has no buffer left to ride on, but it
       * still counts and goes to JSON and messages. */
      GstPackdSettings settings;
      GError *error = NULL;
      GstPackdFilterResult *last = gst_packd_worker_drain (self->worker, &error);

      settings_snapshot (self, &settings);
      if (last != NULL && error == NULL) {
        gst_packd_filter_handle_result (self, last, &settings);
        g_clear_pointer (&self->last_result, gst_packd_filter_result_free);
        self->last_result = last;
      } else {
        gst_packd_filter_result_free (last);
      }
      if (error != NULL) {
        GST_WARNING_OBJECT (self, "last analysis failed: %s", error->message);
        g_clear_error (&error);
      }
    }
    gst_packd_alert_flush (self);
  }
  return GST_BASE_TRANSFORM_CLASS (parent_class)->sink_event (trans, event);
}

static void
gst_packd_filter_before_transform (GstBaseTransform * trans, GstBuffer * buf)
{
  GstClockTime stream_time = gst_segment_to_stream_time (&trans->segment,
      GST_FORMAT_TIME, GST_BUFFER_PTS (buf));

  if (GST_CLOCK_TIME_IS_VALID (stream_time))
    gst_object_sync_values (GST_OBJECT (trans), stream_time);
}

static gboolean
gst_packd_filter_set_info (GstVideoFilter * vfilter, GstCaps * incaps,
    GstVideoInfo * in_info, GstCaps * outcaps, GstVideoInfo * out_info)
{
  /* Nothing is sized by the caps: the engine resizes every frame and the
   * heatmap follows each frame's aspect, so a caps change needs no work. */
  GST_DEBUG_OBJECT (vfilter, "%s %dx%d", GST_VIDEO_INFO_NAME (in_info),
      GST_VIDEO_INFO_WIDTH (in_info), GST_VIDEO_INFO_HEIGHT (in_info));
  return TRUE;
}

static GstFlowReturn
gst_packd_filter_transform_frame_ip (GstVideoFilter * vfilter, GstVideoFrame * frame)
{
  GstPackdFilter *self = GST_PACKD_FILTER (vfilter);
  GstBaseTransform *trans = GST_BASE_TRANSFORM (vfilter);
  GstPackdSettings s;
  GstPackdFilterResult *fresh = NULL;
  GstPackdFrameTimes times;
  gboolean due, analysed = FALSE;
  GError *error = NULL;

  settings_snapshot (self, &s);
  gst_packd_frame_times_init (&times, &trans->segment, frame->buffer, self->frame_count++);
  due = times.frame_number % s.inference_interval == 0;

  if (self->worker != NULL) {
    analysed = due && gst_packd_worker_submit (self->worker, frame, &times, &s);
    fresh = gst_packd_worker_take (self->worker, &error);
    if (error != NULL) {
      gst_packd_filter_result_free (fresh);
      goto engine_failed;
    }
  } else if (due) {
    fresh = gst_packd_filter_analyse (self->scorer, frame, &times, &s, &error);
    if (fresh == NULL)
      goto engine_failed;
    analysed = TRUE;
  }

  if (!analysed) {
    GST_OBJECT_LOCK (self);
    self->frames_skipped++;
    GST_OBJECT_UNLOCK (self);
  }
  if (fresh != NULL) {
    gst_packd_filter_handle_result (self, fresh, &s);
    g_clear_pointer (&self->last_result, gst_packd_filter_result_free);
    self->last_result = fresh;
  }
  if (self->last_result != NULL) {
    /* Only a synchronous analysis belongs to this very frame. */
    gboolean inferred = self->worker == NULL && analysed;
    gst_packd_filter_attach (self, frame, self->last_result, inferred, &s);
  }
  gst_packd_stats_update (self, &times, &s);
  return GST_FLOW_OK;

engine_failed:
  GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Anomaly scoring failed."),
      ("%s", error->message));
  g_clear_error (&error);
  return GST_FLOW_ERROR;
}

/* ------------------------------------------------------------------------ */
/* GObject                                                                   */

static gchar **
strv_from_value_array (const GValue * value)
{
  guint n = gst_value_array_get_size (value);
  GPtrArray *paths = g_ptr_array_new ();

  for (guint i = 0; i < n; i++) {
    const GValue *item = gst_value_array_get_value (value, i);
    if (G_VALUE_HOLDS_STRING (item) && g_value_get_string (item) != NULL)
      g_ptr_array_add (paths, g_value_dup_string (item));
  }
  g_ptr_array_add (paths, NULL);
  return (gchar **) g_ptr_array_free (paths, FALSE);
}

static void
value_array_from_strv (GValue * value, gchar ** strv)
{
  for (guint i = 0; strv != NULL && strv[i] != NULL; i++) {
    GValue item = G_VALUE_INIT;
    g_value_init (&item, G_TYPE_STRING);
    g_value_set_string (&item, strv[i]);
    gst_value_array_append_and_take_value (value, &item);
  }
}

static void
gst_packd_filter_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstPackdFilter *self = GST_PACKD_FILTER (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_SUPPORT_IMAGES:{
      gchar **paths = strv_from_value_array (value);
      g_strfreev (self->support_images);
      self->support_images = g_strdupv (paths);
      GST_OBJECT_UNLOCK (self);
      gst_packd_support_request_swap (self, paths);
      return;
    }
    case PROP_MODEL_FILE:
      g_free (self->model_file);
      self->model_file = g_value_dup_string (value);
      break;
    case PROP_METHOD:
      self->method = g_value_get_enum (value);
      break;
    case PROP_THRESHOLD:
      self->threshold = g_value_get_double (value);
      break;
    case PROP_PIXEL_THRESHOLD:
      self->pixel_threshold = g_value_get_double (value);
      break;
    case PROP_MIN_REGION_SIZE:
      self->min_region_size = g_value_get_uint (value);
      break;
    case PROP_INFERENCE_INTERVAL:
      self->inference_interval = g_value_get_uint (value);
      break;
    case PROP_NON_BLOCKING:
      self->non_blocking = g_value_get_boolean (value);
      break;
    case PROP_OVERLAY:
      self->overlay = g_value_get_boolean (value);
      break;
    case PROP_DRAW_HEATMAP:
      self->draw_heatmap = g_value_get_boolean (value);
      break;
    case PROP_DRAW_REGIONS:
      self->draw_regions = g_value_get_boolean (value);
      break;
    case PROP_DRAW_SCORE:
      self->draw_score = g_value_get_boolean (value);
      break;
    case PROP_HEATMAP_ALPHA:
      self->heatmap_alpha = g_value_get_double (value);
      break;
    case PROP_POST_MESSAGES:
      self->post_messages = g_value_get_boolean (value);
      break;
    case PROP_POST_ALL_FRAMES:
      self->post_all_frames = g_value_get_boolean (value);
      break;
    case PROP_ALERT_MIN_FRAMES:
      self->alert_min_frames = g_value_get_uint (value);
      break;
    case PROP_ALERT_HOLD_TIME:
      self->alert_hold_time = g_value_get_uint64 (value);
      break;
    case PROP_STATS_INTERVAL:
      self->stats_interval = g_value_get_uint64 (value);
      break;
    case PROP_JSON_LOCATION:
      g_free (self->json_location);
      self->json_location = g_value_dup_string (value);
      break;
    case PROP_ATTACH_ROI_META:
      self->attach_roi_meta = g_value_get_boolean (value);
      break;
    case PROP_N_THREADS:
      self->n_threads = g_value_get_uint (value);
      break;
    case PROP_MAP_REFERENCE:
      self->map_reference = g_value_get_enum (value);
      break;
    case PROP_CORESET_FRACTION:
      self->coreset_fraction = g_value_get_double (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_packd_filter_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  GstPackdFilter *self = GST_PACKD_FILTER (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_SUPPORT_IMAGES:
      value_array_from_strv (value, self->support_images);
      break;
    case PROP_MODEL_FILE:
      g_value_set_string (value, self->model_file);
      break;
    case PROP_METHOD:
      g_value_set_enum (value, self->method);
      break;
    case PROP_THRESHOLD:
      g_value_set_double (value, self->threshold);
      break;
    case PROP_PIXEL_THRESHOLD:
      g_value_set_double (value, self->pixel_threshold);
      break;
    case PROP_MIN_REGION_SIZE:
      g_value_set_uint (value, self->min_region_size);
      break;
    case PROP_INFERENCE_INTERVAL:
      g_value_set_uint (value, self->inference_interval);
      break;
    case PROP_NON_BLOCKING:
      g_value_set_boolean (value, self->non_blocking);
      break;
    case PROP_OVERLAY:
      g_value_set_boolean (value, self->overlay);
      break;
    case PROP_DRAW_HEATMAP:
      g_value_set_boolean (value, self->draw_heatmap);
      break;
    case PROP_DRAW_REGIONS:
      g_value_set_boolean (value, self->draw_regions);
      break;
    case PROP_DRAW_SCORE:
      g_value_set_boolean (value, self->draw_score);
      break;
    case PROP_HEATMAP_ALPHA:
      g_value_set_double (value, self->heatmap_alpha);
      break;
    case PROP_POST_MESSAGES:
      g_value_set_boolean (value, self->post_messages);
      break;
    case PROP_POST_ALL_FRAMES:
      g_value_set_boolean (value, self->post_all_frames);
      break;
    case PROP_ALERT_MIN_FRAMES:
      g_value_set_uint (value, self->alert_min_frames);
      break;
    case PROP_ALERT_HOLD_TIME:
      g_value_set_uint64 (value, self->alert_hold_time);
      break;
    case PROP_STATS_INTERVAL:
      g_value_set_uint64 (value, self->stats_interval);
      break;
    case PROP_JSON_LOCATION:
      g_value_set_string (value, self->json_location);
      break;
    case PROP_ATTACH_ROI_META:
      g_value_set_boolean (value, self->attach_roi_meta);
      break;
    case PROP_N_THREADS:
      g_value_set_uint (value, self->n_threads);
      break;
    case PROP_MAP_REFERENCE:
      g_value_set_enum (value, self->map_reference);
      break;
    case PROP_CORESET_FRACTION:
      g_value_set_double (value, self->coreset_fraction);
      break;
    case PROP_LAST_SCORE:
      g_value_set_double (value, self->last_score);
      break;
    case PROP_FRAMES_ANALYSED:
      g_value_set_uint64 (value, self->frames_analysed);
      break;
    case PROP_FRAMES_SKIPPED:
      g_value_set_uint64 (value, self->frames_skipped);
      break;
    case PROP_FRAMES_ANOMALOUS:
      g_value_set_uint64 (value, self->frames_anomalous);
      break;
    case PROP_LAST_LATENCY:
      g_value_set_uint64 (value, self->last_latency);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_packd_filter_finalize (GObject * object)
{
  GstPackdFilter *self = GST_PACKD_FILTER (object);

  g_strfreev (self->support_images);
  g_free (self->model_file);
  g_free (self->json_location);
  g_clear_pointer (&self->episode_regions, g_array_unref);
  g_mutex_clear (&self->support_lock);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

#define RW_PLAYING (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING)
#define RW_CONTROLLABLE (RW_PLAYING | GST_PARAM_CONTROLLABLE)
#define RW_READY (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY)
#define RO (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS)

static void
gst_packd_filter_class_init (GstPackdFilterClass * klass)
{
  GObjectClass *gobject_class = (GObjectClass *) klass;
  GstElementClass *element_class = (GstElementClass *) klass;
  GstBaseTransformClass *trans_class = (GstBaseTransformClass *) klass;
  GstVideoFilterClass *vfilter_class = (GstVideoFilterClass *) klass;

  gobject_class->set_property = gst_packd_filter_set_property;
  gobject_class->get_property = gst_packd_filter_get_property;
  gobject_class->finalize = gst_packd_filter_finalize;

  g_object_class_install_property (gobject_class, PROP_SUPPORT_IMAGES,
      gst_param_spec_array ("support-images", "Support images",
          "Pictures of good parts (PNG, JPEG, ... any size), e.g. '<good1.png,good2.jpg>'. "
          "Set while playing, the new set is loaded in the background and replaces the "
          "old one when ready (a bad set is rejected with a warning)",
          g_param_spec_string ("support-image", "Support image",
              "Path of a support image", NULL, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS),
          RW_PLAYING));
  g_object_class_install_property (gobject_class, PROP_MODEL_FILE,
      g_param_spec_string ("model-file", "Model file",
          "Teacher (knn) or PACKD model weights (safetensors); the default is the shipped "
          "PACKD model (models/MODEL.md, it embeds its teacher), the environment variable "
          "PACKD_MODEL overrides it", DEFAULT_PROP_MODEL_FILE, RW_READY));
  g_object_class_install_property (gobject_class, PROP_METHOD,
      g_param_spec_enum ("method", "Method",
          "Scoring method (knn by default: ahead of the shipped student on most "
          "categories measured, see models/MODEL.md)",
          GST_TYPE_PACKD_FILTER_METHOD, DEFAULT_PROP_METHOD, RW_READY));
  g_object_class_install_property (gobject_class, PROP_THRESHOLD,
      g_param_spec_double ("threshold", "Threshold",
          "Normalised score at and above which a frame is anomalous (0.5 = boundary "
          "calibrated on the support images)", 0.0, 1.0, DEFAULT_PROP_THRESHOLD,
          RW_CONTROLLABLE));
  g_object_class_install_property (gobject_class, PROP_PIXEL_THRESHOLD,
      g_param_spec_double ("pixel-threshold", "Pixel threshold",
          "Normalised heatmap value at and above which a pixel belongs to a region",
          0.0, 1.0, DEFAULT_PROP_PIXEL_THRESHOLD, RW_CONTROLLABLE));
  g_object_class_install_property (gobject_class, PROP_MIN_REGION_SIZE,
      g_param_spec_uint ("min-region-size", "Minimum region size",
          "Drop regions whose width or height is smaller (frame pixels)",
          0, G_MAXINT, DEFAULT_PROP_MIN_REGION_SIZE, RW_PLAYING));
  g_object_class_install_property (gobject_class, PROP_INFERENCE_INTERVAL,
      g_param_spec_uint ("inference-interval", "Inference interval",
          "Analyse every Nth frame; the others carry the last result as stale",
          1, G_MAXINT, DEFAULT_PROP_INFERENCE_INTERVAL, RW_PLAYING));
  g_object_class_install_property (gobject_class, PROP_NON_BLOCKING,
      g_param_spec_boolean ("non-blocking", "Non-blocking",
          "Analyse in a worker thread: frames never wait, frames arriving while it is "
          "busy are skipped, and results are attached to later frames (stale)",
          DEFAULT_PROP_NON_BLOCKING, RW_READY));
  g_object_class_install_property (gobject_class, PROP_OVERLAY,
      g_param_spec_boolean ("overlay", "Overlay", "Draw on the frames at all",
          DEFAULT_PROP_OVERLAY, RW_PLAYING));
  g_object_class_install_property (gobject_class, PROP_DRAW_HEATMAP,
      g_param_spec_boolean ("draw-heatmap", "Draw heatmap",
          "Blend the heatmap (JET colormap) over the frame", DEFAULT_PROP_DRAW_HEATMAP,
          RW_PLAYING));
  g_object_class_install_property (gobject_class, PROP_DRAW_REGIONS,
      g_param_spec_boolean ("draw-regions", "Draw regions",
          "Draw a box around each anomalous region", DEFAULT_PROP_DRAW_REGIONS, RW_PLAYING));
  g_object_class_install_property (gobject_class, PROP_DRAW_SCORE,
      g_param_spec_boolean ("draw-score", "Draw score",
          "Write the score and verdict in the top-left corner", DEFAULT_PROP_DRAW_SCORE,
          RW_PLAYING));
  g_object_class_install_property (gobject_class, PROP_HEATMAP_ALPHA,
      g_param_spec_double ("heatmap-alpha", "Heatmap alpha",
          "Opacity of the heatmap overlay", 0.0, 1.0, DEFAULT_PROP_HEATMAP_ALPHA,
          RW_CONTROLLABLE));
  g_object_class_install_property (gobject_class, PROP_POST_MESSAGES,
      g_param_spec_boolean ("post-messages", "Post messages",
          "Post packdfilter-anomaly begin/end messages", DEFAULT_PROP_POST_MESSAGES,
          RW_PLAYING));
  g_object_class_install_property (gobject_class, PROP_POST_ALL_FRAMES,
      g_param_spec_boolean ("post-all-frames", "Post all frames",
          "Post a packdfilter-frame message per analysed frame",
          DEFAULT_PROP_POST_ALL_FRAMES, RW_PLAYING));
  g_object_class_install_property (gobject_class, PROP_ALERT_MIN_FRAMES,
      g_param_spec_uint ("alert-min-frames", "Alert minimum frames",
          "Consecutive anomalous analysed frames before an anomaly begins",
          1, G_MAXINT, DEFAULT_PROP_ALERT_MIN_FRAMES, RW_PLAYING));
  g_object_class_install_property (gobject_class, PROP_ALERT_HOLD_TIME,
      g_param_spec_uint64 ("alert-hold-time", "Alert hold time",
          "Running time (ns) without anomalous frames before an anomaly ends",
          0, G_MAXUINT64, DEFAULT_PROP_ALERT_HOLD_TIME, RW_PLAYING));
  g_object_class_install_property (gobject_class, PROP_STATS_INTERVAL,
      g_param_spec_uint64 ("stats-interval", "Statistics interval",
          "Running time (ns) between packdfilter-stats messages (0 = none)",
          0, G_MAXUINT64, DEFAULT_PROP_STATS_INTERVAL, RW_PLAYING));
  g_object_class_install_property (gobject_class, PROP_JSON_LOCATION,
      g_param_spec_string ("json-location", "JSON location",
          "Write one JSON object per analysed frame to this file ('-' = stdout)",
          DEFAULT_PROP_JSON_LOCATION, RW_READY));
  g_object_class_install_property (gobject_class, PROP_ATTACH_ROI_META,
      g_param_spec_boolean ("attach-roi-meta", "Attach ROI meta",
          "Also attach a GstVideoRegionOfInterestMeta per region (hardware encoders "
          "treat them as ROIs)", DEFAULT_PROP_ATTACH_ROI_META, RW_PLAYING));
  g_object_class_install_property (gobject_class, PROP_N_THREADS,
      g_param_spec_uint ("n-threads", "Threads",
          "Threads of the engine's own pool (0 = one per core); keep the sum over "
          "pipelines at the number of cores", 0, 1024, DEFAULT_PROP_N_THREADS, RW_READY));
  g_object_class_install_property (gobject_class, PROP_CORESET_FRACTION,
      g_param_spec_double ("coreset-fraction", "Coreset fraction",
          "knn: keep this fraction of the support positions as the memory bank "
          "(greedy coreset; 1 = all, exact). 0.05 is ~10x faster at k=8 for a "
          "few tenths of a pixel-AUROC point", 0.001, 1.0,
          DEFAULT_PROP_CORESET_FRACTION, RW_READY));
  g_object_class_install_property (gobject_class, PROP_MAP_REFERENCE,
      g_param_spec_enum ("map-reference", "Map reference",
          "packd, combined: what the student's map is measured against (models/MODEL.md)",
          GST_TYPE_PACKD_FILTER_MAP_REFERENCE, DEFAULT_PROP_MAP_REFERENCE, RW_READY));
  g_object_class_install_property (gobject_class, PROP_LAST_SCORE,
      g_param_spec_double ("last-score", "Last score",
          "Normalised score of the last analysed frame", 0.0, 1.0, 0.0, RO));
  g_object_class_install_property (gobject_class, PROP_FRAMES_ANALYSED,
      g_param_spec_uint64 ("frames-analysed", "Frames analysed",
          "Frames scored since start", 0, G_MAXUINT64, 0, RO));
  g_object_class_install_property (gobject_class, PROP_FRAMES_SKIPPED,
      g_param_spec_uint64 ("frames-skipped", "Frames skipped",
          "Frames passed without analysis (inference-interval, busy worker)",
          0, G_MAXUINT64, 0, RO));
  g_object_class_install_property (gobject_class, PROP_FRAMES_ANOMALOUS,
      g_param_spec_uint64 ("frames-anomalous", "Frames anomalous",
          "Analysed frames found anomalous", 0, G_MAXUINT64, 0, RO));
  g_object_class_install_property (gobject_class, PROP_LAST_LATENCY,
      g_param_spec_uint64 ("last-latency", "Last latency",
          "Analysis time of the last analysed frame (ns)", 0, G_MAXUINT64, 0, RO));

  gst_element_class_set_static_metadata (element_class, "Few-shot anomaly detector",
      "Filter/Analyzer/Video",
      "Scores frames against a few images of good parts: anomaly score, verdict, regions, "
      "heatmap overlay", "packd developers");
  gst_element_class_add_static_pad_template (element_class,
      &gst_packd_filter_sink_template);
  gst_element_class_add_static_pad_template (element_class,
      &gst_packd_filter_src_template);

  trans_class->start = GST_DEBUG_FUNCPTR (gst_packd_filter_start);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_packd_filter_stop);
  trans_class->sink_event = GST_DEBUG_FUNCPTR (gst_packd_filter_sink_event);
  trans_class->before_transform = GST_DEBUG_FUNCPTR (gst_packd_filter_before_transform);
  vfilter_class->set_info = GST_DEBUG_FUNCPTR (gst_packd_filter_set_info);
  vfilter_class->transform_frame_ip =
      GST_DEBUG_FUNCPTR (gst_packd_filter_transform_frame_ip);

  gst_type_mark_as_plugin_api (GST_TYPE_PACKD_FILTER_METHOD, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_PACKD_FILTER_MAP_REFERENCE, 0);
}

static void
gst_packd_filter_init (GstPackdFilter * self)
{
  const gchar *env_model = g_getenv ("PACKD_MODEL");

  self->support_images = g_new0 (gchar *, 1);
  self->model_file = g_strdup (env_model && *env_model ? env_model : DEFAULT_PROP_MODEL_FILE);
  self->method = DEFAULT_PROP_METHOD;
  self->threshold = DEFAULT_PROP_THRESHOLD;
  self->pixel_threshold = DEFAULT_PROP_PIXEL_THRESHOLD;
  self->min_region_size = DEFAULT_PROP_MIN_REGION_SIZE;
  self->inference_interval = DEFAULT_PROP_INFERENCE_INTERVAL;
  self->non_blocking = DEFAULT_PROP_NON_BLOCKING;
  self->overlay = DEFAULT_PROP_OVERLAY;
  self->draw_heatmap = DEFAULT_PROP_DRAW_HEATMAP;
  self->draw_regions = DEFAULT_PROP_DRAW_REGIONS;
  self->draw_score = DEFAULT_PROP_DRAW_SCORE;
  self->heatmap_alpha = DEFAULT_PROP_HEATMAP_ALPHA;
  self->post_messages = DEFAULT_PROP_POST_MESSAGES;
  self->post_all_frames = DEFAULT_PROP_POST_ALL_FRAMES;
  self->alert_min_frames = DEFAULT_PROP_ALERT_MIN_FRAMES;
  self->alert_hold_time = DEFAULT_PROP_ALERT_HOLD_TIME;
  self->stats_interval = DEFAULT_PROP_STATS_INTERVAL;
  self->json_location = g_strdup (DEFAULT_PROP_JSON_LOCATION);
  self->attach_roi_meta = DEFAULT_PROP_ATTACH_ROI_META;
  self->n_threads = DEFAULT_PROP_N_THREADS;
  self->coreset_fraction = DEFAULT_PROP_CORESET_FRACTION;
  self->map_reference = DEFAULT_PROP_MAP_REFERENCE;
  g_mutex_init (&self->support_lock);
}
