/* packd — few-shot visual anomaly detection
 * Copyright (C) 2026 packd developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/* Ends one ISA's vector operations (simd-vec.h) and template names before
 * the next ISA defines its own.  No include guard: included once per ISA. */
#undef SIMD_VEC_ISA
#undef VF
#undef VW
#undef VM
#undef V_ZERO
#undef V_SET1
#undef V_BCAST
#undef V_LOAD
#undef V_STORE
#undef V_LOADM
#undef V_STOREM
#undef V_MASK
#undef V_FMA
#undef V_MUL
#undef V_ADD
#undef V_MAX
#undef V_MIN
#undef V_ACT
#undef DW_NAME
#undef DW_ROW
#undef GEMM_NAME
#undef GEMM_MR
#undef GEMM_ROWS
#undef GEMM_MIN_ROWS
