/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_PACKD_FILTER_ANALYSIS_H__
#define __GST_PACKD_FILTER_ANALYSIS_H__

/* Internals of packdfilter, split out of gstpackdfilter.c:
 * gstpackdfilter-analysis.c  frame -> result, non-blocking worker, meta/overlay,
 *                            support set loading and swapping
 * gstpackdfilter-report.c    JSON lines, alert episodes, bus messages, stats */

#include "gstpackdfilter.h"
#include "packd-imageio.h"
#include "packd-regions.h"

G_BEGIN_DECLS

GST_DEBUG_CATEGORY_EXTERN (gst_packd_filter_debug);

/* Posts a GError whose message is meant for the user (no debug text). */
#define POST_GERROR(self, type, err)                                      \
  gst_element_message_full (GST_ELEMENT (self), type, (err)->domain,     \
      (err)->code, g_strdup ((err)->message), NULL, __FILE__,            \
      GST_FUNCTION, __LINE__)

/* Property values one frame works with (snapshot under the object lock). */
typedef struct {
  gdouble threshold;
  gdouble pixel_threshold;
  guint min_region_size;
  guint inference_interval;
  PackdOverlayOptions overlay;
  gboolean post_messages;
  gboolean post_all_frames;
  guint alert_min_frames;
  GstClockTime alert_hold_time;
  GstClockTime stats_interval;
  gboolean attach_roi_meta;
} GstPackdSettings;

struct _GstPackdFilterResult {
  PackdAnomalyInfo info;        /* inferred, threshold, anomalous: per buffer */
  GstPackdFrameTimes times;     /* of the analysed frame */
  gint width;
  gint height;
};

void gst_packd_frame_times_init (GstPackdFrameTimes * times, const GstSegment * segment,
    GstBuffer * buffer, guint64 frame_number);

/* Scores a frame, builds its heatmap and regions. */
GstPackdFilterResult *gst_packd_filter_analyse (PackdScorer * scorer, GstVideoFrame * frame,
    const GstPackdFrameTimes * times, const GstPackdSettings * settings, GError ** error);
void gst_packd_filter_result_free (GstPackdFilterResult * result);
/* Meta, ROI metas and overlay of a result on the frame's buffer. */
void gst_packd_filter_attach (GstPackdFilter * self, GstVideoFrame * frame,
    const GstPackdFilterResult * result, gboolean inferred, const GstPackdSettings * settings);

GstPackdWorker *gst_packd_worker_new (PackdScorer * scorer);
void gst_packd_worker_free (GstPackdWorker * worker);
/* Copies the frame for the worker; FALSE (frame skipped) while it is busy. */
gboolean gst_packd_worker_submit (GstPackdWorker * worker, GstVideoFrame * frame,
    const GstPackdFrameTimes * times, const GstPackdSettings * settings);
/* The result finished since the last call, or NULL; error when it failed. */
GstPackdFilterResult *gst_packd_worker_take (GstPackdWorker * worker, GError ** error);
/* Waits for the frame in flight, then takes its result (EOS). */
GstPackdFilterResult *gst_packd_worker_drain (GstPackdWorker * worker, GError ** error);

/* Loads support images and builds a support set; errors are
 * GST_RESOURCE_ERRORs whose message is meant for the user. */
PackdSupport *gst_packd_support_load (PackdScorer * scorer, gchar ** paths, GError ** error);
/* Takes paths: builds that set off the streaming thread and swaps it in
 * (packdfilter-support message), or posts a warning and keeps the old one.
 * Does nothing unless started. */
void gst_packd_support_request_swap (GstPackdFilter * self, gchar ** paths);
/* Refuses further swaps and waits for a running one. */
void gst_packd_support_swaps_stop (GstPackdFilter * self);

gboolean gst_packd_report_open (FILE ** file, const gchar * location, GError ** error);
void gst_packd_report_close (FILE ** file);
/* Counters, JSON line, frame message and alert episode of a new result;
 * sets its threshold and verdict from the settings. */
void gst_packd_filter_handle_result (GstPackdFilter * self, GstPackdFilterResult * result,
    const GstPackdSettings * settings);
void gst_packd_alert_reset (GstPackdFilter * self);
/* Ends a running episode (EOS). */
void gst_packd_alert_flush (GstPackdFilter * self);
void gst_packd_stats_reset (GstPackdFilter * self);
void gst_packd_stats_update (GstPackdFilter * self, const GstPackdFrameTimes * times,
    const GstPackdSettings * settings);

G_END_DECLS

#endif /* __GST_PACKD_FILTER_ANALYSIS_H__ */
