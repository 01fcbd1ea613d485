/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "naive-ref.h"

#include <math.h>

/* Offset of element [n,y,x,c] in a contiguous NHWC buffer. */
static inline int64_t
nhwc (int n, int y, int x, int c, int h, int w, int channels)
{
  return (((int64_t) n * h + y) * w + x) * channels + c;
}

double
naive_activate (double v, PackdActivation act)
{
  switch (act) {
    case PACKD_ACT_RELU:
      return v > 0 ? v : 0;
    case PACKD_ACT_RELU6:
      return v < 0 ? 0 : (v > 6 ? 6 : v);
    case PACKD_ACT_NONE:
    default:
      return v;
  }
}

void
naive_bias_act (const float *data, int rows, int channels, const float *bias,
    PackdActivation act, double *out)
{
  for (int r = 0; r < rows; r++)
    for (int c = 0; c < channels; c++) {
      double v = data[(int64_t) r * channels + c];
      if (bias)
        v += bias[c];
      out[(int64_t) r * channels + c] = naive_activate (v, act);
    }
}

void
naive_conv2d (const float *in, int n, int h, int w, int cin,
    const float *weight, int kh, int kw, int cout, const float *bias,
    int stride, int pad_top, int pad_left, PackdActivation act,
    int out_h, int out_w, double *out)
{
  for (int b = 0; b < n; b++)
    for (int oy = 0; oy < out_h; oy++)
      for (int ox = 0; ox < out_w; ox++)
        for (int o = 0; o < cout; o++) {
          double acc = bias ? bias[o] : 0.0;
          for (int ky = 0; ky < kh; ky++)
            for (int kx = 0; kx < kw; kx++)
              for (int c = 0; c < cin; c++) {
                int y = oy * stride - pad_top + ky;
                int x = ox * stride - pad_left + kx;
                if (y < 0 || y >= h || x < 0 || x >= w)
                  continue;
                double wv = weight[(((int64_t) ky * kw + kx) * cin + c) * cout + o];
                acc += in[nhwc (b, y, x, c, h, w, cin)] * wv;
              }
          out[nhwc (b, oy, ox, o, out_h, out_w, cout)] = naive_activate (acc, act);
        }
}

void
naive_depthwise (const float *in, int n, int h, int w, int c,
    const float *weight, int kh, int kw, const float *bias,
    int stride, int pad_top, int pad_left, PackdActivation act,
    int out_h, int out_w, double *out)
{
  for (int b = 0; b < n; b++)
    for (int oy = 0; oy < out_h; oy++)
      for (int ox = 0; ox < out_w; ox++)
        for (int ch = 0; ch < c; ch++) {
          double acc = bias ? bias[ch] : 0.0;
          for (int ky = 0; ky < kh; ky++)
            for (int kx = 0; kx < kw; kx++) {
              int y = oy * stride - pad_top + ky;
              int x = ox * stride - pad_left + kx;
              if (y < 0 || y >= h || x < 0 || x >= w)
                continue;
              acc += (double) in[nhwc (b, y, x, ch, h, w, c)]
                  * weight[((int64_t) ky * kw + kx) * c + ch];
            }
          out[nhwc (b, oy, ox, ch, out_h, out_w, c)] = naive_activate (acc, act);
        }
}

void
naive_deconv2x2 (const float *in, int n, int h, int w, int cin,
    const float *weight, int cout, const float *bias, PackdActivation act, double *out)
{
  for (int b = 0; b < n; b++)
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++)
        for (int i = 0; i < 2; i++)
          for (int j = 0; j < 2; j++)
            for (int o = 0; o < cout; o++) {
              double acc = bias ? bias[o] : 0.0;
              for (int c = 0; c < cin; c++)
                acc += (double) in[nhwc (b, y, x, c, h, w, cin)]
                    * weight[(((int64_t) c * 2 + i) * 2 + j) * cout + o];
              out[nhwc (b, 2 * y + i, 2 * x + j, o, 2 * h, 2 * w, cout)] =
                  naive_activate (acc, act);
            }
}

void
naive_dense (const float *in, int rows, int k, const float *weight, int m,
    const float *bias, PackdActivation act, double *out)
{
  for (int r = 0; r < rows; r++)
    for (int j = 0; j < m; j++) {
      double acc = bias ? bias[j] : 0.0;
      for (int i = 0; i < k; i++)
        acc += (double) in[(int64_t) r * k + i] * weight[(int64_t) i * m + j];
      out[(int64_t) r * m + j] = naive_activate (acc, act);
    }
}

void
naive_add (const float *a, const float *b, int64_t count, double *out)
{
  for (int64_t i = 0; i < count; i++)
    out[i] = (double) a[i] + b[i];
}

void
naive_concat_channels (const float *const *inputs, const int *channels, int n_inputs,
    int rows, double *out)
{
  int total = 0;
  for (int i = 0; i < n_inputs; i++)
    total += channels[i];
  for (int r = 0; r < rows; r++) {
    int o = 0;
    for (int i = 0; i < n_inputs; i++)
      for (int c = 0; c < channels[i]; c++, o++)
        out[(int64_t) r * total + o] = inputs[i][(int64_t) r * channels[i] + c];
  }
}

void
naive_softmax (const float *in, int rows, int n, double *out)
{
  for (int r = 0; r < rows; r++) {
    const float *x = in + (int64_t) r * n;
    double m = x[0], sum = 0;
    for (int i = 1; i < n; i++)
      if (x[i] > m)
        m = x[i];
    for (int i = 0; i < n; i++)
      sum += exp (x[i] - m);
    for (int i = 0; i < n; i++)
      out[(int64_t) r * n + i] = exp (x[i] - m) / sum;
  }
}

void
naive_global_avgpool (const float *in, int n, int h, int w, int c, double *out)
{
  for (int b = 0; b < n; b++)
    for (int ch = 0; ch < c; ch++) {
      double sum = 0;
      for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
          sum += in[nhwc (b, y, x, ch, h, w, c)];
      out[(int64_t) b * c + ch] = sum / ((double) h * w);
    }
}

void
naive_avgpool_same (const float *in, int n, int h, int w, int c, int kernel, double *out)
{
  const int r = kernel / 2;
  for (int b = 0; b < n; b++)
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++)
        for (int ch = 0; ch < c; ch++) {
          double sum = 0;
          for (int dy = -r; dy <= r; dy++)
            for (int dx = -r; dx <= r; dx++) {
              int yy = y + dy, xx = x + dx;
              if (yy >= 0 && yy < h && xx >= 0 && xx < w)
                sum += in[nhwc (b, yy, xx, ch, h, w, c)];
            }
          out[nhwc (b, y, x, ch, h, w, c)] = sum / ((double) kernel * kernel);
        }
}

double
naive_bilinear_source (int o, int n_in, int n_out, gboolean align_corners)
{
  double src;
  if (align_corners)
    src = n_out > 1 ? (double) o * (n_in - 1) / (n_out - 1) : 0.0;
  else
    src = MAX ((o + 0.5) * n_in / n_out - 0.5, 0.0);
  /* Past the last sample the interpolation holds the edge value. */
  return MIN (src, (double) (n_in - 1));
}

static inline double
tent (double t)
{
  return MAX (0.0, 1.0 - fabs (t));
}

void
naive_resize_bilinear (const float *in, int n, int h, int w, int c,
    int out_h, int out_w, gboolean align_corners, double *out)
{
  for (int b = 0; b < n; b++)
    for (int oy = 0; oy < out_h; oy++)
      for (int ox = 0; ox < out_w; ox++) {
        double sy = naive_bilinear_source (oy, h, out_h, align_corners);
        double sx = naive_bilinear_source (ox, w, out_w, align_corners);
        for (int ch = 0; ch < c; ch++) {
          double acc = 0;
          for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
              acc += tent (sy - y) * tent (sx - x) * in[nhwc (b, y, x, ch, h, w, c)];
          out[nhwc (b, oy, ox, ch, out_h, out_w, c)] = acc;
        }
      }
}

void
naive_resize_u8_to_rgb (const guint8 *pixels, int width, int height, int stride,
    int channels, const int channel_order[3], gboolean align_corners,
    int out_h, int out_w, double *out)
{
  for (int oy = 0; oy < out_h; oy++)
    for (int ox = 0; ox < out_w; ox++) {
      double sy = naive_bilinear_source (oy, height, out_h, align_corners);
      double sx = naive_bilinear_source (ox, width, out_w, align_corners);
      for (int ch = 0; ch < 3; ch++) {
        double acc = 0;
        for (int y = 0; y < height; y++)
          for (int x = 0; x < width; x++) {
            guint8 v = pixels[(gsize) y * stride + (gsize) x * channels + channel_order[ch]];
            acc += tent (sy - y) * tent (sx - x) * (v / 255.0);
          }
        out[((int64_t) oy * out_w + ox) * 3 + ch] = acc;
      }
    }
}

int
naive_gaussian_radius (double sigma, double truncate)
{
  return (int) (truncate * sigma + 0.5);
}

int
naive_reflect_index (int i, int n)
{
  /* Mirror across whichever edge was crossed until inside. */
  while (i < 0 || i >= n) {
    if (i < 0)
      i = -i - 1;
    else
      i = 2 * n - 1 - i;
  }
  return i;
}

void
naive_gaussian_blur (const float *in, int h, int w, double sigma, double truncate,
    double *out)
{
  const int r = naive_gaussian_radius (sigma, truncate);
  double norm = 0;

  for (int dy = -r; dy <= r; dy++)
    for (int dx = -r; dx <= r; dx++)
      norm += sigma > 0 ? exp (-(dx * dx + dy * dy) / (2 * sigma * sigma)) : 1.0;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      double acc = 0;
      for (int dy = -r; dy <= r; dy++)
        for (int dx = -r; dx <= r; dx++) {
          double g = sigma > 0 ? exp (-(dx * dx + dy * dy) / (2 * sigma * sigma)) : 1.0;
          int yy = naive_reflect_index (y + dy, h), xx = naive_reflect_index (x + dx, w);
          acc += g * in[(int64_t) yy * w + xx];
        }
      out[(int64_t) y * w + x] = acc / norm;
    }
}

void
naive_cosine_distance (const float *a, const float *b, int rows, int c, double eps,
    double *out)
{
  for (int r = 0; r < rows; r++) {
    double dot = 0, aa = 0, bb = 0;
    for (int i = 0; i < c; i++) {
      double x = a[(int64_t) r * c + i], y = b[(int64_t) r * c + i];
      dot += x * y;
      aa += x * x;
      bb += y * y;
    }
    out[r] = 1.0 - dot / MAX (sqrt (aa) * sqrt (bb), eps);
  }
}
