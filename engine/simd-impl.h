/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef PACKD_SIMD_IMPL_H
#define PACKD_SIMD_IMPL_H

#include <glib.h>

G_BEGIN_DECLS

/* Which hand-written kernels the layers use.  The library is built for the
 * baseline ISA (any x86-64, any aarch64); the AVX2 and AVX-512 kernels are
 * compiled with per-function target attributes and chosen at run time from
 * what the CPU reports.  GENERIC is the plain C / OpenBLAS path and the only
 * one off x86-64. */
typedef enum {
  PACKD_SIMD_GENERIC,
  PACKD_SIMD_AVX2,      /* AVX2 + FMA */
  PACKD_SIMD_AVX512,    /* AVX-512F */
  PACKD_SIMD_N_LEVELS
} PackdSimdLevel;

/* The best level this CPU supports. */
PackdSimdLevel packd_simd_detect (void);
/* The level in use: the detected one, lowered by PACKD_SIMD=generic|avx2 in
 * the environment or by packd_simd_set_level(). */
PackdSimdLevel packd_simd_level (void);
/* Tests and benchmarks: use at most level (clamped to what the CPU has);
 * returns the level now in use.  Not for use while a forward runs. */
PackdSimdLevel packd_simd_set_level (PackdSimdLevel level);
const char *packd_simd_level_name (PackdSimdLevel level);

G_END_DECLS

#endif /* PACKD_SIMD_IMPL_H */
