/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "scorer-impl.h"
#include "scorer-packd.h"
#include "scorer-combined.h"
#include "packd-error.h"
#include "packd-layers.h"
#include "packd-safetensors.h"
#include "simd-impl.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#define DEFAULT_SIZE 256
/* method.md §2 / §8 and ../shared/ref/knn.py */
static const char *const default_knn_taps[] = {
  "block_3_expand_relu", "block_6_expand_relu", "block_13_expand_relu",
};

/* Calibration from good images only: each support image is scored against
 * the bank of the others (leave-one-out), as is a shifted crop of it
 * (camera jitter); packd_calibration_threshold() turns those scores into
 * the threshold.  The factors were chosen by measurement on every category
 * of ../shared/data (docs/results-knn.md, "Threshold calibration"). */
#define CALIB_SHIFT_FRACTION 0.03
#define CALIB_MEAN_FACTOR 1.15f
#define CALIB_MAX_MARGIN 1.1f         /* the first rule, kept as an option */

struct _PackdSupport {
  gint ref_count;
  int n_images;
  int rows_per_image;
  int dim;
  int n_rows;                   /* bank rows: all positions, or the coreset */
  int *image_begin;             /* n_images + 1: image i's rows start here */
  float *bank;                  /* n_rows x dim, grouped by image */
  float *bank_norms;
  float threshold;
  float *calibration_scores;    /* 2 per image when n_images >= 2 */
  int n_calibration;
  PackdPrototypes *prototypes;  /* method packd */
  PackdCombinedSupport *combined; /* method combined */
};

/* Everything one thread needs to score an image. */
typedef struct {
  PackdEmbedder *embedder;
  PackdKnnSearch *search;
  float *grid_map;              /* grid*grid, squared then plain distances */
  float *map;                   /* size*size, blurred */
  float *scratch_a, *scratch_b; /* size*size each */
} Workspace;

struct _PackdScorer {
  PackdMethod method;
  int size;
  int n_threads;
  float coreset_fraction;       /* 1: the exact bank */
  PackdMapReference map_reference; /* packd, combined */
  PackdTeacher *teacher;
  PackdSafetensors *model_st;   /* the model file, kept open for the teacher's views */
  char *taps[PACKD_KNN_MAX_TAPS];
  int n_taps;
  Workspace work;               /* used by score() only */
  GMutex lock;                  /* guards support */
  PackdSupport *support;
  PackdStudentScoring *student; /* method packd */
  PackdCombined *combined;      /* method combined */
};

const char *
packd_method_to_string (PackdMethod method)
{
  return method == PACKD_METHOD_PACKD ? "packd" : method == PACKD_METHOD_COMBINED ? "combined"
      : "knn";
}

gboolean
packd_method_from_string (const char *name, PackdMethod *method)
{
  if (g_strcmp0 (name, "knn") == 0)
    *method = PACKD_METHOD_KNN;
  else if (g_strcmp0 (name, "packd") == 0)
    *method = PACKD_METHOD_PACKD;
  else if (g_strcmp0 (name, "combined") == 0)
    *method = PACKD_METHOD_COMBINED;
  else
    return FALSE;
  return TRUE;
}

const char *
packd_map_reference_to_string (PackdMapReference reference)
{
  return reference == PACKD_MAP_REFERENCE_SUPPORT_MEAN ? "support-mean"
      : reference == PACKD_MAP_REFERENCE_SUPPORT_MAX ? "support-max" : "none";
}

gboolean
packd_map_reference_from_string (const char *name, PackdMapReference *reference)
{
  if (g_strcmp0 (name, "none") == 0)
    *reference = PACKD_MAP_REFERENCE_NONE;
  else if (g_strcmp0 (name, "support-mean") == 0)
    *reference = PACKD_MAP_REFERENCE_SUPPORT_MEAN;
  else if (g_strcmp0 (name, "support-max") == 0)
    *reference = PACKD_MAP_REFERENCE_SUPPORT_MAX;
  else
    return FALSE;
  return TRUE;
}

static void
workspace_clear (Workspace *w)
{
  packd_embedder_free (w->embedder);
  packd_knn_search_free (w->search);
  g_free (w->grid_map);
  g_free (w->map);
  g_free (w->scratch_a);
  g_free (w->scratch_b);
  memset (w, 0, sizeof (*w));
}

static gboolean
workspace_init (Workspace *w, PackdScorer *s, GError **error)
{
  const gsize map_floats = (gsize) s->size * s->size;

  memset (w, 0, sizeof (*w));
  w->embedder = packd_embedder_new (s->teacher, s->size, (const char *const *) s->taps,
      s->n_taps, error);
  if (w->embedder == NULL)
    return FALSE;
  w->search = packd_knn_search_new (w->embedder->grid * w->embedder->grid, w->embedder->dim, error);
  if (w->search == NULL)
    goto fail;
  w->grid_map = g_try_new (float, (gsize) w->embedder->grid * w->embedder->grid);
  w->map = g_try_new (float, map_floats);
  w->scratch_a = g_try_new (float, map_floats);
  w->scratch_b = g_try_new (float, map_floats);
  if (!w->grid_map || !w->map || !w->scratch_a || !w->scratch_b) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_NO_MEMORY, "cannot allocate scoring buffers");
    goto fail;
  }
  return TRUE;

fail:
  workspace_clear (w);
  return FALSE;
}

static gboolean
parse_taps (PackdScorer *s, const PackdSafetensors *st, GError **error)
{
  const char *meta = packd_safetensors_get_metadata (st, "packd.knn_taps");
  char **names = NULL;

  if (meta != NULL) {
    names = g_strsplit (meta, ",", -1);
    s->n_taps = g_strv_length (names);
    if (s->n_taps < 1 || s->n_taps > PACKD_KNN_MAX_TAPS) {
      g_set_error (error, PACKD_ERROR, PACKD_ERROR_MODEL,
          "packd.knn_taps lists %d taps (1 to %d allowed)", s->n_taps, PACKD_KNN_MAX_TAPS);
      g_strfreev (names);
      s->n_taps = 0;
      return FALSE;
    }
    for (int i = 0; i < s->n_taps; i++)
      s->taps[i] = g_strstrip (g_strdup (names[i]));
    g_strfreev (names);
  } else {
    s->n_taps = G_N_ELEMENTS (default_knn_taps);
    for (int i = 0; i < s->n_taps; i++)
      s->taps[i] = g_strdup (default_knn_taps[i]);
  }
  for (int i = 0; i < s->n_taps; i++) {
    int stride = packd_teacher_tap_stride (s->teacher, s->taps[i]);
    if (stride < 4 || stride > 32) {
      g_set_error (error, PACKD_ERROR, PACKD_ERROR_MODEL,
          "knn tap '%s' is not a spatial teacher layer between stride 4 and 32", s->taps[i]);
      return FALSE;
    }
  }
  return TRUE;
}

PackdScorer *
packd_scorer_new (const char *model_path, PackdMethod method, GError **error)
{
  PackdScorer *s;

  if (model_path == NULL || *model_path == '\0') {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_INVALID_ARGUMENT, "no model file given");
    return NULL;
  }
  if (method == PACKD_METHOD_PACKD) {
    s = g_new0 (PackdScorer, 1);
    g_mutex_init (&s->lock);
    s->method = method;
    s->student = packd_student_scoring_new (model_path, &s->size, error);
    if (s->student == NULL)
      goto fail;
    s->map_reference = packd_student_scoring_get_map_reference (s->student);
    return s;
  }
  if (method == PACKD_METHOD_COMBINED) {
    s = g_new0 (PackdScorer, 1);
    g_mutex_init (&s->lock);
    s->method = method;
    s->coreset_fraction = 1.f;
    s->combined = packd_combined_new (model_path, &s->size, &s->map_reference, error);
    if (s->combined == NULL)
      goto fail;
    return s;
  }

  s = g_new0 (PackdScorer, 1);
  g_mutex_init (&s->lock);
  s->method = method;
  s->size = DEFAULT_SIZE;
  s->n_threads = 0;
  s->coreset_fraction = 1.f;
  /* A PACKD model file embeds its teacher under "teacher.". */
  s->model_st = packd_safetensors_open (model_path, error);
  if (s->model_st == NULL)
    goto fail;
  s->teacher = packd_teacher_new (s->model_st,
      packd_safetensors_has (s->model_st, "teacher.Conv1.weight") ? "teacher." : "", error);
  if (s->teacher == NULL) {
    g_prefix_error (error, "%s: ", model_path);
    goto fail;
  }
  {
    /* Re-open for metadata only: the teacher keeps its own mapping. */
    PackdSafetensors *st = packd_safetensors_open (model_path, error);
    gboolean ok;
    if (st == NULL)
      goto fail;
    ok = parse_taps (s, st, error);
    packd_safetensors_free (st);
    if (!ok) {
      g_prefix_error (error, "%s: ", model_path);
      goto fail;
    }
  }
  if (!workspace_init (&s->work, s, error))
    goto fail;
  return s;

fail:
  packd_scorer_free (s);
  return NULL;
}

void
packd_scorer_free (PackdScorer *s)
{
  if (s == NULL)
    return;
  workspace_clear (&s->work);
  if (s->support)
    packd_support_unref (s->support);
  for (int i = 0; i < PACKD_KNN_MAX_TAPS; i++)
    g_free (s->taps[i]);
  packd_student_scoring_free (s->student);
  packd_combined_free (s->combined);
  packd_teacher_free (s->teacher);
  packd_safetensors_free (s->model_st);
  g_mutex_clear (&s->lock);
  g_free (s);
}

PackdMethod
packd_scorer_get_method (const PackdScorer *s)
{
  return s->method;
}

int
packd_scorer_get_input_size (const PackdScorer *s)
{
  return s->size;
}

void
packd_scorer_set_threads (PackdScorer *s, int n_threads)
{
  s->n_threads = MAX (n_threads, 1);
  /* The engine pool owns the cores: every kernel of the teacher, the
   * student and the knn search runs in it, and OpenBLAS threads next to it
   * would compete for the same cores.  Without SIMD kernels the OpenBLAS
   * calls are the parallel part instead.  Both counts are process-wide. */
  packd_threads_set_default (s->n_threads);
  openblas_set_num_threads (packd_simd_level () == PACKD_SIMD_GENERIC ? s->n_threads : 1);
}

void
packd_scorer_set_coreset_fraction (PackdScorer *s, float fraction)
{
  s->coreset_fraction = fraction > 0.f && fraction < 1.f ? fraction : 1.f;
}

float
packd_scorer_get_coreset_fraction (const PackdScorer *s)
{
  return s->coreset_fraction;
}

void
packd_scorer_set_map_reference (PackdScorer *s, PackdMapReference reference)
{
  s->map_reference = reference;
}

PackdMapReference
packd_scorer_get_map_reference (const PackdScorer *s)
{
  return s->map_reference;
}

static gboolean
image_check (const PackdImage *img, GError **error)
{
  int bpp = img->format == PACKD_PIXEL_RGB ? 3 : img->format == PACKD_PIXEL_GRAY ? 1 : 4;

  if (img->pixels == NULL || img->width < 1 || img->height < 1 || img->stride < img->width * bpp) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_INVALID_ARGUMENT,
        "invalid image (%dx%d, stride %d, %s)", img->width, img->height, img->stride,
        img->pixels ? "data" : "no data");
    return FALSE;
  }
  return TRUE;
}

static int
image_bytes_per_pixel (const PackdImage *img)
{
  return img->format == PACKD_PIXEL_RGB ? 3 : img->format == PACKD_PIXEL_GRAY ? 1 : 4;
}

/* Raw knn score of the embedding in w against bank rows outside
 * [skip_begin, skip_end); fills w->map. */
static float
score_embedding (Workspace *w, const PackdSupport *sup, int skip_begin, int skip_end, int size)
{
  const int nq = w->search->n_queries;
  const int rows = sup->n_rows;

  for (int q = 0; q < nq; q++)
    w->grid_map[q] = INFINITY;
  if (skip_begin > 0)
    packd_knn_search_run (w->search, w->embedder->embedding.data, sup->bank, sup->bank_norms,
        0, skip_begin, w->grid_map);
  if (skip_end < rows)
    packd_knn_search_run (w->search, w->embedder->embedding.data, sup->bank, sup->bank_norms,
        skip_end, rows, w->grid_map);
  for (int q = 0; q < nq; q++)
    w->grid_map[q] = sqrtf (w->grid_map[q]);
  return packd_anomaly_map_finish (w->grid_map, w->embedder->grid, size, w->map, w->scratch_a,
      w->scratch_b);
}

float
packd_calibration_threshold_rule (PackdCalibrationRule rule, const float *scores, int n)
{
  double sum = 0.0;
  float peak = 0.f;

  if (scores == NULL || n < 1)
    return 0.f;
  for (int i = 0; i < n; i++) {
    sum += scores[i];
    peak = MAX (peak, scores[i]);
  }
  if (rule == PACKD_CALIBRATION_MAX)
    return CALIB_MAX_MARGIN * peak;
  /* The mean, not the max: the leave-one-out scores come from a bank one
   * image short, so they already sit above what good test images score, and
   * the max of 2k of them climbs with k (measured: recall < 20 % at
   * 1.1 x max on most categories). */
  return CALIB_MEAN_FACTOR * (float) (sum / n);
}

float
packd_calibration_threshold (const float *scores, int n)
{
  return packd_calibration_threshold_rule (PACKD_CALIBRATION_MEAN, scores, n);
}

PackdImage
packd_calibration_shifted_crop (const PackdImage *img, gboolean at_least_one)
{
  int dx = (int) (img->width * CALIB_SHIFT_FRACTION);
  int dy = (int) (img->height * CALIB_SHIFT_FRACTION);
  PackdImage s = *img;

  if (at_least_one) {
    dx = MAX (1, dx);
    dy = MAX (1, dy);
  }
  /* a 1-pixel-wide or -high image cannot shift: stay inside it */
  dx = MIN (dx, img->width - 1);
  dy = MIN (dy, img->height - 1);
  s.pixels += (gsize) dy * img->stride + (gsize) dx * image_bytes_per_pixel (img);
  s.width = MAX (1, img->width - dx);
  s.height = MAX (1, img->height - dy);
  return s;
}

static void
support_calibrate (PackdSupport *sup, Workspace *w, const PackdImage *images, int size)
{
  sup->n_calibration = 0;
  if (sup->n_images < 2) {
    /* Nothing to leave out: a shifted crop against the image itself gives
     * a floor; doubled, since a held-out image scores higher. */
    PackdImage shifted = packd_calibration_shifted_crop (&images[0], TRUE);
    packd_embedder_run (w->embedder, &shifted);
    sup->calibration_scores[sup->n_calibration++] = 2.f * score_embedding (w, sup, 0, 0, size);
    sup->threshold = packd_calibration_threshold (sup->calibration_scores, sup->n_calibration);
    return;
  }
  for (int i = 0; i < sup->n_images; i++) {
    const int begin = sup->image_begin[i], end = sup->image_begin[i + 1];
    PackdImage shifted = packd_calibration_shifted_crop (&images[i], FALSE);

    packd_embedder_run (w->embedder, &images[i]);
    sup->calibration_scores[sup->n_calibration++] = score_embedding (w, sup, begin, end, size);
    packd_embedder_run (w->embedder, &shifted);
    sup->calibration_scores[sup->n_calibration++] = score_embedding (w, sup, begin, end, size);
  }
  sup->threshold = packd_calibration_threshold (sup->calibration_scores, sup->n_calibration);
}

/* Keeps a coreset of the bank (rows stay grouped by image, so leave-one-out
 * calibration still knows each image's rows). */
static gboolean
support_reduce (PackdSupport *sup, float fraction, GError **error)
{
  const int n_select = MAX (1, (int) ceilf (fraction * sup->n_rows));
  int *selected = g_try_new (int, n_select);

  if (selected == NULL || !packd_knn_coreset_select (sup->bank, sup->n_rows, sup->dim, n_select,
          selected, error)) {
    if (selected == NULL)
      g_set_error (error, PACKD_ERROR, PACKD_ERROR_NO_MEMORY, "cannot allocate the coreset");
    g_free (selected);
    return FALSE;
  }
  /* selected is ascending, so moving row selected[t] down to t is safe. */
  for (int i = 0; i <= sup->n_images; i++)
    sup->image_begin[i] = 0;
  for (int t = 0; t < n_select; t++) {
    memmove (sup->bank + (gsize) t * sup->dim, sup->bank + (gsize) selected[t] * sup->dim,
        sup->dim * sizeof (float));
    sup->bank_norms[t] = sup->bank_norms[selected[t]];
    sup->image_begin[selected[t] / sup->rows_per_image + 1]++;
  }
  for (int i = 0; i < sup->n_images; i++)
    sup->image_begin[i + 1] += sup->image_begin[i];
  sup->n_rows = n_select;
  g_free (selected);
  return TRUE;
}

PackdSupport *
packd_scorer_build_support (PackdScorer *s, const PackdImage *images, int n_images, GError **error)
{
  Workspace w;
  PackdSupport *sup;
  int rows;

  if (images == NULL || n_images < 1) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_INVALID_ARGUMENT,
        "a support set needs at least one image");
    return NULL;
  }
  for (int i = 0; i < n_images; i++)
    if (!image_check (&images[i], error)) {
      g_prefix_error (error, "support image %d: ", i + 1);
      return NULL;
    }
  if (s->student) {
    sup = g_new0 (PackdSupport, 1);
    sup->ref_count = 1;
    sup->n_images = n_images;
    sup->prototypes = packd_student_scoring_build_support (s->student, images, n_images,
        s->map_reference, &sup->threshold, error);
    if (sup->prototypes == NULL) {
      packd_support_unref (sup);
      return NULL;
    }
    return sup;
  }
  if (s->combined) {
    sup = g_new0 (PackdSupport, 1);
    sup->ref_count = 1;
    sup->n_images = n_images;
    sup->combined = packd_combined_build_support (s->combined, images, n_images,
        s->coreset_fraction, s->map_reference, &sup->threshold, error);
    if (sup->combined == NULL) {
      packd_support_unref (sup);
      return NULL;
    }
    return sup;
  }
  /* A workspace of its own: this may run while another thread scores. */
  if (!workspace_init (&w, s, error))
    return NULL;

  sup = g_new0 (PackdSupport, 1);
  sup->ref_count = 1;
  sup->n_images = n_images;
  sup->rows_per_image = w.embedder->grid * w.embedder->grid;
  sup->dim = w.embedder->dim;
  rows = n_images * sup->rows_per_image;
  sup->bank = g_try_new (float, (gsize) rows * sup->dim);
  sup->bank_norms = g_try_new (float, rows);
  sup->calibration_scores = g_new0 (float, 2 * n_images);
  sup->image_begin = g_new0 (int, n_images + 1);
  if (sup->bank == NULL || sup->bank_norms == NULL) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_NO_MEMORY,
        "cannot allocate a memory bank of %d positions", rows);
    packd_support_unref (sup);
    workspace_clear (&w);
    return NULL;
  }
  for (int i = 0; i < n_images; i++) {
    float *dst = sup->bank + (gsize) i * sup->rows_per_image * sup->dim;
    packd_embedder_run (w.embedder, &images[i]);
    memcpy (dst, w.embedder->embedding.data, (gsize) sup->rows_per_image * sup->dim * sizeof (float));
  }
  for (int r = 0; r < rows; r++) {
    const float *b = sup->bank + (gsize) r * sup->dim;
    float n2 = 0.f;
    for (int c = 0; c < sup->dim; c++)
      n2 += b[c] * b[c];
    sup->bank_norms[r] = n2;
  }
  sup->n_rows = rows;
  for (int i = 0; i <= n_images; i++)
    sup->image_begin[i] = i * sup->rows_per_image;
  if (s->coreset_fraction < 1.f && !support_reduce (sup, s->coreset_fraction, error)) {
    packd_support_unref (sup);
    workspace_clear (&w);
    return NULL;
  }
  support_calibrate (sup, &w, images, s->size);
  workspace_clear (&w);
  return sup;
}

PackdSupport *
packd_support_ref (PackdSupport *sup)
{
  g_atomic_int_inc (&sup->ref_count);
  return sup;
}

void
packd_support_unref (PackdSupport *sup)
{
  if (sup == NULL || !g_atomic_int_dec_and_test (&sup->ref_count))
    return;
  g_free (sup->bank);
  g_free (sup->bank_norms);
  g_free (sup->image_begin);
  g_free (sup->calibration_scores);
  packd_prototypes_free (sup->prototypes);
  packd_combined_support_free (sup->combined);
  g_free (sup);
}

int
packd_support_get_n_images (const PackdSupport *sup)
{
  return sup->n_images;
}

float
packd_support_get_threshold (const PackdSupport *sup)
{
  return sup->threshold;
}

const float *
packd_support_get_calibration_scores (const PackdSupport *sup, int *n)
{
  *n = sup->calibration_scores ? sup->n_calibration : 0;
  return *n ? sup->calibration_scores : NULL;
}

void
packd_scorer_set_support (PackdScorer *s, PackdSupport *support)
{
  PackdSupport *old;

  if (support)
    packd_support_ref (support);
  g_mutex_lock (&s->lock);
  old = s->support;
  s->support = support;
  g_mutex_unlock (&s->lock);
  if (old)
    packd_support_unref (old);
}

PackdSupport *
packd_scorer_get_support (PackdScorer *s)
{
  PackdSupport *sup;

  g_mutex_lock (&s->lock);
  sup = s->support ? packd_support_ref (s->support) : NULL;
  g_mutex_unlock (&s->lock);
  return sup;
}

gboolean
packd_scorer_score (PackdScorer *s, const PackdImage *image, PackdResult *result, GError **error)
{
  PackdSupport *sup;
  const float *map;

  if (!image_check (image, error))
    return FALSE;
  sup = packd_scorer_get_support (s);
  if (sup == NULL) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_NO_SUPPORT,
        "no support set: give good example images first");
    return FALSE;
  }
  if (s->student) {
    result->raw_score = packd_student_scoring_score (s->student, sup->prototypes, image, &map);
  } else if (s->combined) {
    if (!packd_combined_score (s->combined, sup->combined, image, &result->raw_score, &map,
            error)) {
      packd_support_unref (sup);
      return FALSE;
    }
  } else {
    packd_embedder_run (s->work.embedder, image);
    result->raw_score = score_embedding (&s->work, sup, 0, 0, s->size);
    map = s->work.map;
  }
  result->threshold = sup->threshold;
  result->score = packd_score_normalise (result->raw_score, sup->threshold);
  result->map = map;
  result->map_size = s->size;
  packd_support_unref (sup);
  return TRUE;
}

void
packd_result_resample_map (const PackdResult *result, float *out, int width, int height)
{
  PackdTensor in, o;

  packd_tensor_init_nhwc (&in, 1, result->map_size, result->map_size, 1, (float *) result->map);
  packd_tensor_init_nhwc (&o, 1, height, width, 1, out);
  packd_resize_bilinear_forward (&in, FALSE, &o);
}

float
packd_score_normalise (float raw_score, float threshold)
{
  /* Linear in the raw score, 0.5 at the threshold, clamped to [0, 1]. */
  float v = threshold > 0.f ? 0.5f * raw_score / threshold : (raw_score > 0.f ? 1.f : 0.f);
  return CLAMP (v, 0.f, 1.f);
}
