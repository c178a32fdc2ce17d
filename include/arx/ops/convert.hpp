// arx/ops/convert.hpp — bulk f16 <-> f32 and bf16 <-> f32 conversion of rows.
//
// Every fast conversion returns exactly the bits of the scalar conversions in core/half.hpp
// (round to nearest even, subnormals kept, NaN payload rules included); `ref::convert` is that
// scalar loop. Lengths must match, else arx::shape_error.
//
//   convert(std::span<const f16>  in, std::span<float> out)    f16  -> f32
//   convert(std::span<const bf16> in, std::span<float> out)    bf16 -> f32
//   convert(std::span<const float> in, std::span<f16>  out)    f32  -> f16
//   convert(std::span<const float> in, std::span<bf16> out)    f32  -> bf16
//   convert(std::span<const float> in, std::span<float> out)   copy (generic code converts any row)
#pragma once

#include <cstddef>
#include <cstring>
#include <span>
#include <string>

#include "arx/config.hpp"
#include "arx/core/error.hpp"
#include "arx/core/half.hpp"
#include "arx/simd/x86.hpp"

ARX_DIAG_PUSH
ARX_NAMESPACE_BEGIN
namespace ops {

namespace detail {
inline void check_same_length(std::size_t in, std::size_t out, const char* what) {
  if (in != out)
    throw shape_error(std::string(what) + ": input of " + std::to_string(in) +
                      " values and output of " + std::to_string(out) + " values differ in length");
}
}  // namespace detail

namespace ref {

template <class In, class Out, class F>
void convert_with(std::span<const In> in, std::span<Out> out, F f) {
  detail::check_same_length(in.size(), out.size(), "convert");
  for (std::size_t i = 0; i < in.size(); ++i) out[i] = f(in[i]);
}
inline void convert(std::span<const f16> in, std::span<float> out) {
  convert_with(in, out, [](f16 h) { return to_f32(h); });
}
inline void convert(std::span<const bf16> in, std::span<float> out) {
  convert_with(in, out, [](bf16 h) { return to_f32(h); });
}
inline void convert(std::span<const float> in, std::span<f16> out) {
  convert_with(in, out, [](float f) { return to_f16(f); });
}
inline void convert(std::span<const float> in, std::span<bf16> out) {
  convert_with(in, out, [](float f) { return to_bf16(f); });
}
inline void convert(std::span<const float> in, std::span<float> out) {
  detail::check_same_length(in.size(), out.size(), "convert");
  if (!in.empty()) std::memmove(out.data(), in.data(), in.size() * sizeof(float));
}

}  // namespace ref

#if ARX_SIMD && defined(ARX_HAS_SSE2)
namespace detail {
// Vector widths per tier: the body converts whole vectors, the scalar reference does the rest.
#  if defined(ARX_HAS_AVX512)
inline constexpr std::size_t cvt_lanes = 16;
inline void f16_to_f32_vec(const f16* in, float* out) {
  _mm512_storeu_ps(out, simd::x86::f16x16_to_f32(_mm256_loadu_si256((const __m256i*)in)));
}
inline void bf16_to_f32_vec(const bf16* in, float* out) {
  _mm512_storeu_ps(out, simd::x86::bf16x16_to_f32(_mm256_loadu_si256((const __m256i*)in)));
}
inline void f32_to_f16_vec(const float* in, f16* out) {
  _mm256_storeu_si256((__m256i*)out, simd::x86::f32x16_to_f16(_mm512_loadu_ps(in)));
}
inline void f32_to_bf16_vec(const float* in, bf16* out) {
  _mm256_storeu_si256((__m256i*)out, simd::x86::f32x16_to_bf16(_mm512_loadu_ps(in)));
}
#  elif defined(ARX_HAS_AVX2)
inline constexpr std::size_t cvt_lanes = 8;
inline void f16_to_f32_vec(const f16* in, float* out) {
  _mm256_storeu_ps(out, simd::x86::f16x8_to_f32(_mm_loadu_si128((const __m128i*)in)));
}
inline void bf16_to_f32_vec(const bf16* in, float* out) {
  _mm256_storeu_ps(out, simd::x86::bf16x8_to_f32(_mm_loadu_si128((const __m128i*)in)));
}
inline void f32_to_f16_vec(const float* in, f16* out) {
  _mm_storeu_si128((__m128i*)out, simd::x86::f32x8_to_f16(_mm256_loadu_ps(in)));
}
inline void f32_to_bf16_vec(const float* in, bf16* out) {
  _mm_storeu_si128((__m128i*)out, simd::x86::f32x8_to_bf16(_mm256_loadu_ps(in)));
}
#  else
inline constexpr std::size_t cvt_lanes = 8;  // two SSE2 vectors per step
inline void f16_to_f32_vec(const f16* in, float* out) {
  const __m128i h = _mm_loadu_si128((const __m128i*)in);
  _mm_storeu_ps(out, simd::x86::f16x4_to_f32(h));
  _mm_storeu_ps(out + 4, simd::x86::f16x4_to_f32(_mm_unpackhi_epi64(h, h)));
}
inline void bf16_to_f32_vec(const bf16* in, float* out) {
  const __m128i h = _mm_loadu_si128((const __m128i*)in);
  _mm_storeu_ps(out, simd::x86::bf16x4_to_f32(h));
  _mm_storeu_ps(out + 4, simd::x86::bf16x4_to_f32(_mm_unpackhi_epi64(h, h)));
}
inline void f32_to_f16_vec(const float* in, f16* out) {
  for (std::size_t i = 0; i < cvt_lanes; ++i) out[i] = to_f16(in[i]);  // no SSE2 f16 rounding
}
inline void f32_to_bf16_vec(const float* in, bf16* out) {
  const __m128i lo = simd::x86::f32x4_to_bf16_lanes(_mm_loadu_ps(in));
  const __m128i hi = simd::x86::f32x4_to_bf16_lanes(_mm_loadu_ps(in + 4));
  _mm_storeu_si128((__m128i*)out, _mm_packs_epi32(lo, hi));  // lanes are sign-extended: exact
}
#  endif

template <class In, class Out, class Vec>
void convert_rows(std::span<const In> in, std::span<Out> out, Vec vec) {
  check_same_length(in.size(), out.size(), "convert");
  std::size_t i = 0;
  for (; i + cvt_lanes <= in.size(); i += cvt_lanes) vec(in.data() + i, out.data() + i);
  ref::convert(in.subspan(i), out.subspan(i));
}
}  // namespace detail

#endif

/// Fast conversions; the reference loop when ARX_SIMD == 0 or off x86.
inline void convert(std::span<const f16> in, std::span<float> out) {
#if ARX_SIMD && defined(ARX_HAS_SSE2)
  detail::convert_rows(in, out, detail::f16_to_f32_vec);
#else
  ref::convert(in, out);
#endif
}
inline void convert(std::span<const bf16> in, std::span<float> out) {
#if ARX_SIMD && defined(ARX_HAS_SSE2)
  detail::convert_rows(in, out, detail::bf16_to_f32_vec);
#else
  ref::convert(in, out);
#endif
}
inline void convert(std::span<const float> in, std::span<f16> out) {
#if ARX_SIMD && defined(ARX_HAS_SSE2)
  detail::convert_rows(in, out, detail::f32_to_f16_vec);
#else
  ref::convert(in, out);
#endif
}
inline void convert(std::span<const float> in, std::span<bf16> out) {
#if ARX_SIMD && defined(ARX_HAS_SSE2)
  detail::convert_rows(in, out, detail::f32_to_bf16_vec);
#else
  ref::convert(in, out);
#endif
}
/// Same-type copy (any build): lets generic code "convert" an f32 row.
inline void convert(std::span<const float> in, std::span<float> out) { ref::convert(in, out); }

}  // namespace ops
ARX_NAMESPACE_END
ARX_DIAG_POP
