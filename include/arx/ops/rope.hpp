// arx/ops/rope.hpp — rotary position embedding (RoPE, Su et al. 2021) applied in place to the
// query or key vectors of one token: x: [n_heads][head_dim].
//
// The first n_rot dims of every head are split into n_rot/2 pairs; pair i is rotated by the angle
//   theta_i = pos · freq_scale · freq_base^(−2i / n_rot),      i = 0 .. n_rot/2 − 1
//   (a, b) ← (a·cos θ − b·sin θ,  a·sin θ + b·cos θ)
// and dims n_rot .. head_dim−1 are left untouched. Which dims form pair i:
//   rope_layout::normal  (2i, 2i+1)           — Llama, Mistral (GGML's mode 0)
//   rope_layout::neox    (i, i + n_rot/2)     — GPT-NeoX, Falcon, Phi, Qwen2 (GGML's NeoX mode)
// freq_scale < 1 is linear RoPE scaling ("position interpolation"): GGUF stores its inverse as
// rope.scaling.factor.
//
// Precision. Angles are computed in double: freq_base^(−2/n_rot) once with pow, its powers by
// repeated multiplication (relative error ≤ (i+2)·2^-53), the product with pos, then cos and sin in
// double, rounded once to float. At pos = 32768 the fastest pair turns 32768 rad, where a float
// angle has an ulp of 0.004 rad, so float angle arithmetic (GGML computes theta in float by
// repeated multiplication) is off by up to 3 milliradians there; ours by < 1e-9 rad, leaving
// only the float rounding of cos, sin and the rotation (a few ulp of the pair's norm) at any
// position. The table costs n_rot/2 double sincos per token; it depends only on the position, so
// compute it once (rope_sincos) and apply it to Q and K of every layer (rope_apply).
#pragma once

#include <cmath>
#include <complex>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "arx/config.hpp"
#include "arx/core/error.hpp"
#include "arx/core/tensor.hpp"
#include "arx/ops/elementwise.hpp"
#include "arx/simd/arch.hpp"

ARX_DIAG_PUSH
ARX_NAMESPACE_BEGIN
namespace ops {

/// Which dims of a head form the rotated pairs (see the file comment).
enum class rope_layout {
  normal,  ///< pairs (2i, 2i+1): Llama
  neox,    ///< pairs (i, i + n_rot/2): GPT-NeoX
};

/// What a model's hyper-parameters say about its RoPE.
struct rope_params {
  int n_rot = 0;                             ///< rotated dims per head: even, 0 ≤ n_rot ≤ head_dim
  float freq_base = 10000.0f;                ///< θ base (GGUF rope.freq_base)
  float freq_scale = 1.0f;                   ///< angles use pos · freq_scale (linear scaling)
  rope_layout layout = rope_layout::normal;  ///< pairing of dims
};

namespace detail {
inline void check_rope_params(const rope_params& p) {
  if (p.n_rot < 0 || p.n_rot % 2 != 0)
    throw invalid_argument("arx::ops::rope: n_rot must be even and >= 0, got " +
                           std::to_string(p.n_rot));
  if (!(p.freq_base > 0.0f && std::isfinite(p.freq_base)))
    throw invalid_argument("arx::ops::rope: freq_base must be finite and > 0, got " +
                           std::to_string(p.freq_base));
  if (!(p.freq_scale > 0.0f && std::isfinite(p.freq_scale)))
    throw invalid_argument("arx::ops::rope: freq_scale must be finite and > 0, got " +
                           std::to_string(p.freq_scale));
}
inline void check_rope_apply(tensor_view<float> x, std::size_t n_cos, std::size_t n_sin) {
  check_matrix("arx::ops::rope", "x", x);
  check_size("arx::ops::rope", "sin", n_sin, n_cos);
  if (std::int64_t(2 * n_cos) > x.shape(1))
    throw shape_error("arx::ops::rope: n_rot = " + std::to_string(2 * n_cos) +
                      " exceeds head_dim = " + std::to_string(x.shape(1)));
}
// Everything rope(x, pos, p) checks, done before the table is built: a bad n_rot must not cost
// an allocation and n_rot/2 sincos before it throws.
inline void check_rope(tensor_view<float> x, const rope_params& p) {
  check_rope_params(p);
  check_matrix("arx::ops::rope", "x", x);
  if (std::int64_t(p.n_rot) > x.shape(1))
    throw shape_error("arx::ops::rope: n_rot = " + std::to_string(p.n_rot) +
                      " exceeds head_dim = " + std::to_string(x.shape(1)));
}
// Rotates pairs [first, cos.size()) of every head, one pair at a time: the reference, and the
// fast kernel's tail.
inline void rotate_pairs_scalar(tensor_view<float> x, std::span<const float> cos,
                                std::span<const float> sin, rope_layout layout,
                                std::size_t first) {
  const std::size_t half = cos.size();
  for (std::int64_t h = 0; h < x.shape(0); ++h) {
    float* row = x.data() + h * x.stride(0);
    for (std::size_t i = first; i < half; ++i) {
      float& a = layout == rope_layout::normal ? row[2 * i] : row[i];
      float& b = layout == rope_layout::normal ? row[2 * i + 1] : row[i + half];
      const float a0 = a, b0 = b;
      a = a0 * cos[i] - b0 * sin[i];
      b = a0 * sin[i] + b0 * cos[i];
    }
  }
}
// Small tables live on the stack; n_rot > 2·kStack (no known model) goes to the heap.
struct rope_table {
  static constexpr std::size_t kStack = 256;
  float cos_stack[kStack], sin_stack[kStack];
  std::vector<float> heap;
  std::span<float> cos, sin;
  explicit rope_table(std::size_t half) {
    if (half <= kStack) {
      cos = {cos_stack, half};
      sin = {sin_stack, half};
    } else {
      heap.resize(2 * half);
      cos = {heap.data(), half};
      sin = {heap.data() + half, half};
    }
  }
};
}  // namespace detail

/// The rotation table of position `pos`: cos[i] = cos θ_i, sin[i] = sin θ_i (angles in double,
/// see the file comment). Negative positions rotate backwards (KV-cache shifting).
///   cos, sin: [n_rot / 2]
inline void rope_sincos(std::int64_t pos, const rope_params& p, std::span<float> cos,
                        std::span<float> sin) {
  detail::check_rope_params(p);
  const std::size_t half = std::size_t(p.n_rot / 2);
  detail::check_size("arx::ops::rope_sincos", "cos", cos.size(), half);
  detail::check_size("arx::ops::rope_sincos", "sin", sin.size(), half);
  const double step = std::pow(double(p.freq_base), -2.0 / double(p.n_rot));
  const double t = double(pos) * double(p.freq_scale);
  double inv_freq = 1.0;
  for (std::size_t i = 0; i < half; ++i, inv_freq *= step) {
    const double theta = t * inv_freq;
    cos[i] = float(std::cos(theta));
    sin[i] = float(std::sin(theta));
  }
}

// ---- scalar references -----------------------------------------------------------------------
namespace ref {

/// Rotates the first 2·cos.size() dims of every head by the table from rope_sincos.
///   x: [n_heads][head_dim] (rows contiguous, may be strided); cos, sin: [n_rot / 2]
inline void rope_apply(tensor_view<float> x, std::span<const float> cos,
                       std::span<const float> sin, rope_layout layout) {
  detail::check_rope_apply(x, cos.size(), sin.size());
  detail::rotate_pairs_scalar(x, cos, sin, layout, 0);
}

/// RoPE of one token at position `pos`.   x: [n_heads][head_dim]
inline void rope(tensor_view<float> x, std::int64_t pos, const rope_params& p) {
  detail::check_rope(x, p);
  detail::rope_table t(std::size_t(p.n_rot / 2));
  rope_sincos(pos, p, t.cos, t.sin);
  rope_apply(x, t.cos, t.sin, p.layout);
}

/// RoPE of a batch of tokens, token t at position pos[t].
///   x: [tokens][n_heads][head_dim] (innermost contiguous); pos: [tokens]
inline void rope(tensor_view<float> x, std::span<const std::int64_t> pos, const rope_params& p) {
  if (x.rank() != 3)
    throw shape_error("arx::ops::rope: x must be {tokens, n_heads, head_dim}, got " +
                      x.shape().str());
  detail::check_size("arx::ops::rope", "pos", pos.size(), std::size_t(x.shape(0)));
  if (x.shape(0) > 0) detail::check_rope(x.slice(0), p);  // before any token is touched
  for (std::int64_t t = 0; t < x.shape(0); ++t) rope(x.slice(t), pos[std::size_t(t)], p);
}

}  // namespace ref

// ---- fast kernels ----------------------------------------------------------------------------

/// Rotates the first 2·cos.size() dims of every head by the table from rope_sincos.
///   x: [n_heads][head_dim] (rows contiguous, may be strided); cos, sin: [n_rot / 2]
inline void rope_apply(tensor_view<float> x, std::span<const float> cos,
                       std::span<const float> sin, rope_layout layout) {
#if ARX_SIMD
  detail::check_rope_apply(x, cos.size(), sin.size());
  using B = simd::batch_f32;
  using C = xsimd::batch<std::complex<float>, simd::arch>;
  constexpr std::size_t L = B::size;
  const std::size_t half = cos.size();
  const std::int64_t n_heads = x.shape(0), stride = x.stride(0);
  // Pair blocks outside, heads inside: each block of the table is loaded once for all heads,
  // leaving one load and one store per vector of x.
  std::size_t i = 0;
  if (layout == rope_layout::normal) {
    // Interleaved pairs are complex numbers a + ib and the rotation is a product with
    // cos θ + i sin θ; xsimd's complex load/store does the (de)interleaving shuffles.
    for (; i + L <= half; i += L) {
      const B c = B::load_unaligned(&cos[i]), s = B::load_unaligned(&sin[i]);
      for (std::int64_t h = 0; h < n_heads; ++h) {
        // allowed by [complex.numbers]/4 (array-oriented access)
        auto* z = reinterpret_cast<std::complex<float>*>(x.data() + h * stride) + i;
        const C v = C::load_unaligned(z);
        const B a = v.real(), b = v.imag();
        C(xsimd::fms(a, c, b * s), xsimd::fma(a, s, b * c)).store_unaligned(z);
      }
    }
  } else {
    for (; i + L <= half; i += L) {
      const B c = B::load_unaligned(&cos[i]), s = B::load_unaligned(&sin[i]);
      for (std::int64_t h = 0; h < n_heads; ++h) {
        float* lo = x.data() + h * stride + i;
        float* hi = lo + half;
        const B a = B::load_unaligned(lo), b = B::load_unaligned(hi);
        xsimd::fms(a, c, b * s).store_unaligned(lo);
        xsimd::fma(a, s, b * c).store_unaligned(hi);
      }
    }
  }
  detail::rotate_pairs_scalar(x, cos, sin, layout, i);
#else
  ref::rope_apply(x, cos, sin, layout);
#endif
}

/// RoPE of one token at position `pos` (computes the table, then rope_apply).
///   x: [n_heads][head_dim] (rows contiguous, may be strided)
inline void rope(tensor_view<float> x, std::int64_t pos, const rope_params& p) {
  detail::check_rope(x, p);
  detail::rope_table t(std::size_t(p.n_rot / 2));
  rope_sincos(pos, p, t.cos, t.sin);
  rope_apply(x, t.cos, t.sin, p.layout);
}

/// RoPE of a batch of tokens, token t at position pos[t].
///   x: [tokens][n_heads][head_dim] (innermost contiguous); pos: [tokens]
inline void rope(tensor_view<float> x, std::span<const std::int64_t> pos, const rope_params& p) {
  if (x.rank() != 3)
    throw shape_error("arx::ops::rope: x must be {tokens, n_heads, head_dim}, got " +
                      x.shape().str());
  detail::check_size("arx::ops::rope", "pos", pos.size(), std::size_t(x.shape(0)));
  if (x.shape(0) > 0) detail::check_rope(x.slice(0), p);  // before any token is touched
  for (std::int64_t t = 0; t < x.shape(0); ++t) rope(x.slice(t), pos[std::size_t(t)], p);
}

}  // namespace ops
ARX_NAMESPACE_END
ARX_DIAG_POP
