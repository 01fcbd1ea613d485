/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/* Method 'packd': teacher -> student (with the support set's prototypes)
 * -> per-level 1 - cos maps -> upsampled, summed, blurred (method.md §7). */
#include "scorer-packd.h"
#include "scorer-impl.h"
#include "packd-error.h"
#include "packd-layers.h"
#include "packd-student.h"

#include <string.h>

/* Calibration as knn's in scorer.c: leave-one-out scores of the support
 * images and of shifted crops of them (packd_calibration_shifted_crop),
 * turned into the threshold by the rule the methods share
 * (packd_calibration_threshold). */

/* As knn.c's map: Gaussian sigma 4, truncate 4. */
#define MAP_BLUR_SIGMA 4.0f
#define MAP_BLUR_TRUNCATE 4.0f

struct _PackdPrototypes {
  float *levels[PACKD_STUDENT_LEVELS + 1];   /* [M, C_L], L = 2..4; NULL without PEIM */
  float *reference;             /* size*size, subtracted from every map; NULL: none */
};

typedef struct {
  PackdTeacherRun *teacher;
  int n_taps;
  PackdStudentRun *student;
  float *grid;                  /* level-1 grid (largest) */
  PackdTensor up;               /* [1, size, size, 1] */
  float *sum, *map, *scratch;   /* size*size each */
} Workspace;

struct _PackdStudentScoring {
  PackdModel *model;
  int size;
  Workspace work;
};

static void
workspace_clear (Workspace *w)
{
  packd_teacher_run_free (w->teacher);
  packd_student_run_free (w->student);
  g_free (w->grid);
  g_free (w->up.data);
  g_free (w->sum);
  g_free (w->map);
  g_free (w->scratch);
  memset (w, 0, sizeof (*w));
}

/* n_taps 3 (queries) or 4 (supports: F^T4 too) */
static gboolean
workspace_init (Workspace *w, PackdModel *m, int n_taps, GError **error)
{
  const PackdStudentArch *a = packd_student_get_arch (m->student);
  const char *taps[PACKD_STUDENT_LEVELS] = { a->taps[0], a->taps[1], a->taps[2], a->taps[3] };
  const gsize px = (gsize) a->size * a->size;
  const int g1 = packd_student_arch_grid (a, 1);

  memset (w, 0, sizeof (*w));
  w->n_taps = n_taps;
  w->teacher = packd_teacher_run_new (m->teacher, a->size, a->size, taps, n_taps, error);
  if (w->teacher == NULL)
    return FALSE;
  w->student = packd_student_run_new (m->student, 1, 1, FALSE, error);
  if (w->student == NULL)
    goto fail;
  w->grid = g_try_new (float, (gsize) g1 * g1);
  packd_tensor_init_nhwc (&w->up, 1, a->size, a->size, 1, g_try_new (float, px));
  w->sum = g_try_new (float, px);
  w->map = g_try_new (float, px);
  w->scratch = g_try_new (float, px);
  if (!w->grid || !w->up.data || !w->sum || !w->map || !w->scratch) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_NO_MEMORY, "cannot allocate scoring buffers");
    goto fail;
  }
  return TRUE;
fail:
  workspace_clear (w);
  return FALSE;
}

PackdStudentScoring *
packd_student_scoring_new (const char *model_path, int *size, GError **error)
{
  PackdStudentScoring *sc = g_new0 (PackdStudentScoring, 1);

  sc->model = packd_model_load (model_path, error);
  if (sc->model == NULL)
    goto fail;
  sc->size = packd_student_get_arch (sc->model->student)->size;
  if (!workspace_init (&sc->work, sc->model, 3, error))
    goto fail;
  *size = sc->size;
  return sc;
fail:
  packd_student_scoring_free (sc);
  return NULL;
}

void
packd_student_scoring_free (PackdStudentScoring *sc)
{
  if (sc == NULL)
    return;
  workspace_clear (&sc->work);
  packd_model_free (sc->model);
  g_free (sc);
}

void
packd_prototypes_free (PackdPrototypes *p)
{
  if (p == NULL)
    return;
  for (int L = 0; L <= PACKD_STUDENT_LEVELS; L++)
    g_free (p->levels[L]);
  g_free (p->reference);
  g_free (p);
}

/* Teacher on the image; levels 1..3 into the student's inputs. */
static void
run_teacher (Workspace *w, const PackdImage *image)
{
  packd_image_to_input (image, packd_teacher_run_input (w->teacher));
  packd_teacher_run_forward (w->teacher);
  for (int L = 1; L <= 3; L++) {
    const PackdTensor *tap = packd_teacher_run_tap (w->teacher, L - 1);
    PackdTensor *dst = packd_student_run_teacher (w->student, L);
    memcpy (dst->data, tap->data, packd_tensor_numel (tap) * sizeof (float));
  }
}

/* map -= reference (if any), in place; returns the max of the result. */
static float
map_subtract_peak (float *map, const float *reference, gsize px)
{
  float peak = -G_MAXFLOAT;

  if (reference)
    for (gsize i = 0; i < px; i++) {
      map[i] -= reference[i];
      peak = MAX (peak, map[i]);
    }
  else
    for (gsize i = 0; i < px; i++)
      peak = MAX (peak, map[i]);
  return peak;
}

/* Student forward on the inputs in w and the map, minus the reference if
 * any; returns its max. */
static float
score_loaded (Workspace *w, const PackdStudent *student, const PackdPrototypes *p,
    const float *reference)
{
  const PackdStudentArch *a = packd_student_get_arch (student);
  const gsize px = (gsize) a->size * a->size;

  if (a->peim)
    for (int L = 2; L <= 4; L++)
      packd_student_run_set_prototypes (w->student, 0, L, p->levels[L]);
  packd_student_run_forward (w->student, FALSE);
  memset (w->sum, 0, px * sizeof (float));
  for (int L = 1; L <= 3; L++) {
    const PackdTensor *t = packd_student_run_teacher (w->student, L);
    const PackdTensor *s = packd_student_run_student (w->student, L);
    PackdTensor grid;
    packd_tensor_init_nhwc (&grid, 1, t->shape[1], t->shape[2], 1, w->grid);
    packd_cosine_distance_forward (t, s, w->grid);
    packd_resize_bilinear_forward (&grid, TRUE, &w->up);
    for (gsize i = 0; i < px; i++)
      w->sum[i] += w->up.data[i];
  }
  packd_gaussian_blur_forward (w->sum, a->size, a->size, MAP_BLUR_SIGMA, MAP_BLUR_TRUNCATE,
      w->map, w->scratch);
  return map_subtract_peak (w->map, reference, px);
}

float
packd_student_scoring_score (PackdStudentScoring *sc, const PackdPrototypes *p,
    const PackdImage *image, const float **map)
{
  float peak;

  run_teacher (&sc->work, image);
  peak = score_loaded (&sc->work, sc->model->student, p, p->reference);
  *map = sc->work.map;
  return peak;
}

/* Prototypes from the support features of images [0, n) except skip. */
static PackdPrototypes *
prototypes_new (const PackdStudent *student, float *const *features, int n, int skip)
{
  const PackdStudentArch *a = packd_student_get_arch (student);
  PackdPrototypes *p = g_new0 (PackdPrototypes, 1);

  if (!a->peim)
    return p;
  for (int L = 2; L <= 4; L++) {
    const int g = packd_student_arch_grid (a, L);
    const gsize per = (gsize) g * g * a->tap_channels[L - 1];
    const int kept = skip >= 0 ? n - 1 : n;
    float *x = features[L];

    if (skip >= 0) {
      /* the others, contiguous */
      x = g_new (float, per * kept);
      for (int i = 0, j = 0; i < n; i++)
        if (i != skip)
          memcpy (x + per * j++, features[L] + per * i, per * sizeof (float));
    }
    p->levels[L] = g_new (float, (gsize) a->prototypes * a->tap_channels[L - 1]);
    packd_student_extract_prototypes (student, L, x, (int64_t) kept * g * g, p->levels[L]);
    if (x != features[L])
      g_free (x);
  }
  return p;
}

/* Per pixel, the mean or the max of n maps (px floats each) except map skip. */
static void
maps_reduce (const float *maps, gsize px, int n, int skip, PackdMapReference mode, float *out)
{
  const int kept = skip >= 0 ? n - 1 : n;
  gboolean first = TRUE;

  for (int j = 0; j < n; j++) {
    const float *m = maps + px * j;
    if (j == skip)
      continue;
    if (first)
      memcpy (out, m, px * sizeof (float));
    else if (mode == PACKD_MAP_REFERENCE_SUPPORT_MAX)
      for (gsize i = 0; i < px; i++)
        out[i] = MAX (out[i], m[i]);
    else
      for (gsize i = 0; i < px; i++)
        out[i] += m[i];
    first = FALSE;
  }
  if (mode == PACKD_MAP_REFERENCE_SUPPORT_MEAN && kept > 1)
    for (gsize i = 0; i < px; i++)
      out[i] /= kept;
}

/* n >= 2: calibration by leave-one-out, and the map reference if asked.
 * Per image its map against the other images' prototypes (its support map)
 * and that of a shifted crop (camera jitter); with a reference, each minus
 * the reduction of the other images' support maps only, since a new good
 * frame is not among the maps it is measured against.  result->reference
 * reduces all n support maps.  calib receives 2 n scores. */
static gboolean
calibrate_leave_one_out (Workspace *w, const PackdStudent *student, const PackdImage *images,
    float *const *features, int n, PackdMapReference mode, PackdPrototypes *result,
    float *calib, GError **error)
{
  const PackdStudentArch *a = packd_student_get_arch (student);
  const gsize px = (gsize) a->size * a->size;
  PackdPrototypes **others = g_new0 (PackdPrototypes *, n);
  float *maps = NULL, *ref_others = NULL;       /* with a reference only */
  gboolean ok = FALSE;

  if (mode != PACKD_MAP_REFERENCE_NONE) {
    maps = g_try_new (float, px * n);
    ref_others = g_try_new (float, px);
    result->reference = g_try_new (float, px);
    if (maps == NULL || ref_others == NULL || result->reference == NULL) {
      g_set_error (error, PACKD_ERROR, PACKD_ERROR_NO_MEMORY,
          "cannot allocate the support maps of %d images", n);
      goto out;
    }
  }
  for (int i = 0; i < n; i++) {
    others[i] = prototypes_new (student, features, n, i);
    run_teacher (w, &images[i]);
    calib[2 * i] = score_loaded (w, student, others[i], NULL);
    if (maps)
      memcpy (maps + px * i, w->map, px * sizeof (float));
  }
  if (maps)
    maps_reduce (maps, px, n, -1, mode, result->reference);
  for (int i = 0; i < n; i++) {
    PackdImage s = packd_calibration_shifted_crop (&images[i], FALSE);

    if (maps) {
      maps_reduce (maps, px, n, i, mode, ref_others);
      memcpy (w->map, maps + px * i, px * sizeof (float));
      calib[2 * i] = map_subtract_peak (w->map, ref_others, px);
    }
    run_teacher (w, &s);
    calib[2 * i + 1] = score_loaded (w, student, others[i], ref_others);
  }
  ok = TRUE;
out:
  for (int i = 0; i < n; i++)
    packd_prototypes_free (others[i]);
  g_free (others);
  g_free (maps);
  g_free (ref_others);
  return ok;
}

PackdMapReference
packd_student_scoring_get_map_reference (const PackdStudentScoring *sc)
{
  return packd_student_get_arch (sc->model->student)->map_reference;
}

PackdPrototypes *
packd_student_scoring_build_support (PackdStudentScoring *sc, const PackdImage *images,
    int n_images, PackdMapReference reference, float *threshold, GError **error)
{
  const PackdStudent *student = sc->model->student;
  const PackdStudentArch *a = packd_student_get_arch (student);
  float *features[PACKD_STUDENT_LEVELS + 1] = { NULL };
  PackdPrototypes *result = NULL;
  Workspace w;
  float *calib;
  int n_calib = 0;

  if (!workspace_init (&w, sc->model, 4, error))
    return NULL;
  calib = g_new (float, 2 * n_images);
  for (int L = 2; L <= 4; L++) {
    const int g = packd_student_arch_grid (a, L);
    features[L] = g_try_new (float, (gsize) n_images * g * g * a->tap_channels[L - 1]);
    if (features[L] == NULL) {
      g_set_error (error, PACKD_ERROR, PACKD_ERROR_NO_MEMORY,
          "cannot allocate the support features of %d images", n_images);
      goto out;
    }
  }
  for (int i = 0; i < n_images; i++) {
    packd_image_to_input (&images[i], packd_teacher_run_input (w.teacher));
    packd_teacher_run_forward (w.teacher);
    for (int L = 2; L <= 4; L++) {
      const PackdTensor *tap = packd_teacher_run_tap (w.teacher, L - 1);
      const int64_t n = packd_tensor_numel (tap);
      memcpy (features[L] + n * i, tap->data, n * sizeof (float));
    }
  }
  result = prototypes_new (student, features, n_images, -1);

  if (n_images < 2) {
    /* nothing to leave out: a shifted crop against its own prototypes,
     * doubled since a held-out image scores higher (as knn does) */
    PackdImage s = packd_calibration_shifted_crop (&images[0], TRUE);
    run_teacher (&w, &s);
    calib[n_calib++] = 2.f * score_loaded (&w, student, result, NULL);
  } else if (calibrate_leave_one_out (&w, student, images, features, n_images, reference,
          result, calib, error)) {
    n_calib = 2 * n_images;
  } else {
    g_clear_pointer (&result, packd_prototypes_free);
    goto out;
  }
  *threshold = packd_calibration_threshold (calib, n_calib);
out:
  g_free (calib);
  for (int L = 2; L <= 4; L++)
    g_free (features[L]);
  workspace_clear (&w);
  return result;
}
