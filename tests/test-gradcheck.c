/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/* Gradient checks of every backward pass against central finite
 * differences of the float forward (gradcheck-util.h), on small random
 * shapes with odd sizes, plus the conventions: grad_in overwritten (it
 * starts as NaN), parameter gradients accumulated onto a random start,
 * NULL grad_in skipped without changing the parameter gradients.  PEIM's
 * attention pieces are in gradcheck-attention.c, the losses in
 * gradcheck-losses.c. */
#include <math.h>
#include <string.h>

#include "gradcheck-util.h"
#include "test-util.h"

static const PackdActivation acts[] = { PACKD_ACT_NONE, PACKD_ACT_RELU, PACKD_ACT_RELU6 };

#define PICK(rng, set) ((set)[g_rand_int_range ((rng), 0, G_N_ELEMENTS (set))])
#define RANGE(rng, lo, hi) g_rand_int_range ((rng), (lo), (hi) + 1)

/* ------------------------------------------------- parametrised layers */

typedef struct _Layer Layer;
struct _Layer {
  PackdConvParams p;            /* geometry for conv/depthwise; act for all */
  PackdTensor in, w, out;
  float *bias;                  /* nullable */
  float *r;                     /* L = sum r * out */
  float *scratch;
  void (*forward) (Layer *l);
  void (*backward) (Layer *l, PackdTensor *grad_out, PackdTensor *grad_in, float *gw, float *gb);
};

static double
layer_loss (gpointer data, guint64 *pattern)
{
  Layer *l = data;
  const int64_t n = packd_tensor_numel (&l->out);
  l->forward (l);
  *pattern = gc_act_pattern (l->out.data, n, l->p.act);
  return gc_dot (l->r, l->out.data, n);
}

static void
check_layer (Layer *l, GRand *rng, const char *what)
{
  const int64_t n_in = packd_tensor_numel (&l->in), n_w = packd_tensor_numel (&l->w);
  const int64_t n_out = packd_tensor_numel (&l->out), n_b = l->out.shape[l->out.ndim - 1];
  g_autofree float *go_data = g_memdup2 (l->r, n_out * sizeof (float));
  g_autofree float *go2_data = g_memdup2 (l->r, n_out * sizeof (float));
  g_autofree float *gi_data = gc_nans (n_in);
  g_autofree float *gw0 = packd_test_random_floats (rng, n_w, -1, 1);
  g_autofree float *gb0 = packd_test_random_floats (rng, n_b, -1, 1);
  g_autofree float *gw = g_memdup2 (gw0, n_w * sizeof (float));
  g_autofree float *gb = g_memdup2 (gb0, n_b * sizeof (float));
  g_autofree float *gw_only = g_new0 (float, n_w);
  PackdTensor go = l->out, go2 = l->out, gi = l->in;
  char label[300];

  go.data = go_data;
  go2.data = go2_data;
  gi.data = gi_data;
  l->forward (l);
  l->backward (l, &go, &gi, gw, l->bias ? gb : NULL);
  /* Without grad_in (first layer) the weight gradient is the same. */
  l->backward (l, &go2, NULL, gw_only, NULL);

  g_autofree float *dw = gc_accumulated (gw, gw0, n_w, 1.f);
  g_autofree float *db = gc_accumulated (gb, gb0, n_b, 1.f);
  g_snprintf (label, sizeof label, "%s: weights without grad_in", what);
  gc_assert_same (label, gw_only, dw, n_w, 1e-5);
  g_snprintf (label, sizeof label, "%s: d/d input", what);
  gc_check_float (label, layer_loss, l, l->in.data, n_in, gi_data, &gc_float_tol);
  g_snprintf (label, sizeof label, "%s: d/d weight", what);
  gc_check_float (label, layer_loss, l, l->w.data, n_w, dw, &gc_float_tol);
  if (l->bias) {
    g_snprintf (label, sizeof label, "%s: d/d bias", what);
    gc_check_float (label, layer_loss, l, l->bias, n_b, db, &gc_float_tol);
  }
}

static void
layer_alloc (Layer *l, GRand *rng, gboolean bias, int64_t scratch)
{
  const int64_t n_out = packd_tensor_numel (&l->out);
  l->in.data = packd_test_random_floats (rng, packd_tensor_numel (&l->in), -2, 2);
  l->w.data = packd_test_random_floats (rng, packd_tensor_numel (&l->w), -1, 1);
  l->bias = bias ? packd_test_random_floats (rng, l->out.shape[l->out.ndim - 1], -1, 1) : NULL;
  l->out.data = g_new (float, n_out);
  l->r = packd_test_random_floats (rng, n_out, -1, 1);
  l->scratch = scratch > 0 ? g_new (float, scratch) : NULL;
}

static void
layer_clear (Layer *l)
{
  g_free (l->in.data);
  g_free (l->w.data);
  g_free (l->bias);
  g_free (l->out.data);
  g_free (l->r);
  g_free (l->scratch);
}

/* conv2d */

static void
conv_forward (Layer *l)
{
  packd_conv2d_forward (&l->p, &l->in, &l->w, l->bias, &l->out, l->scratch);
}

static void
conv_backward (Layer *l, PackdTensor *go, PackdTensor *gi, float *gw, float *gb)
{
  packd_conv2d_backward (&l->p, &l->in, &l->w, &l->out, go, gi, gw, gb, l->scratch);
}

/* Random geometry: SAME padding, or explicit pads with the output size the
 * floor formula gives (it then may read past the input on the far side). */
static void
random_geometry (GRand *rng, PackdConvParams *p, int k, int stride, int h, int w,
    int *out_h, int *out_w)
{
  if (g_rand_boolean (rng)) {
    packd_conv_params_same (p, k, stride, h, w, p->act, out_h, out_w);
    return;
  }
  p->kernel_h = p->kernel_w = k;
  p->stride = stride;
  p->pad_top = RANGE (rng, 0, k - 1);
  p->pad_left = RANGE (rng, 0, k - 1);
  int pad_bottom = RANGE (rng, 0, k - 1), pad_right = RANGE (rng, 0, k - 1);
  pad_bottom = MAX (pad_bottom, k - h - p->pad_top);
  pad_right = MAX (pad_right, k - w - p->pad_left);
  *out_h = (h + p->pad_top + pad_bottom - k) / stride + 1;
  *out_w = (w + p->pad_left + pad_right - k) / stride + 1;
}

START_TEST (test_conv2d_backward)
{
  static const int ks[] = { 1, 2, 3 };
  GRand *rng = g_rand_new_with_seed (5001);
  int pointwise = 0, im2col = 0;

  for (guint ki = 0; ki < G_N_ELEMENTS (ks); ki++)
    for (int stride = 1; stride <= 2; stride++)
      for (guint a = 0; a < G_N_ELEMENTS (acts); a++)
        for (int rep = 0; rep < 2; rep++) {
          Layer l = { .forward = conv_forward, .backward = conv_backward };
          const int k = ks[ki], n = RANGE (rng, 1, 2), h = RANGE (rng, 1, 7);
          const int w = RANGE (rng, 1, 6), cin = RANGE (rng, 1, 4), cout = RANGE (rng, 1, 5);
          int oh, ow;
          char what[200];

          l.p.act = acts[a];
          random_geometry (rng, &l.p, k, stride, h, w, &oh, &ow);
          const int64_t wshape[4] = { k, k, cin, cout };
          packd_tensor_init_nhwc (&l.in, n, h, w, cin, NULL);
          packd_tensor_init (&l.w, 4, wshape, NULL);
          packd_tensor_init_nhwc (&l.out, n, oh, ow, cout, NULL);
          const int64_t scratch = MAX (packd_conv2d_scratch_floats (&l.p, &l.in, &l.out),
              packd_conv2d_backward_scratch_floats (&l.p, &l.in, &l.out));
          if (scratch == 0)
            pointwise++;
          else
            im2col++;
          layer_alloc (&l, rng, rep == 0, scratch);
          g_snprintf (what, sizeof what, "conv2d n%d %dx%dx%d->%dx%dx%d k%d s%d pad(%d,%d) act%d",
              n, h, w, cin, oh, ow, cout, k, stride, l.p.pad_top, l.p.pad_left, l.p.act);
          check_layer (&l, rng, what);
          layer_clear (&l);
        }
  ck_assert_int_gt (pointwise, 0);
  ck_assert_int_gt (im2col, 0);
  g_rand_free (rng);
}
END_TEST

/* depthwise */

static void
depthwise_forward (Layer *l)
{
  packd_depthwise_forward (&l->p, &l->in, &l->w, l->bias, &l->out);
}

static void
depthwise_backward (Layer *l, PackdTensor *go, PackdTensor *gi, float *gw, float *gb)
{
  packd_depthwise_backward (&l->p, &l->in, &l->w, &l->out, go, gi, gw, gb);
}

START_TEST (test_depthwise_backward)
{
  static const int ks[] = { 1, 3, 5 };
  GRand *rng = g_rand_new_with_seed (5002);

  for (guint ki = 0; ki < G_N_ELEMENTS (ks); ki++)
    for (int stride = 1; stride <= 2; stride++)
      for (guint a = 0; a < G_N_ELEMENTS (acts); a++)
        for (int rep = 0; rep < 2; rep++) {
          Layer l = { .forward = depthwise_forward, .backward = depthwise_backward };
          const int k = ks[ki], n = RANGE (rng, 1, 2), h = RANGE (rng, 1, 7);
          const int w = RANGE (rng, 1, 7), c = RANGE (rng, 1, 5);
          int oh, ow;
          char what[200];

          l.p.act = acts[a];
          random_geometry (rng, &l.p, k, stride, h, w, &oh, &ow);
          const int64_t wshape[3] = { k, k, c };
          packd_tensor_init_nhwc (&l.in, n, h, w, c, NULL);
          packd_tensor_init (&l.w, 3, wshape, NULL);
          packd_tensor_init_nhwc (&l.out, n, oh, ow, c, NULL);
          layer_alloc (&l, rng, rep == 0, 0);
          g_snprintf (what, sizeof what, "depthwise n%d %dx%dx%d->%dx%d k%d s%d pad(%d,%d) act%d",
              n, h, w, c, oh, ow, k, stride, l.p.pad_top, l.p.pad_left, l.p.act);
          check_layer (&l, rng, what);
          layer_clear (&l);
        }
  g_rand_free (rng);
}
END_TEST

/* deconv 2x2 */

static void
deconv_forward (Layer *l)
{
  packd_deconv2x2_forward (&l->in, &l->w, l->bias, l->p.act, &l->out, l->scratch);
}

static void
deconv_backward (Layer *l, PackdTensor *go, PackdTensor *gi, float *gw, float *gb)
{
  packd_deconv2x2_backward (&l->in, &l->w, l->p.act, &l->out, go, gi, gw, gb, l->scratch);
}

START_TEST (test_deconv2x2_backward)
{
  GRand *rng = g_rand_new_with_seed (5003);

  for (guint a = 0; a < G_N_ELEMENTS (acts); a++)
    for (int rep = 0; rep < 4; rep++) {
      Layer l = { .forward = deconv_forward, .backward = deconv_backward };
      const int n = RANGE (rng, 1, 2), h = RANGE (rng, 1, 5), w = RANGE (rng, 1, 4);
      const int cin = RANGE (rng, 1, 5), cout = RANGE (rng, 1, 4);
      const int64_t wshape[4] = { cin, 2, 2, cout };
      char what[200];

      l.p.act = acts[a];
      packd_tensor_init_nhwc (&l.in, n, h, w, cin, NULL);
      packd_tensor_init (&l.w, 4, wshape, NULL);
      packd_tensor_init_nhwc (&l.out, n, 2 * h, 2 * w, cout, NULL);
      layer_alloc (&l, rng, rep % 2 == 0, packd_deconv2x2_scratch_floats (&l.in, &l.w));
      g_snprintf (what, sizeof what, "deconv2x2 n%d %dx%dx%d->%d act%d", n, h, w, cin, cout,
          l.p.act);
      check_layer (&l, rng, what);
      layer_clear (&l);
    }
  g_rand_free (rng);
}
END_TEST

/* dense */

static void
dense_forward (Layer *l)
{
  packd_dense_forward (&l->in, &l->w, l->bias, l->p.act, &l->out);
}

static void
dense_backward (Layer *l, PackdTensor *go, PackdTensor *gi, float *gw, float *gb)
{
  packd_dense_backward (&l->in, &l->w, l->p.act, &l->out, go, gi, gw, gb);
}

START_TEST (test_dense_backward)
{
  GRand *rng = g_rand_new_with_seed (5004);

  for (guint a = 0; a < G_N_ELEMENTS (acts); a++)
    for (int rep = 0; rep < 4; rep++) {
      Layer l = { .forward = dense_forward, .backward = dense_backward };
      const int n = RANGE (rng, 1, 5), k = RANGE (rng, 1, 9), m = RANGE (rng, 1, 7);
      const int64_t in_shape[2] = { n, k }, wshape[2] = { k, m }, out_shape[2] = { n, m };
      char what[200];

      l.p.act = acts[a];
      packd_tensor_init (&l.in, 2, in_shape, NULL);
      packd_tensor_init (&l.w, 2, wshape, NULL);
      packd_tensor_init (&l.out, 2, out_shape, NULL);
      layer_alloc (&l, rng, rep % 2 == 0, 0);
      g_snprintf (what, sizeof what, "dense %dx%d->%d act%d", n, k, m, l.p.act);
      check_layer (&l, rng, what);
      layer_clear (&l);
    }
  g_rand_free (rng);
}
END_TEST

/* ------------------------------------------------------ activations */

typedef struct {
  PackdActivation act;
  float *x, *y, *r;
  int64_t n;
} ActCtx;

static double
act_loss (gpointer data, guint64 *pattern)
{
  ActCtx *c = data;
  memcpy (c->y, c->x, c->n * sizeof (float));
  packd_bias_act_forward (c->y, 1, c->n, NULL, c->act);
  *pattern = gc_act_pattern (c->y, c->n, c->act);
  return gc_dot (c->r, c->y, c->n);
}

START_TEST (test_activation_backward)
{
  GRand *rng = g_rand_new_with_seed (5005);
  const int64_t n = 257;

  for (guint a = 0; a < G_N_ELEMENTS (acts); a++) {
    ActCtx c = { acts[a], packd_test_random_floats (rng, n, -3, 9), g_new (float, n),
      packd_test_random_floats (rng, n, -1, 1), n };
    PackdTensor ty, tg, tgi;
    g_autofree float *gi = gc_nans (n);
    g_autofree float *in_place = g_memdup2 (c.r, n * sizeof (float));
    guint64 dummy;

    /* Keep inputs off the kinks (the derivative is undefined there). */
    for (int64_t i = 0; i < n; i++)
      if (fabsf (c.x[i]) < 0.05f || fabsf (c.x[i] - 6.f) < 0.05f)
        c.x[i] += 0.2f;
    act_loss (&c, &dummy);
    packd_tensor_init_nhwc (&ty, 1, 1, 1, n, c.y);
    packd_tensor_init_nhwc (&tg, 1, 1, 1, n, c.r);
    packd_tensor_init_nhwc (&tgi, 1, 1, 1, n, gi);
    packd_activation_backward (c.act, &ty, &tg, &tgi);
    tg.data = in_place;
    packd_activation_backward (c.act, &ty, &tg, &tg);
    gc_assert_same ("activation in place", in_place, gi, n, 0);
    gc_check_float ("activation", act_loss, &c, c.x, n, gi, &gc_float_tol);
    g_free (c.x);
    g_free (c.y);
    g_free (c.r);
  }
  g_rand_free (rng);
}
END_TEST

/* ------------------------------------------------------ batch norm */

typedef struct {
  PackdTensor in, out;
  float *gamma, *beta, *mean, *invstd, *r;
} BnCtx;

static double
bn_loss (gpointer data, guint64 *pattern)
{
  BnCtx *c = data;
  packd_batchnorm_train_forward (&c->in, c->gamma, c->beta, 0.1f, PACKD_BATCHNORM_EPS,
      NULL, NULL, c->mean, c->invstd, &c->out);
  return gc_dot (c->r, c->out.data, packd_tensor_numel (&c->out));
}

START_TEST (test_batchnorm_backward)
{
  GRand *rng = g_rand_new_with_seed (5006);

  for (int rep = 0; rep < 8; rep++) {
    const int n = RANGE (rng, 1, 3), h = RANGE (rng, 1, 4), w = RANGE (rng, 1, 3);
    const int c = RANGE (rng, 1, 4);
    const int64_t count = (int64_t) n * h * w * c;
    if (n * h * w < 2)
      continue;                 /* one value per channel: output is beta, flat */
    BnCtx bc = { .gamma = packd_test_random_floats (rng, c, 0.5, 2),
      .beta = packd_test_random_floats (rng, c, -1, 1),
      .mean = g_new (float, c), .invstd = g_new (float, c),
      .r = packd_test_random_floats (rng, count, -1, 1) };
    g_autofree float *x = packd_test_random_floats (rng, count, -2, 3);
    g_autofree float *y = g_new (float, count);
    g_autofree float *gi = gc_nans (count);
    g_autofree float *gg0 = packd_test_random_floats (rng, c, -1, 1);
    g_autofree float *gb0 = packd_test_random_floats (rng, c, -1, 1);
    g_autofree float *gg = g_memdup2 (gg0, c * sizeof (float));
    g_autofree float *gb = g_memdup2 (gb0, c * sizeof (float));
    PackdTensor tg, tgi;
    guint64 dummy;
    char what[100];

    packd_tensor_init_nhwc (&bc.in, n, h, w, c, x);
    packd_tensor_init_nhwc (&bc.out, n, h, w, c, y);
    packd_tensor_init_nhwc (&tg, n, h, w, c, bc.r);
    packd_tensor_init_nhwc (&tgi, n, h, w, c, gi);
    bn_loss (&bc, &dummy);
    packd_batchnorm_backward (&bc.in, bc.gamma, bc.mean, bc.invstd, &tg, &tgi, gg, gb);
    g_autofree float *dg = gc_accumulated (gg, gg0, c, 1.f);
    g_autofree float *db = gc_accumulated (gb, gb0, c, 1.f);
    g_snprintf (what, sizeof what, "batchnorm %dx%dx%dx%d", n, h, w, c);
    gc_check_float (what, bn_loss, &bc, x, count, gi, &gc_float_tol);
    gc_check_float ("batchnorm gamma", bn_loss, &bc, bc.gamma, c, dg, &gc_float_tol);
    gc_check_float ("batchnorm beta", bn_loss, &bc, bc.beta, c, db, &gc_float_tol);
    g_free (bc.gamma);
    g_free (bc.beta);
    g_free (bc.mean);
    g_free (bc.invstd);
    g_free (bc.r);
  }
  g_rand_free (rng);
}
END_TEST

/* Training-mode output, running-statistics update and eval-mode output
 * against a double reference written from the torch definition. */
START_TEST (test_batchnorm_forward)
{
  GRand *rng = g_rand_new_with_seed (5007);
  const int n = 3, h = 5, w = 3, c = 4, m = n * h * w;
  const int64_t count = (int64_t) m * c;
  const float momentum = 0.25f, eps = 1e-3f;
  g_autofree float *x = packd_test_random_floats (rng, count, -1, 4);
  g_autofree float *gamma = packd_test_random_floats (rng, c, 0.5, 2);
  g_autofree float *beta = packd_test_random_floats (rng, c, -1, 1);
  g_autofree float *rmean = packd_test_random_floats (rng, c, -1, 1);
  g_autofree float *rvar = packd_test_random_floats (rng, c, 0.5, 2);
  g_autofree float *rmean0 = g_memdup2 (rmean, c * sizeof (float));
  g_autofree float *rvar0 = g_memdup2 (rvar, c * sizeof (float));
  g_autofree float *mean = g_new (float, c), *invstd = g_new (float, c);
  g_autofree float *y = g_new (float, count), *ye = g_new (float, count);
  PackdTensor tin, tout, teval;

  packd_tensor_init_nhwc (&tin, n, h, w, c, x);
  packd_tensor_init_nhwc (&tout, n, h, w, c, y);
  packd_tensor_init_nhwc (&teval, n, h, w, c, ye);
  packd_batchnorm_train_forward (&tin, gamma, beta, momentum, eps, rmean, rvar, mean, invstd,
      &tout);
  for (int ch = 0; ch < c; ch++) {
    double mu = 0, ss = 0;
    for (int i = 0; i < m; i++)
      mu += x[(int64_t) i * c + ch];
    mu /= m;
    for (int i = 0; i < m; i++)
      ss += (x[(int64_t) i * c + ch] - mu) * (x[(int64_t) i * c + ch] - mu);
    const double var = ss / m;
    for (int i = 0; i < m; i++) {
      const double want = gamma[ch] * (x[(int64_t) i * c + ch] - mu) / sqrt (var + eps) + beta[ch];
      ck_assert_msg (fabs (y[(int64_t) i * c + ch] - want) <= 1e-5 * (1 + fabs (want)),
          "train output ch%d row%d: %g, expected %g", ch, i, y[(int64_t) i * c + ch], want);
    }
    const double want_rm = (1 - momentum) * rmean0[ch] + momentum * mu;
    const double want_rv = (1 - momentum) * rvar0[ch] + momentum * ss / (m - 1);
    ck_assert_msg (fabs (rmean[ch] - want_rm) <= 1e-6 * (1 + fabs (want_rm)), "running mean");
    ck_assert_msg (fabs (rvar[ch] - want_rv) <= 1e-6 * (1 + fabs (want_rv)), "running var");
  }
  packd_batchnorm_eval_forward (&tin, gamma, beta, rmean, rvar, eps, &teval);
  for (int64_t i = 0; i < count; i++) {
    const int ch = i % c;
    const double want = gamma[ch] * (x[i] - rmean[ch]) / sqrt (rvar[ch] + eps) + beta[ch];
    ck_assert_msg (fabs (ye[i] - want) <= 1e-5 * (1 + fabs (want)), "eval output %d", (int) i);
  }
  g_rand_free (rng);
}
END_TEST

/* ------------------------------------------------- add, concat, resize */

typedef struct {
  const PackdTensor *const *inputs;
  int n_inputs;
  PackdTensor out;
  float *r;
  gboolean resize, align_corners;
} ShapeCtx;

static double
shape_loss (gpointer data, guint64 *pattern)
{
  ShapeCtx *c = data;
  if (c->resize)
    packd_resize_bilinear_forward (c->inputs[0], c->align_corners, &c->out);
  else if (c->n_inputs == 2)
    packd_add_forward (c->inputs[0], c->inputs[1], &c->out);
  else
    packd_concat_channels_forward (c->inputs, c->n_inputs, &c->out);
  return gc_dot (c->r, c->out.data, packd_tensor_numel (&c->out));
}

START_TEST (test_add_concat_backward)
{
  GRand *rng = g_rand_new_with_seed (5008);
  const int n = 2, h = 3, w = 5, cs[3] = { 3, 1, 4 }, ctot = 8;
  const int64_t rows = (int64_t) n * h * w;
  PackdTensor t[3], g[3];
  const PackdTensor *inputs[3] = { &t[0], &t[1], &t[2] };
  PackdTensor *grads[3] = { &g[0], &g[1], &g[2] };
  ShapeCtx c = { inputs, 3 };
  g_autofree float *out = g_new (float, rows * ctot);
  g_autofree float *go = NULL;
  PackdTensor tgo;

  c.r = packd_test_random_floats (rng, rows * ctot, -1, 1);
  for (int i = 0; i < 3; i++) {
    packd_tensor_init_nhwc (&t[i], n, h, w, cs[i],
        packd_test_random_floats (rng, rows * cs[i], -1, 1));
    packd_tensor_init_nhwc (&g[i], n, h, w, cs[i], gc_nans (rows * cs[i]));
  }
  packd_tensor_init_nhwc (&c.out, n, h, w, ctot, out);
  packd_tensor_init_nhwc (&tgo, n, h, w, ctot, c.r);
  packd_concat_channels_backward (&tgo, cs, grads, 3);
  for (int i = 0; i < 3; i++)
    gc_check_float ("concat", shape_loss, &c, t[i].data, rows * cs[i], g[i].data, &gc_float_tol);

  /* A NULL entry still consumes its channels. */
  PackdTensor *skip_middle[3] = { NULL, NULL, &g[2] };
  memset (g[2].data, 0, rows * cs[2] * sizeof (float));
  packd_concat_channels_backward (&tgo, cs, skip_middle, 3);
  gc_check_float ("concat skipping", shape_loss, &c, t[2].data, rows * cs[2], g[2].data,
      &gc_float_tol);

  /* add: a and b both receive grad_out. */
  c.n_inputs = 2;
  for (int i = 0; i < 2; i++) {
    g_free (t[i].data);
    g_free (g[i].data);
    packd_tensor_init_nhwc (&t[i], n, h, w, ctot,
        packd_test_random_floats (rng, rows * ctot, -1, 1));
    packd_tensor_init_nhwc (&g[i], n, h, w, ctot, gc_nans (rows * ctot));
  }
  packd_add_backward (&tgo, &g[0], &g[1]);
  for (int i = 0; i < 2; i++)
    gc_check_float ("add", shape_loss, &c, t[i].data, rows * ctot, g[i].data, &gc_float_tol);
  for (int i = 0; i < 3; i++) {
    g_free (t[i].data);
    g_free (g[i].data);
  }
  g_free (c.r);
  g_rand_free (rng);
}
END_TEST

START_TEST (test_resize_backward)
{
  GRand *rng = g_rand_new_with_seed (5009);
  static const int sizes[] = { 1, 2, 3, 4, 5, 7, 8, 13 };

  for (int align = 0; align <= 1; align++)
    for (int rep = 0; rep < 8; rep++) {
      const int n = RANGE (rng, 1, 2), c = RANGE (rng, 1, 3);
      const int h = PICK (rng, sizes), w = PICK (rng, sizes);
      const int oh = PICK (rng, sizes), ow = PICK (rng, sizes);
      PackdTensor tin, tgo, tgi;
      const PackdTensor *inputs[1] = { &tin };
      ShapeCtx sc = { inputs, 1, .resize = TRUE, .align_corners = align };
      g_autofree float *x = packd_test_random_floats (rng, (int64_t) n * h * w * c, -1, 1);
      g_autofree float *gi = gc_nans ((int64_t) n * h * w * c);
      g_autofree float *out = g_new (float, (int64_t) n * oh * ow * c);
      g_autofree float *r = packd_test_random_floats (rng, (int64_t) n * oh * ow * c, -1, 1);
      char what[100];

      sc.r = r;
      packd_tensor_init_nhwc (&tin, n, h, w, c, x);
      packd_tensor_init_nhwc (&sc.out, n, oh, ow, c, out);
      packd_tensor_init_nhwc (&tgo, n, oh, ow, c, r);
      packd_tensor_init_nhwc (&tgi, n, h, w, c, gi);
      packd_resize_bilinear_backward (&tgo, align, &tgi);
      g_snprintf (what, sizeof what, "resize %dx%d->%dx%d align%d", h, w, oh, ow, align);
      gc_check_float (what, shape_loss, &sc, x, (int64_t) n * h * w * c, gi, &gc_float_tol);
    }
  g_rand_free (rng);
}
END_TEST

/* ------------------------------------------------------------ cosine */

typedef struct {
  PackdTensor a, b;
  float *d, *r;
  gboolean flat;
} CosCtx;

static double
cos_loss (gpointer data, guint64 *pattern)
{
  CosCtx *c = data;
  int64_t rows;
  if (c->flat) {
    packd_cosine_distance_flat_forward (&c->a, &c->b, c->d);
    rows = c->a.shape[0];
  } else {
    packd_cosine_distance_forward (&c->a, &c->b, c->d);
    rows = packd_tensor_numel (&c->a) / c->a.shape[3];
  }
  return gc_dot (c->r, c->d, rows);
}

START_TEST (test_cosine_backward)
{
  GRand *rng = g_rand_new_with_seed (5010);

  for (int flat = 0; flat <= 1; flat++)
    for (int rep = 0; rep < 4; rep++) {
      const int n = RANGE (rng, 1, 3), h = RANGE (rng, 1, 4), w = RANGE (rng, 1, 3);
      /* C >= 2: a 1-channel cosine is a sign, flat but for a jump at 0. */
      const int c = RANGE (rng, 2, 6);
      const int64_t count = (int64_t) n * h * w * c, rows = flat ? n : count / c;
      CosCtx cc = { .flat = flat, .d = g_new (float, rows),
        .r = packd_test_random_floats (rng, rows, -1, 1) };
      g_autofree float *a = packd_test_random_floats (rng, count, -1, 2);
      g_autofree float *b = packd_test_random_floats (rng, count, -1, 2);
      g_autofree float *ga = gc_nans (count), *gb = gc_nans (count);
      g_autofree float *ga_only = gc_nans (count);
      PackdTensor tga, tgb, tga_only;
      char what[100];

      packd_tensor_init_nhwc (&cc.a, n, h, w, c, a);
      packd_tensor_init_nhwc (&cc.b, n, h, w, c, b);
      packd_tensor_init_nhwc (&tga, n, h, w, c, ga);
      packd_tensor_init_nhwc (&tgb, n, h, w, c, gb);
      packd_tensor_init_nhwc (&tga_only, n, h, w, c, ga_only);
      if (flat) {
        packd_cosine_distance_flat_backward (&cc.a, &cc.b, cc.r, &tga, &tgb);
        packd_cosine_distance_flat_backward (&cc.a, &cc.b, cc.r, &tga_only, NULL);
      } else {
        packd_cosine_distance_backward (&cc.a, &cc.b, cc.r, &tga, &tgb);
        packd_cosine_distance_backward (&cc.a, &cc.b, cc.r, &tga_only, NULL);
      }
      gc_assert_same ("cosine grad_a without grad_b", ga_only, ga, count, 0);
      g_snprintf (what, sizeof what, "cosine%s %dx%dx%dx%d a", flat ? " flat" : "", n, h, w, c);
      gc_check_float (what, cos_loss, &cc, a, count, ga, &gc_float_tol);
      g_snprintf (what, sizeof what, "cosine%s %dx%dx%dx%d b", flat ? " flat" : "", n, h, w, c);
      gc_check_float (what, cos_loss, &cc, b, count, gb, &gc_float_tol);
      g_free (cc.d);
      g_free (cc.r);
    }
  g_rand_free (rng);
}
END_TEST

/* A zero vector has similarity 0 by the eps rule; its gradient must be
 * finite (b / eps scaled), never NaN. */
START_TEST (test_cosine_backward_zero_row)
{
  float a[4] = { 0, 0, 0, 0 }, b[4] = { 1, 2, 3, 4 }, ga[4], gb[4], g = 1e-9f;
  PackdTensor ta, tb, tga, tgb;

  packd_tensor_init_nhwc (&ta, 1, 1, 1, 4, a);
  packd_tensor_init_nhwc (&tb, 1, 1, 1, 4, b);
  packd_tensor_init_nhwc (&tga, 1, 1, 1, 4, ga);
  packd_tensor_init_nhwc (&tgb, 1, 1, 1, 4, gb);
  packd_cosine_distance_backward (&ta, &tb, &g, &tga, &tgb);
  for (int i = 0; i < 4; i++) {
    ck_assert (isfinite (ga[i]) && isfinite (gb[i]));
    ck_assert_float_eq_tol (ga[i], -b[i] * g / PACKD_COSINE_EPS, 1e-5);
    ck_assert_float_eq (gb[i], 0.f);
  }
}
END_TEST

static Suite *
gradcheck_suite (void)
{
  Suite *s = suite_create ("gradcheck");
  TCase *tc = tcase_create ("layers");

  tcase_add_test (tc, test_conv2d_backward);
  tcase_add_test (tc, test_depthwise_backward);
  tcase_add_test (tc, test_deconv2x2_backward);
  tcase_add_test (tc, test_dense_backward);
  tcase_add_test (tc, test_activation_backward);
  tcase_add_test (tc, test_batchnorm_backward);
  tcase_add_test (tc, test_batchnorm_forward);
  tcase_add_test (tc, test_add_concat_backward);
  tcase_add_test (tc, test_resize_backward);
  tcase_add_test (tc, test_cosine_backward);
  tcase_add_test (tc, test_cosine_backward_zero_row);
  suite_add_tcase (s, tc);
  suite_add_tcase (s, gc_attention_tcase ());
  suite_add_tcase (s, gc_losses_tcase ());
  return s;
}

int
main (void)
{
  return packd_test_run (gradcheck_suite ());
}
