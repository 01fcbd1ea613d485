/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PACKD_SCORER_IMPL_H
#define PACKD_SCORER_IMPL_H

#include "packd-scorer.h"
#include "packd-teacher.h"
#include "packd-threads.h"

G_BEGIN_DECLS

/* Private pieces of the scorer shared by its methods (scorer.c, knn.c). */

#define PACKD_KNN_MAX_TAPS 4

/* Teacher taps -> local 3x3 average -> resampled to the s8 grid ->
 * concatenated: one embedding row per grid position (method.md §8). */
typedef struct {
  PackdTeacherRun *run;
  int n_taps;
  int size;                     /* model input (square) */
  int grid;                     /* size / 8 */
  int dim;                      /* sum of tap channels */
  PackdArena *arena;
  PackdTensor pooled[PACKD_KNN_MAX_TAPS];
  PackdTensor resized[PACKD_KNN_MAX_TAPS];
  PackdTensor embedding;        /* [1, grid, grid, dim] */
  PackdThreads *pool;           /* shared, follows packd_threads_default () */
  int pool_threads;
} PackdEmbedder;

PackdEmbedder *packd_embedder_new (const PackdTeacher *teacher, int size,
    const char *const *taps, int n_taps, GError **error);
void packd_embedder_free (PackdEmbedder *e);
/* Image -> e->embedding (grid*grid rows of dim floats): the input, the
 * teacher forward, then packd_embedder_pool_taps(). */
void packd_embedder_run (PackdEmbedder *e, const PackdImage *image);
/* Teacher taps of the last forward -> e->embedding. */
void packd_embedder_pool_taps (PackdEmbedder *e);
/* Image -> teacher input tensor [1,size,size,3], RGB in [0,1]
 * (bilinear, align_corners = TRUE as the teacher's preprocessing). */
void packd_image_to_input (const PackdImage *image, PackdTensor *input);

/* Nearest-neighbour search workspace.  With a SIMD level the queries are
 * packed once per search and the engine's distance kernel keeps a running
 * minimum per query (no products matrix), query blocks spread over the
 * shared thread pool; otherwise OpenBLAS sgemm in bank chunks. */
typedef struct {
  int n_queries;
  int dim;
  int chunk;
  float *query_norms;           /* n_queries */
  float *products;              /* n_queries x chunk (generic path) */
  float *packed_queries;        /* the queries as a packed GEMM B (SIMD path) */
  float *col_min;               /* n_queries: min over the bank of |b|^2 - 2 q.b */
  PackdThreads *pool;           /* shared, follows packd_threads_default () */
  int pool_threads;
} PackdKnnSearch;

PackdKnnSearch *packd_knn_search_new (int n_queries, int dim, GError **error);
void packd_knn_search_free (PackdKnnSearch *s);
/* For each query row: min over bank rows in [begin, end) of the squared
 * Euclidean distance (|q|^2 + |b|^2 - 2 q.b, clamped at 0), combined by
 * min with what min_dist2 already holds (callers start at +inf).
 * bank_norms: |b|^2 per bank row. */
void packd_knn_search_run (PackdKnnSearch *s, const float *queries, const float *bank,
    const float *bank_norms, int begin, int end, float *min_dist2);

/* PatchCore's greedy coreset: n_select of the rows x dim bank rows chosen
 * by farthest-point sampling in a fixed random projection to 128 dims, into
 * selected (ascending).  FALSE (error set) if out of memory. */
gboolean packd_knn_coreset_select (const float *bank, int rows, int dim, int n_select,
    int *selected, GError **error);

/* Support-set calibration, shared by the methods: the raw-score threshold
 * from the scores of good images a support set yields (per support image
 * its leave-one-out score and that of a shifted crop; k = 1: one
 * shifted-crop score against the image itself, doubled). */
typedef enum {
  PACKD_CALIBRATION_MEAN,       /* default: 1.15 x the mean */
  PACKD_CALIBRATION_MAX,        /* the first rule: 1.1 x the max (few false alarms, low recall) */
} PackdCalibrationRule;

/* The calibration's camera-jitter crop: img without its first 3 % of rows
 * and columns (at least one each if at_least_one), never past the image. */
PackdImage packd_calibration_shifted_crop (const PackdImage *img, gboolean at_least_one);

/* The default rule; 0 when n < 1. */
float packd_calibration_threshold (const float *scores, int n);
float packd_calibration_threshold_rule (PackdCalibrationRule rule, const float *scores, int n);

/* 1-NN distance grid -> blurred size x size map (bilinear align_corners
 * TRUE, Gaussian sigma 4, truncate 4, reflect); returns its max. */
float packd_anomaly_map_finish (const float *grid_map, int grid, int size, float *map,
    float *scratch_a, float *scratch_b);

G_END_DECLS

#endif
