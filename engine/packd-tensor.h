/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PACKD_TENSOR_H
#define PACKD_TENSOR_H

#include <glib.h>
#include <stdint.h>

G_BEGIN_DECLS

#define PACKD_MAX_DIMS 4

/* A float32 tensor view: shape + strides (in elements) + data.  The data is
 * owned elsewhere (an arena, a memory-mapped model file, a caller buffer).
 * Activations are NHWC: shape {N, H, W, C}, C contiguous.  Conv weights are
 * stored as they come from the model file (see packd-layers.h). */
typedef struct {
  int ndim;
  int64_t shape[PACKD_MAX_DIMS];
  int64_t stride[PACKD_MAX_DIMS];
  float *data;
} PackdTensor;

/* Fills shape and contiguous (row-major) strides; data untouched. */
void packd_tensor_init (PackdTensor *t, int ndim, const int64_t *shape, float *data);
/* Shorthand for a contiguous NHWC activation. */
void packd_tensor_init_nhwc (PackdTensor *t, int64_t n, int64_t h, int64_t w, int64_t c, float *data);
int64_t packd_tensor_numel (const PackdTensor *t);
gboolean packd_tensor_is_contiguous (const PackdTensor *t);
gboolean packd_tensor_same_shape (const PackdTensor *a, const PackdTensor *b);
/* "[1,64,64,144]" into buf; returns buf. */
const char *packd_tensor_shape_string (const PackdTensor *t, char *buf, gsize len);

/* A bump allocator.  Sized once (e.g. by a planning pass), then every
 * per-frame tensor comes from it: no malloc in the hot path.  Allocations are
 * 64-byte aligned. */
typedef struct _PackdArena PackdArena;

PackdArena *packd_arena_new (gsize bytes);
void packd_arena_free (PackdArena *arena);
/* NULL when full (callers turn that into PACKD_ERROR_NO_MEMORY). */
float *packd_arena_alloc (PackdArena *arena, int64_t n_floats);
gboolean packd_arena_alloc_nhwc (PackdArena *arena, PackdTensor *t, int64_t n, int64_t h, int64_t w, int64_t c);
/* Mark/reset lets a caller free everything allocated after the mark. */
gsize packd_arena_mark (const PackdArena *arena);
void packd_arena_reset (PackdArena *arena, gsize mark);
gsize packd_arena_used (const PackdArena *arena);
gsize packd_arena_peak (const PackdArena *arena);
gsize packd_arena_size (const PackdArena *arena);

G_END_DECLS

#endif /* PACKD_TENSOR_H */
