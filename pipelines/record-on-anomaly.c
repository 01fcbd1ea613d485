/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/* packd-record-on-anomaly: runs a camera (or any source) through
 * packdfilter, encodes every frame, and writes one clip per anomaly episode
 * with a pre-roll before the alert and a post-roll after it, plus a JSON-lines
 * event log naming each clip.
 *
 *   source ! videoconvert ! packdfilter ! videoconvert ! encoder ! appsink
 *
 * The appsink keeps the last pre-roll seconds of encoded frames in a ring
 * that always starts at a keyframe.  On packdfilter-anomaly "begin" a
 * recorder pipeline (appsrc ! mux ! filesink) is started and fed the ring,
 * then the live frames; "end" sets its stop time to end + post-roll.  An
 * episode beginning while the previous clip is still in its post-roll goes
 * into that clip (the log names the same clip for both).  Everything is
 * decided on running times, so it does not matter whether a message or the
 * encoded frame it refers to arrives first. */
#include <stdio.h>
#include <string.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <gst/app/app.h>

#include "packd-json.h"
#include "pipeline-util.h"
#include "record-pipeline.h"

/* Bound on the ring when the encoder sends no keyframes. */
#define RING_MAX_ENTRIES 4096

typedef struct {
  GstSample *sample;
  GstClockTime running_time;
  GstClockTime duration;
  gboolean keyframe;
} RingEntry;

typedef struct _Clip Clip;

typedef struct {
  guint number;
  gchar *wall_time;
  GstClockTime begin;
  GstClockTime end;
  GstStructure *end_info;       /* the "end" message: peak score, regions... */
  gdouble begin_score;
  Clip *clip;
} Episode;

typedef struct _Recorder Recorder;

struct _Clip {
  Recorder *rec;
  gchar *path;
  GstElement *pipeline;
  GstAppSrc *src;
  gboolean started;             /* first (key)frame pushed */
  GstClockTime offset;          /* PTS of the first frame: the clip starts at 0 */
  GstClockTime start_rt;        /* running time covered by the frames written */
  GstClockTime end_rt;
  GstClockTime stop_rt;         /* end of the last episode + post-roll */
  GstClockTime preroll_from;    /* NONE once the ring has been written */
  GPtrArray *episodes;
  gboolean failed;
};

struct _Recorder {
  /* options */
  GstClockTime pre_roll;
  GstClockTime post_roll;
  const gchar *muxer;
  const gchar *extension;
  gchar *out_dir;
  gboolean quiet;

  GMainLoop *loop;
  GstElement *pipeline;
  GstElement *detector;
  FILE *events;
  guint64 max_frames;
  guint64 frames_in;

  GMutex lock;                  /* guards everything below */
  GQueue ring;                  /* RingEntry, oldest first */
  Clip *clip;                   /* the clip frames go to, if any */
  guint n_closing;              /* clips waiting for their muxer's EOS */
  Episode *episode;             /* the open episode */
  guint n_episodes;
  guint n_clips;
  gboolean draining;
  int status;
  guint interrupts;
};

static void
ring_entry_free (gpointer data)
{
  RingEntry *e = data;
  gst_sample_unref (e->sample);
  g_free (e);
}

static void
episode_free (gpointer data)
{
  Episode *ep = data;
  g_free (ep->wall_time);
  if (ep->end_info != NULL)
    gst_structure_free (ep->end_info);
  g_free (ep);
}

static gchar *
format_time (GstClockTime t)
{
  return GST_CLOCK_TIME_IS_VALID (t) ?
      g_strdup_printf ("%" GST_TIME_FORMAT, GST_TIME_ARGS (t)) : g_strdup ("none");
}

/* ------------------------------------------------------------------------ */
/* Event log                                                                 */

static void
write_episode_line (Recorder * rec, const Episode * ep, const Clip * clip)
{
  JsonBuilder *b = json_builder_new ();
  gdouble peak = ep->begin_score, threshold = 0.0;
  guint64 frames = 0;
  guint n_regions = 0;
  gchar *line;

  if (ep->end_info != NULL) {
    gst_structure_get_double (ep->end_info, "score", &peak);
    gst_structure_get_double (ep->end_info, "threshold", &threshold);
    gst_structure_get_uint64 (ep->end_info, "frames", &frames);
    gst_structure_get_uint (ep->end_info, "n-regions", &n_regions);
  }
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "episode");
  json_builder_add_int_value (b, ep->number);
  json_builder_set_member_name (b, "wall_time");
  json_builder_add_string_value (b, ep->wall_time);
  packd_json_add_time (b, "begin_running_time", ep->begin);
  packd_json_add_time (b, "end_running_time", ep->end);
  json_builder_set_member_name (b, "peak_score");
  json_builder_add_double_value (b, peak);
  json_builder_set_member_name (b, "threshold");
  json_builder_add_double_value (b, threshold);
  json_builder_set_member_name (b, "frames");
  json_builder_add_int_value (b, (gint64) frames);
  json_builder_set_member_name (b, "n_regions");
  json_builder_add_int_value (b, n_regions);
  packd_pipeline_json_add_regions (b, "regions",
      ep->end_info ? gst_structure_get_value (ep->end_info, "regions") : NULL);
  json_builder_set_member_name (b, "clip");
  if (clip != NULL && !clip->failed && clip->started)
    json_builder_add_string_value (b, clip->path);
  else
    json_builder_add_null_value (b);
  packd_json_add_time (b, "clip_start_running_time",
      clip && clip->started ? clip->start_rt : GST_CLOCK_TIME_NONE);
  packd_json_add_time (b, "clip_end_running_time",
      clip && clip->started ? clip->end_rt : GST_CLOCK_TIME_NONE);
  json_builder_end_object (b);

  line = packd_pipeline_json_to_line (b);
  fputs (line, rec->events);
  fflush (rec->events);
  g_free (line);
  g_object_unref (b);
}

/* ------------------------------------------------------------------------ */
/* Clips: appsrc ! mux ! filesink                                            */

static void recorder_maybe_quit (Recorder * rec);

/* Called with the lock held. */
static void
clip_push (Clip * clip, const RingEntry * e)
{
  GstBuffer *buffer;
  GstSample *sample;

  if (!clip->started) {
    if (!e->keyframe)
      return;
    clip->started = TRUE;
    clip->offset = GST_BUFFER_PTS (gst_sample_get_buffer (e->sample));
    clip->start_rt = e->running_time;
  }
  buffer = gst_buffer_copy (gst_sample_get_buffer (e->sample));
  if (GST_BUFFER_PTS_IS_VALID (buffer))
    GST_BUFFER_PTS (buffer) -= MIN (GST_BUFFER_PTS (buffer), clip->offset);
  if (GST_BUFFER_DTS_IS_VALID (buffer))
    GST_BUFFER_DTS (buffer) -= MIN (GST_BUFFER_DTS (buffer), clip->offset);
  sample = gst_sample_new (buffer, gst_sample_get_caps (e->sample), NULL, NULL);
  gst_app_src_push_sample (clip->src, sample);
  gst_sample_unref (sample);
  gst_buffer_unref (buffer);
  clip->end_rt = e->running_time + (GST_CLOCK_TIME_IS_VALID (e->duration) ? e->duration : 0);
}

/* Writes the log lines of the clip's episodes and frees it. */
static void
clip_finish (Clip * clip)
{
  Recorder *rec = clip->rec;
  gchar *start = format_time (clip->start_rt), *end = format_time (clip->end_rt);

  gst_element_set_state (clip->pipeline, GST_STATE_NULL);
  if (clip->started && !clip->failed)
    g_print ("clip written: %s (running time %s - %s)\n", clip->path, start, end);
  else if (!clip->started)
    g_unlink (clip->path);
  g_free (start);
  g_free (end);

  g_mutex_lock (&rec->lock);
  /* A clip that failed may still be the one frames go to. */
  if (rec->clip == clip)
    rec->clip = NULL;
  else
    rec->n_closing--;
  for (guint i = 0; i < clip->episodes->len; i++) {
    Episode *ep = g_ptr_array_index (clip->episodes, i);
    write_episode_line (rec, ep, clip);
    /* Only after an error can a clip end before its episode. */
    if (rec->episode == ep)
      rec->episode = NULL;
  }
  g_mutex_unlock (&rec->lock);

  g_ptr_array_unref (clip->episodes);
  gst_object_unref (clip->src);
  gst_object_unref (clip->pipeline);
  g_free (clip->path);
  g_free (clip);
  recorder_maybe_quit (rec);
}

static gboolean
on_clip_message (GstBus * bus, GstMessage * msg, gpointer data)
{
  Clip *clip = data;

  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ERROR:{
      GError *error = packd_pipeline_error_from_message (msg);
      g_printerr ("error writing %s: %s\n", clip->path, error->message);
      g_error_free (error);
      clip->failed = TRUE;
      clip->rec->status = 1;
      clip_finish (clip);
      return G_SOURCE_REMOVE;
    }
    case GST_MESSAGE_EOS:
      clip_finish (clip);
      return G_SOURCE_REMOVE;
    default:
      return G_SOURCE_CONTINUE;
  }
}

static void clip_flush_ring (Recorder * rec, Clip * clip);

/* Called with the lock held: frames go nowhere until the next begin. */
static void
clip_close (Recorder * rec)
{
  Clip *clip = g_steal_pointer (&rec->clip);
  const RingEntry *newest = g_queue_peek_tail (&rec->ring);

  if (clip == NULL)
    return;
  /* Still waiting for its pre-roll start (the stream ended): take what is there. */
  if (GST_CLOCK_TIME_IS_VALID (clip->preroll_from) && newest != NULL) {
    clip->preroll_from = MIN (clip->preroll_from, newest->running_time);
    clip_flush_ring (rec, clip);
  }
  rec->n_closing++;
  gst_app_src_end_of_stream (clip->src);
}

static Clip *
clip_new (Recorder * rec, GError ** error)
{
  Clip *clip = g_new0 (Clip, 1);
  GDateTime *now = g_date_time_new_now_local ();
  gchar *stamp = g_date_time_format (now, "%Y%m%d-%H%M%S");
  gchar *name = g_strdup_printf ("anomaly-%s-%03u.%s", stamp, ++rec->n_clips, rec->extension);
  GstElement *mux, *sink;
  GstBus *bus;

  clip->rec = rec;
  clip->path = g_build_filename (rec->out_dir, name, NULL);
  clip->start_rt = clip->end_rt = clip->stop_rt = GST_CLOCK_TIME_NONE;
  clip->preroll_from = GST_CLOCK_TIME_NONE;
  clip->episodes = g_ptr_array_new_with_free_func (episode_free);
  g_free (name);
  g_free (stamp);
  g_date_time_unref (now);

  clip->pipeline = gst_pipeline_new ("clip");
  mux = gst_element_factory_make (rec->muxer, NULL);
  sink = gst_element_factory_make ("filesink", NULL);
  if (mux == NULL || sink == NULL) {
    g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_MISSING_PLUGIN,
        "cannot create %s ! filesink", rec->muxer);
    if (mux != NULL)
      gst_object_unref (gst_object_ref_sink (mux));
    if (sink != NULL)
      gst_object_unref (gst_object_ref_sink (sink));
    gst_object_unref (clip->pipeline);
    g_ptr_array_unref (clip->episodes);
    g_free (clip->path);
    g_free (clip);
    return NULL;
  }
  clip->src = GST_APP_SRC (gst_object_ref_sink (gst_element_factory_make ("appsrc", NULL)));
  /* Never block the camera's streaming thread on the file. */
  g_object_set (clip->src, "format", GST_FORMAT_TIME, "block", FALSE,
      "max-bytes", (guint64) 0, NULL);
  g_object_set (sink, "location", clip->path, NULL);
  gst_bin_add_many (GST_BIN (clip->pipeline), GST_ELEMENT (clip->src), mux, sink, NULL);
  /* Without caps yet, appsrc would otherwise get the muxer's audio pad. */
  gst_element_link_pads (GST_ELEMENT (clip->src), "src", mux, "video_%u");
  gst_element_link (mux, sink);

  bus = gst_pipeline_get_bus (GST_PIPELINE (clip->pipeline));
  gst_bus_add_watch (bus, on_clip_message, clip);
  gst_object_unref (bus);
  gst_element_set_state (clip->pipeline, GST_STATE_PLAYING);
  return clip;
}

/* ------------------------------------------------------------------------ */
/* The ring of encoded frames                                                */

/* Called with the lock held.  Keeps the last keyframe at or before
 * newest - pre-roll and everything after it. */
static void
ring_trim (Recorder * rec, GstClockTime newest)
{
  GstClockTime cutoff;
  guint keep_from = 0, i = 0;

  if (!GST_CLOCK_TIME_IS_VALID (newest) || newest < rec->pre_roll)
    return;
  cutoff = newest - rec->pre_roll;
  for (GList * l = rec->ring.head; l != NULL; l = l->next, i++) {
    const RingEntry *e = l->data;
    if (e->running_time > cutoff)
      break;
    if (e->keyframe)
      keep_from = i;
  }
  while (keep_from-- > 0 || g_queue_get_length (&rec->ring) > RING_MAX_ENTRIES)
    ring_entry_free (g_queue_pop_head (&rec->ring));
}

/* Called with the lock held: the clip gets the ring from the last keyframe
 * at or before its preroll_from time (or the oldest keyframe there is).  The
 * alert may come before the encoder has seen that time: then this waits for
 * a frame at or after it. */
static void
clip_flush_ring (Recorder * rec, Clip * clip)
{
  const RingEntry *newest = g_queue_peek_tail (&rec->ring);
  GList *start = NULL;

  if (newest == NULL || newest->running_time < clip->preroll_from)
    return;
  for (GList * l = rec->ring.head; l != NULL; l = l->next) {
    const RingEntry *e = l->data;
    if (!e->keyframe)
      continue;
    if (start == NULL || e->running_time <= clip->preroll_from)
      start = l;
    if (e->running_time > clip->preroll_from)
      break;
  }
  clip->preroll_from = GST_CLOCK_TIME_NONE;
  for (GList * l = start; l != NULL; l = l->next)
    clip_push (clip, l->data);
}

/* ------------------------------------------------------------------------ */
/* packdfilter-anomaly messages, on the detector's streaming thread          */

static void
episode_begin (Recorder * rec, const GstStructure * s, GstClockTime rt)
{
  Episode *ep = g_new0 (Episode, 1);
  GDateTime *now = g_date_time_new_now_local ();
  gchar *when = format_time (rt);
  GError *error = NULL;

  ep->number = ++rec->n_episodes;
  ep->wall_time = g_date_time_format_iso8601 (now);
  ep->begin = rt;
  ep->end = GST_CLOCK_TIME_NONE;
  gst_structure_get_double (s, "score", &ep->begin_score);
  g_date_time_unref (now);
  rec->episode = ep;

  if (rec->clip == NULL) {
    rec->clip = clip_new (rec, &error);
    if (rec->clip == NULL) {
      g_printerr ("cannot record anomaly %u: %s\n", ep->number, error->message);
      g_error_free (error);
      rec->status = 1;
    } else {
      rec->clip->preroll_from = rt > rec->pre_roll ? rt - rec->pre_roll : 0;
      clip_flush_ring (rec, rec->clip);
    }
  }
  if (rec->clip != NULL) {
    ep->clip = rec->clip;
    g_ptr_array_add (rec->clip->episodes, ep);
    rec->clip->stop_rt = GST_CLOCK_TIME_NONE;
  }
  if (!rec->quiet)
    g_print ("anomaly %u began at %s (score %.3f), recording to %s\n", ep->number, when,
        ep->begin_score, ep->clip ? ep->clip->path : "nothing");
  g_free (when);
}

static void
episode_end (Recorder * rec, const GstStructure * s, GstClockTime rt)
{
  Episode *ep = g_steal_pointer (&rec->episode);
  gchar *when = format_time (rt);
  const RingEntry *newest = g_queue_peek_tail (&rec->ring);

  if (ep == NULL) {
    g_free (when);
    return;
  }
  ep->end = rt;
  ep->end_info = gst_structure_copy (s);
  if (!rec->quiet)
    g_print ("anomaly %u ended at %s\n", ep->number, when);
  g_free (when);

  if (ep->clip == NULL) {
    write_episode_line (rec, ep, NULL);
    episode_free (ep);
    return;
  }
  ep->clip->stop_rt = GST_CLOCK_TIME_IS_VALID (rt) ? rt + rec->post_roll : GST_CLOCK_TIME_NONE;
  if (!GST_CLOCK_TIME_IS_VALID (rt)
      || (newest != NULL && newest->running_time >= ep->clip->stop_rt))
    clip_close (rec);
}

static GstBusSyncReply
on_sync_message (GstBus * bus, GstMessage * msg, gpointer data)
{
  Recorder *rec = data;
  const GstStructure *s;
  const gchar *state;
  guint64 rt = GST_CLOCK_TIME_NONE;

  if (GST_MESSAGE_TYPE (msg) != GST_MESSAGE_ELEMENT)
    return GST_BUS_PASS;
  s = gst_message_get_structure (msg);
  if (!gst_structure_has_name (s, "packdfilter-anomaly"))
    return GST_BUS_PASS;
  state = gst_structure_get_string (s, "state");
  gst_structure_get_uint64 (s, "running-time", &rt);

  g_mutex_lock (&rec->lock);
  if (g_strcmp0 (state, "begin") == 0 && rec->episode == NULL)
    episode_begin (rec, s, rt);
  else if (g_strcmp0 (state, "end") == 0)
    episode_end (rec, s, rt);
  g_mutex_unlock (&rec->lock);
  return GST_BUS_DROP;
}

/* ------------------------------------------------------------------------ */
/* Encoded frames, on the encoder's streaming thread                         */

static GstFlowReturn
on_new_sample (GstAppSink * sink, gpointer data)
{
  Recorder *rec = data;
  GstSample *sample = gst_app_sink_pull_sample (sink);
  RingEntry *e;
  GstBuffer *buffer;

  if (sample == NULL)
    return GST_FLOW_EOS;
  buffer = gst_sample_get_buffer (sample);
  e = g_new0 (RingEntry, 1);
  e->sample = sample;
  e->running_time = gst_segment_to_running_time (gst_sample_get_segment (sample),
      GST_FORMAT_TIME, GST_BUFFER_PTS (buffer));
  e->duration = GST_BUFFER_DURATION (buffer);
  e->keyframe = !GST_BUFFER_FLAG_IS_SET (buffer, GST_BUFFER_FLAG_DELTA_UNIT);

  g_mutex_lock (&rec->lock);
  g_queue_push_tail (&rec->ring, e);
  if (rec->clip != NULL) {
    if (GST_CLOCK_TIME_IS_VALID (rec->clip->preroll_from))
      clip_flush_ring (rec, rec->clip);
    else if (GST_CLOCK_TIME_IS_VALID (rec->clip->stop_rt)
        && e->running_time > rec->clip->stop_rt)
      clip_close (rec);
    else
      clip_push (rec->clip, e);
  }
  ring_trim (rec, e->running_time);
  g_mutex_unlock (&rec->lock);
  return GST_FLOW_OK;
}

/* --max-frames: EOS after that many frames reached the detector. */
static GstPadProbeReturn
on_detector_buffer (GstPad * pad, GstPadProbeInfo * info, gpointer data)
{
  Recorder *rec = data;

  if (++rec->frames_in <= rec->max_frames)
    return GST_PAD_PROBE_OK;
  if (rec->frames_in == rec->max_frames + 1)
    gst_pad_send_event (pad, gst_event_new_eos ());
  return GST_PAD_PROBE_DROP;
}

/* ------------------------------------------------------------------------ */
/* Main pipeline                                                             */

static void
recorder_maybe_quit (Recorder * rec)
{
  gboolean done;

  g_mutex_lock (&rec->lock);
  done = rec->draining && rec->clip == NULL && rec->n_closing == 0;
  g_mutex_unlock (&rec->lock);
  if (done)
    g_main_loop_quit (rec->loop);
}

/* No more frames: finish the open clip, then quit. */
static void
recorder_drain (Recorder * rec)
{
  g_mutex_lock (&rec->lock);
  rec->draining = TRUE;
  clip_close (rec);
  g_mutex_unlock (&rec->lock);
  recorder_maybe_quit (rec);
}

static gboolean
on_message (GstBus * bus, GstMessage * msg, gpointer data)
{
  Recorder *rec = data;

  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ERROR:{
      GError *error = packd_pipeline_error_from_message (msg);
      g_printerr ("error: %s\n", error->message);
      g_error_free (error);
      rec->status = 1;
      recorder_drain (rec);
      break;
    }
    case GST_MESSAGE_WARNING:{
      GError *error = NULL;
      gst_message_parse_warning (msg, &error, NULL);
      g_printerr ("warning: %s: %s\n", GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)),
          error->message);
      g_error_free (error);
      break;
    }
    case GST_MESSAGE_EOS:
      recorder_drain (rec);
      break;
    default:
      break;
  }
  return G_SOURCE_CONTINUE;
}

static gboolean
on_interrupt (gpointer data)
{
  Recorder *rec = data;

  if (++rec->interrupts > 1) {
    g_printerr ("interrupted again: quitting without finishing the clips\n");
    g_main_loop_quit (rec->loop);
    return G_SOURCE_REMOVE;
  }
  g_printerr ("interrupted: finishing the clips (again to quit at once)\n");
  /* EOS from the sources lets the encoder and the clips end cleanly. */
  gst_element_send_event (rec->pipeline, gst_event_new_eos ());
  return G_SOURCE_CONTINUE;
}

/* ------------------------------------------------------------------------ */

static gboolean
seconds_to_time (gdouble seconds, const gchar * what, GstClockTime * time, GError ** error)
{
  if (seconds < 0.0 || seconds > 3600.0) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "%s must be between 0 and 3600 seconds", what);
    return FALSE;
  }
  *time = (GstClockTime) (seconds * GST_SECOND + 0.5);
  return TRUE;
}

int
main (int argc, char **argv)
{
  PackdDetectorOptions detector = PACKD_DETECTOR_OPTIONS_INIT;
  gchar *source = NULL, *file = NULL, *device = NULL, *events_path = NULL;
  gchar *out_dir = NULL, *encoder_name = NULL, *container = NULL;
  gdouble pre_roll = 2.0, post_roll = 2.0, hold_time = -1.0;
  gint64 max_frames = 0;
  gint min_frames = 0, keyframe_interval = 15;
  gboolean display = FALSE, quiet = FALSE;
  const GOptionEntry entries[] = {
    {"source", 0, 0, G_OPTION_ARG_STRING, &source,
        "Source as a gst-launch fragment producing raw video (default: v4l2src)", "DESC"},
    {"file", 'f', 0, G_OPTION_ARG_FILENAME, &file, "Read a video file instead", "FILE"},
    {"device", 'd', 0, G_OPTION_ARG_FILENAME, &device, "Camera device for v4l2src", "DEV"},
    {"alert-min-frames", 0, 0, G_OPTION_ARG_INT, &min_frames,
        "Consecutive anomalous frames before an episode begins (element default)", "N"},
    {"alert-hold-time", 0, 0, G_OPTION_ARG_DOUBLE, &hold_time,
        "Seconds without an anomalous frame before it ends (element default)", "S"},
    {"pre-roll", 0, 0, G_OPTION_ARG_DOUBLE, &pre_roll,
        "Seconds recorded before the alert (2)", "S"},
    {"post-roll", 0, 0, G_OPTION_ARG_DOUBLE, &post_roll,
        "Seconds recorded after the episode ends (2)", "S"},
    {"out-dir", 'o', 0, G_OPTION_ARG_FILENAME, &out_dir,
        "Folder for the clips (default recordings)", "DIR"},
    {"events", 'e', 0, G_OPTION_ARG_FILENAME, &events_path,
        "JSON-lines event log, appended to (default OUT-DIR/events.jsonl)", "FILE"},
    {"encoder", 0, 0, G_OPTION_ARG_STRING, &encoder_name,
        "h264, vp8, jpeg or auto (first available, the default)", "NAME"},
    {"container", 0, 0, G_OPTION_ARG_STRING, &container,
        "mp4 (h264 only), mkv or auto (default)", "NAME"},
    {"keyframe-interval", 0, 0, G_OPTION_ARG_INT, &keyframe_interval,
        "Frames between keyframes: the pre-roll is rounded to them (15)", "N"},
    {"max-frames", 'n', 0, G_OPTION_ARG_INT64, &max_frames,
        "Stop after N frames (0 = run until the source ends or Ctrl-C)", "N"},
    {"display", 0, 0, G_OPTION_ARG_NONE, &display, "Also show the annotated video", NULL},
    {"quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "Print only the clips written", NULL},
    {NULL}
  };
  GOptionContext *ctx = g_option_context_new ("- record a clip of every anomaly episode "
      "seen by packdfilter");
  Recorder rec = { 0 };
  const PackdRecordEncoder *enc;
  GError *error = NULL;
  gchar **support = NULL;
  GstBus *bus = NULL;
  GstAppSink *sink;
  guint interrupt_source = 0;

  rec.status = 1;
  g_mutex_init (&rec.lock);
  g_queue_init (&rec.ring);
  packd_pipeline_add_detector_options (ctx, &detector);
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    goto out;
  if ((source != NULL) + (file != NULL) > 1) {
    g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
        "give --source or --file, not both");
    goto out;
  }
  if (!seconds_to_time (pre_roll, "--pre-roll", &rec.pre_roll, &error)
      || !seconds_to_time (post_roll, "--post-roll", &rec.post_roll, &error)
      || !packd_pipeline_check_detector (&error))
    goto out;
  enc = packd_record_choose_encoder (encoder_name ? encoder_name : "auto", &error);
  if (enc == NULL || !packd_record_choose_container (container ? container : "auto", enc, &rec.muxer,
          &rec.extension, &error))
    goto out;

  support = packd_pipeline_collect_support (detector.support_lists, detector.support_dir,
      &error);
  if (support == NULL)
    goto out;

  rec.out_dir = g_strdup (out_dir ? out_dir : "recordings");
  if (!packd_pipeline_make_dir (rec.out_dir, &error))
    goto out;
  if (events_path == NULL)
    events_path = g_build_filename (rec.out_dir, "events.jsonl", NULL);
  rec.events = packd_pipeline_open_file (events_path, "a", &error);
  if (rec.events == NULL)
    goto out;
  rec.quiet = quiet;
  rec.max_frames = max_frames > 0 ? (guint64) max_frames : 0;

  rec.pipeline = packd_record_build_pipeline (source, file, device, enc, MAX (keyframe_interval, 1),
      display, &error);
  if (rec.pipeline == NULL)
    goto out;
  rec.detector = gst_bin_get_by_name (GST_BIN (rec.pipeline), "detector");
  packd_pipeline_configure_detector (rec.detector, &detector, support);
  /* The recording holds every frame: QoS must not drop any. */
  g_object_set (rec.detector, "qos", FALSE, NULL);
  if (min_frames > 0)
    g_object_set (rec.detector, "alert-min-frames", (guint) min_frames, NULL);
  if (hold_time >= 0.0)
    g_object_set (rec.detector, "alert-hold-time", (guint64) (hold_time * GST_SECOND + 0.5),
        NULL);
  if (rec.max_frames > 0) {
    GstPad *pad = gst_element_get_static_pad (rec.detector, "sink");
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, on_detector_buffer, &rec, NULL);
    gst_object_unref (pad);
  }

  sink = GST_APP_SINK (gst_bin_get_by_name (GST_BIN (rec.pipeline), "ring"));
  gst_app_sink_set_callbacks (sink, &(GstAppSinkCallbacks) {
      .new_sample = on_new_sample}, &rec, NULL);
  gst_object_unref (sink);

  rec.loop = g_main_loop_new (NULL, FALSE);
  bus = gst_pipeline_get_bus (GST_PIPELINE (rec.pipeline));
  gst_bus_set_sync_handler (bus, on_sync_message, &rec, NULL);
  gst_bus_add_watch (bus, on_message, &rec);
  interrupt_source = g_unix_signal_add (SIGINT, on_interrupt, &rec);

  g_print ("recording anomalies to %s (%s in %s, pre-roll %.1f s, post-roll %.1f s), "
      "events in %s\n", rec.out_dir, enc->name, rec.extension, pre_roll, post_roll,
      events_path);
  rec.status = 0;
  if (gst_element_set_state (rec.pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    /* The reason is on the bus; on_message reports it and drains. */
    rec.status = 1;
  }
  g_main_loop_run (rec.loop);
  g_print ("%u anomaly episodes, %u clips\n", rec.n_episodes, rec.n_clips);

out:
  if (error != NULL)
    g_printerr ("packd-record-on-anomaly: %s\n", error->message);
  g_clear_error (&error);
  if (interrupt_source != 0)
    g_source_remove (interrupt_source);
  if (rec.pipeline != NULL) {
    gst_element_set_state (rec.pipeline, GST_STATE_NULL);
    gst_bus_remove_watch (bus);
    gst_bus_set_sync_handler (bus, NULL, NULL, NULL);
    gst_object_unref (bus);
    gst_object_unref (rec.detector);
    gst_object_unref (rec.pipeline);
  }
  if (rec.episode != NULL && rec.episode->clip == NULL)
    episode_free (rec.episode);
  g_queue_clear_full (&rec.ring, ring_entry_free);
  if (rec.events != NULL)
    fclose (rec.events);
  if (rec.loop != NULL)
    g_main_loop_unref (rec.loop);
  g_mutex_clear (&rec.lock);
  g_strfreev (support);
  packd_pipeline_detector_options_clear (&detector);
  g_free (source);
  g_free (file);
  g_free (device);
  g_free (events_path);
  g_free (out_dir);
  g_free (rec.out_dir);
  g_free (encoder_name);
  g_free (container);
  g_option_context_free (ctx);
  return rec.status;
}
