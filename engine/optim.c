/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "packd-optim.h"
#include "packd-error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  char *name;
  float *data, *grad;
  float *m, *v;                 /* owned */
  int64_t n;
} AdamParam;

struct _PackdAdam {
  float lr, beta1, beta2, eps;
  int64_t step;
  GPtrArray *params;            /* AdamParam* */
};

static void
adam_param_free (gpointer p)
{
  AdamParam *a = p;
  g_free (a->name);
  g_free (a->m);
  g_free (a->v);
  g_free (a);
}

PackdAdam *
packd_adam_new (float lr, float beta1, float beta2, float eps)
{
  PackdAdam *adam = g_new0 (PackdAdam, 1);
  adam->lr = lr;
  adam->beta1 = beta1;
  adam->beta2 = beta2;
  adam->eps = eps;
  adam->params = g_ptr_array_new_with_free_func (adam_param_free);
  return adam;
}

void
packd_adam_free (PackdAdam *adam)
{
  if (!adam)
    return;
  g_ptr_array_unref (adam->params);
  g_free (adam);
}

void
packd_adam_add_param (PackdAdam *adam, const char *name, float *data, float *grad, int64_t n)
{
  AdamParam *a;

  g_return_if_fail (name != NULL && data != NULL && grad != NULL && n > 0);
  a = g_new0 (AdamParam, 1);
  a->name = g_strdup (name);
  a->data = data;
  a->grad = grad;
  a->n = n;
  a->m = g_new0 (float, n);
  a->v = g_new0 (float, n);
  g_ptr_array_add (adam->params, a);
}

void
packd_adam_zero_grad (PackdAdam *adam)
{
  for (guint i = 0; i < adam->params->len; i++) {
    AdamParam *a = g_ptr_array_index (adam->params, i);
    memset (a->grad, 0, a->n * sizeof (float));
  }
}

void
packd_adam_step (PackdAdam *adam)
{
  const float b1 = adam->beta1, b2 = adam->beta2;

  adam->step++;
  /* Corrections in double: 1 - b2^t is tiny for small t. */
  const float step_size = (float) (adam->lr / (1.0 - pow (b1, (double) adam->step)));
  const float inv_sqrt_bc2 = (float) (1.0 / sqrt (1.0 - pow (b2, (double) adam->step)));

  for (guint i = 0; i < adam->params->len; i++) {
    AdamParam *a = g_ptr_array_index (adam->params, i);
    float *restrict p = a->data, *restrict m = a->m, *restrict v = a->v;
    const float *restrict g = a->grad;
    for (int64_t j = 0; j < a->n; j++) {
      m[j] = b1 * m[j] + (1.f - b1) * g[j];
      v[j] = b2 * v[j] + (1.f - b2) * g[j] * g[j];
      p[j] -= step_size * m[j] / (sqrtf (v[j]) * inv_sqrt_bc2 + adam->eps);
    }
  }
}

int64_t
packd_adam_get_step (const PackdAdam *adam)
{
  return adam->step;
}

float
packd_adam_get_lr (const PackdAdam *adam)
{
  return adam->lr;
}

void
packd_adam_set_lr (PackdAdam *adam, float lr)
{
  adam->lr = lr;
}

static void
set_float_metadata (PackdSafetensorsWriter *w, const char *key, float value)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  /* 9 significant digits identify a float exactly. */
  g_ascii_formatd (buf, sizeof (buf), "%.9g", value);
  packd_safetensors_writer_set_metadata (w, key, buf);
}

void
packd_adam_save_state (const PackdAdam *adam, PackdSafetensorsWriter *writer)
{
  char buf[32];

  g_snprintf (buf, sizeof (buf), "%" G_GINT64_FORMAT, (gint64) adam->step);
  packd_safetensors_writer_set_metadata (writer, "adam.step", buf);
  set_float_metadata (writer, "adam.lr", adam->lr);
  set_float_metadata (writer, "adam.beta1", adam->beta1);
  set_float_metadata (writer, "adam.beta2", adam->beta2);
  set_float_metadata (writer, "adam.eps", adam->eps);
  for (guint i = 0; i < adam->params->len; i++) {
    const AdamParam *a = g_ptr_array_index (adam->params, i);
    PackdTensor t;
    char *name;
    packd_tensor_init (&t, 1, &a->n, a->m);
    name = g_strconcat ("adam.m.", a->name, NULL);
    packd_safetensors_writer_add (writer, name, &t);
    g_free (name);
    t.data = a->v;
    name = g_strconcat ("adam.v.", a->name, NULL);
    packd_safetensors_writer_add (writer, name, &t);
    g_free (name);
  }
}

static gboolean
get_float_metadata (const PackdSafetensors *st, const char *key, float *out, GError **error)
{
  const char *text = packd_safetensors_get_metadata (st, key);
  char *end = NULL;
  double v;

  if (text == NULL) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_FORMAT, "optimiser state: no \"%s\"", key);
    return FALSE;
  }
  v = g_ascii_strtod (text, &end);
  if (end == text || *end != '\0' || !isfinite (v)) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_FORMAT,
        "optimiser state: \"%s\" is not a number: \"%s\"", key, text);
    return FALSE;
  }
  *out = (float) v;
  return TRUE;
}

gboolean
packd_adam_load_state (PackdAdam *adam, const PackdSafetensors *st, GError **error)
{
  const char *step_text = packd_safetensors_get_metadata (st, "adam.step");
  guint64 step;
  float lr, beta1, beta2, eps;
  const guint np = adam->params->len;
  PackdTensor *moments = g_new (PackdTensor, 2 * MAX (np, 1));
  gboolean ok = FALSE;

  if (step_text == NULL
      || !g_ascii_string_to_unsigned (step_text, 10, 0, G_MAXINT64, &step, NULL)) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_FORMAT,
        "optimiser state: missing or malformed \"adam.step\"");
    goto out;
  }
  if (!get_float_metadata (st, "adam.lr", &lr, error)
      || !get_float_metadata (st, "adam.beta1", &beta1, error)
      || !get_float_metadata (st, "adam.beta2", &beta2, error)
      || !get_float_metadata (st, "adam.eps", &eps, error))
    goto out;
  /* Fetch and check every tensor before touching the state. */
  for (guint i = 0; i < np; i++) {
    const AdamParam *a = g_ptr_array_index (adam->params, i);
    for (int k = 0; k < 2; k++) {
      char *name = g_strconcat (k == 0 ? "adam.m." : "adam.v.", a->name, NULL);
      gboolean found = packd_safetensors_get (st, name, 1, &a->n, &moments[2 * i + k], error);
      g_free (name);
      if (!found)
        goto out;
    }
  }
  for (guint i = 0; i < np; i++) {
    AdamParam *a = g_ptr_array_index (adam->params, i);
    memcpy (a->m, moments[2 * i].data, a->n * sizeof (float));
    memcpy (a->v, moments[2 * i + 1].data, a->n * sizeof (float));
  }
  adam->step = (int64_t) step;
  adam->lr = lr;
  adam->beta1 = beta1;
  adam->beta2 = beta2;
  adam->eps = eps;
  ok = TRUE;
out:
  g_free (moments);
  return ok;
}
