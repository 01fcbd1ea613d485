/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Method packd's map reference: the map minus the per-pixel mean or max of
 * the support images' own leave-one-out maps.  With k = 2 the leave-one-out
 * map of image A is A scored against a support set of B alone, so the
 * reference can be rebuilt from plain scores and checked pixel by pixel.
 * A randomly initialised student is enough: only the algebra is tested.
 */
#include <check.h>
#include <math.h>
#include <string.h>

#include "packd-error.h"
#include "packd-safetensors.h"
#include "packd-scorer.h"
#include "packd-student.h"
#include "scorer-impl.h"
#include "test-util.h"

#define SIZE 64
#define PX (SIZE * SIZE)

static char *dir;
static char *model_none;        /* no "map_reference" in its description */
static char *model_max;         /* "map_reference": "support-max" */
static guint8 pixels[4][PX * 3];
static PackdImage img_a, img_b, img_c, query;

/* Smooth stripes with a per-image phase and noise, as good parts differ. */
static void
fill_image (guint8 *p, int phase, guint32 seed)
{
  GRand *rand = g_rand_new_with_seed (seed);
  for (int y = 0; y < SIZE; y++)
    for (int x = 0; x < SIZE; x++) {
      double v = 0.5 + 0.25 * sin ((x + phase) * 0.5) + 0.2 * cos ((y + 2 * phase) * 0.3);
      int g = CLAMP ((int) (v * 200) + g_rand_int_range (rand, -8, 9), 0, 255);
      guint8 *px = p + (y * SIZE + x) * 3;
      px[0] = g;
      px[1] = CLAMP (g - 30, 0, 255);
      px[2] = CLAMP (g + 20, 0, 255);
    }
  g_rand_free (rand);
}

static void
tiny_arch (PackdStudentArch *a)
{
  packd_student_arch_init_default (a);
  a->size = SIZE;
  a->ocbe_channels = 8;
  a->ocbe_hidden = 16;
  a->decoder_channels[0] = a->decoder_channels[1] = 8;
  a->decoder_channels[2] = 16;
  a->prototypes = 4;
}

/* A tiny random student on the test teacher.  member: NULL keeps the
 * description as written; else it replaces ',"map_reference":"none"' (""
 * drops the key, as in files written before it existed). */
static void
write_model (const char *path, PackdMapReference reference, const char *member)
{
  GError *err = NULL;
  PackdStudentArch a;
  PackdStudent *s;
  PackdSafetensors *teacher = packd_safetensors_open (packd_test_teacher_path (), &err);
  PackdSafetensorsWriter *w = packd_safetensors_writer_new ();

  ck_assert_msg (teacher != NULL, "%s", err ? err->message : "?");
  tiny_arch (&a);
  s = packd_student_new (&a, 7, &err);
  ck_assert_msg (s != NULL, "%s", err ? err->message : "?");
  /* as packd-train --map-reference does after training */
  packd_student_set_map_reference (s, reference);
  packd_model_write (w, teacher, "", s);
  if (member) {
    char *json = packd_student_arch_to_json (&a);
    char **parts = g_strsplit (json, ",\"map_reference\":\"none\"", 2);
    char *edited;
    ck_assert_int_eq (g_strv_length (parts), 2);
    edited = g_strjoinv (member, parts);
    packd_safetensors_writer_set_metadata (w, "packd.arch", edited);
    g_free (edited);
    g_strfreev (parts);
    g_free (json);
  }
  ck_assert (packd_safetensors_writer_save (w, path, &err));
  packd_safetensors_writer_free (w);
  packd_safetensors_free (teacher);
  packd_student_free (s);
  packd_student_arch_clear (&a);
}

static void
setup (void)
{
  dir = packd_test_make_tmp_dir ("mapref");
  model_none = g_build_filename (dir, "none.safetensors", NULL);
  model_max = g_build_filename (dir, "max.safetensors", NULL);
  write_model (model_none, PACKD_MAP_REFERENCE_NONE, "");
  write_model (model_max, PACKD_MAP_REFERENCE_SUPPORT_MAX, NULL);
  for (int i = 0; i < 4; i++)
    fill_image (pixels[i], 3 * i, 11 + i);
  img_a = (PackdImage) { pixels[0], SIZE, SIZE, SIZE * 3, PACKD_PIXEL_RGB };
  img_b = (PackdImage) { pixels[1], SIZE, SIZE, SIZE * 3, PACKD_PIXEL_RGB };
  img_c = (PackdImage) { pixels[2], SIZE, SIZE, SIZE * 3, PACKD_PIXEL_RGB };
  query = (PackdImage) { pixels[3], SIZE, SIZE, SIZE * 3, PACKD_PIXEL_RGB };
}

static void
teardown (void)
{
  packd_test_remove_tree (dir);
  g_clear_pointer (&dir, g_free);
  g_clear_pointer (&model_none, g_free);
  g_clear_pointer (&model_max, g_free);
}

/* Scores img against support (n images) with a new scorer; the map into
 * map (PX floats); returns the raw score, the threshold into *threshold. */
static float
score_map (const char *model, PackdMethod method, PackdMapReference reference,
    const PackdImage *support, int n, const PackdImage *img, float *map, float *threshold)
{
  GError *err = NULL;
  PackdScorer *scorer = packd_scorer_new (model, method, &err);
  PackdSupport *sup;
  PackdResult r;
  float raw;

  ck_assert_msg (scorer != NULL, "%s", err ? err->message : "?");
  packd_scorer_set_threads (scorer, 1);
  packd_scorer_set_map_reference (scorer, reference);
  ck_assert_int_eq (packd_scorer_get_map_reference (scorer), reference);
  sup = packd_scorer_build_support (scorer, support, n, &err);
  ck_assert_msg (sup != NULL, "%s", err ? err->message : "?");
  if (threshold)
    *threshold = packd_support_get_threshold (sup);
  packd_scorer_set_support (scorer, sup);
  packd_support_unref (sup);
  ck_assert (packd_scorer_score (scorer, img, &r, &err));
  /* knn works at its own size: its map is brought to the student's, as
   * combined does */
  if (method != PACKD_METHOD_KNN)
    ck_assert_int_eq (r.map_size, SIZE);
  if (r.map_size == SIZE)
    memcpy (map, r.map, sizeof (float) * PX);
  else
    packd_result_resample_map (&r, map, SIZE, SIZE);
  raw = r.raw_score;
  packd_scorer_free (scorer);
  return raw;
}

static float
map_max (const float *m)
{
  float peak = m[0];
  for (int i = 1; i < PX; i++)
    peak = MAX (peak, m[i]);
  return peak;
}

/* max over pixels of a - b */
static float
diff_max (const float *a, const float *b)
{
  float peak = a[0] - b[0];
  for (int i = 1; i < PX; i++)
    peak = MAX (peak, a[i] - b[i]);
  return peak;
}

static void
check_reference (PackdMapReference reference)
{
  const PackdImage ab[2] = { img_a, img_b };
  const PackdImage crop_a = packd_calibration_shifted_crop (&img_a, FALSE);
  const PackdImage crop_b = packd_calibration_shifted_crop (&img_b, FALSE);
  float *plain = g_new (float, PX), *ref = g_new (float, PX);
  float *loo_a = g_new (float, PX), *loo_b = g_new (float, PX);
  float *shift_a = g_new (float, PX), *shift_b = g_new (float, PX);
  float raw, threshold, differs = 0, calib[4];

  score_map (model_none, PACKD_METHOD_PACKD, PACKD_MAP_REFERENCE_NONE, ab, 2, &query, plain,
      NULL);
  raw = score_map (model_none, PACKD_METHOD_PACKD, reference, ab, 2, &query, ref, &threshold);
  /* leave-one-out maps of the two support images */
  score_map (model_none, PACKD_METHOD_PACKD, PACKD_MAP_REFERENCE_NONE, &img_b, 1, &img_a, loo_a,
      NULL);
  score_map (model_none, PACKD_METHOD_PACKD, PACKD_MAP_REFERENCE_NONE, &img_a, 1, &img_b, loo_b,
      NULL);
  /* and of their shifted crops, against the other image's prototypes */
  score_map (model_none, PACKD_METHOD_PACKD, PACKD_MAP_REFERENCE_NONE, &img_b, 1, &crop_a,
      shift_a, NULL);
  score_map (model_none, PACKD_METHOD_PACKD, PACKD_MAP_REFERENCE_NONE, &img_a, 1, &crop_b,
      shift_b, NULL);
  for (int i = 0; i < PX; i++) {
    float r = reference == PACKD_MAP_REFERENCE_SUPPORT_MAX ? MAX (loo_a[i], loo_b[i])
        : 0.5f * (loo_a[i] + loo_b[i]);
    float want = plain[i] - r;
    ck_assert_msg (fabsf (ref[i] - want) <= 1e-4f * (1.f + fabsf (plain[i])),
        "%s pixel %d: %g, want %g - %g", packd_map_reference_to_string (reference), i, ref[i],
        plain[i], r);
    differs = MAX (differs, fabsf (ref[i] - plain[i]));
  }
  /* the reference is not zero, and the score is the referenced map's max */
  ck_assert_float_gt (differs, 1e-3f);
  ck_assert_float_eq_tol (raw, map_max (ref), 1e-6f);
  ck_assert (isfinite (threshold));
  ck_assert_float_gt (threshold, 0);
  /* calibration: each support image (and its crop) against the reference
   * of the other one alone, i.e. its map */
  calib[0] = diff_max (loo_a, loo_b);
  calib[1] = diff_max (shift_a, loo_b);
  calib[2] = diff_max (loo_b, loo_a);
  calib[3] = diff_max (shift_b, loo_a);
  ck_assert_float_eq_tol (threshold, packd_calibration_threshold (calib, 4),
      1e-4f * (1.f + fabsf (threshold)));
  g_free (shift_a);
  g_free (shift_b);
  g_free (plain);
  g_free (ref);
  g_free (loo_a);
  g_free (loo_b);
}

START_TEST (test_support_mean)
{
  check_reference (PACKD_MAP_REFERENCE_SUPPORT_MEAN);
}
END_TEST

START_TEST (test_support_max)
{
  check_reference (PACKD_MAP_REFERENCE_SUPPORT_MAX);
}
END_TEST

/* k = 1 has no leave-one-out map: it scores as without a reference. */
START_TEST (test_single_support_image)
{
  float *plain = g_new (float, PX), *ref = g_new (float, PX);

  score_map (model_none, PACKD_METHOD_PACKD, PACKD_MAP_REFERENCE_NONE, &img_a, 1, &query, plain,
      NULL);
  score_map (model_none, PACKD_METHOD_PACKD, PACKD_MAP_REFERENCE_SUPPORT_MEAN, &img_a, 1, &query,
      ref, NULL);
  ck_assert_mem_eq (plain, ref, sizeof (float) * PX);
  g_free (plain);
  g_free (ref);
}
END_TEST

/* The model file gives the default; names round-trip; bad values fail. */
START_TEST (test_model_default)
{
  PackdMapReference r = PACKD_MAP_REFERENCE_NONE;
  PackdScorer *scorer;
  GError *err = NULL;

  for (int i = 0; i <= PACKD_MAP_REFERENCE_SUPPORT_MAX; i++) {
    ck_assert (packd_map_reference_from_string (packd_map_reference_to_string (i), &r));
    ck_assert_int_eq (r, i);
  }
  ck_assert (!packd_map_reference_from_string ("support-median", &r));
  ck_assert (!packd_map_reference_from_string (NULL, &r));

  scorer = packd_scorer_new (model_max, PACKD_METHOD_PACKD, &err);
  ck_assert_msg (scorer != NULL, "%s", err ? err->message : "?");
  ck_assert_int_eq (packd_scorer_get_map_reference (scorer), PACKD_MAP_REFERENCE_SUPPORT_MAX);
  packd_scorer_free (scorer);
  scorer = packd_scorer_new (model_max, PACKD_METHOD_COMBINED, &err);
  ck_assert_msg (scorer != NULL, "%s", err ? err->message : "?");
  ck_assert_int_eq (packd_scorer_get_map_reference (scorer), PACKD_MAP_REFERENCE_SUPPORT_MAX);
  packd_scorer_free (scorer);
  /* written without the key: none */
  scorer = packd_scorer_new (model_none, PACKD_METHOD_PACKD, &err);
  ck_assert_msg (scorer != NULL, "%s", err ? err->message : "?");
  ck_assert_int_eq (packd_scorer_get_map_reference (scorer), PACKD_MAP_REFERENCE_NONE);
  packd_scorer_free (scorer);
}
END_TEST

START_TEST (test_model_bad_value)
{
  const char *bad[] = { "\"support-median\"", "1", "null", "[]" };
  char *path = g_build_filename (dir, "bad.safetensors", NULL);

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    char *member = g_strconcat (",\"map_reference\":", bad[i], NULL);
    GError *err = NULL;
    PackdModel *m;

    write_model (path, PACKD_MAP_REFERENCE_NONE, member);
    m = packd_model_load (path, &err);
    ck_assert_msg (m == NULL, "loaded a description with %s", member);
    ck_assert (err != NULL && err->domain == PACKD_ERROR && err->code == PACKD_ERROR_MODEL);
    ck_assert_msg (strstr (err->message, "map_reference") != NULL, "%s", err->message);
    g_clear_error (&err);
    g_free (member);
  }
  g_free (path);
}
END_TEST

/* Combined normalises the referenced packd map by its own threshold. */
START_TEST (test_combined_uses_reference)
{
  const PackdImage abc[3] = { img_a, img_b, img_c };
  float *p = g_new (float, PX), *k = g_new (float, PX), *c = g_new (float, PX);
  float thr_p, thr_k, thr_c;

  score_map (model_none, PACKD_METHOD_PACKD, PACKD_MAP_REFERENCE_SUPPORT_MEAN, abc, 3, &query, p,
      &thr_p);
  score_map (model_none, PACKD_METHOD_KNN, PACKD_MAP_REFERENCE_NONE, abc, 3, &query, k, &thr_k);
  score_map (model_none, PACKD_METHOD_COMBINED, PACKD_MAP_REFERENCE_SUPPORT_MEAN, abc, 3, &query,
      c, &thr_c);
  for (int i = 0; i < PX; i++) {
    float want = p[i] / thr_p + k[i] / thr_k;
    ck_assert_msg (fabsf (c[i] - want) <= 1e-4f * (1.f + fabsf (want)), "pixel %d: %g vs %g", i,
        c[i], want);
  }
  g_free (p);
  g_free (k);
  g_free (c);
}
END_TEST

static Suite *
map_reference_suite (void)
{
  Suite *s = suite_create ("map-reference");
  TCase *tc = tcase_create ("core");

  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, test_support_mean);
  tcase_add_test (tc, test_support_max);
  tcase_add_test (tc, test_single_support_image);
  tcase_add_test (tc, test_model_default);
  tcase_add_test (tc, test_model_bad_value);
  tcase_add_test (tc, test_combined_uses_reference);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  return packd_test_run (map_reference_suite ());
}
