/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/* Soak: a long pipeline through packdfilter, checking that every frame
 * carries its PackdAnomalyMeta and that resident memory stays flat.
 *
 *   videotestsrc (64x48, pattern changed every 250 frames) ! tee
 *     tee. ! queue ! packdfilter (blocking, inference-interval cycled) ! fakesink
 *     tee. ! queue ! packdfilter (non-blocking, inference-interval 6) ! fakesink
 *
 * Meanwhile a thread sets the threshold of both filters every few
 * milliseconds and the test thread swaps the support set every
 * min (10000, frames / 5) frames.  VmRSS is sampled about 100 times; after
 * warm-up (the first swap done) the samples taken while no swap is in
 * flight (a swap briefly holds two support sets and a build workspace)
 * must stay within PACKD_SOAK_RSS_SLACK_MB (default 4) of the first of them
 * (glibc's mmap threshold is fixed, see main()).
 * Under AddressSanitizer the RSS check is skipped (its quarantine grows RSS by
 * design; LeakSanitizer checks leaks there).
 *
 *   soak-packdfilter [FRAMES]      (or PACKD_SOAK_FRAMES; default 2500)
 * PACKD_SOAK_SWAP_FRAMES overrides the swap interval. */
#include <stdio.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "packdfilter-fixtures.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

#define DEFAULT_FRAMES 2500
#define SOAK_WIDTH 64
#define SOAK_HEIGHT 48
#define PATTERN_PERIOD 250
#define INTERVAL_PERIOD 500
#define NB_INFERENCE_INTERVAL 6

static guint64 n_frames = DEFAULT_FRAMES;

/* The thresholds the setter thread cycles through; every meta must carry one. */
static const gdouble thresholds[] = { 0.5, 0.3, 0.7, 0.45, 0.9 };
/* Blocking branch: cheap enough for CI, and each value holds results for a
 * different number of frames. */
static const guint intervals[] = { 4, 12, 40 };
/* videotestsrc: smpte, snow, checkers-8, circular, ball, pinwheel */
static const gint patterns[] = { 0, 1, 10, 12, 18, 22 };

typedef struct {
  const gchar *name;
  gboolean non_blocking;
  GstElement *filter;
  /* written by the streaming thread, read after it has stopped */
  guint64 frames;
  guint64 stale;
  guint64 inferred;
  gint64 first_meta;            /* frame index of the first meta, -1: none yet */
  guint64 missing;
  guint64 bad;
  gchar *first_problem;
  /* written by the test thread */
  guint support_swaps;
} Branch;

typedef struct {
  guint64 frame;
  guint64 rss_kb;
  guint swaps_done;             /* support swaps completed before the sample */
  gboolean steady;              /* no swap in flight, none just finished */
} RssSample;

static RssSample *rss_samples;
static volatile gint n_rss_samples;     /* set after the sample is written */
static guint64 rss_every;
static volatile gint frames_done;       /* blocking branch, for the test thread */
static volatile gint stop_setter;
/* Support swap state, set by the test thread for the samples. */
static volatile gint swap_in_flight;
static volatile gint swaps_done;
static volatile gint swap_done_frame;

static guint64
rss_kb (void)
{
  gchar *status = NULL;
  guint64 kb = 0;

  if (g_file_get_contents ("/proc/self/status", &status, NULL, NULL)) {
    const gchar *line = strstr (status, "VmRSS:");
    if (line != NULL)
      kb = g_ascii_strtoull (line + strlen ("VmRSS:"), NULL, 10);
  }
  g_free (status);
  return kb;
}

static gboolean
threshold_known (gdouble value)
{
  for (guint i = 0; i < G_N_ELEMENTS (thresholds); i++)
    if (value == thresholds[i])
      return TRUE;
  return FALSE;
}

static void
branch_problem (Branch * b, const gchar * format, ...) G_GNUC_PRINTF (2, 3);

static void
branch_problem (Branch * b, const gchar * format, ...)
{
  va_list args;

  b->bad++;
  if (b->first_problem != NULL)
    return;
  va_start (args, format);
  b->first_problem = g_strdup_vprintf (format, args);
  va_end (args);
}

/* Streaming thread of one branch: checks the meta of every frame.  No Check
 * assertion here (not the test thread): problems are counted and reported
 * at the end. */
static GstPadProbeReturn
branch_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  Branch *b = user_data;
  GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER (info);
  GstCustomMeta *meta = gst_buffer_get_custom_meta (buffer, "PackdAnomalyMeta");
  const guint64 index = b->frames++;

  if (!b->non_blocking) {
    g_atomic_int_set (&frames_done, (gint) b->frames);
    guint n = (guint) g_atomic_int_get (&n_rss_samples);
    if (index % rss_every == 0 && n < n_frames / rss_every + 1) {
      /* Frees of a replaced set end with the next frames' scoring. */
      const gboolean steady = !g_atomic_int_get (&swap_in_flight)
          && index >= (guint64) g_atomic_int_get (&swap_done_frame) + 50;
      rss_samples[n] = (RssSample) { index, rss_kb (),
        (guint) g_atomic_int_get (&swaps_done), steady};
      g_atomic_int_set (&n_rss_samples, n + 1);
    }
  }

  if (meta == NULL) {
    /* Non-blocking: frames before the first result have none. */
    if (b->first_meta >= 0 || !b->non_blocking) {
      b->missing++;
      branch_problem (b, "frame %" G_GUINT64_FORMAT " has no meta", index);
    }
    return GST_PAD_PROBE_OK;
  }
  if (b->first_meta < 0)
    b->first_meta = index;

  const GstStructure *s = gst_custom_meta_get_structure (meta);
  gdouble score, threshold;
  gboolean anomalous, inferred;
  guint64 source_pts;
  if (!gst_structure_get (s, "score", G_TYPE_DOUBLE, &score,
          "threshold", G_TYPE_DOUBLE, &threshold, "anomalous", G_TYPE_BOOLEAN, &anomalous,
          "inferred", G_TYPE_BOOLEAN, &inferred, "source-pts", G_TYPE_UINT64, &source_pts,
          NULL)) {
    branch_problem (b, "frame %" G_GUINT64_FORMAT ": meta fields missing", index);
    return GST_PAD_PROBE_OK;
  }
  if (inferred)
    b->inferred++;
  else
    b->stale++;
  if (!(score >= 0.0 && score <= 1.0))
    branch_problem (b, "frame %" G_GUINT64_FORMAT ": score %g", index, score);
  if (!threshold_known (threshold))
    branch_problem (b, "frame %" G_GUINT64_FORMAT ": threshold %g was never set", index,
        threshold);
  if (anomalous != (score >= threshold))
    branch_problem (b, "frame %" G_GUINT64_FORMAT ": verdict %d for %g at %g", index,
        anomalous, score, threshold);
  /* A result belongs to this frame (blocking, inferred) or to an earlier one. */
  if (inferred && (b->non_blocking || source_pts != GST_BUFFER_PTS (buffer)))
    branch_problem (b, "frame %" G_GUINT64_FORMAT ": inferred with source-pts %"
        G_GUINT64_FORMAT " (pts %" G_GUINT64_FORMAT ")", index, source_pts,
        GST_BUFFER_PTS (buffer));
  if (!inferred && source_pts > GST_BUFFER_PTS (buffer))
    branch_problem (b, "frame %" G_GUINT64_FORMAT ": result from the future", index);
  if (!inferred && !b->non_blocking && source_pts == GST_BUFFER_PTS (buffer))
    branch_problem (b, "frame %" G_GUINT64_FORMAT ": stale but its own pts", index);
  return GST_PAD_PROBE_OK;
}

/* "another thread" of the issue: threshold changes racing the streaming. */
static gpointer
threshold_setter (gpointer data)
{
  GstElement **filters = data;

  for (guint i = 0; !g_atomic_int_get (&stop_setter); i++) {
    gdouble t = thresholds[i % G_N_ELEMENTS (thresholds)];
    g_object_set (filters[0], "threshold", t, NULL);
    g_object_set (filters[1], "threshold", t, NULL);
    g_usleep (3 * 1000);
  }
  return NULL;
}

static GstElement *
branch_add (GstElement * pipeline, GstElement * tee, Branch * b, gchar ** support)
{
  GstElement *queue = gst_element_factory_make ("queue", NULL);
  GstElement *sink = gst_element_factory_make ("fakesink", NULL);
  GstElement *filter = filter_new (support);
  GstPad *pad;

  fail_unless (queue && sink);
  /* Few frames in flight, so queue fill does not move the RSS. */
  g_object_set (queue, "max-size-buffers", 4, "max-size-bytes", 0, "max-size-time",
      (guint64) 0, NULL);
  g_object_set (sink, "sync", FALSE, NULL);
  g_object_set (filter, "name", b->name, "non-blocking", b->non_blocking,
      "inference-interval", b->non_blocking ? NB_INFERENCE_INTERVAL : intervals[0],
      "n-threads", 1, NULL);
  gst_bin_add_many (GST_BIN (pipeline), queue, filter, sink, NULL);
  gst_object_unref (filter);    /* the bin holds it */
  fail_unless (gst_element_link_many (tee, queue, filter, sink, NULL));

  pad = gst_element_get_static_pad (filter, "src");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, branch_probe, b, NULL);
  gst_object_unref (pad);
  b->filter = filter;
  b->first_meta = -1;
  return filter;
}

static void
branch_check (const Branch * b)
{
  g_print ("soak: %s: %" G_GUINT64_FORMAT " frames, %" G_GUINT64_FORMAT " inferred, %"
      G_GUINT64_FORMAT " stale, first meta at frame %" G_GINT64_FORMAT ", %u support swaps\n",
      b->name, b->frames, b->inferred, b->stale, b->first_meta, b->support_swaps);
  fail_unless_equals_uint64 (b->frames, n_frames);
  fail_unless (b->bad == 0 && b->missing == 0, "%s: %" G_GUINT64_FORMAT
      " problems (%" G_GUINT64_FORMAT " frames without meta), first: %s", b->name, b->bad,
      b->missing, b->first_problem);
  fail_unless (b->non_blocking || b->first_meta == 0);
  /* Non-blocking: the first result arrives within a few frames, and the
   * results are all stale by design. */
  if (b->non_blocking) {
    fail_unless (b->first_meta >= 0 && b->first_meta < (gint64) n_frames / 10,
        "first meta at frame %" G_GINT64_FORMAT, b->first_meta);
    fail_unless_equals_uint64 (b->inferred, 0);
  } else {
    /* At least every 40th frame is analysed. */
    fail_unless (b->inferred >= n_frames / intervals[G_N_ELEMENTS (intervals) - 1]);
  }
}

GST_START_TEST (test_soak)
{
  const gchar *swap_env = g_getenv ("PACKD_SOAK_SWAP_FRAMES");
  const guint64 swap_every = swap_env ? g_ascii_strtoull (swap_env, NULL, 10)
      : MIN (10000, n_frames / 5);
  Branch branches[2] = {
    {.name = "blocking",.non_blocking = FALSE},
    {.name = "non-blocking",.non_blocking = TRUE},
  };
  GstElement *pipeline = gst_pipeline_new ("soak");
  GstElement *src = gst_element_factory_make ("videotestsrc", NULL);
  GstElement *capsfilter = gst_element_factory_make ("capsfilter", NULL);
  GstElement *tee = gst_element_factory_make ("tee", NULL);
  GstElement *filters[2];
  GstBus *bus = gst_element_get_bus (pipeline);
  GThread *setter;
  guint64 next_swap = swap_every, swaps = 0, next_pattern = PATTERN_PERIOD;
  guint64 next_interval = INTERVAL_PERIOD;
  guint pattern_index = 0, interval_index = 0;
  gboolean eos = FALSE;
  const gint64 start = g_get_monotonic_time ();

  fail_unless (src && capsfilter && tee);
  fail_unless (swap_every > 0 && swap_every < n_frames, "swap interval %" G_GUINT64_FORMAT,
      swap_every);
  rss_every = MAX (n_frames / 100, 50);
  rss_samples = g_new0 (RssSample, n_frames / rss_every + 1);
  g_atomic_int_set (&n_rss_samples, 0);
  guint printed = 0;

  g_object_set (src, "num-buffers", (gint) n_frames, "pattern", patterns[0], NULL);
  GstCaps *caps = gst_caps_new_simple ("video/x-raw", "format", G_TYPE_STRING, "BGRx",
      "width", G_TYPE_INT, SOAK_WIDTH, "height", G_TYPE_INT, SOAK_HEIGHT,
      "framerate", GST_TYPE_FRACTION, 30, 1, NULL);
  g_object_set (capsfilter, "caps", caps, NULL);
  gst_caps_unref (caps);
  gst_bin_add_many (GST_BIN (pipeline), src, capsfilter, tee, NULL);
  fail_unless (gst_element_link_many (src, capsfilter, tee, NULL));
  for (int i = 0; i < 2; i++)
    filters[i] = branch_add (pipeline, tee, &branches[i], support_checker);

  g_atomic_int_set (&frames_done, 0);
  g_atomic_int_set (&stop_setter, 0);
  g_atomic_int_set (&swap_in_flight, 0);
  g_atomic_int_set (&swaps_done, 0);
  g_atomic_int_set (&swap_done_frame, 0);
  fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
  setter = g_thread_new ("threshold-setter", threshold_setter, filters);

  while (!eos) {
    GstMessage *msg = gst_bus_timed_pop (bus, 20 * GST_MSECOND);
    guint64 done = (guint64) g_atomic_int_get (&frames_done);

    if (msg != NULL) {
      switch (GST_MESSAGE_TYPE (msg)) {
        case GST_MESSAGE_EOS:
          eos = TRUE;
          break;
        case GST_MESSAGE_ERROR:
        case GST_MESSAGE_WARNING:{
          GError *error = NULL;
          gchar *debug = NULL;
          if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR)
            gst_message_parse_error (msg, &error, &debug);
          else
            gst_message_parse_warning (msg, &error, &debug);
          fail ("%s from %s at frame %" G_GUINT64_FORMAT ": %s (%s)",
              GST_MESSAGE_TYPE_NAME (msg), GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)), done,
              error->message, debug ? debug : "");
          break;
        }
        case GST_MESSAGE_ELEMENT:
          for (int i = 0; i < 2; i++)
            if (GST_MESSAGE_SRC (msg) == GST_OBJECT (filters[i])
                && gst_message_has_name (msg, "packdfilter-support"))
              branches[i].support_swaps++;
          break;
        default:
          break;
      }
      gst_message_unref (msg);
    }
    if (g_atomic_int_get (&swap_in_flight) && branches[0].support_swaps == swaps
        && branches[1].support_swaps == swaps) {
      g_atomic_int_set (&swap_done_frame, (gint) done);
      g_atomic_int_set (&swaps_done, (gint) swaps);
      g_atomic_int_set (&swap_in_flight, 0);
    }
    /* The curve as it comes, so a long run shows progress. */
    while (printed < (guint) g_atomic_int_get (&n_rss_samples)) {
      const RssSample *r = &rss_samples[printed++];
      g_print ("soak-rss %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %.0fs\n", r->frame,
          r->rss_kb, (g_get_monotonic_time () - start) / 1e6);
    }
    /* The next swap waits for the previous one to be done (a request made
     * while a set is being built replaces the pending one). */
    if (done >= next_swap && next_swap < n_frames
        && branches[0].support_swaps == swaps && branches[1].support_swaps == swaps) {
      gchar **set = swaps % 2 == 0 ? support_stripes : support_checker;
      g_atomic_int_set (&swap_in_flight, 1);
      for (int i = 0; i < 2; i++)
        set_support (filters[i], set);
      swaps++;
      next_swap += swap_every;
    }
    if (done >= next_pattern) {
      pattern_index = (pattern_index + 1) % G_N_ELEMENTS (patterns);
      g_object_set (src, "pattern", patterns[pattern_index], NULL);
      next_pattern += PATTERN_PERIOD;
    }
    if (done >= next_interval) {
      interval_index = (interval_index + 1) % G_N_ELEMENTS (intervals);
      g_object_set (filters[0], "inference-interval", intervals[interval_index], NULL);
      next_interval += INTERVAL_PERIOD;
    }
  }
  g_atomic_int_set (&stop_setter, 1);
  g_thread_join (setter);
  const gdouble seconds = (g_get_monotonic_time () - start) / 1e6;

  /* Swaps finish in the background; the last one had swap_every frames. */
  for (int i = 0; i < 2; i++)
    while (branches[i].support_swaps < swaps) {
      GstMessage *msg = gst_bus_timed_pop_filtered (bus, 10 * GST_SECOND,
          GST_MESSAGE_ELEMENT);
      fail_unless (msg != NULL, "%s: %u of %" G_GUINT64_FORMAT " support swaps done",
          branches[i].name, branches[i].support_swaps, swaps);
      for (int j = 0; j < 2; j++)
        if (GST_MESSAGE_SRC (msg) == GST_OBJECT (filters[j])
            && gst_message_has_name (msg, "packdfilter-support"))
          branches[j].support_swaps++;
      gst_message_unref (msg);
    }
  gst_element_set_state (pipeline, GST_STATE_NULL);

  g_print ("soak: %" G_GUINT64_FORMAT " frames in %.1f s (%.0f frames/s), %"
      G_GUINT64_FORMAT " support swaps, one every %" G_GUINT64_FORMAT " frames\n",
      n_frames, seconds, n_frames / seconds, swaps, swap_every);
  g_print ("soak: RSS curve (frame, VmRSS kB, steady or swap in flight)\n");
  /* Steady samples: no swap in flight (a swap briefly holds two support
   * sets and a build workspace).  Warm-up: until the first swap is done. */
  guint64 baseline = 0, peak = 0, last = 0, transient_peak = 0, baseline_frame = 0;
  for (guint i = 0; i < (guint) g_atomic_int_get (&n_rss_samples); i++) {
    const RssSample *r = &rss_samples[i];
    g_print ("soak-curve %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %s\n", r->frame,
        r->rss_kb, r->steady ? "steady" : "swap");
    if (r->swaps_done < 1)
      continue;
    transient_peak = MAX (transient_peak, r->rss_kb);
    if (!r->steady)
      continue;
    if (baseline == 0) {
      baseline = r->rss_kb;
      baseline_frame = r->frame;
    }
    peak = MAX (peak, r->rss_kb);
    last = r->rss_kb;
  }
  g_print ("soak: warm-up ended at frame %" G_GUINT64_FORMAT "\n", baseline_frame);
  g_print ("soak: steady RSS after warm-up %" G_GUINT64_FORMAT " kB, peak %"
      G_GUINT64_FORMAT " kB (%+" G_GINT64_FORMAT " kB), last %" G_GUINT64_FORMAT
      " kB (%+" G_GINT64_FORMAT " kB); peak of all samples after warm-up %" G_GUINT64_FORMAT
      " kB\n", baseline, peak, (gint64) (peak - baseline), last, (gint64) (last - baseline),
      transient_peak);

  for (int i = 0; i < 2; i++) {
    branch_check (&branches[i]);
    fail_unless_equals_int (branches[i].support_swaps, swaps);
    g_free (branches[i].first_problem);
  }
#ifdef UNDER_ASAN
  g_print ("soak: AddressSanitizer build: RSS not checked\n");
#else
  const gchar *slack_env = g_getenv ("PACKD_SOAK_RSS_SLACK_MB");
  const guint64 slack_kb = (slack_env ? g_ascii_strtoull (slack_env, NULL, 10) : 4) * 1024;
  fail_unless (baseline > 0 && peak > 0, "no steady sample after the first swap");
  fail_unless (peak <= baseline + slack_kb, "RSS grew by %" G_GUINT64_FORMAT
      " kB after warm-up (limit %" G_GUINT64_FORMAT " kB)", peak - baseline, slack_kb);
#endif

  g_free (rss_samples);
  gst_object_unref (bus);
  gst_object_unref (pipeline);
}

GST_END_TEST;

static Suite *
soak_suite (void)
{
  Suite *s = suite_create ("soak-packdfilter");
  TCase *tc = tcase_create ("soak");

  /* 1 s per 5 frames: far beyond need, also for ASan builds and niced long runs. */
  tcase_set_timeout (tc, 120 + n_frames / 5);
  tcase_add_unchecked_fixture (tc, fixtures_setup, fixtures_teardown);
  tcase_add_test (tc, test_soak);
  suite_add_tcase (s, tc);
  return s;
}

int
main (int argc, char **argv)
{
  const gchar *env = g_getenv ("PACKD_SOAK_FRAMES");
  const gchar *arg = argc > 1 ? argv[1] : env;

#ifdef __GLIBC__
  /* glibc raises its mmap threshold to the size of freed mmapped blocks, so
   * the buffers of a replaced support set (tens of MB) end up in the heap
   * and stay resident: RSS would wander by the allocator's retention
   * (measured: +35 MB over the first swaps, then a 170-193 MB band).  A
   * fixed threshold gives large blocks back on free, so RSS follows live
   * memory and a leak shows as a trend. */
  mallopt (M_MMAP_THRESHOLD, 128 * 1024);
#endif
  gst_check_init (&argc, &argv);
  if (arg != NULL) {
    n_frames = g_ascii_strtoull (arg, NULL, 10);
    if (n_frames < 50) {
      g_printerr ("usage: %s [FRAMES >= 50]  (or PACKD_SOAK_FRAMES)\n", argv[0]);
      return 2;
    }
  }
  return gst_check_run_suite (soak_suite (), "soak-packdfilter", __FILE__);
}
