/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PACKD_TESTS_TEST_UTIL_H
#define PACKD_TESTS_TEST_UTIL_H

/* Helpers shared by the Check test programs (not the gst-check ones, which
 * link GStreamer's own copy of Check). */

#include <check.h>
#include <glib.h>
#include <stdint.h>

G_BEGIN_DECLS

/* Runs suite (Check's defaults: each test in a forked child) and returns the
 * exit status for main().  Temporary folders made with
 * packd_test_make_tmp_dir() live under one folder made for the run, which
 * this process removes with all it holds after the tests, or when it gets
 * SIGTERM, SIGINT or SIGHUP (a harness timeout): so a test that failed,
 * crashed or timed out before its clean-up leaves nothing behind. */
int packd_test_run (Suite *suite);

/* A new, empty folder <prefix>-XXXXXX under the run's folder (under the
 * system's temporary folder when not called from packd_test_run()); fails
 * the test when it cannot be made.  g_free() the path. */
char *packd_test_make_tmp_dir (const char *prefix);

/* Removes path and everything below it; a missing path is no error. */
void packd_test_remove_tree (const char *path);

/* The teacher file of the test environment (PACKD_TEACHER); fails the test
 * when it is not set. */
const char *packd_test_teacher_path (void);

/* count floats drawn uniformly from [lo, hi) (an exact-size heap buffer, so
 * valgrind sees any overrun; at least one element).  g_free() it. */
float *packd_test_random_floats (GRand *rng, int64_t count, double lo, double hi);

/* |got[i] - want[i]| <= rtol |want[i]| + atol for every i, else ck_abort
 * naming what and the first element off. */
void packd_test_assert_close (const float *got, const double *want, int64_t count, double rtol,
    double atol, const char *what);

/* pixels (packed RGB for components 3, grey for 1) as a JPEG file image in
 * memory, encoded by libjpeg at its defaults (4:2:0 chroma for colour),
 * progressive when asked.  GStreamer's jpegenc is avoided: it reads past
 * the frame for tiny images.  g_free() it; *len is its size. */
guint8 *packd_test_encode_jpeg (const guint8 *pixels, int components, int width, int height,
    int quality, gboolean progressive, gsize *len);

/* The 54-byte header of a 24-bit BMP (BITMAPINFOHEADER; height < 0 means
 * top-down) without pixel data: what a decompression bomb needs. */
#define PACKD_TEST_BMP_HEADER_SIZE 54
void packd_test_bmp_header (guint8 header[PACKD_TEST_BMP_HEADER_SIZE], guint32 width,
    gint32 height);

G_END_DECLS

#endif
