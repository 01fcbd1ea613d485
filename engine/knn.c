/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "scorer-impl.h"
#include "packd-error.h"
#include "packd-layers.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#define KNN_BANK_CHUNK 2048     /* bank rows per sgemm: 1024 x 2048 floats = 8 MB */
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
  packd_teacher_run_free (e->run);
  packd_arena_free (e->arena);
  g_free (e);
}

void
packd_embedder_run (PackdEmbedder *e, const PackdImage *image)
{
  const PackdTensor *parts[PACKD_KNN_MAX_TAPS];

  packd_image_to_input (image, packd_teacher_run_input (e->run));
  packd_teacher_run_forward (e->run);
  for (int t = 0; t < e->n_taps; t++) {
    const PackdTensor *tap = packd_teacher_run_tap (e->run, t);
    packd_avgpool_same_forward (tap, 3, &e->pooled[t]);
    /* Half-pixel resampling (torch/anomalib default); a no-op copy at s8. */
    packd_resize_bilinear_forward (&e->pooled[t], FALSE, &e->resized[t]);
    parts[t] = &e->resized[t];
  }
  packd_concat_channels_forward (parts, e->n_taps, &e->embedding);
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
  if (s->query_norms == NULL || s->products == NULL) {
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
  g_free (s->query_norms);
  g_free (s->products);
  g_free (s);
}

void
packd_knn_search_run (PackdKnnSearch *s, const float *queries, const float *bank,
    const float *bank_norms, int begin, int end, float *min_dist2)
{
  const int nq = s->n_queries, dim = s->dim;

  for (int q = 0; q < nq; q++) {
    const float *x = queries + (gsize) q * dim;
    float n2 = 0.f;
    for (int c = 0; c < dim; c++)
      n2 += x[c] * x[c];
    s->query_norms[q] = n2;
  }
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
