/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "packd-safetensors.h"
#include "packd-error.h"

#include <json-glib/json-glib.h>
#include <string.h>

/* safetensors allows any rank; we parse up to this and refuse more. */
#define MAX_FILE_RANK 8
/* A valid header nests 3 deep (object > tensor > shape); anything much deeper
 * is hostile and would only drive json-glib's recursive parser into the stack. */
#define MAX_JSON_DEPTH 16

typedef struct {
  const char *name;
  gsize size;
} DtypeInfo;

static const DtypeInfo dtypes[] = {
  {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"F64", 8}, {"I8", 1},
  {"U8", 1}, {"I16", 2}, {"I32", 4}, {"I64", 8}, {"BOOL", 1},
};

typedef struct {
  char *name;
  const DtypeInfo *dtype;
  int rank;
  int64_t shape[MAX_FILE_RANK];
  guint64 begin, end;           /* relative to the data section */
  float *copy;                  /* aligned (and host-endian) copy, or NULL */
} Entry;

struct _PackdSafetensors {
  char *origin;                 /* path or "(memory)", for messages */
  GMappedFile *mapped;
  guint8 *owned;
  const guint8 *section;        /* start of the data section */
  guint64 section_len;
  GPtrArray *entries;           /* Entry*, sorted by data offset */
  GHashTable *by_name;          /* name -> Entry* (borrowed) */
  GHashTable *metadata;         /* key -> value */
};

static void
entry_free (gpointer p)
{
  Entry *e = p;
  g_free (e->name);
  g_free (e->copy);
  g_free (e);
}

static const DtypeInfo *
dtype_lookup (const char *name)
{
  for (guint i = 0; i < G_N_ELEMENTS (dtypes); i++)
    if (strcmp (dtypes[i].name, name) == 0)
      return &dtypes[i];
  return NULL;
}

/* Like packd_tensor_shape_string, for the file's ranks up to MAX_FILE_RANK. */
static void
shape_to_string (const int64_t *shape, int rank, char *buf, gsize len)
{
  gsize pos = g_snprintf (buf, len, "[");
  for (int i = 0; i < rank && pos < len; i++)
    pos += g_snprintf (buf + pos, len - pos, i ? ",%" G_GINT64_FORMAT : "%" G_GINT64_FORMAT,
        (gint64) shape[i]);
  if (pos < len)
    g_snprintf (buf + pos, len - pos, "]");
}

/* Nesting depth of the JSON text, ignoring brackets inside strings. */
static gboolean
json_depth_ok (const char *s, gsize n)
{
  int depth = 0;
  gboolean in_string = FALSE;
  for (gsize i = 0; i < n; i++) {
    char c = s[i];
    if (in_string) {
      if (c == '\\')
        i++;
      else if (c == '"')
        in_string = FALSE;
    } else if (c == '"') {
      in_string = TRUE;
    } else if (c == '{' || c == '[') {
      if (++depth > MAX_JSON_DEPTH)
        return FALSE;
    } else if (c == '}' || c == ']') {
      depth--;
    }
  }
  return TRUE;
}

static gboolean
node_get_uint (JsonNode *node, guint64 *out)
{
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_INT64)
    return FALSE;
  gint64 v = json_node_get_int (node);
  if (v < 0)
    return FALSE;
  *out = (guint64) v;
  return TRUE;
}

static gboolean
parse_metadata (PackdSafetensors *st, JsonNode *node, GError **error)
{
  if (!JSON_NODE_HOLDS_OBJECT (node)) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_FORMAT,
        "%s: safetensors __metadata__ is not an object", st->origin);
    return FALSE;
  }
  JsonObjectIter iter;
  const char *key;
  JsonNode *value;
  json_object_iter_init (&iter, json_node_get_object (node));
  while (json_object_iter_next (&iter, &key, &value)) {
    if (!JSON_NODE_HOLDS_VALUE (value) || json_node_get_value_type (value) != G_TYPE_STRING) {
      g_set_error (error, PACKD_ERROR, PACKD_ERROR_FORMAT,
          "%s: safetensors __metadata__ value of \"%s\" is not a string", st->origin, key);
      return FALSE;
    }
    g_hash_table_replace (st->metadata, g_strdup (key), g_strdup (json_node_get_string (value)));
  }
  return TRUE;
}

static Entry *
parse_entry (PackdSafetensors *st, const char *name, JsonNode *node, GError **error)
{
  const char *what = NULL;
  JsonObject *obj = NULL;
  JsonNode *member;
  JsonArray *arr;
  g_autofree char *found = NULL;
  Entry *e = g_new0 (Entry, 1);
  e->name = g_strdup (name);

  if (!JSON_NODE_HOLDS_OBJECT (node)) {
    what = "entry is not an object";
    goto bad;
  }
  obj = json_node_get_object (node);

  member = json_object_get_member (obj, "dtype");
  if (member == NULL || !JSON_NODE_HOLDS_VALUE (member) ||
      json_node_get_value_type (member) != G_TYPE_STRING) {
    what = "missing or non-string \"dtype\"";
    goto bad;
  }
  e->dtype = dtype_lookup (json_node_get_string (member));
  if (e->dtype == NULL) {
    found = g_strdup_printf ("unknown dtype \"%s\"", json_node_get_string (member));
    what = found;
    goto bad;
  }

  member = json_object_get_member (obj, "shape");
  if (member == NULL || !JSON_NODE_HOLDS_ARRAY (member)) {
    what = "missing or non-array \"shape\"";
    goto bad;
  }
  arr = json_node_get_array (member);
  if (json_array_get_length (arr) > MAX_FILE_RANK) {
    what = "rank above 8";
    goto bad;
  }
  e->rank = json_array_get_length (arr);
  guint64 numel = 1;
  for (int i = 0; i < e->rank; i++) {
    guint64 dim;
    if (!node_get_uint (json_array_get_element (arr, i), &dim) || dim > G_MAXINT64) {
      what = "shape entries must be non-negative integers";
      goto bad;
    }
    e->shape[i] = (int64_t) dim;
    if (!g_uint64_checked_mul (&numel, numel, dim)) {
      what = "element count overflows";
      goto bad;
    }
  }
  guint64 nbytes;
  if (!g_uint64_checked_mul (&nbytes, numel, e->dtype->size)) {
    what = "byte size overflows";
    goto bad;
  }

  member = json_object_get_member (obj, "data_offsets");
  if (member == NULL || !JSON_NODE_HOLDS_ARRAY (member) ||
      json_array_get_length (arr = json_node_get_array (member)) != 2 ||
      !node_get_uint (json_array_get_element (arr, 0), &e->begin) ||
      !node_get_uint (json_array_get_element (arr, 1), &e->end)) {
    what = "\"data_offsets\" must be [begin, end] of non-negative integers";
    goto bad;
  }
  if (e->begin > e->end || e->end > st->section_len) {
    found = g_strdup_printf ("data_offsets [%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT
        "] outside the %" G_GUINT64_FORMAT "-byte data section", e->begin, e->end, st->section_len);
    what = found;
    goto bad;
  }
  if (e->end - e->begin != nbytes) {
    char shape[256];
    shape_to_string (e->shape, e->rank, shape, sizeof (shape));
    found = g_strdup_printf ("data_offsets span %" G_GUINT64_FORMAT " bytes but %s %s needs %"
        G_GUINT64_FORMAT, e->end - e->begin, e->dtype->name, shape, nbytes);
    what = found;
    goto bad;
  }
  return e;

bad:
  g_set_error (error, PACKD_ERROR, PACKD_ERROR_FORMAT, "%s: safetensors tensor \"%s\": %s",
      st->origin, name, what);
  entry_free (e);
  return NULL;
}

static gint
entry_compare (gconstpointer a, gconstpointer b)
{
  const Entry *x = *(Entry * const *) a, *y = *(Entry * const *) b;
  if (x->begin != y->begin)
    return x->begin < y->begin ? -1 : 1;
  if (x->end != y->end)
    return x->end < y->end ? -1 : 1;
  return strcmp (x->name, y->name);
}

static gboolean
check_overlap (PackdSafetensors *st, GError **error)
{
  const Entry *prev = NULL;
  for (guint i = 0; i < st->entries->len; i++) {
    const Entry *e = g_ptr_array_index (st->entries, i);
    if (e->begin == e->end)
      continue;                 /* empty tensors occupy no bytes */
    if (prev != NULL && e->begin < prev->end) {
      g_set_error (error, PACKD_ERROR, PACKD_ERROR_FORMAT,
          "%s: safetensors tensors \"%s\" and \"%s\" overlap", st->origin, prev->name, e->name);
      return FALSE;
    }
    prev = e;
  }
  return TRUE;
}

/* F32 data is read in place when aligned and little-endian, else copied. */
static void
prepare_f32 (PackdSafetensors *st, Entry *e)
{
  const guint8 *src = st->section + e->begin;
  gsize n = (e->end - e->begin) / sizeof (float);
  if (G_BYTE_ORDER == G_LITTLE_ENDIAN && ((guintptr) src % G_ALIGNOF (float)) == 0)
    return;
  e->copy = g_new (float, MAX (n, 1));
  memcpy (e->copy, src, n * sizeof (float));
#if G_BYTE_ORDER != G_LITTLE_ENDIAN
  guint32 *w = (guint32 *) e->copy;
  for (gsize i = 0; i < n; i++)
    w[i] = GUINT32_FROM_LE (w[i]);
#endif
}

static gboolean
parse_header (PackdSafetensors *st, const guint8 *data, gsize len, GError **error)
{
  if (len < 8) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_FORMAT,
        "%s: safetensors file too short (%" G_GSIZE_FORMAT " bytes) for the header length",
        st->origin, len);
    return FALSE;
  }
  guint64 n;
  memcpy (&n, data, 8);
  n = GUINT64_FROM_LE (n);
  if (n > PACKD_SAFETENSORS_MAX_HEADER) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_FORMAT,
        "%s: safetensors header length %" G_GUINT64_FORMAT " exceeds the limit of %d bytes",
        st->origin, n, PACKD_SAFETENSORS_MAX_HEADER);
    return FALSE;
  }
  if (n > len - 8) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_FORMAT,
        "%s: safetensors header length %" G_GUINT64_FORMAT " runs past the end of the file (%"
        G_GSIZE_FORMAT " bytes)", st->origin, n, len);
    return FALSE;
  }
  const char *header = (const char *) data + 8;
  st->section = data + 8 + n;
  st->section_len = len - 8 - n;

  if (!g_utf8_validate (header, n, NULL) || !json_depth_ok (header, n)) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_FORMAT,
        "%s: safetensors header is not UTF-8 JSON of sane nesting depth", st->origin);
    return FALSE;
  }
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  g_autoptr (GError) json_error = NULL;
  if (!json_parser_load_from_data (parser, header, n, &json_error)) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_FORMAT,
        "%s: safetensors header is not valid JSON: %s", st->origin, json_error->message);
    return FALSE;
  }
  JsonNode *root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root)) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_FORMAT,
        "%s: safetensors header is not a JSON object", st->origin);
    return FALSE;
  }

  JsonObjectIter iter;
  const char *name;
  JsonNode *node;
  json_object_iter_init (&iter, json_node_get_object (root));
  while (json_object_iter_next (&iter, &name, &node)) {
    if (strcmp (name, "__metadata__") == 0) {
      if (!parse_metadata (st, node, error))
        return FALSE;
      continue;
    }
    Entry *e = parse_entry (st, name, node, error);
    if (e == NULL)
      return FALSE;
    g_ptr_array_add (st->entries, e);
    g_hash_table_replace (st->by_name, e->name, e);
  }
  g_ptr_array_sort (st->entries, entry_compare);
  if (!check_overlap (st, error))
    return FALSE;
  for (guint i = 0; i < st->entries->len; i++) {
    Entry *e = g_ptr_array_index (st->entries, i);
    if (e->dtype == &dtypes[0])
      prepare_f32 (st, e);
  }
  return TRUE;
}

static PackdSafetensors *
safetensors_new (const char *origin)
{
  PackdSafetensors *st = g_new0 (PackdSafetensors, 1);
  st->origin = g_strdup (origin);
  st->entries = g_ptr_array_new_with_free_func (entry_free);
  st->by_name = g_hash_table_new (g_str_hash, g_str_equal);
  st->metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return st;
}

PackdSafetensors *
packd_safetensors_open (const char *path, GError **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  g_autoptr (GError) map_error = NULL;
  GMappedFile *mapped = g_mapped_file_new (path, FALSE, &map_error);
  if (mapped == NULL) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_IO, "%s: cannot open safetensors file: %s",
        path, map_error->message);
    return NULL;
  }
  PackdSafetensors *st = safetensors_new (path);
  st->mapped = mapped;
  if (!parse_header (st, (const guint8 *) g_mapped_file_get_contents (mapped),
          g_mapped_file_get_length (mapped), error)) {
    packd_safetensors_free (st);
    return NULL;
  }
  return st;
}

PackdSafetensors *
packd_safetensors_open_bytes (const guint8 *data, gsize len, GError **error)
{
  g_return_val_if_fail (data != NULL || len == 0, NULL);
  PackdSafetensors *st = safetensors_new ("(memory)");
  st->owned = g_memdup2 (data, len);
  if (!parse_header (st, st->owned, len, error)) {
    packd_safetensors_free (st);
    return NULL;
  }
  return st;
}

void
packd_safetensors_free (PackdSafetensors *st)
{
  if (st == NULL)
    return;
  g_hash_table_unref (st->by_name);
  g_hash_table_unref (st->metadata);
  g_ptr_array_unref (st->entries);
  if (st->mapped)
    g_mapped_file_unref (st->mapped);
  g_free (st->owned);
  g_free (st->origin);
  g_free (st);
}

const char *
packd_safetensors_get_metadata (const PackdSafetensors *st, const char *key)
{
  return g_hash_table_lookup (st->metadata, key);
}

guint
packd_safetensors_n_tensors (const PackdSafetensors *st)
{
  return st->entries->len;
}

const char *
packd_safetensors_tensor_name (const PackdSafetensors *st, guint i)
{
  g_return_val_if_fail (i < st->entries->len, NULL);
  return ((const Entry *) g_ptr_array_index (st->entries, i))->name;
}

gboolean
packd_safetensors_has (const PackdSafetensors *st, const char *name)
{
  return g_hash_table_contains (st->by_name, name);
}

gboolean
packd_safetensors_get (const PackdSafetensors *st, const char *name,
    int ndim, const int64_t *expected_shape, PackdTensor *out, GError **error)
{
  const Entry *e = g_hash_table_lookup (st->by_name, name);
  if (e == NULL) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_MODEL,
        "%s: no tensor \"%s\" in the safetensors file", st->origin, name);
    return FALSE;
  }
  if (e->dtype != &dtypes[0]) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_FORMAT,
        "%s: tensor \"%s\" has dtype %s, only F32 is supported", st->origin, name, e->dtype->name);
    return FALSE;
  }
  char found[256];
  shape_to_string (e->shape, e->rank, found, sizeof (found));
  if (expected_shape != NULL) {
    gboolean match = ndim == e->rank;
    for (int i = 0; match && i < ndim; i++)
      match = expected_shape[i] == -1 || expected_shape[i] == e->shape[i];
    if (!match) {
      char expected[256];
      shape_to_string (expected_shape, CLAMP (ndim, 0, MAX_FILE_RANK), expected, sizeof (expected));
      g_set_error (error, PACKD_ERROR, PACKD_ERROR_MODEL,
          "%s: tensor \"%s\" has shape %s, expected %s", st->origin, name, found, expected);
      return FALSE;
    }
  }
  if (e->rank < 1 || e->rank > PACKD_MAX_DIMS) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_MODEL,
        "%s: tensor \"%s\" has shape %s; only ranks 1 to %d are supported", st->origin, name,
        found, PACKD_MAX_DIMS);
    return FALSE;
  }
  float *data = e->copy ? e->copy : (float *) (st->section + e->begin);
  packd_tensor_init (out, e->rank, e->shape, data);
  return TRUE;
}

/* ---- writer ---- */

typedef struct {
  char *name;
  PackdTensor shape;            /* shape only; data is in `data` */
  float *data;                  /* contiguous copy */
} WriterTensor;

struct _PackdSafetensorsWriter {
  GPtrArray *tensors;           /* WriterTensor*, insertion order */
  GHashTable *metadata;
};

static void
writer_tensor_free (gpointer p)
{
  WriterTensor *t = p;
  g_free (t->name);
  g_free (t->data);
  g_free (t);
}

PackdSafetensorsWriter *
packd_safetensors_writer_new (void)
{
  PackdSafetensorsWriter *w = g_new0 (PackdSafetensorsWriter, 1);
  w->tensors = g_ptr_array_new_with_free_func (writer_tensor_free);
  w->metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return w;
}

void
packd_safetensors_writer_free (PackdSafetensorsWriter *w)
{
  if (w == NULL)
    return;
  g_ptr_array_unref (w->tensors);
  g_hash_table_unref (w->metadata);
  g_free (w);
}

void
packd_safetensors_writer_set_metadata (PackdSafetensorsWriter *w, const char *key,
    const char *value)
{
  g_return_if_fail (key != NULL && value != NULL);
  g_hash_table_replace (w->metadata, g_strdup (key), g_strdup (value));
}

/* Copies a strided tensor into dst in row-major order. */
static void
copy_contiguous (const PackdTensor *t, float *dst)
{
  int64_t numel = packd_tensor_numel (t);
  int64_t index[PACKD_MAX_DIMS] = { 0 };
  for (int64_t i = 0; i < numel; i++) {
    int64_t offset = 0;
    for (int d = 0; d < t->ndim; d++)
      offset += index[d] * t->stride[d];
    dst[i] = t->data[offset];
    for (int d = t->ndim - 1; d >= 0; d--) {
      if (++index[d] < t->shape[d])
        break;
      index[d] = 0;
    }
  }
}

void
packd_safetensors_writer_add (PackdSafetensorsWriter *w, const char *name, const PackdTensor *t)
{
  g_return_if_fail (name != NULL && strcmp (name, "__metadata__") != 0);
  g_return_if_fail (t != NULL && t->ndim >= 1 && t->ndim <= PACKD_MAX_DIMS);
  for (int d = 0; d < t->ndim; d++)
    g_return_if_fail (t->shape[d] >= 0);
  int64_t numel = packd_tensor_numel (t);
  g_return_if_fail (numel == 0 || t->data != NULL);

  WriterTensor *wt = g_new0 (WriterTensor, 1);
  wt->name = g_strdup (name);
  packd_tensor_init (&wt->shape, t->ndim, t->shape, NULL);
  wt->data = g_new (float, MAX (numel, 1));
  copy_contiguous (t, wt->data);

  for (guint i = 0; i < w->tensors->len; i++) {
    WriterTensor *old = g_ptr_array_index (w->tensors, i);
    if (strcmp (old->name, name) == 0) {
      writer_tensor_free (old);
      w->tensors->pdata[i] = wt;
      return;
    }
  }
  g_ptr_array_add (w->tensors, wt);
}

static char *
writer_header_json (PackdSafetensorsWriter *w, gsize *len)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  if (g_hash_table_size (w->metadata) > 0) {
    json_builder_set_member_name (b, "__metadata__");
    json_builder_begin_object (b);
    GList *keys = g_list_sort (g_hash_table_get_keys (w->metadata), (GCompareFunc) strcmp);
    for (GList *k = keys; k; k = k->next) {
      json_builder_set_member_name (b, k->data);
      json_builder_add_string_value (b, g_hash_table_lookup (w->metadata, k->data));
    }
    g_list_free (keys);
    json_builder_end_object (b);
  }
  guint64 offset = 0;
  for (guint i = 0; i < w->tensors->len; i++) {
    const WriterTensor *t = g_ptr_array_index (w->tensors, i);
    guint64 nbytes = packd_tensor_numel (&t->shape) * sizeof (float);
    json_builder_set_member_name (b, t->name);
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "dtype");
    json_builder_add_string_value (b, "F32");
    json_builder_set_member_name (b, "shape");
    json_builder_begin_array (b);
    for (int d = 0; d < t->shape.ndim; d++)
      json_builder_add_int_value (b, t->shape.shape[d]);
    json_builder_end_array (b);
    json_builder_set_member_name (b, "data_offsets");
    json_builder_begin_array (b);
    json_builder_add_int_value (b, offset);
    json_builder_add_int_value (b, offset + nbytes);
    json_builder_end_array (b);
    json_builder_end_object (b);
    offset += nbytes;
  }
  json_builder_end_object (b);

  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  return json_generator_to_data (gen, len);
}

gboolean
packd_safetensors_writer_save (PackdSafetensorsWriter *w, const char *path, GError **error)
{
  g_return_val_if_fail (w != NULL && path != NULL, FALSE);
  gsize json_len;
  g_autofree char *json = writer_header_json (w, &json_len);
  /* Pad with spaces to a multiple of 8, as the reference implementation
   * does, so the data section (and every F32 tensor) is aligned. */
  gsize header_len = (json_len + 7) & ~(gsize) 7;
  guint64 header_len_le = GUINT64_TO_LE ((guint64) header_len);

  g_autoptr (GByteArray) file = g_byte_array_new ();
  g_byte_array_append (file, (const guint8 *) &header_len_le, 8);
  g_byte_array_append (file, (const guint8 *) json, json_len);
  for (gsize i = json_len; i < header_len; i++)
    g_byte_array_append (file, (const guint8 *) " ", 1);
  for (guint i = 0; i < w->tensors->len; i++) {
    const WriterTensor *t = g_ptr_array_index (w->tensors, i);
    gsize numel = packd_tensor_numel (&t->shape);
#if G_BYTE_ORDER == G_LITTLE_ENDIAN
    g_byte_array_append (file, (const guint8 *) t->data, numel * sizeof (float));
#else
    for (gsize j = 0; j < numel; j++) {
      guint32 v;
      memcpy (&v, &t->data[j], 4);
      v = GUINT32_TO_LE (v);
      g_byte_array_append (file, (const guint8 *) &v, 4);
    }
#endif
  }

  g_autoptr (GError) file_error = NULL;
  if (!g_file_set_contents_full (path, (const char *) file->data, file->len,
          G_FILE_SET_CONTENTS_CONSISTENT, 0644, &file_error)) {
    g_set_error (error, PACKD_ERROR, PACKD_ERROR_IO, "%s: cannot write safetensors file: %s",
        path, file_error->message);
    return FALSE;
  }
  return TRUE;
}
