// arx/ops/gemv.hpp — matrix-vector product with a weight matrix of any storage type.
//
//   gemv(W, x, y [, scratch [, pool]])   y[rows] = W[rows][cols] · x[cols]
//
// W is a `tensor_view<const T>` ({rows, cols}, each row contiguous, rows may be strided) or an
// `any_tensor_view` (type known at run time, e.g. from a GGUF file). For quantized W (Q8_0, Q4_0,
// and with AVX512-VNNI also the K-quants) x is quantized to Q8_0 once and every row takes an int8
// dot product: the weights are the only large stream, so this runs at memory speed. That needs
// gemv_scratch_bytes(type, cols) bytes of scratch; pass a buffer to avoid one allocation per call
// (0 bytes for f32/f16/bf16, for Q4_1/Q5_0/Q5_1, and for the K-quants in builds without VNNI:
// those decode each block to f32 and take f32 x; arx/ops/kquants.hpp). With a
// thread_pool the rows are split into one contiguous range per thread; every row is computed
// exactly as without the pool, so y does not depend on the thread count.
//
// Row r of y is bit-identical to ops::dot(W.row(r), x) (f32 activations, or the Q8_0 form with
// quantize_row(x)) and to row r of gemm for any batch containing x. (x is quantized here, so the
// Q8_0 dot's precondition — activation quants in [-127, 127] — always holds.)
//
// cols must be a multiple of T's block size (32 for Q8_0/Q4_0), and W's rows contiguous; anything
// else throws arx::shape_error naming W's shape.
// No overlap: y must not share memory with x or W (y is written while x and W are still read);
// debug builds assert it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "arx/config.hpp"
#include "arx/core/dtype.hpp"
#include "arx/core/error.hpp"
#include "arx/core/memory.hpp"
#include "arx/core/thread_pool.hpp"
#include "arx/core/tensor.hpp"
#include "arx/ops/dot.hpp"
#include "arx/ops/quantize.hpp"

ARX_NAMESPACE_BEGIN
namespace ops {

namespace detail {

template <class T>
inline constexpr bool int8_dot_v =
    std::is_same_v<typename dtype_traits<std::remove_const_t<T>>::dot_type, block_q8_0>;

/// Scratch bytes for `tokens` activation rows of `cols` values prepared for weights T.
template <class T>
constexpr std::size_t activation_bytes(std::int64_t tokens, std::int64_t cols) {
  using W = std::remove_const_t<T>;
  if constexpr (!int8_dot_v<W>) {
    return 0;
  } else if constexpr (is_decoded_type_v<W>) {
    if (tokens <= 0 || cols <= 0) return 0;
    return std::size_t(tokens) * kq_act_bytes(std::size_t(cols)) +
           std::size_t(cols) / qk8_0 * sizeof(block_q8_0) + 2 * buffer_alignment;
  } else {
    if (tokens <= 0 || cols <= 0) return 0;
    const std::size_t nb = std::size_t(cols) / qk8_0;
    return std::size_t(tokens) * pack_units<W>(nb) * sizeof(q8_pack<W>) + buffer_alignment - 1;
  }
}

/// A 64-byte aligned region of `bytes` in `scratch`, or in `owned` when the caller gave none.
inline std::byte* scratch_region(std::span<std::byte> scratch, std::size_t bytes,
                                 aligned_buffer& owned, const char* what) {
  if (bytes == 0) return nullptr;
  if (scratch.empty()) {
    owned = aligned_buffer(bytes);
    return owned.data();
  }
  const auto a = reinterpret_cast<std::uintptr_t>(scratch.data());
  const std::size_t pad = (buffer_alignment - a % buffer_alignment) % buffer_alignment;
  if (scratch.size() < bytes)
    throw invalid_argument(std::string(what) + ": scratch of " + std::to_string(scratch.size()) +
                           " bytes is smaller than the " + std::to_string(bytes) +
                           " bytes needed (ask " + what + "_scratch_bytes)");
  return scratch.data() + pad;
}

/// Below this many multiply-adds a call is not split: waking the workers costs more.
inline constexpr std::size_t min_parallel_work = std::size_t(1) << 16;

/// Calls f(begin, end) over [0, rows): directly without a pool (or for less than
/// min_parallel_work = rows * row_work), else one contiguous range per thread (in multiples of
/// 16 rows, so threads do not share the cache lines of the output).
template <class F>
void for_row_ranges(thread_pool* pool, std::size_t rows, std::size_t row_work, const F& f) {
  if (!pool || pool->size() == 1 || rows < 32 || rows * row_work < min_parallel_work) {
    f(std::size_t(0), rows);
    return;
  }
  pool->run([&](int t, int n) {
    const auto [b, e] = thread_pool::split(std::int64_t(rows), t, n, 16);
    if (b < e) f(std::size_t(b), std::size_t(e));
  });
}

inline std::string dims(std::int64_t a) {
  std::string s(1, '[');  // appended piecewise: "[" + str trips GCC 12's -Wrestrict (bug 105651)
  s += std::to_string(a);
  s += ']';
  return s;
}

template <class T>
void check_weight(const tensor_view<T>& w, const char* what) {
  constexpr std::int64_t be = dtype_traits<std::remove_const_t<T>>::block_elems;
  if (w.rank() != 2)
    throw shape_error(std::string(what) + ": weight must be a matrix [rows, cols], got " +
                      w.shape().str());
  if (w.shape(1) % be != 0)
    throw shape_error(std::string(what) + ": weight " + w.shape().str() + " (" +
                      type_name(dtype_traits<std::remove_const_t<T>>::type) + ") has " +
                      std::to_string(w.shape(1)) + " columns, not a multiple of the block size " +
                      std::to_string(be));
  if (w.shape(0) > 0 && w.stride(1) != 1)
    throw shape_error(std::string(what) + ": weight rows must be contiguous (shape " +
                      w.shape().str() + ")");
}

/// Bytes [lo, hi) spanned by the rows of a matrix view whose rows are contiguous ({0, 0} when
/// empty). Used in debug assertions only.
struct byte_range {
  std::uintptr_t lo = 0, hi = 0;
  bool disjoint(const byte_range& o) const noexcept {
    return lo == hi || o.lo == o.hi || hi <= o.lo || o.hi <= lo;
  }
};
template <class T>
byte_range extent(const tensor_view<T>& v) noexcept {
  using U = std::remove_const_t<T>;
  if (v.rank() != 2 || v.shape(0) <= 0 || v.shape(1) <= 0) return {};
  const std::int64_t last = (v.shape(0) - 1) * v.stride(0);  // offset of the last row, in units
  const std::int64_t units = v.shape(1) / dtype_traits<U>::block_elems;
  const auto base = reinterpret_cast<std::uintptr_t>(v.data());
  const auto sz = std::int64_t(sizeof(U));
  return {base + std::uintptr_t((last < 0 ? last : 0) * sz),
          base + std::uintptr_t(((last > 0 ? last : 0) + units) * sz)};
}
template <class T>
byte_range extent(std::span<T> s) noexcept {
  const auto base = reinterpret_cast<std::uintptr_t>(s.data());
  return {base, base + s.size_bytes()};
}

template <class T>
void check_gemv(const tensor_view<T>& w, std::size_t xn, std::size_t yn) {
  check_weight(w, "gemv");
  if (std::int64_t(xn) != w.shape(1) || std::int64_t(yn) != w.shape(0))
    throw shape_error("gemv: W " + w.shape().str() + " (" +
                      type_name(dtype_traits<std::remove_const_t<T>>::type) + ") needs x " +
                      dims(w.shape(1)) + " and y " + dims(w.shape(0)) + ", got x " +
                      dims(std::int64_t(xn)) + " and y " + dims(std::int64_t(yn)));
}

}  // namespace detail

/// Scratch bytes gemv needs for W of type T with `cols` columns (0 for f32/f16/bf16).
template <class T>
constexpr std::size_t gemv_scratch_bytes(std::int64_t cols) {
  return detail::activation_bytes<T>(1, cols);
}
inline std::size_t gemv_scratch_bytes(ggml_type type, std::int64_t cols) {
  return visit_dtype(
      type, [&](auto tag) { return gemv_scratch_bytes<typename decltype(tag)::type>(cols); },
      "gemv_scratch_bytes");
}

/// y[rows] = W[rows][cols] · x[cols].
/// W: [rows][cols] of T;  x: [cols] f32;  y: [rows] f32;  scratch: optional, see above.
/// y must not overlap x or W.
template <class T>
  requires storage_type<T>
void gemv(tensor_view<T> w, std::span<const float> x, std::span<float> y,
          std::span<std::byte> scratch = {}, thread_pool* pool = nullptr) {
  using W = std::remove_const_t<T>;
  detail::check_gemv(w, x.size(), y.size());
  ARX_DASSERT(detail::extent(y).disjoint(detail::extent(x)));
  ARX_DASSERT(detail::extent(y).disjoint(detail::extent(w)));
  const std::size_t rows = std::size_t(w.shape(0)), cols = std::size_t(w.shape(1));
  if (rows == 0) return;
  if constexpr (detail::int8_dot_v<W> && is_decoded_type_v<W>) {
#if ARX_SIMD && defined(ARX_HAS_AVX512VNNI)
    aligned_buffer owned;
    std::byte* p = detail::scratch_region(scratch, gemv_scratch_bytes<W>(std::int64_t(cols)),
                                          owned, "gemv");
    const std::size_t nb = cols / qk8_0;
    auto* xq = reinterpret_cast<block_q8_0*>(p + detail::kq_act_bytes(cols));
    quantize_row(x, std::span<block_q8_0>(xq, nb));
    detail::kq_fill(std::span<const block_q8_0>(xq, nb), p);
    const detail::kq_act xa = detail::kq_view(p, cols);
    const std::size_t units = cols / std::size_t(dtype_traits<W>::block_elems);
    detail::for_row_ranges(pool, rows, cols, [&](std::size_t rb, std::size_t re) {
      for (std::size_t r = rb; r < re; ++r)
        detail::kq_row<W, 1>(w.row(std::int64_t(r)).data(), units, &xa, &y[r]);
    });
#endif
  } else if constexpr (detail::int8_dot_v<W>) {
    aligned_buffer owned;
    auto* px = reinterpret_cast<detail::q8_pack<W>*>(detail::scratch_region(
        scratch, gemv_scratch_bytes<W>(std::int64_t(cols)), owned, "gemv"));
    const std::size_t nb = cols / qk8_0;
    if (nb) detail::quantize_pack<W>(x, px);
    const detail::q8_pack<W>* pc = px;
    detail::for_row_ranges(pool, rows, cols, [&](std::size_t rb, std::size_t re) {
      for (std::size_t r = rb; r < re; ++r)
        detail::int8_row<W, 1>(w.row(std::int64_t(r)).data(), nb, &pc, &y[r]);
    });
  } else {
    const float* xp = x.data();
    detail::for_row_ranges(pool, rows, cols, [&](std::size_t rb, std::size_t re) {
      for (std::size_t r = rb; r < re; ++r) {
        if constexpr (is_decoded_type_v<W>)
          detail::decoded_row<W, 1>(w.row(std::int64_t(r)).data(),
                                    cols / std::size_t(dtype_traits<W>::block_elems), &xp, &y[r]);
        else
          detail::float_row<W, 1>(w.row(std::int64_t(r)).data(), cols, &xp, &y[r]);
      }
    });
  }
}

/// gemv with the weight type known at run time (throws unsupported_error for types without
/// kernels, naming the tensor).
inline void gemv(const any_tensor_view& w, std::span<const float> x, std::span<float> y,
                 std::span<std::byte> scratch = {}, thread_pool* pool = nullptr) {
  visit_dtype(
      w.type(),
      [&](auto tag) { gemv(w.template as<typename decltype(tag)::type>(), x, y, scratch, pool); },
      w.name().empty() ? std::string_view("gemv") : std::string_view(w.name()));
}

namespace ref {
/// Scalar reference: per row ref::dot, with x quantized by ref::quantize_row for Q8_0/Q4_0 W.
template <class T>
  requires storage_type<T>
void gemv(tensor_view<T> w, std::span<const float> x, std::span<float> y) {
  using W = std::remove_const_t<T>;
  detail::check_gemv(w, x.size(), y.size());
  if constexpr (detail::int8_dot_v<W>) {
    std::vector<block_q8_0> xq(x.size() / qk8_0);
    ref::quantize_row(x, std::span<block_q8_0>(xq));
    for (std::int64_t r = 0; r < w.shape(0); ++r)
      y[std::size_t(r)] = ref::dot(std::span<const W>(w.row(r)), std::span<const block_q8_0>(xq));
  } else {
    for (std::int64_t r = 0; r < w.shape(0); ++r)
      y[std::size_t(r)] = ref::dot(std::span<const W>(w.row(r)), x);
  }
}
}  // namespace ref

}  // namespace ops
ARX_NAMESPACE_END
