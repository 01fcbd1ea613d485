/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* Fuzz target: the inputs of packd-convert-teacher (engine/tools/teacher-import.c).
 * Input layout: model.json text, a NUL byte, then the weight shard text
 * (...exports="<base64>"...).  Runs what the converter runs: parse the
 * model, decode the shard, dequantise the manifest, walk the topology and
 * fold BN into an in-memory writer.  The pinned-sha256 check of the real
 * converter is skipped, so any weights reach the later stages. */

#include <string.h>

#include "fuzz-common.h"
#include "packd-error.h"
#include "teacher-import.h"

/* Manifests up to this many parameters also get a blob of the right size
 * when the shard's does not match, so the dequantisation and the topology
 * walk see every manifest the fuzzer makes. */
#define MAX_SYNTHETIC_BLOB 65536

static void
convert (JsonObject *root, const guint8 *blob, gsize blob_len)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GHashTable) weights =
      packd_teacher_import_load_weights (root, blob, blob_len, &error);
  if (weights == NULL) {
    FUZZ_CHECK_PACKD_ERROR (error);
    return;
  }
  PackdSafetensorsWriter *writer = packd_safetensors_writer_new ();
  PackdImportStats stats;
  if (packd_teacher_import_convert_layers (writer, weights, root, &stats, &error))
    FUZZ_CHECK (stats.n_conv + stats.n_depthwise > 0 && stats.n_params > 0);
  else
    FUZZ_CHECK_PACKD_ERROR (error);
  packd_safetensors_writer_free (writer);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const char *text = (const char *) data;
  const char *nul = memchr (text, '\0', size);
  gsize json_len = nul ? (gsize) (nul - text) : size;
  const char *shard = nul ? nul + 1 : "";
  gsize shard_len = nul ? size - json_len - 1 : 0;

  g_autoptr (GError) error = NULL;
  gsize blob_len = 0;
  g_autofree guint8 *blob =
      packd_teacher_import_decode_shard (shard, shard_len, "shard", &blob_len, &error);
  if (blob == NULL)
    FUZZ_CHECK_PACKD_ERROR (error);
  g_clear_error (&error);

  g_autoptr (JsonParser) parser =
      packd_teacher_import_parse_model (text, json_len, "model.json", &error);
  if (parser == NULL) {
    FUZZ_CHECK_PACKD_ERROR (error);
    return 0;
  }
  JsonObject *root = json_node_get_object (json_parser_get_root (parser));
  int64_t total;
  if (!packd_teacher_import_manifest_total (root, &total, &error)) {
    FUZZ_CHECK_PACKD_ERROR (error);
    return 0;
  }
  FUZZ_CHECK (total >= 0);
  convert (root, blob ? blob : (const guint8 *) "", blob_len);
  if ((int64_t) blob_len != total && total <= MAX_SYNTHETIC_BLOB) {
    g_autofree guint8 *sized = g_malloc (MAX (total, 1));
    for (int64_t i = 0; i < total; i++)
      sized[i] = blob_len ? blob[i % blob_len] : (guint8) i;
    convert (root, sized, total);
  }
  return 0;
}
