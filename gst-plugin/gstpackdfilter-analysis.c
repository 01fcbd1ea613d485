/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "gstpackdfilter-analysis.h"

#include <string.h>

#define GST_CAT_DEFAULT gst_packd_filter_debug

/* Longer side of the heatmap carried in the meta and used for regions:
 * enough for boxes (10 px cells at 640x480), small enough to copy per frame. */
#define HEATMAP_LONG_SIDE 64
/* Noisy maps at a low pixel-threshold could give hundreds of specks. */
#define MAX_REGIONS 32

void
gst_packd_frame_times_init (GstPackdFrameTimes * times, const GstSegment * segment,
    GstBuffer * buffer, guint64 frame_number)
{
  times->pts = GST_BUFFER_PTS (buffer);
  times->duration = GST_BUFFER_DURATION (buffer);
  times->running_time = gst_segment_to_running_time (segment, GST_FORMAT_TIME, times->pts);
  times->stream_time = gst_segment_to_stream_time (segment, GST_FORMAT_TIME, times->pts);
  times->frame_number = frame_number;
}

void
gst_packd_filter_result_free (GstPackdFilterResult * result)
{
  if (result == NULL)
    return;
  packd_anomaly_info_clear (&result->info);
  g_free (result);
}

/* The engine reads B,G,R,x bytes; xRGB/ARGB (big-endian Cairo layouts) are
 * x,R,G,B in memory and get reversed. */
static gboolean
format_is_bgrx (GstVideoFormat format)
{
  return format == GST_VIDEO_FORMAT_BGRx || format == GST_VIDEO_FORMAT_BGRA;
}

static void
frame_copy_bgrx (GstVideoFrame * frame, guint8 * dst)
{
  const int width = GST_VIDEO_FRAME_WIDTH (frame);
  const int height = GST_VIDEO_FRAME_HEIGHT (frame);
  const int stride = GST_VIDEO_FRAME_PLANE_STRIDE (frame, 0);
  const guint8 *src = GST_VIDEO_FRAME_PLANE_DATA (frame, 0);
  const gboolean swap = !format_is_bgrx (GST_VIDEO_FRAME_FORMAT (frame));

  for (int y = 0; y < height; y++) {
    const guint8 *s = src + (gsize) y * stride;
    guint8 *d = dst + (gsize) y * width * 4;
    if (!swap) {
      memcpy (d, s, (gsize) width * 4);
      continue;
    }
    for (int x = 0; x < width; x++, s += 4, d += 4) {
      d[0] = s[3];
      d[1] = s[2];
      d[2] = s[1];
      d[3] = s[0];
    }
  }
}

static GstPackdFilterResult *
analyse_image (PackdScorer * scorer, const PackdImage * image,
    const GstPackdFrameTimes * times, const GstPackdSettings * settings, GError ** error)
{
  const gint64 start = g_get_monotonic_time ();
  PackdResult scored;

  if (!packd_scorer_score (scorer, image, &scored, error))
    return NULL;

  GstPackdFilterResult *result = g_new0 (GstPackdFilterResult, 1);
  PackdAnomalyInfo *info = &result->info;
  int hw, hh;
  if (image->width >= image->height) {
    hw = HEATMAP_LONG_SIDE;
    hh = MAX (1, (int) (HEATMAP_LONG_SIDE * (gint64) image->height / image->width));
  } else {
    hh = HEATMAP_LONG_SIDE;
    hw = MAX (1, (int) (HEATMAP_LONG_SIDE * (gint64) image->width / image->height));
  }

  /* The heatmap is normalised like the score, so pixel-threshold and the
   * colormap read it on the same 0..1 scale with 0.5 at the boundary. */
  float *heatmap = g_new (float, hw * hh);
  packd_result_resample_map (&scored, heatmap, hw, hh);
  for (int i = 0; i < hw * hh; i++)
    heatmap[i] = packd_score_normalise (heatmap[i], scored.threshold);

  info->regions = g_array_new (FALSE, FALSE, sizeof (PackdRegion));
  packd_regions_find (heatmap, hw, hh, settings->pixel_threshold,
      (float) settings->min_region_size * hw / image->width,
      (float) settings->min_region_size * hh / image->height, MAX_REGIONS, info->regions);

  info->score = scored.score;
  info->raw_score = scored.raw_score;
  info->heatmap = g_bytes_new_take (heatmap, sizeof (float) * hw * hh);
  info->heatmap_width = hw;
  info->heatmap_height = hh;
  info->source_pts = times->pts;
  info->inferred = TRUE;
  info->latency = (g_get_monotonic_time () - start) * GST_USECOND;
  result->times = *times;
  result->width = image->width;
  result->height = image->height;
  return result;
}

GstPackdFilterResult *
gst_packd_filter_analyse (PackdScorer * scorer, GstVideoFrame * frame,
    const GstPackdFrameTimes * times, const GstPackdSettings * settings, GError ** error)
{
  PackdImage image = {
    .pixels = GST_VIDEO_FRAME_PLANE_DATA (frame, 0),
    .width = GST_VIDEO_FRAME_WIDTH (frame),
    .height = GST_VIDEO_FRAME_HEIGHT (frame),
    .stride = GST_VIDEO_FRAME_PLANE_STRIDE (frame, 0),
    .format = PACKD_PIXEL_BGRX,
  };
  guint8 *converted = NULL;
  GstPackdFilterResult *result;

  if (!format_is_bgrx (GST_VIDEO_FRAME_FORMAT (frame))) {
    converted = g_malloc ((gsize) image.width * image.height * 4);
    frame_copy_bgrx (frame, converted);
    image.pixels = converted;
    image.stride = image.width * 4;
  }
  result = analyse_image (scorer, &image, times, settings, error);
  g_free (converted);
  return result;
}

static void
attach_roi_metas (GstBuffer * buffer, const GArray * regions, int width, int height)
{
  for (guint i = 0; i < regions->len; i++) {
    const PackdRegion *r = &g_array_index (regions, PackdRegion, i);
    guint x = (guint) (r->x * width + 0.5), y = (guint) (r->y * height + 0.5);
    guint w = (guint) (r->w * width + 0.5), h = (guint) (r->h * height + 0.5);
    GstVideoRegionOfInterestMeta *roi =
        gst_buffer_add_video_region_of_interest_meta (buffer, "anomaly", x, y,
        MIN (w, (guint) width - x), MIN (h, (guint) height - y));
    /* DL Streamer's detection params, for tools that already read them. */
    gst_video_region_of_interest_meta_add_param (roi, gst_structure_new ("detection",
            "x_min", G_TYPE_DOUBLE, (gdouble) r->x,
            "y_min", G_TYPE_DOUBLE, (gdouble) r->y,
            "x_max", G_TYPE_DOUBLE, (gdouble) (r->x + r->w),
            "y_max", G_TYPE_DOUBLE, (gdouble) (r->y + r->h),
            "confidence", G_TYPE_DOUBLE, (gdouble) r->score,
            "label_id", G_TYPE_INT, 1, "label", G_TYPE_STRING, "anomaly", NULL));
  }
}

void
gst_packd_filter_attach (GstPackdFilter * self, GstVideoFrame * frame,
    const GstPackdFilterResult * result, gboolean inferred, const GstPackdSettings * settings)
{
  PackdAnomalyInfo info = result->info;
  GstBuffer *buffer = frame->buffer;

  /* A held result is judged with the threshold of now. */
  info.inferred = inferred;
  info.threshold = settings->threshold;
  info.anomalous = info.score >= settings->threshold;

  if (packd_anomaly_meta_add (buffer, &info) == NULL)
    GST_WARNING_OBJECT (self, "could not attach " PACKD_ANOMALY_META_NAME);
  if (settings->attach_roi_meta)
    attach_roi_metas (buffer, info.regions, GST_VIDEO_FRAME_WIDTH (frame),
        GST_VIDEO_FRAME_HEIGHT (frame));
  if (!packd_overlay_draw (self->painter, frame, &info, &settings->overlay))
    GST_WARNING_OBJECT (self, "overlay drawing failed");
}

/* ------------------------------------------------------------------------ */
/* Non-blocking worker: one frame in flight, the latest result out.          */

struct _GstPackdWorker
{
  PackdScorer *scorer;
  GThread *thread;
  GMutex lock;
  GCond cond;
  gboolean quit;
  gboolean pending;             /* a frame waits in pixels */
  gboolean busy;                /* the worker reads pixels */
  guint8 *pixels;               /* packed BGRx copy of the frame */
  gsize pixels_size;
  PackdImage image;
  GstPackdFrameTimes times;
  GstPackdSettings settings;
  GstPackdFilterResult *done;
  GError *error;
};

static gpointer
worker_thread_func (gpointer data)
{
  GstPackdWorker *worker = data;

  g_mutex_lock (&worker->lock);
  for (;;) {
    while (!worker->quit && !worker->pending)
      g_cond_wait (&worker->cond, &worker->lock);
    if (worker->quit)
      break;
    worker->pending = FALSE;
    worker->busy = TRUE;
    g_mutex_unlock (&worker->lock);

    GError *error = NULL;
    GstPackdFilterResult *result = analyse_image (worker->scorer, &worker->image,
        &worker->times, &worker->settings, &error);

    g_mutex_lock (&worker->lock);
    worker->busy = FALSE;
    g_cond_broadcast (&worker->cond);   /* for drain() */
    if (result != NULL) {
      /* An unclaimed older result is superseded. */
      gst_packd_filter_result_free (worker->done);
      worker->done = result;
    } else if (worker->error == NULL) {
      worker->error = error;
    } else {
      g_clear_error (&error);
    }
  }
  g_mutex_unlock (&worker->lock);
  return NULL;
}

GstPackdWorker *
gst_packd_worker_new (PackdScorer * scorer)
{
  GstPackdWorker *worker = g_new0 (GstPackdWorker, 1);

  worker->scorer = scorer;
  g_mutex_init (&worker->lock);
  g_cond_init (&worker->cond);
  worker->thread = g_thread_new ("packd-worker", worker_thread_func, worker);
  return worker;
}

void
gst_packd_worker_free (GstPackdWorker * worker)
{
  if (worker == NULL)
    return;
  g_mutex_lock (&worker->lock);
  worker->quit = TRUE;
  g_cond_signal (&worker->cond);
  g_mutex_unlock (&worker->lock);
  g_thread_join (worker->thread);

  gst_packd_filter_result_free (worker->done);
  g_clear_error (&worker->error);
  g_free (worker->pixels);
  g_cond_clear (&worker->cond);
  g_mutex_clear (&worker->lock);
  g_free (worker);
}

gboolean
gst_packd_worker_submit (GstPackdWorker * worker, GstVideoFrame * frame,
    const GstPackdFrameTimes * times, const GstPackdSettings * settings)
{
  const int width = GST_VIDEO_FRAME_WIDTH (frame);
  const int height = GST_VIDEO_FRAME_HEIGHT (frame);
  const gsize size = (gsize) width * height * 4;

  g_mutex_lock (&worker->lock);
  if (worker->pending || worker->busy) {
    g_mutex_unlock (&worker->lock);
    return FALSE;
  }
  /* The worker is idle: the buffer is ours until pending is set. */
  if (worker->pixels_size < size) {
    g_free (worker->pixels);
    worker->pixels = g_malloc (size);
    worker->pixels_size = size;
  }
  frame_copy_bgrx (frame, worker->pixels);
  worker->image = (PackdImage) {
    .pixels = worker->pixels, .width = width, .height = height, .stride = width * 4,
    .format = PACKD_PIXEL_BGRX,
  };
  worker->times = *times;
  worker->settings = *settings;
  worker->pending = TRUE;
  g_cond_broadcast (&worker->cond);
  g_mutex_unlock (&worker->lock);
  return TRUE;
}

GstPackdFilterResult *
gst_packd_worker_drain (GstPackdWorker * worker, GError ** error)
{
  g_mutex_lock (&worker->lock);
  while (worker->pending || worker->busy)
    g_cond_wait (&worker->cond, &worker->lock);
  g_mutex_unlock (&worker->lock);
  return gst_packd_worker_take (worker, error);
}

GstPackdFilterResult *
gst_packd_worker_take (GstPackdWorker * worker, GError ** error)
{
  GstPackdFilterResult *result;

  g_mutex_lock (&worker->lock);
  result = g_steal_pointer (&worker->done);
  if (worker->error != NULL)
    g_propagate_error (error, g_steal_pointer (&worker->error));
  g_mutex_unlock (&worker->lock);
  return result;
}

/* ------------------------------------------------------------------------ */
/* Support set: loading, and swapping while running                          */

/* Loads the images and builds a support set; errors are GST_RESOURCE_ERRORs
 * with a message meant for the user. */
PackdSupport *
gst_packd_support_load (PackdScorer * scorer, gchar ** paths, GError ** error)
{
  guint n = paths ? g_strv_length (paths) : 0;
  PackdRgbImage *rgb = g_new0 (PackdRgbImage, MAX (n, 1));
  PackdImage *images = g_new0 (PackdImage, MAX (n, 1));
  PackdSupport *support = NULL;
  GError *load_error = NULL;
  guint i;

  if (n == 0) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "No support images: set support-images to a few pictures of good parts, "
        "e.g. support-images='<good1.png,good2.png>'");
    goto done;
  }
  for (i = 0; i < n; i++) {
    if (!g_file_test (paths[i], G_FILE_TEST_IS_REGULAR)) {
      g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND,
          "Support image \"%s\" not found", paths[i]);
      goto done;
    }
    if (!packd_image_load_rgb (paths[i], &rgb[i], &load_error)) {
      g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_OPEN_READ,
          "Could not read support image \"%s\": %s", paths[i], load_error->message);
      goto done;
    }
    images[i] = (PackdImage) {
      .pixels = rgb[i].rgb, .width = rgb[i].width, .height = rgb[i].height,
      .stride = rgb[i].width * 3, .format = PACKD_PIXEL_RGB,
    };
  }
  support = packd_scorer_build_support (scorer, images, n, &load_error);
  if (support == NULL)
    g_set_error (error, GST_RESOURCE_ERROR,
        load_error->code == PACKD_ERROR_INVALID_ARGUMENT ?
        GST_RESOURCE_ERROR_SETTINGS : GST_RESOURCE_ERROR_FAILED,
        "Could not build the support set from %u images: %s", n, load_error->message);

done:
  g_clear_error (&load_error);
  for (i = 0; i < n; i++)
    packd_rgb_image_clear (&rgb[i]);
  g_free (rgb);
  g_free (images);
  return support;
}

/* Builds the requested support sets one after the other, off the streaming
 * thread; frames keep being scored with the old set meanwhile. */
static gpointer
support_thread_func (gpointer data)
{
  GstPackdFilter *self = data;

  for (;;) {
    gchar **paths;
    PackdSupport *support;
    GError *error = NULL;

    g_mutex_lock (&self->support_lock);
    paths = g_steal_pointer (&self->support_request);
    if (paths == NULL) {
      self->support_thread_busy = FALSE;
      g_mutex_unlock (&self->support_lock);
      return NULL;
    }
    g_mutex_unlock (&self->support_lock);

    /* stop() joins this thread before freeing the scorer. */
    support = gst_packd_support_load (self->scorer, paths, &error);
    if (support != NULL) {
      guint n = packd_support_get_n_images (support);
      gdouble raw_threshold = packd_support_get_threshold (support);

      packd_scorer_set_support (self->scorer, support);
      packd_support_unref (support);
      GST_INFO_OBJECT (self, "switched to a support set of %u images", n);
      gst_element_post_message (GST_ELEMENT (self),
          gst_message_new_element (GST_OBJECT (self),
              gst_structure_new ("packdfilter-support", "n-images", G_TYPE_UINT, n,
                  "raw-threshold", G_TYPE_DOUBLE, raw_threshold, NULL)));
    } else {
      GST_WARNING_OBJECT (self, "keeping the previous support set: %s", error->message);
      g_prefix_error (&error, "New support set rejected, keeping the previous one: ");
      POST_GERROR (self, GST_MESSAGE_WARNING, error);
      g_clear_error (&error);
    }
    g_strfreev (paths);
  }
}

/* Takes paths.  Only acts while running: otherwise start() loads them. */
void
gst_packd_support_request_swap (GstPackdFilter * self, gchar ** paths)
{
  g_mutex_lock (&self->support_lock);
  if (!self->support_swappable) {
    g_mutex_unlock (&self->support_lock);
    g_strfreev (paths);
    return;
  }
  g_strfreev (self->support_request);
  self->support_request = paths;
  if (!self->support_thread_busy) {
    /* A previous thread that found no request has left the lock and ends. */
    if (self->support_thread != NULL)
      g_thread_join (self->support_thread);
    self->support_thread_busy = TRUE;
    self->support_thread = g_thread_new ("packd-support", support_thread_func, self);
  }
  g_mutex_unlock (&self->support_lock);
}

void
gst_packd_support_swaps_stop (GstPackdFilter * self)
{
  GThread *thread;

  g_mutex_lock (&self->support_lock);
  self->support_swappable = FALSE;
  g_clear_pointer (&self->support_request, g_strfreev);
  thread = g_steal_pointer (&self->support_thread);
  g_mutex_unlock (&self->support_lock);
  if (thread != NULL)
    g_thread_join (thread);
}
