/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "packd-colormap.h"

#include <math.h>

static guint8
jet_channel (float v, float centre)
{
  float c = 1.5f - fabsf (4.0f * v - centre);

  c = CLAMP (c, 0.0f, 1.0f);
  return (guint8) lrintf (c * 255.0f);
}

void
packd_colormap_jet (float v01, guint8 rgb[3])
{
  float v = isnan (v01) ? 0.0f : CLAMP (v01, 0.0f, 1.0f);

  rgb[0] = jet_channel (v, 3.0f);
  rgb[1] = jet_channel (v, 2.0f);
  rgb[2] = jet_channel (v, 1.0f);
}

const guint8 *
packd_colormap_jet_lut (void)
{
  static guint8 lut[256 * 3];
  static gsize initialised = 0;

  if (g_once_init_enter (&initialised)) {
    for (int i = 0; i < 256; i++)
      packd_colormap_jet (i / 255.0f, lut + 3 * i);
    g_once_init_leave (&initialised, 1);
  }
  return lut;
}
