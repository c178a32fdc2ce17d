// arx/ops/softmax.hpp — numerically stable softmax and log-softmax, in place, with an optional
// scale applied to the inputs first (1/sqrt(head_dim) for attention logits, 1/temperature for
// sampling):
//
//   softmax(x, s)[i]     = exp(s·x[i] − M) / Σ_j exp(s·x[j] − M),   M = max_j s·x[j]
//   log_softmax(x, s)[i] = (s·x[i] − M) − log Σ_j exp(s·x[j] − M)
//
// Subtracting the maximum keeps every exponent ≤ 0, so no exp overflows however large the inputs.
//
// Special values (the same for the reference and the fast kernels):
//   * −inf entries (causal masks) get probability 0 (log-probability −inf);
//   * a row whose entries are ALL −inf has no mass to distribute: softmax writes all zeros and
//     log_softmax all −inf (never NaN). A fully masked attention row thus contributes nothing;
//   * a NaN or +inf entry makes the whole row NaN, so the fault shows instead of being hidden;
//   * an empty span is left alone.
// `scale` must be finite and > 0 (a negative scale would turn masks into +inf); violations throw
// arx::invalid_argument.
//
// Accuracy, relative to exact math on the float inputs, with u = 2^-24: the exponent t = s·x − M
// is a float, and its rounding (plus that of s·x where the CPU has no FMA) becomes a relative error
// of about u·(|t| + |s·x|) in exp(t) — exp's own condition number, only large for probabilities
// far below the maximum. On top: exp within ~2 ulp (libm in the reference, xsimd's polynomial in
// the fast kernel) and the normaliser, summed with relative error ≤ ~70u (in double in the
// reference, detail::blocked_sum in the fast kernel). Results under ~1e-38 may be flushed to 0.
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
inline void check_softmax_scale(const char* fn, float scale) {
  if (!(scale > 0.0f && scale <= std::numeric_limits<float>::max()))
    throw invalid_argument(std::string(fn) + ": scale must be finite and > 0, got " +
                           std::to_string(scale));
}
template <class F>
void for_each_row_inplace(const char* fn, tensor_view<float> x, F f) {
  check_matrix(fn, "x", x);
  const std::size_t n = std::size_t(x.shape(1));
  for (std::int64_t r = 0; r < x.shape(0); ++r) f(std::span<float>(x.data() + r * x.stride(0), n));
}
}  // namespace detail

// ---- scalar references -----------------------------------------------------------------------
namespace ref {

namespace detail_ {
// Shared by softmax and log_softmax: handles the special rows, writes t[i] = s·x[i] − M (computed
// in double, so it cannot overflow) into x, and returns Σ exp(t[i]); returns a negative value when
// the row was already finished (empty, all −inf, NaN or +inf).
inline double shift_and_sum(std::span<float> x, float scale, bool log_out) {
  if (x.empty()) return -1.0;
  const float inf = std::numeric_limits<float>::infinity();
  float m = -inf;
  bool nan = false;
  for (float v : x) {
    nan = nan || std::isnan(v);
    m = v > m ? v : m;
  }
  if (nan || m == inf) {
    for (auto& v : x) v = std::numeric_limits<float>::quiet_NaN();
    return -1.0;
  }
  if (m == -inf) {
    for (auto& v : x) v = log_out ? -inf : 0.0f;
    return -1.0;
  }
  const double sm = double(scale) * double(m);
  double sum = 0.0;
  for (auto& v : x) {
    v = float(double(scale) * double(v) - sm);  // −inf stays −inf
    sum += double(std::exp(v));
  }
  return sum;
}
}  // namespace detail_

/// x ← softmax(scale · x), in place.   x: [n]
inline void softmax(std::span<float> x, float scale = 1.0f) {
  ops::detail::check_softmax_scale("arx::ops::softmax", scale);
  const double sum = detail_::shift_and_sum(x, scale, false);
  if (sum < 0.0) return;
  for (auto& v : x) v = float(double(std::exp(v)) / sum);
}

/// x ← log_softmax(scale · x), in place.   x: [n]
inline void log_softmax(std::span<float> x, float scale = 1.0f) {
  ops::detail::check_softmax_scale("arx::ops::log_softmax", scale);
  const double sum = detail_::shift_and_sum(x, scale, true);
  if (sum < 0.0) return;
  const float lse = float(std::log(sum));
  for (auto& v : x) v = v - lse;
}

/// softmax of every row, in place.   x: [rows][n] (rows contiguous, may be strided)
inline void softmax(tensor_view<float> x, float scale = 1.0f) {
  ops::detail::for_each_row_inplace("arx::ops::softmax", x,
                                    [&](std::span<float> r) { softmax(r, scale); });
}
/// log_softmax of every row, in place.   x: [rows][n]
inline void log_softmax(tensor_view<float> x, float scale = 1.0f) {
  ops::detail::for_each_row_inplace("arx::ops::log_softmax", x,
                                    [&](std::span<float> r) { log_softmax(r, scale); });
}

}  // namespace ref

// ---- fast kernels ----------------------------------------------------------------------------

/// x ← softmax(scale · x), in place.   x: [n]
inline void softmax(std::span<float> x, float scale = 1.0f) {
#if ARX_SIMD
  detail::check_softmax_scale("arx::ops::softmax", scale);
  const std::size_t n = x.size();
  const float m = detail::max_value(x.data(), n);
  const float sm = scale * m;
  // Rows with no finite maximum (all −inf, +inf, maybe NaN) or whose scaled maximum overflows go
  // to the reference, which owns the special cases.
  if (!std::isfinite(sm)) return ref::softmax(x, scale);
  using B = simd::batch_f32;
  constexpr std::size_t L = B::size;
  const B vs(scale), vnm(-sm);
  float* p = x.data();
  // Exps are stored in x, then summed as detail::blocked_sum does (float chunks, double total).
  double sum = 0.0;
  std::size_t i = 0;
  while (i + L <= n) {
    const std::size_t end = i + (n - i < 1024 ? n - i : 1024) / L * L;
    B acc(0.f);
    for (; i < end; i += L) {
      const B e = xsimd::exp(xsimd::fma(vs, B::load_unaligned(p + i), vnm));
      e.store_unaligned(p + i);
      acc += e;
    }
    sum += double(simd::reduce_add(acc));
  }
  if (i < n) {
    const B e = xsimd::exp(xsimd::fma(vs, detail::load_tail(p + i, n - i, 0.f), vnm));
    detail::store_tail(e, p + i, n - i);
    for (; i < n; ++i) sum += double(p[i]);
  }
  // A NaN input leaves sum NaN and every output NaN, as the reference does.
  const float inv = float(1.0 / sum);
  const B vinv(inv);
  i = 0;
  for (; i + L <= n; i += L) (B::load_unaligned(p + i) * vinv).store_unaligned(p + i);
  for (; i < n; ++i) p[i] *= inv;
#else
  ref::softmax(x, scale);
#endif
}

/// x ← log_softmax(scale · x), in place.   x: [n]
inline void log_softmax(std::span<float> x, float scale = 1.0f) {
#if ARX_SIMD
  detail::check_softmax_scale("arx::ops::log_softmax", scale);
  const std::size_t n = x.size();
  const float m = detail::max_value(x.data(), n);
  const float sm = scale * m;
  if (!std::isfinite(sm)) return ref::log_softmax(x, scale);
  using B = simd::batch_f32;
  constexpr std::size_t L = B::size;
  const B vs(scale), vnm(-sm);
  float* p = x.data();
  const double sum =
      detail::blocked_sum(p, n, [&](const B& v) { return xsimd::exp(xsimd::fma(vs, v, vnm)); });
  // Shift and log-sum are subtracted separately: folding them into one constant would lose the
  // log-sum next to a huge maximum.
  const B lse(float(std::log(sum)));
  std::size_t i = 0;
  for (; i + L <= n; i += L)
    (xsimd::fma(vs, B::load_unaligned(p + i), vnm) - lse).store_unaligned(p + i);
  if (i < n)
    detail::store_tail(xsimd::fma(vs, detail::load_tail(p + i, n - i, 0.f), vnm) - lse, p + i,
                       n - i);
#else
  ref::log_softmax(x, scale);
#endif
}

/// softmax of every row, in place.   x: [rows][n] (rows contiguous, may be strided)
inline void softmax(tensor_view<float> x, float scale = 1.0f) {
  detail::for_each_row_inplace("arx::ops::softmax", x,
                               [&](std::span<float> r) { softmax(r, scale); });
}
/// log_softmax of every row, in place.   x: [rows][n]
inline void log_softmax(tensor_view<float> x, float scale = 1.0f) {
  detail::for_each_row_inplace("arx::ops::log_softmax", x,
                               [&](std::span<float> r) { log_softmax(r, scale); });
}

}  // namespace ops
ARX_NAMESPACE_END
ARX_DIAG_POP
