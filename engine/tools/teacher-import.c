/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* Parsers of packd-convert-teacher's inputs (see teacher-import.h).
 * Arithmetic, all float32 (the golden values of teacher.md depend on it):
 *   dequantise: w = (float) q * (float) scale + (float) min, two roundings, no FMA
 *   fold:       s  = gamma / sqrtf (var + (float) eps)
 *               w' = w * s;   b' = beta - (mean * s)   (product rounded first)
 * This file is built with -ffp-contract=off so no multiply-add is fused. */

#include "teacher-import.h"
#include "packd-error.h"

#include <math.h>
#include <string.h>

#define DEFAULT_BN_EPSILON 1e-3
/* One byte each in memory: far above any real model, low enough that
 * element counts and offsets never overflow. */
#define MAX_PARAMETERS ((int64_t) 1 << 31)

#define set_format_error(error, ...) \
  g_set_error (error, PACKD_ERROR, PACKD_ERROR_FORMAT, __VA_ARGS__)
#define set_model_error(error, ...) \
  g_set_error (error, PACKD_ERROR, PACKD_ERROR_MODEL, __VA_ARGS__)

static void
weight_free (gpointer p)
{
  PackdImportWeight *w = p;
  g_free (w->name);
  g_free (w->data);
  g_free (w);
}

/* w = (float) q * (float) scale + (float) min with two float32 roundings.
 * The volatile product keeps the multiply and the add apart even if the
 * build flags were to allow contraction into an FMA. */
static void
dequantise (const guint8 *q, int64_t n, double scale, double min, float *out)
{
  const float s = (float) scale;
  const float m = (float) min;
  for (int64_t i = 0; i < n; i++) {
    volatile float product = (float) q[i] * s;
    out[i] = product + m;
  }
}

/* ---- JSON helpers (every failed lookup names its path) ---- */

static JsonObject *
object_member (JsonObject *obj, const char *member, const char *where, GError **error)
{
  JsonNode *node = obj ? json_object_get_member (obj, member) : NULL;
  if (!node || !JSON_NODE_HOLDS_OBJECT (node)) {
    set_format_error (error, "%s: member \"%s\" missing or not an object", where, member);
    return NULL;
  }
  return json_node_get_object (node);
}

static JsonArray *
array_member (JsonObject *obj, const char *member, const char *where, GError **error)
{
  JsonNode *node = obj ? json_object_get_member (obj, member) : NULL;
  if (!node || !JSON_NODE_HOLDS_ARRAY (node)) {
    set_format_error (error, "%s: member \"%s\" missing or not an array", where, member);
    return NULL;
  }
  return json_node_get_array (node);
}

static const char *
string_member (JsonObject *obj, const char *member, const char *where, GError **error)
{
  JsonNode *node = obj ? json_object_get_member (obj, member) : NULL;
  if (!node || json_node_get_value_type (node) != G_TYPE_STRING) {
    set_format_error (error, "%s: member \"%s\" missing or not a string", where, member);
    return NULL;
  }
  return json_node_get_string (node);
}

static gboolean
number_member (JsonObject *obj, const char *member, const char *where, double *out,
    GError **error)
{
  JsonNode *node = obj ? json_object_get_member (obj, member) : NULL;
  GType type = node && JSON_NODE_HOLDS_VALUE (node) ? json_node_get_value_type (node) : 0;
  if (type == G_TYPE_INT64)
    *out = (double) json_node_get_int (node);
  else if (type == G_TYPE_DOUBLE)
    *out = json_node_get_double (node);
  else {
    set_format_error (error, "%s: member \"%s\" missing or not a number", where, member);
    return FALSE;
  }
  return TRUE;
}

static gboolean
bool_member_or (JsonObject *obj, const char *member, gboolean fallback)
{
  JsonNode *node = json_object_get_member (obj, member);
  if (!node || json_node_get_value_type (node) != G_TYPE_BOOLEAN)
    return fallback;
  return json_node_get_boolean (node);
}

/* Element i of an array when it has the wanted type, else NULL (json-glib's
 * typed getters print a critical on any other type). */
static JsonObject *
object_element (JsonArray *array, guint i)
{
  JsonNode *node = json_array_get_element (array, i);
  return JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

static JsonArray *
array_element (JsonArray *array, guint i)
{
  JsonNode *node = json_array_get_element (array, i);
  return JSON_NODE_HOLDS_ARRAY (node) ? json_node_get_array (node) : NULL;
}

static const char *
string_element (JsonArray *array, guint i)
{
  JsonNode *node = json_array_get_element (array, i);
  return json_node_get_value_type (node) == G_TYPE_STRING ? json_node_get_string (node) : NULL;
}

/* ---- weights ---- */

guint8 *
packd_teacher_import_decode_shard (const char *text, gsize text_len, const char *origin,
    gsize *blob_len, GError **error)
{
  static const char marker[] = "exports=\"";
  const char *text_end = text + text_len;
  const char *start = g_strstr_len (text, text_len, marker);
  if (!start) {
    set_format_error (error,
        "%s: no exports=\"...\" string literal found (not an nsfwjs weight shard?)", origin);
    return NULL;
  }
  start += strlen (marker);
  const char *end = memchr (start, '"', text_end - start);
  if (!end) {
    set_format_error (error, "%s: unterminated exports string literal", origin);
    return NULL;
  }

  gsize b64_len = end - start;
  for (gsize i = 0; i < b64_len; i++) {
    char c = start[i];
    if (!g_ascii_isalnum (c) && c != '+' && c != '/' && c != '=') {
      set_format_error (error, "%s: unexpected character 0x%02x at offset %" G_GSIZE_FORMAT
          " of the base64 string", origin, (guint8) c, i);
      return NULL;
    }
  }
  if (b64_len == 0 || b64_len % 4 != 0) {
    set_format_error (error, "%s: base64 string length %" G_GSIZE_FORMAT
        " is not a positive multiple of 4", origin, b64_len);
    return NULL;
  }

  g_autofree char *b64 = g_strndup (start, b64_len);
  return g_base64_decode (b64, blob_len);
}

JsonParser *
packd_teacher_import_parse_model (const char *text, gssize text_len, const char *origin,
    GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) json_error = NULL;
  if (!json_parser_load_from_data (parser, text, text_len, &json_error)) {
    set_format_error (error, "%s: %s", origin, json_error->message);
    return NULL;
  }
  JsonNode *root = json_parser_get_root (parser);
  if (!root || !JSON_NODE_HOLDS_OBJECT (root)) {
    set_format_error (error, "%s: top level is not an object", origin);
    return NULL;
  }
  return g_steal_pointer (&parser);
}

/* weightsManifest[0].weights: [{name, shape, dtype, quantization}]. */
static JsonArray *
manifest_specs (JsonObject *root, GError **error)
{
  JsonArray *manifests = array_member (root, "weightsManifest", "model.json", error);
  if (!manifests)
    return NULL;
  if (json_array_get_length (manifests) != 1) {
    set_format_error (error, "model.json: expected exactly one weightsManifest group, found %u",
        json_array_get_length (manifests));
    return NULL;
  }
  JsonObject *group = object_element (manifests, 0);
  return array_member (group, "weights", "weightsManifest[0]", error);
}

/* Shape of one manifest entry and its element count; -1 on error. */
static int64_t
spec_shape (JsonObject *spec, int *ndim, int64_t *dims, GError **error)
{
  const char *name = string_member (spec, "name", "weightsManifest[0].weights[]", error);
  JsonArray *shape = name ? array_member (spec, "shape", name, error) : NULL;
  if (!shape)
    return -1;
  guint n = json_array_get_length (shape);
  if (n < 1 || n > PACKD_MAX_DIMS) {
    set_format_error (error, "%s: %u dimensions not supported", name, n);
    return -1;
  }
  int64_t numel = 1;
  for (guint d = 0; d < n; d++) {
    JsonNode *dim = json_array_get_element (shape, d);
    dims[d] = json_node_get_value_type (dim) == G_TYPE_INT64 ? json_node_get_int (dim) : 0;
    if (dims[d] < 1 || dims[d] > (1 << 20)) {
      set_format_error (error, "%s: bad dimension %" G_GINT64_FORMAT, name, dims[d]);
      return -1;
    }
    if (numel > MAX_PARAMETERS / dims[d]) {
      set_format_error (error, "%s: more than %" G_GINT64_FORMAT " parameters", name,
          MAX_PARAMETERS);
      return -1;
    }
    numel *= dims[d];
  }
  *ndim = n;
  return numel;
}

gboolean
packd_teacher_import_manifest_total (JsonObject *root, int64_t *total, GError **error)
{
  JsonArray *specs = manifest_specs (root, error);
  if (!specs)
    return FALSE;
  *total = 0;
  for (guint i = 0; i < json_array_get_length (specs); i++) {
    int ndim;
    int64_t dims[PACKD_MAX_DIMS];
    int64_t numel = spec_shape (object_element (specs, i), &ndim, dims, error);
    if (numel < 0)
      return FALSE;
    if (numel > MAX_PARAMETERS - *total) {
      set_format_error (error, "model.json: the manifest lists more than %" G_GINT64_FORMAT
          " parameters", MAX_PARAMETERS);
      return FALSE;
    }
    *total += numel;
  }
  return TRUE;
}

GHashTable *
packd_teacher_import_load_weights (JsonObject *root, const guint8 *blob, gsize blob_len,
    GError **error)
{
  int64_t total;
  if (!packd_teacher_import_manifest_total (root, &total, error))
    return NULL;
  if ((int64_t) blob_len != total) {
    set_format_error (error, "decoded weights are %" G_GSIZE_FORMAT " bytes but the manifest "
        "needs %" G_GINT64_FORMAT " (one byte per uint8 parameter)", blob_len, total);
    return NULL;
  }

  JsonArray *specs = manifest_specs (root, error);
  g_autoptr (GHashTable) table =
      g_hash_table_new_full (g_str_hash, g_str_equal, NULL, weight_free);
  int64_t offset = 0;
  for (guint i = 0; i < json_array_get_length (specs); i++) {
    JsonObject *spec = object_element (specs, i);
    PackdImportWeight *w = g_new0 (PackdImportWeight, 1);
    w->numel = spec_shape (spec, &w->ndim, w->shape, error);
    w->name = g_strdup (string_member (spec, "name", "weightsManifest[0].weights[]", NULL));
    JsonObject *quant = object_member (spec, "quantization", w->name, error);
    const char *dtype = quant ? string_member (spec, "dtype", w->name, error) : NULL;
    const char *qdtype = dtype ? string_member (quant, "dtype", w->name, error) : NULL;
    double scale, min;
    if (!qdtype || !number_member (quant, "scale", w->name, &scale, error) ||
        !number_member (quant, "min", w->name, &min, error)) {
      weight_free (w);
      return NULL;
    }
    if (strcmp (dtype, "float32") != 0 || strcmp (qdtype, "uint8") != 0) {
      set_model_error (error, "%s: only float32 tensors quantised to uint8 are supported",
          w->name);
      weight_free (w);
      return NULL;
    }
    if (g_hash_table_contains (table, w->name)) {
      set_format_error (error, "%s: listed twice in the manifest", w->name);
      weight_free (w);
      return NULL;
    }

    w->data = g_new (float, w->numel);
    dequantise (blob + offset, w->numel, scale, min, w->data);
    offset += w->numel;
    g_hash_table_insert (table, w->name, w);
  }
  return g_steal_pointer (&table);
}

static PackdImportWeight *
weight_lookup (GHashTable *weights, const char *layer, const char *param, GError **error)
{
  g_autofree char *key = g_strdup_printf ("%s/%s", layer, param);
  PackdImportWeight *w = g_hash_table_lookup (weights, key);
  if (!w) {
    set_format_error (error, "weight %s missing from the manifest", key);
    return NULL;
  }
  w->used = TRUE;
  return w;
}

/* ---- topology ---- */

/* Name of the single layer feeding layer (inbound_nodes [[[name, 0, 0, {}]]]),
 * or NULL for none / several. */
static const char *
single_inbound (JsonObject *layer)
{
  JsonNode *node = layer ? json_object_get_member (layer, "inbound_nodes") : NULL;
  if (!node || !JSON_NODE_HOLDS_ARRAY (node))
    return NULL;
  JsonArray *nodes = json_node_get_array (node);
  if (json_array_get_length (nodes) != 1)
    return NULL;
  JsonArray *inputs = array_element (nodes, 0);
  if (!inputs || json_array_get_length (inputs) != 1)
    return NULL;
  JsonArray *input = array_element (inputs, 0);
  if (!input || json_array_get_length (input) < 1)
    return NULL;
  JsonNode *name = json_array_get_element (input, 0);
  return json_node_get_value_type (name) == G_TYPE_STRING ? json_node_get_string (name) : NULL;
}

/* Counts, for every layer name, how many inbound references other layers make
 * to it, so a conv whose output is used beyond its BN is not folded. */
static GHashTable *
count_consumers (JsonArray *layers, GError **error)
{
  g_autoptr (GHashTable) counts = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < json_array_get_length (layers); i++) {
    JsonObject *layer = object_element (layers, i);
    JsonArray *nodes = array_member (layer, "inbound_nodes", "layer", error);
    if (!nodes)
      return NULL;
    for (guint n = 0; n < json_array_get_length (nodes); n++) {
      JsonArray *inputs = array_element (nodes, n);
      if (!inputs) {
        set_format_error (error, "layer %u: malformed inbound_nodes", i);
        return NULL;
      }
      for (guint k = 0; k < json_array_get_length (inputs); k++) {
        JsonArray *input = array_element (inputs, k);
        const char *src = input && json_array_get_length (input) >= 1 ?
            string_element (input, 0) : NULL;
        if (!src) {
          set_format_error (error, "layer %u: malformed inbound_nodes", i);
          return NULL;
        }
        guint c = GPOINTER_TO_UINT (g_hash_table_lookup (counts, src));
        g_hash_table_insert (counts, (gpointer) src, GUINT_TO_POINTER (c + 1));
      }
    }
  }
  return g_steal_pointer (&counts);
}

/* Finds the BatchNormalization layer fed by conv_name, checks conv_name
 * feeds nothing else, and returns its config. */
static JsonObject *
find_bn (JsonArray *layers, GHashTable *consumers, const char *conv_name, const char **bn_name,
    GError **error)
{
  guint n_consumers = GPOINTER_TO_UINT (g_hash_table_lookup (consumers, conv_name));
  if (n_consumers != 1) {
    set_model_error (error, "layer %s: output used by %u layers, expected only its "
        "BatchNormalization", conv_name, n_consumers);
    return NULL;
  }
  for (guint i = 0; i < json_array_get_length (layers); i++) {
    JsonObject *layer = object_element (layers, i);
    const char *src = single_inbound (layer);
    if (!src || strcmp (src, conv_name) != 0)
      continue;
    const char *cls = string_member (layer, "class_name", "layer", error);
    if (!cls)
      return NULL;
    if (strcmp (cls, "BatchNormalization") != 0) {
      set_model_error (error, "layer %s is followed by %s, expected BatchNormalization",
          conv_name, cls);
      return NULL;
    }
    *bn_name = string_member (layer, "name", "layer", error);
    return *bn_name ? object_member (layer, "config", *bn_name, error) : NULL;
  }
  set_model_error (error, "layer %s: no BatchNormalization follows it", conv_name);
  return NULL;
}

static void
add_tensor (PackdSafetensorsWriter *writer, const char *layer, const char *suffix,
    int ndim, const int64_t *shape, float *data)
{
  g_autofree char *name = g_strdup_printf ("%s.%s", layer, suffix);
  PackdTensor t;
  packd_tensor_init (&t, ndim, shape, data);
  packd_safetensors_writer_add (writer, name, &t);
}

/* The BN of a conv: checks its configuration, returns its epsilon. */
static gboolean
bn_epsilon (JsonObject *bn, const char *bn_name, double *eps, GError **error)
{
  if (json_object_has_member (bn, "axis")) {
    double axis;
    if (!number_member (bn, "axis", bn_name, &axis, error))
      return FALSE;
    if (axis != -1 && axis != 3) {
      set_model_error (error, "layer %s: BatchNormalization over axis %g, expected the channel "
          "axis", bn_name, axis);
      return FALSE;
    }
  }
  if (!bool_member_or (bn, "center", TRUE) || !bool_member_or (bn, "scale", TRUE)) {
    set_model_error (error, "layer %s: BatchNormalization without center/scale is not supported",
        bn_name);
    return FALSE;
  }
  *eps = DEFAULT_BN_EPSILON;
  if (json_object_has_member (bn, "epsilon") &&
      !number_member (bn, "epsilon", bn_name, eps, error))
    return FALSE;
  if (!(*eps > 0.0) || *eps > 1.0) {
    set_model_error (error, "layer %s: epsilon %g out of range", bn_name, *eps);
    return FALSE;
  }
  return TRUE;
}

/* Conv2D / DepthwiseConv2D + following BN -> <name>.weight, <name>.bias.
 * stats->bn_epsilon tracks the BN epsilon (NAN before the first, -1 once
 * they differ).  Returns the parameter count, -1 on error. */
static int64_t
convert_conv (PackdSafetensorsWriter *writer, GHashTable *weights, JsonArray *layers,
    GHashTable *consumers, JsonObject *layer, gboolean depthwise, PackdImportStats *stats,
    GError **error)
{
  const char *name = string_member (layer, "name", "layer", error);
  JsonObject *config = name ? object_member (layer, "config", name, error) : NULL;
  if (!config)
    return -1;
  if (bool_member_or (config, "use_bias", FALSE)) {
    set_model_error (error, "layer %s: convolution with its own bias is not supported", name);
    return -1;
  }
  if (depthwise) {
    double multiplier;
    if (!number_member (config, "depth_multiplier", name, &multiplier, error))
      return -1;
    if (multiplier != 1) {
      set_model_error (error, "layer %s: depth_multiplier other than 1 is not supported", name);
      return -1;
    }
  }

  PackdImportWeight *kernel =
      weight_lookup (weights, name, depthwise ? "depthwise_kernel" : "kernel", error);
  if (!kernel)
    return -1;
  if (kernel->ndim != 4 || (depthwise && kernel->shape[3] != 1)) {
    set_model_error (error, "layer %s: unexpected kernel rank or shape", name);
    return -1;
  }
  int64_t channels = depthwise ? kernel->shape[2] : kernel->shape[3];

  const char *bn_name = NULL;
  double eps;
  JsonObject *bn = find_bn (layers, consumers, name, &bn_name, error);
  if (!bn || !bn_epsilon (bn, bn_name, &eps, error))
    return -1;
  stats->bn_epsilon = (isnan (stats->bn_epsilon) || stats->bn_epsilon == eps) ? eps : -1.0;

  const char *params[] = { "gamma", "beta", "moving_mean", "moving_variance" };
  const PackdImportWeight *vectors[G_N_ELEMENTS (params)];
  for (guint v = 0; v < G_N_ELEMENTS (params); v++) {
    vectors[v] = weight_lookup (weights, bn_name, params[v], error);
    if (!vectors[v])
      return -1;
    if (vectors[v]->ndim != 1 || vectors[v]->shape[0] != channels) {
      set_model_error (error, "%s: expected [%" G_GINT64_FORMAT "] to match %s",
          vectors[v]->name, channels, name);
      return -1;
    }
  }
  const PackdImportWeight *gamma = vectors[0], *beta = vectors[1];
  const PackdImportWeight *mean = vectors[2], *var = vectors[3];

  /* Output channel is the fastest-varying index of HWIO and of [kh,kw,C,1]. */
  g_autofree float *scale = g_new (float, channels);
  g_autofree float *bias = g_new (float, channels);
  const float eps_f = (float) eps;
  for (int64_t c = 0; c < channels; c++) {
    scale[c] = gamma->data[c] / sqrtf (var->data[c] + eps_f);
    bias[c] = beta->data[c] - mean->data[c] * scale[c];
  }
  g_autofree float *folded = g_new (float, kernel->numel);
  for (int64_t i = 0; i < kernel->numel; i++)
    folded[i] = kernel->data[i] * scale[i % channels];

  add_tensor (writer, name, "weight", depthwise ? 3 : 4, kernel->shape, folded);
  add_tensor (writer, name, "bias", 1, &channels, bias);
  return kernel->numel + channels;
}

static int64_t
convert_dense (PackdSafetensorsWriter *writer, GHashTable *weights, JsonObject *layer,
    GError **error)
{
  const char *name = string_member (layer, "name", "layer", error);
  JsonObject *config = name ? object_member (layer, "config", name, error) : NULL;
  if (!config)
    return -1;
  if (!bool_member_or (config, "use_bias", TRUE)) {
    set_model_error (error, "layer %s: Dense without bias is not supported", name);
    return -1;
  }
  PackdImportWeight *kernel = weight_lookup (weights, name, "kernel", error);
  PackdImportWeight *bias = kernel ? weight_lookup (weights, name, "bias", error) : NULL;
  if (!bias)
    return -1;
  if (kernel->ndim != 2 || bias->ndim != 1 || bias->shape[0] != kernel->shape[1]) {
    set_model_error (error, "layer %s: unexpected kernel/bias shapes", name);
    return -1;
  }
  add_tensor (writer, name, "weight", 2, kernel->shape, kernel->data);
  add_tensor (writer, name, "bias", 1, bias->shape, bias->data);
  return kernel->numel + bias->numel;
}

gboolean
packd_teacher_import_convert_layers (PackdSafetensorsWriter *writer, GHashTable *weights,
    JsonObject *root, PackdImportStats *stats, GError **error)
{
  memset (stats, 0, sizeof (*stats));
  stats->bn_epsilon = NAN;
  JsonObject *topology = object_member (root, "modelTopology", "model.json", error);
  JsonObject *model_config = topology ?
      object_member (topology, "model_config", "modelTopology", error) : NULL;
  JsonObject *config = model_config ?
      object_member (model_config, "config", "model_config", error) : NULL;
  JsonArray *layers = config ? array_member (config, "layers", "model_config.config", error) : NULL;
  if (!layers)
    return FALSE;
  g_autoptr (GHashTable) consumers = count_consumers (layers, error);
  if (!consumers)
    return FALSE;

  for (guint i = 0; i < json_array_get_length (layers); i++) {
    JsonObject *layer = object_element (layers, i);
    if (!layer) {
      set_format_error (error, "model_config.config.layers[%u] is not an object", i);
      return FALSE;
    }
    const char *cls = string_member (layer, "class_name", "layer", error);
    int64_t n_params = 0;
    if (!cls)
      return FALSE;
    if (strcmp (cls, "Conv2D") == 0) {
      n_params = convert_conv (writer, weights, layers, consumers, layer, FALSE, stats, error);
      stats->n_conv++;
    } else if (strcmp (cls, "DepthwiseConv2D") == 0) {
      n_params = convert_conv (writer, weights, layers, consumers, layer, TRUE, stats, error);
      stats->n_depthwise++;
    } else if (strcmp (cls, "Dense") == 0) {
      n_params = convert_dense (writer, weights, layer, error);
      stats->n_dense++;
    }
    if (n_params < 0)
      return FALSE;
    stats->n_params += n_params;
  }

  GHashTableIter iter;
  gpointer value;
  g_hash_table_iter_init (&iter, weights);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    const PackdImportWeight *w = value;
    if (!w->used) {
      set_format_error (error, "manifest tensor %s belongs to no converted layer", w->name);
      return FALSE;
    }
  }
  if (stats->n_conv + stats->n_depthwise == 0) {
    set_format_error (error, "model.json: no convolution layers found");
    return FALSE;
  }
  return TRUE;
}
