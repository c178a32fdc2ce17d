// arx/ops/kquants.hpp — the block types beyond Q8_0/Q4_0: Q4_1, Q5_0, Q5_1 and the K-quants Q2_K,
// Q3_K, Q4_K, Q5_K, Q6_K (layouts in arx/core/dtype.hpp). Every one of them is decoded through one
// intermediate, the "integer form" of a block:
//
//   int_form<BE>: q[BE] small signed integers, and per 16 values g an f32 scale a[g] and offset
//                 off[g], such that value j = a[j / 16] * q[j] + off[j / 16].
//
// a and off are formed exactly as GGUF's reference decoder forms its factors (e.g. Q4_K:
// a = d * scale, off = -(dmin * min), both exact in f32), and a * q is exact for every type except
// Q6_K (whose off is 0), so the decoded floats are GGUF's decoded floats, bit for bit, whether or
// not the compiler fuses the multiply-add.
//
//   ref::dequantize_block(block, out)   out: [BE] f32
//   ref::quantize_block(x, block)       x: [BE] f32 -> a block (arx's own quantizer, below)
//   ref::dot_q8(w, x)                   w: [n] of a type here · x: [n] as Q8_0 blocks
//   detail::decoded_row<W, NT>          one weight row against NT f32 activation rows (gemv/gemm)
//   detail::kq_row<W, NT>               one K-quant row against NT Q8_0 activation rows (VNNI)
//
// Dot products: with AVX512-VNNI, gemv/gemm give the K-quants Q8_0 activations
// (dtype_traits<W>::dot_type = block_q8_0) and run detail::kq_row: vpdpbusd on the integer form's
// quants, scaled per 4 values by a[g]·d_x, offsets per 16 values (below). Q4_1/Q5_0/Q5_1, and the
// K-quants in other builds, take f32 activations (dot_type = float): each unit is decoded into an
// L1 buffer and multiplied with every token's activations by FMA. Either way a row is decoded
// once per call for all NT tokens.
// ref::dot_q8 is the scalar int8 form (integer sums per 16 values, then
// Σ_g a[g]·Σq_w·q_x + off[g]·Σq_x, scaled by the activation block's d), close to what llama.cpp
// computes for the same files.
//
// Quantizers: not ggml's (which search for the scales that minimise the squared error); each
// sub-block takes the scale (and minimum) that spans its values, the sub-block factors are rounded
// to the type's integer grid relative to the super-block's f16 d (and dmin), and each value takes
// the nearest level of the factors as stored. Good enough for the writer and make-model; the
// round-trip error bounds are in the tests. Inputs must be finite.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <type_traits>

#include "arx/config.hpp"
#include "arx/core/dtype.hpp"
#include "arx/core/error.hpp"
#include "arx/core/half.hpp"
#include "arx/simd/arch.hpp"
#include "arx/simd/x86.hpp"

ARX_DIAG_PUSH
ARX_NAMESPACE_BEGIN
namespace ops {

/// A decoded block: value j = a[j / 16] * q[j] + off[j / 16].
template <int BE>
struct int_form {
  alignas(64) std::int8_t q[BE];
  float a[BE / 16];
  float off[BE / 16];
};

namespace detail {
/// Scale and min of sub-block j (0..7) from Q4_K/Q5_K's 12 packed bytes: j < 4 keep 6 bits in
/// bytes j and j + 4; j >= 4 have 4 low bits in byte j + 4 (scale: low nibble, min: high) and
/// their top 2 bits in the top bits of bytes j - 4 (scale) and j (min).
inline void k4_scale_min(const std::uint8_t* s, int j, int& sc, int& m) noexcept {
  if (j < 4) {
    sc = s[j] & 63;
    m = s[j + 4] & 63;
  } else {
    sc = (s[j + 4] & 15) | ((s[j - 4] >> 6) << 4);
    m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}
/// Q4_K/Q5_K factors per 16 values: a = d * scale, off = -(dmin * min) of the 32-value sub-block.
inline void k4_factors(const std::uint8_t* scales, float d, float dmin, float* a, float* off) {
  for (int s = 0; s < 8; ++s) {
    int sc, m;
    k4_scale_min(scales, s, sc, m);
    a[2 * s] = a[2 * s + 1] = d * float(sc);
    off[2 * s] = off[2 * s + 1] = -(dmin * float(m));
  }
}
inline void k4_pack_scale_min(const int* sc, const int* m, std::uint8_t* s) noexcept {
  for (int j = 0; j < 4; ++j) {
    s[j] = std::uint8_t((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
    s[j + 4] = std::uint8_t((m[j] & 63) | ((m[j + 4] >> 4) << 6));
    s[j + 8] = std::uint8_t((sc[j + 4] & 15) | ((m[j + 4] & 15) << 4));
  }
}
/// Q3_K's 6-bit scale s (0..15), stored + 32: low 4 bits in the low (s < 8) or high (s >= 8)
/// nibble of byte s % 8, top 2 bits in bits 2 (s / 4)..+1 of byte 8 + s % 4.
inline int q3_scale(const std::uint8_t* b, int s) noexcept {
  const int lo = s < 8 ? b[s] & 15 : b[s - 8] >> 4;
  const int hi = (b[8 + s % 4] >> (2 * (s / 4))) & 3;
  return (lo | (hi << 4)) - 32;
}
inline void q3_pack_scales(const int* sc, std::uint8_t* b) noexcept {  // sc: 16 values in -32..31
  std::memset(b, 0, 12);
  for (int s = 0; s < 16; ++s) {
    const int v = sc[s] + 32;
    b[s % 8] = std::uint8_t(b[s % 8] | ((v & 15) << (s < 8 ? 0 : 4)));
    b[8 + s % 4] = std::uint8_t(b[8 + s % 4] | ((v >> 4) << (2 * (s / 4))));
  }
}
inline std::uint32_t load_u32(const std::uint8_t* p) noexcept {
  return std::uint32_t(p[0]) | std::uint32_t(p[1]) << 8 | std::uint32_t(p[2]) << 16 |
         std::uint32_t(p[3]) << 24;
}
inline int nearest(float v) noexcept { return int(std::lround(v)); }
/// 1/d, or 0 when d is 0 or so small (subnormal) that 1/d overflows: multiplying by an infinite
/// id would give ±inf/NaN quants, whose conversion to int is undefined.
inline float inverse_scale(float d) noexcept {
  if (d == 0.0f) return 0.0f;
  const float id = 1.0f / d;
  return std::isfinite(id) ? id : 0.0f;
}
}  // namespace detail

// ---- decoding: block -> integer form ---------------------------------------------------------

inline void to_int_form(const block_q4_1& b, int_form<32>& f) noexcept {
  for (int j = 0; j < 16; ++j) {
    f.q[j] = std::int8_t(b.qs[j] & 15);
    f.q[j + 16] = std::int8_t(b.qs[j] >> 4);
  }
  f.a[0] = f.a[1] = to_f32(b.d);
  f.off[0] = f.off[1] = to_f32(b.m);
}
inline void to_int_form(const block_q5_0& b, int_form<32>& f) noexcept {
  const std::uint32_t qh = detail::load_u32(b.qh);
  for (int j = 0; j < 16; ++j) {
    f.q[j] = std::int8_t(((b.qs[j] & 15) | (((qh >> j) & 1) << 4)) - 16);
    f.q[j + 16] = std::int8_t(((b.qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4)) - 16);
  }
  f.a[0] = f.a[1] = to_f32(b.d);
  f.off[0] = f.off[1] = 0.0f;
}
inline void to_int_form(const block_q5_1& b, int_form<32>& f) noexcept {
  const std::uint32_t qh = detail::load_u32(b.qh);
  for (int j = 0; j < 16; ++j) {
    f.q[j] = std::int8_t((b.qs[j] & 15) | (((qh >> j) & 1) << 4));
    f.q[j + 16] = std::int8_t((b.qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4));
  }
  f.a[0] = f.a[1] = to_f32(b.d);
  f.off[0] = f.off[1] = to_f32(b.m);
}
inline void to_int_form(const block_q2_k& b, int_form<qk_k>& f) noexcept {
  const float d = to_f32(b.d), dmin = to_f32(b.dmin);
  for (int h = 0; h < 2; ++h)
    for (int j = 0; j < 4; ++j)
      for (int l = 0; l < 32; ++l)
        f.q[128 * h + 32 * j + l] = std::int8_t((b.qs[32 * h + l] >> (2 * j)) & 3);
  for (int s = 0; s < 16; ++s) {
    f.a[s] = d * float(b.scales[s] & 15);
    f.off[s] = -(dmin * float(b.scales[s] >> 4));
  }
}
inline void to_int_form(const block_q3_k& b, int_form<qk_k>& f) noexcept {
  const float d = to_f32(b.d);
  for (int h = 0; h < 2; ++h)
    for (int j = 0; j < 4; ++j)
      for (int l = 0; l < 32; ++l) {
        const int low = (b.qs[32 * h + l] >> (2 * j)) & 3;
        const int high = (b.hmask[l] >> (4 * h + j)) & 1;
        f.q[128 * h + 32 * j + l] = std::int8_t(low - (high ? 0 : 4));
      }
  for (int s = 0; s < 16; ++s) {
    f.a[s] = d * float(detail::q3_scale(b.scales, s));
    f.off[s] = 0.0f;
  }
}
inline void to_int_form(const block_q4_k& b, int_form<qk_k>& f) noexcept {
  for (int j = 0; j < 4; ++j)
    for (int l = 0; l < 32; ++l) {
      f.q[64 * j + l] = std::int8_t(b.qs[32 * j + l] & 15);
      f.q[64 * j + 32 + l] = std::int8_t(b.qs[32 * j + l] >> 4);
    }
  detail::k4_factors(b.scales, to_f32(b.d), to_f32(b.dmin), f.a, f.off);
}
inline void to_int_form(const block_q5_k& b, int_form<qk_k>& f) noexcept {
  for (int j = 0; j < 4; ++j)
    for (int l = 0; l < 32; ++l) {
      const int lo = b.qs[32 * j + l] & 15, hi = b.qs[32 * j + l] >> 4;
      f.q[64 * j + l] = std::int8_t(lo | (((b.qh[l] >> (2 * j)) & 1) << 4));
      f.q[64 * j + 32 + l] = std::int8_t(hi | (((b.qh[l] >> (2 * j + 1)) & 1) << 4));
    }
  detail::k4_factors(b.scales, to_f32(b.d), to_f32(b.dmin), f.a, f.off);
}
inline void to_int_form(const block_q6_k& b, int_form<qk_k>& f) noexcept {
  const float d = to_f32(b.d);
  for (int h = 0; h < 2; ++h)
    for (int k = 0; k < 4; ++k)
      for (int l = 0; l < 32; ++l) {
        const std::uint8_t lo = b.ql[64 * h + 32 * (k & 1) + l];
        const int low = (k < 2 ? lo & 15 : lo >> 4);
        const int high = (b.qh[32 * h + l] >> (2 * k)) & 3;
        f.q[128 * h + 32 * k + l] = std::int8_t((low | (high << 4)) - 32);
      }
  for (int s = 0; s < 16; ++s) {
    f.a[s] = d * float(b.scales[s]);
    f.off[s] = 0.0f;
  }
}

/// The integer form of each block type here, sized for it.
template <class B>
using int_form_of = int_form<dtype_traits<B>::block_elems>;

/// out[j] = a[j / 16] * q[j] + off[j / 16]
template <int BE>
inline void decode(const int_form<BE>& f, float* out) noexcept {
  for (int g = 0; g < BE / 16; ++g)
    for (int j = 0; j < 16; ++j) out[16 * g + j] = f.a[g] * float(f.q[16 * g + j]) + f.off[g];
}

namespace ref {

template <class B>
  requires is_decoded_type_v<B>
void dequantize_block(const B& b, float* out) {
  int_form_of<B> f;
  to_int_form(b, f);
  decode(f, out);
}

// ---- quantizers ---------------------------------------------------------------------------------

namespace kq {
/// Smallest and largest of n values.
inline void min_max(const float* x, int n, float& lo, float& hi) {
  lo = hi = x[0];
  for (int j = 1; j < n; ++j) {
    lo = std::min(lo, x[j]);
    hi = std::max(hi, x[j]);
  }
}
/// The value of largest magnitude (first on ties), with its sign.
inline float signed_max(const float* x, int n) {
  float m = 0.0f, amax = 0.0f;
  for (int j = 0; j < n; ++j)
    if (std::fabs(x[j]) > amax) {
      amax = std::fabs(x[j]);
      m = x[j];
    }
  return m;
}
/// Nearest level of value = a * q + off for q in [lo, hi].
inline int level(float x, float a, float off, int lo, int hi) {
  return std::clamp(detail::nearest((x - off) * detail::inverse_scale(a)), lo, hi);
}
/// Asymmetric 32-value blocks (Q4_1: levels 0..15, Q5_1: 0..31): d = (max - min) / top, m = min.
inline void affine32(const float* x, int top, f16& d16, f16& m16, int* q) {
  float lo, hi;
  min_max(x, 32, lo, hi);
  d16 = to_f16((hi - lo) / float(top));
  m16 = to_f16(lo);
  const float d = to_f32(d16), m = to_f32(m16);
  for (int j = 0; j < 32; ++j) q[j] = level(x[j], d, m, 0, top);
}
/// Symmetric sub-blocks of n values with levels lo..hi (hi = -lo - 1): the signed maximum maps to
/// lo. Returns each sub-block's ideal scale in s[].
inline void symmetric_scales(const float* x, int subs, int n, int lo, float* s) {
  for (int g = 0; g < subs; ++g) s[g] = signed_max(x + n * g, n) / float(lo);
}
/// K-quant sub-blocks with a scale and a min (value = d * sc * q - dmin * m, m >= 0): the ideal
/// scale spans min(0, lo)..hi over `top` levels.
inline void span_scales(const float* x, int subs, int n, int top, float* s, float* mn) {
  for (int g = 0; g < subs; ++g) {
    float lo, hi;
    min_max(x + n * g, n, lo, hi);
    lo = std::min(lo, 0.0f);
    s[g] = (hi - lo) / float(top);
    mn[g] = -lo;
  }
}
/// Rounds ideal non-negative factors v[g] to integers 0..top times an f16 super-scale.
inline f16 grid(const float* v, int subs, int top, int* out) {
  float vmax = 0.0f;
  for (int g = 0; g < subs; ++g) vmax = std::max(vmax, v[g]);
  const f16 d16 = to_f16(vmax / float(top));
  const float id = detail::inverse_scale(to_f32(d16));
  for (int g = 0; g < subs; ++g) out[g] = std::clamp(detail::nearest(v[g] * id), 0, top);
  return d16;
}
/// Rounds ideal signed factors to integers in [-top, top] (clamped to [lo, top]) times f16 d.
inline f16 signed_grid(const float* v, int subs, int top, int lo, int* out) {
  float vmax = 0.0f;
  for (int g = 0; g < subs; ++g) vmax = std::max(vmax, std::fabs(v[g]));
  const f16 d16 = to_f16(vmax / float(top));
  const float id = detail::inverse_scale(to_f32(d16));
  for (int g = 0; g < subs; ++g) out[g] = std::clamp(detail::nearest(v[g] * id), lo, top);
  return d16;
}
}  // namespace kq

inline void quantize_block(const float* x, block_q4_1& y) {
  int q[32];
  kq::affine32(x, 15, y.d, y.m, q);
  for (int j = 0; j < 16; ++j) y.qs[j] = std::uint8_t(q[j] | (q[j + 16] << 4));
}
inline void quantize_block(const float* x, block_q5_1& y) {
  int q[32];
  kq::affine32(x, 31, y.d, y.m, q);
  std::uint32_t qh = 0;
  for (int j = 0; j < 16; ++j) {
    y.qs[j] = std::uint8_t((q[j] & 15) | ((q[j + 16] & 15) << 4));
    qh |= std::uint32_t(q[j] >> 4) << j | std::uint32_t(q[j + 16] >> 4) << (j + 16);
  }
  for (int i = 0; i < 4; ++i) y.qh[i] = std::uint8_t(qh >> (8 * i));
}
inline void quantize_block(const float* x, block_q5_0& y) {
  y.d = to_f16(kq::signed_max(x, 32) / -16.0f);
  const float d = to_f32(y.d);
  std::uint32_t qh = 0;
  for (int j = 0; j < 16; ++j) {
    const int a = kq::level(x[j], d, 0.0f, -16, 15) + 16;
    const int b = kq::level(x[j + 16], d, 0.0f, -16, 15) + 16;
    y.qs[j] = std::uint8_t((a & 15) | ((b & 15) << 4));
    qh |= std::uint32_t(a >> 4) << j | std::uint32_t(b >> 4) << (j + 16);
  }
  for (int i = 0; i < 4; ++i) y.qh[i] = std::uint8_t(qh >> (8 * i));
}
inline void quantize_block(const float* x, block_q2_k& y) {
  float s[16], mn[16];
  int sc[16], m[16];
  kq::span_scales(x, 16, 16, 3, s, mn);
  y.d = kq::grid(s, 16, 15, sc);
  y.dmin = kq::grid(mn, 16, 15, m);
  const float d = to_f32(y.d), dmin = to_f32(y.dmin);
  std::memset(y.qs, 0, sizeof y.qs);
  for (int g = 0; g < 16; ++g) y.scales[g] = std::uint8_t(sc[g] | (m[g] << 4));
  for (int v = 0; v < qk_k; ++v) {
    const int g = v / 16;
    const int q = kq::level(x[v], d * float(sc[g]), -(dmin * float(m[g])), 0, 3);
    const int h = v / 128, j = v % 128 / 32, l = v % 32;
    y.qs[32 * h + l] = std::uint8_t(y.qs[32 * h + l] | (q << (2 * j)));
  }
}
inline void quantize_block(const float* x, block_q3_k& y) {
  float s[16];
  int sc[16];
  kq::symmetric_scales(x, 16, 16, -4, s);
  y.d = kq::signed_grid(s, 16, 31, -32, sc);
  detail::q3_pack_scales(sc, y.scales);
  const float d = to_f32(y.d);
  std::memset(y.qs, 0, sizeof y.qs);
  std::memset(y.hmask, 0, sizeof y.hmask);
  for (int v = 0; v < qk_k; ++v) {
    const int q = kq::level(x[v], d * float(sc[v / 16]), 0.0f, -4, 3) + 4;  // 0..7
    const int h = v / 128, j = v % 128 / 32, l = v % 32;
    y.qs[32 * h + l] = std::uint8_t(y.qs[32 * h + l] | ((q & 3) << (2 * j)));
    y.hmask[l] = std::uint8_t(y.hmask[l] | ((q >> 2) << (4 * h + j)));
  }
}
namespace kq {
/// Q4_K / Q5_K: 8 sub-blocks of 32 with `top` + 1 levels; writes scales and returns the quants.
template <class B>
void k4_common(const float* x, int top, B& y, int* q) {
  float s[8], mn[8];
  int sc[8], m[8];
  span_scales(x, 8, 32, top, s, mn);
  y.d = grid(s, 8, 63, sc);
  y.dmin = grid(mn, 8, 63, m);
  detail::k4_pack_scale_min(sc, m, y.scales);
  const float d = to_f32(y.d), dmin = to_f32(y.dmin);
  for (int v = 0; v < qk_k; ++v)
    q[v] = level(x[v], d * float(sc[v / 32]), -(dmin * float(m[v / 32])), 0, top);
}
}  // namespace kq
inline void quantize_block(const float* x, block_q4_k& y) {
  int q[qk_k];
  kq::k4_common(x, 15, y, q);
  for (int j = 0; j < 4; ++j)
    for (int l = 0; l < 32; ++l)
      y.qs[32 * j + l] = std::uint8_t(q[64 * j + l] | (q[64 * j + 32 + l] << 4));
}
inline void quantize_block(const float* x, block_q5_k& y) {
  int q[qk_k];
  kq::k4_common(x, 31, y, q);
  std::memset(y.qh, 0, sizeof y.qh);
  for (int j = 0; j < 4; ++j)
    for (int l = 0; l < 32; ++l) {
      const int a = q[64 * j + l], b = q[64 * j + 32 + l];
      y.qs[32 * j + l] = std::uint8_t((a & 15) | ((b & 15) << 4));
      y.qh[l] = std::uint8_t(y.qh[l] | ((a >> 4) << (2 * j)) | ((b >> 4) << (2 * j + 1)));
    }
}
inline void quantize_block(const float* x, block_q6_k& y) {
  float s[16];
  int sc[16];
  kq::symmetric_scales(x, 16, 16, -32, s);
  y.d = kq::signed_grid(s, 16, 127, -127, sc);
  for (int g = 0; g < 16; ++g) y.scales[g] = std::int8_t(sc[g]);
  const float d = to_f32(y.d);
  std::memset(y.qh, 0, sizeof y.qh);
  for (int v = 0; v < qk_k; ++v) {
    const int q = kq::level(x[v], d * float(sc[v / 16]), 0.0f, -32, 31) + 32;  // 0..63
    const int h = v / 128, k = v % 128 / 32, l = v % 32;
    std::uint8_t& lo = y.ql[64 * h + 32 * (k & 1) + l];
    if (k < 2)
      lo = std::uint8_t((lo & 0xF0) | (q & 15));
    else
      lo = std::uint8_t((lo & 0x0F) | ((q & 15) << 4));
    y.qh[32 * h + l] = std::uint8_t(y.qh[32 * h + l] | ((q >> 4) << (2 * k)));
  }
}

/// w: [n] of a type here · x: [n] as Q8_0 blocks (32 values each): per activation block,
/// d_x · Σ_g (a[g] · Σ q_w q_x + off[g] · Σ q_x) over its two 16-value groups, blocks in order.
template <class W>
  requires is_decoded_type_v<W>
float dot_q8(std::span<const W> w, std::span<const block_q8_0> x) {
  constexpr int be = dtype_traits<W>::block_elems;
  if (w.size() * std::size_t(be) != x.size() * std::size_t(qk8_0))
    throw shape_error("dot: weight row of " + std::to_string(w.size() * std::size_t(be)) + " " +
                      type_name(dtype_traits<W>::type) + " values and Q8_0 activations of " +
                      std::to_string(x.size() * std::size_t(qk8_0)) + " values differ in length");
  float acc = 0.0f;
  int_form<be> f;
  for (std::size_t b = 0; b < w.size(); ++b) {
    to_int_form(w[b], f);
    for (int k = 0; k < be / qk8_0; ++k) {
      const block_q8_0& xb = x[b * std::size_t(be / qk8_0) + std::size_t(k)];
      float t = 0.0f;
      for (int h = 0; h < 2; ++h) {
        const int g = 2 * k + h;
        int isum = 0, xsum = 0;
        for (int j = 0; j < 16; ++j) {
          isum += int(f.q[16 * g + j]) * int(xb.qs[16 * h + j]);
          xsum += int(xb.qs[16 * h + j]);
        }
        t += f.a[g] * float(isum) + f.off[g] * float(xsum);
      }
      acc += to_f32(xb.d) * t;
    }
  }
  return acc;
}

/// The same, under the name ref::gemv calls for weights whose dot_type is block_q8_0.
template <class W>
  requires is_decoded_type_v<W>
float dot(std::span<const W> w, std::span<const block_q8_0> x) {
  return dot_q8(w, x);
}

}  // namespace ref

namespace detail {

#if ARX_SIMD && defined(ARX_HAS_AVX2)
// Integer forms with 256-bit byte operations (Q4_K, Q5_K, Q6_K, Q4_1, Q5_0, Q5_1; Q2_K and Q3_K
// take the scalar to_int_form): the same bytes as the scalar to_int_form, which the tests check
// through every type's decoded values in gemv.
inline __m256i low_nibbles(__m256i v) { return _mm256_and_si256(v, _mm256_set1_epi8(15)); }
inline __m256i high_nibbles(__m256i v) {
  return _mm256_and_si256(_mm256_srli_epi16(v, 4), _mm256_set1_epi8(15));
}
/// Bits k..k+width-1 of every byte of v, moved to bits `to`.., as bytes.
template <int k, int width, int to>
inline __m256i byte_bits(__m256i v) {
  const __m256i m = _mm256_set1_epi8(char(((1 << width) - 1) << to));
  if constexpr (k > to) return _mm256_and_si256(_mm256_srli_epi16(v, k - to), m);
  else if constexpr (k < to) return _mm256_and_si256(_mm256_slli_epi16(v, to - k), m);
  else return _mm256_and_si256(v, m);
}
inline __m256i load32(const std::uint8_t* p) { return _mm256_loadu_si256((const __m256i*)p); }
inline void store32(std::int8_t* p, __m256i v) { _mm256_store_si256((__m256i*)p, v); }

/// k4_factors without the per-sub-block loop: the 12 scale bytes as three 32-bit words, the
/// eight 6-bit scales and mins assembled with word masks (the layout of k4_scale_min), each
/// doubled for its two 16-value halves and scaled in f32 lanes — the same products as
/// k4_factors.
inline void k4_factors_vec(const std::uint8_t* scales, float d, float dmin, float* a,
                           float* off) {
  std::uint32_t u0, u1, u2;
  std::memcpy(&u0, scales, 4);
  std::memcpy(&u1, scales + 4, 4);
  std::memcpy(&u2, scales + 8, 4);
  const std::uint32_t sc_hi = (u2 & 0x0f0f0f0fu) | ((u0 >> 2) & 0x30303030u);
  const std::uint32_t m_hi = ((u2 >> 4) & 0x0f0f0f0fu) | ((u1 >> 2) & 0x30303030u);
  const auto doubled = [](std::uint32_t lo, std::uint32_t hi) {  // b0 b0 b1 b1 ... b7 b7
    const __m128i v = _mm_cvtsi64_si128(
        static_cast<long long>(std::uint64_t(lo & 0x3f3f3f3fu) | (std::uint64_t(hi) << 32)));
    return _mm_unpacklo_epi8(v, v);
  };
  const __m128i sc = doubled(u0, sc_hi), m = doubled(u1, m_hi);
  const auto lanes = [](__m128i b, int half) {  // bytes 8 * half .. + 7 as f32
    return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(half ? _mm_srli_si128(b, 8) : b));
  };
  const __m256 vd = _mm256_set1_ps(d), vm = _mm256_set1_ps(dmin), neg = _mm256_set1_ps(-0.0f);
  for (int h = 0; h < 2; ++h) {
    _mm256_storeu_ps(a + 8 * h, _mm256_mul_ps(vd, lanes(sc, h)));
    _mm256_storeu_ps(off + 8 * h, _mm256_xor_ps(neg, _mm256_mul_ps(vm, lanes(m, h))));
  }
}

inline void to_int_form_vec(const block_q4_k& b, int_form<qk_k>& f) {
  for (int j = 0; j < 4; ++j) {
    const __m256i v = load32(b.qs + 32 * j);
    store32(f.q + 64 * j, low_nibbles(v));
    store32(f.q + 64 * j + 32, high_nibbles(v));
  }
  k4_factors_vec(b.scales, to_f32(b.d), to_f32(b.dmin), f.a, f.off);
}
inline void to_int_form_vec(const block_q5_k& b, int_form<qk_k>& f) {
  const __m256i h = load32(b.qh);
  auto fifth = [&](int bit) {  // bit `bit` of every qh byte, as 16 or 0
    const __m256i m = _mm256_set1_epi8(char(1 << bit));
    return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(h, m), m), _mm256_set1_epi8(16));
  };
  for (int j = 0; j < 4; ++j) {
    const __m256i v = load32(b.qs + 32 * j);
    store32(f.q + 64 * j, _mm256_or_si256(low_nibbles(v), fifth(2 * j)));
    store32(f.q + 64 * j + 32, _mm256_or_si256(high_nibbles(v), fifth(2 * j + 1)));
  }
  k4_factors_vec(b.scales, to_f32(b.d), to_f32(b.dmin), f.a, f.off);
}
inline void to_int_form_vec(const block_q6_k& b, int_form<qk_k>& f) {
  const __m256i bias = _mm256_set1_epi8(32);
  for (int h = 0; h < 2; ++h) {
    const __m256i l0 = load32(b.ql + 64 * h), l1 = load32(b.ql + 64 * h + 32);
    const __m256i qh = load32(b.qh + 32 * h);
    std::int8_t* q = f.q + 128 * h;
    store32(q, _mm256_sub_epi8(_mm256_or_si256(low_nibbles(l0), byte_bits<0, 2, 4>(qh)), bias));
    store32(q + 32,
            _mm256_sub_epi8(_mm256_or_si256(low_nibbles(l1), byte_bits<2, 2, 4>(qh)), bias));
    store32(q + 64,
            _mm256_sub_epi8(_mm256_or_si256(high_nibbles(l0), byte_bits<4, 2, 4>(qh)), bias));
    store32(q + 96,
            _mm256_sub_epi8(_mm256_or_si256(high_nibbles(l1), byte_bits<6, 2, 4>(qh)), bias));
  }
  const float d = to_f32(b.d);
  for (int s = 0; s < 16; ++s) {
    f.a[s] = d * float(b.scales[s]);
    f.off[s] = 0.0f;
  }
}
/// 32-value blocks: nibbles of 16 bytes (values 0-15 low, 16-31 high) and the fifth bits of a
/// little-endian uint32 (bit i -> value i) as 16 or 0.
inline __m256i nibbles16(const std::uint8_t* p) {
  const __m128i v = _mm_loadu_si128((const __m128i*)p);
  return low_nibbles(_mm256_set_m128i(_mm_srli_epi16(v, 4), v));
}
inline __m256i fifth_bits(const std::uint8_t* qh) {
  const __m256i bytes = _mm256_shuffle_epi8(
      _mm256_set1_epi32(int(load_u32(qh))),
      _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3,
                       3, 3, 3, 3, 3, 3, 3));
  const __m256i bit = _mm256_set1_epi64x(0x8040201008040201LL);
  return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(bytes, bit), bit),
                          _mm256_set1_epi8(16));
}
inline void to_int_form_vec(const block_q4_1& b, int_form<32>& f) {
  store32(f.q, nibbles16(b.qs));
  f.a[0] = f.a[1] = to_f32(b.d);
  f.off[0] = f.off[1] = to_f32(b.m);
}
inline void to_int_form_vec(const block_q5_0& b, int_form<32>& f) {
  store32(f.q, _mm256_sub_epi8(_mm256_or_si256(nibbles16(b.qs), fifth_bits(b.qh)),
                               _mm256_set1_epi8(16)));
  f.a[0] = f.a[1] = to_f32(b.d);
  f.off[0] = f.off[1] = 0.0f;
}
inline void to_int_form_vec(const block_q5_1& b, int_form<32>& f) {
  store32(f.q, _mm256_or_si256(nibbles16(b.qs), fifth_bits(b.qh)));
  f.a[0] = f.a[1] = to_f32(b.d);
  f.off[0] = f.off[1] = to_f32(b.m);
}
template <class B>
inline constexpr bool has_vec_form_v =
    std::is_same_v<B, block_q4_k> || std::is_same_v<B, block_q5_k> ||
    std::is_same_v<B, block_q6_k> || std::is_same_v<B, block_q4_1> ||
    std::is_same_v<B, block_q5_0> || std::is_same_v<B, block_q5_1>;
#endif

/// The integer form by the fastest route this build has.
template <class B>
inline void fast_int_form(const B& b, int_form_of<B>& f) {
#if ARX_SIMD && defined(ARX_HAS_AVX2)
  if constexpr (has_vec_form_v<B>) {
    to_int_form_vec(b, f);
    return;
  }
#endif
  to_int_form(b, f);
}

#if ARX_SIMD
/// Lanes L (the batch width) of int8 quants as f32.
inline simd::batch_f32 i8_to_f32(const std::int8_t* p) {
#  if defined(ARX_HAS_AVX512)
  return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_load_si128((const __m128i*)p)));
#  elif defined(ARX_HAS_AVX2)
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i*)p)));
#  else
  alignas(16) float t[simd::batch_f32::size];
  for (std::size_t i = 0; i < simd::batch_f32::size; ++i) t[i] = float(p[i]);
  return simd::batch_f32::load_aligned(t);
#  endif
}
#endif

/// out[t] = w · x[t] for a row of nb units of W: each unit's integer form is made once, each
/// chunk of L values decoded as a[g] * q + off[g] and multiplied into two accumulators per token
/// (even and odd chunks). The order of additions depends only on nb, so gemv and gemm agree bit
/// for bit.
template <class W, int NT>
void decoded_row(const W* w, std::size_t nb, const float* const* x, float* out) {
  constexpr int be = dtype_traits<W>::block_elems;
#if ARX_SIMD
  using simd::batch_f32;
  constexpr int L = int(batch_f32::size);
  static_assert(16 % L == 0 || L == 16);
  batch_f32 acc[NT][2];
  for (int t = 0; t < NT; ++t) acc[t][0] = acc[t][1] = batch_f32(0.0f);
  int_form<be> f;
  for (std::size_t b = 0; b < nb; ++b) {
    fast_int_form(w[b], f);
    for (int i = 0; i < be; i += 2 * L) {
      const batch_f32 w0 = xsimd::fma(batch_f32(f.a[i / 16]), i8_to_f32(f.q + i),
                                      batch_f32(f.off[i / 16]));
      const batch_f32 w1 = xsimd::fma(batch_f32(f.a[(i + L) / 16]), i8_to_f32(f.q + i + L),
                                      batch_f32(f.off[(i + L) / 16]));
      for (int t = 0; t < NT; ++t) {
        const float* xb = x[t] + b * std::size_t(be) + std::size_t(i);
        acc[t][0] = xsimd::fma(w0, batch_f32::load_unaligned(xb), acc[t][0]);
        acc[t][1] = xsimd::fma(w1, batch_f32::load_unaligned(xb + L), acc[t][1]);
      }
    }
  }
  for (int t = 0; t < NT; ++t) out[t] = simd::reduce_add(acc[t][0] + acc[t][1]);
#else
  alignas(64) float tmp[be];
  float acc[NT] = {};
  for (std::size_t b = 0; b < nb; ++b) {
    ref::dequantize_block(w[b], tmp);
    for (int t = 0; t < NT; ++t)
      for (int j = 0; j < be; ++j) acc[t] += tmp[j] * x[t][b * std::size_t(be) + std::size_t(j)];
  }
  for (int t = 0; t < NT; ++t) out[t] = acc[t];
#endif
}

// ---- int8 dots with Q8_0 activations (AVX512-VNNI builds) ------------------------------------
// Activations are quantized to Q8_0 (quantize_row) and laid out once per call as kq_act: the
// quants in one run, the block scale of every 4 values (one per vpdpbusd lane), and per 16 values
// d * Σ q (for the offsets). A weight block's integer form is made once for all NT tokens; its
// quants, made unsigned by a per-type bias b (value = a * (q + b) + (off - b * a)), enter
// vpdpbusd against the activation bytes; each lane's integer sum of 4 products is converted to
// f32 and scaled by a[g] * d_x. The offsets take one FMA per 16 values against d * Σ q. Every
// token runs the same operations in the same order whatever NT is, so gemm == gemv == dot.

/// One token's Q8_0 activations in kq_row's layout (`cols` values).
struct kq_act {
  const std::int8_t* q;  // [cols] the quants, 64-byte aligned
  const float* dl;       // [cols / 4] the scale of the block holding values 4l .. 4l + 3
  const float* xs;       // [cols / 16] d * Σ q over values 16g .. 16g + 15
};
inline constexpr std::size_t kq_round64(std::size_t n) { return (n + 63) / 64 * 64; }
/// Bytes of one token's kq_act (from a 64-byte aligned start).
inline constexpr std::size_t kq_act_bytes(std::size_t cols) {
  return kq_round64(cols) + kq_round64(cols / 4 * sizeof(float)) +
         kq_round64(cols / 16 * sizeof(float));
}
/// The kq_act stored at `p` (64-byte aligned) for `cols` values.
inline kq_act kq_view(const std::byte* p, std::size_t cols) {
  const std::size_t a = kq_round64(cols), b = a + kq_round64(cols / 4 * sizeof(float));
  return {reinterpret_cast<const std::int8_t*>(p), reinterpret_cast<const float*>(p + a),
          reinterpret_cast<const float*>(p + b)};
}
/// Writes the kq_act of Q8_0 blocks x at `p` (64-byte aligned, kq_act_bytes(32 * x.size())).
inline void kq_fill(std::span<const block_q8_0> x, std::byte* p) {
  const std::size_t cols = x.size() * std::size_t(qk8_0);
  const kq_act v = kq_view(p, cols);
  auto* q = const_cast<std::int8_t*>(v.q);
  auto* dl = const_cast<float*>(v.dl);
  auto* xs = const_cast<float*>(v.xs);
  for (std::size_t b = 0; b < x.size(); ++b) {
    const float d = to_f32(x[b].d);
    std::memcpy(q + 32 * b, x[b].qs, 32);
    for (std::size_t l = 0; l < 8; ++l) dl[8 * b + l] = d;
    for (std::size_t h = 0; h < 2; ++h) {
      int s = 0;
      for (std::size_t j = 0; j < 16; ++j) s += x[b].qs[16 * h + j];
      xs[2 * b + h] = d * float(s);
    }
  }
}

#if ARX_SIMD && defined(ARX_HAS_AVX512VNNI)
/// The bias that makes W's integer-form quants unsigned (Q3_K -4..3, Q6_K -32..31).
template <class W>
inline constexpr int kq_bias = std::is_same_v<W, block_q3_k>   ? 4
                               : std::is_same_v<W, block_q6_k> ? 32
                                                               : 0;

/// out[t] = w · x[t] for a row of nb blocks of W against NT tokens' kq_act.
template <class W, int NT>
void kq_row(const W* w, std::size_t nb, const kq_act* x, float* out) {
  constexpr int be = dtype_traits<W>::block_elems, bias = kq_bias<W>;
  static_assert(be == qk_k, "kq_row serves the 256-value K-quant blocks");
  int_form<be> f;
  __m512 acc[NT], offs[NT];
  for (int t = 0; t < NT; ++t) acc[t] = offs[t] = _mm512_setzero_ps();
  const __m512i lane_group = _mm512_srli_epi32(
      _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0), 2);
  for (std::size_t b = 0; b < nb; ++b) {
    fast_int_form(w[b], f);
    const __m512 a = _mm512_loadu_ps(f.a);
    __m512 off = _mm512_loadu_ps(f.off);
    if constexpr (bias != 0) off = _mm512_fnmadd_ps(_mm512_set1_ps(float(bias)), a, off);
    for (int t = 0; t < NT; ++t)
      offs[t] = _mm512_fmadd_ps(off, _mm512_load_ps(x[t].xs + 16 * b), offs[t]);
    for (int c = 0; c < 4; ++c) {
      __m512i u = _mm512_load_si512(f.q + 64 * c);
      if constexpr (bias != 0) u = _mm512_add_epi8(u, _mm512_set1_epi8(std::int8_t(bias)));
      const __m512 ac =
          _mm512_permutexvar_ps(_mm512_add_epi32(lane_group, _mm512_set1_epi32(4 * c)), a);
      for (int t = 0; t < NT; ++t) {
        const __m512i s = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u,
                                              _mm512_load_si512(x[t].q + 256 * b + 64 * c));
        const __m512 sc = _mm512_mul_ps(ac, _mm512_load_ps(x[t].dl + 64 * b + 16 * c));
        acc[t] = _mm512_fmadd_ps(sc, _mm512_cvtepi32_ps(s), acc[t]);
      }
    }
  }
  for (int t = 0; t < NT; ++t) out[t] = simd::x86::hsum(acc[t]) + simd::x86::hsum(offs[t]);
}
#endif

}  // namespace detail

}  // namespace ops
ARX_NAMESPACE_END
ARX_DIAG_POP
