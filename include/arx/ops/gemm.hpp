// arx/ops/gemm.hpp — a batch of activation rows times a weight matrix (prefill, batched decode).
//
//   gemm(W, X, Y [, scratch [, pool]])   Y[n][rows] = X[n][cols] · W[rows][cols]ᵀ
//
// Batch invariance: Y[t][r] is bit-identical to gemv(W, X[t])[r] — each output is computed by the
// same per-row kernel, only several tokens share each load (and, for Q4_0/Q8_0, each unpacking)
// of a weight row. So a token's result never depends on which other tokens share its batch.
//
// Q4_0/Q8_0 W with AVX512-VNNI and n >= min_unpack_tokens (prefill): each thread unpacks a tile
// of its rows (about unpacked_tile_bytes, L2) into the operands the row kernel would derive from
// the raw bytes, then runs R x T register tiles (4 rows x 3 tokens): each of the chunk's eight
// activation vectors of T tokens sits in registers while R rows' vectors pass, the R rows'
// run of chunks (l1_weight_bytes) stays in L1 while a block of tokens (act_block_bytes, L2)
// passes, and the accumulators wait in memory between runs. Every (row, token) pair still runs
// the row kernel's operations in its order (int8_tile_pass in dot.hpp), so the bits do not
// change.
// Float W with AVX-512, cols a multiple of 32 and n >= min_unpack_tokens: the same scheme with
// 5 x 4 FMA tiles over parity-split copies of rows and tokens (even 16-value chunks, then odd
// ones, so each of the row kernel's two accumulator passes reads consecutive lines); the split
// tokens live in a per-thread buffer of n * cols floats kept between calls.
//
// Q4_1, Q5_0, Q5_1 and the K-quants always take the next path, decoding each row unit once per
// group of up to four tokens (kquants.hpp).
// Otherwise (fewer tokens, other ISA tiers): rows are taken in tiles of about
// `row_tile_bytes`; each tile is read from memory once, by a first pass that prefetches ahead
// (first_pass_tokens: up to 8 tokens for Q4_0/Q8_0 with VNNI and 5 for f16/bf16, so a
// speculative verify or a contrastive step reads each weight once; 2 otherwise), and stays in L2
// while the other tokens pass over it four at a time. Quantized W needs
// gemm_scratch_bytes(type, n, cols) bytes of scratch for the quantized activations (0 for
// f32/f16/bf16); without a buffer gemm allocates one.
//
// cols must be a multiple of T's block size and rows of W, X and Y contiguous (arx::shape_error
// otherwise). No overlap: Y must not share memory with X or W (debug builds assert it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
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
/// Q4_0/Q8_0 with AVX512-VNNI: a small batch (up to max_first_pass tokens, a speculative verify
/// or a contrastive step) runs in the first pass, unpacking each chunk of a weight row once for
/// all its tokens. Measured on a 2-vCPU Xeon, TinyLlama-1.1B shape, 2 threads, time of an
/// n-token forward over a 1-token one: Q4_0 n = 4 / 5 / 8: 1.25 / 1.45 / 2.07 as one pass, 1.88 /
/// 2.38 / - as a 2-token pass and then the rest from L2, 1.79 / 1.83 / 2.26 unpacked into a tile
/// first; Q8_0 1.11 / 1.17 / 1.46 one pass, 1.82 / 1.90 / - and 1.37 / 1.42 / 1.66 the others.
inline constexpr int max_first_pass = 8;
template <class W>
inline constexpr bool int8_one_pass =
#if ARX_SIMD && defined(ARX_HAS_AVX512VNNI)
    std::is_same_v<W, block_q4_0> || std::is_same_v<W, block_q8_0>;
#else
    false;
#endif
/// Tokens of the first pass over a tile, the one that streams it from DRAM.
/// - Q4_0/Q8_0 with VNNI: up to max_first_pass (see above).
/// - f16/bf16: up to 5. Their activations are f32, twice the bytes of the weights they meet, so
///   more tokens than that no longer fit in L1 beside the weight stream and the pass slows to
///   L2 speed. Measured as above, F16: n = 2 / 3 / 4 / 5 took 1.12 / 1.23 / 1.39 / 1.61 steps as
///   one pass against 1.48 / 1.75 / 1.96 / 2.13 as a 1-token pass and then the rest from L2; a
///   6-token pass took 3.59 steps.
/// - Others: 2 (measured on Zen 5, 4096 x 4096, with an earlier int8 kernel: Q4_0 n = 4 took
///   1.2 ms as one 4-token pass, 0.6 ms as 2 + 2; f32 did better with 2 than with 1).
template <class W>
inline constexpr int first_pass_tokens =
    int8_one_pass<W> ? max_first_pass
                     : (std::is_same_v<W, f16> || std::is_same_v<W, bf16> ? 5 : 2);

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

// Rows [r0, r1) against tokens [0, nt), NT <= nt <= first_pass_tokens<W>, in one pass.
template <class W, int NT = token_tile + 1, class Row, class Kernel>
void one_pass(std::size_t r0, std::size_t r1, const Row& w_row, const tensor_view<float>& y,
              const Kernel& k, std::size_t nt) {
  if constexpr (NT < first_pass_tokens<W>)
    if (nt > std::size_t(NT)) return one_pass<W, NT + 1>(r0, r1, w_row, y, k, nt);
  gemm_tile<NT>(r0, r1, w_row, y, 0, k);
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
        case 4: gemm_tile<4>(r0, r1, w_row, y, t0, k); break;
        default:
          if constexpr (first_pass_tokens<W> > token_tile) one_pass<W>(r0, r1, w_row, y, k, nt);
          break;
      }
      t0 += nt;
    }
  }
}

#if ARX_SIMD && defined(ARX_HAS_AVX512)
/// Register tile of the int8 batch kernel: rows x tokens (see int8_tile_pass in dot.hpp): R x T
/// integer accumulators, R x T float ones, T activation vectors and a weight vector in the 32
/// zmm registers.
template <class W>
inline constexpr int int8_rows = 4;
template <class W>
inline constexpr int int8_tokens = 3;
/// Register tile of the float batch kernel (float_split_pass in dot.hpp). Measured on Zen 5, f16,
/// L1-resident: 5 x 4 at 0.51 cycles per (row, token, 16 values), 4 x 4 at 0.71.
inline constexpr int float_tile_rows = 5;
inline constexpr int float_tile_tokens = 4;
/// Unpacked weight rows per tile and packed activations per token block (both kept in L2).
inline constexpr std::size_t unpacked_tile_bytes = std::size_t(384) << 10;
inline constexpr std::size_t act_block_bytes = std::size_t(384) << 10;
/// At most this many tokens per block (bounds the accumulator buffer).
inline constexpr std::size_t max_block_tokens = 256;
/// Unpacked weights of one register tile's rows per group chunk (kept in L1).
inline constexpr std::size_t l1_weight_bytes = std::size_t(20) << 10;
/// The same for float weights, whose token rows (f32, 4 bytes a value) take more of L1 beside the
/// weight chunk. Measured, TinyLlama-1.1B-shape F16 pp512 on 2 threads (t/s, two rounds): 3 KiB
/// 115.5 / 115.9, 5 KiB 127.0 / 123.9, 8 KiB 127.0 / 118.7, 20 KiB 122.0 / 116.6.
inline constexpr std::size_t l1_float_weight_bytes = std::size_t(5) << 10;
/// Below this many tokens gemm runs the row kernels on raw rows (unpacking a tile does not pay).
template <class W>
inline constexpr std::size_t min_unpack_tokens = int8_one_pass<W> ? max_first_pass + 1 : 6;

/// This thread's buffer for unpacked weight rows (kept between calls: no page faults per call).
inline std::byte* unpack_buffer(std::size_t bytes) {
  thread_local aligned_buffer buf;
  if (buf.size() < bytes) buf = aligned_buffer(bytes);
  return buf.data();
}

/// The calling thread's buffer for parity-split float tokens (kept between calls).
inline float* split_tokens_buffer(std::size_t values) {
  thread_local aligned_buffer buf;
  if (buf.size() < values * sizeof(float)) buf = aligned_buffer(values * sizeof(float));
  return reinterpret_cast<float*>(buf.data());
}

/// Where a register tile works: groups [g0, g1) of rows [rr, rr + R) (unpacked, `stride` units
/// apart, from the tile starting at row r_first) against tokens [t0, t0 + T); `acc` holds the
/// tile's even and odd accumulators between group chunks; the last chunk writes Y.
struct tile_job {
  std::size_t ng, stride, rr, r_first, t0, g0, g1;
  __m512* acc;
};
template <int R, int T, class Unit, class Tok, class Chunk>
void tile_run(const Unit* wt, const Tok& token, const Chunk& chunk, const tile_job& j,
              const tensor_view<float>& y) {
  const Unit* wp[R];
  decltype(token(std::size_t(0))) xp[T];
  for (int r = 0; r < R; ++r) wp[r] = wt + (j.rr - j.r_first + std::size_t(r)) * j.stride;
  for (int t = 0; t < T; ++t) xp[t] = token(j.t0 + std::size_t(t));
  __m512* even = j.acc;
  __m512* odd = j.acc + R * T;
  chunk.template operator()<R, T>(wp, xp, j.g0, j.g1, even, odd, j.g0 != 0);
  if (j.g1 == j.ng)
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < T; ++t)
        y(std::int64_t(j.t0) + t, std::int64_t(j.rr) + r) =
            simd::x86::hsum(_mm512_add_ps(even[r * T + t], odd[r * T + t]));
}
/// tile_run<R, nt> for 1 <= nt <= T.
template <int R, int T, class Unit, class Tok, class Chunk>
void tile_rows(const Unit* wt, const Tok& token, const Chunk& chunk, const tile_job& j,
               std::size_t nt, const tensor_view<float>& y) {
  if constexpr (T > 1)
    if (nt < std::size_t(T)) return tile_rows<R, T - 1>(wt, token, chunk, j, nt, y);
  tile_run<R, T>(wt, token, chunk, j, y);
}
/// tile_rows<nr, T> for 1 <= nr <= R.
template <int R, int T, class Unit, class Tok, class Chunk>
void tile_block(const Unit* wt, const Tok& token, const Chunk& chunk, const tile_job& j,
                std::size_t nr, std::size_t nt, const tensor_view<float>& y) {
  if constexpr (R > 1)
    if (nr < std::size_t(R)) return tile_block<R - 1, T>(wt, token, chunk, j, nr, nt, y);
  tile_rows<R, T>(wt, token, chunk, j, nt, y);
}

/// Rows [rb, re) of W against all n tokens, R x T register tiles. A row unpacks to `stride`
/// Units (unpack(r, out)) holding `ng` groups of `group_bytes` (group g of a row starts at Unit
/// g * stride / ng); token(t) points at token t's operands; chunk<R, T>(...) runs groups
/// [g0, g1) of a tile (int8_tile_chunk / float_split_chunk). Tiles of rows (about
/// unpacked_tile_bytes) are unpacked once and stay in L2; per block of tokens (about
/// act_block_bytes, L2) each R-row block walks its groups in chunks of about l1_weight_bytes (L1)
/// while the block's tokens pass T at a time.
template <int R, int T, class Unit, class Unpack, class Tok, class Chunk>
void tiled_gemm(std::size_t rb, std::size_t re, std::size_t n, std::size_t ng, std::size_t stride,
                std::size_t group_bytes, std::size_t token_bytes, const Unpack& unpack,
                const Tok& token, const Chunk& chunk, const tensor_view<float>& y) {
  const std::size_t row_bytes = stride * sizeof(Unit);
  std::size_t tile = unpacked_tile_bytes / row_bytes / R * R;
  if (tile < std::size_t(R)) tile = R;
  std::size_t tb = act_block_bytes / token_bytes;
  if (tb > max_block_tokens) tb = max_block_tokens;
  if (tb > n) tb = n;
  tb = (tb + T - 1) / T * T;  // a multiple of T, at least T
  const std::size_t l1 = std::is_same_v<Unit, float> || std::is_same_v<Unit, f16> ||
                               std::is_same_v<Unit, bf16>
                           ? l1_float_weight_bytes
                           : l1_weight_bytes;
  std::size_t kc = l1 / (R * group_bytes) / 2 * 2;
  if (kc < 2) kc = 2;
  std::byte* buf = unpack_buffer(tile * row_bytes + (tb / T) * 2 * R * T * sizeof(__m512));
  auto* wt = reinterpret_cast<Unit*>(buf);
  auto* acc = reinterpret_cast<__m512*>(buf + tile * row_bytes);
  for (std::size_t r0 = rb; r0 < re; r0 += tile) {
    const std::size_t r1 = re - r0 < tile ? re : r0 + tile;
    for (std::size_t r = r0; r < r1; ++r) unpack(r, wt + (r - r0) * stride);
    for (std::size_t tb0 = 0; tb0 < n; tb0 += tb) {
      const std::size_t tb1 = n - tb0 < tb ? n : tb0 + tb;
      for (std::size_t rr = r0; rr < r1; rr += R) {
        const std::size_t nr = r1 - rr < std::size_t(R) ? r1 - rr : R;
        for (std::size_t g0 = 0; g0 < ng; g0 += kc) {
          const std::size_t g1 = ng - g0 < kc ? ng : g0 + kc;
          for (std::size_t t0 = tb0; t0 < tb1; t0 += T) {
            const std::size_t nt = tb1 - t0 < std::size_t(T) ? tb1 - t0 : T;
            const tile_job j{ng, stride, rr, r0, t0, g0, g1, acc + (t0 - tb0) / T * 2 * R * T};
            tile_block<R, T>(wt, token, chunk, j, nr, nt, y);
          }
        }
      }
    }
  }
}
#endif

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
  if constexpr (detail::int8_dot_v<W> && is_decoded_type_v<W>) {
#if ARX_SIMD && defined(ARX_HAS_AVX512VNNI)
    // each token quantized to Q8_0 and laid out as kq_act, then kq_row as in gemv
    aligned_buffer owned;
    std::byte* p = detail::scratch_region(
        scratch, gemm_scratch_bytes<W>(std::int64_t(n), std::int64_t(cols)), owned, "gemm");
    const std::size_t nb = cols / qk8_0, per_token = detail::kq_act_bytes(cols);
    auto* xq = reinterpret_cast<block_q8_0*>(p + n * per_token);
    for (std::size_t t = 0; t < n; ++t) {
      quantize_row(x.row(std::int64_t(t)), std::span<block_q8_0>(xq, nb));
      detail::kq_fill(std::span<const block_q8_0>(xq, nb), p + t * per_token);
    }
    detail::for_row_ranges(pool, rows, cols * n, [&](std::size_t rb, std::size_t re) {
      detail::gemm_tiles<W>(rb, re, n, units * sizeof(W), w_row, y, [&](std::size_t t0, bool) {
        return [&, t0]<int NT>(const W* row, float* out) {
          detail::kq_act xs[NT];
          for (int t = 0; t < NT; ++t)
            xs[t] = detail::kq_view(p + (t0 + std::size_t(t)) * per_token, cols);
          detail::kq_row<W, NT>(row, units, xs, out);
        };
      });
    });
#endif
  } else if constexpr (detail::int8_dot_v<W>) {
    const std::size_t nb = cols / qk8_0, per_token = detail::pack_units<W>(nb);
    aligned_buffer owned;
    auto* px = reinterpret_cast<detail::q8_pack<W>*>(detail::scratch_region(
        scratch, gemm_scratch_bytes<W>(std::int64_t(n), std::int64_t(cols)), owned, "gemm"));
    if (nb)
      for (std::size_t t = 0; t < n; ++t)
        detail::quantize_pack<W>(x.row(std::int64_t(t)), px + t * per_token);
#if ARX_SIMD && defined(ARX_HAS_AVX512VNNI)
    if (nb && n >= detail::min_unpack_tokens<W>) {
      const std::size_t ng = detail::pack_units<W>(nb);
      detail::for_row_ranges(pool, rows, cols * n, [&](std::size_t rb, std::size_t re) {
        detail::tiled_gemm<detail::int8_rows<W>, detail::int8_tokens<W>, detail::wgroup<W>>(
            rb, re, n, ng, ng, sizeof(detail::wgroup<W>), per_token * sizeof(detail::q8_pack<W>),
            [&](std::size_t r, detail::wgroup<W>* out) { detail::unpack_row<W>(w_row(r), nb, out); },
            [&](std::size_t t) -> const detail::q8_pack<W>* { return px + t * per_token; },
            []<int RR, int TT>(const detail::wgroup<W>* const* wp, const detail::q8_pack<W>* const* xp,
                             std::size_t g0, std::size_t g1, __m512* even, __m512* odd,
                             bool resume) {
              detail::int8_tile_chunk<RR, TT>(wp, xp, g0, g1, even, odd, resume);
            },
            y);
      });
      return;
    }
#endif
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
#if ARX_SIMD && defined(ARX_HAS_AVX512)
    if constexpr (!is_decoded_type_v<W>) {
      if (cols % 32 == 0 && cols && n >= detail::min_unpack_tokens<W>) {
        // rows copied as they are (aligned); chunks of 16 values are the groups
        // Rows and tokens parity-split (float_split_chunk in dot.hpp): even chunks, then odd ones.
        const std::size_t nc = cols / 16, half = cols / 2;
        const auto split = [nc, half]<class U>(const U* src, U* dst) {
          for (std::size_t c = 0; c < nc; ++c)
            std::memcpy(dst + (c & 1) * half + (c / 2) * 16, src + c * 16, 16 * sizeof(U));
        };
        float* xsp = detail::split_tokens_buffer(n * cols);
        detail::for_row_ranges(pool, n, cols, [&](std::size_t tb, std::size_t te) {
          for (std::size_t t = tb; t < te; ++t)
            split(x.row(std::int64_t(t)).data(), xsp + t * cols);
        });
        detail::for_row_ranges(pool, rows, cols * n, [&](std::size_t rb, std::size_t re) {
          detail::tiled_gemm<detail::float_tile_rows, detail::float_tile_tokens, W>(
              rb, re, n, nc, cols, 16 * sizeof(W), cols * sizeof(float),
              [&](std::size_t r, W* out) { split(w_row(r), out); },
              [&](std::size_t t) -> const float* { return xsp + t * cols; },
              [nc]<int RR, int TT>(const W* const* wp, const float* const* xp, std::size_t c0,
                                 std::size_t c1, __m512* even, __m512* odd, bool resume) {
                detail::float_split_chunk<RR, TT>(wp, xp, c0, c1, nc, even, odd, resume);
              },
              y);
        });
        return;
      }
    }
#endif
    detail::for_row_ranges(pool, rows, cols * n, [&](std::size_t rb, std::size_t re) {
      detail::gemm_tiles<W>(rb, re, n, units * sizeof(W), w_row, y, [&](std::size_t t0, bool pf) {
        return [&, t0, pf]<int NT>(const W* row, float* out) {
          const float* xs[NT];
          for (int t = 0; t < NT; ++t) xs[t] = x.row(std::int64_t(t0) + t).data();
          if constexpr (is_decoded_type_v<W>)
            detail::decoded_row<W, NT>(row, units, xs, out);
          else
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
