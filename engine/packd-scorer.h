/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PACKD_SCORER_H
#define PACKD_SCORER_H

#include <glib.h>
#include <stdint.h>

G_BEGIN_DECLS

/* The few-shot scoring API shared by the element and the tools.
 *
 *   scorer = packd_scorer_new (model, PACKD_METHOD_KNN, &err);
 *   support = packd_scorer_build_support (scorer, images, k, &err);   any thread
 *   packd_scorer_set_support (scorer, support);                        atomic swap
 *   packd_support_unref (support);
 *   packd_scorer_score (scorer, &frame, &result, &err);                streaming thread
 *
 * A scorer owns the model weights (read-only, shared) and one scoring
 * workspace sized at creation: packd_scorer_score() does not allocate.  It is
 * not reentrant: one thread scores at a time.  packd_scorer_build_support()
 * uses a workspace of its own and may run on another thread while score()
 * runs; set_support() swaps the support set atomically (the old one stays
 * alive until the last score() using it returns). */

typedef enum {
  PACKD_METHOD_KNN = 0,   /* training-free PatchCore-style nearest neighbour */
  PACKD_METHOD_PACKD = 1, /* trained PACKD student (needs a PACKD model file) */
  PACKD_METHOD_COMBINED = 2, /* packd + knn maps, each over its calibrated threshold, summed */
} PackdMethod;

const char *packd_method_to_string (PackdMethod method);
gboolean packd_method_from_string (const char *name, PackdMethod *method);

/* Method packd (and the packd half of combined): what the student's map is
 * measured against.  The support images' own maps show where the student
 * responds on good parts of this product (texture it never saw, edges);
 * subtracting them per pixel leaves what is new in the frame. */
typedef enum {
  PACKD_MAP_REFERENCE_NONE = 0,     /* the map as it is (method.md §7) */
  PACKD_MAP_REFERENCE_SUPPORT_MEAN = 1, /* minus the per-pixel mean of the support maps */
  PACKD_MAP_REFERENCE_SUPPORT_MAX = 2,  /* minus their per-pixel maximum */
} PackdMapReference;

const char *packd_map_reference_to_string (PackdMapReference reference);
gboolean packd_map_reference_from_string (const char *name, PackdMapReference *reference);

typedef enum {
  PACKD_PIXEL_RGB,   /* 3 bytes R,G,B */
  PACKD_PIXEL_BGRX,  /* 4 bytes B,G,R,x (Cairo ARGB32/RGB24 on little-endian) */
  PACKD_PIXEL_RGBX,  /* 4 bytes R,G,B,x */
  PACKD_PIXEL_GRAY,  /* 1 byte */
} PackdPixelFormat;

/* A borrowed 8-bit image; rows may be padded (stride in bytes). */
typedef struct {
  const guint8 *pixels;
  int width;
  int height;
  int stride;
  PackdPixelFormat format;
} PackdImage;

typedef struct _PackdScorer PackdScorer;
typedef struct _PackdSupport PackdSupport;

/* Result of one score() call.  The map buffers belong to the scorer and
 * stay valid until the next score() on it. */
typedef struct {
  float raw_score;        /* max of the blurred map (method units) */
  float score;            /* normalised: 0.5 == support-calibrated threshold */
  float threshold;        /* raw threshold of the support set used */
  const float *map;       /* map_size x map_size raw anomaly map (blurred) */
  int map_size;           /* model resolution, e.g. 256 */
} PackdResult;

/* model_path: a teacher file (knn) or a PACKD model file (packd, knn). */
PackdScorer *packd_scorer_new (const char *model_path, PackdMethod method, GError **error);
void packd_scorer_free (PackdScorer *scorer);
PackdMethod packd_scorer_get_method (const PackdScorer *scorer);
int packd_scorer_get_input_size (const PackdScorer *scorer);
/* Threads used by score() and build_support() (OpenBLAS + engine loops). */
void packd_scorer_set_threads (PackdScorer *scorer, int n_threads);

/* knn only, optional: keep this fraction (0 < f < 1) of the support
 * positions as the memory bank, chosen by PatchCore's greedy coreset
 * (farthest points in a fixed random projection), for support sets built
 * afterwards.  The search time per frame scales with f; the scores move a
 * little (see README "Performance").  1 (the default, also for values
 * outside (0, 1)) keeps every position: exact nearest-neighbour scores. */
void packd_scorer_set_coreset_fraction (PackdScorer *scorer, float fraction);
float packd_scorer_get_coreset_fraction (const PackdScorer *scorer);

/* packd and combined only: the map reference for support sets built
 * afterwards.  The default is the model file's (packd.arch "map_reference",
 * none when absent).  A support map is each support image's map against the
 * prototypes of the others (leave-one-out), so k = 1 has none: its support
 * set scores without a reference. */
void packd_scorer_set_map_reference (PackdScorer *scorer, PackdMapReference reference);
PackdMapReference packd_scorer_get_map_reference (const PackdScorer *scorer);

/* Builds and calibrates a support set from k >= 1 good images of any size. */
PackdSupport *packd_scorer_build_support (PackdScorer *scorer, const PackdImage *images,
    int n_images, GError **error);
PackdSupport *packd_support_ref (PackdSupport *support);
void packd_support_unref (PackdSupport *support);
int packd_support_get_n_images (const PackdSupport *support);
/* Calibrated raw-score threshold (normalised score 0.5). */
float packd_support_get_threshold (const PackdSupport *support);
/* The good-image scores the threshold was calibrated from, *n of them (knn:
 * per support image its leave-one-out score, then that of a shifted crop;
 * k = 1: one shifted-crop score against itself, doubled).  NULL with *n = 0
 * when the method keeps none.  Owned by the support set. */
const float *packd_support_get_calibration_scores (const PackdSupport *support, int *n);

/* Takes its own reference; NULL clears. */
void packd_scorer_set_support (PackdScorer *scorer, PackdSupport *support);
/* New reference or NULL. */
PackdSupport *packd_scorer_get_support (PackdScorer *scorer);

/* Scores one image with the current support set.  Fails with
 * PACKD_ERROR_NO_SUPPORT when none is set. */
gboolean packd_scorer_score (PackdScorer *scorer, const PackdImage *image,
    PackdResult *result, GError **error);

/* Resamples the last map to width x height (bilinear), into out
 * (width*height floats, caller-owned). */
void packd_result_resample_map (const PackdResult *result, float *out, int width, int height);

/* Normalised score of a raw score under a threshold: 0.5 at the threshold. */
float packd_score_normalise (float raw_score, float threshold);

G_END_DECLS

#endif /* PACKD_SCORER_H */
