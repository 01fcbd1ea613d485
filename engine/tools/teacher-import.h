/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PACKD_TEACHER_IMPORT_H
#define PACKD_TEACHER_IMPORT_H

#include <glib.h>
#include <json-glib/json-glib.h>

#include "packd-safetensors.h"

G_BEGIN_DECLS

/* The input parsers of packd-convert-teacher, shared with its fuzzer
 * (tests/fuzz/fuzz-convert-teacher-input.c).  Every malformed input is a
 * GError in PACKD_ERROR (FORMAT: not the expected structure; MODEL: valid
 * but a layer configuration the conversion does not support). */

/* One manifest entry, dequantised. */
typedef struct {
  char *name;
  int ndim;
  int64_t shape[PACKD_MAX_DIMS];
  int64_t numel;
  float *data;
  gboolean used;
} PackdImportWeight;

typedef struct {
  guint n_conv, n_depthwise, n_dense;
  int64_t n_params;
  double bn_epsilon;            /* shared by all BN layers, or -1 when they differ */
} PackdImportStats;

/* The weight shard is a JS module whose only string literal is the base64
 * blob: ...exports="<base64>"...  Returns the decoded bytes (g_free). */
guint8 *packd_teacher_import_decode_shard (const char *text, gsize text_len, const char *origin,
    gsize *blob_len, GError **error);

/* model.json text; the root must be an object. */
JsonParser *packd_teacher_import_parse_model (const char *text, gssize text_len,
    const char *origin, GError **error);

/* Bytes the blob must hold: one per uint8 parameter of weightsManifest[0]. */
gboolean packd_teacher_import_manifest_total (JsonObject *root, int64_t *total, GError **error);

/* Dequantises every manifest tensor from blob (the tensors concatenated in
 * manifest order; blob_len must equal the manifest total) into a
 * name -> PackdImportWeight table. */
GHashTable *packd_teacher_import_load_weights (JsonObject *root, const guint8 *blob,
    gsize blob_len, GError **error);

/* Walks modelTopology: Conv2D / DepthwiseConv2D with their following
 * BatchNormalization folded, and Dense layers, into writer.  Every manifest
 * tensor must be used. */
gboolean packd_teacher_import_convert_layers (PackdSafetensorsWriter *writer, GHashTable *weights,
    JsonObject *root, PackdImportStats *stats, GError **error);

G_END_DECLS

#endif /* PACKD_TEACHER_IMPORT_H */
