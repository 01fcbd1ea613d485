/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PACKD_PIPELINE_UTIL_H
#define PACKD_PIPELINE_UTIL_H

#include <stdio.h>
#include <gst/gst.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Helpers shared by the pipeline programs (packd-record-on-anomaly,
 * packd-inspect-folder); they talk to packdfilter through its properties,
 * messages and PackdAnomalyMeta only, as any application would. */

/* Flattens option values that may each hold a comma-separated list
 * ("a.png,b.png") into one NULL-terminated list; empty items are dropped. */
gchar **packd_pipeline_split_lists (gchar **lists);

/* The support images given as --support lists plus the images in
 * --support-dir (packd_dataset_list_images(); either may be NULL); an error
 * only when dir cannot be read. */
gchar **packd_pipeline_collect_support (gchar **lists, const gchar *dir, GError **error);

/* Checks that the packdfilter element can be created, with a hint about
 * GST_PLUGIN_PATH when it cannot. */
gboolean packd_pipeline_check_detector (GError **error);

/* Sets support-images (a GstValueArray of paths, so commas and spaces in
 * file names are safe). */
void packd_pipeline_set_support (GstElement *detector, gchar **paths);

/* The packdfilter settings both programs take as options. */
typedef struct {
  gchar **support_lists;        /* --support, each maybe comma-separated */
  gchar *support_dir;           /* --support-dir */
  gchar *model_file;            /* --model-file, NULL: the element's default */
  gchar *method;                /* --method, NULL: the element's default */
  gdouble threshold;            /* --threshold, < 0: the element's default */
  gboolean no_overlay;          /* --no-overlay */
} PackdDetectorOptions;

#define PACKD_DETECTOR_OPTIONS_INIT { .threshold = -1.0 }

/* Adds --support, --support-dir, --model-file, --method, --threshold and
 * --no-overlay to ctx's main options, parsed into opts. */
void packd_pipeline_add_detector_options (GOptionContext *ctx, PackdDetectorOptions *opts);

/* Sets the support images and the properties opts gives on detector. */
void packd_pipeline_configure_detector (GstElement *detector, const PackdDetectorOptions *opts,
    gchar **support);

/* Frees what option parsing stored in opts. */
void packd_pipeline_detector_options_clear (PackdDetectorOptions *opts);

/* g_mkdir_with_parents() and g_fopen() with a GError naming the path. */
gboolean packd_pipeline_make_dir (const gchar *path, GError **error);
FILE *packd_pipeline_open_file (const gchar *path, const gchar *mode, GError **error);

/* A GST_MESSAGE_ERROR as a GError with the debug text appended. */
GError *packd_pipeline_error_from_message (GstMessage *message);

/* Appends "name": [ {x, y, w, h, score}, ... ] from a GST_TYPE_ARRAY of
 * "region" structures (as in PackdAnomalyMeta and packdfilter-anomaly). */
void packd_pipeline_json_add_regions (JsonBuilder *builder, const gchar *name,
    const GValue *regions);

/* The builder's root as one line of compact JSON, with a newline. */
gchar *packd_pipeline_json_to_line (JsonBuilder *builder);

G_END_DECLS

#endif /* PACKD_PIPELINE_UTIL_H */
