/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "packd-dataset.h"
#include "packd-error.h"
#include "packd-tensor.h"
#include "layers/resize.h"

#include <string.h>

static const char *const image_extensions[] = {
  ".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", NULL
};

static gboolean
is_image_name (const char *name)
{
  char *lower;
  gboolean ok = FALSE;

  if (name[0] == '.')           /* glob("*") skips hidden files */
    return FALSE;
  lower = g_ascii_strdown (name, -1);
  for (int i = 0; image_extensions[i] && !ok; i++)
    ok = g_str_has_suffix (lower, image_extensions[i]);
  g_free (lower);
  return ok;
}

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* Names in dir (files when want_dirs is FALSE: images only), byte order. */
static GPtrArray *
list_dir (const char *dir, gboolean want_dirs, GError **error)
{
  GDir *d = g_dir_open (dir, 0, error);
  GPtrArray *names;
  const char *name;

  if (!d)
    return NULL;
  names = g_ptr_array_new_with_free_func (g_free);
  while ((name = g_dir_read_name (d))) {
    char *full = g_build_filename (dir, name, NULL);
    gboolean is_dir = g_file_test (full, G_FILE_TEST_IS_DIR);

    if (want_dirs ? (is_dir && name[0] != '.') : (!is_dir && is_image_name (name)))
      g_ptr_array_add (names, g_strdup (name));
    g_free (full);
  }
  g_dir_close (d);
  g_ptr_array_sort (names, compare_strings);
  return names;
}

char **
packd_dataset_list_images (const char *dir, GError **error)
{
  GPtrArray *names = list_dir (dir, FALSE, error);
  char **paths;

  if (!names)
    return NULL;
  paths = g_new0 (char *, names->len + 1);
  for (guint i = 0; i < names->len; i++)
    paths[i] = g_build_filename (dir, names->pdata[i], NULL);
  g_ptr_array_unref (names);
  return paths;
}

static gboolean
require_dir (const char *path, const char *what, GError **error)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    return TRUE;
  g_set_error (error, PACKD_ERROR, PACKD_ERROR_IO,
      "%s: no %s folder (expected an MVTec-layout category)", path, what);
  return FALSE;
}

static void
test_item_clear (PackdTestItem *item)
{
  g_free (item->path);
  g_free (item->relpath);
  g_free (item->defect);
  g_free (item->mask_path);
}

void
packd_dataset_free (PackdDataset *ds)
{
  if (!ds)
    return;
  for (guint i = 0; i < ds->n_tests; i++)
    test_item_clear (&ds->tests[i]);
  g_free (ds->tests);
  g_strfreev (ds->train);
  g_free (ds->name);
  g_free (ds->root);
  g_free (ds);
}

static gboolean
scan_tests (PackdDataset *ds, const char *test_dir, GError **error)
{
  GPtrArray *defects = list_dir (test_dir, TRUE, error);
  GArray *items;

  if (!defects)
    return FALSE;
  items = g_array_new (FALSE, TRUE, sizeof (PackdTestItem));
  for (guint d = 0; d < defects->len; d++) {
    const char *defect = defects->pdata[d];
    char *dir = g_build_filename (test_dir, defect, NULL);
    GPtrArray *files = list_dir (dir, FALSE, error);

    g_free (dir);
    if (!files) {
      for (guint i = 0; i < items->len; i++)
        test_item_clear (&g_array_index (items, PackdTestItem, i));
      g_array_free (items, TRUE);
      g_ptr_array_unref (defects);
      return FALSE;
    }
    for (guint f = 0; f < files->len; f++) {
      const char *file = files->pdata[f];
      PackdTestItem item = { 0 };

      item.path = g_build_filename (ds->root, "test", defect, file, NULL);
      item.relpath = g_build_filename ("test", defect, file, NULL);
      item.defect = g_strdup (defect);
      item.defective = strcmp (defect, "good") != 0;
      if (item.defective) {
        const char *dot = strrchr (file, '.');
        char *stem = g_strndup (file, dot ? (gsize) (dot - file) : strlen (file));
        char *mask_name = g_strconcat (stem, "_mask.png", NULL);

        item.mask_path = g_build_filename (ds->root, "ground_truth", defect, mask_name, NULL);
        if (!g_file_test (item.mask_path, G_FILE_TEST_IS_REGULAR))
          g_clear_pointer (&item.mask_path, g_free);
        g_free (mask_name);
        g_free (stem);
        ds->n_defective++;
      }
      g_array_append_val (items, item);
    }
    g_ptr_array_unref (files);
  }
  g_ptr_array_unref (defects);
  ds->n_tests = items->len;
  ds->tests = (PackdTestItem *) g_array_free (items, FALSE);
  return TRUE;
}

PackdDataset *
packd_dataset_open (const char *category_dir, GError **error)
{
  PackdDataset *ds;
  char *train_dir, *test_dir, *gt_dir;
  GPtrArray *train = NULL;
  gboolean ok = FALSE;

  g_return_val_if_fail (category_dir != NULL, NULL);
  ds = g_new0 (PackdDataset, 1);
  ds->root = g_strdup (category_dir);
  /* Strip trailing separators so the name is the folder's own. */
  while (strlen (ds->root) > 1 && G_IS_DIR_SEPARATOR (ds->root[strlen (ds->root) - 1]))
    ds->root[strlen (ds->root) - 1] = '\0';
  ds->name = g_path_get_basename (ds->root);
  train_dir = g_build_filename (ds->root, "train", "good", NULL);
  test_dir = g_build_filename (ds->root, "test", NULL);
  gt_dir = g_build_filename (ds->root, "ground_truth", NULL);

  if (!require_dir (ds->root, "category", error) || !require_dir (train_dir, "train/good", error)
      || !require_dir (test_dir, "test", error))
    goto out;
  train = list_dir (train_dir, FALSE, error);
  if (!train)
    goto out;
  ds->n_train = train->len;
  ds->train = g_new0 (char *, train->len + 1);
  for (guint i = 0; i < train->len; i++)
    ds->train[i] = g_build_filename (train_dir, (const char *) train->pdata[i], NULL);
  ds->has_masks = g_file_test (gt_dir, G_FILE_TEST_IS_DIR);
  if (!scan_tests (ds, test_dir, error))
    goto out;
  if (ds->n_train == 0 || ds->n_tests == 0) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_IO, "%s: no images in %s", ds->root,
        ds->n_train == 0 ? "train/good" : "test/*");
    goto out;
  }
  ok = TRUE;

out:
  if (train)
    g_ptr_array_unref (train);
  g_free (train_dir);
  g_free (test_dir);
  g_free (gt_dir);
  if (!ok)
    g_clear_pointer (&ds, packd_dataset_free);
  return ds;
}

char **
packd_dataset_list_categories (const char *data_root, GError **error)
{
  GPtrArray *dirs = list_dir (data_root, TRUE, error);
  GPtrArray *out;

  if (!dirs)
    return NULL;
  out = g_ptr_array_new ();
  for (guint i = 0; i < dirs->len; i++) {
    char *train = g_build_filename (data_root, dirs->pdata[i], "train", "good", NULL);
    char *test = g_build_filename (data_root, dirs->pdata[i], "test", NULL);

    if (g_file_test (train, G_FILE_TEST_IS_DIR) && g_file_test (test, G_FILE_TEST_IS_DIR))
      g_ptr_array_add (out, g_strdup (dirs->pdata[i]));
    g_free (train);
    g_free (test);
  }
  g_ptr_array_unref (dirs);
  if (out->len == 0) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_IO,
        "%s: no category folders (with train/good and test) found", data_root);
    g_ptr_array_unref (out);
    return NULL;
  }
  g_ptr_array_add (out, NULL);
  return (char **) g_ptr_array_free (out, FALSE);
}

int
packd_dataset_find_train (const PackdDataset *ds, const char *name)
{
  for (guint i = 0; i < ds->n_train; i++) {
    const char *path = ds->train[i];
    const char *base = strrchr (path, G_DIR_SEPARATOR);
    const char *rel = path + strlen (ds->root);

    base = base ? base + 1 : path;
    while (G_IS_DIR_SEPARATOR (*rel))
      rel++;
    if (strcmp (name, base) == 0 || strcmp (name, rel) == 0 || strcmp (name, path) == 0)
      return i;
  }
  return -1;
}

/* numpy's Generator, only as far as choice(n, k, replace=False) needs it:
 * SeedSequence(seed) → 4 × 64-bit words → PCG64 (128-bit LCG, XSL-RR
 * output) → bounded integers by Lemire's method on 32-bit halves. */

#define SEED_INIT_A 0x43b0d7e5u
#define SEED_MULT_A 0x931e8875u
#define SEED_INIT_B 0x8b51f9ddu
#define SEED_MULT_B 0x58f38dedu
#define SEED_MIX_L 0xca01f9ddu
#define SEED_MIX_R 0x4973f715u
#define SEED_POOL 4

static guint32
seed_hashmix (guint32 value, guint32 *hash_const)
{
  value ^= *hash_const;
  *hash_const *= SEED_MULT_A;
  value *= *hash_const;
  value ^= value >> 16;
  return value;
}

static guint32
seed_mix (guint32 x, guint32 y)
{
  guint32 r = SEED_MIX_L * x - SEED_MIX_R * y;

  return r ^ (r >> 16);
}

static void
seed_sequence_state (guint64 seed, guint64 out[4])
{
  guint32 entropy[2], pool[SEED_POOL], hash_const = SEED_INIT_A, words[8];
  int n_entropy = 0;

  /* The seed as 32-bit words, lowest first; 0 is one word. */
  do {
    entropy[n_entropy++] = (guint32) seed;
    seed >>= 32;
  } while (seed);
  for (int i = 0; i < SEED_POOL; i++)
    pool[i] = seed_hashmix (i < n_entropy ? entropy[i] : 0, &hash_const);
  for (int src = 0; src < SEED_POOL; src++)
    for (int dst = 0; dst < SEED_POOL; dst++)
      if (src != dst)
        pool[dst] = seed_mix (pool[dst], seed_hashmix (pool[src], &hash_const));
  hash_const = SEED_INIT_B;
  for (int i = 0; i < 8; i++) {
    guint32 v = pool[i % SEED_POOL] ^ hash_const;

    hash_const *= SEED_MULT_B;
    v *= hash_const;
    words[i] = v ^ (v >> 16);
  }
  for (int i = 0; i < 4; i++)
    out[i] = (guint64) words[2 * i] | ((guint64) words[2 * i + 1] << 32);
}

typedef unsigned __int128 u128;

typedef struct {
  u128 state, inc;
  gboolean has_half;
  guint32 half;
} Pcg64;

static const u128 pcg_mult =
    ((u128) 0x2360ed051fc65da4ull << 64) | (u128) 0x4385df649fccf645ull;

static guint64
pcg64_next64 (Pcg64 *r)
{
  guint64 x;
  unsigned rot;

  r->state = r->state * pcg_mult + r->inc;
  x = (guint64) (r->state >> 64) ^ (guint64) r->state;
  rot = (unsigned) (r->state >> 122);
  return (x >> rot) | (x << ((64 - rot) & 63));
}

static guint32
pcg64_next32 (Pcg64 *r)
{
  guint64 v;

  if (r->has_half) {
    r->has_half = FALSE;
    return r->half;
  }
  v = pcg64_next64 (r);
  r->has_half = TRUE;
  r->half = (guint32) (v >> 32);
  return (guint32) v;
}

static void
pcg64_seed (Pcg64 *r, guint64 seed)
{
  guint64 s[4];

  seed_sequence_state (seed, s);
  memset (r, 0, sizeof *r);
  r->inc = ((((u128) s[2] << 64) | s[3]) << 1) | 1;
  pcg64_next64 (r);
  r->state += ((u128) s[0] << 64) | s[1];
  pcg64_next64 (r);
}

/* Uniform in [0, max], max < 2^32 - 1 (numpy's buffered_bounded_lemire_uint32). */
static guint32
pcg64_bounded (Pcg64 *r, guint32 max)
{
  guint32 range = max + 1, leftover;
  guint64 m;

  if (max == 0)
    return 0;
  m = (guint64) pcg64_next32 (r) * range;
  leftover = (guint32) m;
  if (leftover < range) {
    guint32 threshold = (G_MAXUINT32 - max) % range;

    while (leftover < threshold) {
      m = (guint64) pcg64_next32 (r) * range;
      leftover = (guint32) m;
    }
  }
  return (guint32) (m >> 32);
}

static int
compare_uint (gconstpointer a, gconstpointer b)
{
  guint x = *(const guint *) a, y = *(const guint *) b;

  return x < y ? -1 : x > y;
}

gboolean
packd_sample_without_replacement (guint n, guint k, guint64 seed, guint *indices,
    GError **error)
{
  Pcg64 rng;

  if (k == 0 || k > n || n >= G_MAXUINT32) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_INVALID_ARGUMENT,
        "cannot draw %u distinct items out of %u", k, n);
    return FALSE;
  }
  pcg64_seed (&rng, seed);
  if (n > 10000 && k > n / 50) {
    /* Tail shuffle: Fisher-Yates on the last k positions. */
    guint *perm = g_new (guint, n);

    for (guint i = 0; i < n; i++)
      perm[i] = i;
    for (guint i = n - 1; i >= MAX (n - k, 1); i--) {
      guint j = pcg64_bounded (&rng, i), t = perm[i];

      perm[i] = perm[j];
      perm[j] = t;
    }
    memcpy (indices, perm + (n - k), k * sizeof (guint));
    g_free (perm);
  } else {
    /* Floyd's algorithm: for j in [n-k, n) take a uniform value in [0, j],
     * or j itself when that value was already taken. */
    GHashTable *taken = g_hash_table_new (NULL, NULL);

    for (guint j = n - k; j < n; j++) {
      guint v = pcg64_bounded (&rng, j);

      if (g_hash_table_contains (taken, GUINT_TO_POINTER (v + 1)))
        v = j;
      g_hash_table_add (taken, GUINT_TO_POINTER (v + 1));
      indices[j - (n - k)] = v;
    }
    g_hash_table_unref (taken);
  }
  /* numpy then shuffles the draw; eval.py sorts it, and so do we. */
  qsort (indices, k, sizeof (guint), compare_uint);
  return TRUE;
}

gboolean
packd_dataset_sample_support (const PackdDataset *ds, guint k, guint64 seed, guint *indices,
    GError **error)
{
  if (k > ds->n_train) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_INVALID_ARGUMENT,
        "%s: %u support images requested, but train/good has only %u", ds->name, k,
        ds->n_train);
    return FALSE;
  }
  return packd_sample_without_replacement (ds->n_train, k, seed, indices, error);
}

void
packd_mask_resize_binary (const guint8 *src, int width, int height, int stride,
    int pixel_step, guint8 *out, int size)
{
  static const int first_byte[3] = { 0, 0, 0 };
  PackdTensor t;
  float *grey = g_new (float, (gsize) size * size * 3);

  /* The teacher's own align-corners resize, on the first byte of each pixel
   * (replicated to 3 channels): eval.py resizes masks "like the images", in
   * float64.  For 0/255 masks resized to 256 every value is a multiple of
   * 1/255, so a margin of 1e-3 above 127 absorbs float32 rounding (~1e-5)
   * and gives exactly eval.py's "> 127". */
  packd_tensor_init_nhwc (&t, 1, size, size, 3, grey);
  packd_resize_u8_to_rgb_forward (src, width, height, stride, pixel_step, first_byte, TRUE, &t);
  for (gsize p = 0; p < (gsize) size * size; p++)
    out[p] = grey[3 * p] * 255.0f > 127.001f;
  g_free (grey);
}
