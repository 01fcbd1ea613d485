/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PACKD_TESTS_NAIVE_REF_H
#define PACKD_TESTS_NAIVE_REF_H

/* Deliberately simple reference implementations of the engine's layer kinds,
 * written from the definitions in the layer headers (not from the optimised
 * code): plain loops, index arithmetic straight from the definition, double
 * accumulation, double outputs.  Inputs are float (what the engine sees);
 * activations are contiguous NHWC.  Shared by the layer tests, the SIMD
 * kernel tests and the backward-pass tests. */

#include <glib.h>

#include "packd-layers.h"

G_BEGIN_DECLS

double naive_activate (double v, PackdActivation act);

/* out[r,c] = act(data[r,c] + bias[c]); bias nullable. */
void naive_bias_act (const float *data, int rows, int channels, const float *bias,
    PackdActivation act, double *out);

/* out[n,oy,ox,o] = act(bias[o] + sum_{ky,kx,c} in[n, oy*s-pt+ky, ox*s-pl+kx, c]
 *                                             * w[ky,kx,c,o]),
 * input outside the image reads as zero.  weight HWIO [kh,kw,cin,cout]. */
void naive_conv2d (const float *in, int n, int h, int w, int cin,
    const float *weight, int kh, int kw, int cout, const float *bias,
    int stride, int pad_top, int pad_left, PackdActivation act,
    int out_h, int out_w, double *out);

/* As naive_conv2d with one filter per channel: weight [kh,kw,c]. */
void naive_depthwise (const float *in, int n, int h, int w, int c,
    const float *weight, int kh, int kw, const float *bias,
    int stride, int pad_top, int pad_left, PackdActivation act,
    int out_h, int out_w, double *out);

/* out[n,2y+i,2x+j,o] = act(bias[o] + sum_c in[n,y,x,c] * w[c,i,j,o]);
 * out [n,2h,2w,cout]. */
void naive_deconv2x2 (const float *in, int n, int h, int w, int cin,
    const float *weight, int cout, const float *bias, PackdActivation act, double *out);

/* out[r,m] = act(bias[m] + sum_k in[r,k] * w[k,m]). */
void naive_dense (const float *in, int rows, int k, const float *weight, int m,
    const float *bias, PackdActivation act, double *out);

void naive_add (const float *a, const float *b, int64_t count, double *out);

/* Inputs i of shape [rows, channels[i]] side by side into [rows, sum]. */
void naive_concat_channels (const float *const *inputs, const int *channels, int n_inputs,
    int rows, double *out);

/* out[r,i] = exp(x[r,i]) / sum_j exp(x[r,j]) (shifted by the row max). */
void naive_softmax (const float *in, int rows, int n, double *out);

/* out[n,c] = mean over y,x of in[n,y,x,c]. */
void naive_global_avgpool (const float *in, int n, int h, int w, int c, double *out);

/* k x k window centred on each pixel, zeros outside, divided by k*k. */
void naive_avgpool_same (const float *in, int n, int h, int w, int c, int kernel, double *out);

/* Source coordinate of output index o along one axis (see resize.h). */
double naive_bilinear_source (int o, int n_in, int n_out, gboolean align_corners);

/* Bilinear resize as a tent-filter sum: out = sum_{i,j} tri(sy-i) tri(sx-j) in[i,j]
 * with tri(t) = max(0, 1-|t|) and the source coordinate clamped to [0, n-1]. */
void naive_resize_bilinear (const float *in, int n, int h, int w, int c,
    int out_h, int out_w, gboolean align_corners, double *out);

/* The same on 8-bit interleaved pixels: out [out_h,out_w,3] RGB in [0,1]
 * where channel ch is byte channel_order[ch] of each pixel. */
void naive_resize_u8_to_rgb (const guint8 *pixels, int width, int height, int stride,
    int channels, const int channel_order[3], gboolean align_corners,
    int out_h, int out_w, double *out);

/* scipy.ndimage: radius = int(truncate*sigma + 0.5). */
int naive_gaussian_radius (double sigma, double truncate);
/* 'reflect' boundary (d c b a | a b c d | d c b a), repeated as often as
 * needed for windows wider than the signal. */
int naive_reflect_index (int i, int n);
/* Direct 2-D convolution with the normalised (2r+1)^2 Gaussian window. */
void naive_gaussian_blur (const float *in, int h, int w, double sigma, double truncate,
    double *out);

/* out[r] = 1 - a.b / max(|a||b|, eps) over the c channels of row r. */
void naive_cosine_distance (const float *a, const float *b, int rows, int c, double eps,
    double *out);

G_END_DECLS

#endif
