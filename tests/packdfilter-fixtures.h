/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PACKDFILTER_FIXTURES_H
#define PACKDFILTER_FIXTURES_H

/* Synthetic frames, support images and helpers for test-packdfilter.c. */

#include <cairo.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>

/* Small frames keep the suite fast: the engine resizes to its input anyway. */
#define WIDTH 128
#define HEIGHT 96
#define CAPS "video/x-raw,format=BGRx,width=128,height=96,framerate=30/1"
/* The defect: a dark disc on the texture. */
#define BLOB_X 88.0
#define BLOB_Y 36.0
#define BLOB_R 10.0

typedef enum { TEXTURE_CHECKER, TEXTURE_STRIPES } Texture;

/* Set up by fixtures_setup() (once per test case, unchecked fixture). */
extern gchar *tmpdir;
extern const gchar *teacher;            /* $PACKD_TEACHER */
extern gchar *support_checker[4];       /* 3 PNGs + NULL */
extern gchar *support_stripes[4];
extern gchar *not_an_image;             /* a text file named .png */
extern gchar *corrupt_model;            /* a truncated safetensors header */

void fixtures_setup (void);
void fixtures_teardown (void);

/* PTS of frame index at 30 fps. */
GstClockTime frame_pts (guint index);
/* A BGRx frame of the texture with noise from seed, and the blob if asked. */
GstBuffer *texture_buffer (Texture kind, guint32 seed, gboolean blob, guint index);

void set_support (GstElement * filter, gchar ** paths);
/* A configured packdfilter (not started); caller owns the reference. */
GstElement *filter_new (gchar ** support);
/* Starts the filter in a harness with CAPS; takes the filter's reference. */
GstHarness *harness_new (GstElement * filter);
GstBuffer *push_frame (GstHarness * h, Texture kind, guint32 seed, gboolean blob,
    guint index);

/* PackdAnomalyMeta fields, read as an application would (fail if absent). */
const GstStructure *meta_of (GstBuffer * buffer);
gdouble meta_double (GstBuffer * buffer, const gchar * field);
gboolean meta_boolean (GstBuffer * buffer, const gchar * field);
guint64 meta_uint64 (GstBuffer * buffer, const gchar * field);
const GValue *meta_regions (GstBuffer * buffer);
void region_get (const GValue * regions, guint i, gdouble * x, gdouble * y, gdouble * w,
    gdouble * h, gdouble * score);
gboolean region_contains_blob (const GValue * regions, guint i);

/* A bus set on the harnessed element, so its messages can be popped. */
GstBus *harness_bus (GstHarness * h);
/* Element messages of the given name, in posting order (others dropped). */
GList *pop_element_messages (GstBus * bus, const gchar * name);
guint64 structure_uint64 (const GstStructure * s, const gchar * field);

/* Scores of a clean and a defective checker frame with the checker support. */
void measure_scores (gdouble * clean, gdouble * defect);

/* Going to PAUSED fails with this error; text is in its message or debug
 * string.  Takes the filter. */
void expect_start_error (GstElement * filter, GQuark domain, gint code, const gchar * text);

#endif /* PACKDFILTER_FIXTURES_H */
