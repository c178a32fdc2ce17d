// arx/ops/quantize.hpp — f32 rows to and from every storage type arx computes with.
//
//   quantize_row<T>(std::span<const float> x, std::span<T> out)     x: [n] -> out: [n / be]
//   dequantize_row<T>(std::span<const T> in, std::span<float> out)  in: [n / be] -> out: [n]
// (be = dtype_traits<T>::block_elems)
//
// for T in arx::compute_types. float copies, f16/bf16 convert (round to nearest even), and the
// Q8_0/Q4_0 follow GGUF/ggml's reference quantizers so the bytes match llama.cpp's files (the
// other block types use arx's own quantizers, see arx/ops/kquants.hpp):
//   Q8_0  d = amax / 127,  id = 1/d,  q = round(x * id)            (round half away from zero)
//   Q4_0  d = m / -8 (m: the value of largest magnitude, first one on ties, with its sign),
//         id = 1/d,  q = min(15, trunc(fma(x, id, 8.5)))   stored as q, value = d * (q - 8)
// An all-zero block gives d = 0 and zero values (Q8_0 quants 0; Q4_0 d = -0 and nibbles 8, as ggml
// stores them; a block of -0.0f values is all-zero too). The scale is computed in f32 and stored
// as f16. A block so tiny that 1/d overflows (Q8_0 amax < ~3.7e-37, Q4_0 |m| < ~2.4e-38; d then
// rounds to ±0 in f16 anyway) uses id = 0 like an all-zero block: zero values (Q8_0 quants 0,
// Q4_0 nibbles 8). ggml would multiply by an infinite id there and convert ±inf/NaN to int, which
// is undefined behaviour in C++ (on x86 it yields Q8_0 quants 0, and Q4_0 nibbles 0 — also the
// value 0, since d is ±0).
// Q4_0 uses one fused multiply-add where ggml writes x*id + 8.5: the compiler may or may not fuse
// that expression, so only the fused form gives the same bytes on every build (it differs from an
// unfused build only when x*id + 8.5 lies within one rounding of an integer). Inputs must be
// finite. The fast versions return exactly the bytes of `ref::`.
//
// A length that is not a multiple of the block size, or input and output that do not describe the
// same number of values, throws arx::shape_error.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>

#include "arx/config.hpp"
#include "arx/core/dtype.hpp"
#include "arx/core/error.hpp"
#include "arx/core/half.hpp"
#include "arx/ops/convert.hpp"
#include "arx/ops/kquants.hpp"
#include "arx/simd/x86.hpp"

ARX_DIAG_PUSH
ARX_NAMESPACE_BEGIN
namespace ops {

namespace detail {
template <class T>
void check_row(std::size_t values, std::size_t units, const char* what) {
  constexpr std::size_t be = std::size_t(dtype_traits<T>::block_elems);
  const std::string tn = type_name(dtype_traits<T>::type);
  if (values % be != 0)
    throw shape_error(std::string(what) + ": " + std::to_string(values) +
                      " values is not a multiple of the " + tn + " block size " +
                      std::to_string(be));
  if (values / be != units)
    throw shape_error(std::string(what) + ": " + std::to_string(values) + " values need " +
                      std::to_string(values / be) + " " + tn + " units, got " +
                      std::to_string(units));
}
}  // namespace detail

namespace ref {

inline void quantize_block(const float* x, block_q8_0& y) {
  float amax = 0.0f;
  for (int j = 0; j < qk8_0; ++j) amax = std::max(amax, std::fabs(x[j]));
  const float d = amax / 127.0f;
  const float id = detail::inverse_scale(d);
  y.d = to_f16(d);
  for (int j = 0; j < qk8_0; ++j) y.qs[j] = std::int8_t(std::round(x[j] * id));
}

inline void quantize_block(const float* x, block_q4_0& y) {
  float amax = 0.0f, m = 0.0f;
  for (int j = 0; j < qk4_0; ++j)
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      m = x[j];
    }
  const float d = m / -8.0f;
  const float id = detail::inverse_scale(d);
  y.d = to_f16(d);
  auto q = [&](float v) { return std::clamp(int(std::fma(v, id, 8.5f)), 0, 15); };
  for (int j = 0; j < qk4_0 / 2; ++j)
    y.qs[j] = std::uint8_t(q(x[j]) | (q(x[j + qk4_0 / 2]) << 4));
}

inline void dequantize_block(const block_q8_0& b, float* out) {
  const float d = to_f32(b.d);
  for (int j = 0; j < qk8_0; ++j) out[j] = d * float(b.qs[j]);
}

inline void dequantize_block(const block_q4_0& b, float* out) {
  const float d = to_f32(b.d);
  for (int j = 0; j < qk4_0 / 2; ++j) {
    out[j] = d * float((b.qs[j] & 15) - 8);
    out[j + qk4_0 / 2] = d * float((b.qs[j] >> 4) - 8);
  }
}

/// x: [n] -> out: [n / block_elems], scalar reference.
template <class T>
void quantize_row(std::span<const float> x, std::span<T> out) {
  detail::check_row<T>(x.size(), out.size(), "quantize_row");
  if constexpr (is_block_type_v<T>) {
    for (std::size_t b = 0; b < out.size(); ++b)
      quantize_block(x.data() + b * dtype_traits<T>::block_elems, out[b]);
  } else {
    ref::convert(x, out);
  }
}

/// in: [n / block_elems] -> out: [n], scalar reference.
template <class T>
void dequantize_row(std::span<const T> in, std::span<float> out) {
  detail::check_row<T>(out.size(), in.size(), "dequantize_row");
  if constexpr (is_block_type_v<T>) {
    for (std::size_t b = 0; b < in.size(); ++b)
      dequantize_block(in[b], out.data() + b * dtype_traits<T>::block_elems);
  } else {
    ref::convert(in, out);
  }
}

}  // namespace ref

#if ARX_SIMD && defined(ARX_HAS_AVX2)
namespace detail {

// round(v) with halves away from zero, like std::round: t = trunc(v), then step away from zero
// when the (exact) fraction v - t reaches one half.
#  if defined(ARX_HAS_AVX512)
inline __m512 round_away(__m512 v) {
  const __m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __m512 f = _mm512_abs_ps(_mm512_sub_ps(v, t));
  const __m512 one = _mm512_or_ps(_mm512_set1_ps(1.0f), _mm512_and_ps(v, _mm512_set1_ps(-0.0f)));
  return _mm512_mask_add_ps(t, _mm512_cmp_ps_mask(f, _mm512_set1_ps(0.5f), _CMP_GE_OQ), t, one);
}

inline void quantize_block_vec(const float* x, block_q8_0& y) {
  const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
  const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
  const float d = amax / 127.0f;
  const float id = detail::inverse_scale(d);
  y.d = to_f16(d);
  const __m512 vid = _mm512_set1_ps(id);
  // The product feeds trunc as well as the subtraction in round_away, so it is never fused.
  const __m512i q0 = _mm512_cvtps_epi32(round_away(_mm512_mul_ps(v0, vid)));
  const __m512i q1 = _mm512_cvtps_epi32(round_away(_mm512_mul_ps(v1, vid)));
  _mm_storeu_si128((__m128i*)y.qs, _mm512_cvtepi32_epi8(q0));
  _mm_storeu_si128((__m128i*)(y.qs + 16), _mm512_cvtepi32_epi8(q1));
}

inline void quantize_block_vec(const float* x, block_q4_0& y) {
  const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
  const __m512 a0 = _mm512_abs_ps(v0), a1 = _mm512_abs_ps(v1);
  const float amax = _mm512_reduce_max_ps(_mm512_max_ps(a0, a1));
  // first value whose magnitude is the maximum (ggml keeps the first on ties)
  const __m512 top = _mm512_set1_ps(amax);
  const std::uint32_t hit = std::uint32_t(_mm512_cmp_ps_mask(a0, top, _CMP_EQ_OQ)) |
                            std::uint32_t(_mm512_cmp_ps_mask(a1, top, _CMP_EQ_OQ)) << 16;
  // an all-zero block (every lane hits) keeps m = +0 like the reference, even when x[0] is -0
  const float m = amax != 0.0f ? x[__builtin_ctz(hit)] : 0.0f;
  const float d = m / -8.0f;
  const float id = detail::inverse_scale(d);
  y.d = to_f16(d);
  const __m512 vid = _mm512_set1_ps(id), bias = _mm512_set1_ps(8.5f);
  auto q = [&](__m512 v) {
    const __m512i t = _mm512_cvttps_epi32(_mm512_fmadd_ps(v, vid, bias));
    return _mm512_min_epi32(_mm512_max_epi32(t, _mm512_setzero_si512()), _mm512_set1_epi32(15));
  };
  const __m512i packed = _mm512_or_si512(q(v0), _mm512_slli_epi32(q(v1), 4));
  _mm_storeu_si128((__m128i*)y.qs, _mm512_cvtepi32_epi8(packed));
}

inline void dequantize_block_vec(const block_q8_0& b, float* out) {
  const __m512 d = _mm512_set1_ps(to_f32(b.d));
  for (int h = 0; h < 2; ++h) {
    const __m128i q = _mm_loadu_si128((const __m128i*)(b.qs + 16 * h));
    _mm512_storeu_ps(out + 16 * h, _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q))));
  }
}

inline void dequantize_block_vec(const block_q4_0& b, float* out) {
  const __m512 d = _mm512_set1_ps(to_f32(b.d));
  const __m512i q = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i*)b.qs));
  const __m512i eight = _mm512_set1_epi32(8);
  const __m512i lo = _mm512_sub_epi32(_mm512_and_si512(q, _mm512_set1_epi32(15)), eight);
  const __m512i hi = _mm512_sub_epi32(_mm512_srli_epi32(q, 4), eight);
  _mm512_storeu_ps(out, _mm512_mul_ps(d, _mm512_cvtepi32_ps(lo)));
  _mm512_storeu_ps(out + 16, _mm512_mul_ps(d, _mm512_cvtepi32_ps(hi)));
}
#  else   // AVX2: Q8_0 only (the activation format); Q4_0 quantizing is not on a hot path.
inline __m256 round_away(__m256 v) {
  const __m256 sign = _mm256_and_ps(v, _mm256_set1_ps(-0.0f));
  const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __m256 f = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), _mm256_sub_ps(v, t));
  const __m256 step = _mm256_and_ps(_mm256_cmp_ps(f, _mm256_set1_ps(0.5f), _CMP_GE_OQ),
                                    _mm256_or_ps(_mm256_set1_ps(1.0f), sign));
  return _mm256_add_ps(t, step);
}

inline void quantize_block_vec(const float* x, block_q8_0& y) {
  __m256 v[4], a = _mm256_setzero_ps();
  for (int i = 0; i < 4; ++i) {
    v[i] = _mm256_loadu_ps(x + 8 * i);
    a = _mm256_max_ps(a, _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v[i]));
  }
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  const float amax = _mm_cvtss_f32(_mm_max_ss(m, _mm_shuffle_ps(m, m, 1)));
  const float d = amax / 127.0f;
  const float id = detail::inverse_scale(d);
  y.d = to_f16(d);
  __m256i q[4];
  for (int i = 0; i < 4; ++i)
    q[i] = _mm256_cvtps_epi32(round_away(_mm256_mul_ps(v[i], _mm256_set1_ps(id))));
  // packs interleave 128-bit lanes; the final permute restores value order
  const __m256i p =
      _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
  _mm256_storeu_si256((__m256i*)y.qs,
                      _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
}
#  endif

}  // namespace detail
#endif

/// x: [n] -> out: [n / block_elems]. Identical bytes to ref::quantize_row.
template <class T>
void quantize_row(std::span<const float> x, std::span<T> out) {
  detail::check_row<T>(x.size(), out.size(), "quantize_row");
  if constexpr (!is_block_type_v<T>) {
    convert(x, out);
  } else {
#if ARX_SIMD && defined(ARX_HAS_AVX512)
    constexpr bool vec = !is_decoded_type_v<T>;
#elif ARX_SIMD && defined(ARX_HAS_AVX2)
    constexpr bool vec = std::is_same_v<T, block_q8_0>;
#else
    constexpr bool vec = false;
#endif
    if constexpr (vec) {
#if ARX_SIMD && defined(ARX_HAS_AVX2)
      for (std::size_t b = 0; b < out.size(); ++b)
        detail::quantize_block_vec(x.data() + b * dtype_traits<T>::block_elems, out[b]);
#endif
    } else {
      ref::quantize_row(x, out);
    }
  }
}

/// in: [n / block_elems] -> out: [n]. Identical values to ref::dequantize_row.
template <class T>
void dequantize_row(std::span<const T> in, std::span<float> out) {
  detail::check_row<T>(out.size(), in.size(), "dequantize_row");
  if constexpr (!is_block_type_v<T>) {
    convert(in, out);
  } else {
#if ARX_SIMD && defined(ARX_HAS_AVX512)
    if constexpr (!is_decoded_type_v<T>) {
      for (std::size_t b = 0; b < in.size(); ++b)
        detail::dequantize_block_vec(in[b], out.data() + b * dtype_traits<T>::block_elems);
      return;
    }
#endif
    ref::dequantize_row(in, out);
  }
}

}  // namespace ops
ARX_NAMESPACE_END
ARX_DIAG_POP
