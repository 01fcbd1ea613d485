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

/* One kernel body, compiled once per level: name##_body, a static
 * PACKD_SIMD_INLINE void function written in plain C (or with the
 * PackdF32x8 vectors below), is inlined into an AVX-512, an AVX2 and a
 * baseline wrapper, and the static void function `name` calls the one that
 * packd_simd_level() picks.  params is the parenthesised parameter list,
 * args the same names in parentheses. */
#define PACKD_SIMD_INLINE inline __attribute__ ((always_inline))

#if defined(__x86_64__)
#define PACKD_SIMD_CLONES(name, params, args) \
  static void __attribute__ ((target ("avx512f,fma"))) name##_avx512 params { name##_body args; } \
  static void __attribute__ ((target ("avx2,fma"))) name##_avx2 params { name##_body args; } \
  static void name##_generic params { name##_body args; } \
  static void \
  name params \
  { \
    switch (packd_simd_level ()) { \
      case PACKD_SIMD_AVX512: name##_avx512 args; break; \
      case PACKD_SIMD_AVX2: name##_avx2 args; break; \
      default: name##_generic args; break; \
    } \
  }
#else
#define PACKD_SIMD_CLONES(name, params, args) \
  static void name params { name##_body args; }
#endif

/* 8 floats as one GCC vector, unaligned: one AVX2 register (the lower half
 * of an AVX-512 one), two SSE or NEON registers.  GCC keeps vectors wider
 * than the target's registers on the stack (16 floats made the AVX2 build
 * slower than the baseline one), hence 8.  Only inside inlined bodies (the
 * ABI of wide vectors differs per target).  Where the vector is wider than
 * the registers, a scalar times a vector is broadcast through memory on
 * every use: keep such scalars as vectors (loaded once from 8 copies). */
typedef float PackdF32x8 __attribute__ ((vector_size (32), aligned (4), may_alias));
#define PACKD_F32X8_LANES 8
#define PACKD_F32X8_LOAD(p) (*(const PackdF32x8 *) (p))
#define PACKD_F32X8_STORE(p, v) (*(PackdF32x8 *) (p) = (v))

G_END_DECLS

#endif /* PACKD_SIMD_IMPL_H */
