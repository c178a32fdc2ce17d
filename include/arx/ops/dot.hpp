// arx/ops/dot.hpp — dot products of one weight row with activations, for every storage type.
//
//   dot(std::span<const T> w, std::span<const float> x)               w: [n] of T, x: [n] f32
//   dot(std::span<const block_q8_0> w, std::span<const block_q8_0> x) int8 dot, Q8_0 activations
//   dot(std::span<const block_q4_0> w, std::span<const block_q8_0> x) int8 dot, Q8_0 activations
//   dot(std::span<const W> w, std::span<const block_q8_0> x)          W: Q4_1 .. Q6_K (kquants.hpp)
//
// `w` holds n / block_elems storage units; lengths that disagree throw arx::shape_error. The
// Q8_0-activation forms are what gemv/gemm use for quantized weights (dtype_traits<T>::dot_type):
// activations quantized once by quantize_row<block_q8_0>. The integer products and their partial
// sums are exact (int32); the float part is rounded. The reference scales each block's integer
// sum by d_w·d_x and adds the blocks in order; the fast paths keep one or several integer sums
// per block in SIMD lanes (SSE2: 4 lanes of 8 values; AVX2: 8 lanes of 4; VNNI: one lane per
// block, 16 blocks a vector, with d_w·d_x formed per lane), convert each to f32, scale it by
// d_w·d_x, accumulate lane-wise (VNNI: even and odd 16-block chunks apart) and add the lanes at
// the end — so they differ from ref:: by float rounding only.
// Precondition: activation quants must lie in [-127, 127]. quantize_row never produces -128, but
// a hand-made block_q8_0 activation holding -128 gives a wrong result on the AVX2 path with Q8_0
// weights (vpsignb cannot negate -128); debug builds assert it in the public dot. gemv/gemm quantize x themselves.
//
// Determinism: each fast dot adds its terms in an order that depends only on n (and the build's
// ISA tier), and gemv/gemm run the very same per-row code, so `dot(w, x)`, row r of `gemv` and
// token t of `gemm` are bit-identical. `ref::` holds the scalar references (plain loops in index
// order) that the tests check the fast versions against.
//
// How the fast paths work (the `detail` namespace):
//   * float weights (f32/f16/bf16): 16-value chunks converted to f32, two accumulators (even and
//     odd chunks), summed at the end; the ragged tail is a zero-padded chunk.
//   * AVX512-VNNI int8: the activations are first packed into the kernel's layout (`q8_chunk`:
//     16 blocks with their quants transposed so that each vpdpbusd lane meets one block, per-lane
//     scales, and a per-lane integer correction for the unsigned operand of vpdpbusd). Weight
//     rows are streamed with aligned loads only (simd::x86::row_lines), cut into 4-block (Q4_0)
//     or 2-block (Q8_0) groups with word permutes and transposed to the same layout, once per
//     chunk for all the tokens of a call. Per token, 8 vpdpbusd, one conversion, one multiply and
//     one FMA per 512 values.
//   * AVX2 int8 (also the AVX-512 tier without VNNI): one block at a time with vpmaddubsw and
//     vpsignb; SSE2: widened to int16 and vpmaddwd.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <type_traits>
#include <utility>

#include "arx/config.hpp"
#include "arx/core/dtype.hpp"
#include "arx/core/error.hpp"
#include "arx/core/half.hpp"
#include "arx/core/memory.hpp"
#include "arx/ops/quantize.hpp"
#include "arx/simd/arch.hpp"
#include "arx/simd/x86.hpp"

ARX_DIAG_PUSH
ARX_NAMESPACE_BEGIN
namespace ops {

namespace detail {
template <class T>
void check_dot(std::size_t w_units, std::size_t x_values) {
  const std::size_t n = w_units * std::size_t(dtype_traits<T>::block_elems);
  if (n != x_values)
    throw shape_error("dot: weight row of " + std::to_string(n) + " " +
                      type_name(dtype_traits<T>::type) + " values and activations of " +
                      std::to_string(x_values) + " values differ in length");
}
/// f(integral_constant<int, 0>), ..., f(integral_constant<int, N - 1>): loops over the tokens of a
/// kernel with constant indices, so per-token accumulators stay in registers.
template <int N, class F>
ARX_X86_INLINE void unroll(F&& f) {
  [&]<int... I>(std::integer_sequence<int, I...>) ARX_INLINE_LAMBDA {
    (f(std::integral_constant<int, I>{}), ...);
  }(std::make_integer_sequence<int, N>{});
}
inline float scalar_f32(float v) noexcept { return v; }
inline float scalar_f32(f16 v) noexcept { return to_f32(v); }
inline float scalar_f32(bf16 v) noexcept { return to_f32(v); }

/// True when no activation quant is -128 (the int8 kernels' precondition). Debug assertions only.
inline bool q8_activations_in_range(std::span<const block_q8_0> x) noexcept {
  for (const block_q8_0& b : x)
    for (int j = 0; j < qk8_0; ++j)
      if (b.qs[j] == -128) return false;
  return true;
}

inline int block_isum(const block_q8_0& w, const block_q8_0& x) noexcept {
  int s = 0;
  for (int j = 0; j < qk8_0; ++j) s += int(w.qs[j]) * int(x.qs[j]);
  return s;
}
inline int block_isum(const block_q4_0& w, const block_q8_0& x) noexcept {
  int s = 0;
  for (int j = 0; j < qk4_0 / 2; ++j)
    s += ((w.qs[j] & 15) - 8) * int(x.qs[j]) + ((w.qs[j] >> 4) - 8) * int(x.qs[j + 16]);
  return s;
}
}  // namespace detail

// ---- scalar references -----------------------------------------------------------------------
namespace ref {

/// w: [n] of T (n / block_elems units) · x: [n], summed in index order.
template <class T>
float dot(std::span<const T> w, std::span<const float> x) {
  detail::check_dot<T>(w.size(), x.size());
  float acc = 0.0f;
  if constexpr (is_block_type_v<T>) {
    float tmp[dtype_traits<T>::block_elems];
    for (std::size_t b = 0; b < w.size(); ++b) {
      dequantize_block(w[b], tmp);
      for (int j = 0; j < dtype_traits<T>::block_elems; ++j)
        acc += tmp[j] * x[b * dtype_traits<T>::block_elems + std::size_t(j)];
    }
  } else {
    for (std::size_t i = 0; i < w.size(); ++i) acc += detail::scalar_f32(w[i]) * x[i];
  }
  return acc;
}

/// Σ_b d_w(b) · d_x(b) · Σ_j q_w · q_x, blocks in order.
template <class W>
  requires(std::is_same_v<W, block_q8_0> || std::is_same_v<W, block_q4_0>)
float dot(std::span<const W> w, std::span<const block_q8_0> x) {
  detail::check_dot<W>(w.size(), x.size() * qk8_0);
  float acc = 0.0f;
  for (std::size_t b = 0; b < w.size(); ++b)
    acc += to_f32(w[b].d) * to_f32(x[b].d) * float(detail::block_isum(w[b], x[b]));
  return acc;
}

}  // namespace ref

namespace detail {

// ---- activations prepared for the int8 kernels ---------------------------------------------
#if ARX_SIMD && defined(ARX_HAS_AVX512VNNI)
/// Sixteen Q8_0 activation blocks (512 values), laid out for one chunk of a Q4_0 or Q8_0 weight
/// row. The VNNI kernels give every vpdpbusd lane a single block: lane L of vector k sums the
/// products of values 4k..4k+3 of block lane_block<W>(L), so after a chunk's eight vpdpbusd each
/// lane holds its block's whole integer sum, and one conversion to f32 and one scale serve all
/// 32 values of the block. x[k][4L + i] = value 4k + i of block lane_block<W>(L). The weights are
/// vpdpbusd's unsigned operand (Q4_0: nibbles 0..15 standing for q - 8; Q8_0: q + 128), so
/// corr[L] = -8 (Q4_0) or -128 (Q8_0) times the sum of the block's activation quants; dx[L] is
/// the block's scale. Padding blocks past the row end are all zero.
struct alignas(64) q8_chunk {
  std::int8_t x[8][64];
  std::int32_t corr[16];
  float dx[16];
};
template <class W>
using q8_pack = q8_chunk;
template <class W>
inline constexpr std::size_t pack_blocks = 16;

/// The block (0..15 within its chunk) that vpdpbusd lane L accumulates: the order in which the
/// weight side's transposes (chunk_regs) leave the blocks of the row.
template <class W>
constexpr int lane_block(int lane) {
  if constexpr (std::is_same_v<W, block_q4_0>)
    return 4 * (lane % 4) + lane / 4;
  else
    return 2 * (lane % 4) + (lane / 4) % 2 + 8 * (lane / 8);
}
/// The lane that accumulates block j of a chunk (the inverse of lane_block).
template <class W>
constexpr int block_lane(int j) {
  for (int lane = 0; lane < 16; ++lane)
    if (lane_block<W>(lane) == j) return lane;
  return -1;
}

template <class W>
inline void place_block(const block_q8_0& b, q8_chunk& c, std::size_t j) {
  const int lane = block_lane<W>(int(j));
  int s = 0;
  for (int k = 0; k < 8; ++k)
    for (int i = 0; i < 4; ++i) {
      c.x[k][4 * lane + i] = b.qs[4 * k + i];
      s += b.qs[4 * k + i];
    }
  c.corr[lane] = (std::is_same_v<W, block_q4_0> ? -8 : -128) * s;
  c.dx[lane] = to_f32(b.d);
}
#else
template <class W>
using q8_pack = block_q8_0;
template <class W>
inline constexpr std::size_t pack_blocks = 1;
template <class W>
inline void place_block(const block_q8_0& b, block_q8_0& out, std::size_t) { out = b; }
#endif

/// Packed units holding `nb` activation blocks for weights of type W.
template <class W>
constexpr std::size_t pack_units(std::size_t nb) {
  return (nb + pack_blocks<W> - 1) / pack_blocks<W>;
}

/// Q8_0 activations -> the kernel layout for weights W; padding blocks are zero.
template <class W>
void pack(std::span<const block_q8_0> x, q8_pack<W>* out) {
  const std::size_t units = pack_units<W>(x.size());
  if (units * pack_blocks<W> != x.size()) std::memset(&out[units - 1], 0, sizeof(q8_pack<W>));
  for (std::size_t b = 0; b < x.size(); ++b)
    place_block<W>(x[b], out[b / pack_blocks<W>], b % pack_blocks<W>);
}

/// f32 activations [nb * 32] -> quantized to Q8_0 (quantize_row's bytes) -> packed for W.
template <class W>
void quantize_pack(std::span<const float> x, q8_pack<W>* out) {
  const std::size_t nb = x.size() / qk8_0;
  if constexpr (std::is_same_v<q8_pack<W>, block_q8_0>) {
    quantize_row(x, std::span<block_q8_0>(out, nb));
  } else {
    constexpr std::size_t chunk = 64;  // blocks quantized per call: stays in L1
    block_q8_0 tmp[chunk];
    const std::size_t units = pack_units<W>(nb);
    if (units * pack_blocks<W> != nb) std::memset(&out[units - 1], 0, sizeof(q8_pack<W>));
    for (std::size_t b0 = 0; b0 < nb; b0 += chunk) {
      const std::size_t m = nb - b0 < chunk ? nb - b0 : chunk;
      quantize_row(x.subspan(b0 * qk8_0, m * qk8_0), std::span<block_q8_0>(tmp, m));
      for (std::size_t b = 0; b < m; ++b)
        place_block<W>(tmp[b], out[(b0 + b) / pack_blocks<W>], (b0 + b) % pack_blocks<W>);
    }
  }
}

// ---- int8 row kernels: one weight row against NT packed activation rows ----------------------
// out[t] = dot(w, x_t). Every output runs the same instruction sequence whatever NT is, which is
// what makes gemm (NT > 1) bit-identical to gemv (NT = 1).

#if ARX_SIMD && defined(ARX_HAS_AVX512VNNI)
// A row is walked in chunks of 16 blocks (512 values). Its bytes are first cut into groups of 4
// (Q4_0, 72 bytes) or 2 (Q8_0, 68 bytes) blocks with one word permute each, quants in the order
// they lie in (each lane one dword of one block). Dword transposes (unpacks and 128-bit lane
// shuffles) then turn the chunk's groups into eight vectors in which lane L holds dword k of
// block lane_block<W>(L) (chunk_regs). That costs a few shuffles per
// chunk, shared by every token; each token then needs 8 vpdpbusd, one f32 conversion, one
// multiply and one FMA per 512 values.

// Word indices (into lines v0:v1, words 0-63) that cut one group out of two row lines, for each
// offset of the group within v0. Offsets are multiples of `align` bytes. Loading a prepared index
// vector beats adding a broadcast offset (measured: 1.50 against 1.58 cycles per Q4_0 block).
template <class W, int GroupBytes, int Blocks, std::size_t Align>
struct group_layout {
  static constexpr int group_bytes = GroupBytes;  // bytes of one group of weight blocks
  static constexpr int blocks = Blocks;           // blocks per group
  static constexpr int groups = 64 / (GroupBytes - 64);  // groups per 32-block stretch
  static constexpr int chunk_groups = 16 / Blocks;       // groups per 16-block chunk
  static constexpr std::size_t align = Align;
  static constexpr int offsets = int(64 / Align);
  struct table {
    alignas(64) std::int16_t q[offsets][32];  // word w: quant word w % qw of block w / qw
    alignas(64) std::int16_t d[offsets][32];  // word l < 16: scale of the group's block that
                                              // chunk lane l accumulates (if lane l is its)
  };
  static constexpr table make() {
    table t{};
    constexpr int block_words = GroupBytes / Blocks / 2, qw = 32 / Blocks;
    for (int m = 0; m < offsets; ++m) {
      const int base = m * int(Align) / 2;
      for (int w = 0; w < 32; ++w)
        t.q[m][w] = std::int16_t(base + 1 + block_words * (w / qw) + w % qw);
      for (int l = 0; l < 32; ++l)
        t.d[m][l] = std::int16_t(base + block_words * (lane_block<W>(l % 16) % Blocks));
    }
    return t;
  }
  static inline constexpr table indices = make();
  static __m512i quants(std::size_t m) { return _mm512_load_si512(indices.q[m]); }
  static __m512i scales(std::size_t m) { return _mm512_load_si512(indices.d[m]); }
  /// The chunk lanes whose block lies in group g of the chunk.
  static constexpr __mmask32 lanes_of(int g) {
    __mmask32 m = 0;
    for (int l = 0; l < 16; ++l)
      if (lane_block<W>(l) / Blocks == g) m |= __mmask32(1) << l;
    return m;
  }
};
// Q4_0: 4 blocks (72 bytes) per group; Q8_0: 2 blocks (68 bytes). Rows starting a multiple of
// 8 (Q4_0) or 4 (Q8_0) bytes into a line can be cut directly (direct_cursor).
template <class W>
using group_indices =
    std::conditional_t<std::is_same_v<W, block_q4_0>, group_layout<W, 72, 4, 8>,
                       group_layout<W, 68, 2, 4>>;

// Where the next group's bytes are: two row lines and the word indices that cut the group out.
struct group_lines {
  __m512i v0, v1, qi, di;
};

// Cursors walk a row group by group. They are plain values whose members the compiler keeps in
// registers (a lambda capturing the same state by reference ended up in memory, and the stores
// that came with it cost a third of the DRAM bandwidth). Groups past the row end read as zeros
// (row_lines masks them), so a ragged last chunk has zero weights and zero scales.
//
// direct_cursor: rows starting at a multiple of 8 (Q4_0) or 4 (Q8_0) bytes within a cache line —
// every row of a 32-byte aligned GGUF tensor whose rows hold a multiple of 4 (Q4_0) or 2 (Q8_0)
// blocks. Every group then lies within two aligned lines and is cut out of them directly.
template <class W>
struct direct_cursor {
  using idx = group_indices<W>;
  simd::x86::row_lines rl;
  std::size_t a, line;  // a: byte offset of the next group from the first aligned line
  __m512i v0, v1;       // aligned lines `line` and `line + 1`

  explicit direct_cursor(const simd::x86::row_lines& r)
      : rl(r), a(r.shift()), line(0), v0(load(0)), v1(load(1)) {}
  ARX_X86_INLINE __m512i load(std::size_t j) const {
    rl.prefetch(j);
    return rl.raw(j);
  }
  ARX_X86_INLINE group_lines next() {
    const std::size_t l = a / 64;
    if (l != line) {  // groups are 64..128 bytes long: one or two new lines
      v0 = l == line + 1 ? v1 : load(l);
      v1 = load(l + 1);
      line = l;
    }
    const std::size_t m = a % 64 / idx::align;
    a += idx::group_bytes;
    return {v0, v1, idx::quants(m), idx::scales(m)};
  }
};

// Rows starting anywhere else (only rows of an odd shape: a row of whole groups starts at a
// multiple of 8 or 4 bytes) are first copied into this thread's aligned buffer.
inline const std::byte* aligned_row_copy(const void* w, std::size_t bytes) {
  thread_local aligned_buffer buf;
  if (buf.size() < bytes) buf = aligned_buffer(bytes);
  std::memcpy(buf.data(), w, bytes);
  return buf.data();
}
/// The row's lines, read where it lies or from an aligned copy (see aligned_row_copy).
template <class W>
simd::x86::row_lines int8_row_lines(const W* w, std::size_t nb, bool prefetch) {
  const std::size_t bytes = nb * sizeof(W);
  if (reinterpret_cast<std::uintptr_t>(w) % 64 % group_indices<W>::align != 0)
    return simd::x86::row_lines(aligned_row_copy(w, bytes), bytes, false);
  return simd::x86::row_lines(w, bytes, prefetch);
}

/// One chunk of a weight row, ready for vpdpbusd: q[k] lane L = the unsigned weight bytes of
/// block lane_block<W>(L) that meet activation vector x[k]; ws lane L = that block's scale.
struct chunk_regs {
  __m512i q[8];
  __m512 ws;
};

// Within every 128-bit lane: dword k of v[p] -> dword p of v[k] (a 4 x 4 transpose).
ARX_X86_INLINE void transpose_dwords(__m512i* v) {
  const __m512i a = _mm512_unpacklo_epi32(v[0], v[1]), b = _mm512_unpackhi_epi32(v[0], v[1]);
  const __m512i c = _mm512_unpacklo_epi32(v[2], v[3]), d = _mm512_unpackhi_epi32(v[2], v[3]);
  v[0] = _mm512_unpacklo_epi64(a, c);
  v[1] = _mm512_unpackhi_epi64(a, c);
  v[2] = _mm512_unpacklo_epi64(b, d);
  v[3] = _mm512_unpackhi_epi64(b, d);
}

// The next chunk of the row under cursor c.
// Q4_0: group p's 128-bit lane j holds block 4p + j (its 16 nibble bytes); after the transpose
// vector k's lane 4j + p holds dword k of that block, whose low nibbles are values 4k..4k+3 and
// high nibbles values 16 + 4k.. (vector k + 4).
// Q8_0: group p's 128-bit lanes hold dwords 0-3 and 4-7 of block 2p, then of block 2p + 1. Two
// transposes (groups 0-3 and 4-7) and one 128-bit shuffle per output vector gather dword k of
// all sixteen blocks.
template <class W, class Cursor>
ARX_X86_INLINE chunk_regs load_chunk(Cursor& c) {
  using idx = group_indices<W>;
  constexpr int G = idx::chunk_groups;
  __m512i g[G];
  __m512i d = _mm512_setzero_si512();
  unroll<G>([&](auto i) ARX_INLINE_LAMBDA {
    const group_lines e = c.next();
    g[i] = _mm512_permutex2var_epi16(e.v0, e.qi, e.v1);
    d = _mm512_mask_mov_epi16(d, idx::lanes_of(i), _mm512_permutex2var_epi16(e.v0, e.di, e.v1));
  });
  chunk_regs out;
  out.ws = _mm512_cvtph_ps(_mm512_castsi512_si256(d));
  if constexpr (std::is_same_v<W, block_q4_0>) {
    transpose_dwords(g);
    const __m512i m4 = _mm512_set1_epi8(15);
    unroll<4>([&](auto k) ARX_INLINE_LAMBDA {
      out.q[k] = _mm512_and_si512(g[k], m4);
      out.q[k + 4] = _mm512_and_si512(_mm512_srli_epi16(g[k], 4), m4);
    });
  } else {
    unroll<8>([&](auto i) ARX_INLINE_LAMBDA {
      g[i] = _mm512_xor_si512(g[i], _mm512_set1_epi8(std::int8_t(0x80)));
    });
    transpose_dwords(g);
    transpose_dwords(g + 4);
    unroll<4>([&](auto k) ARX_INLINE_LAMBDA {
      out.q[k] = _mm512_shuffle_i64x2(g[k], g[k + 4], _MM_SHUFFLE(2, 0, 2, 0));
      out.q[k + 4] = _mm512_shuffle_i64x2(g[k], g[k + 4], _MM_SHUFFLE(3, 1, 3, 1));
    });
  }
  return out;
}

// The integer part of one (chunk, token): per lane the block's exact sum of weight x activation
// quants (the correction turns the unsigned weights back into signed ones). Integer adds are
// exact, so any order gives the same lanes; gemv splits the chain in two for latency.
template <bool Split>
ARX_X86_INLINE __m512i chunk_isum(const chunk_regs& w, const q8_chunk& x) {
  if constexpr (Split) {
    __m512i s0 = _mm512_load_si512(x.corr), s1 = _mm512_setzero_si512();
    unroll<4>([&](auto k) ARX_INLINE_LAMBDA {
      s0 = _mm512_dpbusd_epi32(s0, w.q[2 * k], _mm512_load_si512(x.x[2 * k]));
      s1 = _mm512_dpbusd_epi32(s1, w.q[2 * k + 1], _mm512_load_si512(x.x[2 * k + 1]));
    });
    return _mm512_add_epi32(s0, s1);
  } else {
    __m512i s = _mm512_load_si512(x.corr);
    unroll<8>([&](auto k) ARX_INLINE_LAMBDA {
      s = _mm512_dpbusd_epi32(s, w.q[k], _mm512_load_si512(x.x[k]));
    });
    return s;
  }
}
// The float part, the same for every path: acc += (d_w * d_x) * float(isum), lane-wise.
ARX_X86_INLINE __m512 chunk_fma(__m512 ws, const q8_chunk& x, __m512i s, __m512 acc) {
  return _mm512_fmadd_ps(_mm512_mul_ps(ws, _mm512_load_ps(x.dx)), _mm512_cvtepi32_ps(s), acc);
}

// Per token two accumulators, for even and odd chunks.
template <int NT>
struct accumulators {
  __m512 even[NT], odd[NT];
};

template <int NT>
ARX_X86_INLINE void chunk_step(const chunk_regs& w, const q8_chunk* const* px, std::size_t c,
                               __m512* acc) {
  unroll<NT>([&](auto t) ARX_INLINE_LAMBDA {
    const q8_chunk& x = px[t][c];
    acc[t] = chunk_fma(w.ws, x, chunk_isum<NT == 1>(w, x), acc[t]);
  });
}

template <class W, int NT, class Cursor>
accumulators<NT> int8_walk(Cursor c, std::size_t nc, const q8_chunk* const* pxp,
                           accumulators<NT> acc) {
  const q8_chunk* px[NT];
  unroll<NT>([&](auto t) ARX_INLINE_LAMBDA { px[t] = pxp[t]; });
  std::size_t i = 0;
  for (; i + 2 <= nc; i += 2) {
    chunk_step<NT>(load_chunk<W>(c), px, i, acc.even);
    chunk_step<NT>(load_chunk<W>(c), px, i + 1, acc.odd);
  }
  if (i < nc) chunk_step<NT>(load_chunk<W>(c), px, i, acc.even);
  return acc;
}

/// Adds the row's chunks to `acc` (chunks counted from the row start: an even number of chunks
/// per call keeps the even/odd split the same as one call over the whole row).
template <class W, int NT>
accumulators<NT> int8_row_acc(const W* w, std::size_t nb, const q8_chunk* const* px,
                              accumulators<NT> acc, bool prefetch = true) {
  return int8_walk<W, NT>(direct_cursor<W>(int8_row_lines(w, nb, prefetch)), pack_units<W>(nb),
                          px, acc);
}

template <int NT>
accumulators<NT> zero_accumulators() {
  accumulators<NT> acc;
  unroll<NT>([&](auto t) ARX_INLINE_LAMBDA { acc.even[t] = acc.odd[t] = _mm512_setzero_ps(); });
  return acc;
}
template <int NT>
void finish(const accumulators<NT>& acc, float* out) {
  unroll<NT>([&](auto t) ARX_INLINE_LAMBDA {
    out[t] = simd::x86::hsum(_mm512_add_ps(acc.even[t], acc.odd[t]));
  });
}

/// out[t] = dot(w, x_t) for NT packed activation rows. `prefetch`: see row_lines.
template <class W, int NT>
void int8_row(const W* w, std::size_t nb, const q8_chunk* const* px, float* out,
              bool prefetch = true) {
  finish(int8_row_acc<W, NT>(w, nb, px, zero_accumulators<NT>(), prefetch), out);
}

// ---- gemm: register tiles of R rows x T tokens over unpacked weight rows ----------------------
// For a batch, gemm first unpacks a tile of weight rows into chunk_regs (the same bytes, the
// same f32 scales), once per tile instead of once per row and token group. A tile kernel then
// streams T tokens' activation vectors and R unpacked rows through R x T integer accumulators;
// each (row, token) pair forms the same exact integer lanes and then runs chunk_fma on the same
// values, even chunks into one accumulator and odd chunks into another (one parity pass after
// the other), and finish()'s final add and horizontal sum — so every output is bit-identical to
// int8_row's, hence to gemv's.
using wchunk = chunk_regs;
template <class W>
using wgroup = wchunk;

template <class W, class Cursor>
void unpack_walk(Cursor c, std::size_t nc, wchunk* out) {
  for (std::size_t i = 0; i < nc; ++i) out[i] = load_chunk<W>(c);
}
/// The row's pack_units<W>(nb) chunks, unpacked (what int8_row computes from the raw row).
template <class W>
void unpack_row(const W* w, std::size_t nb, wchunk* out, bool prefetch = true) {
  unpack_walk<W>(direct_cursor<W>(int8_row_lines(w, nb, prefetch)), pack_units<W>(nb), out);
}

/// One parity pass of a tile over chunks [g0, g1): adds chunks g of parity p (in order) of
/// (row r, token t) to part[r * T + t] (to zero unless Resume), as int8_walk's even (p = 0) or
/// odd (p = 1) accumulator does — so passes over consecutive chunk ranges chain exactly.
/// w[r]: unpacked rows; x[t]: packed tokens.
template <int R, int T, bool Resume>
void int8_tile_pass(const wchunk* const* wp, const q8_chunk* const* xp, std::size_t g0,
                    std::size_t g1, std::size_t p, __m512* part) {
  const wchunk* w[R];
  const q8_chunk* x[T];
  unroll<R>([&](auto r) ARX_INLINE_LAMBDA { w[r] = wp[r]; });
  unroll<T>([&](auto t) ARX_INLINE_LAMBDA { x[t] = xp[t]; });
  __m512 acc[R][T];
  unroll<R>([&](auto r) ARX_INLINE_LAMBDA {
    unroll<T>([&](auto t) ARX_INLINE_LAMBDA {
      acc[r][t] = Resume ? part[r * T + t] : _mm512_setzero_ps();
    });
  });
  for (std::size_t g = g0 + ((g0 & 1) != p); g < g1; g += 2) {
    __m512i s[R][T];
    unroll<T>([&](auto t) ARX_INLINE_LAMBDA {
      const __m512i corr = _mm512_load_si512(x[t][g].corr);
      unroll<R>([&](auto r) ARX_INLINE_LAMBDA { s[r][t] = corr; });
    });
    unroll<8>([&](auto k) ARX_INLINE_LAMBDA {
      __m512i xk[T];
      unroll<T>([&](auto t) ARX_INLINE_LAMBDA { xk[t] = _mm512_load_si512(x[t][g].x[k]); });
      unroll<R>([&](auto r) ARX_INLINE_LAMBDA {
        const __m512i wk = _mm512_load_si512(&w[r][g].q[k]);
        unroll<T>([&](auto t) ARX_INLINE_LAMBDA {
          s[r][t] = _mm512_dpbusd_epi32(s[r][t], wk, xk[t]);
        });
      });
    });
    unroll<R>([&](auto r) ARX_INLINE_LAMBDA {
      const __m512 ws = w[r][g].ws;
      unroll<T>([&](auto t) ARX_INLINE_LAMBDA {
        acc[r][t] = chunk_fma(ws, x[t][g], s[r][t], acc[r][t]);
      });
    });
  }
  unroll<R>([&](auto r) ARX_INLINE_LAMBDA {
    unroll<T>([&](auto t) ARX_INLINE_LAMBDA { part[r * T + t] = acc[r][t]; });
  });
}

/// Chunks [g0, g1) of a tile: even[i], odd[i] (i = r * T + t) are int8_walk's accumulators,
/// continued when `resume`.
template <int R, int T, class WG, class XG>
void int8_tile_chunk(const WG* const* w, const XG* const* x, std::size_t g0, std::size_t g1,
                     __m512* even, __m512* odd, bool resume) {
  if (resume) {
    int8_tile_pass<R, T, true>(w, x, g0, g1, 0, even);
    int8_tile_pass<R, T, true>(w, x, g0, g1, 1, odd);
  } else {
    int8_tile_pass<R, T, false>(w, x, g0, g1, 0, even);
    int8_tile_pass<R, T, false>(w, x, g0, g1, 1, odd);
  }
}
#elif ARX_SIMD && defined(ARX_HAS_AVX2)
inline float f16_scale(f16 h) noexcept { return _cvtsh_ss(h.bits); }

template <class W, int NT>
void int8_row(const W* w, std::size_t nb, const block_q8_0* const* px, float* out,
              bool = true) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[NT];
  unroll<NT>([&](auto t) { acc[t] = _mm256_setzero_ps(); });
  for (std::size_t b = 0; b < nb; ++b) {
    // vpmaddubsw wants an unsigned operand: |x| (or |w|), with the sign moved onto the other
    __m256i wq;
    if constexpr (std::is_same_v<W, block_q4_0>) {
      const __m128i q = _mm_loadu_si128((const __m128i*)w[b].qs);
      const __m128i m4 = _mm_set1_epi8(15);
      wq = _mm256_sub_epi8(
          _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(q, 4), m4), _mm_and_si128(q, m4)),
          _mm256_set1_epi8(8));
    } else {
      wq = _mm256_loadu_si256((const __m256i*)w[b].qs);
    }
    const float dw = f16_scale(w[b].d);
    unroll<NT>([&](auto t) {
      const block_q8_0& x = px[t][b];
      const __m256i xq = _mm256_loadu_si256((const __m256i*)x.qs);
      __m256i p;
      if constexpr (std::is_same_v<W, block_q4_0>)
        p = _mm256_maddubs_epi16(_mm256_sign_epi8(xq, xq), _mm256_sign_epi8(wq, xq));
      else
        p = _mm256_maddubs_epi16(_mm256_sign_epi8(wq, wq), _mm256_sign_epi8(xq, wq));
      const __m256 s = _mm256_cvtepi32_ps(_mm256_madd_epi16(p, ones));
      acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(dw * f16_scale(x.d)), s, acc[t]);
    });
  }
  unroll<NT>([&](auto t) { out[t] = simd::x86::hsum(acc[t]); });
}

#elif ARX_SIMD && defined(ARX_HAS_SSE2)
// int8 -> two int16 halves (sign-extended)
inline void widen_s8(__m128i v, __m128i& lo, __m128i& hi) noexcept {
  const __m128i sign = _mm_cmpgt_epi8(_mm_setzero_si128(), v);
  lo = _mm_unpacklo_epi8(v, sign);
  hi = _mm_unpackhi_epi8(v, sign);
}

template <class W, int NT>
void int8_row(const W* w, std::size_t nb, const block_q8_0* const* px, float* out,
              bool = true) {
  __m128 acc[NT];
  unroll<NT>([&](auto t) { acc[t] = _mm_setzero_ps(); });
  for (std::size_t b = 0; b < nb; ++b) {
    __m128i wv[4];  // the block's 32 weights as int16
    if constexpr (std::is_same_v<W, block_q4_0>) {
      const __m128i q = _mm_loadu_si128((const __m128i*)w[b].qs);
      const __m128i m4 = _mm_set1_epi8(15), z = _mm_setzero_si128(), eight = _mm_set1_epi16(8);
      const __m128i lo = _mm_and_si128(q, m4), hi = _mm_and_si128(_mm_srli_epi16(q, 4), m4);
      wv[0] = _mm_sub_epi16(_mm_unpacklo_epi8(lo, z), eight);
      wv[1] = _mm_sub_epi16(_mm_unpackhi_epi8(lo, z), eight);
      wv[2] = _mm_sub_epi16(_mm_unpacklo_epi8(hi, z), eight);
      wv[3] = _mm_sub_epi16(_mm_unpackhi_epi8(hi, z), eight);
    } else {
      widen_s8(_mm_loadu_si128((const __m128i*)w[b].qs), wv[0], wv[1]);
      widen_s8(_mm_loadu_si128((const __m128i*)(w[b].qs + 16)), wv[2], wv[3]);
    }
    const float dw = to_f32(w[b].d);
    unroll<NT>([&](auto t) {
      const block_q8_0& x = px[t][b];
      __m128i xv[4];
      widen_s8(_mm_loadu_si128((const __m128i*)x.qs), xv[0], xv[1]);
      widen_s8(_mm_loadu_si128((const __m128i*)(x.qs + 16)), xv[2], xv[3]);
      const __m128i s = _mm_add_epi32(
          _mm_add_epi32(_mm_madd_epi16(wv[0], xv[0]), _mm_madd_epi16(wv[1], xv[1])),
          _mm_add_epi32(_mm_madd_epi16(wv[2], xv[2]), _mm_madd_epi16(wv[3], xv[3])));
      acc[t] = _mm_add_ps(acc[t], _mm_mul_ps(_mm_set1_ps(dw * to_f32(x.d)), _mm_cvtepi32_ps(s)));
    });
  }
  unroll<NT>([&](auto t) { out[t] = simd::x86::hsum(acc[t]); });
}

#else
template <class W, int NT>
void int8_row(const W* w, std::size_t nb, const block_q8_0* const* px, float* out,
              bool = true) {
  for (int t = 0; t < NT; ++t)
    out[t] = ref::dot(std::span<const W>(w, nb), std::span<const block_q8_0>(px[t], nb));
}
#endif

// ---- float row kernels: one weight row (f32/f16/bf16) against NT f32 activation rows ---------

#if ARX_SIMD && defined(ARX_HAS_AVX512)
// Chunk h (0 or 1) of a 64-byte row line, as 16 f32 values.
template <class T>
inline __m512 line_chunk(__m512i v, int h) {
  if constexpr (std::is_same_v<T, float>) {
    (void)h;
    return _mm512_castsi512_ps(v);
  } else {
    const __m256i half = h ? _mm512_extracti64x4_epi64(v, 1) : _mm512_castsi512_si256(v);
    if constexpr (std::is_same_v<T, f16>)
      return _mm512_cvtph_ps(half);
    else
      return simd::x86::bf16x16_to_f32(half);
  }
}

// Chunks of 16 values, taken in pairs: chunk 2p goes to a0, chunk 2p + 1 to a1. A pair is two
// row lines of f32 or one line of a 2-byte type. The last pair masks the activations and reads
// zero weights past the row end, so it performs the same operations as any other pair.
// Everything the loop touches is local (row reader, pointers, accumulators): through references
// the compiler would have to store the accumulators back on every step.
template <class T, int NT, bool Shifted>
void float_row_walk(const simd::x86::row_lines rl, std::size_t n, const float* const* xp,
                    float* out) {
  const float* x[NT];
  __m512 a0[NT], a1[NT];
  unroll<NT>([&](auto t) {
    x[t] = xp[t];
    a0[t] = a1[t] = _mm512_setzero_ps();
  });
  __m512i r0 = rl.raw(0);
  std::size_t line = 0;
  auto next_line = [&] {
    rl.prefetch(line);
    const __m512i r1 = rl.raw(++line);
    const __m512i v = rl.template line<Shifted>(r0, r1);
    r0 = r1;
    return v;
  };
  auto pair = [&](std::size_t i, __mmask16 m0, __mmask16 m1) {
    __m512 w0, w1;
    if constexpr (std::is_same_v<T, float>) {
      w0 = line_chunk<T>(next_line(), 0);
      w1 = line_chunk<T>(next_line(), 0);
    } else {
      const __m512i v = next_line();
      w0 = line_chunk<T>(v, 0);
      w1 = line_chunk<T>(v, 1);
    }
    unroll<NT>([&](auto t) {
      a0[t] = _mm512_fmadd_ps(w0, _mm512_maskz_loadu_ps(m0, x[t] + i), a0[t]);
      a1[t] = _mm512_fmadd_ps(w1, _mm512_maskz_loadu_ps(m1, x[t] + i + 16), a1[t]);
    });
  };
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) pair(i, 0xffff, 0xffff);
  if (i < n) {
    const std::size_t k = n - i;  // 1..31 values left
    pair(i, k >= 16 ? 0xffff : __mmask16((1u << k) - 1),
         k > 16 ? __mmask16((1u << (k - 16)) - 1) : 0);
  }
  unroll<NT>([&](auto t) { out[t] = simd::x86::hsum(_mm512_add_ps(a0[t], a1[t])); });
}

template <class T, int NT>
void float_row(const T* w, std::size_t n, const float* const* x, float* out,
               bool prefetch = true) {
  const simd::x86::row_lines rl(w, n * sizeof(T), prefetch);
  if (rl.shifted())
    float_row_walk<T, NT, true>(rl, n, x, out);
  else
    float_row_walk<T, NT, false>(rl, n, x, out);
}

// gemm for float weights: R rows x T tokens per register tile over parity-split copies of the
// weight rows and the tokens (64-byte aligned; a row of nc chunks of 16 values stored as its even
// chunks, then its odd chunks: chunk c at (c & 1) * (nc / 2) + c / 2), so each parity pass reads
// consecutive lines. Chunk c of row r meets chunk c of token t by the same fmadd as in
// float_row_walk, even chunks into one accumulator and odd chunks into another (one parity pass
// after the other), then float_row_walk's final add and sum: bit-identical to float_row when the
// row length is a multiple of 32 (float_row's last pair then holds no padding either).
template <class T>
ARX_X86_INLINE __m512 chunk_f32(const T* p) {
  if constexpr (std::is_same_v<T, float>)
    return _mm512_load_ps(p);
  else if constexpr (std::is_same_v<T, f16>)
    return _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(p)));
  else
    return simd::x86::bf16x16_to_f32(_mm256_load_si256(reinterpret_cast<const __m256i*>(p)));
}
/// Split chunks [i0, i1) of rows w[r] and tokens x[t], added (in order) to part[r * T + t] (to
/// zero unless Resume).
template <class W, int R, int T, bool Resume>
void float_split_pass(const W* const* wp, const float* const* xp, std::size_t i0, std::size_t i1,
                      __m512* part) {
  const W* w[R];
  const float* x[T];
  unroll<R>([&](auto r) { w[r] = wp[r]; });
  unroll<T>([&](auto t) { x[t] = xp[t]; });
  __m512 acc[R][T];
  unroll<R>([&](auto r) {
    unroll<T>([&](auto t) { acc[r][t] = Resume ? part[r * T + t] : _mm512_setzero_ps(); });
  });
  for (std::size_t i = i0; i < i1; ++i) {
    __m512 xv[T];
    unroll<T>([&](auto t) { xv[t] = _mm512_load_ps(x[t] + 16 * i); });
    unroll<R>([&](auto r) {
      const __m512 wv = chunk_f32(w[r] + 16 * i);
      unroll<T>([&](auto t) { acc[r][t] = _mm512_fmadd_ps(wv, xv[t], acc[r][t]); });
    });
  }
  unroll<R>([&](auto r) { unroll<T>([&](auto t) { part[r * T + t] = acc[r][t]; }); });
}
/// Chunks [c0, c1) (c0 even) of parity-split rows and tokens with nc chunks each.
template <int R, int T, class W>
void float_split_chunk(const W* const* w, const float* const* x, std::size_t c0, std::size_t c1,
                       std::size_t nc, __m512* even, __m512* odd, bool resume) {
  const std::size_t h = nc / 2;
  const std::size_t e0 = c0 / 2, e1 = (c1 + 1) / 2, o0 = h + c0 / 2, o1 = h + c1 / 2;
  if (resume) {
    float_split_pass<W, R, T, true>(w, x, e0, e1, even);
    float_split_pass<W, R, T, true>(w, x, o0, o1, odd);
  } else {
    float_split_pass<W, R, T, false>(w, x, e0, e1, even);
    float_split_pass<W, R, T, false>(w, x, o0, o1, odd);
  }
}
#elif ARX_SIMD
// Portable xsimd version (AVX2, SSE2, NEON): L-value chunks, ragged tail zero-padded.
using simd::batch_f32;
inline constexpr std::size_t chunk_lanes = batch_f32::size;

template <class T>
inline batch_f32 load_chunk(const T* p) {
  if constexpr (std::is_same_v<T, float>) {
    return batch_f32::load_unaligned(p);
  } else {
#  if defined(ARX_HAS_AVX2)
    const __m128i h = _mm_loadu_si128((const __m128i*)p);
    if constexpr (std::is_same_v<T, f16>) return simd::x86::f16x8_to_f32(h);
    else return simd::x86::bf16x8_to_f32(h);
#  elif defined(ARX_HAS_SSE2)
    const __m128i h = _mm_loadl_epi64((const __m128i*)p);
    if constexpr (std::is_same_v<T, f16>) return simd::x86::f16x4_to_f32(h);
    else return simd::x86::bf16x4_to_f32(h);
#  else
    alignas(64) float tmp[chunk_lanes];
    for (std::size_t i = 0; i < chunk_lanes; ++i) tmp[i] = scalar_f32(p[i]);
    return batch_f32::load_aligned(tmp);
#  endif
  }
}

// Chunks of L values in pairs (even -> acc[.][0], odd -> acc[.][1]); the ragged end is handled as
// zero-padded chunks, so the order of additions depends only on n.
template <class T, int NT>
void float_row(const T* w, std::size_t n, const float* const* x, float* out, bool = true) {
  constexpr std::size_t L = chunk_lanes;
  batch_f32 acc[NT][2];
  unroll<NT>([&](auto t) { acc[t][0] = acc[t][1] = batch_f32(0.0f); });
  std::size_t i = 0;
  for (; i + 2 * L <= n; i += 2 * L) {
    const batch_f32 w0 = load_chunk(w + i), w1 = load_chunk(w + i + L);
    unroll<NT>([&](auto t) {
      acc[t][0] = xsimd::fma(w0, batch_f32::load_unaligned(x[t] + i), acc[t][0]);
      acc[t][1] = xsimd::fma(w1, batch_f32::load_unaligned(x[t] + i + L), acc[t][1]);
    });
  }
  if (i < n) {
    alignas(64) float wt[2 * L] = {}, xt[2 * L] = {};
    for (std::size_t k = i; k < n; ++k) wt[k - i] = scalar_f32(w[k]);
    const batch_f32 w0 = batch_f32::load_aligned(wt), w1 = batch_f32::load_aligned(wt + L);
    unroll<NT>([&](auto t) {
      for (std::size_t k = i; k < n; ++k) xt[k - i] = x[t][k];
      acc[t][0] = xsimd::fma(w0, batch_f32::load_aligned(xt), acc[t][0]);
      acc[t][1] = xsimd::fma(w1, batch_f32::load_aligned(xt + L), acc[t][1]);
    });
  }
  unroll<NT>([&](auto t) { out[t] = simd::reduce_add(acc[t][0] + acc[t][1]); });
}
#else
template <class T, int NT>
void float_row(const T* w, std::size_t n, const float* const* x, float* out, bool = true) {
  for (int t = 0; t < NT; ++t)
    out[t] = ref::dot(std::span<const T>(w, n), std::span<const float>(x[t], n));
}
#endif

// ---- quantized weights with f32 activations (no int8 path): dequantize block by block ---------
template <class W>
float block_f32_dot(std::span<const W> w, std::span<const float> x) {
#if ARX_SIMD && defined(ARX_HAS_AVX512)
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  alignas(64) float tmp[32];
  for (std::size_t b = 0; b < w.size(); ++b) {
    dequantize_block_vec(w[b], tmp);
    acc0 = _mm512_fmadd_ps(_mm512_load_ps(tmp), _mm512_loadu_ps(x.data() + 32 * b), acc0);
    acc1 = _mm512_fmadd_ps(_mm512_load_ps(tmp + 16), _mm512_loadu_ps(x.data() + 32 * b + 16), acc1);
  }
  return simd::x86::hsum(_mm512_add_ps(acc0, acc1));
#elif ARX_SIMD
  batch_f32 acc0(0.0f), acc1(0.0f);
  alignas(64) float tmp[32];
  for (std::size_t b = 0; b < w.size(); ++b) {
    ref::dequantize_block(w[b], tmp);
    const float* xb = x.data() + 32 * b;
    for (std::size_t i = 0; i < 32; i += 2 * chunk_lanes) {
      acc0 = xsimd::fma(batch_f32::load_aligned(tmp + i), batch_f32::load_unaligned(xb + i), acc0);
      acc1 = xsimd::fma(batch_f32::load_aligned(tmp + i + chunk_lanes),
                        batch_f32::load_unaligned(xb + i + chunk_lanes), acc1);
    }
  }
  return simd::reduce_add(acc0 + acc1);
#else
  return ref::dot(w, x);
#endif
}

}  // namespace detail

// ---- public fast dots --------------------------------------------------------------------------

/// w: [n] of T · x: [n] f32 (quantized T are dequantized on the fly: exact f32 math).
template <class T>
float dot(std::span<const T> w, std::span<const float> x) {
  detail::check_dot<T>(w.size(), x.size());
  if constexpr (is_decoded_type_v<T>) {
    const float* xp = x.data();
    float out;
    detail::decoded_row<T, 1>(w.data(), w.size(), &xp, &out);
    return out;
  } else if constexpr (is_block_type_v<T>) {
    return detail::block_f32_dot(w, x);
  } else {
    const float* xp = x.data();
    float out;
    detail::float_row<T, 1>(w.data(), w.size(), &xp, &out);
    return out;
  }
}

/// w: [n] of Q4_1, Q5_0, Q5_1 or a K-quant · x: [n] as Q8_0 blocks (the int8 form llama.cpp
/// computes). For the K-quants with AVX512-VNNI this is gemv's row kernel, bit for bit; otherwise
/// (gemv/gemm take f32 activations for the type) it is ref::dot_q8.
template <class W>
  requires is_decoded_type_v<W>
float dot(std::span<const W> w, std::span<const block_q8_0> x) {
#if ARX_SIMD && defined(ARX_HAS_AVX512VNNI)
  if constexpr (!std::is_same_v<typename dtype_traits<W>::dot_type, block_q8_0>) {
    return ref::dot_q8(w, x);
  } else {
    detail::check_dot<W>(w.size(), x.size() * qk8_0);
    const std::size_t cols = x.size() * qk8_0;
    aligned_buffer buf(detail::kq_act_bytes(cols));
    detail::kq_fill(x, buf.data());
    const detail::kq_act xa = detail::kq_view(buf.data(), cols);
    float out = 0.0f;
    detail::kq_row<W, 1>(w.data(), w.size(), &xa, &out);
    return out;
  }
#else
  return ref::dot_q8(w, x);
#endif
}

/// w: [n] Q8_0 or Q4_0 · x: [n] as Q8_0 blocks; the same bits as the matching gemv row.
/// Precondition: every quant of x lies in [-127, 127] (as quantize_row produces; -128 is not
/// handled by every ISA tier). Asserted in debug builds.
template <class W>
  requires(std::is_same_v<W, block_q8_0> || std::is_same_v<W, block_q4_0>)
float dot(std::span<const W> w, std::span<const block_q8_0> x) {
  detail::check_dot<W>(w.size(), x.size() * qk8_0);
  ARX_DASSERT(detail::q8_activations_in_range(x));
#if ARX_SIMD && defined(ARX_HAS_AVX512VNNI)
  // Pack 32 blocks at a time on the stack; the groups are walked in the same order as gemv.
  constexpr std::size_t chunk = 32;
  detail::q8_pack<W> buf[detail::pack_units<W>(chunk)];
  // Chunks of 32 blocks hold an even number of groups, so the even/odd split matches gemv's.
  auto acc = detail::zero_accumulators<1>();
  for (std::size_t b = 0; b < w.size(); b += chunk) {
    const std::size_t m = w.size() - b < chunk ? w.size() - b : chunk;
    detail::pack<W>(x.subspan(b, m), buf);
    const detail::q8_pack<W>* bp = buf;
    acc = detail::int8_row_acc<W, 1>(w.data() + b, m, &bp, acc);
  }
  float out;
  detail::finish(acc, &out);
  return out;
#else
  const block_q8_0* xp = x.data();
  float out;
  detail::int8_row<W, 1>(w.data(), w.size(), &xp, &out);
  return out;
#endif
}

}  // namespace ops
ARX_NAMESPACE_END
ARX_DIAG_POP
