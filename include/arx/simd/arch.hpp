// arx/simd/arch.hpp — the one place that picks the xsimd architecture for this translation unit.
//
// `arx::simd::arch` is the xsimd arch tag matching the ISA tier of arx/config.hpp (not
// xsimd::default_arch, so that one tier always means the same code). Only headers under simd/ and
// the fast paths of ops/ name xsimd types or intrinsics. With ARX_SIMD == 0 (forced scalar, or a
// CPU family arx has no SIMD code for) xsimd is not included at all.
#pragma once

#include "arx/config.hpp"

#if ARX_SIMD
#  include <xsimd/xsimd.hpp>
#  if defined(ARX_X86)
#    include <immintrin.h>
#  endif
#endif

// GCC 12's AVX-512 intrinsic headers pass _mm512_undefined_*() as the merge operand of unmasked
// instructions, which -Wuninitialized / -Wmaybe-uninitialized report once inlined into a kernel
// (GCC bug 105593, fixed in GCC 13): a false positive. Kernel headers bracket their code with
// these so users building with -Wall see nothing.
#if defined(__GNUC__) && !defined(__clang__)
#  define ARX_DIAG_PUSH                                                                          \
    _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wuninitialized\"")         \
        _Pragma("GCC diagnostic ignored \"-Wmaybe-uninitialized\"")
#  define ARX_DIAG_POP _Pragma("GCC diagnostic pop")
#else
#  define ARX_DIAG_PUSH
#  define ARX_DIAG_POP
#endif

ARX_NAMESPACE_BEGIN
namespace simd {

#if ARX_SIMD
#  if defined(ARX_HAS_AVX512)
using arch = xsimd::avx512bw;
#  elif defined(ARX_HAS_AVX2)
using arch = xsimd::fma3<xsimd::avx2>;
#  elif defined(ARX_HAS_NEON64)
using arch = xsimd::neon64;
#  else
using arch = xsimd::sse2;
#  endif
using batch_f32 = xsimd::batch<float, arch>;
inline constexpr int lanes_f32 = int(batch_f32::size);

/// Horizontal sum of a batch (xsimd 8.1 calls it hadd; 9.0 renamed it reduce_add).
inline float reduce_add(const batch_f32& b) noexcept { return xsimd::hadd(b); }
/// Horizontal maximum (xsimd 8.1 has no reduce_max).
inline float reduce_max(const batch_f32& b) noexcept {
  alignas(64) float tmp[batch_f32::size];
  b.store_aligned(tmp);
  float m = tmp[0];
  for (std::size_t i = 1; i < batch_f32::size; ++i) m = tmp[i] > m ? tmp[i] : m;
  return m;
}
#endif

}  // namespace simd
ARX_NAMESPACE_END
