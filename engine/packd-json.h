/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PACKD_JSON_H
#define PACKD_JSON_H

/* JSON conventions shared by packd's JSON-lines writers (the element's
 * json-location report, packd-record-on-anomaly's event log), so both spell
 * a value the same way.  Kept free of GStreamer like the rest of libpackd. */

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Appends "name": time_ns (an integer), or null when the time is unknown:
 * G_MAXUINT64, which is GStreamer's GST_CLOCK_TIME_NONE, so a GstClockTime
 * can be passed as it is. */
void packd_json_add_time (JsonBuilder *builder, const char *name, guint64 time_ns);

G_END_DECLS

#endif /* PACKD_JSON_H */
