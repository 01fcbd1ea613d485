/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* Writes the synthetic seed corpora of the fuzz targets:
 *
 *   make-seeds tests/fuzz/corpus
 *
 * into corpus/<target>/seed-*.  Everything is made here (no data set image,
 * no model weights): tiny safetensors files including a truncated
 * MobileNetV2 stem, a miniature nsfwjs-style model.json + weight shard,
 * PNG (8/16-bit, grey, alpha, palette, interlaced), JPEG and BMP images of
 * odd sizes, and frame geometries, each also truncated. */

#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "packd-safetensors.h"
#include "test-util.h"

static const char *corpus_dir;

static void
write_seed (const char *target, const char *name, const void *data, gsize len)
{
  g_autofree char *dir = g_build_filename (corpus_dir, target, NULL);
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr (GError) error = NULL;
  g_mkdir_with_parents (dir, 0755);
  if (!g_file_set_contents (path, data, len, &error))
    g_error ("%s", error->message);
}

/* The seed and a copy cut to `keep` bytes. */
static void
write_seed_and_truncated (const char *target, const char *name, const void *data, gsize len,
    gsize keep)
{
  g_autofree char *cut = g_strdup_printf ("%s.cut%" G_GSIZE_FORMAT, name, keep);
  write_seed (target, name, data, len);
  write_seed (target, cut, data, MIN (keep, len));
}

static void
fill (float *data, gsize n, GRand *rand)
{
  for (gsize i = 0; i < n; i++)
    data[i] = (float) g_rand_double_range (rand, -0.5, 0.5);
}

/* ---- safetensors ---- */

static void
writer_add (PackdSafetensorsWriter *w, const char *name, int ndim, const int64_t *shape,
    GRand *rand)
{
  PackdTensor t;
  packd_tensor_init (&t, ndim, shape, NULL);
  g_autofree float *data = g_new (float, MAX (packd_tensor_numel (&t), 1));
  fill (data, packd_tensor_numel (&t), rand);
  t.data = data;
  packd_safetensors_writer_add (w, name, &t);
}

static GBytes *
writer_bytes (PackdSafetensorsWriter *w)
{
  g_autofree char *path = g_build_filename (g_get_tmp_dir (), "packd-make-seeds.safetensors",
      NULL);
  g_autoptr (GError) error = NULL;
  char *contents;
  gsize len;
  if (!packd_safetensors_writer_save (w, path, &error) ||
      !g_file_get_contents (path, &contents, &len, &error))
    g_error ("%s", error->message);
  g_unlink (path);
  packd_safetensors_writer_free (w);
  return g_bytes_new_take (contents, len);
}

/* The first three MobileNetV2 layers (what packd_teacher_new accepts as a
 * truncated teacher), under prefix; out_channels 32 is the real stem. */
static GBytes *
teacher_stem (const char *prefix, int stem_channels, GRand *rand)
{
  PackdSafetensorsWriter *w = packd_safetensors_writer_new ();
  const int64_t c = stem_channels;
  const int64_t conv1[] = { 3, 3, 3, c }, dw[] = { 3, 3, c }, project[] = { 1, 1, c, 16 };
  const int64_t bias_c[] = { c }, bias16[] = { 16 };
  g_autofree char *n1 = g_strconcat (prefix, "Conv1.weight", NULL);
  g_autofree char *n2 = g_strconcat (prefix, "Conv1.bias", NULL);
  g_autofree char *n3 = g_strconcat (prefix, "expanded_conv_depthwise.weight", NULL);
  g_autofree char *n4 = g_strconcat (prefix, "expanded_conv_depthwise.bias", NULL);
  g_autofree char *n5 = g_strconcat (prefix, "expanded_conv_project.weight", NULL);
  g_autofree char *n6 = g_strconcat (prefix, "expanded_conv_project.bias", NULL);
  packd_safetensors_writer_set_metadata (w, "packd.format", "teacher");
  packd_safetensors_writer_set_metadata (w, "packd.knn_taps", "Conv1_relu,expanded_conv_project_BN");
  writer_add (w, n1, 4, conv1, rand);
  writer_add (w, n2, 1, bias_c, rand);
  writer_add (w, n3, 3, dw, rand);
  writer_add (w, n4, 1, bias_c, rand);
  writer_add (w, n5, 4, project, rand);
  writer_add (w, n6, 1, bias16, rand);
  return writer_bytes (w);
}

/* A raw file from a header text and a data section of zeros. */
static void
raw_safetensors (const char *name, const char *header, gsize data_len)
{
  gsize n = strlen (header);
  g_autofree guint8 *file = g_malloc0 (8 + n + data_len);
  guint64 n_le = GUINT64_TO_LE ((guint64) n);
  memcpy (file, &n_le, 8);
  memcpy (file + 8, header, n);
  write_seed ("safetensors", name, file, 8 + n + data_len);
}

static void
make_safetensors (GRand *rand)
{
  PackdSafetensorsWriter *w = packd_safetensors_writer_new ();
  const int64_t shape[] = { 2, 3 };
  packd_safetensors_writer_set_metadata (w, "architecture", "mobilenetv2-1.0-keras");
  writer_add (w, "a", 2, shape, rand);
  g_autoptr (GBytes) tiny = writer_bytes (w);
  gsize len;
  const guint8 *data = g_bytes_get_data (tiny, &len);
  write_seed ("safetensors", "seed-tiny", data, len);
  write_seed ("safetensors", "seed-tiny.cut7", data, 7);
  write_seed ("safetensors", "seed-tiny.cut-header", data, 8 + (len - 8) / 2);
  write_seed ("safetensors", "seed-tiny.cut-data", data, len - 3);

  g_autoptr (GBytes) stem = teacher_stem ("", 32, rand);
  data = g_bytes_get_data (stem, &len);
  write_seed_and_truncated ("safetensors", "seed-teacher-stem", data, len, len - 100);
  g_autoptr (GBytes) prefixed = teacher_stem ("teacher.", 32, rand);
  data = g_bytes_get_data (prefixed, &len);
  write_seed ("safetensors", "seed-teacher-stem-prefixed", data, len);
  /* another architecture: a 16-channel stem */
  g_autoptr (GBytes) other = teacher_stem ("", 16, rand);
  data = g_bytes_get_data (other, &len);
  write_seed ("safetensors", "seed-teacher-other-arch", data, len);

  raw_safetensors ("seed-dtypes",
      "{\"__metadata__\":{\"packd.knn_taps\":\"a, b\"},"
      "\"h\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]},"
      "\"e\":{\"dtype\":\"F32\",\"shape\":[0,5],\"data_offsets\":[4,4]},"
      "\"m\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[5,9]},"
      "\"r\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1],\"data_offsets\":[12,16]},"
      "\"i\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[16,24]}}", 24);
  raw_safetensors ("seed-overlap",
      "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
      "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12);
  raw_safetensors ("seed-huge-shape",
      "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", 8);
  raw_safetensors ("seed-deep", "{\"a\":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]}", 0);
  static const guint8 huge_header[16] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, '{', '}' };
  write_seed ("safetensors", "seed-header-length", huge_header, sizeof huge_header);
}

/* ---- packd-convert-teacher input ---- */

/* A miniature nsfwjs model: Conv2D + BN, DepthwiseConv2D + BN, Dense.
 * 45 uint8 parameters in manifest order. */
static const char mini_model[] =
  "{\"modelTopology\":{\"model_config\":{\"class_name\":\"Model\",\"config\":{\"layers\":["
  "{\"name\":\"input_1\",\"class_name\":\"InputLayer\",\"config\":{},\"inbound_nodes\":[]},"
  "{\"name\":\"Conv1\",\"class_name\":\"Conv2D\",\"config\":{\"use_bias\":false},"
  "\"inbound_nodes\":[[[\"input_1\",0,0,{}]]]},"
  "{\"name\":\"bn_Conv1\",\"class_name\":\"BatchNormalization\",\"config\":{\"axis\":-1,"
  "\"epsilon\":0.001,\"center\":true,\"scale\":true},\"inbound_nodes\":[[[\"Conv1\",0,0,{}]]]},"
  "{\"name\":\"dw\",\"class_name\":\"DepthwiseConv2D\",\"config\":{\"use_bias\":false,"
  "\"depth_multiplier\":1},\"inbound_nodes\":[[[\"bn_Conv1\",0,0,{}]]]},"
  "{\"name\":\"dw_BN\",\"class_name\":\"BatchNormalization\",\"config\":{\"axis\":3,"
  "\"epsilon\":0.001},\"inbound_nodes\":[[[\"dw\",0,0,{}]]]},"
  "{\"name\":\"add\",\"class_name\":\"Add\",\"config\":{},"
  "\"inbound_nodes\":[[[\"dw_BN\",0,0,{}],[\"bn_Conv1\",0,0,{}]]]},"
  "{\"name\":\"dense_1\",\"class_name\":\"Dense\",\"config\":{\"use_bias\":true},"
  "\"inbound_nodes\":[[[\"add\",0,0,{}]]]}]}}},"
  "\"weightsManifest\":[{\"paths\":[\"group1-shard1of1\"],\"weights\":["
  "{\"name\":\"Conv1/kernel\",\"shape\":[1,1,1,2],\"dtype\":\"float32\","
  "\"quantization\":{\"dtype\":\"uint8\",\"scale\":0.01,\"min\":-1.2}},"
  "{\"name\":\"bn_Conv1/gamma\",\"shape\":[2],\"dtype\":\"float32\","
  "\"quantization\":{\"dtype\":\"uint8\",\"scale\":0.02,\"min\":0.1}},"
  "{\"name\":\"bn_Conv1/beta\",\"shape\":[2],\"dtype\":\"float32\","
  "\"quantization\":{\"dtype\":\"uint8\",\"scale\":0.02,\"min\":-1}},"
  "{\"name\":\"bn_Conv1/moving_mean\",\"shape\":[2],\"dtype\":\"float32\","
  "\"quantization\":{\"dtype\":\"uint8\",\"scale\":0.02,\"min\":-1}},"
  "{\"name\":\"bn_Conv1/moving_variance\",\"shape\":[2],\"dtype\":\"float32\","
  "\"quantization\":{\"dtype\":\"uint8\",\"scale\":0.02,\"min\":0}},"
  "{\"name\":\"dw/depthwise_kernel\",\"shape\":[3,3,2,1],\"dtype\":\"float32\","
  "\"quantization\":{\"dtype\":\"uint8\",\"scale\":0.01,\"min\":-1.2}},"
  "{\"name\":\"dw_BN/gamma\",\"shape\":[2],\"dtype\":\"float32\","
  "\"quantization\":{\"dtype\":\"uint8\",\"scale\":0.02,\"min\":0.1}},"
  "{\"name\":\"dw_BN/beta\",\"shape\":[2],\"dtype\":\"float32\","
  "\"quantization\":{\"dtype\":\"uint8\",\"scale\":0.02,\"min\":-1}},"
  "{\"name\":\"dw_BN/moving_mean\",\"shape\":[2],\"dtype\":\"float32\","
  "\"quantization\":{\"dtype\":\"uint8\",\"scale\":0.02,\"min\":-1}},"
  "{\"name\":\"dw_BN/moving_variance\",\"shape\":[2],\"dtype\":\"float32\","
  "\"quantization\":{\"dtype\":\"uint8\",\"scale\":0.02,\"min\":0}},"
  "{\"name\":\"dense_1/kernel\",\"shape\":[2,3],\"dtype\":\"float32\","
  "\"quantization\":{\"dtype\":\"uint8\",\"scale\":0.01,\"min\":-1}},"
  "{\"name\":\"dense_1/bias\",\"shape\":[3],\"dtype\":\"float32\","
  "\"quantization\":{\"dtype\":\"uint8\",\"scale\":0.01,\"min\":-1}}]}]}";
#define MINI_MODEL_PARAMS 45

/* model text, NUL, shard text: the fuzz target's input layout. */
static void
convert_seed (const char *name, const char *model, const char *shard)
{
  g_autoptr (GByteArray) seed = g_byte_array_new ();
  g_byte_array_append (seed, (const guint8 *) model, strlen (model) + 1);
  g_byte_array_append (seed, (const guint8 *) shard, strlen (shard));
  write_seed ("convert-teacher-input", name, seed->data, seed->len);
}

/* mini_model with the first occurrence of `from` replaced by `to`. */
static char *
mini_model_with (const char *from, const char *to)
{
  const char *at = strstr (mini_model, from);
  g_assert (at != NULL);
  return g_strdup_printf ("%.*s%s%s", (int) (at - mini_model), mini_model, to,
      at + strlen (from));
}

static void
make_convert_inputs (GRand *rand)
{
  guint8 blob[MINI_MODEL_PARAMS];
  for (guint i = 0; i < sizeof blob; i++)
    blob[i] = g_rand_int_range (rand, 0, 256);
  g_autofree char *b64 = g_base64_encode (blob, sizeof blob);
  g_autofree char *shard = g_strdup_printf (
      "!function(e){\"object\"==typeof exports?module.exports=e():this.g=e()}"
      "(function(){return function(r,e,n){var h={exports:{}};h.exports=\"%s\";return h}})", b64);
  convert_seed ("seed-mini", mini_model, shard);
  g_autofree char *cut_model = g_strndup (mini_model, sizeof mini_model / 2);
  g_autofree char *cut_shard = g_strndup (shard, strlen (shard) - 20);
  convert_seed ("seed-mini.cut-model", cut_model, shard);
  convert_seed ("seed-mini.cut-shard", mini_model, cut_shard);

  static const struct {
    const char *name, *from, *to;
  } variants[] = {
    { "seed-conv-bias", "\"use_bias\":false", "\"use_bias\":true" },
    { "seed-depth-multiplier", "\"depth_multiplier\":1", "\"depth_multiplier\":2" },
    { "seed-bn-axis", "\"axis\":3", "\"axis\":1" },
    { "seed-bn-epsilon", "\"epsilon\":0.001}", "\"epsilon\":-1}" },
    { "seed-no-bn", "\"class_name\":\"BatchNormalization\"", "\"class_name\":\"ReLU\"" },
    { "seed-two-consumers", "[[[\"bn_Conv1\",0,0,{}]]]", "[[[\"Conv1\",0,0,{}]]]" },
    { "seed-dup-name", "\"bn_Conv1/beta\"", "\"bn_Conv1/gamma\"" },
    { "seed-dtype", "\"dtype\":\"uint8\"", "\"dtype\":\"uint16\"" },
    { "seed-rank5", "[1,1,1,2]", "[1,1,1,1,2]" },
    { "seed-big-dim", "[3,3,2,1]", "[3,3,2,1048576]" },
    { "seed-dense-shape", "[2,3]", "[3,2]" },
    { "seed-bad-inbound", "[[[\"add\",0,0,{}]]]", "[[[7,0,0,{}]]]" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (variants); i++) {
    g_autofree char *model = mini_model_with (variants[i].from, variants[i].to);
    convert_seed (variants[i].name, model, shard);
  }
  convert_seed ("seed-shard-no-marker", mini_model, "module.exports=1");
  convert_seed ("seed-shard-bad-char", mini_model, "h.exports=\"AAA*\"");
  convert_seed ("seed-shard-unterminated", mini_model, "h.exports=\"AAAA");
  convert_seed ("seed-not-object", "[1,2,3]", "");
}

/* ---- images ---- */

static void
png_chunk (GByteArray *png, const char *type, const guint8 *data, guint32 len)
{
  guint32 be = GUINT32_TO_BE (len);
  g_byte_array_append (png, (const guint8 *) &be, 4);
  gsize start = png->len;
  g_byte_array_append (png, (const guint8 *) type, 4);
  if (len)
    g_byte_array_append (png, data, len);
  be = GUINT32_TO_BE ((guint32) crc32 (0, png->data + start, len + 4));
  g_byte_array_append (png, (const guint8 *) &be, 4);
}

/* A PNG of any bit depth / colour type (filter 0 rows); interlace flag as
 * given (the pixel data is then simply not Adam7, which decoders reject
 * or misread: a seed for the error paths). */
static void
png_seed (const char *name, int width, int height, int depth, int colour, int channels,
    gboolean interlace, gboolean palette, GRand *rand)
{
  static const guint8 signature[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
  g_autoptr (GByteArray) png = g_byte_array_new ();
  g_byte_array_append (png, signature, 8);
  guint8 ihdr[13];
  guint32 be = GUINT32_TO_BE (width);
  memcpy (ihdr, &be, 4);
  be = GUINT32_TO_BE (height);
  memcpy (ihdr + 4, &be, 4);
  ihdr[8] = depth;
  ihdr[9] = colour;
  ihdr[10] = ihdr[11] = 0;
  ihdr[12] = interlace;
  png_chunk (png, "IHDR", ihdr, 13);
  if (palette) {
    guint8 plte[3 * 4];
    for (guint i = 0; i < sizeof plte; i++)
      plte[i] = g_rand_int_range (rand, 0, 256);
    png_chunk (png, "PLTE", plte, sizeof plte);
    const guint8 trns[2] = { 0, 128 };
    png_chunk (png, "tRNS", trns, 2);
  }
  gsize row = 1 + ((gsize) width * channels * depth + 7) / 8;
  gsize raw_len = row * height;
  g_autofree guint8 *raw = g_malloc (raw_len);
  for (gsize i = 0; i < raw_len; i++)
    raw[i] = i % row == 0 ? 0 : g_rand_int_range (rand, 0, palette ? 4 : 256);
  uLongf z_len = compressBound (raw_len);
  g_autofree guint8 *z = g_malloc (z_len);
  compress (z, &z_len, raw, raw_len);
  png_chunk (png, "IDAT", z, z_len);
  png_chunk (png, "IEND", NULL, 0);
  write_seed_and_truncated ("image", name, png->data, png->len, png->len - 16);
}

static void
jpeg_seed (const char *name, int width, int height, gboolean grey, gboolean progressive,
    GRand *rand)
{
  int components = grey ? 1 : 3;
  gsize n = (gsize) width * height * components;
  g_autofree guint8 *pixels = g_malloc (n);
  for (gsize i = 0; i < n; i++)
    pixels[i] = g_rand_int_range (rand, 0, 256);
  gsize len;
  g_autofree guint8 *jpeg =
      packd_test_encode_jpeg (pixels, components, width, height, 50, progressive, &len);
  write_seed_and_truncated ("image", name, jpeg, len, len / 2);
}

/* 24-bit BMP, bottom-up, rows padded to 4 bytes. */
static void
bmp_seed (const char *name, int width, int height, GRand *rand)
{
  gsize row = ((gsize) width * 3 + 3) & ~(gsize) 3;
  gsize size = 54 + row * height;
  g_autofree guint8 *bmp = g_malloc0 (size);
  guint32 v;
  bmp[0] = 'B';
  bmp[1] = 'M';
  v = GUINT32_TO_LE (size); memcpy (bmp + 2, &v, 4);
  v = GUINT32_TO_LE (54); memcpy (bmp + 10, &v, 4);
  v = GUINT32_TO_LE (40); memcpy (bmp + 14, &v, 4);
  v = GUINT32_TO_LE (width); memcpy (bmp + 18, &v, 4);
  v = GUINT32_TO_LE (height); memcpy (bmp + 22, &v, 4);
  bmp[26] = 1;
  bmp[28] = 24;
  for (gsize i = 54; i < size; i++)
    bmp[i] = g_rand_int_range (rand, 0, 256);
  write_seed_and_truncated ("image", name, bmp, size, size - 7);
}

static void
make_images (GRand *rand)
{
  png_seed ("seed-rgb8.png", 7, 5, 8, 2, 3, FALSE, FALSE, rand);
  png_seed ("seed-rgb16.png", 5, 3, 16, 2, 3, FALSE, FALSE, rand);
  png_seed ("seed-rgba8.png", 3, 9, 8, 6, 4, FALSE, FALSE, rand);
  png_seed ("seed-rgba16.png", 2, 2, 16, 6, 4, FALSE, FALSE, rand);
  png_seed ("seed-grey8.png", 1, 1, 8, 0, 1, FALSE, FALSE, rand);
  png_seed ("seed-grey16.png", 17, 1, 16, 0, 1, FALSE, FALSE, rand);
  png_seed ("seed-grey1.png", 9, 3, 1, 0, 1, FALSE, FALSE, rand);
  png_seed ("seed-greyalpha8.png", 4, 4, 8, 4, 2, FALSE, FALSE, rand);
  png_seed ("seed-palette2.png", 6, 6, 2, 3, 1, FALSE, TRUE, rand);
  png_seed ("seed-interlaced.png", 8, 8, 8, 2, 3, TRUE, FALSE, rand);
  jpeg_seed ("seed-rgb.jpg", 33, 17, FALSE, FALSE, rand);
  jpeg_seed ("seed-grey.jpg", 1, 1, TRUE, FALSE, rand);
  jpeg_seed ("seed-progressive.jpg", 16, 9, FALSE, TRUE, rand);
  bmp_seed ("seed-rgb.bmp", 5, 3, rand);
  static const char not_an_image[] = "P3\n1 1\n255\n0 0 0\n";
  write_seed ("image", "seed-ppm", not_an_image, sizeof not_an_image - 1);
}

/* ---- frames: 8 header bytes (see fuzz-frame.c) + pixels ---- */

static void
frame_seed (const char *name, int width, int height, int format, int padding, int out_h,
    int out_w, gboolean align, gsize n_pixels, GRand *rand)
{
  g_autofree guint8 *seed = g_malloc (8 + n_pixels);
  seed[0] = (width - 1) & 0xff;
  seed[1] = ((width - 1) >> 8) & 1;
  seed[2] = (height - 1) & 0xff;
  seed[3] = (((height - 1) >> 8) & 1) | format << 1;
  seed[4] = padding;
  seed[5] = out_h - 1;
  seed[6] = out_w - 1;
  seed[7] = align;
  for (gsize i = 0; i < n_pixels; i++)
    seed[8 + i] = g_rand_int_range (rand, 0, 256);
  write_seed ("frame", name, seed, 8 + n_pixels);
}

static void
make_frames (GRand *rand)
{
  frame_seed ("seed-1x1-grey", 1, 1, 3, 0, 64, 64, TRUE, 1, rand);
  frame_seed ("seed-odd-rgb", 33, 17, 0, 3, 32, 32, TRUE, 300, rand);
  frame_seed ("seed-wide-bgrx", 512, 2, 1, 16, 7, 64, FALSE, 200, rand);
  frame_seed ("seed-tall-rgbx", 1, 512, 2, 5, 64, 1, TRUE, 64, rand);
  frame_seed ("seed-same-size", 64, 64, 0, 0, 64, 64, FALSE, 0, rand);
}

int
main (int argc, char **argv)
{
  if (argc != 2) {
    g_printerr ("usage: %s CORPUS_DIR (tests/fuzz/corpus)\n", argv[0]);
    return 2;
  }
  corpus_dir = argv[1];
  GRand *rand = g_rand_new_with_seed (20260101);
  make_safetensors (rand);
  make_convert_inputs (rand);
  make_images (rand);
  make_frames (rand);
  g_rand_free (rand);
  return 0;
}
