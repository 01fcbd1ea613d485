/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* Fuzz target: a support image file as the element and the tools load it.
 * The input is written to a file and decoded with packd_image_load_rgb
 * (libjpeg, Cairo for 16-bit RGB PNG, GStreamer decodebin for the rest); a
 * decoded image is then converted into the teacher's input tensor as the
 * scorer does (bilinear, align corners).  Slow (a GStreamer pipeline per
 * input), but it is the real path. */

#define _GNU_SOURCE /* memfd_create */

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz-common.h"
#include "layers/resize.h"
#include "packd-error.h"
#include "packd-imageio.h"

#define TENSOR_SIZE 32

/* The input as a file path.  The file is an anonymous memfd named through
 * /proc/self/fd, made once per process: it has no name in any folder, so
 * nothing is left behind however the process ends (a crash or libFuzzer's
 * abort skips atexit handlers, a kill skips everything). */
static const char *
write_input_file (const uint8_t *data, size_t size)
{
  static int fd = -1;
  static char path[32];
  if (fd < 0) {
    fd = memfd_create ("packd-fuzz-image", MFD_CLOEXEC);
    FUZZ_CHECK (fd >= 0);
    g_snprintf (path, sizeof path, "/proc/self/fd/%d", fd);
  }
  FUZZ_CHECK (ftruncate (fd, 0) == 0);
  FUZZ_CHECK (pwrite (fd, data, size, 0) == (ssize_t) size);
  return path;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GError) error = NULL;
  PackdRgbImage img;
  if (!packd_image_load_rgb (write_input_file (data, size), &img, &error)) {
    FUZZ_CHECK_PACKD_ERROR (error);
    FUZZ_CHECK (img.rgb == NULL);
    /* A few KB decode in milliseconds: running into the decode timeout
     * means the pipeline waited for something that never came. */
    FUZZ_CHECK (strstr (error->message, "did not finish") == NULL);
    return 0;
  }
  FUZZ_CHECK (img.rgb != NULL && img.width > 0 && img.height > 0);

  static const int rgb_order[3] = { 0, 1, 2 };
  float pixels[TENSOR_SIZE * TENSOR_SIZE * 3];
  PackdTensor t;
  packd_tensor_init_nhwc (&t, 1, TENSOR_SIZE, TENSOR_SIZE, 3, pixels);
  packd_resize_u8_to_rgb_forward (img.rgb, img.width, img.height, img.width * 3, 3, rgb_order,
      TRUE, &t);
  for (int i = 0; i < TENSOR_SIZE * TENSOR_SIZE * 3; i++)
    FUZZ_CHECK (pixels[i] >= -1e-6f && pixels[i] <= 1.f + 1e-6f);
  packd_rgb_image_clear (&img);
  return 0;
}
