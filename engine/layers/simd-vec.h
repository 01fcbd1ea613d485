/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/* The vector operations the kernel templates (depthwise-simd-template.h,
 * gemm-x86-template.h) are written in, for the ISA the includer selects
 * with SIMD_VEC_ISA 512 (AVX-512F) or 256 (AVX2 + FMA), inside that ISA's
 * target pragma:
 *   VF, VW, VM         vector type, floats per vector, lane mask type
 *   V_ZERO(), V_SET1(x), V_BCAST(p) (broadcast *p), V_LOAD(p), V_STORE(p, v),
 *   V_FMA(a, b, c) = a b + c, V_MUL, V_ADD, V_MAX, V_MIN
 *   V_MASK(lanes)      the first lanes lanes (none if lanes <= 0, all if >= VW)
 *   V_LOADM(p, m), V_STOREM(p, m, v)   masked (zero-filled) load, store
 *   V_ACT(v, act)      the activation of conv2d.h
 * simd-vec-undef.h ends them.  No include guard: included once per ISA. */
/* (immintrin.h is included by the .c file, outside its target pragmas.) */

#if SIMD_VEC_ISA == 512

static inline __attribute__ ((always_inline)) __mmask16
simd_vec_mask_512 (int64_t lanes)
{
  return lanes >= 16 ? 0xffff : lanes <= 0 ? 0 : (__mmask16) ((1u << lanes) - 1);
}

#define VF __m512
#define VW 16
#define VM __mmask16
#define V_ZERO() _mm512_setzero_ps ()
#define V_SET1(x) _mm512_set1_ps (x)
#define V_BCAST(p) _mm512_set1_ps (*(p))
#define V_LOAD(p) _mm512_loadu_ps (p)
#define V_STORE(p, v) _mm512_storeu_ps (p, v)
#define V_LOADM(p, m) _mm512_maskz_loadu_ps (m, p)
#define V_STOREM(p, m, v) _mm512_mask_storeu_ps (p, m, v)
#define V_MASK(lanes) simd_vec_mask_512 (lanes)
#define V_FMA(a, b, c) _mm512_fmadd_ps (a, b, c)
#define V_MUL(a, b) _mm512_mul_ps (a, b)
#define V_ADD(a, b) _mm512_add_ps (a, b)
#define V_MAX(a, b) _mm512_max_ps (a, b)
#define V_MIN(a, b) _mm512_min_ps (a, b)
#define V_ACT(v, act) simd_vec_act_512 (v, act)
#define SIMD_VEC_ACT simd_vec_act_512

#elif SIMD_VEC_ISA == 256

static inline __attribute__ ((always_inline)) __m256i
simd_vec_mask_256 (int64_t lanes)
{
  const __m256i lane = _mm256_setr_epi32 (0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32 (_mm256_set1_epi32 ((int) CLAMP (lanes, 0, 8)), lane);
}

#define VF __m256
#define VW 8
#define VM __m256i
#define V_ZERO() _mm256_setzero_ps ()
#define V_SET1(x) _mm256_set1_ps (x)
#define V_BCAST(p) _mm256_broadcast_ss (p)
#define V_LOAD(p) _mm256_loadu_ps (p)
#define V_STORE(p, v) _mm256_storeu_ps (p, v)
#define V_LOADM(p, m) _mm256_maskload_ps (p, m)
#define V_STOREM(p, m, v) _mm256_maskstore_ps (p, m, v)
#define V_MASK(lanes) simd_vec_mask_256 (lanes)
#define V_FMA(a, b, c) _mm256_fmadd_ps (a, b, c)
#define V_MUL(a, b) _mm256_mul_ps (a, b)
#define V_ADD(a, b) _mm256_add_ps (a, b)
#define V_MAX(a, b) _mm256_max_ps (a, b)
#define V_MIN(a, b) _mm256_min_ps (a, b)
#define V_ACT(v, act) simd_vec_act_256 (v, act)
#define SIMD_VEC_ACT simd_vec_act_256

#else
#error "SIMD_VEC_ISA must be 512 or 256"
#endif

static inline __attribute__ ((always_inline)) VF
SIMD_VEC_ACT (VF v, PackdActivation act)
{
  if (act != PACKD_ACT_NONE)
    v = V_MAX (v, V_ZERO ());
  if (act == PACKD_ACT_RELU6)
    v = V_MIN (v, V_SET1 (6.f));
  return v;
}

#undef SIMD_VEC_ACT
