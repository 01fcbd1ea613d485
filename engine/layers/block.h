/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PACKD_LAYERS_BLOCK_H
#define PACKD_LAYERS_BLOCK_H

#include "conv2d.h"

G_BEGIN_DECLS

/* A MobileNetV2 inverted residual block run as one layer:
 *   [expand + act] -> depthwise 3x3 (stride s) + act -> project 1x1 + act [+ input]
 * Output rows are computed a few at a time: the expanded rows they need go
 * into a small per-thread ring buffer, the depthwise rows into a second one,
 * and the projection writes the output rows directly, so the 6x wider
 * expanded tensor never goes to memory.  Bands of output rows are spread
 * over the pool (each band recomputes the 1-2 expanded rows it shares with
 * its neighbour).  Results equal the three layers run one by one. */
typedef struct {
  /* expand: weight NULL when the depthwise reads the block input directly;
   * usually 1x1, but any conv works (e.g. the network's 3x3/2 stem) */
  const PackdTensor *expand_weight;     /* [kh,kw,Cin,Ce] */
  const float *expand_packed;           /* packd_conv2d_pack_weight */
  const float *expand_bias;
  PackdConvParams expand;               /* geometry and activation */
  int expand_h, expand_w;               /* its output size (the depthwise's input) */
  PackdConvParams dw;                   /* 3x3 */
  const PackdTensor *dw_weight;         /* [3,3,Ce] */
  const float *dw_bias;
  const PackdTensor *project_weight;    /* [1,1,Ce,Co] */
  const float *project_packed;
  const float *project_bias;
  PackdActivation project_act;
  gboolean residual;                    /* out += in (stride 1, Co == Cin) */
} PackdBlockParams;

int64_t packd_block_scratch_floats (const PackdBlockParams *b, const PackdTensor *in,
    const PackdTensor *out, int n_threads);
/* in [N,H,W,Cin] -> out [N,Ho,Wo,Co]; scratch as sized above for at least
 * the pool's thread count; pool may be NULL. */
void packd_block_forward (const PackdBlockParams *b, const PackdTensor *in, PackdTensor *out,
    float *scratch, PackdThreads *pool);

G_END_DECLS

#endif
