/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <check.h>
#include <string.h>

#include "packd-error.h"
#include "packd-safetensors.h"
#include "test-util.h"

static char *tmpdir;

static void
setup (void)
{
  tmpdir = packd_test_make_tmp_dir ("safetensors");
}

static void
teardown (void)
{
  packd_test_remove_tree (tmpdir);
  g_clear_pointer (&tmpdir, g_free);
}

/* A safetensors image: LE u64 length, the JSON verbatim (no padding), data. */
static guint8 *
build_file (const char *json, const void *data, gsize data_len, gsize *out_len)
{
  gsize n = strlen (json);
  guint64 n_le = GUINT64_TO_LE ((guint64) n);
  *out_len = 8 + n + data_len;
  guint8 *buf = g_malloc0 (*out_len + 1);
  memcpy (buf, &n_le, 8);
  memcpy (buf + 8, json, n);
  if (data_len)
    memcpy (buf + 8 + n, data, data_len);
  return buf;
}

/* Opens json+data and expects failure with the given code; returns the message. */
static char *
expect_open_error (const char *json, const void *data, gsize data_len, int code)
{
  gsize len;
  g_autofree guint8 *buf = build_file (json, data, data_len, &len);
  GError *error = NULL;
  PackdSafetensors *st = packd_safetensors_open_bytes (buf, len, &error);
  ck_assert_msg (st == NULL, "accepted: %s", json);
  ck_assert_ptr_nonnull (error);
  ck_assert_msg (g_error_matches (error, PACKD_ERROR, code), "%s: %s", json, error->message);
  char *msg = g_strdup (error->message);
  g_error_free (error);
  return msg;
}

static PackdSafetensors *
open_ok (const char *json, const void *data, gsize data_len)
{
  gsize len;
  g_autofree guint8 *buf = build_file (json, data, data_len, &len);
  g_autoptr (GError) error = NULL;
  PackdSafetensors *st = packd_safetensors_open_bytes (buf, len, &error);
  ck_assert_msg (st != NULL, "%s: %s", json, error ? error->message : "");
  return st;
}

static const float k_six[6] = { 1.5f, -2.0f, 3.25f, 0.0f, -0.0f, 1e-30f };

START_TEST (test_round_trip)
{
  float a[3] = { 1.0f, -1.0f, 0.5f };
  float b[2 * 3 * 4 * 5];
  float c[1] = { 42.0f };
  for (int i = 0; i < (int) G_N_ELEMENTS (b); i++)
    b[i] = i * 0.25f - 7.0f;
  PackdTensor ta, tb, tc, tmp;
  packd_tensor_init (&ta, 1, (int64_t[]) { 3 }, a);
  packd_tensor_init_nhwc (&tb, 2, 3, 4, 5, b);
  packd_tensor_init (&tc, 2, (int64_t[]) { 1, 1 }, c);

  PackdSafetensorsWriter *w = packd_safetensors_writer_new ();
  packd_safetensors_writer_add (w, "zeta", &ta);
  packd_safetensors_writer_add (w, "alpha.weight", &tb);
  /* replaced: the later tensor wins, keeping its first position */
  packd_tensor_init (&tmp, 1, (int64_t[]) { 6 }, (float *) k_six);
  packd_safetensors_writer_add (w, "mid", &tmp);
  packd_safetensors_writer_add (w, "mid", &tc);
  packd_safetensors_writer_set_metadata (w, "zkey", "last");
  packd_safetensors_writer_set_metadata (w, "akey", "first \"quoted\" ünï");
  packd_safetensors_writer_set_metadata (w, "akey", "replaced \"quoted\" ünï");
  /* the writer copied the data at add time */
  a[0] = 99.0f;
  g_autofree char *path = g_build_filename (tmpdir, "rt.safetensors", NULL);
  g_autoptr (GError) error = NULL;
  ck_assert (packd_safetensors_writer_save (w, path, &error));
  packd_safetensors_writer_free (w);

  /* Raw layout: header padded with spaces to a multiple of 8, metadata keys sorted. */
  g_autofree char *raw = NULL;
  gsize raw_len;
  ck_assert (g_file_get_contents (path, &raw, &raw_len, NULL));
  guint64 n;
  memcpy (&n, raw, 8);
  n = GUINT64_FROM_LE (n);
  ck_assert_uint_eq (n % 8, 0);
  ck_assert_uint_eq (raw_len, 8 + n + (3 + 120 + 1) * 4);
  g_autofree char *header = g_strndup (raw + 8, n);
  ck_assert_ptr_nonnull (strstr (header, "akey"));
  ck_assert (strstr (header, "akey") < strstr (header, "zkey"));
  g_strchomp (header);
  ck_assert (g_str_has_suffix (header, "}"));
  for (gsize i = strlen (header); i < n; i++)
    ck_assert_int_eq (raw[8 + i], ' ');

  PackdSafetensors *st = packd_safetensors_open (path, &error);
  ck_assert_msg (st != NULL, "%s", error ? error->message : "");
  ck_assert_uint_eq (packd_safetensors_n_tensors (st), 3);
  ck_assert_str_eq (packd_safetensors_tensor_name (st, 0), "zeta");
  ck_assert_str_eq (packd_safetensors_tensor_name (st, 1), "alpha.weight");
  ck_assert_str_eq (packd_safetensors_tensor_name (st, 2), "mid");
  ck_assert_str_eq (packd_safetensors_get_metadata (st, "akey"), "replaced \"quoted\" ünï");
  ck_assert_str_eq (packd_safetensors_get_metadata (st, "zkey"), "last");
  ck_assert_ptr_null (packd_safetensors_get_metadata (st, "nope"));
  ck_assert (packd_safetensors_has (st, "mid"));
  ck_assert (!packd_safetensors_has (st, "__metadata__"));

  PackdTensor t;
  ck_assert (packd_safetensors_get (st, "zeta", 1, (int64_t[]) { 3 }, &t, &error));
  ck_assert_int_eq (t.ndim, 1);
  ck_assert_float_eq (t.data[0], 1.0f);
  ck_assert_float_eq (t.data[2], 0.5f);
  ck_assert (packd_safetensors_get (st, "alpha.weight", 4, (int64_t[]) { 2, 3, 4, 5 }, &t, &error));
  ck_assert (packd_tensor_is_contiguous (&t));
  ck_assert_uint_eq ((guintptr) t.data % 4, 0);
  ck_assert_int_eq (memcmp (t.data, b, sizeof (b)), 0);
  ck_assert (packd_safetensors_get (st, "mid", 0, NULL, &t, &error));
  ck_assert_int_eq (t.ndim, 2);
  ck_assert_int_eq (t.shape[0], 1);
  ck_assert_int_eq (t.shape[1], 1);
  ck_assert_float_eq (t.data[0], 42.0f);
  packd_safetensors_free (st);

  /* Saving over an existing file replaces it. */
  w = packd_safetensors_writer_new ();
  packd_safetensors_writer_add (w, "only", &tc);
  ck_assert (packd_safetensors_writer_save (w, path, &error));
  packd_safetensors_writer_free (w);
  st = packd_safetensors_open (path, &error);
  ck_assert_ptr_nonnull (st);
  ck_assert_uint_eq (packd_safetensors_n_tensors (st), 1);
  ck_assert_ptr_null (packd_safetensors_get_metadata (st, "akey"));
  packd_safetensors_free (st);
}
END_TEST

START_TEST (test_strided_input)
{
  /* 3x4 row-major source, written as its 4x3 transpose (a strided view). */
  float src[12];
  for (int i = 0; i < 12; i++)
    src[i] = i;
  PackdTensor tr = { .ndim = 2, .shape = { 4, 3 }, .stride = { 1, 4 }, .data = src };
  /* every other element of a row */
  PackdTensor step = { .ndim = 1, .shape = { 6 }, .stride = { 2 }, .data = src };
  PackdSafetensorsWriter *w = packd_safetensors_writer_new ();
  packd_safetensors_writer_add (w, "t", &tr);
  packd_safetensors_writer_add (w, "step", &step);
  g_autofree char *path = g_build_filename (tmpdir, "strided.safetensors", NULL);
  g_autoptr (GError) error = NULL;
  ck_assert (packd_safetensors_writer_save (w, path, &error));
  packd_safetensors_writer_free (w);

  PackdSafetensors *st = packd_safetensors_open (path, &error);
  ck_assert_ptr_nonnull (st);
  PackdTensor t;
  ck_assert (packd_safetensors_get (st, "t", 2, (int64_t[]) { 4, 3 }, &t, &error));
  for (int r = 0; r < 4; r++)
    for (int c = 0; c < 3; c++)
      ck_assert_float_eq (t.data[r * 3 + c], src[c * 4 + r]);
  ck_assert (packd_safetensors_get (st, "step", 1, (int64_t[]) { 6 }, &t, &error));
  for (int i = 0; i < 6; i++)
    ck_assert_float_eq (t.data[i], 2 * i);
  packd_safetensors_free (st);
}
END_TEST

START_TEST (test_truncated)
{
  PackdTensor t;
  packd_tensor_init (&t, 2, (int64_t[]) { 2, 3 }, (float *) k_six);
  PackdSafetensorsWriter *w = packd_safetensors_writer_new ();
  packd_safetensors_writer_add (w, "w", &t);
  packd_safetensors_writer_set_metadata (w, "k", "v");
  g_autofree char *path = g_build_filename (tmpdir, "full.safetensors", NULL);
  ck_assert (packd_safetensors_writer_save (w, path, NULL));
  packd_safetensors_writer_free (w);
  g_autofree char *raw = NULL;
  gsize len;
  ck_assert (g_file_get_contents (path, &raw, &len, NULL));

  for (gsize cut = 0; cut < len; cut++) {
    GError *error = NULL;
    /* exact-size heap copy so valgrind/ASan catch any read past the cut */
    guint8 *part = g_memdup2 (raw, MAX (cut, 1));
    PackdSafetensors *st = packd_safetensors_open_bytes (part, cut, &error);
    ck_assert_msg (st == NULL, "cut at %" G_GSIZE_FORMAT " accepted", cut);
    ck_assert (g_error_matches (error, PACKD_ERROR, PACKD_ERROR_FORMAT));
    g_error_free (error);
    g_free (part);
  }
  /* the same through the file path, including an empty file */
  g_autofree char *cut_path = g_build_filename (tmpdir, "cut.safetensors", NULL);
  const gsize cuts[] = { 0, 4, 8, 20, len - 1 };
  for (guint i = 0; i < G_N_ELEMENTS (cuts); i++) {
    g_autoptr (GError) error = NULL;
    ck_assert (g_file_set_contents (cut_path, raw, cuts[i], NULL));
    ck_assert_ptr_null (packd_safetensors_open (cut_path, &error));
    ck_assert (g_error_matches (error, PACKD_ERROR, PACKD_ERROR_FORMAT));
    ck_assert_ptr_nonnull (strstr (error->message, cut_path));
  }
  PackdSafetensors *st = packd_safetensors_open_bytes ((guint8 *) raw, len, NULL);
  ck_assert_ptr_nonnull (st);
  packd_safetensors_free (st);
}
END_TEST

START_TEST (test_header_length)
{
  const char *json = "{}";
  gsize len;
  g_autofree guint8 *buf = build_file (json, NULL, 0, &len);
  const guint64 bad[] = { G_MAXUINT64, (guint64) 1 << 63, PACKD_SAFETENSORS_MAX_HEADER + 1,
    3, 100 };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GError) error = NULL;
    guint64 n_le = GUINT64_TO_LE (bad[i]);
    memcpy (buf, &n_le, 8);
    ck_assert_ptr_null (packd_safetensors_open_bytes (buf, len, &error));
    ck_assert (g_error_matches (error, PACKD_ERROR, PACKD_ERROR_FORMAT));
    ck_assert_ptr_nonnull (strstr (error->message,
            bad[i] > PACKD_SAFETENSORS_MAX_HEADER ? "limit" : "past the end"));
  }
  /* A header longer than the limit is refused even when the file is that big. */
  gsize big = PACKD_SAFETENSORS_MAX_HEADER + 16;
  g_autofree guint8 *huge = g_malloc (8 + big);
  memset (huge + 8, ' ', big);
  huge[8] = '{';
  huge[8 + big - 1] = '}';
  guint64 n_le = GUINT64_TO_LE ((guint64) big);
  memcpy (huge, &n_le, 8);
  g_autoptr (GError) error = NULL;
  ck_assert_ptr_null (packd_safetensors_open_bytes (huge, 8 + big, &error));
  ck_assert (g_error_matches (error, PACKD_ERROR, PACKD_ERROR_FORMAT));
  ck_assert_ptr_nonnull (strstr (error->message, "limit"));
}
END_TEST

START_TEST (test_bad_json)
{
  const char *bad[] = {
    "", "{", "{\"a\": }", "not json", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],}",
    "[1,2]", "\"str\"", "3", "null",
  };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    g_free (expect_open_error (bad[i], NULL, 0, PACKD_ERROR_FORMAT));

  /* an embedded NUL and invalid UTF-8 */
  gsize len;
  g_autofree guint8 *buf = build_file ("{\"a\":\"x\"}  ", NULL, 0, &len);
  buf[8 + 10] = '\0';
  ck_assert_ptr_null (packd_safetensors_open_bytes (buf, len, NULL));
  buf[8 + 10] = 0xff;
  ck_assert_ptr_null (packd_safetensors_open_bytes (buf, len, NULL));

  /* deep nesting is refused before it reaches the recursive parser */
  GString *deep = g_string_new ("{\"a\":");
  for (int i = 0; i < 100000; i++)
    g_string_append_c (deep, '[');
  for (int i = 0; i < 100000; i++)
    g_string_append_c (deep, ']');
  g_string_append_c (deep, '}');
  g_free (expect_open_error (deep->str, NULL, 0, PACKD_ERROR_FORMAT));
  g_string_free (deep, TRUE);
}
END_TEST

START_TEST (test_bad_entries)
{
  guint8 data[64] = { 0 };
  const struct { const char *json; const char *needle; } bad[] = {
    { "{\"x\":5}", "\"x\"" },
    { "{\"x\":{\"shape\":[2],\"data_offsets\":[0,8]}}", "dtype" },
    { "{\"x\":{\"dtype\":\"Q7\",\"shape\":[2],\"data_offsets\":[0,8]}}", "Q7" },
    { "{\"x\":{\"dtype\":3,\"shape\":[2],\"data_offsets\":[0,8]}}", "dtype" },
    { "{\"x\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", "shape" },
    { "{\"x\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", "shape" },
    { "{\"x\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", "shape" },
    { "{\"x\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}", "shape" },
    { "{\"x\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}", "rank" },
    { "{\"x\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],\"data_offsets\":[0,8]}}",
      "overflow" },
    { "{\"x\":{\"dtype\":\"F64\",\"shape\":[4294967296,1073741824],\"data_offsets\":[0,8]}}",
      "overflow" },
    { "{\"x\":{\"dtype\":\"F32\",\"shape\":[2]}}", "data_offsets" },
    { "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", "data_offsets" },
    { "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,16]}}", "data_offsets" },
    { "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}", "data_offsets" },
    { "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", "data_offsets" },
    /* past the end of the 64-byte data section */
    { "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[60,68]}}", "outside" },
    { "{\"x\":{\"dtype\":\"F32\",\"shape\":[20],\"data_offsets\":[0,80]}}", "outside" },
    /* size mismatch between shape and offsets */
    { "{\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", "needs 12" },
    { "{\"x\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", "needs 8" },
    /* overlapping tensors */
    { "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
      "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", "overlap" },
    { "{\"b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[20,21]},"
      "\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}", "overlap" },
    /* metadata */
    { "{\"__metadata__\":{\"k\":3}}", "\"k\"" },
    { "{\"__metadata__\":{\"k\":\"v\",\"j\":null}}", "\"j\"" },
    { "{\"__metadata__\":{\"k\":[\"v\"]}}", "\"k\"" },
    { "{\"__metadata__\":\"v\"}", "__metadata__" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autofree char *msg = expect_open_error (bad[i].json, data, sizeof (data),
        PACKD_ERROR_FORMAT);
    ck_assert_msg (strstr (msg, bad[i].needle) != NULL, "%s: message \"%s\" lacks \"%s\"",
        bad[i].json, msg, bad[i].needle);
    ck_assert_msg (strstr (msg, "(memory)") != NULL, "%s", msg);
  }
}
END_TEST

START_TEST (test_layouts_accepted)
{
  /* adjacent, gapped, empty and all parseable dtypes */
  guint8 data[64] = { 0 };
  PackdSafetensors *st = open_ok ("{"
      "\"f16\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]},"
      "\"bf16\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[4,6]},"
      "\"u8\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[6,8]},"
      "\"f64\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[8,16]},"
      "\"i8\":{\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[16,17]},"
      "\"bool\":{\"dtype\":\"BOOL\",\"shape\":[1],\"data_offsets\":[17,18]},"
      "\"i16\":{\"dtype\":\"I16\",\"shape\":[1],\"data_offsets\":[18,20]},"
      "\"i32\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[20,24]},"
      "\"i64\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[32,40]},"
      "\"empty\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[10,10]},"
      "\"scalar\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[40,44]},"
      "\"rank5\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1],\"data_offsets\":[44,48]}"
      "}", data, sizeof (data));
  ck_assert_uint_eq (packd_safetensors_n_tensors (st), 12);
  ck_assert_str_eq (packd_safetensors_tensor_name (st, 0), "f16");
  ck_assert_str_eq (packd_safetensors_tensor_name (st, 11), "rank5");

  PackdTensor t;
  g_autoptr (GError) error = NULL;
  ck_assert (!packd_safetensors_get (st, "f16", 0, NULL, &t, &error));
  ck_assert (g_error_matches (error, PACKD_ERROR, PACKD_ERROR_FORMAT));
  ck_assert_ptr_nonnull (strstr (error->message, "F16"));
  ck_assert_ptr_nonnull (strstr (error->message, "\"f16\""));
  g_clear_error (&error);
  ck_assert (!packd_safetensors_get (st, "i32", 0, NULL, &t, &error));
  ck_assert (g_error_matches (error, PACKD_ERROR, PACKD_ERROR_FORMAT));
  g_clear_error (&error);
  /* ranks PackdTensor cannot hold */
  ck_assert (!packd_safetensors_get (st, "scalar", 0, NULL, &t, &error));
  ck_assert (g_error_matches (error, PACKD_ERROR, PACKD_ERROR_MODEL));
  g_clear_error (&error);
  ck_assert (!packd_safetensors_get (st, "rank5", 0, NULL, &t, &error));
  ck_assert (g_error_matches (error, PACKD_ERROR, PACKD_ERROR_MODEL));
  g_clear_error (&error);
  ck_assert (packd_safetensors_get (st, "empty", 2, (int64_t[]) { 0, 3 }, &t, &error));
  ck_assert_int_eq (packd_tensor_numel (&t), 0);
  packd_safetensors_free (st);
}
END_TEST

START_TEST (test_misaligned)
{
  /* A 5-byte header puts the data section at offset 13; tensor "b" starts
   * 2 bytes further.  Both must come back aligned and with exact values. */
  const char *json_fmt = "{\"a\":{\"dtype\":\"F32\",\"shape\":[6],\"data_offsets\":[0,24]},"
      "\"b\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[26,50]}}";
  for (int pad = 0; pad < 4; pad++) {
    g_autofree char *json = g_strdup_printf ("%s%*s", json_fmt, pad, "");
    guint8 data[50] = { 0 };
    memcpy (data, k_six, 24);
    memcpy (data + 26, k_six, 24);
    PackdSafetensors *st = open_ok (json, data, sizeof (data));
    PackdTensor t;
    g_autoptr (GError) error = NULL;
    ck_assert (packd_safetensors_get (st, "a", 1, (int64_t[]) { 6 }, &t, &error));
    ck_assert_uint_eq ((guintptr) t.data % G_ALIGNOF (float), 0);
    ck_assert_int_eq (memcmp (t.data, k_six, 24), 0);
    ck_assert (packd_safetensors_get (st, "b", 2, (int64_t[]) { 2, 3 }, &t, &error));
    ck_assert_uint_eq ((guintptr) t.data % G_ALIGNOF (float), 0);
    ck_assert_int_eq (memcmp (t.data, k_six, 24), 0);
    packd_safetensors_free (st);
  }
}
END_TEST

START_TEST (test_get_errors)
{
  guint8 data[24] = { 0 };
  memcpy (data, k_six, 24);
  PackdSafetensors *st = open_ok (
      "{\"conv.w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}", data, 24);
  PackdTensor t;
  g_autoptr (GError) error = NULL;

  ck_assert (!packd_safetensors_has (st, "conv.b"));
  ck_assert (!packd_safetensors_get (st, "conv.b", 0, NULL, &t, &error));
  ck_assert (g_error_matches (error, PACKD_ERROR, PACKD_ERROR_MODEL));
  ck_assert_ptr_nonnull (strstr (error->message, "conv.b"));
  g_clear_error (&error);

  ck_assert (!packd_safetensors_get (st, "conv.w", 2, (int64_t[]) { 2, 4 }, &t, &error));
  ck_assert (g_error_matches (error, PACKD_ERROR, PACKD_ERROR_MODEL));
  ck_assert_ptr_nonnull (strstr (error->message, "conv.w"));
  ck_assert_ptr_nonnull (strstr (error->message, "[2,3]"));
  ck_assert_ptr_nonnull (strstr (error->message, "[2,4]"));
  g_clear_error (&error);
  ck_assert (!packd_safetensors_get (st, "conv.w", 3, (int64_t[]) { 2, 3, 1 }, &t, &error));
  ck_assert (g_error_matches (error, PACKD_ERROR, PACKD_ERROR_MODEL));
  g_clear_error (&error);
  ck_assert (!packd_safetensors_get (st, "conv.w", 1, (int64_t[]) { 6 }, &t, &error));
  g_clear_error (&error);
  ck_assert (!packd_safetensors_get (st, "conv.w", 2, (int64_t[]) { -1, 2 }, &t, &error));
  g_clear_error (&error);

  ck_assert (packd_safetensors_get (st, "conv.w", 2, (int64_t[]) { -1, 3 }, &t, &error));
  ck_assert (packd_safetensors_get (st, "conv.w", 2, (int64_t[]) { 2, -1 }, &t, &error));
  ck_assert (packd_safetensors_get (st, "conv.w", 2, (int64_t[]) { -1, -1 }, &t, &error));
  ck_assert_int_eq (t.shape[0], 2);
  ck_assert_int_eq (t.shape[1], 3);
  ck_assert_int_eq (t.stride[0], 3);
  ck_assert_float_eq (t.data[5], k_six[5]);
  packd_safetensors_free (st);
}
END_TEST

START_TEST (test_io_errors)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *missing = g_build_filename (tmpdir, "missing.safetensors", NULL);
  ck_assert_ptr_null (packd_safetensors_open (missing, &error));
  ck_assert (g_error_matches (error, PACKD_ERROR, PACKD_ERROR_IO));
  ck_assert_ptr_nonnull (strstr (error->message, missing));
  g_clear_error (&error);

  PackdSafetensorsWriter *w = packd_safetensors_writer_new ();
  g_autofree char *bad_path = g_build_filename (tmpdir, "no-such-dir", "x.safetensors", NULL);
  ck_assert (!packd_safetensors_writer_save (w, bad_path, &error));
  ck_assert (g_error_matches (error, PACKD_ERROR, PACKD_ERROR_IO));
  ck_assert_ptr_nonnull (strstr (error->message, bad_path));
  g_clear_error (&error);

  /* an empty writer still gives a valid (empty) file */
  g_autofree char *empty = g_build_filename (tmpdir, "empty.safetensors", NULL);
  ck_assert (packd_safetensors_writer_save (w, empty, &error));
  packd_safetensors_writer_free (w);
  PackdSafetensors *st = packd_safetensors_open (empty, &error);
  ck_assert_ptr_nonnull (st);
  ck_assert_uint_eq (packd_safetensors_n_tensors (st), 0);
  packd_safetensors_free (st);
}
END_TEST

static Suite *
safetensors_suite (void)
{
  Suite *s = suite_create ("safetensors");
  TCase *tc = tcase_create ("core");
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_round_trip);
  tcase_add_test (tc, test_strided_input);
  tcase_add_test (tc, test_truncated);
  tcase_add_test (tc, test_header_length);
  tcase_add_test (tc, test_bad_json);
  tcase_add_test (tc, test_bad_entries);
  tcase_add_test (tc, test_layouts_accepted);
  tcase_add_test (tc, test_misaligned);
  tcase_add_test (tc, test_get_errors);
  tcase_add_test (tc, test_io_errors);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  return packd_test_run (safetensors_suite ());
}
