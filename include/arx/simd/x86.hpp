// arx/simd/x86.hpp — x86 intrinsic helpers shared by the ops/ kernels: horizontal sums in a fixed
// order, f16/bf16 -> f32 vector conversions that agree bit for bit with core/half.hpp, and an
// aligned-line reader for streaming weight rows with AVX-512.
//
// Everything here exists only when ARX_SIMD is on and the target is x86; each helper is guarded by
// the ARX_HAS_* tier it needs.
#pragma once

#include <cstddef>
#include <cstdint>

#include "arx/config.hpp"
#include "arx/simd/arch.hpp"

// Forces inlining of small helpers called inside kernel loops: an out-of-line call there (even
// on a cold path) makes the compiler spill every vector register around it, on every iteration.
// ARX_INLINE_LAMBDA does the same for a lambda's body (placed after its parameter list).
#if defined(__GNUC__)
#  define ARX_X86_INLINE [[gnu::always_inline]] inline
#  define ARX_INLINE_LAMBDA __attribute__((always_inline))
#else
#  define ARX_X86_INLINE inline
#  define ARX_INLINE_LAMBDA
#endif

ARX_DIAG_PUSH
ARX_NAMESPACE_BEGIN
namespace simd::x86 {

#if ARX_SIMD && defined(ARX_HAS_SSE2)

// ---- horizontal sums: one fixed tree per width, so every caller rounds identically ----------

/// (v0 + v2) + (v1 + v3)
inline float hsum(__m128 v) noexcept {
  const __m128 h = _mm_add_ps(v, _mm_movehl_ps(v, v));
  return _mm_cvtss_f32(_mm_add_ss(h, _mm_shuffle_ps(h, h, 1)));
}
inline int hsum(__m128i v) noexcept {
  const __m128i h = _mm_add_epi32(v, _mm_shuffle_epi32(v, 0x4e));
  return _mm_cvtsi128_si32(_mm_add_epi32(h, _mm_shuffle_epi32(h, 0xb1)));
}

// ---- f16 / bf16 -> f32, four lanes with SSE2 integer ops -----------------------------------

/// Four f16 (low 64 bits of `h`) to f32, bit-identical to arx::to_f32 including NaN payloads.
/// Subnormals go through an int -> float conversion, so no denormal arithmetic (DAZ-proof).
inline __m128 f16x4_to_f32(__m128i h) noexcept {
  const __m128i u = _mm_unpacklo_epi16(h, _mm_setzero_si128());
  const __m128i sign = _mm_slli_epi32(_mm_and_si128(u, _mm_set1_epi32(0x8000)), 16);
  const __m128i em = _mm_and_si128(u, _mm_set1_epi32(0x7fff));
  const __m128i shifted = _mm_slli_epi32(em, 13);
  const __m128i normal = _mm_add_epi32(shifted, _mm_set1_epi32(0x38000000));  // rebias 15 -> 127
  const __m128i infnan = _mm_add_epi32(shifted, _mm_set1_epi32(0x70000000));  // exponent 31 -> 255
  const __m128i sub = _mm_castps_si128(
      _mm_mul_ps(_mm_cvtepi32_ps(em), _mm_set1_ps(1.0f / 16777216.0f)));  // mant * 2^-24
  const __m128i is_sub = _mm_cmplt_epi32(em, _mm_set1_epi32(0x0400));
  const __m128i is_special = _mm_cmpgt_epi32(em, _mm_set1_epi32(0x7bff));
  __m128i r = _mm_or_si128(_mm_and_si128(is_special, infnan), _mm_andnot_si128(is_special, normal));
  r = _mm_or_si128(_mm_and_si128(is_sub, sub), _mm_andnot_si128(is_sub, r));
  return _mm_castsi128_ps(_mm_or_si128(r, sign));
}

/// Four bf16 (low 64 bits of `h`) to f32: the bits move to the top half of each lane.
inline __m128 bf16x4_to_f32(__m128i h) noexcept {
  return _mm_castsi128_ps(_mm_unpacklo_epi16(_mm_setzero_si128(), h));
}

/// f32 -> bf16 bits in the low 16 bits of each 32-bit lane (high bits are the sign extension),
/// rounding to nearest even; NaN becomes a quiet NaN — the same bits as arx::to_bf16.
inline __m128i f32x4_to_bf16_lanes(__m128 f) noexcept {
  const __m128i x = _mm_castps_si128(f);
  const __m128i lsb = _mm_and_si128(_mm_srli_epi32(x, 16), _mm_set1_epi32(1));
  const __m128i rounded = _mm_srai_epi32(
      _mm_add_epi32(_mm_add_epi32(x, _mm_set1_epi32(0x7fff)), lsb), 16);
  const __m128i quiet = _mm_srai_epi32(_mm_or_si128(x, _mm_set1_epi32(0x00400000)), 16);
  const __m128i is_nan =
      _mm_cmpgt_epi32(_mm_and_si128(x, _mm_set1_epi32(0x7fffffff)), _mm_set1_epi32(0x7f800000));
  return _mm_or_si128(_mm_and_si128(is_nan, quiet), _mm_andnot_si128(is_nan, rounded));
}

#  if defined(ARX_HAS_AVX2)
inline float hsum(__m256 v) noexcept {
  return hsum(_mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1)));
}
inline int hsum(__m256i v) noexcept {
  return hsum(_mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1)));
}

/// Eight f16 to f32 with F16C; NaN lanes are rebuilt so that signalling NaNs keep their bits
/// (the instruction quiets them), making the result identical to arx::to_f32.
inline __m256 f16x8_to_f32(__m128i h) noexcept {
  const __m256 v = _mm256_cvtph_ps(h);
  const __m256i u = _mm256_cvtepu16_epi32(h);
  const __m256i em = _mm256_and_si256(u, _mm256_set1_epi32(0x7fff));
  const __m256i is_nan = _mm256_cmpgt_epi32(em, _mm256_set1_epi32(0x7c00));
  const __m256i nan = _mm256_or_si256(
      _mm256_slli_epi32(_mm256_and_si256(u, _mm256_set1_epi32(0x8000)), 16),
      _mm256_add_epi32(_mm256_slli_epi32(em, 13), _mm256_set1_epi32(0x70000000)));
  return _mm256_blendv_ps(v, _mm256_castsi256_ps(nan), _mm256_castsi256_ps(is_nan));
}
inline __m256 bf16x8_to_f32(__m128i h) noexcept {
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}
/// Eight f32 to f16 bits (round to nearest even); NaN becomes sign | 0x7e00 like arx::to_f16.
inline __m128i f32x8_to_f16(__m256 f) noexcept {
  const __m128i h = _mm256_cvtps_ph(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m128i nan = _mm_or_si128(_mm_and_si128(h, _mm_set1_epi16(short(0x8000))),
                                   _mm_set1_epi16(0x7e00));
  const __m256 unord = _mm256_cmp_ps(f, f, _CMP_UNORD_Q);
  const __m128i m = _mm_packs_epi32(_mm256_castsi256_si128(_mm256_castps_si256(unord)),
                                    _mm256_extracti128_si256(_mm256_castps_si256(unord), 1));
  return _mm_blendv_epi8(h, nan, m);
}
/// Eight f32 to bf16 bits, same rounding and NaN rule as arx::to_bf16.
inline __m128i f32x8_to_bf16(__m256 f) noexcept {
  const __m256i x = _mm256_castps_si256(f);
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(1));
  const __m256i rounded = _mm256_srli_epi32(
      _mm256_add_epi32(_mm256_add_epi32(x, _mm256_set1_epi32(0x7fff)), lsb), 16);
  const __m256i quiet = _mm256_srli_epi32(_mm256_or_si256(x, _mm256_set1_epi32(0x00400000)), 16);
  const __m256i is_nan = _mm256_cmpgt_epi32(_mm256_and_si256(x, _mm256_set1_epi32(0x7fffffff)),
                                            _mm256_set1_epi32(0x7f800000));
  const __m256i r = _mm256_blendv_epi8(rounded, quiet, is_nan);
  return _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
}
#  endif  // ARX_HAS_AVX2

#  if defined(ARX_HAS_AVX512)
inline float hsum(__m512 v) noexcept {
  return hsum(_mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1)));
}

inline __m512 f16x16_to_f32(__m256i h) noexcept {
  const __m512 v = _mm512_cvtph_ps(h);
  const __m512i u = _mm512_cvtepu16_epi32(h);
  const __m512i em = _mm512_and_si512(u, _mm512_set1_epi32(0x7fff));
  const __mmask16 is_nan = _mm512_cmpgt_epi32_mask(em, _mm512_set1_epi32(0x7c00));
  const __m512i nan = _mm512_or_si512(
      _mm512_slli_epi32(_mm512_and_si512(u, _mm512_set1_epi32(0x8000)), 16),
      _mm512_add_epi32(_mm512_slli_epi32(em, 13), _mm512_set1_epi32(0x70000000)));
  return _mm512_mask_mov_ps(v, is_nan, _mm512_castsi512_ps(nan));
}
inline __m512 bf16x16_to_f32(__m256i h) noexcept {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}
inline __m256i f32x16_to_f16(__m512 f) noexcept {
  const __m256i h = _mm512_cvtps_ph(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m256i nan = _mm256_or_si256(_mm256_and_si256(h, _mm256_set1_epi16(short(0x8000))),
                                      _mm256_set1_epi16(0x7e00));
  return _mm256_mask_mov_epi16(h, _mm512_cmp_ps_mask(f, f, _CMP_UNORD_Q), nan);
}
inline __m256i f32x16_to_bf16(__m512 f) noexcept {
  const __m512i x = _mm512_castps_si512(f);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(x, 16), _mm512_set1_epi32(1));
  const __m512i rounded = _mm512_srli_epi32(
      _mm512_add_epi32(_mm512_add_epi32(x, _mm512_set1_epi32(0x7fff)), lsb), 16);
  const __m512i quiet = _mm512_srli_epi32(_mm512_or_si512(x, _mm512_set1_epi32(0x00400000)), 16);
  const __mmask16 is_nan = _mm512_cmpgt_epi32_mask(
      _mm512_and_si512(x, _mm512_set1_epi32(0x7fffffff)), _mm512_set1_epi32(0x7f800000));
  return _mm512_cvtepi32_epi16(_mm512_mask_mov_epi32(rounded, is_nan, quiet));
}

/// How far ahead (bytes) the AVX-512 row readers prefetch. A single core sees DRAM latency of
/// ~100 ns; the hardware prefetcher alone covers too little of it once a kernel does real work
/// per byte. Tuned with bench/kernels/bench_matmul.cpp (4096x4096 gemv from DRAM); define
/// ARX_PREFETCH_BYTES to try other distances.
#    if defined(ARX_PREFETCH_BYTES)
inline constexpr std::size_t prefetch_bytes = ARX_PREFETCH_BYTES;
#    else
inline constexpr std::size_t prefetch_bytes = 8192;
#    endif

/// Reads the bytes [p, p + n) as consecutive 64-byte "lines" starting exactly at p, using only
/// 64-byte ALIGNED loads plus one word permute per line to shift them into place.
///
/// Why: on Zen 4/5 a load that straddles two cache lines and misses the cache throttles the
/// stream (measured 13 GB/s against 30 GB/s for the same Q4_0 kernel with aligned loads), and
/// weight rows are rarely 64-byte aligned (GGUF aligns tensors to 32 bytes; a row of 4095 f32
/// is 16380 bytes). Bytes outside [p, p + n) read as zero and are never touched: the partial
/// first/last cache lines use masked loads, so nothing outside the row is read (sanitizers
/// agree). `p` must be 2-byte aligned (every arx storage type is).
class row_lines {
 public:
  /// `prefetch`: false when the row is known to be in cache (a second pass over a gemm tile).
  row_lines(const void* p, std::size_t n, bool prefetch = true) noexcept : prefetch_(prefetch) {
    const auto a = reinterpret_cast<std::uintptr_t>(p);
    shift_ = a & 63u;
    base_ = reinterpret_cast<const char*>(a - shift_);
    end_ = shift_ + n;
    full_begin_ = shift_ ? 1 : 0;
    full_end_ = end_ / 64;
    idx_ = _mm512_add_epi16(
        _mm512_set_epi16(31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14,
                         13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
        _mm512_set1_epi16(short(shift_ / 2)));
  }
  bool shifted() const noexcept { return shift_ != 0; }
  /// Offset of the row start within its first aligned line (0..63).
  std::size_t shift() const noexcept { return shift_; }

  /// Aligned cache line j (the one holding bytes [64j - shift, 64j + 64 - shift) of the row).
  ARX_X86_INLINE __m512i raw(std::size_t j) const noexcept {
    if (j >= full_begin_ && j < full_end_) [[likely]]
      return _mm512_load_si512(base_ + 64 * j);
    return partial(j);
  }
  /// Row bytes [64k, 64k + 64) from aligned lines k and k + 1.
  template <bool Shifted>
  __m512i line(__m512i raw_k, __m512i raw_k1) const noexcept {
    if constexpr (Shifted)
      return _mm512_permutex2var_epi16(raw_k, idx_, raw_k1);
    else
      return raw_k;
  }
  // Forced inline: GCC 12's mod/ref analysis marks a small out-of-line function holding only a
  // prefetch as pure, and then deletes every call to it (seen: gemv lost all its prefetches).
  ARX_X86_INLINE void prefetch(std::size_t j) const noexcept {
    if (prefetch_) _mm_prefetch(base_ + 64 * j + prefetch_bytes, _MM_HINT_T0);
  }

 private:
  ARX_X86_INLINE __m512i partial(std::size_t j) const noexcept {
    const std::size_t lo = 64 * j, hi = lo + 64;
    const std::size_t b = shift_ > lo ? shift_ - lo : 0;
    const std::size_t e = end_ < hi ? (end_ > lo ? end_ - lo : 0) : 64;
    if (b >= e) return _mm512_setzero_si512();
    const __mmask64 m = (e == 64 ? ~__mmask64(0) : ((__mmask64(1) << e) - 1)) &
                        ~((__mmask64(1) << b) - 1);
    return _mm512_maskz_loadu_epi8(m, base_ + lo);
  }

  bool prefetch_;
  const char* base_;
  std::size_t shift_, end_, full_begin_, full_end_;
  __m512i idx_;
};
#  endif  // ARX_HAS_AVX512

#endif  // ARX_SIMD && ARX_HAS_SSE2

}  // namespace simd::x86
ARX_NAMESPACE_END
ARX_DIAG_POP
