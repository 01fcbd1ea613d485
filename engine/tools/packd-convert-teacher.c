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
 * The input parsing, dequantisation and BN folding are in teacher-import.c
 * (shared with the fuzzer); this file adds the pinned-weights checks and
 * writes the file. */


#include <glib.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "packd-error.h"
#include "packd-safetensors.h"
#include "teacher-import.h"

#define EXPECTED_BLOB_BYTES 2619461
#define EXPECTED_BLOB_SHA256 "8e7dddbb16acacc1bf1601b1b8a761e730ff934b7f2d7771312b2f000e5f5f13"
#define CHECKSUM_TOLERANCE 5e-4

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

static guint8 *
read_blob (const char *path, gsize *len, GError **error)
{
  g_autofree char *text = NULL;
  gsize text_len;
  if (!g_file_get_contents (path, &text, &text_len, error))
    return NULL;
  return packd_teacher_import_decode_shard (text, text_len, path, len, error);
}

static char *
check_blob (const guint8 *blob, gsize len, int64_t needed, GError **error)
{
  if (needed != EXPECTED_BLOB_BYTES) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_MODEL, "the manifest lists %" G_GINT64_FORMAT
        " parameters, expected %d (is this nsfwjs@4.4.0 mobilenet_v2?)", needed,
        EXPECTED_BLOB_BYTES);
    return NULL;
  }
  if ((int64_t) len != needed) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_FORMAT, "decoded weights are %" G_GSIZE_FORMAT
        " bytes but the manifest needs %" G_GINT64_FORMAT " (one byte per uint8 parameter)",
        len, needed);
    return NULL;
  }

  char *sha256 = g_compute_checksum_for_data (G_CHECKSUM_SHA256, blob, len);
  if (strcmp (sha256, EXPECTED_BLOB_SHA256) != 0) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_MODEL,
        "weights sha256 is %s, expected %s: not the pinned nsfwjs@4.4.0 weights",
        sha256, EXPECTED_BLOB_SHA256);
    g_free (sha256);
    return NULL;
  }
  return sha256;
}

static gboolean
verify_checksums (GHashTable *weights, GError **error)
{
  for (guint i = 0; i < G_N_ELEMENTS (checksums); i++) {
    const PackdImportWeight *w = g_hash_table_lookup (weights, checksums[i].name);
    if (!w) {
      g_set_error (error, PACKD_ERROR, PACKD_ERROR_MODEL,
          "checksum tensor %s missing from the manifest", checksums[i].name);
      return FALSE;
    }
    double sum = 0.0;
    for (int64_t j = 0; j < w->numel; j++)
      sum += w->data[j];
    double delta = sum - checksums[i].sum;
    g_print ("  sum %-42s = %+.6f (expected %+.6f, delta %+.1e)\n",
        checksums[i].name, sum, checksums[i].sum, delta);
    if (fabs (delta) > CHECKSUM_TOLERANCE) {
      g_set_error (error, PACKD_ERROR, PACKD_ERROR_MODEL,
          "checksum of %s is off by %g (tolerance %g): wrong dequantisation or blob order",
          checksums[i].name, delta, CHECKSUM_TOLERANCE);
      return FALSE;
    }
  }
  return TRUE;
}

/* The whole conversion; FALSE with error set when any step or check fails. */
static gboolean
convert (const char *model_json, const char *weights_path, const char *out_path,
    const char *source_note, GError **error)
{
  g_autofree char *model_text = NULL;
  gsize model_len;
  if (!g_file_get_contents (model_json, &model_text, &model_len, error))
    return FALSE;
  g_autoptr (JsonParser) parser =
      packd_teacher_import_parse_model (model_text, model_len, model_json, error);
  if (!parser)
    return FALSE;
  JsonObject *root = json_node_get_object (json_parser_get_root (parser));

  gsize blob_len;
  g_autofree guint8 *blob = read_blob (weights_path, &blob_len, error);
  if (!blob)
    return FALSE;
  int64_t total;
  if (!packd_teacher_import_manifest_total (root, &total, error))
    return FALSE;
  g_autofree char *sha256 = check_blob (blob, blob_len, total, error);
  if (!sha256)
    return FALSE;
  g_autoptr (GHashTable) weights =
      packd_teacher_import_load_weights (root, blob, blob_len, error);
  if (!weights)
    return FALSE;
  g_print ("packd-convert-teacher: %u tensors, %" G_GINT64_FORMAT " uint8 parameters, sha256 %s\n",
      g_hash_table_size (weights), total, sha256);

  if (!verify_checksums (weights, error))
    return FALSE;

  PackdSafetensorsWriter *writer = packd_safetensors_writer_new ();
  PackdImportStats stats;
  if (!packd_teacher_import_convert_layers (writer, weights, root, &stats, error)) {
    packd_safetensors_writer_free (writer);
    return FALSE;
  }
  g_print ("  %u conv + %u depthwise (BN folded), %u dense layers: %u tensors, %"
      G_GINT64_FORMAT " parameters\n", stats.n_conv, stats.n_depthwise, stats.n_dense,
      2 * (stats.n_conv + stats.n_depthwise + stats.n_dense), stats.n_params);
  g_autofree char *bn_note = stats.bn_epsilon > 0 ?
      g_strdup_printf ("eps from layer config (%g)", stats.bn_epsilon) :
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

  gboolean saved = packd_safetensors_writer_save (writer, out_path, error);
  packd_safetensors_writer_free (writer);
  if (saved)
    g_print ("  wrote %s\n", out_path);
  return saved;
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
    goto failed;
  if (!model_json || !weights_path || !out_path) {
    g_set_error (&error, PACKD_ERROR, PACKD_ERROR_INVALID_ARGUMENT,
        "--model-json, --weights and --out are required (see --help)");
    goto failed;
  }
  if (!convert (model_json, weights_path, out_path, source_note, &error))
    goto failed;
  return 0;

failed:
  g_printerr ("packd-convert-teacher: %s\n", error->message);
  return 1;
}

