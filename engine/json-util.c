/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "packd-json.h"

void
packd_json_add_time (JsonBuilder *builder, const char *name, guint64 time_ns)
{
  json_builder_set_member_name (builder, name);
  if (time_ns != G_MAXUINT64)
    json_builder_add_int_value (builder, (gint64) time_ns);
  else
    json_builder_add_null_value (builder);
}
