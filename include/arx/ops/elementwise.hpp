// arx/ops/elementwise.hpp — element-wise arithmetic over float spans: add, mul, scale, axpy,
// copy, fill; and the size checks and blocked reductions the other ops/ headers share.
//
// Every kernel comes in two forms:
//   * out of place, `op(a, b, out)`: `out` may be exactly the same span as an input (in place),
//     but must not partially overlap one (results would depend on the vector width);
//   * in place, `op(y, x)`: y ← y ∘ x.
// Sizes are checked on every call and a mismatch throws arx::shape_error naming both sizes.
// `arx::ops::ref::*` are the scalar references the fast kernels are tested against, and what the
// fast kernels are when ARX_SIMD == 0.
#pragma once

#include <cstddef>
#include <cstring>
#include <limits>
#include <span>
#include <string>

#include "arx/config.hpp"
#include "arx/core/error.hpp"
#include "arx/core/tensor.hpp"
#include "arx/simd/arch.hpp"

ARX_DIAG_PUSH
ARX_NAMESPACE_BEGIN
namespace ops {

namespace detail {

[[noreturn]] inline void throw_size(const char* fn, const char* what, std::size_t got,
                                    std::size_t want) {
  throw shape_error(std::string(fn) + ": " + what + " has " + std::to_string(got) +
                    " elements, expected " + std::to_string(want));
}
/// Throws shape_error "fn: what has `got` elements, expected `want`" when they differ. The throw
/// is out of line and [[noreturn]], so callers are compiled knowing got == want afterwards.
inline void check_size(const char* fn, const char* what, std::size_t got, std::size_t want) {
  if (got != want) throw_size(fn, what, got, want);
}

/// True when [a, a+n) and [b, b+n) are either identical or disjoint (the aliasing the kernels
/// allow). Used in debug assertions only.
inline bool same_or_disjoint(const float* a, const float* b, std::size_t n) noexcept {
  return a == b || n == 0 || a + n <= b || b + n <= a;
}

/// Checks that `v` is a matrix {rows, cols} whose rows are contiguous (rows may be strided).
template <class T>
void check_matrix(const char* fn, const char* what, const tensor_view<T>& v) {
  if (v.rank() != 2)
    throw shape_error(std::string(fn) + ": " + what + " must be 2-D {rows, n}, got shape " +
                      v.shape().str());
  if (v.stride(1) != 1 && v.shape(1) > 1)
    throw shape_error(std::string(fn) + ": " + what + " rows must be contiguous (inner stride " +
                      std::to_string(v.stride(1)) + ")");
}

/// Calls f(x row r, out row r) for every row after checking both are matrices of one shape.
/// x, out: [rows][n]
template <class F>
void for_each_row(const char* fn, tensor_view<const float> x, tensor_view<float> out, F f) {
  check_matrix(fn, "x", x);
  check_matrix(fn, "out", out);
  if (!(x.shape() == out.shape()))
    throw shape_error(std::string(fn) + ": out has shape " + out.shape().str() + ", x has " +
                      x.shape().str());
  const std::size_t n = std::size_t(x.shape(1));
  for (std::int64_t r = 0; r < x.shape(0); ++r)
    f(std::span<const float>(x.data() + r * x.stride(0), n),
      std::span<float>(out.data() + r * out.stride(0), n));
}

#if ARX_SIMD
// The last n % L values as a full batch, padded with `pad`. Kernels whose scalar form would round
// differently (libm vs xsimd's exp, fused vs separate multiply-add) run their tail through the
// same batch code, so each output depends only on its inputs, not on where in the span it sits.
inline simd::batch_f32 load_tail(const float* x, std::size_t k, float pad) {
  alignas(64) float buf[simd::batch_f32::size];
  for (std::size_t j = 0; j < simd::batch_f32::size; ++j) buf[j] = j < k ? x[j] : pad;
  return simd::batch_f32::load_aligned(buf);
}
inline void store_tail(const simd::batch_f32& v, float* out, std::size_t k) {
  alignas(64) float buf[simd::batch_f32::size];
  v.store_aligned(buf);
  for (std::size_t j = 0; j < k; ++j) out[j] = buf[j];
}

// Sum of f(x[i]) over i < n with an error bound independent of n. Within a chunk of kChunk
// values each of 4·L float lane accumulators adds at most kChunk/(4L) terms, then they are combined
// pairwise; chunk totals are added in double. The error is therefore at most about
// (kChunk/(4L) + log2(4L))·2^-24 · Σ|f(x[i])| — 68·2^-24 with SSE2/NEON (L = 4), 22·2^-24 with
// AVX-512 (L = 16), whatever n is; for non-negative terms (sums of squares, of exps) that is a
// relative bound. `f` maps a simd::batch_f32 to a batch; the tail is passed padded with zeros
// and only its first n % L results are added.
template <class F>
double blocked_sum(const float* x, std::size_t n, F f) {
  using B = simd::batch_f32;
  constexpr std::size_t L = B::size;
  constexpr std::size_t kChunk = 1024;
  double total = 0.0;
  std::size_t i = 0;
  while (n - i >= 4 * L) {
    const std::size_t end = i + (n - i < kChunk ? n - i : kChunk) / (4 * L) * (4 * L);
    B a0(0.f), a1(0.f), a2(0.f), a3(0.f);
    for (; i < end; i += 4 * L) {
      a0 += f(B::load_unaligned(x + i));
      a1 += f(B::load_unaligned(x + i + L));
      a2 += f(B::load_unaligned(x + i + 2 * L));
      a3 += f(B::load_unaligned(x + i + 3 * L));
    }
    total += double(simd::reduce_add((a0 + a1) + (a2 + a3)));
  }
  for (; i + L <= n; i += L) total += double(simd::reduce_add(f(B::load_unaligned(x + i))));
  if (i < n) {
    alignas(64) float t[L];
    f(load_tail(x + i, n - i, 0.f)).store_aligned(t);
    for (std::size_t j = 0; j < n - i; ++j) total += double(t[j]);
  }
  return total;
}

/// Maximum of x[0..n) (−inf when n == 0). NaN entries may or may not be seen: callers that care
/// check the result they compute from it.
inline float max_value(const float* x, std::size_t n) {
  using B = simd::batch_f32;
  constexpr std::size_t L = B::size;
  const float neg_inf = -std::numeric_limits<float>::infinity();
  B m0(neg_inf), m1(neg_inf);
  std::size_t i = 0;
  for (; i + 2 * L <= n; i += 2 * L) {
    m0 = xsimd::max(m0, B::load_unaligned(x + i));
    m1 = xsimd::max(m1, B::load_unaligned(x + i + L));
  }
  for (; i + L <= n; i += L) m0 = xsimd::max(m0, B::load_unaligned(x + i));
  float m = simd::reduce_max(xsimd::max(m0, m1));
  for (; i < n; ++i) m = x[i] > m ? x[i] : m;
  return m;
}
#endif

}  // namespace detail

// ---- scalar references -----------------------------------------------------------------------
namespace ref {

/// out = a + b.   a, b, out: [n]
inline void add(std::span<const float> a, std::span<const float> b, std::span<float> out) {
  detail::check_size("arx::ops::add", "b", b.size(), a.size());
  detail::check_size("arx::ops::add", "out", out.size(), a.size());
  for (std::size_t i = 0; i < a.size(); ++i) out[i] = a[i] + b[i];
}
/// y += x.   y, x: [n]
inline void add(std::span<float> y, std::span<const float> x) { add(y, x, y); }

/// out = a ⊙ b (element-wise product).   a, b, out: [n]
inline void mul(std::span<const float> a, std::span<const float> b, std::span<float> out) {
  detail::check_size("arx::ops::mul", "b", b.size(), a.size());
  detail::check_size("arx::ops::mul", "out", out.size(), a.size());
  for (std::size_t i = 0; i < a.size(); ++i) out[i] = a[i] * b[i];
}
/// y ⊙= x.   y, x: [n]
inline void mul(std::span<float> y, std::span<const float> x) { mul(y, x, y); }

/// out = s · x.   x, out: [n]
inline void scale(std::span<const float> x, float s, std::span<float> out) {
  detail::check_size("arx::ops::scale", "out", out.size(), x.size());
  for (std::size_t i = 0; i < x.size(); ++i) out[i] = s * x[i];
}
/// x *= s.   x: [n]
inline void scale(std::span<float> x, float s) { scale(x, s, x); }

/// y += alpha · x (BLAS axpy).   x, y: [n]
inline void axpy(float alpha, std::span<const float> x, std::span<float> y) {
  detail::check_size("arx::ops::axpy", "y", y.size(), x.size());
  for (std::size_t i = 0; i < x.size(); ++i) y[i] += alpha * x[i];
}

/// dst = src (any overlap allowed).   src, dst: [n]
inline void copy(std::span<const float> src, std::span<float> dst) {
  detail::check_size("arx::ops::copy", "dst", dst.size(), src.size());
  if (!src.empty()) std::memmove(dst.data(), src.data(), src.size() * sizeof(float));
}

/// dst[i] = value.   dst: [n]
inline void fill(std::span<float> dst, float value) {
  for (auto& v : dst) v = value;
}

}  // namespace ref

// ---- fast kernels ----------------------------------------------------------------------------

/// out = a + b. `out` may be `a` or `b`.   a, b, out: [n]
inline void add(std::span<const float> a, std::span<const float> b, std::span<float> out) {
#if ARX_SIMD
  detail::check_size("arx::ops::add", "b", b.size(), a.size());
  detail::check_size("arx::ops::add", "out", out.size(), a.size());
  ARX_DASSERT(detail::same_or_disjoint(a.data(), out.data(), a.size()));
  ARX_DASSERT(detail::same_or_disjoint(b.data(), out.data(), a.size()));
  using B = simd::batch_f32;
  const std::size_t n = a.size();
  std::size_t i = 0;
  for (; i + B::size <= n; i += B::size)
    (B::load_unaligned(&a[i]) + B::load_unaligned(&b[i])).store_unaligned(&out[i]);
  for (; i < n; ++i) out[i] = a[i] + b[i];
#else
  ref::add(a, b, out);
#endif
}
/// y += x.   y, x: [n]
inline void add(std::span<float> y, std::span<const float> x) { add(y, x, y); }

/// out = a ⊙ b. `out` may be `a` or `b`.   a, b, out: [n]
inline void mul(std::span<const float> a, std::span<const float> b, std::span<float> out) {
#if ARX_SIMD
  detail::check_size("arx::ops::mul", "b", b.size(), a.size());
  detail::check_size("arx::ops::mul", "out", out.size(), a.size());
  ARX_DASSERT(detail::same_or_disjoint(a.data(), out.data(), a.size()));
  ARX_DASSERT(detail::same_or_disjoint(b.data(), out.data(), a.size()));
  using B = simd::batch_f32;
  const std::size_t n = a.size();
  std::size_t i = 0;
  for (; i + B::size <= n; i += B::size)
    (B::load_unaligned(&a[i]) * B::load_unaligned(&b[i])).store_unaligned(&out[i]);
  for (; i < n; ++i) out[i] = a[i] * b[i];
#else
  ref::mul(a, b, out);
#endif
}
/// y ⊙= x.   y, x: [n]
inline void mul(std::span<float> y, std::span<const float> x) { mul(y, x, y); }

/// out = s · x. `out` may be `x`.   x, out: [n]
inline void scale(std::span<const float> x, float s, std::span<float> out) {
#if ARX_SIMD
  detail::check_size("arx::ops::scale", "out", out.size(), x.size());
  ARX_DASSERT(detail::same_or_disjoint(x.data(), out.data(), x.size()));
  using B = simd::batch_f32;
  const std::size_t n = x.size();
  const B vs(s);
  std::size_t i = 0;
  for (; i + B::size <= n; i += B::size) (vs * B::load_unaligned(&x[i])).store_unaligned(&out[i]);
  for (; i < n; ++i) out[i] = s * x[i];
#else
  ref::scale(x, s, out);
#endif
}
/// x *= s.   x: [n]
inline void scale(std::span<float> x, float s) { scale(x, s, x); }

/// y += alpha · x (BLAS axpy; one rounding per element where the CPU has FMA).   x, y: [n]
inline void axpy(float alpha, std::span<const float> x, std::span<float> y) {
#if ARX_SIMD
  detail::check_size("arx::ops::axpy", "y", y.size(), x.size());
  ARX_DASSERT(detail::same_or_disjoint(x.data(), y.data(), x.size()));
  using B = simd::batch_f32;
  const std::size_t n = x.size();
  const B va(alpha);
  std::size_t i = 0;
  for (; i + B::size <= n; i += B::size)
    xsimd::fma(va, B::load_unaligned(&x[i]), B::load_unaligned(&y[i])).store_unaligned(&y[i]);
  for (; i < n; ++i) y[i] += alpha * x[i];
#else
  ref::axpy(alpha, x, y);
#endif
}

/// dst = src (any overlap allowed).   src, dst: [n]
inline void copy(std::span<const float> src, std::span<float> dst) { ref::copy(src, dst); }

/// dst[i] = value.   dst: [n]
inline void fill(std::span<float> dst, float value) { ref::fill(dst, value); }

}  // namespace ops
ARX_NAMESPACE_END
ARX_DIAG_POP
