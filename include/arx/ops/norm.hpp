// arx/ops/norm.hpp — RMSNorm (Llama, Mistral, Qwen, Gemma) and LayerNorm (GPT-2, Phi, Falcon),
// over one vector or over every row of a {tokens, n} matrix.
//
//   rms_norm:   out = x / sqrt(mean(x²) + eps) ⊙ weight
//   layer_norm: out = (x − mean(x)) / sqrt(var(x) + eps) ⊙ weight + bias   (population variance)
//
// Accuracy. The references accumulate in double: squares of floats are exact in double (24 + 24
// bits < 53), so the sum of squares has relative error ≤ n·2^-53 and cannot overflow. The fast
// kernels accumulate float lanes in chunks whose totals are added in double (see
// detail::blocked_sum), so the relative error of the sum of squares stays below ~70·2^-24 for every
// n. Should the float accumulation overflow (|x| ≳ 1e18) or underflow, they fall back to the
// reference. Outputs agree with the reference to a few ulp.
//
// `out` may be `x` (in place); it must not partially overlap it. eps must be ≥ 0 (NaN is
// rejected); with eps == 0 a row whose RMS (rms_norm) or variance (layer_norm) is 0 gives NaN.
#pragma once

#include <cmath>
#include <cstddef>
#include <limits>
#include <span>
#include <string>

#include "arx/config.hpp"
#include "arx/core/error.hpp"
#include "arx/core/tensor.hpp"
#include "arx/ops/elementwise.hpp"
#include "arx/simd/arch.hpp"

ARX_DIAG_PUSH
ARX_NAMESPACE_BEGIN
namespace ops {

namespace detail {
inline void check_eps(const char* fn, float eps) {
  if (!(eps >= 0.0f))
    throw invalid_argument(std::string(fn) + ": eps must be >= 0, got " + std::to_string(eps));
}
inline void check_norm_args(const char* fn, std::size_t n, std::size_t weight, std::size_t out,
                            float eps) {
  check_size(fn, "weight", weight, n);
  check_size(fn, "out", out, n);
  check_eps(fn, eps);
}
}  // namespace detail

// ---- scalar references -----------------------------------------------------------------------
namespace ref {

/// out = x / sqrt(mean(x²) + eps) ⊙ weight, computed in double.   x, weight, out: [n]
inline void rms_norm(std::span<const float> x, std::span<const float> weight, float eps,
                     std::span<float> out) {
  detail::check_norm_args("arx::ops::rms_norm", x.size(), weight.size(), out.size(), eps);
  const std::size_t n = x.size();
  if (n == 0) return;
  double ss = 0.0;
  for (std::size_t i = 0; i < n; ++i) ss += double(x[i]) * double(x[i]);
  const double r = 1.0 / std::sqrt(ss / double(n) + double(eps));
  for (std::size_t i = 0; i < n; ++i) out[i] = float(double(x[i]) * r * double(weight[i]));
}

/// out = (x − mean) / sqrt(var + eps) ⊙ weight + bias, computed in double. An empty `bias` means
/// no bias.   x, weight, out: [n]; bias: [n] or []
inline void layer_norm(std::span<const float> x, std::span<const float> weight,
                       std::span<const float> bias, float eps, std::span<float> out) {
  detail::check_norm_args("arx::ops::layer_norm", x.size(), weight.size(), out.size(), eps);
  if (!bias.empty()) detail::check_size("arx::ops::layer_norm", "bias", bias.size(), x.size());
  const std::size_t n = x.size();
  if (n == 0) return;
  double sum = 0.0;
  for (std::size_t i = 0; i < n; ++i) sum += double(x[i]);
  const double mean = sum / double(n);
  // Two passes (deviations from the mean) rather than E[x²] − E[x]², which cancels badly when
  // |mean| ≫ std.
  double ss = 0.0;
  for (std::size_t i = 0; i < n; ++i) ss += (double(x[i]) - mean) * (double(x[i]) - mean);
  const double r = 1.0 / std::sqrt(ss / double(n) + double(eps));
  for (std::size_t i = 0; i < n; ++i) {
    const double b = bias.empty() ? 0.0 : double(bias[i]);
    out[i] = float((double(x[i]) - mean) * r * double(weight[i]) + b);
  }
}

/// rms_norm of every row.   x, out: [tokens][n] (rows contiguous, may be strided); weight: [n]
inline void rms_norm(tensor_view<const float> x, std::span<const float> weight, float eps,
                     tensor_view<float> out) {
  detail::for_each_row("arx::ops::rms_norm", x, out,
                       [&](std::span<const float> xr, std::span<float> o) {
                         rms_norm(xr, weight, eps, o);
                       });
}

/// layer_norm of every row.   x, out: [tokens][n]; weight: [n]; bias: [n] or []
inline void layer_norm(tensor_view<const float> x, std::span<const float> weight,
                       std::span<const float> bias, float eps, tensor_view<float> out) {
  detail::for_each_row("arx::ops::layer_norm", x, out,
                       [&](std::span<const float> xr, std::span<float> o) {
                         layer_norm(xr, weight, bias, eps, o);
                       });
}

}  // namespace ref

// ---- fast kernels ----------------------------------------------------------------------------

/// out = x / sqrt(mean(x²) + eps) ⊙ weight.   x, weight, out: [n]
inline void rms_norm(std::span<const float> x, std::span<const float> weight, float eps,
                     std::span<float> out) {
#if ARX_SIMD
  detail::check_norm_args("arx::ops::rms_norm", x.size(), weight.size(), out.size(), eps);
  ARX_DASSERT(detail::same_or_disjoint(x.data(), out.data(), x.size()));
  const std::size_t n = x.size();
  if (n == 0) return;
  using B = simd::batch_f32;
  const double ss = detail::blocked_sum(x.data(), n, [](const B& v) { return v * v; });
  // Float squares overflow above ~1.8e19 (the sum turns inf) and lose precision below ~1e-19:
  // leave such rows (and rows holding inf or NaN) to the double-precision reference.
  if (!(ss >= double(n) * 1e-30 && std::isfinite(ss))) return ref::rms_norm(x, weight, eps, out);
  const float rs = float(1.0 / std::sqrt(ss / double(n) + double(eps)));
  const B r(rs);
  std::size_t i = 0;
  for (; i + B::size <= n; i += B::size)
    (B::load_unaligned(&x[i]) * r * B::load_unaligned(&weight[i])).store_unaligned(&out[i]);
  if (const std::size_t k = n - i; k != 0)
    detail::store_tail(detail::load_tail(&x[i], k, 0.f) * r * detail::load_tail(&weight[i], k, 0.f),
                       &out[i], k);
#else
  ref::rms_norm(x, weight, eps, out);
#endif
}

/// out = (x − mean) / sqrt(var + eps) ⊙ weight + bias (population variance). An empty `bias`
/// means no bias.   x, weight, out: [n]; bias: [n] or []
inline void layer_norm(std::span<const float> x, std::span<const float> weight,
                       std::span<const float> bias, float eps, std::span<float> out) {
#if ARX_SIMD
  detail::check_norm_args("arx::ops::layer_norm", x.size(), weight.size(), out.size(), eps);
  if (!bias.empty()) detail::check_size("arx::ops::layer_norm", "bias", bias.size(), x.size());
  ARX_DASSERT(detail::same_or_disjoint(x.data(), out.data(), x.size()));
  const std::size_t n = x.size();
  if (n == 0) return;
  using B = simd::batch_f32;
  // Mean in two steps: a first estimate m1, then the mean of the deviations from m1 (small terms,
  // mostly exact by Sterbenz) corrects it, so its error scales with the spread of x rather than
  // with |mean|. It is then carried as a float pair mh + ml, so that deviations (x − mh) − ml keep
  // their precision when |mean| ≫ std, as they would in double.
  const double sum = detail::blocked_sum(x.data(), n, [](const B& v) { return v; });
  const float m1 = float(sum / double(n));
  const B vm1(m1);
  const double dev = detail::blocked_sum(x.data(), n, [&](const B& v) { return v - vm1; });
  const double mean = double(m1) + dev / double(n);
  const float mh = float(mean), ml = float(mean - double(mh));
  const B vmh(mh), vml(ml);
  const double ss = detail::blocked_sum(x.data(), n, [&](const B& v) {
    const B d = (v - vmh) - vml;
    return d * d;
  });
  // Overflowed float partial sums, underflowed squares, inf or NaN: use the reference.
  if (!(std::isfinite(sum) && std::isfinite(ss) && ss >= double(n) * 1e-30))
    return ref::layer_norm(x, weight, bias, eps, out);
  const float rs = float(1.0 / std::sqrt(ss / double(n) + double(eps)));
  const B r(rs);
  const bool has_bias = !bias.empty();
  const auto norm = [&](const B& v, const B& w, const B& b) {
    return xsimd::fma(((v - vmh) - vml) * r, w, b);  // b = 0 without bias: fma(a, w, 0) = a·w
  };
  std::size_t i = 0;
  for (; i + B::size <= n; i += B::size) {
    const B b = has_bias ? B::load_unaligned(&bias[i]) : B(0.f);
    norm(B::load_unaligned(&x[i]), B::load_unaligned(&weight[i]), b).store_unaligned(&out[i]);
  }
  if (const std::size_t k = n - i; k != 0) {
    const B b = has_bias ? detail::load_tail(&bias[i], k, 0.f) : B(0.f);
    detail::store_tail(
        norm(detail::load_tail(&x[i], k, 0.f), detail::load_tail(&weight[i], k, 0.f), b), &out[i],
        k);
  }
#else
  ref::layer_norm(x, weight, bias, eps, out);
#endif
}

/// rms_norm of every row.   x, out: [tokens][n] (rows contiguous, may be strided); weight: [n]
inline void rms_norm(tensor_view<const float> x, std::span<const float> weight, float eps,
                     tensor_view<float> out) {
  detail::for_each_row("arx::ops::rms_norm", x, out,
                       [&](std::span<const float> xr, std::span<float> o) {
                         rms_norm(xr, weight, eps, o);
                       });
}

/// layer_norm of every row.   x, out: [tokens][n]; weight: [n]; bias: [n] or []
inline void layer_norm(tensor_view<const float> x, std::span<const float> weight,
                       std::span<const float> bias, float eps, tensor_view<float> out) {
  detail::for_each_row("arx::ops::layer_norm", x, out,
                       [&](std::span<const float> xr, std::span<float> o) {
                         layer_norm(xr, weight, bias, eps, o);
                       });
}

}  // namespace ops
ARX_NAMESPACE_END
ARX_DIAG_POP
