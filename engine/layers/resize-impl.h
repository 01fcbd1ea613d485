/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PACKD_LAYERS_RESIZE_IMPL_H
#define PACKD_LAYERS_RESIZE_IMPL_H

/* The bilinear source-coordinate rule, shared by the forward (resize.c) and
 * its adjoint (resize-backward.c) so the two cannot drift apart. */

#include <glib.h>
#include <math.h>

G_BEGIN_DECLS

typedef struct {
  int i0, i1;
  float w1;    /* weight of i1; i0 gets 1-w1 */
} PackdResizeTap;

/* The two source indices of output index o (of n_out) over n_in inputs.
 * Computed on the fly (cheap next to the channel loop): no allocation per call. */
static inline PackdResizeTap
packd_resize_tap (int o, int n_in, int n_out, gboolean align_corners)
{
  PackdResizeTap t;
  float src;

  if (align_corners)
    src = n_out > 1 ? (float) o * (float) (n_in - 1) / (float) (n_out - 1) : 0.f;
  else {
    src = ((float) o + 0.5f) * (float) n_in / (float) n_out - 0.5f;
    if (src < 0.f)
      src = 0.f;
  }
  t.i0 = MIN ((int) floorf (src), n_in - 1);
  t.i1 = MIN (t.i0 + 1, n_in - 1);
  t.w1 = src - (float) t.i0;
  return t;
}

G_END_DECLS

#endif
