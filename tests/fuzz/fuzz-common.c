/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* The set-up every fuzz target shares, linked into both its libFuzzer
 * binary and its plain-C replay (replay-main.c calls it the same way). */

#include "fuzz-common.h"

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

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  g_log_set_default_handler (fuzz_log_handler, NULL);
  return 0;
}
