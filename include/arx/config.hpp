// arx/config.hpp — version, the SIMD target this translation unit is compiled for, and the
// per-target inline namespace.
//
// Why a per-target namespace: arx is header-only, so every kernel is an inline function. If two
// translation units of one program are compiled with different -march flags, the linker keeps ONE
// copy of each inline function, and an SSE2 TU could end up running an AVX-512 body (and crash on
// an older CPU). Every arx declaration therefore lives in `arx::v0_<tier>_<path>_<features>`
// (e.g. `v0_avx2_simd_abcdefghij`), an inline namespace named after the instruction sets the
// compiler may use in this TU, so the two copies get different mangled names. Users still write
// `arx::foo`.
//
// The name is taken from the compiler's own macros (what -march enabled), not from what arx
// calls, because the compiler also auto-vectorizes the scalar code with whatever -march allows.
//
// Defining ARX_FORCE_SCALAR (CMake option of the same name for arx's own builds) makes every
// kernel take its scalar reference path; it gets its own namespace suffix `_scalar`.
#pragma once

#define ARX_VERSION_MAJOR 0
#define ARX_VERSION_MINOR 1
#define ARX_VERSION_PATCH 0

// ---- instruction-set tier ------------------------------------------------------------------
// Each tier requires every feature of the tiers below it; kernels test ARX_HAS_* only, never the
// raw compiler macros, so one tier always means one set of code paths.
#if defined(__x86_64__) || defined(_M_X64)
#  define ARX_X86 1
#  if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) &&                \
      defined(__AVX512DQ__) && defined(__FMA__) && defined(__F16C__) && defined(__AVX2__)
#    if defined(__AVX512VNNI__)
#      define ARX_ISA_TAG avx512vnni
#      define ARX_ISA_NAME "avx512vnni"
#      define ARX_HAS_AVX512VNNI 1
#    else
#      define ARX_ISA_TAG avx512
#      define ARX_ISA_NAME "avx512"
#    endif
#    define ARX_HAS_AVX512 1
#    define ARX_HAS_AVX2 1
#    define ARX_HAS_F16C 1
#  elif defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#    define ARX_ISA_TAG avx2
#    define ARX_ISA_NAME "avx2"
#    define ARX_HAS_AVX2 1
#    define ARX_HAS_F16C 1
#  elif defined(__AVX__)
#    define ARX_ISA_TAG avx
#    define ARX_ISA_NAME "avx"
#  elif defined(__SSE4_2__)
#    define ARX_ISA_TAG sse4
#    define ARX_ISA_NAME "sse4.2"
#  else
#    define ARX_ISA_TAG sse2
#    define ARX_ISA_NAME "sse2"
#  endif
#  define ARX_HAS_SSE2 1
#elif defined(__aarch64__)
#  define ARX_ISA_TAG neon64
#  define ARX_ISA_NAME "neon64"
#  define ARX_HAS_NEON64 1
#else
#  define ARX_ISA_TAG generic
#  define ARX_ISA_NAME "generic"
#endif

// ---- kernel path ---------------------------------------------------------------------------
#if defined(ARX_FORCE_SCALAR) || !(defined(ARX_HAS_SSE2) || defined(ARX_HAS_NEON64))
#  define ARX_PATH_SUFFIX _scalar
#  define ARX_PATH_NAME "scalar"
#  define ARX_SIMD 0
#else
#  define ARX_PATH_SUFFIX _simd
#  define ARX_PATH_NAME "simd"
#  define ARX_SIMD 1
#endif

// ---- the inline namespace ------------------------------------------------------------------
// v<major>_<tier>_<path>_<features>: the tier alone is too coarse (-march=x86-64-v3 -mavx512f is
// still tier avx2, yet the compiler may then emit AVX-512 in any arx function), so every ISA
// extension the compiler can use for code generation adds its own letter. Two translation units
// get the same namespace only when their compilers could emit the same instructions.
#if defined(__x86_64__) || defined(_M_X64)
#  define ARX_F00 _
#  if defined(__SSE3__)
#    define ARX_F01 a
#  endif
#  if defined(__SSSE3__)
#    define ARX_F02 b
#  endif
#  if defined(__SSE4_1__)
#    define ARX_F03 c
#  endif
#  if defined(__SSE4_2__)
#    define ARX_F04 d
#  endif
#  if defined(__POPCNT__)
#    define ARX_F05 e
#  endif
#  if defined(__AVX__)
#    define ARX_F06 f
#  endif
#  if defined(__AVX2__)
#    define ARX_F07 g
#  endif
#  if defined(__FMA__)
#    define ARX_F08 h
#  endif
#  if defined(__F16C__)
#    define ARX_F09 i
#  endif
#  if defined(__BMI__)
#    define ARX_F10 j
#  endif
#  if defined(__BMI2__)
#    define ARX_F11 k
#  endif
#  if defined(__LZCNT__)
#    define ARX_F12 l
#  endif
#  if defined(__AVX512F__)
#    define ARX_F13 m
#  endif
#  if defined(__AVX512CD__)
#    define ARX_F14 n
#  endif
#  if defined(__AVX512BW__)
#    define ARX_F15 o
#  endif
#  if defined(__AVX512DQ__)
#    define ARX_F16 p
#  endif
#  if defined(__AVX512VL__)
#    define ARX_F17 q
#  endif
#  if defined(__AVX512VNNI__)
#    define ARX_F18 r
#  endif
#  if defined(__AVXVNNI__)
#    define ARX_F19 s
#  endif
#  if defined(__AVX512VBMI__)
#    define ARX_F20 t
#  endif
#  if defined(__AVX512VBMI2__)
#    define ARX_F21 u
#  endif
#  if defined(__AVX512IFMA__)
#    define ARX_F22 v
#  endif
#  if defined(__AVX512BITALG__)
#    define ARX_F23 w
#  endif
#  if defined(__AVX512VPOPCNTDQ__)
#    define ARX_F24 x
#  endif
#  if defined(__AVX512BF16__)
#    define ARX_F25 y
#  endif
#  if defined(__AVX512FP16__)
#    define ARX_F26 z
#  endif
#  if defined(__AVX512VP2INTERSECT__)
#    define ARX_F27 A
#  endif
#  if defined(__AMX_TILE__)
#    define ARX_F28 B
#  endif
#  if defined(__GFNI__)
#    define ARX_F29 C
#  endif
#  if defined(__AVX10_1__)
#    define ARX_F30 D
#  endif
#elif defined(__aarch64__)
#  define ARX_F00 _
#  if defined(__ARM_FEATURE_SVE)
#    define ARX_F01 a
#  endif
#  if defined(__ARM_FEATURE_SVE2)
#    define ARX_F02 b
#  endif
#  if defined(__ARM_FEATURE_DOTPROD)
#    define ARX_F03 c
#  endif
#  if defined(__ARM_FEATURE_FP16_VECTOR_ARITHMETIC)
#    define ARX_F04 d
#  endif
#  if defined(__ARM_FEATURE_MATMUL_INT8)
#    define ARX_F05 e
#  endif
#  if defined(__ARM_FEATURE_BF16_VECTOR_ARITHMETIC)
#    define ARX_F06 f
#  endif
#  if defined(__ARM_FEATURE_SME)
#    define ARX_F07 g
#  endif
#endif
#ifndef ARX_F00
#  define ARX_F00
#endif
#ifndef ARX_F01
#  define ARX_F01
#endif
#ifndef ARX_F02
#  define ARX_F02
#endif
#ifndef ARX_F03
#  define ARX_F03
#endif
#ifndef ARX_F04
#  define ARX_F04
#endif
#ifndef ARX_F05
#  define ARX_F05
#endif
#ifndef ARX_F06
#  define ARX_F06
#endif
#ifndef ARX_F07
#  define ARX_F07
#endif
#ifndef ARX_F08
#  define ARX_F08
#endif
#ifndef ARX_F09
#  define ARX_F09
#endif
#ifndef ARX_F10
#  define ARX_F10
#endif
#ifndef ARX_F11
#  define ARX_F11
#endif
#ifndef ARX_F12
#  define ARX_F12
#endif
#ifndef ARX_F13
#  define ARX_F13
#endif
#ifndef ARX_F14
#  define ARX_F14
#endif
#ifndef ARX_F15
#  define ARX_F15
#endif
#ifndef ARX_F16
#  define ARX_F16
#endif
#ifndef ARX_F17
#  define ARX_F17
#endif
#ifndef ARX_F18
#  define ARX_F18
#endif
#ifndef ARX_F19
#  define ARX_F19
#endif
#ifndef ARX_F20
#  define ARX_F20
#endif
#ifndef ARX_F21
#  define ARX_F21
#endif
#ifndef ARX_F22
#  define ARX_F22
#endif
#ifndef ARX_F23
#  define ARX_F23
#endif
#ifndef ARX_F24
#  define ARX_F24
#endif
#ifndef ARX_F25
#  define ARX_F25
#endif
#ifndef ARX_F26
#  define ARX_F26
#endif
#ifndef ARX_F27
#  define ARX_F27
#endif
#ifndef ARX_F28
#  define ARX_F28
#endif
#ifndef ARX_F29
#  define ARX_F29
#endif
#ifndef ARX_F30
#  define ARX_F30
#endif

#define ARX_PASTE_(a, b, c, d, e, f00, f01, f02, f03, f04, f05, f06, f07, f08, f09, f10, f11,      \
    f12, f13, f14, f15, f16, f17, f18, f19, f20, f21, f22, f23, f24, f25, f26, f27, f28, f29, f30)  \
    a##b##c##d##e##f00##f01##f02##f03##f04##f05##f06##f07##f08##f09##f10##f11##f12##f13##f14##f15## \
    f16##f17##f18##f19##f20##f21##f22##f23##f24##f25##f26##f27##f28##f29##f30
#define ARX_PASTE(...) ARX_PASTE_(__VA_ARGS__)
#define ARX_INLINE_NS ARX_PASTE(v, ARX_VERSION_MAJOR, _, ARX_ISA_TAG, ARX_PATH_SUFFIX, ARX_F00,    \
    ARX_F01, ARX_F02, ARX_F03, ARX_F04, ARX_F05, ARX_F06, ARX_F07, ARX_F08, ARX_F09, ARX_F10,      \
    ARX_F11, ARX_F12, ARX_F13, ARX_F14, ARX_F15, ARX_F16, ARX_F17, ARX_F18, ARX_F19, ARX_F20,      \
    ARX_F21, ARX_F22, ARX_F23, ARX_F24, ARX_F25, ARX_F26, ARX_F27, ARX_F28, ARX_F29, ARX_F30)

#define ARX_NAMESPACE_BEGIN                                                                      \
  namespace arx {                                                                                \
  inline namespace ARX_INLINE_NS {
#define ARX_NAMESPACE_END                                                                        \
  }                                                                                              \
  }

// ---- assertions ----------------------------------------------------------------------------
// ARX_DASSERT: debug-only invariant inside kernels (callers validated their arguments already).
#if defined(NDEBUG) && !defined(ARX_DEBUG)
#  define ARX_DASSERT(cond) ((void)0)
#else
#  include <cassert>
#  define ARX_DASSERT(cond) assert(cond)
#endif

ARX_NAMESPACE_BEGIN
/// The SIMD target the including translation unit was compiled for, e.g. "avx512vnni/simd".
/// Examples and benchmarks print it: without -march a build silently gets SSE2 kernels.
inline constexpr const char* simd_target = ARX_ISA_NAME "/" ARX_PATH_NAME;
ARX_NAMESPACE_END
