/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "scorer-impl.h"
#include "packd-error.h"
#include "packd-layers.h"
#include "layers/gemm.h"
#include "simd-impl.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#define KNN_BANK_CHUNK 512      /* bank rows per sgemm: 1024 x 512 floats = 2 MB */
/* Queries per task of the SIMD search: their packed block (128 x 912
 * floats, 467 KB) stays in L2 while the bank streams past once. */
#define KNN_QUERY_BLOCK 128
#define MAP_BLUR_SIGMA 4.0f
#define MAP_BLUR_TRUNCATE 4.0f

void
packd_image_to_input (const PackdImage *image, PackdTensor *input)
{
  static const int order_rgb[3] = { 0, 1, 2 }, order_bgr[3] = { 2, 1, 0 }, order_grey[3] = { 0, 0, 0 };
  const int *order = order_rgb;
  int channels = 3;

  switch (image->format) {
    case PACKD_PIXEL_RGB:
      break;
    case PACKD_PIXEL_BGRX:
      order = order_bgr;
      channels = 4;
      break;
    case PACKD_PIXEL_RGBX:
      channels = 4;
      break;
    case PACKD_PIXEL_GRAY:
      order = order_grey;
      channels = 1;
      break;
  }
  packd_resize_u8_to_rgb_forward (image->pixels, image->width, image->height, image->stride,
      channels, order, TRUE, input);
}

PackdEmbedder *
packd_embedder_new (const PackdTeacher *teacher, int size, const char *const *taps, int n_taps,
    GError **error)
{
  PackdEmbedder *e;
  gsize bytes;

  if (n_taps < 1 || n_taps > PACKD_KNN_MAX_TAPS) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_MODEL, "knn needs 1 to %d teacher taps, got %d",
        PACKD_KNN_MAX_TAPS, n_taps);
    return NULL;
  }
  e = g_new0 (PackdEmbedder, 1);
  e->run = packd_teacher_run_new (teacher, size, size, taps, n_taps, error);
  if (e->run == NULL)
    goto fail;
  e->n_taps = n_taps;
  e->size = size;
  e->grid = size / 8;

  bytes = 0;
  for (int t = 0; t < n_taps; t++) {
    const PackdTensor *tap = packd_teacher_run_tap (e->run, t);
    e->dim += tap->shape[3];
    bytes += (packd_tensor_numel (tap) + (int64_t) e->grid * e->grid * tap->shape[3]) * 4 + 128;
  }
  bytes += (gsize) e->grid * e->grid * e->dim * 4 + 64;
  e->arena = packd_arena_new (bytes);
  if (e->arena == NULL) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_NO_MEMORY, "cannot allocate the knn embedder");
    goto fail;
  }
  for (int t = 0; t < n_taps; t++) {
    const PackdTensor *tap = packd_teacher_run_tap (e->run, t);
    packd_arena_alloc_nhwc (e->arena, &e->pooled[t], 1, tap->shape[1], tap->shape[2], tap->shape[3]);
    packd_arena_alloc_nhwc (e->arena, &e->resized[t], 1, e->grid, e->grid, tap->shape[3]);
  }
  packd_arena_alloc_nhwc (e->arena, &e->embedding, 1, e->grid, e->grid, e->dim);
  return e;

fail:
  packd_embedder_free (e);
  return NULL;
}

void
packd_embedder_free (PackdEmbedder *e)
{
  if (e == NULL)
    return;
  packd_threads_release_shared (e->pool);
  packd_teacher_run_free (e->run);
  packd_arena_free (e->arena);
  g_free (e);
}

void
packd_embedder_run (PackdEmbedder *e, const PackdImage *image)
{
  packd_image_to_input (image, packd_teacher_run_input (e->run));
  packd_teacher_run_forward (e->run);
  packd_embedder_pool_taps (e);
}

/* The shared pool of packd_threads_default() threads, re-acquired when
 * that number changes. */
static PackdThreads *
follow_default_pool (PackdThreads **pool, int *pool_threads)
{
  const int n = CLAMP (packd_threads_default (), 1, 16);

  if (n != *pool_threads) {
    packd_threads_release_shared (*pool);
    *pool = packd_threads_acquire_shared (n);
    *pool_threads = n;
  }
  return *pool;
}

#define CONCAT_TASKS 4

static void
pool_tap_task (gpointer data, int t, int thread)
{
  PackdEmbedder *e = data;
  const PackdTensor *tap = packd_teacher_run_tap (e->run, t);

  packd_avgpool_same_forward (tap, 3, &e->pooled[t]);
  /* Half-pixel resampling (torch/anomalib default); at s8 it would be an
   * exact copy, so the pooled tap is used as it is. */
  if (!packd_tensor_same_shape (&e->pooled[t], &e->resized[t]))
    packd_resize_bilinear_forward (&e->pooled[t], FALSE, &e->resized[t]);
}

/* Rows [r0, r1) of the embedding, as [1, rows, 1, C] views. */
static void
concat_task (gpointer data, int task, int thread)
{
  PackdEmbedder *e = data;
  const int rows = e->grid * e->grid, r0 = rows * task / CONCAT_TASKS;
  const int r1 = rows * (task + 1) / CONCAT_TASKS;
  PackdTensor views[PACKD_KNN_MAX_TAPS], out;
  const PackdTensor *parts[PACKD_KNN_MAX_TAPS];

  for (int t = 0; t < e->n_taps; t++) {
    const PackdTensor *src = packd_tensor_same_shape (&e->pooled[t], &e->resized[t])
        ? &e->pooled[t] : &e->resized[t];
    const int64_t C = src->shape[3];
    packd_tensor_init_nhwc (&views[t], 1, r1 - r0, 1, C, src->data + (int64_t) r0 * C);
    parts[t] = &views[t];
  }
  packd_tensor_init_nhwc (&out, 1, r1 - r0, 1, e->dim, e->embedding.data + (int64_t) r0 * e->dim);
  packd_concat_channels_forward (parts, e->n_taps, &out);
}

void
packd_embedder_pool_taps (PackdEmbedder *e)
{
  /* Taps in parallel (the first, largest, goes first), then the rows. */
  PackdThreads *pool = follow_default_pool (&e->pool, &e->pool_threads);

  packd_threads_run (pool, e->n_taps, pool_tap_task, e);
  packd_threads_run (pool, CONCAT_TASKS, concat_task, e);
}

PackdKnnSearch *
packd_knn_search_new (int n_queries, int dim, GError **error)
{
  PackdKnnSearch *s = g_new0 (PackdKnnSearch, 1);

  s->n_queries = n_queries;
  s->dim = dim;
  s->chunk = KNN_BANK_CHUNK;
  s->query_norms = g_try_new (float, n_queries);
  s->products = g_try_new (float, (gsize) n_queries * s->chunk);
  s->packed_queries = g_try_new (float, packd_gemm_packed_floats (dim, n_queries));
  s->col_min = g_try_new (float, n_queries);
  if (s->query_norms == NULL || s->products == NULL || s->packed_queries == NULL
      || s->col_min == NULL) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_NO_MEMORY, "cannot allocate the knn search");
    packd_knn_search_free (s);
    return NULL;
  }
  return s;
}

void
packd_knn_search_free (PackdKnnSearch *s)
{
  if (s == NULL)
    return;
  packd_threads_release_shared (s->pool);
  g_free (s->query_norms);
  g_free (s->products);
  g_free (s->packed_queries);
  g_free (s->col_min);
  g_free (s);
}

/* 16 interleaved partial sums: a form the compiler can vectorise (a single
 * running sum must stay sequential). */
static float
squared_norm (const float *x, int dim)
{
  float part[16] = { 0 }, n2 = 0.f;
  int c = 0;

  for (; c + 16 <= dim; c += 16)
    for (int l = 0; l < 16; l++)
      part[l] += x[c + l] * x[c + l];
  for (; c < dim; c++)
    part[c % 16] += x[c] * x[c];
  for (int l = 0; l < 16; l++)
    n2 += part[l];
  return n2;
}

typedef struct {
  PackdKnnSearch *s;
  const float *queries, *bank, *bank_norms;
  int begin, end;
  float *min_dist2;
} SearchJob;

/* One block of queries against bank rows [begin, end). */
static void
search_task (gpointer data, int task, int thread)
{
  const SearchJob *j = data;
  PackdKnnSearch *s = j->s;
  const int dim = s->dim, q0 = task * KNN_QUERY_BLOCK;
  const int nq = MIN (KNN_QUERY_BLOCK, s->n_queries - q0);
  float *packed = s->packed_queries + (gsize) q0 * dim;   /* whole panels: q0 % 16 == 0 */
  float *col_min = s->col_min + q0;

  packd_gemm_pack_bt (j->queries + (gsize) q0 * dim, dim, nq, dim, packed);
  for (int q = 0; q < nq; q++)
    col_min[q] = INFINITY;
  packd_gemm_min_rows (j->begin, j->end, nq, dim, j->bank, dim, packed, j->bank_norms, col_min);
  for (int q = 0; q < nq; q++) {
    float d = col_min[q] + squared_norm (j->queries + (gsize) (q0 + q) * dim, dim);
    d = d > 0.f ? d : 0.f;
    j->min_dist2[q0 + q] = MIN (j->min_dist2[q0 + q], d);
  }
}

void
packd_knn_search_run (PackdKnnSearch *s, const float *queries, const float *bank,
    const float *bank_norms, int begin, int end, float *min_dist2)
{
  const int nq = s->n_queries, dim = s->dim;

  if (end <= begin)
    return;
  if (packd_simd_level () != PACKD_SIMD_GENERIC) {
    SearchJob j = { s, queries, bank, bank_norms, begin, end, min_dist2 };
    packd_threads_run (follow_default_pool (&s->pool, &s->pool_threads),
        (nq + KNN_QUERY_BLOCK - 1) / KNN_QUERY_BLOCK, search_task, &j);
    return;
  }

  for (int q = 0; q < nq; q++)
    s->query_norms[q] = squared_norm (queries + (gsize) q * dim, dim);
  for (int b0 = begin; b0 < end; b0 += s->chunk) {
    const int nb = MIN (s->chunk, end - b0);
    cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, nq, nb, dim,
        -2.0f, queries, dim, bank + (gsize) b0 * dim, dim, 0.0f, s->products, nb);
    for (int q = 0; q < nq; q++) {
      const float *row = s->products + (gsize) q * nb;
      const float *bn = bank_norms + b0;
      float best = min_dist2[q] - s->query_norms[q];
      for (int b = 0; b < nb; b++) {
        float d = row[b] + bn[b];
        best = d < best ? d : best;
      }
      best += s->query_norms[q];
      min_dist2[q] = best > 0.f ? best : 0.f;
    }
  }
}

/* ---- coreset ----------------------------------------------------------- */

#define CORESET_PROJ_DIMS 128
#define CORESET_SEED 0x5eedc0de    /* fixed: the same support images give the same bank */

static int
cmp_int (const void *a, const void *b)
{
  return (*(const int *) a > *(const int *) b) - (*(const int *) a < *(const int *) b);
}

gboolean
packd_knn_coreset_select (const float *bank, int rows, int dim, int n_select, int *selected,
    GError **error)
{
  const int d = MIN (dim, CORESET_PROJ_DIMS);
  float *proj = g_try_new (float, (gsize) dim * d);
  float *p = g_try_new (float, (gsize) rows * d);
  float *min_d = g_try_new (float, rows);
  guint8 *taken = g_try_new0 (guint8, rows);
  GRand *rng = g_rand_new_with_seed (CORESET_SEED);
  gboolean ok = proj && p && min_d && taken;
  int last;

  if (!ok) {
    g_rand_free (rng);
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_NO_MEMORY,
        "cannot allocate the coreset selection for %d positions", rows);
    goto out;
  }
  n_select = CLAMP (n_select, 1, rows);
  /* Johnson-Lindenstrauss: Gaussian entries, variance 1/d, preserve
   * distances well enough to pick far-apart points (as PatchCore). */
  for (gsize i = 0; i < (gsize) dim * d; i++) {
    double u1 = g_rand_double (rng), u2 = g_rand_double (rng);
    proj[i] = (float) (sqrt (-2.0 * log (1.0 - u1)) * cos (2 * G_PI * u2) / sqrt (d));
  }
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, d, dim, 1.0f, bank, dim, proj, d,
      0.0f, p, d);
  for (int i = 0; i < rows; i++)
    min_d[i] = INFINITY;
  last = g_rand_int_range (rng, 0, rows);
  for (int t = 0; t < n_select; t++) {
    const float *pl = p + (gsize) last * d;
    int next = -1;
    float far = -1.f;
    selected[t] = last;
    taken[last] = 1;
    min_d[last] = 0.f;
    /* Each point's distance to the chosen set; the farthest is next. */
    for (int i = 0; i < rows; i++) {
      const float *pi = p + (gsize) i * d;
      float dist = 0.f;
      for (int c = 0; c < d; c++)
        dist += (pi[c] - pl[c]) * (pi[c] - pl[c]);
      min_d[i] = MIN (min_d[i], dist);
      if (!taken[i] && min_d[i] > far) {
        far = min_d[i];
        next = i;
      }
    }
    if (next < 0)
      break;                    /* everything taken */
    last = next;
  }
  qsort (selected, n_select, sizeof (int), cmp_int);

  g_rand_free (rng);
out:
  g_free (proj);
  g_free (p);
  g_free (min_d);
  g_free (taken);
  return ok;
}

float
packd_anomaly_map_finish (const float *grid_map, int grid, int size, float *map,
    float *scratch_a, float *scratch_b)
{
  PackdTensor in, out;
  float peak;

  /* const view: the resize does not write its input */
  packd_tensor_init_nhwc (&in, 1, grid, grid, 1, (float *) grid_map);
  packd_tensor_init_nhwc (&out, 1, size, size, 1, scratch_a);
  packd_resize_bilinear_forward (&in, TRUE, &out);
  packd_gaussian_blur_forward (scratch_a, size, size, MAP_BLUR_SIGMA, MAP_BLUR_TRUNCATE, map,
      scratch_b);
  peak = map[0];
  for (gsize i = 1; i < (gsize) size * size; i++)
    peak = map[i] > peak ? map[i] : peak;
  return peak;
}
