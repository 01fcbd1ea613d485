/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* packd-convert-teacher: turns the Keras MobileNetV2 bundled in npm
 * nsfwjs@4.4.0 (TF.js layers model, uint8-quantised weights) into a
 * safetensors file of float32 tensors with BatchNorm folded into the convs.
 *
 *   packd-convert-teacher --model-json model.json \
 *       --weights group1-shard1of1.min.js --out teacher-mobilenetv2.safetensors
 *
 * model.json is model.min.js turned into JSON by node (see
 * models/import-teacher.sh).  Output tensors (the contract of engine/teacher.c):
 *   <conv>.weight  HWIO [kh,kw,cin,cout] (1x1 convs stay 4-D), BN folded
 *   <dw>.weight    [kh,kw,C] (depth multiplier 1 dropped), BN folded
 *   <conv|dw>.bias [cout]
 *   dense_N.weight [in,out], dense_N.bias [out]
 *
 * Arithmetic, all float32 (the golden values of teacher.md depend on it):
 *   dequantise: w = (float) q * (float) scale + (float) min, two roundings, no FMA
 *   fold:       s  = gamma / sqrtf (var + (float) eps)
 *               w' = w * s;   b' = beta - (mean * s)   (product rounded first)
 * This file is built with -ffp-contract=off so no multiply-add is fused. */

#include <glib.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "packd-safetensors.h"

#define EXPECTED_BLOB_BYTES 2619461
#define EXPECTED_BLOB_SHA256 "8e7dddbb16acacc1bf1601b1b8a761e730ff934b7f2d7771312b2f000e5f5f13"
#define CHECKSUM_TOLERANCE 5e-4
#define DEFAULT_BN_EPSILON 1e-3

/* One manifest entry, dequantised. */
typedef struct {
  char *name;
  int ndim;
  int64_t shape[PACKD_MAX_DIMS];
  int64_t numel;
  float *data;
  gboolean used;
} Weight;

/* teacher.md: sums of dequantised values, a check on the blob order and
 * on the dequantisation arithmetic. */
static const struct {
  const char *name;
  double sum;
} checksums[] = {
  { "Conv1/kernel", -5.333411 },
  { "expanded_conv_depthwise/depthwise_kernel", -16.066313 },
  { "bn_Conv1/moving_variance", 2.629034 },
  { "dense_3/bias", 0.005762 },
};

static void fail (const char *format, ...) G_GNUC_PRINTF (1, 2) G_GNUC_NORETURN;

static void
fail (const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *msg = g_strdup_vprintf (format, args);
  va_end (args);
  g_printerr ("packd-convert-teacher: %s\n", msg);
  exit (1);
}

static void
weight_free (gpointer p)
{
  Weight *w = p;
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

/* ---- JSON helpers (every lookup fails loudly with a path) ---- */

static JsonObject *
object_member (JsonObject *obj, const char *member, const char *where)
{
  JsonNode *node = obj ? json_object_get_member (obj, member) : NULL;
  if (!node || !JSON_NODE_HOLDS_OBJECT (node))
    fail ("%s: member \"%s\" missing or not an object", where, member);
  return json_node_get_object (node);
}

static JsonArray *
array_member (JsonObject *obj, const char *member, const char *where)
{
  JsonNode *node = obj ? json_object_get_member (obj, member) : NULL;
  if (!node || !JSON_NODE_HOLDS_ARRAY (node))
    fail ("%s: member \"%s\" missing or not an array", where, member);
  return json_node_get_array (node);
}

static const char *
string_member (JsonObject *obj, const char *member, const char *where)
{
  JsonNode *node = obj ? json_object_get_member (obj, member) : NULL;
  if (!node || json_node_get_value_type (node) != G_TYPE_STRING)
    fail ("%s: member \"%s\" missing or not a string", where, member);
  return json_node_get_string (node);
}

static double
number_member (JsonObject *obj, const char *member, const char *where)
{
  JsonNode *node = obj ? json_object_get_member (obj, member) : NULL;
  if (!node || !JSON_NODE_HOLDS_VALUE (node))
    fail ("%s: member \"%s\" missing or not a number", where, member);
  GType type = json_node_get_value_type (node);
  if (type == G_TYPE_INT64)
    return (double) json_node_get_int (node);
  if (type == G_TYPE_DOUBLE)
    return json_node_get_double (node);
  fail ("%s: member \"%s\" is not a number", where, member);
}

static gboolean
bool_member_or (JsonObject *obj, const char *member, gboolean fallback)
{
  JsonNode *node = json_object_get_member (obj, member);
  if (!node || json_node_get_value_type (node) != G_TYPE_BOOLEAN)
    return fallback;
  return json_node_get_boolean (node);
}

/* ---- weights ---- */

/* The shard file is a JS module whose only string literal is the base64 blob:
 * ...h.exports="<base64>"... */
static guint8 *
read_blob (const char *path, gsize *len)
{
  g_autofree char *text = NULL;
  gsize text_len;
  g_autoptr (GError) error = NULL;
  if (!g_file_get_contents (path, &text, &text_len, &error))
    fail ("cannot read weights: %s", error->message);

  const char *marker = "exports=\"";
  const char *start = strstr (text, marker);
  if (!start)
    fail ("%s: no exports=\"...\" string literal found (not an nsfwjs weight shard?)", path);
  start += strlen (marker);
  const char *end = strchr (start, '"');
  if (!end)
    fail ("%s: unterminated exports string literal", path);

  gsize b64_len = end - start;
  for (gsize i = 0; i < b64_len; i++) {
    char c = start[i];
    if (!g_ascii_isalnum (c) && c != '+' && c != '/' && c != '=')
      fail ("%s: unexpected character 0x%02x at offset %" G_GSIZE_FORMAT " of the base64 string",
          path, (guint8) c, i);
  }
  if (b64_len == 0 || b64_len % 4 != 0)
    fail ("%s: base64 string length %" G_GSIZE_FORMAT " is not a positive multiple of 4",
        path, b64_len);

  g_autofree char *b64 = g_strndup (start, b64_len);
  return g_base64_decode (b64, len);
}

static void
check_blob (const guint8 *blob, gsize len, int64_t needed, char **sha256_out)
{
  if (needed != EXPECTED_BLOB_BYTES)
    fail ("the manifest lists %" G_GINT64_FORMAT " parameters, expected %d "
        "(is this nsfwjs@4.4.0 mobilenet_v2?)", needed, EXPECTED_BLOB_BYTES);
  if ((int64_t) len != needed)
    fail ("decoded weights are %" G_GSIZE_FORMAT " bytes but the manifest needs %"
        G_GINT64_FORMAT " (one byte per uint8 parameter)", len, needed);

  char *sha256 = g_compute_checksum_for_data (G_CHECKSUM_SHA256, blob, len);
  if (strcmp (sha256, EXPECTED_BLOB_SHA256) != 0)
    fail ("weights sha256 is %s, expected %s: not the pinned nsfwjs@4.4.0 weights",
        sha256, EXPECTED_BLOB_SHA256);
  *sha256_out = sha256;
}

/* weightsManifest[0].weights: [{name, shape, dtype, quantization}]. */
static JsonArray *
manifest_specs (JsonObject *root)
{
  JsonArray *manifests = array_member (root, "weightsManifest", "model.json");
  if (json_array_get_length (manifests) != 1)
    fail ("model.json: expected exactly one weightsManifest group, found %u",
        json_array_get_length (manifests));
  JsonObject *group = json_array_get_object_element (manifests, 0);
  return array_member (group, "weights", "weightsManifest[0]");
}

/* Shape of one manifest entry; returns its element count. */
static int64_t
spec_shape (JsonObject *spec, int *ndim, int64_t *dims)
{
  const char *name = string_member (spec, "name", "weightsManifest[0].weights[]");
  JsonArray *shape = array_member (spec, "shape", name);
  guint n = json_array_get_length (shape);
  if (n < 1 || n > PACKD_MAX_DIMS)
    fail ("%s: %u dimensions not supported", name, n);
  int64_t numel = 1;
  for (guint d = 0; d < n; d++) {
    dims[d] = json_array_get_int_element (shape, d);
    if (dims[d] < 1 || dims[d] > (1 << 20))
      fail ("%s: bad dimension %" G_GINT64_FORMAT, name, dims[d]);
    numel *= dims[d];
  }
  *ndim = n;
  return numel;
}

/* Bytes the blob must hold: one per parameter, no padding. */
static int64_t
manifest_total (JsonObject *root)
{
  JsonArray *specs = manifest_specs (root);
  int64_t total = 0;
  for (guint i = 0; i < json_array_get_length (specs); i++) {
    int ndim;
    int64_t dims[PACKD_MAX_DIMS];
    total += spec_shape (json_array_get_object_element (specs, i), &ndim, dims);
  }
  return total;
}

/* Dequantises every manifest tensor from the (already checked) blob, where
 * they are concatenated in manifest order, into a name -> Weight table. */
static GHashTable *
load_manifest (JsonObject *root, const guint8 *blob)
{
  JsonArray *specs = manifest_specs (root);
  GHashTable *table = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, weight_free);
  int64_t offset = 0;
  for (guint i = 0; i < json_array_get_length (specs); i++) {
    JsonObject *spec = json_array_get_object_element (specs, i);
    Weight *w = g_new0 (Weight, 1);
    w->numel = spec_shape (spec, &w->ndim, w->shape);
    w->name = g_strdup (string_member (spec, "name", "weightsManifest[0].weights[]"));
    JsonObject *quant = object_member (spec, "quantization", w->name);
    if (strcmp (string_member (spec, "dtype", w->name), "float32") != 0 ||
        strcmp (string_member (quant, "dtype", w->name), "uint8") != 0)
      fail ("%s: only float32 tensors quantised to uint8 are supported", w->name);
    if (g_hash_table_contains (table, w->name))
      fail ("%s: listed twice in the manifest", w->name);

    w->data = g_new (float, w->numel);
    dequantise (blob + offset, w->numel, number_member (quant, "scale", w->name),
        number_member (quant, "min", w->name), w->data);
    offset += w->numel;
    g_hash_table_insert (table, w->name, w);
  }
  return table;
}

static Weight *
weight_lookup (GHashTable *weights, const char *layer, const char *param)
{
  g_autofree char *key = g_strdup_printf ("%s/%s", layer, param);
  Weight *w = g_hash_table_lookup (weights, key);
  if (!w)
    fail ("weight %s missing from the manifest", key);
  w->used = TRUE;
  return w;
}

static void
verify_checksums (GHashTable *weights)
{
  for (guint i = 0; i < G_N_ELEMENTS (checksums); i++) {
    Weight *w = g_hash_table_lookup (weights, checksums[i].name);
    if (!w)
      fail ("checksum tensor %s missing from the manifest", checksums[i].name);
    double sum = 0.0;
    for (int64_t j = 0; j < w->numel; j++)
      sum += w->data[j];
    double delta = sum - checksums[i].sum;
    g_print ("  sum %-42s = %+.6f (expected %+.6f, delta %+.1e)\n",
        checksums[i].name, sum, checksums[i].sum, delta);
    if (fabs (delta) > CHECKSUM_TOLERANCE)
      fail ("checksum of %s is off by %g (tolerance %g): wrong dequantisation or blob order",
          checksums[i].name, delta, CHECKSUM_TOLERANCE);
  }
}

/* ---- topology ---- */

/* Name of the single layer feeding layer (inbound_nodes [[[name, 0, 0, {}]]]),
 * or NULL for none / several. */
static const char *
single_inbound (JsonObject *layer)
{
  JsonNode *node = json_object_get_member (layer, "inbound_nodes");
  if (!node || !JSON_NODE_HOLDS_ARRAY (node))
    return NULL;
  JsonArray *nodes = json_node_get_array (node);
  if (json_array_get_length (nodes) != 1)
    return NULL;
  JsonArray *inputs = json_array_get_array_element (nodes, 0);
  if (!inputs || json_array_get_length (inputs) != 1)
    return NULL;
  JsonArray *input = json_array_get_array_element (inputs, 0);
  if (!input || json_array_get_length (input) < 1)
    return NULL;
  JsonNode *name = json_array_get_element (input, 0);
  return json_node_get_value_type (name) == G_TYPE_STRING ? json_node_get_string (name) : NULL;
}

/* Counts, for every layer name, how many inbound references other layers make
 * to it, so a conv whose output is used beyond its BN is not folded. */
static GHashTable *
count_consumers (JsonArray *layers)
{
  GHashTable *counts = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < json_array_get_length (layers); i++) {
    JsonObject *layer = json_array_get_object_element (layers, i);
    JsonArray *nodes = array_member (layer, "inbound_nodes", "layer");
    for (guint n = 0; n < json_array_get_length (nodes); n++) {
      JsonArray *inputs = json_array_get_array_element (nodes, n);
      for (guint k = 0; inputs && k < json_array_get_length (inputs); k++) {
        JsonArray *input = json_array_get_array_element (inputs, k);
        if (!input || json_array_get_length (input) < 1)
          fail ("layer %u: malformed inbound_nodes", i);
        const char *src = json_array_get_string_element (input, 0);
        if (!src)
          fail ("layer %u: malformed inbound_nodes", i);
        guint c = GPOINTER_TO_UINT (g_hash_table_lookup (counts, src));
        g_hash_table_insert (counts, (gpointer) src, GUINT_TO_POINTER (c + 1));
      }
    }
  }
  return counts;
}

/* Finds the BatchNormalization layer fed by conv_name, checks conv_name
 * feeds nothing else, and returns its config. */
static JsonObject *
find_bn (JsonArray *layers, GHashTable *consumers, const char *conv_name, const char **bn_name)
{
  if (GPOINTER_TO_UINT (g_hash_table_lookup (consumers, conv_name)) != 1)
    fail ("layer %s: output used by %u layers, expected only its BatchNormalization",
        conv_name, GPOINTER_TO_UINT (g_hash_table_lookup (consumers, conv_name)));
  for (guint i = 0; i < json_array_get_length (layers); i++) {
    JsonObject *layer = json_array_get_object_element (layers, i);
    const char *src = single_inbound (layer);
    if (!src || strcmp (src, conv_name) != 0)
      continue;
    const char *cls = string_member (layer, "class_name", "layer");
    if (strcmp (cls, "BatchNormalization") != 0)
      fail ("layer %s is followed by %s, expected BatchNormalization", conv_name, cls);
    *bn_name = string_member (layer, "name", "layer");
    return object_member (layer, "config", *bn_name);
  }
  fail ("layer %s: no BatchNormalization follows it", conv_name);
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

/* Conv2D / DepthwiseConv2D + following BN -> <name>.weight, <name>.bias.
 * *eps_seen tracks the BN epsilon (NAN before the first, -1 once they differ). */
static int64_t
convert_conv (PackdSafetensorsWriter *writer, GHashTable *weights, JsonArray *layers,
    GHashTable *consumers, JsonObject *layer, gboolean depthwise, double *eps_seen)
{
  const char *name = string_member (layer, "name", "layer");
  JsonObject *config = object_member (layer, "config", name);
  if (bool_member_or (config, "use_bias", FALSE))
    fail ("layer %s: convolution with its own bias is not supported", name);
  if (depthwise && number_member (config, "depth_multiplier", name) != 1)
    fail ("layer %s: depth_multiplier other than 1 is not supported", name);

  Weight *kernel = weight_lookup (weights, name, depthwise ? "depthwise_kernel" : "kernel");
  if (kernel->ndim != 4 || (depthwise && kernel->shape[3] != 1))
    fail ("layer %s: unexpected kernel rank or shape", name);
  int64_t channels = depthwise ? kernel->shape[2] : kernel->shape[3];

  const char *bn_name = NULL;
  JsonObject *bn = find_bn (layers, consumers, name, &bn_name);
  if (json_object_has_member (bn, "axis")) {
    int axis = (int) number_member (bn, "axis", bn_name);
    if (axis != -1 && axis != 3)
      fail ("layer %s: BatchNormalization over axis %d, expected the channel axis", bn_name, axis);
  }
  if (!bool_member_or (bn, "center", TRUE) || !bool_member_or (bn, "scale", TRUE))
    fail ("layer %s: BatchNormalization without center/scale is not supported", bn_name);
  double eps = json_object_has_member (bn, "epsilon") ?
      number_member (bn, "epsilon", bn_name) : DEFAULT_BN_EPSILON;
  if (!(eps > 0.0) || eps > 1.0)
    fail ("layer %s: epsilon %g out of range", bn_name, eps);
  *eps_seen = (isnan (*eps_seen) || *eps_seen == eps) ? eps : -1.0;

  const Weight *gamma = weight_lookup (weights, bn_name, "gamma");
  const Weight *beta = weight_lookup (weights, bn_name, "beta");
  const Weight *mean = weight_lookup (weights, bn_name, "moving_mean");
  const Weight *var = weight_lookup (weights, bn_name, "moving_variance");
  const Weight *vectors[] = { gamma, beta, mean, var };
  for (guint v = 0; v < G_N_ELEMENTS (vectors); v++)
    if (vectors[v]->ndim != 1 || vectors[v]->shape[0] != channels)
      fail ("%s: expected [%" G_GINT64_FORMAT "] to match %s", vectors[v]->name, channels, name);

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
convert_dense (PackdSafetensorsWriter *writer, GHashTable *weights, JsonObject *layer)
{
  const char *name = string_member (layer, "name", "layer");
  JsonObject *config = object_member (layer, "config", name);
  if (!bool_member_or (config, "use_bias", TRUE))
    fail ("layer %s: Dense without bias is not supported", name);
  Weight *kernel = weight_lookup (weights, name, "kernel");
  Weight *bias = weight_lookup (weights, name, "bias");
  if (kernel->ndim != 2 || bias->ndim != 1 || bias->shape[0] != kernel->shape[1])
    fail ("layer %s: unexpected kernel/bias shapes", name);
  add_tensor (writer, name, "weight", 2, kernel->shape, kernel->data);
  add_tensor (writer, name, "bias", 1, bias->shape, bias->data);
  return kernel->numel + bias->numel;
}

/* Walks the layer list; every manifest tensor must end up in the output.
 * Returns the BN epsilon shared by all layers, or -1 when they differ. */
static double
convert_layers (PackdSafetensorsWriter *writer, GHashTable *weights, JsonObject *root)
{
  double eps = NAN;
  JsonObject *topology = object_member (root, "modelTopology", "model.json");
  JsonObject *model_config = object_member (topology, "model_config", "modelTopology");
  JsonObject *config = object_member (model_config, "config", "model_config");
  JsonArray *layers = array_member (config, "layers", "model_config.config");
  g_autoptr (GHashTable) consumers = count_consumers (layers);

  guint n_conv = 0, n_depthwise = 0, n_dense = 0;
  int64_t n_params = 0;
  for (guint i = 0; i < json_array_get_length (layers); i++) {
    JsonObject *layer = json_array_get_object_element (layers, i);
    if (!layer)
      fail ("model_config.config.layers[%u] is not an object", i);
    const char *cls = string_member (layer, "class_name", "layer");
    if (strcmp (cls, "Conv2D") == 0) {
      n_params += convert_conv (writer, weights, layers, consumers, layer, FALSE, &eps);
      n_conv++;
    } else if (strcmp (cls, "DepthwiseConv2D") == 0) {
      n_params += convert_conv (writer, weights, layers, consumers, layer, TRUE, &eps);
      n_depthwise++;
    } else if (strcmp (cls, "Dense") == 0) {
      n_params += convert_dense (writer, weights, layer);
      n_dense++;
    }
  }

  GHashTableIter iter;
  gpointer value;
  g_hash_table_iter_init (&iter, weights);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    const Weight *w = value;
    if (!w->used)
      fail ("manifest tensor %s belongs to no converted layer", w->name);
  }
  g_print ("  %u conv + %u depthwise (BN folded), %u dense layers: %u tensors, %"
      G_GINT64_FORMAT " parameters\n", n_conv, n_depthwise, n_dense,
      2 * (n_conv + n_depthwise + n_dense), n_params);
  if (n_conv + n_depthwise == 0)
    fail ("model.json: no convolution layers found");
  return eps;
}

int
main (int argc, char **argv)
{
  g_autofree char *model_json = NULL, *weights_path = NULL, *out_path = NULL;
  g_autofree char *source_note = NULL;
  GOptionEntry entries[] = {
    { "model-json", 0, 0, G_OPTION_ARG_FILENAME, &model_json,
      "nsfwjs model.min.js turned into JSON by node", "FILE" },
    { "weights", 0, 0, G_OPTION_ARG_FILENAME, &weights_path,
      "group1-shard1of1.min.js (base64 weights)", "FILE" },
    { "out", 0, 0, G_OPTION_ARG_FILENAME, &out_path, "output safetensors file", "FILE" },
    { "source-note", 0, 0, G_OPTION_ARG_STRING, &source_note,
      "where the weights came from (stored as metadata \"source\")", "TEXT" },
    { NULL }
  };
  g_autoptr (GOptionContext) context =
      g_option_context_new ("- convert the nsfwjs MobileNetV2 into a packd teacher file");
  g_option_context_add_main_entries (context, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (context, &argc, &argv, &error))
    fail ("%s", error->message);
  if (!model_json || !weights_path || !out_path)
    fail ("--model-json, --weights and --out are required (see --help)");

  g_autoptr (JsonParser) parser = json_parser_new ();
  if (!json_parser_load_from_file (parser, model_json, &error))
    fail ("%s: %s", model_json, error->message);
  JsonNode *root_node = json_parser_get_root (parser);
  if (!root_node || !JSON_NODE_HOLDS_OBJECT (root_node))
    fail ("%s: top level is not an object", model_json);
  JsonObject *root = json_node_get_object (root_node);

  gsize blob_len;
  g_autofree guint8 *blob = read_blob (weights_path, &blob_len);
  int64_t total = manifest_total (root);
  g_autofree char *sha256 = NULL;
  check_blob (blob, blob_len, total, &sha256);
  g_autoptr (GHashTable) weights = load_manifest (root, blob);
  g_print ("packd-convert-teacher: %u tensors, %" G_GINT64_FORMAT " uint8 parameters, sha256 %s\n",
      g_hash_table_size (weights), total, sha256);

  verify_checksums (weights);

  PackdSafetensorsWriter *writer = packd_safetensors_writer_new ();
  double eps = convert_layers (writer, weights, root);
  g_autofree char *bn_note = eps > 0 ?
      g_strdup_printf ("eps from layer config (%g)", eps) :
      g_strdup ("eps from layer config (differs per layer)");

  packd_safetensors_writer_set_metadata (writer, "packd.format", "teacher");
  packd_safetensors_writer_set_metadata (writer, "packd.format_version", "1");
  packd_safetensors_writer_set_metadata (writer, "architecture", "mobilenetv2-1.0-keras");
  packd_safetensors_writer_set_metadata (writer, "classes", "Drawing,Hentai,Neutral,Porn,Sexy");
  packd_safetensors_writer_set_metadata (writer, "preprocess",
      "rgb/255; resize bilinear align_corners=true");
  packd_safetensors_writer_set_metadata (writer, "bn_folded", bn_note);
  packd_safetensors_writer_set_metadata (writer, "dequant",
      "float32 q*scale+min, two roundings, no FMA");
  packd_safetensors_writer_set_metadata (writer, "source",
      source_note ? source_note : "unspecified");
  packd_safetensors_writer_set_metadata (writer, "licence",
      "MIT, Copyright (c) Infinite Red, Inc.; see LICENSE.nsfwjs beside this file");
  packd_safetensors_writer_set_metadata (writer, "weights_sha256", sha256);

  gboolean saved = packd_safetensors_writer_save (writer, out_path, &error);
  packd_safetensors_writer_free (writer);
  if (!saved)
    fail ("%s", error->message);
  g_print ("  wrote %s\n", out_path);
  return 0;
}
