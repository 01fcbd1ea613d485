/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/* Method 'combined': a knn scorer and a packd scorer on the same model file
 * (the PACKD file embeds its teacher).  Each blurred map is divided by its
 * own calibrated threshold, so 1 means "at that method's threshold" in both,
 * and the two are summed; the image score is the max of the sum. */
#include "scorer-combined.h"
#include "packd-error.h"

#include <math.h>

/* Both methods calibrate by the same rule (packd_calibration_threshold) on
 * the same good images, so each normalised map is 1 at its own threshold;
 * the combined threshold is both at theirs. */
#define COMBINED_THRESHOLD 2.0f

struct _PackdCombined {
  PackdScorer *knn;
  PackdScorer *packd;
  int size;                     /* the student's; knn maps are resampled to it */
  float *map;                   /* size * size */
  float *knn_map;               /* size * size, knn's map at the student's size */
};

struct _PackdCombinedSupport {
  PackdSupport *knn;
  PackdSupport *packd;
};

PackdCombined *
packd_combined_new (const char *model_path, int *size, PackdMapReference *map_reference,
    GError **error)
{
  PackdCombined *c = g_new0 (PackdCombined, 1);

  c->packd = packd_scorer_new (model_path, PACKD_METHOD_PACKD, error);
  if (c->packd == NULL)
    goto fail;
  c->knn = packd_scorer_new (model_path, PACKD_METHOD_KNN, error);
  if (c->knn == NULL)
    goto fail;
  c->size = packd_scorer_get_input_size (c->packd);
  c->map = g_try_new (float, (gsize) c->size * c->size);
  c->knn_map = g_try_new (float, (gsize) c->size * c->size);
  if (c->map == NULL || c->knn_map == NULL) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_NO_MEMORY, "cannot allocate the combined map");
    goto fail;
  }
  *size = c->size;
  *map_reference = packd_scorer_get_map_reference (c->packd);
  return c;

fail:
  packd_combined_free (c);
  return NULL;
}

void
packd_combined_free (PackdCombined *c)
{
  if (c == NULL)
    return;
  packd_scorer_free (c->knn);
  packd_scorer_free (c->packd);
  g_free (c->map);
  g_free (c->knn_map);
  g_free (c);
}

void
packd_combined_support_free (PackdCombinedSupport *cs)
{
  if (cs == NULL)
    return;
  if (cs->knn)
    packd_support_unref (cs->knn);
  if (cs->packd)
    packd_support_unref (cs->packd);
  g_free (cs);
}

PackdCombinedSupport *
packd_combined_build_support (PackdCombined *c, const PackdImage *images, int n_images,
    float coreset_fraction, PackdMapReference map_reference, float *threshold, GError **error)
{
  PackdCombinedSupport *cs = g_new0 (PackdCombinedSupport, 1);

  packd_scorer_set_coreset_fraction (c->knn, coreset_fraction);
  packd_scorer_set_map_reference (c->packd, map_reference);
  cs->knn = packd_scorer_build_support (c->knn, images, n_images, error);
  if (cs->knn == NULL)
    goto fail;
  cs->packd = packd_scorer_build_support (c->packd, images, n_images, error);
  if (cs->packd == NULL)
    goto fail;
  if (!(packd_support_get_threshold (cs->knn) > 0.f)
      || !(packd_support_get_threshold (cs->packd) > 0.f)) {
    /* identical support images calibrate to 0: nothing to normalise by */
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_INVALID_ARGUMENT,
        "the support images calibrate to a zero threshold (knn %g, packd %g): "
        "give distinct good images", packd_support_get_threshold (cs->knn),
        packd_support_get_threshold (cs->packd));
    goto fail;
  }
  *threshold = COMBINED_THRESHOLD;
  return cs;

fail:
  packd_combined_support_free (cs);
  return NULL;
}

gboolean
packd_combined_score (PackdCombined *c, const PackdCombinedSupport *cs, const PackdImage *image,
    float *raw_score, const float **map, GError **error)
{
  const gsize px = (gsize) c->size * c->size;
  const float inv_knn = 1.f / packd_support_get_threshold (cs->knn);
  const float inv_packd = 1.f / packd_support_get_threshold (cs->packd);
  PackdResult r;
  const float *knn_map;
  gboolean ok;
  float peak;

  /* The sub-scorers are private to c and score() is not reentrant, so
   * their support is set for this frame only (no stale bank kept alive). */
  packd_scorer_set_support (c->packd, cs->packd);
  ok = packd_scorer_score (c->packd, image, &r, error);
  packd_scorer_set_support (c->packd, NULL);
  if (!ok)
    return FALSE;
  for (gsize i = 0; i < px; i++)
    c->map[i] = inv_packd * r.map[i];
  packd_scorer_set_support (c->knn, cs->knn);
  ok = packd_scorer_score (c->knn, image, &r, error);
  packd_scorer_set_support (c->knn, NULL);
  if (!ok)
    return FALSE;
  knn_map = r.map;
  if (r.map_size != c->size) {
    packd_result_resample_map (&r, c->knn_map, c->size, c->size);
    knn_map = c->knn_map;
  }
  peak = -INFINITY;
  for (gsize i = 0; i < px; i++) {
    c->map[i] += inv_knn * knn_map[i];
    peak = MAX (peak, c->map[i]);
  }
  *raw_score = peak;
  *map = c->map;
  return TRUE;
}
