/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PACKD_SCORER_PACKD_H
#define PACKD_SCORER_PACKD_H

#include "packd-scorer.h"

G_BEGIN_DECLS

/* Method 'packd' of the scorer (method.md §7): the pieces scorer.c calls. */

typedef struct _PackdStudentScoring PackdStudentScoring;
typedef struct _PackdPrototypes PackdPrototypes;

/* Loads a PACKD model file; *size receives its input size. */
PackdStudentScoring *packd_student_scoring_new (const char *model_path, int *size,
    GError **error);
void packd_student_scoring_free (PackdStudentScoring *sc);

/* The model file's map reference (packd.arch "map_reference"). */
PackdMapReference packd_student_scoring_get_map_reference (const PackdStudentScoring *sc);

/* Prototypes of a support set, its map reference (none for k = 1) and its
 * calibrated threshold (leave-one-out as knn's calibration in scorer.c).
 * Uses a workspace of its own, so it may run while another thread scores. */
PackdPrototypes *packd_student_scoring_build_support (PackdStudentScoring *sc,
    const PackdImage *images, int n_images, PackdMapReference reference, float *threshold,
    GError **error);
void packd_prototypes_free (PackdPrototypes *p);

/* Raw score (max of the blurred map); *map (size x size) stays valid until
 * the next call.  Not reentrant. */
float packd_student_scoring_score (PackdStudentScoring *sc, const PackdPrototypes *p,
    const PackdImage *image, const float **map);

G_END_DECLS

#endif
