/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* Fuzz target: a model file as packd reads it.  The safetensors reader
 * (header, entries, metadata), every tensor fetched and read, then the
 * MobileNetV2 architecture check (packd_teacher_new) and, when the file
 * holds a (truncated) teacher, a forward pass at the smallest input size. */

#include <string.h>

#include "fuzz-common.h"
#include "packd-error.h"
#include "packd-safetensors.h"
#include "packd-teacher.h"

/* Taps the teacher can have, shallow to deep: the deepest present one is run. */
static const char *const tap_names[] = {
  "Conv1_relu", "expanded_conv_depthwise_relu", "expanded_conv_project_BN",
  "block_1_expand_relu", "block_1_depthwise_relu", "block_1_project_BN",
  "block_2_add", "block_3_expand_relu",
};

/* Reads every element through the view's strides (ASan sees any stray view). */
static float
tensor_sum (const PackdTensor *t)
{
  int64_t index[PACKD_MAX_DIMS] = { 0 };
  int64_t numel = packd_tensor_numel (t);
  float sum = 0.f;
  for (int64_t i = 0; i < numel; i++) {
    int64_t offset = 0;
    for (int d = 0; d < t->ndim; d++)
      offset += index[d] * t->stride[d];
    sum += t->data[offset];
    for (int d = t->ndim - 1; d >= 0; d--) {
      if (++index[d] < t->shape[d])
        break;
      index[d] = 0;
    }
  }
  return sum;
}

static void
check_tensors (const PackdSafetensors *st)
{
  guint n = packd_safetensors_n_tensors (st);
  for (guint i = 0; i < n; i++) {
    const char *name = packd_safetensors_tensor_name (st, i);
    FUZZ_CHECK (name != NULL && packd_safetensors_has (st, name));
    PackdTensor t;
    g_autoptr (GError) error = NULL;
    if (!packd_safetensors_get (st, name, 0, NULL, &t, &error)) {
      FUZZ_CHECK_PACKD_ERROR (error);
      continue;
    }
    FUZZ_CHECK (t.ndim >= 1 && t.ndim <= PACKD_MAX_DIMS && t.data != NULL);
    volatile float sum = tensor_sum (&t);
    (void) sum;
    /* A shape check with one wrong and one wildcard dimension must fail cleanly. */
    int64_t expected[PACKD_MAX_DIMS];
    for (int d = 0; d < t.ndim; d++)
      expected[d] = d == 0 ? t.shape[0] + 1 : -1;
    g_clear_error (&error);
    FUZZ_CHECK (!packd_safetensors_get (st, name, t.ndim, expected, &t, &error));
    FUZZ_CHECK_PACKD_ERROR (error);
  }
  FUZZ_CHECK (!packd_safetensors_has (st, "no such tensor \x01"));
}

static void
run_teacher (const PackdTeacher *teacher, const uint8_t *data, size_t size)
{
  const char *tap = NULL;
  for (guint i = 0; i < G_N_ELEMENTS (tap_names); i++)
    if (packd_teacher_has_tap (teacher, tap_names[i]))
      tap = tap_names[i];
  FUZZ_CHECK (tap != NULL);   /* packd_teacher_new refuses a teacher without Conv1 */
  FUZZ_CHECK (packd_teacher_tap_channels (teacher, tap) > 0);
  FUZZ_CHECK (packd_teacher_tap_stride (teacher, tap) >= 2);

  g_autoptr (GError) error = NULL;
  PackdTeacherRun *run = packd_teacher_run_new (teacher, 32, 32, &tap, 1, &error);
  FUZZ_CHECK (run != NULL);
  /* Inline: a worker thread per op costs more than these tiny forwards. */
  packd_teacher_run_set_threads (run, 1);
  PackdTensor *input = packd_teacher_run_input (run);
  int64_t numel = packd_tensor_numel (input);
  for (int64_t i = 0; i < numel; i++)
    input->data[i] = data[i % size] / 255.0f;
  packd_teacher_run_forward (run);
  const PackdTensor *out = packd_teacher_run_tap (run, 0);
  FUZZ_CHECK (out->shape[3] == packd_teacher_tap_channels (teacher, tap));
  volatile float sum = tensor_sum (out);
  (void) sum;
  packd_teacher_run_free (run);
}

static void
check_teacher (const PackdSafetensors *st, const char *prefix, const uint8_t *data, size_t size)
{
  g_autoptr (GError) error = NULL;
  PackdTeacher *teacher = packd_teacher_new (st, prefix, &error);
  if (teacher == NULL) {
    FUZZ_CHECK_PACKD_ERROR (error);
    return;
  }
  FUZZ_CHECK (error == NULL);
  FUZZ_CHECK (!packd_teacher_has_tap (teacher, "no such tap"));
  run_teacher (teacher, data, size);
  packd_teacher_free (teacher);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GError) error = NULL;
  PackdSafetensors *st = packd_safetensors_open_bytes (data, size, &error);
  if (st == NULL) {
    FUZZ_CHECK_PACKD_ERROR (error);
    return 0;
  }
  FUZZ_CHECK (error == NULL);
  /* The keys packd reads: the file format, the scorer's taps, provenance. */
  static const char *const keys[] = {
    "packd.format", "packd.format_version", "packd.knn_taps", "architecture", "source",
  };
  for (guint i = 0; i < G_N_ELEMENTS (keys); i++) {
    const char *value = packd_safetensors_get_metadata (st, keys[i]);
    if (value)
      FUZZ_CHECK (g_utf8_validate (value, -1, NULL));
  }
  check_tensors (st);
  check_teacher (st, "", data, size);
  check_teacher (st, "teacher.", data, size);
  packd_safetensors_free (st);
  return 0;
}
