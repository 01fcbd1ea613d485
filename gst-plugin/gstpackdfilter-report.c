/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "gstpackdfilter-analysis.h"
#include "packd-json.h"

#include <errno.h>
#include <string.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#define GST_CAT_DEFAULT gst_packd_filter_debug

/* ------------------------------------------------------------------------ */
/* JSON lines                                                                */

gboolean
gst_packd_report_open (FILE ** file, const gchar * location, GError ** error)
{
  *file = NULL;
  if (location == NULL || *location == '\0')
    return TRUE;
  if (strcmp (location, "-") == 0) {
    *file = stdout;
    return TRUE;
  }
  *file = g_fopen (location, "w");
  if (*file == NULL) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_OPEN_WRITE,
        "Could not open JSON file \"%s\" for writing: %s", location, g_strerror (errno));
    return FALSE;
  }
  return TRUE;
}

void
gst_packd_report_close (FILE ** file)
{
  if (*file != NULL && *file != stdout)
    fclose (*file);
  else if (*file == stdout)
    fflush (stdout);
  *file = NULL;
}

static void
json_add_double (JsonBuilder * builder, const gchar * name, gdouble value)
{
  json_builder_set_member_name (builder, name);
  json_builder_add_double_value (builder, value);
}

static void
json_write_result (FILE * file, const GstPackdFilterResult * result)
{
  const PackdAnomalyInfo *info = &result->info;
  JsonBuilder *builder = json_builder_new ();

  json_builder_begin_object (builder);
  packd_json_add_time (builder, "timestamp", result->times.pts);
  packd_json_add_time (builder, "running_time", result->times.running_time);
  json_builder_set_member_name (builder, "frame");
  json_builder_add_int_value (builder, (gint64) result->times.frame_number);
  json_builder_set_member_name (builder, "resolution");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "width");
  json_builder_add_int_value (builder, result->width);
  json_builder_set_member_name (builder, "height");
  json_builder_add_int_value (builder, result->height);
  json_builder_end_object (builder);
  json_add_double (builder, "score", info->score);
  json_add_double (builder, "raw_score", info->raw_score);
  json_add_double (builder, "threshold", info->threshold);
  json_builder_set_member_name (builder, "anomalous");
  json_builder_add_boolean_value (builder, info->anomalous);
  json_builder_set_member_name (builder, "inferred");
  json_builder_add_boolean_value (builder, info->inferred);
  /* issue 4 names it "stale": the result belongs to an earlier frame */
  json_builder_set_member_name (builder, "stale");
  json_builder_add_boolean_value (builder, !info->inferred);
  json_add_double (builder, "latency_ms", (gdouble) info->latency / GST_MSECOND);
  json_builder_set_member_name (builder, "regions");
  json_builder_begin_array (builder);
  for (guint i = 0; i < info->regions->len; i++) {
    const PackdRegion *r = &g_array_index (info->regions, PackdRegion, i);
    json_builder_begin_object (builder);
    json_add_double (builder, "x", r->x);
    json_add_double (builder, "y", r->y);
    json_add_double (builder, "w", r->w);
    json_add_double (builder, "h", r->h);
    json_add_double (builder, "score", r->score);
    json_builder_end_object (builder);
  }
  json_builder_end_array (builder);
  json_builder_end_object (builder);

  JsonGenerator *generator = json_generator_new ();
  JsonNode *root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  gsize length;
  gchar *line = json_generator_to_data (generator, &length);
  fwrite (line, 1, length, file);
  fputc ('\n', file);
  /* Whole lines for tail -f and for readers of a pipe. */
  fflush (file);

  g_free (line);
  json_node_unref (root);
  g_object_unref (generator);
  g_object_unref (builder);
}

/* ------------------------------------------------------------------------ */
/* Bus messages                                                              */

static GstStructure *
message_structure_new (const gchar * name, const GstPackdFrameTimes * times)
{
  return gst_structure_new (name,
      "timestamp", G_TYPE_UINT64, times->pts,
      "stream-time", G_TYPE_UINT64, times->stream_time,
      "running-time", G_TYPE_UINT64, times->running_time,
      "duration", G_TYPE_UINT64, times->duration, NULL);
}

static void
post_structure (GstPackdFilter * self, GstStructure * s)
{
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self), s));
}

static void
post_frame_message (GstPackdFilter * self, const GstPackdFilterResult * result)
{
  const PackdAnomalyInfo *info = &result->info;
  GstStructure *s = message_structure_new ("packdfilter-frame", &result->times);

  gst_structure_set (s,
      "score", G_TYPE_DOUBLE, info->score,
      "raw-score", G_TYPE_DOUBLE, info->raw_score,
      "anomalous", G_TYPE_BOOLEAN, info->anomalous,
      "inferred", G_TYPE_BOOLEAN, info->inferred,
      "latency", G_TYPE_UINT64, (guint64) info->latency,
      "n-regions", G_TYPE_UINT, info->regions->len, NULL);
  post_structure (self, s);
}

static void
post_anomaly_message (GstPackdFilter * self, const gchar * state,
    const GstPackdFrameTimes * times, gdouble threshold)
{
  GstStructure *s = message_structure_new ("packdfilter-anomaly", times);
  GValue regions = G_VALUE_INIT;

  packd_regions_to_value (self->episode_regions, &regions);
  gst_structure_set (s,
      "state", G_TYPE_STRING, state,
      "score", G_TYPE_DOUBLE, self->episode_peak,
      "threshold", G_TYPE_DOUBLE, threshold,
      "frames", G_TYPE_UINT64, self->episode_frames,
      "n-regions", G_TYPE_UINT, self->episode_regions->len, NULL);
  gst_structure_take_value (s, "regions", &regions);
  GST_INFO_OBJECT (self, "anomaly %s at %" GST_TIME_FORMAT ", peak %.3f", state,
      GST_TIME_ARGS (times->running_time), self->episode_peak);
  post_structure (self, s);
}

/* ------------------------------------------------------------------------ */
/* Alert episodes: begin after alert-min-frames consecutive anomalous
 * analysed frames, end after alert-hold-time of running time without one.  */

void
gst_packd_alert_reset (GstPackdFilter * self)
{
  self->anomalous_run = 0;
  self->in_episode = FALSE;
  self->last_anomalous_time = GST_CLOCK_TIME_NONE;
  self->episode_peak = 0.0;
  self->episode_frames = 0;
  if (self->episode_regions == NULL)
    self->episode_regions = g_array_new (FALSE, FALSE, sizeof (PackdRegion));
  g_array_set_size (self->episode_regions, 0);
  self->episode_threshold = 0.0;
  self->episode_last_times = (GstPackdFrameTimes) {
    .pts = GST_CLOCK_TIME_NONE, .duration = GST_CLOCK_TIME_NONE,
    .running_time = GST_CLOCK_TIME_NONE, .stream_time = GST_CLOCK_TIME_NONE,
  };
}

static void
episode_track_peak (GstPackdFilter * self, const PackdAnomalyInfo * info)
{
  if (self->episode_frames > 0 && info->score < self->episode_peak)
    return;
  /* Regions of the peak frame describe the episode. */
  self->episode_peak = info->score;
  g_array_set_size (self->episode_regions, 0);
  g_array_append_vals (self->episode_regions, info->regions->data, info->regions->len);
}

static void
alert_update (GstPackdFilter * self, const GstPackdFilterResult * result,
    const GstPackdSettings * settings)
{
  const PackdAnomalyInfo *info = &result->info;
  const GstClockTime now = result->times.running_time;

  self->episode_threshold = settings->threshold;
  self->episode_last_times = result->times;

  if (info->anomalous) {
    if (self->anomalous_run == 0 && !self->in_episode)
      self->episode_frames = 0;
    self->anomalous_run++;
    self->last_anomalous_time = now;
    episode_track_peak (self, info);
    self->episode_frames++;
    if (!self->in_episode && self->anomalous_run >= settings->alert_min_frames) {
      self->in_episode = TRUE;
      if (settings->post_messages)
        post_anomaly_message (self, "begin", &result->times, settings->threshold);
    }
    return;
  }

  self->anomalous_run = 0;
  if (!self->in_episode)
    return;
  self->episode_frames++;
  /* Without timestamps the hold time cannot be measured: end at once. */
  if (!GST_CLOCK_TIME_IS_VALID (now) || !GST_CLOCK_TIME_IS_VALID (self->last_anomalous_time)
      || now >= self->last_anomalous_time + settings->alert_hold_time) {
    if (settings->post_messages)
      post_anomaly_message (self, "end", &result->times, settings->threshold);
    self->in_episode = FALSE;
    self->episode_frames = 0;
  }
}

void
gst_packd_alert_flush (GstPackdFilter * self)
{
  gboolean post_messages;

  if (!self->in_episode)
    return;
  GST_OBJECT_LOCK (self);
  post_messages = self->post_messages;
  GST_OBJECT_UNLOCK (self);
  if (post_messages)
    post_anomaly_message (self, "end", &self->episode_last_times, self->episode_threshold);
  self->in_episode = FALSE;
  self->anomalous_run = 0;
  self->episode_frames = 0;
}

/* ------------------------------------------------------------------------ */

void
gst_packd_filter_handle_result (GstPackdFilter * self, GstPackdFilterResult * result,
    const GstPackdSettings * settings)
{
  PackdAnomalyInfo *info = &result->info;

  info->threshold = settings->threshold;
  info->anomalous = info->score >= settings->threshold;
  /* Synchronous results describe the frame they come with; worker results
   * reach a later one. */
  info->inferred = self->worker == NULL;

  GST_OBJECT_LOCK (self);
  self->last_score = info->score;
  self->frames_analysed++;
  if (info->anomalous)
    self->frames_anomalous++;
  self->last_latency = info->latency;
  GST_OBJECT_UNLOCK (self);

  self->stats_frames++;
  self->stats_latency_sum += info->latency;
  self->stats_latency_max = MAX (self->stats_latency_max, info->latency);

  GST_LOG_OBJECT (self, "frame %" G_GUINT64_FORMAT ": score %.3f (raw %g), %u regions, %.1f ms",
      result->times.frame_number, info->score, info->raw_score, info->regions->len,
      (gdouble) info->latency / GST_MSECOND);
  if (self->json_file != NULL)
    json_write_result (self->json_file, result);
  if (settings->post_all_frames)
    post_frame_message (self, result);
  alert_update (self, result, settings);
}

/* ------------------------------------------------------------------------ */
/* Periodic statistics                                                       */

void
gst_packd_stats_reset (GstPackdFilter * self)
{
  self->stats_last_time = GST_CLOCK_TIME_NONE;
  self->stats_last_wall = g_get_monotonic_time ();
  self->stats_frames = 0;
  self->stats_latency_sum = 0;
  self->stats_latency_max = 0;
}

void
gst_packd_stats_update (GstPackdFilter * self, const GstPackdFrameTimes * times,
    const GstPackdSettings * settings)
{
  const GstClockTime now = times->running_time;

  if (settings->stats_interval == 0 || !GST_CLOCK_TIME_IS_VALID (now))
    return;
  if (!GST_CLOCK_TIME_IS_VALID (self->stats_last_time)) {
    /* The first period starts with the first frame, not at start(). */
    self->stats_last_time = now;
    self->stats_last_wall = g_get_monotonic_time ();
    return;
  }
  if (now < self->stats_last_time + settings->stats_interval)
    return;

  const gint64 wall = g_get_monotonic_time ();
  const gdouble seconds = MAX (wall - self->stats_last_wall, 1) / (gdouble) G_USEC_PER_SEC;
  guint64 analysed, skipped, anomalous;

  GST_OBJECT_LOCK (self);
  analysed = self->frames_analysed;
  skipped = self->frames_skipped;
  anomalous = self->frames_anomalous;
  GST_OBJECT_UNLOCK (self);

  GstStructure *s = message_structure_new ("packdfilter-stats", times);
  gst_structure_set (s,
      "frames-analysed", G_TYPE_UINT64, analysed,
      "frames-skipped", G_TYPE_UINT64, skipped,
      "frames-anomalous", G_TYPE_UINT64, anomalous,
      "fps", G_TYPE_DOUBLE, self->stats_frames / seconds,
      "latency-avg", G_TYPE_UINT64,
      self->stats_frames ? self->stats_latency_sum / self->stats_frames : (guint64) 0,
      "latency-max", G_TYPE_UINT64, (guint64) self->stats_latency_max, NULL);
  post_structure (self, s);

  gst_packd_stats_reset (self);
  self->stats_last_time = now;
}
