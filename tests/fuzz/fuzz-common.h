/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PACKD_FUZZ_COMMON_H
#define PACKD_FUZZ_COMMON_H

/* Shared by the fuzz targets.  fuzz-common.c holds the one
 * LLVMFuzzerInitialize of all targets; each target defines only
 * LLVMFuzzerTestOneInput.  A failed check aborts: a crash both for
 * libFuzzer and for the replay test (replay-main.c). */

#include <glib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond) \
  do { \
    if (!(cond)) { \
      fprintf (stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      abort (); \
    } \
  } while (0)

/* A call that failed must have failed cleanly: with a PACKD_ERROR. */
#define FUZZ_CHECK_PACKD_ERROR(error) \
  FUZZ_CHECK ((error) != NULL && (error)->domain == PACKD_ERROR)

#endif /* PACKD_FUZZ_COMMON_H */
