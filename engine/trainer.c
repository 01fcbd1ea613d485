/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/* Episodic PACKD training (method.md §6): teacher feature caches, episode
 * sampling, the optimisation step and checkpoints with exact resume. */
#include "packd-trainer.h"
#include "packd-error.h"
#include "packd-dataset.h"
#include "scorer-impl.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define CACHE_MAGIC "PACKDFC1"
#define MAX_SHOTS 8

/* One memory-mapped cache file: n images, each the four teacher levels
 * back to back. */
typedef struct {
  char *path;
  GMappedFile *map;
  const float *data;
  int n_images;
} FeatureCache;

typedef struct {
  char magic[8];
  gint32 size, n_images;
  gint64 level_floats[PACKD_STUDENT_LEVELS];
  char taps[192];
} CacheHeader;

struct _PackdTrainer {
  PackdTrainerOptions opt;
  PackdSafetensors *teacher_st;
  char *teacher_prefix;
  PackdTeacher *teacher;
  PackdStudent *student;
  PackdStudentRun *run;
  PackdAdam *adam;
  int n_categories;
  char **names;
  FeatureCache *caches;
  int64_t level_floats[PACKD_STUDENT_LEVELS];
  int64_t image_floats;
  float *support[PACKD_STUDENT_LEVELS + 1];   /* per level: B * max_shots maps */
  int max_shots;
  int *pool;                                  /* candidate support indices */
  guint64 rng;
  int64_t step;
  char *tmp_dir;                              /* owned temporary cache dir */
};

void
packd_trainer_options_init (PackdTrainerOptions *o)
{
  memset (o, 0, sizeof (*o));
  packd_student_arch_init_default (&o->arch);
  o->batch = 8;
  o->shots[0] = 2;
  o->shots[1] = 4;
  o->shots[2] = 8;
  o->n_shots = 3;
  o->lr = PACKD_ADAM_LR;
  packd_loss_weights_init_default (&o->loss);
  o->cache_images = 0;
}

void
packd_trainer_options_clear (PackdTrainerOptions *o)
{
  packd_student_arch_clear (&o->arch);
}

/* splitmix64: one 64-bit state, trivially saved in a checkpoint. */
static guint64
rng_next (guint64 *state)
{
  guint64 z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static int
rng_below (guint64 *state, int n)
{
  return (int) (rng_next (state) % (guint64) n);
}

/* ---- teacher feature caches --------------------------------------------- */

static void
cache_header_fill (const PackdTrainer *t, int n_images, CacheHeader *h)
{
  const PackdStudentArch *a = packd_student_get_arch (t->student);
  memset (h, 0, sizeof (*h));
  memcpy (h->magic, CACHE_MAGIC, 8);
  h->size = a->size;
  h->n_images = n_images;
  for (int i = 0; i < PACKD_STUDENT_LEVELS; i++)
    h->level_floats[i] = t->level_floats[i];
  g_snprintf (h->taps, sizeof h->taps, "%s,%s,%s,%s|%s", a->taps[0], a->taps[1], a->taps[2],
      a->taps[3], t->opt.teacher_path ? t->opt.teacher_path : "");
}

static gboolean
cache_write (PackdTrainer *t, const PackdImageSource *src, int c, const guint *indices, int n,
    const char *path, GError **error)
{
  const PackdStudentArch *a = packd_student_get_arch (t->student);
  const char *taps[PACKD_STUDENT_LEVELS] = { a->taps[0], a->taps[1], a->taps[2], a->taps[3] };
  PackdTeacherRun *run = packd_teacher_run_new (t->teacher, a->size, a->size, taps,
      PACKD_STUDENT_LEVELS, error);
  char *tmp = g_strconcat (path, ".part", NULL);
  FILE *f = NULL;
  CacheHeader h;
  gboolean ok = FALSE;

  if (run == NULL)
    goto out;
  f = g_fopen (tmp, "wb");
  if (f == NULL) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_IO, "%s: %s", tmp, g_strerror (errno));
    goto out;
  }
  cache_header_fill (t, n, &h);
  fwrite (&h, sizeof h, 1, f);
  for (int i = 0; i < n; i++) {
    PackdImage img;
    if (!src->load (src->data, c, indices[i], &img, error))
      goto out;
    packd_image_to_input (&img, packd_teacher_run_input (run));
    if (src->release)
      src->release (src->data, &img);
    packd_teacher_run_forward (run);
    for (int L = 0; L < PACKD_STUDENT_LEVELS; L++) {
      const PackdTensor *tap = packd_teacher_run_tap (run, L);
      fwrite (tap->data, sizeof (float), packd_tensor_numel (tap), f);
    }
  }
  if (fflush (f) != 0 || ferror (f)) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_IO, "%s: write failed", tmp);
    goto out;
  }
  fclose (f);
  f = NULL;
  if (g_rename (tmp, path) != 0) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_IO, "%s: %s", path, g_strerror (errno));
    goto out;
  }
  ok = TRUE;
out:
  if (f)
    fclose (f);
  if (!ok)
    g_unlink (tmp);
  g_free (tmp);
  packd_teacher_run_free (run);
  return ok;
}

static gboolean
cache_open (PackdTrainer *t, int c, const PackdImageSource *src, GError **error)
{
  FeatureCache *fc = &t->caches[c];
  const int n_all = src->n_images[c];
  const int n = t->opt.cache_images > 0 ? MIN (t->opt.cache_images, n_all) : n_all;
  const char *dir = t->opt.cache_dir ? t->opt.cache_dir : t->tmp_dir;
  CacheHeader want;
  char *file;

  if (n < 2) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_INVALID_ARGUMENT,
        "category '%s' has %d images; training needs at least 2", src->names[c], n_all);
    return FALSE;
  }
  file = g_strdup_printf ("%s-%d-%d-s%" G_GUINT64_FORMAT ".features", src->names[c],
      packd_student_get_arch (t->student)->size, n, t->opt.seed);
  fc->path = g_build_filename (dir, file, NULL);
  g_free (file);
  fc->n_images = n;
  cache_header_fill (t, n, &want);
  for (int attempt = 0; attempt < 2; attempt++) {
    fc->map = g_mapped_file_new (fc->path, FALSE, NULL);
    if (fc->map && g_mapped_file_get_length (fc->map)
        == sizeof want + (gsize) n * t->image_floats * sizeof (float)
        && memcmp (g_mapped_file_get_contents (fc->map), &want, sizeof want) == 0) {
      fc->data = (const float *) (g_mapped_file_get_contents (fc->map) + sizeof want);
      return TRUE;
    }
    g_clear_pointer (&fc->map, g_mapped_file_unref);
    if (attempt == 0) {
      /* which images: a seeded draw, so a resumed run sees the same set */
      guint *idx = g_new (guint, n);
      gboolean ok = packd_sample_without_replacement (n_all, n, t->opt.seed + c, idx, error)
          && cache_write (t, src, c, idx, n, fc->path, error);
      g_free (idx);
      if (!ok)
        return FALSE;
    }
  }
  g_set_error (error, PACKD_ERROR, PACKD_ERROR_IO, "%s: feature cache unreadable", fc->path);
  return FALSE;
}

static const float *
cache_level (const PackdTrainer *t, int c, int image, int level)
{
  const float *p = t->caches[c].data + (int64_t) image * t->image_floats;
  for (int L = 1; L < level; L++)
    p += t->level_floats[L - 1];
  return p;
}

/* ---- setup ---------------------------------------------------------------- */

static gboolean
open_teacher (PackdTrainer *t, GError **error)
{
  t->teacher_st = packd_safetensors_open (t->opt.teacher_path, error);
  if (t->teacher_st == NULL)
    return FALSE;
  t->teacher_prefix = g_strdup (packd_safetensors_has (t->teacher_st, "teacher.Conv1.weight")
      ? "teacher." : "");
  t->teacher = packd_teacher_new (t->teacher_st, t->teacher_prefix, error);
  return t->teacher != NULL;
}

static char *
categories_string (const PackdImageSource *src)
{
  GString *s = g_string_new (NULL);
  for (int c = 0; c < src->n_categories; c++)
    g_string_append_printf (s, "%s%s", c ? "," : "", src->names[c]);
  return g_string_free (s, FALSE);
}

static gboolean
restore (PackdTrainer *t, const PackdImageSource *src, const char *path, GError **error)
{
  PackdSafetensors *st = packd_safetensors_open (path, error);
  const char *v;
  char *cats;
  guint64 u;
  gboolean ok = FALSE;

  if (st == NULL)
    return FALSE;
  t->student = packd_student_new_from_file (st, error);
  if (t->student == NULL)
    goto out;
  cats = categories_string (src);
  v = packd_safetensors_get_metadata (st, "trainer.categories");
  if (g_strcmp0 (v, cats) != 0) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_INVALID_ARGUMENT,
        "checkpoint was trained on categories '%s', not '%s'", v ? v : "?", cats);
    g_free (cats);
    goto out;
  }
  g_free (cats);
  v = packd_safetensors_get_metadata (st, "trainer.rng");
  if (v == NULL || !g_ascii_string_to_unsigned (v, 10, 0, G_MAXUINT64, &u, NULL)) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_FORMAT, "checkpoint: no trainer.rng");
    goto out;
  }
  t->rng = u;
  v = packd_safetensors_get_metadata (st, "trainer.step");
  if (v == NULL || !g_ascii_string_to_unsigned (v, 10, 0, G_MAXINT64, &u, NULL)) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_FORMAT, "checkpoint: no trainer.step");
    goto out;
  }
  t->step = (int64_t) u;
  t->adam = packd_adam_new (t->opt.lr, PACKD_ADAM_BETA1, PACKD_ADAM_BETA2, PACKD_ADAM_EPS);
  packd_student_register_params (t->student, t->adam);
  ok = packd_adam_load_state (t->adam, st, error);
out:
  if (!ok)
    g_prefix_error (error, "%s: ", path);
  packd_safetensors_free (st);
  return ok;
}

PackdTrainer *
packd_trainer_new (const PackdTrainerOptions *o, const PackdImageSource *src,
    const char *resume_path, GError **error)
{
  PackdTrainer *t = g_new0 (PackdTrainer, 1);
  const PackdStudentArch *a;
  int max_shots = 1;

  t->opt = *o;
  packd_student_arch_copy (&o->arch, &t->opt.arch);
  if (o->n_shots < 1 || o->n_shots > 8 || o->batch < 1 || o->batch > 64
      || src->n_categories < 1) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_INVALID_ARGUMENT,
        "training needs a batch in 1..64, 1..8 shot counts and at least one category");
    goto fail;
  }
  for (int i = 0; i < o->n_shots; i++) {
    if (o->shots[i] < 1 || o->shots[i] > MAX_SHOTS) {
      g_set_error (error, PACKD_ERROR, PACKD_ERROR_INVALID_ARGUMENT,
          "shots: %d is outside 1..%d", o->shots[i], MAX_SHOTS);
      goto fail;
    }
    max_shots = MAX (max_shots, o->shots[i]);
  }
  if (!open_teacher (t, error))
    goto fail;
  if (resume_path) {
    if (!restore (t, src, resume_path, error))
      goto fail;
  } else {
    t->student = packd_student_new (&o->arch, o->seed, error);
    if (t->student == NULL)
      goto fail;
    t->adam = packd_adam_new (o->lr, PACKD_ADAM_BETA1, PACKD_ADAM_BETA2, PACKD_ADAM_EPS);
    packd_student_register_params (t->student, t->adam);
    t->rng = o->seed ^ 0x5eedULL;
  }
  a = packd_student_get_arch (t->student);
  if (!packd_student_arch_check_teacher (a, t->teacher, error))
    goto fail;
  for (int L = 1; L <= PACKD_STUDENT_LEVELS; L++) {
    const int g = packd_student_arch_grid (a, L);
    t->level_floats[L - 1] = (int64_t) g * g * a->tap_channels[L - 1];
    t->image_floats += t->level_floats[L - 1];
  }
  if (o->cache_dir == NULL) {
    t->tmp_dir = g_dir_make_tmp ("packd-train-XXXXXX", NULL);
    if (t->tmp_dir == NULL) {
      g_set_error (error, PACKD_ERROR, PACKD_ERROR_IO, "cannot make a temporary cache directory");
      goto fail;
    }
  } else if (g_mkdir_with_parents (o->cache_dir, 0755) != 0) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_IO, "%s: %s", o->cache_dir, g_strerror (errno));
    goto fail;
  }
  t->n_categories = src->n_categories;
  t->names = g_new0 (char *, src->n_categories + 1);
  t->caches = g_new0 (FeatureCache, src->n_categories);
  for (int c = 0; c < src->n_categories; c++) {
    t->names[c] = g_strdup (src->names[c]);
    if (!cache_open (t, c, src, error))
      goto fail;
  }
  t->run = packd_student_run_new (t->student, o->batch, max_shots, TRUE, error);
  if (t->run == NULL)
    goto fail;
  t->max_shots = max_shots;
  {
    int most = 0;
    for (int c = 0; c < t->n_categories; c++)
      most = MAX (most, t->caches[c].n_images);
    t->pool = g_new (int, most);
  }
  for (int L = 2; L <= 4; L++)
    t->support[L] = g_new (float, (gsize) o->batch * max_shots * t->level_floats[L - 1]);
  return t;

fail:
  packd_trainer_free (t);
  return NULL;
}

void
packd_trainer_free (PackdTrainer *t)
{
  if (t == NULL)
    return;
  for (int c = 0; t->caches && c < t->n_categories; c++) {
    if (t->caches[c].map)
      g_mapped_file_unref (t->caches[c].map);
    if (t->tmp_dir && t->caches[c].path)
      g_unlink (t->caches[c].path);
    g_free (t->caches[c].path);
  }
  if (t->tmp_dir)
    g_rmdir (t->tmp_dir);
  g_free (t->tmp_dir);
  g_free (t->caches);
  g_free (t->pool);
  g_strfreev (t->names);
  for (int L = 2; L <= 4; L++)
    g_free (t->support[L]);
  packd_student_run_free (t->run);
  packd_adam_free (t->adam);
  packd_student_free (t->student);
  packd_teacher_free (t->teacher);
  packd_safetensors_free (t->teacher_st);
  g_free (t->teacher_prefix);
  packd_student_arch_clear (&t->opt.arch);
  g_free (t);
}

/* ---- episodes and steps --------------------------------------------------- */

/* Categories for the batch: each differs from its left neighbour, and the
 * last from the first (the roll wraps), whenever there are enough. */
static void
sample_categories (PackdTrainer *t, int *cat)
{
  const int B = t->opt.batch, n = t->n_categories;

  for (int b = 0; b < B; b++) {
    int c = rng_below (&t->rng, n);
    /* the wrap-around constraint is given up after 32 tries (two
     * categories and an odd batch cannot meet it) */
    for (int attempt = 0; attempt < 64 && n > 1; attempt++) {
      gboolean bad = (b > 0 && c == cat[b - 1]) || (b == B - 1 && B > 1 && c == cat[0]
          && attempt < 32);
      if (!bad)
        break;
      c = rng_below (&t->rng, n);
    }
    cat[b] = c;
  }
}

static void
sample_episode (PackdTrainer *t)
{
  const int B = t->opt.batch;
  int cat[64];
  int k = t->opt.shots[rng_below (&t->rng, t->opt.n_shots)];

  sample_categories (t, cat);
  for (int b = 0; b < B; b++) {
    const int n = t->caches[cat[b]].n_images;
    const int kb = MIN (k, n - 1);
    const int q = rng_below (&t->rng, n);
    int *pool = t->pool, n_pool = 0;

    /* the others, then a partial Fisher-Yates for kb of them */
    for (int i = 0; i < n; i++)
      if (i != q)
        pool[n_pool++] = i;
    for (int i = 0; i < kb; i++) {
      int j = i + rng_below (&t->rng, n_pool - i), tmp = pool[i];
      pool[i] = pool[j];
      pool[j] = tmp;
    }
    for (int L = 1; L <= 3; L++) {
      PackdTensor *dst = packd_student_run_teacher (t->run, L);
      memcpy (dst->data + b * t->level_floats[L - 1], cache_level (t, cat[b], q, L),
          t->level_floats[L - 1] * sizeof (float));
    }
    for (int L = 2; L <= 4; L++) {
      float *dst = t->support[L] + (int64_t) b * t->max_shots * t->level_floats[L - 1];
      for (int i = 0; i < kb; i++)
        memcpy (dst + i * t->level_floats[L - 1], cache_level (t, cat[b], pool[i], L),
            t->level_floats[L - 1] * sizeof (float));
      if (packd_student_get_arch (t->student)->peim)
        packd_student_run_set_support (t->run, b, L, dst, kb);
    }
  }
}

gboolean
packd_trainer_step (PackdTrainer *t, PackdLossTerms *terms, GError **error)
{
  PackdLossTerms local;
  const gboolean peim = packd_student_get_arch (t->student)->peim;

  sample_episode (t);
  packd_adam_zero_grad (t->adam);
  packd_student_run_forward (t->run, peim);
  packd_student_run_loss (t->run, &t->opt.loss, &local);
  if (!isfinite (local.total)) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_MODEL, "step %" G_GINT64_FORMAT
        ": the loss is not finite", t->step + 1);
    return FALSE;
  }
  packd_student_run_backward (t->run);
  packd_adam_step (t->adam);
  t->step++;
  if (terms)
    *terms = local;
  return TRUE;
}

int64_t
packd_trainer_get_step (const PackdTrainer *t)
{
  return t->step;
}

PackdStudent *
packd_trainer_get_student (PackdTrainer *t)
{
  return t->student;
}

static gboolean
save (PackdTrainer *t, const char *path, gboolean with_state, GError **error)
{
  PackdSafetensorsWriter *w = packd_safetensors_writer_new ();
  char buf[64];
  gboolean ok;

  packd_model_write (w, t->teacher_st, t->teacher_prefix, t->student);
  g_snprintf (buf, sizeof buf, "%" G_GINT64_FORMAT, (gint64) t->step);
  packd_safetensors_writer_set_metadata (w, "trainer.step", buf);
  g_snprintf (buf, sizeof buf, "%" G_GUINT64_FORMAT, t->opt.seed);
  packd_safetensors_writer_set_metadata (w, "trainer.seed", buf);
  {
    char *cats = g_strjoinv (",", t->names);
    packd_safetensors_writer_set_metadata (w, "trainer.categories", cats);
    g_free (cats);
  }
  if (with_state) {
    g_snprintf (buf, sizeof buf, "%" G_GUINT64_FORMAT, t->rng);
    packd_safetensors_writer_set_metadata (w, "trainer.rng", buf);
    packd_adam_save_state (t->adam, w);
  }
  ok = packd_safetensors_writer_save (w, path, error);
  packd_safetensors_writer_free (w);
  return ok;
}

gboolean
packd_trainer_save_checkpoint (PackdTrainer *t, const char *path, GError **error)
{
  return save (t, path, TRUE, error);
}

gboolean
packd_trainer_save_model (PackdTrainer *t, const char *path, GError **error)
{
  return save (t, path, FALSE, error);
}
