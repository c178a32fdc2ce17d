// arx/ops/gemm.hpp — a batch of activation rows times a weight matrix (prefill, batched decode).
//
//   gemm(W, X, Y [, scratch [, pool]])   Y[n][rows] = X[n][cols] · W[rows][cols]ᵀ
//
// Batch invariance: Y[t][r] is bit-identical to gemv(W, X[t])[r] — each output is computed by the
// same per-row kernel, only several tokens share each load (and, for Q4_0/Q8_0, each unpacking)
// of a weight row. So a token's result never depends on which other tokens share its batch.
//
// Cache blocking: rows are taken in tiles of about `row_tile_bytes`; each tile is read from
// memory once, by a first pass over two tokens that prefetches ahead, and stays in L2 while the
// other tokens pass over it four at a time. Quantized W needs
// gemm_scratch_bytes(type, n, cols) bytes of scratch for the quantized activations (0 for
// f32/f16/bf16); without a buffer gemm allocates one.
//
// cols must be a multiple of T's block size and rows of W, X and Y contiguous (arx::shape_error
// otherwise). No overlap: Y must not share memory with X or W (debug builds assert it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>

#include "arx/config.hpp"
#include "arx/core/dtype.hpp"
#include "arx/core/error.hpp"
#include "arx/core/memory.hpp"
#include "arx/core/tensor.hpp"
#include "arx/ops/dot.hpp"
#include "arx/ops/gemv.hpp"

ARX_NAMESPACE_BEGIN
namespace ops {

namespace detail {

/// Weight bytes per row tile: half of a 1 MiB L2, leaving room for the activations.
inline constexpr std::size_t row_tile_bytes = std::size_t(512) << 10;
/// Tokens per kernel call once a tile is in L2: each weight load feeds this many accumulators.
inline constexpr int token_tile = 4;
/// Tokens of the first pass over a tile, the one that streams it from DRAM. That pass must stay
/// light: when the activations it reads no longer fit in L1 beside the weight stream, the core
/// keeps too few loads in flight and the stream drops to a third of the bandwidth (measured on
/// Zen 5, 4096 x 4096: Q4_0 n = 4 took 1.2 ms as one 4-token pass, 0.6 ms as 2 + 2; f16 n = 2
/// took 2.4 ms as one pass, 1.8 ms as 1 + 1; f32 did better with 2).
template <class W>
inline constexpr int first_pass_tokens = std::is_same_v<W, f16> || std::is_same_v<W, bf16> ? 1 : 2;

template <class T>
void check_gemm(const tensor_view<T>& w, const tensor_view<const float>& x,
                const tensor_view<float>& y) {
  check_weight(w, "gemm");
  const auto fail = [&] {
    throw shape_error("gemm: W " + w.shape().str() + " (" +
                      type_name(dtype_traits<std::remove_const_t<T>>::type) +
                      ") needs X [n, " + std::to_string(w.shape(1)) + "] and Y [n, " +
                      std::to_string(w.shape(0)) + "], got X " + x.shape().str() + " and Y " +
                      y.shape().str());
  };
  if (x.rank() != 2 || y.rank() != 2) fail();
  if (x.shape(1) != w.shape(1) || y.shape(1) != w.shape(0) || x.shape(0) != y.shape(0)) fail();
  if ((x.shape(0) > 0 && x.shape(1) > 0 && x.stride(1) != 1) ||
      (y.shape(0) > 0 && y.shape(1) > 0 && y.stride(1) != 1))
    throw shape_error("gemm: rows of X " + x.shape().str() + " and Y " + y.shape().str() +
                      " must be contiguous");
}

// Rows [r0, r1) of W against tokens [t0, t0 + NT): Y[t][r] = kernel(W[r], X[t]).
template <int NT, class Row, class Kernel>
void gemm_tile(std::size_t r0, std::size_t r1, const Row& w_row, const tensor_view<float>& y,
               std::size_t t0, const Kernel& kernel) {
  float out[NT];
  for (std::size_t r = r0; r < r1; ++r) {
    kernel.template operator()<NT>(w_row(r), out);
    for (int t = 0; t < NT; ++t) y(std::int64_t(t0) + t, std::int64_t(r)) = out[t];
  }
}

// Tiles rows x tokens and calls `make_kernel(t0, prefetch)` -> a functor running NT tokens from
// t0 over one row.
// Rows [rb, re) of W (one thread's share).
template <class W, class Row, class MakeKernel>
void gemm_tiles(std::size_t rb, std::size_t re, std::size_t n, std::size_t row_bytes,
                const Row& w_row, const tensor_view<float>& y, const MakeKernel& make_kernel) {
  const std::size_t rows = re;
  const std::size_t tile = row_bytes ? (row_tile_bytes + row_bytes - 1) / row_bytes : rows;
  for (std::size_t r0 = rb; r0 < rows; r0 += tile) {
    const std::size_t r1 = rows - r0 < tile ? rows : r0 + tile;
    for (std::size_t t0 = 0; t0 < n;) {
      const std::size_t cap = std::size_t(t0 == 0 ? first_pass_tokens<W> : token_tile);
      const std::size_t nt = n - t0 < cap ? n - t0 : cap;
      const auto k = make_kernel(t0, t0 == 0);  // only the first pass comes from memory
      switch (nt) {
        case 1: gemm_tile<1>(r0, r1, w_row, y, t0, k); break;
        case 2: gemm_tile<2>(r0, r1, w_row, y, t0, k); break;
        case 3: gemm_tile<3>(r0, r1, w_row, y, t0, k); break;
        default: gemm_tile<token_tile>(r0, r1, w_row, y, t0, k); break;
      }
      t0 += nt;
    }
  }
}

}  // namespace detail

/// Scratch bytes gemm needs for `n` tokens against W of type T with `cols` columns.
template <class T>
constexpr std::size_t gemm_scratch_bytes(std::int64_t n, std::int64_t cols) {
  return detail::activation_bytes<T>(n, cols);
}
inline std::size_t gemm_scratch_bytes(ggml_type type, std::int64_t n, std::int64_t cols) {
  return visit_dtype(
      type, [&](auto tag) { return gemm_scratch_bytes<typename decltype(tag)::type>(n, cols); },
      "gemm_scratch_bytes");
}

/// Y[n][rows] = X[n][cols] · W[rows][cols]ᵀ.
/// W: [rows][cols] of T;  X: [n][cols] f32;  Y: [n][rows] f32 (rows of X and Y may be strided).
/// Y must not overlap X or W.
template <class T>
  requires storage_type<T>
void gemm(tensor_view<T> w, tensor_view<const float> x, tensor_view<float> y,
          std::span<std::byte> scratch = {}, thread_pool* pool = nullptr) {
  using W = std::remove_const_t<T>;
  detail::check_gemm(w, x, y);
  ARX_DASSERT(detail::extent(y).disjoint(detail::extent(x)));
  ARX_DASSERT(detail::extent(y).disjoint(detail::extent(w)));
  const std::size_t rows = std::size_t(w.shape(0)), cols = std::size_t(w.shape(1));
  const std::size_t n = std::size_t(x.shape(0));
  if (rows == 0 || n == 0) return;
  const std::size_t units = cols / std::size_t(dtype_traits<W>::block_elems);
  const auto w_row = [&](std::size_t r) { return w.row(std::int64_t(r)).data(); };
  if constexpr (detail::int8_dot_v<W>) {
    const std::size_t nb = cols / qk8_0, per_token = detail::pack_units<W>(nb);
    aligned_buffer owned;
    auto* px = reinterpret_cast<detail::q8_pack<W>*>(detail::scratch_region(
        scratch, gemm_scratch_bytes<W>(std::int64_t(n), std::int64_t(cols)), owned, "gemm"));
    if (nb)
      for (std::size_t t = 0; t < n; ++t)
        detail::quantize_pack<W>(x.row(std::int64_t(t)), px + t * per_token);
    detail::for_row_ranges(pool, rows, cols * n, [&](std::size_t rb, std::size_t re) {
      detail::gemm_tiles<W>(rb, re, n, units * sizeof(W), w_row, y, [&](std::size_t t0, bool pf) {
        return [&, t0, pf]<int NT>(const W* row, float* out) {
          const detail::q8_pack<W>* xs[NT];
          for (int t = 0; t < NT; ++t) xs[t] = px + (t0 + std::size_t(t)) * per_token;
          detail::int8_row<W, NT>(row, nb, xs, out, pf);
        };
      });
    });
  } else {
    detail::for_row_ranges(pool, rows, cols * n, [&](std::size_t rb, std::size_t re) {
      detail::gemm_tiles<W>(rb, re, n, units * sizeof(W), w_row, y, [&](std::size_t t0, bool pf) {
        return [&, t0, pf]<int NT>(const W* row, float* out) {
          const float* xs[NT];
          for (int t = 0; t < NT; ++t) xs[t] = x.row(std::int64_t(t0) + t).data();
          detail::float_row<W, NT>(row, cols, xs, out, pf);
        };
      });
    });
  }
}

/// gemm with the weight type known at run time.
inline void gemm(const any_tensor_view& w, tensor_view<const float> x, tensor_view<float> y,
                 std::span<std::byte> scratch = {}, thread_pool* pool = nullptr) {
  visit_dtype(
      w.type(),
      [&](auto tag) { gemm(w.template as<typename decltype(tag)::type>(), x, y, scratch, pool); },
      w.name().empty() ? std::string_view("gemm") : std::string_view(w.name()));
}

namespace ref {
/// Scalar reference: ref::gemv for every token.
template <class T>
  requires storage_type<T>
void gemm(tensor_view<T> w, tensor_view<const float> x, tensor_view<float> y) {
  detail::check_gemm(w, x, y);
  for (std::int64_t t = 0; t < x.shape(0); ++t)
    ref::gemv(w, std::span<const float>(x.row(t)), std::span<float>(y.row(t)));
}
}  // namespace ref

}  // namespace ops
ARX_NAMESPACE_END
