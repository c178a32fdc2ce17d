// arx/config.hpp — version, the SIMD target this translation unit is compiled for, and the
// per-target inline namespace.
//
// Why a per-target namespace: arx is header-only, so every kernel is an inline function. If two
// translation units of one program are compiled with different -march flags, the linker keeps ONE
// copy of each inline function, and an SSE2 TU could end up running an AVX-512 body (and crash on
// an older CPU). Every arx declaration therefore lives in `arx::v0_<isa>_<path>`, an inline
// namespace named after the instruction set the compiler may use in this TU, so the two copies
// get different mangled names. Users still write `arx::foo`.
//
// The ISA tag is taken from the compiler's own macros (what -march enabled), not from what arx
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
#  define ARX_PATH_TAG scalar
#  define ARX_PATH_NAME "scalar"
#  define ARX_SIMD 0
#else
#  define ARX_PATH_TAG simd
#  define ARX_PATH_NAME "simd"
#  define ARX_SIMD 1
#endif

#define ARX_CAT3_(a, b, c) a##b##c
#define ARX_CAT3(a, b, c) ARX_CAT3_(a, b, c)
#define ARX_CAT5_(a, b, c, d, e) a##b##c##d##e
#define ARX_CAT5(a, b, c, d, e) ARX_CAT5_(a, b, c, d, e)
#define ARX_INLINE_NS ARX_CAT5(v, ARX_VERSION_MAJOR, _, ARX_ISA_TAG, ARX_CAT3(_, ARX_PATH_TAG, ))

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
