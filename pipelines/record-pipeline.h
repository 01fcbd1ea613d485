/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PACKD_RECORD_PIPELINE_H
#define PACKD_RECORD_PIPELINE_H

#include <gst/gst.h>

G_BEGIN_DECLS

typedef struct {
  const gchar *name;            /* h264, vp8, jpeg */
  const gchar *factory;
  const gchar *description;     /* gst-launch fragment; %u: keyframe interval in frames */
  const gchar *container;       /* preferred: mp4 or mkv */
} PackdRecordEncoder;

/* name: h264, vp8, jpeg, or auto for the first one installed. */
const PackdRecordEncoder *packd_record_choose_encoder (const gchar * name, GError ** error);

/* container: mp4, mkv or auto; sets the muxer factory and the file extension. */
gboolean packd_record_choose_container (const gchar * container,
    const PackdRecordEncoder * enc, const gchar ** muxer, const gchar ** extension,
    GError ** error);

/* source ! videoconvert ! packdfilter name=detector ! [display tee !]
 * videoconvert ! encoder ! appsink name=ring.  source is a gst-launch
 * fragment; file (filesrc ! decodebin) and else v4l2src on device are the
 * alternatives. */
GstElement *packd_record_build_pipeline (const gchar * source, const gchar * file,
    const gchar * device, const PackdRecordEncoder * enc, guint keyframe_interval,
    gboolean display, GError ** error);

G_END_DECLS

#endif /* PACKD_RECORD_PIPELINE_H */
