/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/* The enum types of packdfilter's properties. */
#include "gstpackdfilter.h"

GType
gst_packd_filter_method_get_type (void)
{
  static gsize type = 0;
  static const GEnumValue values[] = {
    {PACKD_METHOD_KNN, "Training-free nearest-neighbour scoring of teacher features "
          "(PatchCore-style)", "knn"},
    {PACKD_METHOD_PACKD, "Trained PACKD student (needs a PACKD model file; see "
          "map-reference)", "packd"},
    {PACKD_METHOD_COMBINED, "PACKD and knn maps, each over its calibrated threshold, "
          "summed (needs a PACKD model file)", "combined"},
    {0, NULL, NULL},
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstPackdFilterMethod", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

GType
gst_packd_filter_map_reference_get_type (void)
{
  static gsize type = 0;
  static const GEnumValue values[] = {
    {GST_PACKD_FILTER_MAP_REFERENCE_MODEL, "As the model file says (the shipped model: "
          "support-mean)", "model"},
    {PACKD_MAP_REFERENCE_NONE, "The student's map as it is", "none"},
    {PACKD_MAP_REFERENCE_SUPPORT_MEAN, "Minus the per-pixel mean of the support pictures' "
          "own maps (better image scores, worse heatmaps)", "support-mean"},
    {PACKD_MAP_REFERENCE_SUPPORT_MAX, "Minus their per-pixel maximum", "support-max"},
    {0, NULL, NULL},
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstPackdFilterMapReference", values);
    g_once_init_leave (&type, t);
  }
  return type;
}
