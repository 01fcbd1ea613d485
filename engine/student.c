/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/* The PACKD student: architecture description (JSON in the model file),
 * parameters, initialisation, model files and MAC counts.  The forward and
 * backward passes are in student-run.c, PEIM in peim.c. */
#include "student-impl.h"
#include "packd-error.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#define ARCH_FORMAT "packd-student"
#define ARCH_VERSION 1
#define MAX_CHANNELS 4096

static const char *const default_taps[PACKD_STUDENT_LEVELS] = {
  "block_3_expand_relu", "block_6_expand_relu", "block_13_expand_relu", "block_16_project_BN",
};
static const int default_tap_channels[PACKD_STUDENT_LEVELS] = { 144, 192, 576, 320 };

void
packd_student_arch_init_default (PackdStudentArch *a)
{
  memset (a, 0, sizeof (*a));
  a->size = 256;
  for (int i = 0; i < PACKD_STUDENT_LEVELS; i++) {
    a->taps[i] = g_strdup (default_taps[i]);
    a->tap_channels[i] = default_tap_channels[i];
  }
  a->ocbe_channels = 64;
  a->ocbe_hidden = 256;
  a->decoder_channels[0] = 32;
  a->decoder_channels[1] = 64;
  a->decoder_channels[2] = 128;
  a->expand = 2;
  a->blocks[0] = a->blocks[1] = a->blocks[2] = 1;
  a->peim = TRUE;
  a->prototypes = 32;
  a->tau_e = 0.1f;
  a->tau_a = 0.1f;
}

void
packd_student_arch_clear (PackdStudentArch *a)
{
  for (int i = 0; i < PACKD_STUDENT_LEVELS; i++)
    g_clear_pointer (&a->taps[i], g_free);
}

void
packd_student_arch_copy (const PackdStudentArch *src, PackdStudentArch *dst)
{
  *dst = *src;
  for (int i = 0; i < PACKD_STUDENT_LEVELS; i++)
    dst->taps[i] = g_strdup (src->taps[i]);
}

int
packd_student_arch_grid (const PackdStudentArch *a, int level)
{
  return a->size >> (level + 1);
}

static void
add_int_array (JsonBuilder *b, const char *name, const int *v, int n)
{
  json_builder_set_member_name (b, name);
  json_builder_begin_array (b);
  for (int i = 0; i < n; i++)
    json_builder_add_int_value (b, v[i]);
  json_builder_end_array (b);
}

char *
packd_student_arch_to_json (const PackdStudentArch *a)
{
  JsonBuilder *b = json_builder_new ();
  JsonGenerator *gen = json_generator_new ();
  JsonNode *root;
  char *text;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "format");
  json_builder_add_string_value (b, ARCH_FORMAT);
  json_builder_set_member_name (b, "version");
  json_builder_add_int_value (b, ARCH_VERSION);
  json_builder_set_member_name (b, "size");
  json_builder_add_int_value (b, a->size);
  json_builder_set_member_name (b, "taps");
  json_builder_begin_array (b);
  for (int i = 0; i < PACKD_STUDENT_LEVELS; i++)
    json_builder_add_string_value (b, a->taps[i]);
  json_builder_end_array (b);
  add_int_array (b, "tap_channels", a->tap_channels, PACKD_STUDENT_LEVELS);
  json_builder_set_member_name (b, "ocbe_channels");
  json_builder_add_int_value (b, a->ocbe_channels);
  json_builder_set_member_name (b, "ocbe_hidden");
  json_builder_add_int_value (b, a->ocbe_hidden);
  add_int_array (b, "decoder_channels", a->decoder_channels, 3);
  json_builder_set_member_name (b, "expand");
  json_builder_add_int_value (b, a->expand);
  add_int_array (b, "blocks", a->blocks, 3);
  json_builder_set_member_name (b, "peim");
  json_builder_add_boolean_value (b, a->peim);
  json_builder_set_member_name (b, "prototypes");
  json_builder_add_int_value (b, a->prototypes);
  json_builder_set_member_name (b, "tau_e");
  json_builder_add_double_value (b, a->tau_e);
  json_builder_set_member_name (b, "tau_a");
  json_builder_add_double_value (b, a->tau_a);
  json_builder_set_member_name (b, "map_reference");
  json_builder_add_string_value (b, packd_map_reference_to_string (a->map_reference));
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  text = json_generator_to_data (gen, NULL);
  json_node_unref (root);
  g_object_unref (gen);
  g_object_unref (b);
  return text;
}

static gboolean
get_int (JsonObject *o, const char *name, int lo, int hi, int *out, GError **error)
{
  JsonNode *n = json_object_get_member (o, name);
  gint64 v;

  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_INT64) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_MODEL, "packd.arch: \"%s\" missing or not an integer",
        name);
    return FALSE;
  }
  v = json_node_get_int (n);
  if (v < lo || v > hi) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_MODEL,
        "packd.arch: \"%s\" = %" G_GINT64_FORMAT " out of range [%d, %d]", name, v, lo, hi);
    return FALSE;
  }
  *out = (int) v;
  return TRUE;
}

static gboolean
get_int_array (JsonObject *o, const char *name, int n, int lo, int hi, int *out, GError **error)
{
  JsonNode *node = json_object_get_member (o, name);
  JsonArray *arr;

  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node)
      || json_array_get_length (arr = json_node_get_array (node)) != (guint) n) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_MODEL, "packd.arch: \"%s\" must be an array of %d",
        name, n);
    return FALSE;
  }
  for (int i = 0; i < n; i++) {
    JsonNode *e = json_array_get_element (arr, i);
    gint64 v;
    if (!JSON_NODE_HOLDS_VALUE (e) || json_node_get_value_type (e) != G_TYPE_INT64
        || (v = json_node_get_int (e)) < lo || v > hi) {
      g_set_error (error, PACKD_ERROR, PACKD_ERROR_MODEL,
          "packd.arch: \"%s\"[%d] is not an integer in [%d, %d]", name, i, lo, hi);
      return FALSE;
    }
    out[i] = (int) v;
  }
  return TRUE;
}

static gboolean
get_temperature (JsonObject *o, const char *name, float *out, GError **error)
{
  JsonNode *n = json_object_get_member (o, name);
  double v;

  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n)
      || (json_node_get_value_type (n) != G_TYPE_DOUBLE
          && json_node_get_value_type (n) != G_TYPE_INT64)
      || !isfinite (v = json_node_get_double (n)) || v < 1e-3 || v > 100) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_MODEL,
        "packd.arch: \"%s\" must be a number in [0.001, 100]", name);
    return FALSE;
  }
  *out = (float) v;
  return TRUE;
}

gboolean
packd_student_arch_from_json (const char *json, PackdStudentArch *a, GError **error)
{
  JsonParser *parser = json_parser_new ();
  GError *local = NULL;
  JsonObject *o;
  JsonNode *root, *n;
  JsonArray *taps;
  int version;
  gboolean ok = FALSE;

  memset (a, 0, sizeof (*a));
  if (json == NULL || !json_parser_load_from_data (parser, json, -1, &local)) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_MODEL, "packd.arch: %s",
        local ? local->message : "missing");
    g_clear_error (&local);
    goto out;
  }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root)) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_MODEL, "packd.arch: not a JSON object");
    goto out;
  }
  o = json_node_get_object (root);
  if (g_strcmp0 (json_object_get_string_member_with_default (o, "format", ""), ARCH_FORMAT) != 0) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_MODEL, "packd.arch: format is not \"%s\"",
        ARCH_FORMAT);
    goto out;
  }
  if (!get_int (o, "version", ARCH_VERSION, ARCH_VERSION, &version, error)
      || !get_int (o, "size", 32, 4096, &a->size, error)
      || !get_int_array (o, "tap_channels", PACKD_STUDENT_LEVELS, 1, MAX_CHANNELS,
          a->tap_channels, error)
      || !get_int (o, "ocbe_channels", 1, MAX_CHANNELS, &a->ocbe_channels, error)
      || !get_int (o, "ocbe_hidden", 1, MAX_CHANNELS, &a->ocbe_hidden, error)
      || !get_int_array (o, "decoder_channels", 3, 1, MAX_CHANNELS, a->decoder_channels, error)
      || !get_int (o, "expand", 1, 16, &a->expand, error)
      || !get_int_array (o, "blocks", 3, 0, PACKD_STUDENT_MAX_BLOCKS, a->blocks, error)
      || !get_int (o, "prototypes", 1, 1024, &a->prototypes, error)
      || !get_temperature (o, "tau_e", &a->tau_e, error)
      || !get_temperature (o, "tau_a", &a->tau_a, error))
    goto out;
  if (a->size % 32 != 0) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_MODEL,
        "packd.arch: size %d is not a multiple of 32", a->size);
    goto out;
  }
  n = json_object_get_member (o, "peim");
  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_BOOLEAN) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_MODEL, "packd.arch: \"peim\" must be a boolean");
    goto out;
  }
  a->peim = json_node_get_boolean (n);
  /* a scoring default, not a layer: files written before it score without */
  n = json_object_get_member (o, "map_reference");
  if (n != NULL && (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING
          || !packd_map_reference_from_string (json_node_get_string (n), &a->map_reference))) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_MODEL,
        "packd.arch: \"map_reference\" must be \"none\", \"support-mean\" or \"support-max\"");
    goto out;
  }
  n = json_object_get_member (o, "taps");
  if (n == NULL || !JSON_NODE_HOLDS_ARRAY (n)
      || json_array_get_length (taps = json_node_get_array (n)) != PACKD_STUDENT_LEVELS) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_MODEL,
        "packd.arch: \"taps\" must list %d teacher layers", PACKD_STUDENT_LEVELS);
    goto out;
  }
  for (int i = 0; i < PACKD_STUDENT_LEVELS; i++) {
    JsonNode *e = json_array_get_element (taps, i);
    if (!JSON_NODE_HOLDS_VALUE (e) || json_node_get_value_type (e) != G_TYPE_STRING
        || *json_node_get_string (e) == '\0') {
      g_set_error (error, PACKD_ERROR, PACKD_ERROR_MODEL, "packd.arch: taps[%d] is not a name", i);
      goto out;
    }
    a->taps[i] = g_strdup (json_node_get_string (e));
  }
  ok = TRUE;
out:
  if (!ok)
    packd_student_arch_clear (a);
  g_object_unref (parser);
  return ok;
}

gboolean
packd_student_arch_check_teacher (const PackdStudentArch *a, const PackdTeacher *teacher,
    GError **error)
{
  for (int i = 0; i < PACKD_STUDENT_LEVELS; i++) {
    const int want_stride = 4 << i;
    if (!packd_teacher_has_tap (teacher, a->taps[i])) {
      g_set_error (error, PACKD_ERROR, PACKD_ERROR_MODEL, "packd.arch: unknown teacher tap '%s'",
          a->taps[i]);
      return FALSE;
    }
    if (packd_teacher_tap_stride (teacher, a->taps[i]) != want_stride
        || packd_teacher_tap_channels (teacher, a->taps[i]) != a->tap_channels[i]) {
      g_set_error (error, PACKD_ERROR, PACKD_ERROR_MODEL,
          "packd.arch: tap '%s' has %d channels at stride %d; level %d needs %d at stride %d",
          a->taps[i], packd_teacher_tap_channels (teacher, a->taps[i]),
          packd_teacher_tap_stride (teacher, a->taps[i]), i + 1, a->tap_channels[i], want_stride);
      return FALSE;
    }
  }
  return TRUE;
}

/* ---- parameters ---------------------------------------------------------- */

static void
param_free (gpointer data)
{
  StudentParam *p = data;
  g_free (p->name);
  g_free (p->data);
  g_free (p->grad);
  g_free (p);
}

static StudentParam *
param_add (PackdStudent *s, const char *unit, const char *what, gboolean trainable, int ndim,
    int64_t d0, int64_t d1, int64_t d2, int64_t d3)
{
  StudentParam *p = g_new0 (StudentParam, 1);
  const int64_t dims[4] = { d0, d1, d2, d3 };

  p->name = g_strconcat ("student.", unit, ".", what, NULL);
  p->ndim = ndim;
  p->n = 1;
  for (int i = 0; i < ndim; i++) {
    p->shape[i] = dims[i];
    p->n *= dims[i];
  }
  p->data = g_new0 (float, p->n);
  p->grad = trainable ? g_new0 (float, p->n) : NULL;
  g_ptr_array_add (s->params, p);
  return p;
}

static void
fill_normal (GRand *rng, float *x, int64_t n, double std)
{
  for (int64_t i = 0; i < n; i++) {
    double u1 = g_rand_double (rng), u2 = g_rand_double (rng);
    x[i] = (float) (std * sqrt (-2.0 * log (1.0 - u1)) * cos (2.0 * G_PI * u2));
  }
}

static void
unit_init (PackdStudent *s, GRand *rng, Unit *u, const char *name, UnitKind kind, int cin,
    int cout, int stride, gboolean bn, PackdActivation act)
{
  int64_t fan_in;

  u->kind = kind;
  u->cin = cin;
  u->cout = cout;
  u->stride = stride;
  u->bn = bn;
  u->act = act;
  switch (kind) {
    case UNIT_PW:
      u->w = param_add (s, name, "weight", TRUE, 4, 1, 1, cin, cout);
      fan_in = cin;
      break;
    case UNIT_DW:
      u->w = param_add (s, name, "weight", TRUE, 3, 3, 3, cin, 0);
      fan_in = 9;
      break;
    case UNIT_DECONV:
    default:
      u->w = param_add (s, name, "weight", TRUE, 4, cin, 2, 2, cout);
      fan_in = cin;
      break;
  }
  fill_normal (rng, u->w->data, u->w->n, sqrt ((act != PACKD_ACT_NONE ? 2.0 : 1.0) / fan_in));
  if (bn) {
    u->gamma = param_add (s, name, "gamma", TRUE, 1, cout, 0, 0, 0);
    u->beta = param_add (s, name, "beta", TRUE, 1, cout, 0, 0, 0);
    u->rmean = param_add (s, name, "running_mean", FALSE, 1, cout, 0, 0, 0);
    u->rvar = param_add (s, name, "running_var", FALSE, 1, cout, 0, 0, 0);
    for (int c = 0; c < cout; c++)
      u->gamma->data[c] = u->rvar->data[c] = 1.0f;
  } else {
    u->b = param_add (s, name, "bias", TRUE, 1, cout, 0, 0, 0);
  }
}

static PackdStudent *
student_build (const PackdStudentArch *arch, guint64 seed)
{
  PackdStudent *s = g_new0 (PackdStudent, 1);
  const guint32 seeds[2] = { (guint32) seed, (guint32) (seed >> 32) };
  GRand *rng = g_rand_new_with_seed_array (seeds, 2);
  const int *C = arch->tap_channels;
  const int co = arch->ocbe_channels, hid = arch->ocbe_hidden;
  const PackdActivation R6 = PACKD_ACT_RELU6, NO = PACKD_ACT_NONE;
  char name[64];

  packd_student_arch_copy (arch, &s->arch);
  s->params = g_ptr_array_new_with_free_func (param_free);
  unit_init (s, rng, &s->p1_dw1, "ocbe.p1_dw1", UNIT_DW, C[0], C[0], 2, TRUE, R6);
  unit_init (s, rng, &s->p1_pw1, "ocbe.p1_pw1", UNIT_PW, C[0], co, 1, TRUE, R6);
  unit_init (s, rng, &s->p1_dw2, "ocbe.p1_dw2", UNIT_DW, co, co, 2, TRUE, R6);
  unit_init (s, rng, &s->p1_pw2, "ocbe.p1_pw2", UNIT_PW, co, co, 1, TRUE, R6);
  unit_init (s, rng, &s->p2_dw, "ocbe.p2_dw", UNIT_DW, C[1], C[1], 2, TRUE, R6);
  unit_init (s, rng, &s->p2_pw, "ocbe.p2_pw", UNIT_PW, C[1], co, 1, TRUE, R6);
  unit_init (s, rng, &s->enc_pw, "ocbe.enc_pw", UNIT_PW, 2 * co + C[2], hid, 1, TRUE, R6);
  unit_init (s, rng, &s->enc_dw, "ocbe.enc_dw", UNIT_DW, hid, hid, 2, TRUE, R6);
  unit_init (s, rng, &s->enc_out, "ocbe.enc_out", UNIT_PW, hid, C[3], 1, TRUE, NO);
  for (int j = 2; j >= 0; j--) {
    Stage *st = &s->stages[j];
    const int c = arch->decoder_channels[j], e = c * arch->expand;
    const int cin = C[j + 1] * (arch->peim ? 2 : 1);
    g_snprintf (name, sizeof name, "dec%d.up", j + 1);
    unit_init (s, rng, &st->up, name, UNIT_DECONV, cin, c, 2, TRUE, R6);
    st->n_blocks = arch->blocks[j];
    for (int k = 0; k < st->n_blocks; k++) {
      g_snprintf (name, sizeof name, "dec%d.b%d.expand", j + 1, k);
      unit_init (s, rng, &st->expand[k], name, UNIT_PW, c, e, 1, TRUE, R6);
      g_snprintf (name, sizeof name, "dec%d.b%d.dw", j + 1, k);
      unit_init (s, rng, &st->dw[k], name, UNIT_DW, e, e, 1, TRUE, R6);
      g_snprintf (name, sizeof name, "dec%d.b%d.project", j + 1, k);
      unit_init (s, rng, &st->project[k], name, UNIT_PW, e, c, 1, TRUE, NO);
    }
    g_snprintf (name, sizeof name, "dec%d.head", j + 1);
    unit_init (s, rng, &st->head, name, UNIT_PW, c, C[j], 1, FALSE, NO);
  }
  if (arch->peim) {
    for (int L = 2; L <= 4; L++) {
      g_snprintf (name, sizeof name, "peim%d", L);
      s->queries[L] = param_add (s, name, "queries", TRUE, 2, arch->prototypes, C[L - 1], 0, 0);
      fill_normal (rng, s->queries[L]->data, s->queries[L]->n, 1.0);
    }
    s->proj4 = param_add (s, "peim4", "proj", TRUE, 2, C[3], C[3], 0, 0);
    for (int c = 0; c < C[3]; c++)
      s->proj4->data[c * C[3] + c] = 1.0f;
  }
  g_rand_free (rng);
  return s;
}

PackdStudent *
packd_student_new (const PackdStudentArch *arch, guint64 seed, GError **error)
{
  char *json = packd_student_arch_to_json (arch);
  PackdStudentArch check;
  gboolean ok = packd_student_arch_from_json (json, &check, error);

  /* the same checks as a file gets */
  g_free (json);
  if (!ok)
    return NULL;
  packd_student_arch_clear (&check);
  return student_build (arch, seed);
}

PackdStudent *
packd_student_new_from_file (const PackdSafetensors *st, GError **error)
{
  PackdStudentArch arch;
  PackdStudent *s;

  if (!packd_student_arch_from_json (packd_safetensors_get_metadata (st, "packd.arch"), &arch,
          error))
    return NULL;
  s = student_build (&arch, 0);
  packd_student_arch_clear (&arch);
  for (guint i = 0; i < s->params->len; i++) {
    StudentParam *p = g_ptr_array_index (s->params, i);
    PackdTensor t;
    if (!packd_safetensors_get (st, p->name, p->ndim, p->shape, &t, error)) {
      if (error && *error)
        (*error)->code = PACKD_ERROR_MODEL;
      g_prefix_error (error, "student does not match packd.arch: ");
      packd_student_free (s);
      return NULL;
    }
    memcpy (p->data, t.data, p->n * sizeof (float));
  }
  return s;
}

void
packd_student_free (PackdStudent *s)
{
  if (s == NULL)
    return;
  g_ptr_array_unref (s->params);
  packd_student_arch_clear (&s->arch);
  g_free (s);
}

const PackdStudentArch *
packd_student_get_arch (const PackdStudent *s)
{
  return &s->arch;
}

void
packd_student_set_map_reference (PackdStudent *s, PackdMapReference reference)
{
  s->arch.map_reference = reference;
}

void
packd_student_save (const PackdStudent *s, PackdSafetensorsWriter *w)
{
  char *json = packd_student_arch_to_json (&s->arch);

  packd_safetensors_writer_set_metadata (w, "packd.arch", json);
  g_free (json);
  for (guint i = 0; i < s->params->len; i++) {
    const StudentParam *p = g_ptr_array_index (s->params, i);
    PackdTensor t;
    packd_tensor_init (&t, p->ndim, p->shape, p->data);
    packd_safetensors_writer_add (w, p->name, &t);
  }
}

/* Trainable parameters are the params with a grad buffer. */
static StudentParam *
trainable_nth (const PackdStudent *s, int i)
{
  for (guint k = 0; k < s->params->len; k++) {
    StudentParam *p = g_ptr_array_index (s->params, k);
    if (p->grad && i-- == 0)
      return p;
  }
  return NULL;
}

int
packd_student_n_params (const PackdStudent *s)
{
  int n = 0;
  for (guint k = 0; k < s->params->len; k++)
    n += ((StudentParam *) g_ptr_array_index (s->params, k))->grad != NULL;
  return n;
}

const char *
packd_student_param_name (const PackdStudent *s, int i)
{
  StudentParam *p = trainable_nth (s, i);
  return p ? p->name : NULL;
}

float *
packd_student_param_data (PackdStudent *s, int i, int64_t *n)
{
  StudentParam *p = trainable_nth (s, i);
  if (n)
    *n = p ? p->n : 0;
  return p ? p->data : NULL;
}

float *
packd_student_param_grad (PackdStudent *s, int i)
{
  StudentParam *p = trainable_nth (s, i);
  return p ? p->grad : NULL;
}

void
packd_student_register_params (PackdStudent *s, PackdAdam *adam)
{
  for (guint k = 0; k < s->params->len; k++) {
    StudentParam *p = g_ptr_array_index (s->params, k);
    if (p->grad)
      packd_adam_add_param (adam, p->name, p->data, p->grad, p->n);
  }
}

void
packd_student_zero_grad (PackdStudent *s)
{
  for (guint k = 0; k < s->params->len; k++) {
    StudentParam *p = g_ptr_array_index (s->params, k);
    if (p->grad)
      memset (p->grad, 0, p->n * sizeof (float));
  }
}

/* ---- MACs ---------------------------------------------------------------- */

static const char *const module_names[] = { "ocbe", "decoder", "peim", "map", "peim-extract" };

int
packd_student_n_modules (void)
{
  return G_N_ELEMENTS (module_names);
}

const char *
packd_student_module_name (int i)
{
  return i >= 0 && i < (int) G_N_ELEMENTS (module_names) ? module_names[i] : NULL;
}

/* out_hw: output pixels of the unit */
static int64_t
unit_macs (const Unit *u, int64_t out_hw)
{
  return u->kind == UNIT_DW ? out_hw * 9 * u->cin : out_hw * u->cin * u->cout;
}

static int64_t
stage_macs (const Stage *st, int64_t hw)
{
  int64_t m = unit_macs (&st->up, hw) + unit_macs (&st->head, hw);
  for (int k = 0; k < st->n_blocks; k++)
    m += unit_macs (&st->expand[k], hw) + unit_macs (&st->dw[k], hw)
        + unit_macs (&st->project[k], hw);
  return m;
}

int64_t
packd_student_module_macs (const PackdStudent *s, int i)
{
  const PackdStudentArch *a = &s->arch;
  int64_t hw[PACKD_STUDENT_LEVELS + 1], m = 0;

  for (int L = 1; L <= 4; L++) {
    int g = packd_student_arch_grid (a, L);
    hw[L] = (int64_t) g * g;
  }
  switch (i) {
    case 0:
      return unit_macs (&s->p1_dw1, hw[2]) + unit_macs (&s->p1_pw1, hw[2])
          + unit_macs (&s->p1_dw2, hw[3]) + unit_macs (&s->p1_pw2, hw[3])
          + unit_macs (&s->p2_dw, hw[3]) + unit_macs (&s->p2_pw, hw[3])
          + unit_macs (&s->enc_pw, hw[3]) + unit_macs (&s->enc_dw, hw[4])
          + unit_macs (&s->enc_out, hw[4]);
    case 1:
      for (int j = 0; j < 3; j++)
        m += stage_macs (&s->stages[j], hw[j + 1]);
      return m;
    case 2:
      if (!a->peim)
        return 0;
      for (int L = 2; L <= 4; L++)
        m += peim_integrate_macs (hw[L], a->prototypes, a->tap_channels[L - 1], L == 4);
      return m;
    case 3:
      /* per-level cosine, then upsample + sum + separable blur (radius 16) */
      for (int L = 1; L <= 3; L++)
        m += hw[L] * a->tap_channels[L - 1];
      return m + (int64_t) a->size * a->size * (3 * 4 + 2 * 33);
    case 4:
      if (!a->peim)
        return 0;
      for (int L = 2; L <= 4; L++)
        m += 2 * hw[L] * a->prototypes * a->tap_channels[L - 1];
      return m;
    default:
      return 0;
  }
}

void
packd_student_extract_prototypes (const PackdStudent *s, int level, const float *x,
    int64_t rows, float *prototypes)
{
  int M, C;
  float *q_hat, *x_hat, *a;

  g_return_if_fail (s->arch.peim && level >= 2 && level <= 4);
  M = s->arch.prototypes;
  C = s->arch.tap_channels[level - 1];
  q_hat = g_new (float, (gsize) M * C);
  x_hat = g_new (float, (gsize) rows * C);
  a = g_new (float, (gsize) M * rows);
  peim_queries_normalise (s->queries[level]->data, M, C, q_hat, NULL);
  peim_extract_forward (q_hat, x, rows, M, C, s->arch.tau_e, x_hat, a, prototypes);
  g_free (q_hat);
  g_free (x_hat);
  g_free (a);
}

/* ---- model files --------------------------------------------------------- */

static const char *const teacher_meta_keys[] = {
  "architecture", "bn_folded", "classes", "dequant", "licence", "preprocess", "source",
  "weights_sha256", "packd.format_version",
};

void
packd_model_write (PackdSafetensorsWriter *w, const PackdSafetensors *teacher_st,
    const char *teacher_prefix, const PackdStudent *student)
{
  const gsize plen = strlen (teacher_prefix);

  for (guint i = 0; i < packd_safetensors_n_tensors (teacher_st); i++) {
    const char *name = packd_safetensors_tensor_name (teacher_st, i);
    PackdTensor t;
    char *out_name;
    if (strncmp (name, teacher_prefix, plen) != 0 || g_str_has_prefix (name + plen, "student.")
        || !packd_safetensors_get (teacher_st, name, 0, NULL, &t, NULL))
      continue;
    out_name = g_strconcat ("teacher.", name + plen, NULL);
    packd_safetensors_writer_add (w, out_name, &t);
    g_free (out_name);
  }
  for (guint i = 0; i < G_N_ELEMENTS (teacher_meta_keys); i++) {
    const char *key = teacher_meta_keys[i];
    char *full = plen ? g_strconcat ("teacher.", key, NULL) : NULL;
    /* a model file as source keeps them under teacher.<key> */
    const char *v = packd_safetensors_get_metadata (teacher_st, full ? full : key);
    char *out_key = g_strconcat ("teacher.", key, NULL);
    if (v)
      packd_safetensors_writer_set_metadata (w, out_key, v);
    if (v && g_str_equal (key, "licence"))
      packd_safetensors_writer_set_metadata (w, "licence",
          "packd model (LGPL-2.1-or-later); embedded teacher: see teacher.licence");
    g_free (out_key);
    g_free (full);
  }
  packd_safetensors_writer_set_metadata (w, "packd.format", "packd-model");
  packd_student_save (student, w);
}

PackdModel *
packd_model_load (const char *path, GError **error)
{
  PackdModel *m = g_new0 (PackdModel, 1);

  m->st = packd_safetensors_open (path, error);
  if (m->st == NULL)
    goto fail;
  if (g_strcmp0 (packd_safetensors_get_metadata (m->st, "packd.format"), "packd-model") != 0) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_MODEL,
        "not a PACKD model file (metadata packd.format is not \"packd-model\")");
    goto fail_prefix;
  }
  m->teacher = packd_teacher_new (m->st, "teacher.", error);
  if (m->teacher == NULL)
    goto fail_prefix;
  m->student = packd_student_new_from_file (m->st, error);
  if (m->student == NULL
      || !packd_student_arch_check_teacher (&m->student->arch, m->teacher, error))
    goto fail_prefix;
  return m;

fail_prefix:
  g_prefix_error (error, "%s: ", path);
fail:
  packd_model_free (m);
  return NULL;
}

void
packd_model_free (PackdModel *m)
{
  if (m == NULL)
    return;
  packd_student_free (m->student);
  packd_teacher_free (m->teacher);
  packd_safetensors_free (m->st);
  g_free (m);
}
