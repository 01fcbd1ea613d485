/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PACKD_SCORER_COMBINED_H
#define PACKD_SCORER_COMBINED_H

#include "packd-scorer.h"

G_BEGIN_DECLS

/* Method 'combined' of the scorer: the knn and packd maps of one PACKD model
 * file, each divided by its own support-calibrated threshold, then summed
 * (issue 5's "PACKD and knn maps combined").  The pieces scorer.c calls. */

typedef struct _PackdCombined PackdCombined;
typedef struct _PackdCombinedSupport PackdCombinedSupport;

/* Both methods from one PACKD model file; *size receives the input size,
 * *map_reference the file's map reference. */
PackdCombined *packd_combined_new (const char *model_path, int *size,
    PackdMapReference *map_reference, GError **error);
void packd_combined_free (PackdCombined *c);

/* Both support sets (knn bank with the given coreset fraction, packd
 * prototypes and map reference), each calibrated as its method does;
 * *threshold receives the combined threshold.  May run while another thread scores. */
PackdCombinedSupport *packd_combined_build_support (PackdCombined *c, const PackdImage *images,
    int n_images, float coreset_fraction, PackdMapReference map_reference, float *threshold,
    GError **error);
void packd_combined_support_free (PackdCombinedSupport *cs);

/* Raw combined score (max of the summed normalised maps) into *raw_score;
 * *map (size x size) stays valid until the next call.  Not reentrant. */
gboolean packd_combined_score (PackdCombined *c, const PackdCombinedSupport *cs,
    const PackdImage *image, float *raw_score, const float **map, GError **error);

G_END_DECLS

#endif
