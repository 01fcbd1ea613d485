/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "simd-impl.h"

#include <string.h>

static gint active_level = -1;

PackdSimdLevel
packd_simd_detect (void)
{
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init ();
  if (__builtin_cpu_supports ("avx512f"))
    return PACKD_SIMD_AVX512;
  if (__builtin_cpu_supports ("avx2") && __builtin_cpu_supports ("fma"))
    return PACKD_SIMD_AVX2;
#endif
  return PACKD_SIMD_GENERIC;
}

static PackdSimdLevel
level_from_env (PackdSimdLevel best)
{
  const char *env = g_getenv ("PACKD_SIMD");

  for (int l = 0; env && l < PACKD_SIMD_N_LEVELS; l++)
    if (g_ascii_strcasecmp (env, packd_simd_level_name (l)) == 0)
      return MIN ((PackdSimdLevel) l, best);
  return best;
}

PackdSimdLevel
packd_simd_level (void)
{
  gint level = g_atomic_int_get (&active_level);

  if (G_UNLIKELY (level < 0)) {
    level = level_from_env (packd_simd_detect ());
    g_atomic_int_set (&active_level, level);
  }
  return level;
}

PackdSimdLevel
packd_simd_set_level (PackdSimdLevel level)
{
  level = MIN (level, packd_simd_detect ());
  g_atomic_int_set (&active_level, level);
  return level;
}

const char *
packd_simd_level_name (PackdSimdLevel level)
{
  static const char *const names[PACKD_SIMD_N_LEVELS] = { "generic", "avx2", "avx512" };
  return level < PACKD_SIMD_N_LEVELS ? names[level] : "?";
}
