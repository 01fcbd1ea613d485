/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/* State-change storm: NULL -> PLAYING -> NULL cycles of
 *
 *   videotestsrc num-buffers=1 ! video/x-raw,BGRx,32x24 ! packdfilter ! fakesink
 *
 * with non-blocking=false and =true, while another thread sets the
 * element's properties (threshold, inference-interval, support images,
 * n-threads, overlay, ...) and reads its statistics at random moments.
 * Half the cycles wait for PLAYING before going back to NULL, the others go
 * back at once (start racing stop).  A watchdog thread aborts the test,
 * naming the cycle, when one takes longer than PACKD_STRESS_WATCHDOG_S
 * seconds (default 30): a deadlock.  After the storm one more run must go
 * to EOS with a meta on every frame (non-blocking: from the first result).
 *
 *   stress-state-changes [CYCLES]  (or PACKD_STRESS_CYCLES; default 200 per mode: the CI mode; the long run is 1000) */
#include <stdio.h>
#include <stdlib.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "packdfilter-fixtures.h"

#define DEFAULT_CYCLES 200
#define DEFAULT_WATCHDOG_S 30
#define FINAL_FRAMES 30

static guint n_cycles = DEFAULT_CYCLES;
static guint watchdog_s = DEFAULT_WATCHDOG_S;

/* Watchdog state, guarded by watch_lock. */
static GMutex watch_lock;
static gint64 cycle_start;      /* monotonic us, 0: not in a cycle */
static guint cycle_index;
static const gchar *cycle_what;
static gboolean watch_quit;

static gpointer
watchdog_func (gpointer data)
{
  g_mutex_lock (&watch_lock);
  while (!watch_quit) {
    gint64 now = g_get_monotonic_time ();
    if (cycle_start != 0 && now - cycle_start > (gint64) watchdog_s * G_USEC_PER_SEC) {
      fprintf (stderr, "stress: DEADLOCK? cycle %u (%s) has not finished after %u s "
          "(PACKD_STRESS_WATCHDOG_S)\n", cycle_index, cycle_what, watchdog_s);
      fflush (stderr);
      abort ();
    }
    g_mutex_unlock (&watch_lock);
    g_usleep (100 * 1000);
    g_mutex_lock (&watch_lock);
  }
  g_mutex_unlock (&watch_lock);
  return NULL;
}

static void
watch_cycle (guint index, const gchar * what)
{
  g_mutex_lock (&watch_lock);
  cycle_index = index;
  cycle_what = what;
  cycle_start = what != NULL ? g_get_monotonic_time () : 0;
  g_mutex_unlock (&watch_lock);
}

/* One-image support sets: a build per swap or start stays cheap. */
static gchar *one_checker[2];
static gchar *one_stripes[2];

typedef struct {
  GstElement *filter;
  volatile gint quit;
  guint64 sets;
} Racer;

/* Property sets and reads at random moments of the state changes. */
static gpointer
racer_func (gpointer data)
{
  Racer *r = data;
  GRand *rand = g_rand_new_with_seed (7);

  while (!g_atomic_int_get (&r->quit)) {
    switch (g_rand_int_range (rand, 0, 12)) {
      case 0:
        g_object_set (r->filter, "threshold", g_rand_double (rand), NULL);
        break;
      case 1:
        g_object_set (r->filter, "inference-interval", g_rand_int_range (rand, 1, 4), NULL);
        break;
      case 2:
        /* About once a second: each set while playing builds a support
         * set, which costs as much as a start. */
        if (g_rand_int_range (rand, 0, 50) == 0)
          set_support (r->filter, g_rand_boolean (rand) ? one_checker : one_stripes);
        break;
      case 3:
        g_object_set (r->filter, "n-threads", g_rand_int_range (rand, 1, 3), NULL);
        break;
      case 4:
        g_object_set (r->filter, "overlay", g_rand_boolean (rand), NULL);
        break;
      case 5:
        g_object_set (r->filter, "draw-heatmap", g_rand_boolean (rand),
            "draw-regions", g_rand_boolean (rand), "draw-score", g_rand_boolean (rand), NULL);
        break;
      case 6:
        g_object_set (r->filter, "pixel-threshold", g_rand_double (rand),
            "heatmap-alpha", g_rand_double (rand), NULL);
        break;
      case 7:
        g_object_set (r->filter, "post-all-frames", g_rand_boolean (rand),
            "attach-roi-meta", g_rand_boolean (rand), NULL);
        break;
      case 8:
        g_object_set (r->filter, "stats-interval",
            (guint64) g_rand_int_range (rand, 0, 3) * GST_MSECOND, "alert-min-frames",
            g_rand_int_range (rand, 1, 3), "alert-hold-time",
            (guint64) g_rand_int_range (rand, 0, 3) * GST_MSECOND, NULL);
        break;
      case 9:
        g_object_set (r->filter, "min-region-size", g_rand_int_range (rand, 0, 10), NULL);
        break;
      default:{
        guint64 analysed, skipped;
        gdouble score;
        gchar *model;
        GValue support = G_VALUE_INIT;
        g_value_init (&support, GST_TYPE_ARRAY);
        g_object_get (r->filter, "frames-analysed", &analysed, "frames-skipped", &skipped,
            "last-score", &score, "model-file", &model, NULL);
        g_object_get_property (G_OBJECT (r->filter), "support-images", &support);
        g_value_unset (&support);
        g_free (model);
        break;
      }
    }
    r->sets++;
    g_usleep (g_rand_int_range (rand, 0, 2000));
  }
  g_rand_free (rand);
  return NULL;
}

/* Errors end the test; warnings too (every support set here is valid). */
static void
bus_check (GstBus * bus, guint cycle)
{
  GstMessage *msg;

  while ((msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR | GST_MESSAGE_WARNING))) {
    GError *error = NULL;
    gchar *debug = NULL;
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR)
      gst_message_parse_error (msg, &error, &debug);
    else
      gst_message_parse_warning (msg, &error, &debug);
    fail ("cycle %u: %s from %s: %s (%s)", cycle, GST_MESSAGE_TYPE_NAME (msg),
        GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)), error->message, debug ? debug : "");
  }
  /* Drop the rest (frame, stats, anomaly, state messages). */
  gst_bus_set_flushing (bus, TRUE);
  gst_bus_set_flushing (bus, FALSE);
}

static GstPadProbeReturn
count_meta (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  guint *counts = user_data;

  counts[0]++;
  if (gst_buffer_get_custom_meta (GST_PAD_PROBE_INFO_BUFFER (info), "PackdAnomalyMeta"))
    counts[1]++;
  return GST_PAD_PROBE_OK;
}

static void
storm (gboolean non_blocking)
{
  const gchar *mode = non_blocking ? "non-blocking" : "blocking";
  GstElement *pipeline = gst_parse_launch ("videotestsrc name=src num-buffers=1 "
      "! video/x-raw,format=BGRx,width=32,height=24,framerate=30/1 "
      "! packdfilter name=filter ! fakesink sync=false", NULL);
  GstElement *filter, *src;
  GstBus *bus;
  Racer racer = { 0 };
  GThread *watchdog, *racer_thread;
  guint waited = 0;
  const gint64 start = g_get_monotonic_time ();

  fail_unless (pipeline != NULL);
  filter = gst_bin_get_by_name (GST_BIN (pipeline), "filter");
  src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  g_object_set (filter, "model-file", teacher, "non-blocking", non_blocking, "n-threads", 1,
      NULL);
  one_checker[0] = support_checker[0];
  one_stripes[0] = support_stripes[0];
  set_support (filter, one_checker);
  bus = gst_element_get_bus (pipeline);

  watch_quit = FALSE;
  watchdog = g_thread_new ("watchdog", watchdog_func, NULL);
  racer.filter = filter;
  racer_thread = g_thread_new ("racer", racer_func, &racer);

  for (guint i = 0; i < n_cycles; i++) {
    watch_cycle (i, non_blocking ? "non-blocking NULL->PLAYING->NULL" :
        "blocking NULL->PLAYING->NULL");
    fail_if (gst_element_set_state (pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE,
        "cycle %u: PLAYING failed", i);
    if (i % 2 == 0) {
      /* Reach PLAYING; the frame passes meanwhile or just after. */
      GstState state;
      fail_unless_equals_int (gst_element_get_state (pipeline, &state, NULL,
              GST_CLOCK_TIME_NONE), GST_STATE_CHANGE_SUCCESS);
      fail_unless_equals_int (state, GST_STATE_PLAYING);
      waited++;
    }
    fail_unless_equals_int (gst_element_set_state (pipeline, GST_STATE_NULL),
        GST_STATE_CHANGE_SUCCESS);
    bus_check (bus, i);
  }
  watch_cycle (0, NULL);
  g_atomic_int_set (&racer.quit, 1);
  g_thread_join (racer_thread);
  const gdouble seconds = (g_get_monotonic_time () - start) / 1e6;
  g_print ("stress: %s: %u cycles (%u waited for PLAYING) in %.1f s (%.1f ms a cycle), "
      "%" G_GUINT64_FORMAT " property sets/reads racing them\n", mode, n_cycles, waited,
      seconds, seconds * 1000 / MAX (n_cycles, 1), racer.sets);

  /* Still working after the storm: every frame of a whole run carries a
   * result (non-blocking: from the first result on). */
  guint counts[2] = { 0, 0 };
  GstPad *pad = gst_element_get_static_pad (filter, "src");
  /* Live at 30 fps: a non-blocking result arrives while frames still come. */
  g_object_set (src, "num-buffers", FINAL_FRAMES, "is-live", TRUE, NULL);
  g_object_set (filter, "inference-interval", 1, NULL);
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, count_meta, counts, NULL);
  gst_object_unref (pad);
  watch_cycle (n_cycles, "final run to EOS");
  fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
  GstMessage *msg = gst_bus_timed_pop_filtered (bus, GST_CLOCK_TIME_NONE,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  fail_unless_equals_int (GST_MESSAGE_TYPE (msg), GST_MESSAGE_EOS);
  gst_message_unref (msg);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  watch_cycle (0, NULL);
  fail_unless_equals_int (counts[0], FINAL_FRAMES);
  if (non_blocking)
    fail_unless (counts[1] >= 1 && counts[1] < FINAL_FRAMES, "%u of %u frames with meta",
        counts[1], FINAL_FRAMES);
  else
    fail_unless_equals_int (counts[1], FINAL_FRAMES);

  g_mutex_lock (&watch_lock);
  watch_quit = TRUE;
  g_mutex_unlock (&watch_lock);
  g_thread_join (watchdog);
  gst_object_unref (bus);
  gst_object_unref (src);
  gst_object_unref (filter);
  gst_object_unref (pipeline);
}

GST_START_TEST (test_storm_blocking)
{
  storm (FALSE);
}

GST_END_TEST;

GST_START_TEST (test_storm_non_blocking)
{
  storm (TRUE);
}

GST_END_TEST;

static Suite *
stress_suite (void)
{
  Suite *s = suite_create ("stress-state-changes");
  TCase *tc = tcase_create ("storm");

  /* The watchdog bounds each cycle; this only bounds a storm as a whole. */
  tcase_set_timeout (tc, 120 + 5 * n_cycles);
  tcase_add_unchecked_fixture (tc, fixtures_setup, fixtures_teardown);
  tcase_add_test (tc, test_storm_blocking);
  tcase_add_test (tc, test_storm_non_blocking);
  suite_add_tcase (s, tc);
  return s;
}

static guint
env_uint (const gchar * value, guint fallback)
{
  return value != NULL && *value != '\0' ? (guint) g_ascii_strtoull (value, NULL, 10) : fallback;
}

int
main (int argc, char **argv)
{
  const gchar *arg = argc > 1 ? argv[1] : g_getenv ("PACKD_STRESS_CYCLES");

#ifdef __GLIBC__
  /* Each start allocates and each stop frees tens of MB (model, workspaces);
   * meson's MALLOC_PERTURB_ would fill them at both ends, 40 % of the run.
   * Memory errors are the ASan pass's job. */
  mallopt (M_PERTURB, 0);
#endif
  gst_check_init (&argc, &argv);
  n_cycles = env_uint (arg, DEFAULT_CYCLES);
  watchdog_s = MAX (1, env_uint (g_getenv ("PACKD_STRESS_WATCHDOG_S"), DEFAULT_WATCHDOG_S));
  return gst_check_run_suite (stress_suite (), "stress-state-changes", __FILE__);
}
