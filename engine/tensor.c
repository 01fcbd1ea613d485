/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "packd-tensor.h"

#include <stdio.h>
#include <string.h>

#define ARENA_ALIGN 64

struct _PackdArena {
  guint8 *base;
  gsize size;
  gsize used;
  gsize peak;
};

void
packd_tensor_init (PackdTensor *t, int ndim, const int64_t *shape, float *data)
{
  g_return_if_fail (ndim >= 1 && ndim <= PACKD_MAX_DIMS);
  memset (t, 0, sizeof (*t));
  t->ndim = ndim;
  int64_t s = 1;
  for (int i = ndim - 1; i >= 0; i--) {
    t->shape[i] = shape[i];
    t->stride[i] = s;
    s *= shape[i];
  }
  t->data = data;
}

void
packd_tensor_init_nhwc (PackdTensor *t, int64_t n, int64_t h, int64_t w, int64_t c, float *data)
{
  const int64_t shape[4] = { n, h, w, c };
  packd_tensor_init (t, 4, shape, data);
}

int64_t
packd_tensor_numel (const PackdTensor *t)
{
  int64_t n = 1;
  for (int i = 0; i < t->ndim; i++)
    n *= t->shape[i];
  return n;
}

gboolean
packd_tensor_is_contiguous (const PackdTensor *t)
{
  int64_t s = 1;
  for (int i = t->ndim - 1; i >= 0; i--) {
    if (t->shape[i] != 1 && t->stride[i] != s)
      return FALSE;
    s *= t->shape[i];
  }
  return TRUE;
}

gboolean
packd_tensor_same_shape (const PackdTensor *a, const PackdTensor *b)
{
  if (a->ndim != b->ndim)
    return FALSE;
  for (int i = 0; i < a->ndim; i++)
    if (a->shape[i] != b->shape[i])
      return FALSE;
  return TRUE;
}

const char *
packd_tensor_shape_string (const PackdTensor *t, char *buf, gsize len)
{
  gsize pos = 0;
  pos += g_snprintf (buf + pos, len - pos, "[");
  for (int i = 0; i < t->ndim && pos < len; i++)
    pos += g_snprintf (buf + pos, len - pos, i ? ",%" G_GINT64_FORMAT : "%" G_GINT64_FORMAT,
        (gint64) t->shape[i]);
  if (pos < len)
    g_snprintf (buf + pos, len - pos, "]");
  return buf;
}

PackdArena *
packd_arena_new (gsize bytes)
{
  PackdArena *a = g_new0 (PackdArena, 1);
  a->size = (bytes + ARENA_ALIGN - 1) & ~(gsize) (ARENA_ALIGN - 1);
  if (a->size > 0) {
    a->base = g_try_malloc (a->size + ARENA_ALIGN);
    if (a->base == NULL) {
      g_free (a);
      return NULL;
    }
  }
  return a;
}

void
packd_arena_free (PackdArena *arena)
{
  if (arena == NULL)
    return;
  g_free (arena->base);
  g_free (arena);
}

static guint8 *
arena_aligned_base (const PackdArena *a)
{
  return (guint8 *) (((guintptr) a->base + ARENA_ALIGN - 1) & ~(guintptr) (ARENA_ALIGN - 1));
}

float *
packd_arena_alloc (PackdArena *arena, int64_t n_floats)
{
  if (n_floats < 0)
    return NULL;
  gsize bytes = ((gsize) n_floats * sizeof (float) + ARENA_ALIGN - 1) & ~(gsize) (ARENA_ALIGN - 1);
  if (bytes > arena->size - arena->used)
    return NULL;
  float *p = (float *) (arena_aligned_base (arena) + arena->used);
  arena->used += bytes;
  if (arena->used > arena->peak)
    arena->peak = arena->used;
  return p;
}

gboolean
packd_arena_alloc_nhwc (PackdArena *arena, PackdTensor *t, int64_t n, int64_t h, int64_t w, int64_t c)
{
  float *p = packd_arena_alloc (arena, n * h * w * c);
  packd_tensor_init_nhwc (t, n, h, w, c, p);
  return p != NULL;
}

gsize
packd_arena_mark (const PackdArena *arena)
{
  return arena->used;
}

void
packd_arena_reset (PackdArena *arena, gsize mark)
{
  g_return_if_fail (mark <= arena->used);
  arena->used = mark;
}

gsize
packd_arena_used (const PackdArena *arena)
{
  return arena->used;
}

gsize
packd_arena_peak (const PackdArena *arena)
{
  return arena->peak;
}

gsize
packd_arena_size (const PackdArena *arena)
{
  return arena->size;
}
