/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PACKD_SAFETENSORS_H
#define PACKD_SAFETENSORS_H

#include <glib.h>
#include "packd-tensor.h"

G_BEGIN_DECLS

/* Reader and writer for the safetensors format:
 *   8-byte little-endian u64 header length N,
 *   N bytes of JSON: { "__metadata__": {str: str}, "name": {"dtype": "F32",
 *   "shape": [..], "data_offsets": [begin, end]}, ... },
 *   then the data section (offsets are relative to its start).
 * The reader memory-maps the file and validates everything before use:
 * bounded header length, offsets inside the data section and non-overlapping,
 * dtype known and size consistent with shape.  Only F32 tensors can be
 * fetched as PackdTensor views. */

#define PACKD_SAFETENSORS_MAX_HEADER (16 * 1024 * 1024)

typedef struct _PackdSafetensors PackdSafetensors;

PackdSafetensors *packd_safetensors_open (const char *path, GError **error);
/* Same validation on a caller-owned buffer (copied); used by the fuzzers. */
PackdSafetensors *packd_safetensors_open_bytes (const guint8 *data, gsize len, GError **error);
void packd_safetensors_free (PackdSafetensors *st);

/* __metadata__ lookups; NULL when absent. */
const char *packd_safetensors_get_metadata (const PackdSafetensors *st, const char *key);
guint packd_safetensors_n_tensors (const PackdSafetensors *st);
/* Names in file order of their data offsets. */
const char *packd_safetensors_tensor_name (const PackdSafetensors *st, guint i);
gboolean packd_safetensors_has (const PackdSafetensors *st, const char *name);

/* Fetch an F32 tensor.  When expected_shape is non-NULL the tensor must have
 * exactly ndim dims of those sizes (a -1 entry accepts any size); otherwise
 * a GError names the tensor, the expected and the found shape.  The view
 * points into the mapping (or an aligned copy owned by st), valid until
 * packd_safetensors_free(). */
gboolean packd_safetensors_get (const PackdSafetensors *st, const char *name,
    int ndim, const int64_t *expected_shape, PackdTensor *out, GError **error);

/* Writer: collects tensors (data copied at add time) and metadata, then
 * writes the file atomically (temp file + rename). */
typedef struct _PackdSafetensorsWriter PackdSafetensorsWriter;

PackdSafetensorsWriter *packd_safetensors_writer_new (void);
void packd_safetensors_writer_free (PackdSafetensorsWriter *w);
void packd_safetensors_writer_set_metadata (PackdSafetensorsWriter *w, const char *key, const char *value);
/* Contiguous or strided input; stored contiguous, F32. Replaces a same-named tensor. */
void packd_safetensors_writer_add (PackdSafetensorsWriter *w, const char *name, const PackdTensor *t);
gboolean packd_safetensors_writer_save (PackdSafetensorsWriter *w, const char *path, GError **error);

G_END_DECLS

#endif /* PACKD_SAFETENSORS_H */
