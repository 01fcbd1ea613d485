/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/gst.h>

#include "gstpackdfilter.h"
#include "packd-meta.h"

static gboolean
plugin_init (GstPlugin * plugin)
{
  if (!packd_anomaly_meta_register ())
    return FALSE;
  return GST_ELEMENT_REGISTER (packdfilter, plugin);
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, packd,
    "Few-shot visual anomaly detection", plugin_init, VERSION, GST_LICENSE,
    GST_PACKAGE_NAME, GST_PACKAGE_ORIGIN)
