/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PACKD_REGIONS_H
#define PACKD_REGIONS_H

#include <glib.h>

G_BEGIN_DECLS

/* Anomalous regions of a score map: the map is thresholded, the pixels at or
 * above the threshold are grouped into 8-connected components, components
 * whose bounding box is too small are dropped, and each remaining component
 * becomes a box scored with the maximum of the map inside it (anomalib). */

typedef struct {
  float x, y, w, h;  /* bounding box, normalised to the map (0..1) */
  float score;       /* maximum of the map over the component's pixels */
  int n_pixels;      /* component area in map pixels */
} PackdRegion;

/* Appends the regions of map (width x height floats, row-major) to regions
 * (a GArray of PackdRegion), highest score first, and returns how many were
 * appended.  A pixel belongs to a region when its value is >= threshold.  A
 * component is dropped when its bounding box is narrower than min_width or
 * lower than min_height (in map pixels).  max_regions > 0 keeps only that
 * many (the highest scored); 0 keeps all. */
int packd_regions_find (const float *map, int width, int height, float threshold,
    float min_width, float min_height, int max_regions, GArray *regions);

G_END_DECLS

#endif /* PACKD_REGIONS_H */
