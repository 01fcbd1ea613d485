/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef __GST_PACKD_FILTER_H__
#define __GST_PACKD_FILTER_H__

#include <stdio.h>

#include <gst/gst.h>
#include <gst/video/video.h>
#include <gst/video/gstvideofilter.h>

#include "packd-error.h"
#include "packd-scorer.h"
#include "packd-meta.h"
#include "packd-overlay.h"

G_BEGIN_DECLS

#define GST_TYPE_PACKD_FILTER (gst_packd_filter_get_type ())
G_DECLARE_FINAL_TYPE (GstPackdFilter, gst_packd_filter, GST, PACKD_FILTER, GstVideoFilter)

#define GST_TYPE_PACKD_FILTER_METHOD (gst_packd_filter_method_get_type ())
GType gst_packd_filter_method_get_type (void);

/* map-reference: the PackdMapReference values, or the model file's own */
#define GST_PACKD_FILTER_MAP_REFERENCE_MODEL (-1)
#define GST_TYPE_PACKD_FILTER_MAP_REFERENCE (gst_packd_filter_map_reference_get_type ())
GType gst_packd_filter_map_reference_get_type (void);

/* Private pieces shared with gstpackdfilter-analysis.c and -report.c. */
typedef struct _GstPackdWorker GstPackdWorker;
typedef struct _GstPackdFilterResult GstPackdFilterResult;

typedef struct {
  GstClockTime pts;
  GstClockTime duration;
  GstClockTime running_time;
  GstClockTime stream_time;
  guint64 frame_number;         /* frames seen since start, from 0 */
} GstPackdFrameTimes;

struct _GstPackdFilter
{
  GstVideoFilter videofilter;

  /* < private > */
  /* properties, protected by the object lock */
  gchar **support_images;
  gchar *model_file;
  PackdMethod method;
  gdouble threshold;
  gdouble pixel_threshold;
  guint min_region_size;
  guint inference_interval;
  gboolean non_blocking;
  gboolean overlay;
  gboolean draw_heatmap;
  gboolean draw_regions;
  gboolean draw_score;
  gdouble heatmap_alpha;
  gboolean post_messages;
  gboolean post_all_frames;
  guint alert_min_frames;
  GstClockTime alert_hold_time;
  GstClockTime stats_interval;
  gchar *json_location;
  gboolean attach_roi_meta;
  guint n_threads;
  gdouble coreset_fraction;
  gint map_reference;           /* PackdMapReference or ..._MAP_REFERENCE_MODEL */

  /* read-only statistics, protected by the object lock */
  gdouble last_score;
  guint64 frames_analysed;
  guint64 frames_skipped;
  guint64 frames_anomalous;
  GstClockTime last_latency;

  /* engine; the scorer lives from start() to stop() */
  PackdScorer *scorer;
  GMutex support_lock;          /* guards the fields below */
  gboolean support_swappable;
  gchar **support_request;
  GThread *support_thread;
  gboolean support_thread_busy;

  /* streaming state */
  GstPackdWorker *worker;
  PackdOverlay *painter;
  GstPackdFilterResult *last_result;
  guint64 frame_count;
  FILE *json_file;

  /* alert episode */
  guint anomalous_run;
  gboolean in_episode;
  GstClockTime last_anomalous_time;
  gdouble episode_peak;
  guint64 episode_frames;
  GArray *episode_regions;      /* of the peak frame */
  gdouble episode_threshold;
  GstPackdFrameTimes episode_last_times;

  /* periodic statistics */
  GstClockTime stats_last_time;
  gint64 stats_last_wall;
  guint64 stats_frames;
  GstClockTime stats_latency_sum;
  GstClockTime stats_latency_max;
};

GST_ELEMENT_REGISTER_DECLARE (packdfilter);

G_END_DECLS

#endif /* __GST_PACKD_FILTER_H__ */
