/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PACKD_FUZZ_COMMON_H
#define PACKD_FUZZ_COMMON_H

/* Shared by the fuzz targets: the libFuzzer entry points and an invariant
 * check that aborts (a crash both for libFuzzer and for the replay test). */

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

/* A GLib critical or warning means an API was misused on some input: make
 * it a crash (abort, which libFuzzer catches; GLib's own fatal mask would
 * raise SIGTRAP, which it does not), not noise. */
static void
fuzz_log_handler (const gchar *domain, GLogLevelFlags level, const gchar *message,
    gpointer data)
{
  g_log_default_handler (domain, level, message, data);
  if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
    abort ();
}

static inline void
fuzz_make_criticals_fatal (void)
{
  g_log_set_default_handler (fuzz_log_handler, NULL);
}

#endif /* PACKD_FUZZ_COMMON_H */
