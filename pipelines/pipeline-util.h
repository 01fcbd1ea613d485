/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PACKD_PIPELINE_UTIL_H
#define PACKD_PIPELINE_UTIL_H

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

/* A GST_MESSAGE_ERROR as a GError with the debug text appended. */
GError *packd_pipeline_error_from_message (GstMessage *message);

/* Appends "name": [ {x, y, w, h, score}, ... ] from a GST_TYPE_ARRAY of
 * "region" structures (as in PackdAnomalyMeta and packdfilter-anomaly). */
void packd_pipeline_json_add_regions (JsonBuilder *builder, const gchar *name,
    const GValue *regions);

/* Appends "name": time in ns, or null when the time is invalid. */
void packd_pipeline_json_add_time (JsonBuilder *builder, const gchar *name, GstClockTime time);

/* The builder's root as one line of compact JSON, with a newline. */
gchar *packd_pipeline_json_to_line (JsonBuilder *builder);

G_END_DECLS

#endif /* PACKD_PIPELINE_UTIL_H */
