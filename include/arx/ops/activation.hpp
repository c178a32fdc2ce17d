// arx/ops/activation.hpp — the feed-forward activations of decoder-only transformers.
//
//   silu(x)      = x · σ(x) = x / (1 + e^−x)                         Llama, Mistral, Qwen (SwiGLU)
//   gelu(x)      = ½x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))           GPT-2, GGML's GELU (tanh form)
//   gelu_erf(x)  = ½x·(1 + erf(x/√2))                                 exact GELU (erf form)
//   swiglu(g, u) = silu(g) ⊙ u    geglu(g, u) = gelu(g) ⊙ u    geglu_erf(g, u) = gelu_erf(g) ⊙ u
//
// Both GELUs are evaluated in forms that are mathematically identical but avoid the cancellation
// in 1 + tanh(·) and 1 + erf(·) for negative x (where the result is a tiny difference of ~1s):
//   ½(1 + tanh(u)) = σ(2u) = 1 / (1 + e^−2u),     ½(1 + erf(z)) = ½·erfc(−z).
// Results are then within a few ulp relative, times the conditioning of the final exp / erfc
// argument (1 + |2u| for gelu, 1 + x²/2 for gelu_erf): ~200 ulp only where results near float
// underflow, where GGML's direct forms have no correct digit left. +inf gives +inf; −inf gives
// NaN (−inf·0, as in GGML): infinite activations mean an earlier overflow anyway.
//
// Out-of-place forms accept `out` equal to an input (in place) but not partially overlapping one;
// single-span forms work in place. Sizes are checked (arx::shape_error).
#pragma once

#include <cmath>
#include <cstddef>
#include <span>

#include "arx/config.hpp"
#include "arx/core/error.hpp"
#include "arx/ops/elementwise.hpp"
#include "arx/simd/arch.hpp"

ARX_DIAG_PUSH
ARX_NAMESPACE_BEGIN
namespace ops {

namespace detail {
inline constexpr float kSqrt2OverPi = 0.7978845608028654f;  // √(2/π)
inline constexpr float kGeluCubic = 0.044715f;
inline constexpr float kInvSqrt2 = 0.7071067811865476f;

#if ARX_SIMD
// Batch forms of the scalar functions in ref::.
inline simd::batch_f32 silu_b(const simd::batch_f32& x) {
  return x / (simd::batch_f32(1.0f) + xsimd::exp(-x));
}
inline simd::batch_f32 gelu_b(const simd::batch_f32& x) {
  using B = simd::batch_f32;
  const B u = B(kSqrt2OverPi) * x * xsimd::fma(B(kGeluCubic), x * x, B(1.0f));
  return x / (B(1.0f) + xsimd::exp(B(-2.0f) * u));
}
inline simd::batch_f32 gelu_erf_b(const simd::batch_f32& x) {
  using B = simd::batch_f32;
  return B(0.5f) * x * xsimd::erfc(B(-kInvSqrt2) * x);
}

// out[i] = f(x[i]); the tail goes through f on a padded batch (see detail::load_tail).
template <class F>
void map_unary(std::span<const float> x, std::span<float> out, F f) {
  using B = simd::batch_f32;
  const std::size_t n = x.size();
  std::size_t i = 0;
  for (; i + B::size <= n; i += B::size) f(B::load_unaligned(&x[i])).store_unaligned(&out[i]);
  if (i < n) store_tail(f(load_tail(&x[i], n - i, 0.f)), &out[i], n - i);
}
// out[i] = f(g[i]) · u[i]
template <class F>
void map_glu(std::span<const float> g, std::span<const float> u, std::span<float> out, F f) {
  using B = simd::batch_f32;
  const std::size_t n = g.size();
  std::size_t i = 0;
  for (; i + B::size <= n; i += B::size)
    (f(B::load_unaligned(&g[i])) * B::load_unaligned(&u[i])).store_unaligned(&out[i]);
  if (i < n)
    store_tail(f(load_tail(&g[i], n - i, 0.f)) * load_tail(&u[i], n - i, 0.f), &out[i], n - i);
}
#endif
}  // namespace detail

// ---- scalar references -----------------------------------------------------------------------
namespace ref {

/// x · σ(x)
inline float silu(float x) { return x / (1.0f + std::exp(-x)); }
/// GELU, tanh approximation, as x · σ(2u) with u = √(2/π)·(x + 0.044715·x³).
inline float gelu(float x) {
  const float u = ops::detail::kSqrt2OverPi * x * (1.0f + ops::detail::kGeluCubic * x * x);
  return x / (1.0f + std::exp(-2.0f * u));
}
/// GELU with erf, as ½x · erfc(−x/√2).
inline float gelu_erf(float x) { return 0.5f * x * std::erfc(-ops::detail::kInvSqrt2 * x); }

namespace detail_ {
template <class F>
void map_unary(const char* fn, std::span<const float> x, std::span<float> out, F f) {
  ops::detail::check_size(fn, "out", out.size(), x.size());
  for (std::size_t i = 0; i < x.size(); ++i) out[i] = f(x[i]);
}
template <class F>
void map_glu(const char* fn, std::span<const float> g, std::span<const float> u,
             std::span<float> out, F f) {
  ops::detail::check_size(fn, "up", u.size(), g.size());
  ops::detail::check_size(fn, "out", out.size(), g.size());
  for (std::size_t i = 0; i < g.size(); ++i) out[i] = f(g[i]) * u[i];
}
}  // namespace detail_

/// out = silu(x).   x, out: [n]
inline void silu(std::span<const float> x, std::span<float> out) {
  detail_::map_unary("arx::ops::silu", x, out, [](float v) { return silu(v); });
}
inline void silu(std::span<float> x) { silu(x, x); }
/// out = gelu(x) (tanh approximation).   x, out: [n]
inline void gelu(std::span<const float> x, std::span<float> out) {
  detail_::map_unary("arx::ops::gelu", x, out, [](float v) { return gelu(v); });
}
inline void gelu(std::span<float> x) { gelu(x, x); }
/// out = gelu_erf(x).   x, out: [n]
inline void gelu_erf(std::span<const float> x, std::span<float> out) {
  detail_::map_unary("arx::ops::gelu_erf", x, out, [](float v) { return gelu_erf(v); });
}
inline void gelu_erf(std::span<float> x) { gelu_erf(x, x); }
/// out = silu(gate) ⊙ up.   gate, up, out: [n]
inline void swiglu(std::span<const float> gate, std::span<const float> up, std::span<float> out) {
  detail_::map_glu("arx::ops::swiglu", gate, up, out, [](float v) { return silu(v); });
}
/// out = gelu(gate) ⊙ up.   gate, up, out: [n]
inline void geglu(std::span<const float> gate, std::span<const float> up, std::span<float> out) {
  detail_::map_glu("arx::ops::geglu", gate, up, out, [](float v) { return gelu(v); });
}
/// out = gelu_erf(gate) ⊙ up.   gate, up, out: [n]
inline void geglu_erf(std::span<const float> gate, std::span<const float> up,
                      std::span<float> out) {
  detail_::map_glu("arx::ops::geglu_erf", gate, up, out, [](float v) { return gelu_erf(v); });
}

}  // namespace ref

// ---- fast kernels ----------------------------------------------------------------------------
#if ARX_SIMD
namespace detail {
inline void check_unary(const char* fn, std::span<const float> x, std::span<float> out) {
  check_size(fn, "out", out.size(), x.size());
  ARX_DASSERT(same_or_disjoint(x.data(), out.data(), x.size()));
}
inline void check_glu(const char* fn, std::span<const float> g, std::span<const float> u,
                      std::span<float> out) {
  check_size(fn, "up", u.size(), g.size());
  check_size(fn, "out", out.size(), g.size());
  ARX_DASSERT(same_or_disjoint(g.data(), out.data(), g.size()));
  ARX_DASSERT(same_or_disjoint(u.data(), out.data(), g.size()));
}
}  // namespace detail
#endif

/// out = silu(x) = x · σ(x). `out` may be `x`.   x, out: [n]
inline void silu(std::span<const float> x, std::span<float> out) {
#if ARX_SIMD
  detail::check_unary("arx::ops::silu", x, out);
  detail::map_unary(x, out, detail::silu_b);
#else
  ref::silu(x, out);
#endif
}
/// x ← silu(x).   x: [n]
inline void silu(std::span<float> x) { silu(x, x); }

/// out = gelu(x), tanh approximation (GGML's GELU). `out` may be `x`.   x, out: [n]
inline void gelu(std::span<const float> x, std::span<float> out) {
#if ARX_SIMD
  detail::check_unary("arx::ops::gelu", x, out);
  detail::map_unary(x, out, detail::gelu_b);
#else
  ref::gelu(x, out);
#endif
}
/// x ← gelu(x).   x: [n]
inline void gelu(std::span<float> x) { gelu(x, x); }

/// out = gelu_erf(x) = ½x(1 + erf(x/√2)). `out` may be `x`.   x, out: [n]
inline void gelu_erf(std::span<const float> x, std::span<float> out) {
#if ARX_SIMD
  detail::check_unary("arx::ops::gelu_erf", x, out);
  detail::map_unary(x, out, detail::gelu_erf_b);
#else
  ref::gelu_erf(x, out);
#endif
}
/// x ← gelu_erf(x).   x: [n]
inline void gelu_erf(std::span<float> x) { gelu_erf(x, x); }

/// out = silu(gate) ⊙ up (the Llama FFN gate). `out` may be `gate` or `up`.
///   gate, up, out: [n_ff]
inline void swiglu(std::span<const float> gate, std::span<const float> up, std::span<float> out) {
#if ARX_SIMD
  detail::check_glu("arx::ops::swiglu", gate, up, out);
  detail::map_glu(gate, up, out, detail::silu_b);
#else
  ref::swiglu(gate, up, out);
#endif
}

/// out = gelu(gate) ⊙ up (tanh GELU). `out` may be `gate` or `up`.   gate, up, out: [n_ff]
inline void geglu(std::span<const float> gate, std::span<const float> up, std::span<float> out) {
#if ARX_SIMD
  detail::check_glu("arx::ops::geglu", gate, up, out);
  detail::map_glu(gate, up, out, detail::gelu_b);
#else
  ref::geglu(gate, up, out);
#endif
}

/// out = gelu_erf(gate) ⊙ up. `out` may be `gate` or `up`.   gate, up, out: [n_ff]
inline void geglu_erf(std::span<const float> gate, std::span<const float> up,
                      std::span<float> out) {
#if ARX_SIMD
  detail::check_glu("arx::ops::geglu_erf", gate, up, out);
  detail::map_glu(gate, up, out, detail::gelu_erf_b);
#else
  ref::geglu_erf(gate, up, out);
#endif
}

}  // namespace ops
ARX_NAMESPACE_END
ARX_DIAG_POP
