// arx/core/dtype.hpp — GGUF/GGML tensor element types: the id numbers and block sizes of every
// type a GGUF file may name, the bit layouts of the types arx computes with, and their traits.
//
// Two levels:
//   * `type_info(ggml_type)` knows the block size and byte size of EVERY type id GGUF defines, so a
//     reader can validate and skip over tensors of any type (a Q4_K_M file has K-quant tensors).
//   * `dtype_traits<T>` exists only for the storage types arx has kernels for. Adding a weight type
//     means: its block struct + one `dtype_traits` specialisation below + one entry in
//     `compute_types`. Every dispatcher (`visit_dtype`) and test list is driven by `compute_types`.
//
// Block layouts are GGUF's exact bytes (little-endian, no padding):
//   block_q8_0  (34 bytes, 32 values): f16 d; int8 qs[32];     x[i] = d * qs[i]
//   block_q4_0  (18 bytes, 32 values): f16 d; uint8 qs[16];    x[i]      = d * ((qs[i] & 15) - 8)
//                                                              x[i + 16] = d * ((qs[i] >> 4) - 8)
// and the other block types of ggml's files (Q4_1, Q5_0, Q5_1 with 32 values per block, the
// K-quants Q2_K..Q6_K with 256 values in "super-blocks" of 16 or 32-value sub-blocks, each with its
// own small integer scale): their layouts are documented at each struct below and decoded in
// arx/ops/kquants.hpp.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "arx/config.hpp"
#include "arx/core/error.hpp"
#include "arx/core/half.hpp"

ARX_NAMESPACE_BEGIN

/// Type ids as numbered in the GGUF tensor directory (ggml's enum). Ids 4, 5 and 31-33, 36-38 are
/// retired/unused and rejected as unknown.
enum class ggml_type : std::uint32_t {
  f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q5_0 = 6, q5_1 = 7, q8_0 = 8, q8_1 = 9,
  q2_k = 10, q3_k = 11, q4_k = 12, q5_k = 13, q6_k = 14, q8_k = 15,
  iq2_xxs = 16, iq2_xs = 17, iq3_xxs = 18, iq1_s = 19, iq4_nl = 20, iq3_s = 21, iq2_s = 22,
  iq4_xs = 23, i8 = 24, i16 = 25, i32 = 26, i64 = 27, f64 = 28, iq1_m = 29, bf16 = 30,
  tq1_0 = 34, tq2_0 = 35, mxfp4 = 39,
};

/// Storage facts of one type id: `block_elems` values are stored in `block_bytes` bytes.
struct type_facts {
  std::string_view name;
  std::uint32_t block_elems;
  std::uint32_t block_bytes;
};

/// Facts for a raw type id from a file, or nullopt when the id is not a GGUF type.
constexpr std::optional<type_facts> type_info(std::uint32_t id) noexcept {
  switch (id) {
    case 0: return type_facts{"F32", 1, 4};
    case 1: return type_facts{"F16", 1, 2};
    case 2: return type_facts{"Q4_0", 32, 18};
    case 3: return type_facts{"Q4_1", 32, 20};
    case 6: return type_facts{"Q5_0", 32, 22};
    case 7: return type_facts{"Q5_1", 32, 24};
    case 8: return type_facts{"Q8_0", 32, 34};
    case 9: return type_facts{"Q8_1", 32, 36};
    case 10: return type_facts{"Q2_K", 256, 84};
    case 11: return type_facts{"Q3_K", 256, 110};
    case 12: return type_facts{"Q4_K", 256, 144};
    case 13: return type_facts{"Q5_K", 256, 176};
    case 14: return type_facts{"Q6_K", 256, 210};
    case 15: return type_facts{"Q8_K", 256, 292};
    case 16: return type_facts{"IQ2_XXS", 256, 66};
    case 17: return type_facts{"IQ2_XS", 256, 74};
    case 18: return type_facts{"IQ3_XXS", 256, 98};
    case 19: return type_facts{"IQ1_S", 256, 50};
    case 20: return type_facts{"IQ4_NL", 32, 18};
    case 21: return type_facts{"IQ3_S", 256, 110};
    case 22: return type_facts{"IQ2_S", 256, 82};
    case 23: return type_facts{"IQ4_XS", 256, 136};
    case 24: return type_facts{"I8", 1, 1};
    case 25: return type_facts{"I16", 1, 2};
    case 26: return type_facts{"I32", 1, 4};
    case 27: return type_facts{"I64", 1, 8};
    case 28: return type_facts{"F64", 1, 8};
    case 29: return type_facts{"IQ1_M", 256, 56};
    case 30: return type_facts{"BF16", 1, 2};
    case 34: return type_facts{"TQ1_0", 256, 54};
    case 35: return type_facts{"TQ2_0", 256, 66};
    case 39: return type_facts{"MXFP4", 32, 17};
    default: return std::nullopt;
  }
}

inline std::string type_name(ggml_type t) {
  if (auto f = type_info(std::uint32_t(t))) return std::string(f->name);
  return "type#" + std::to_string(std::uint32_t(t));
}

// ---- block types arx computes with -------------------------------------------------------------

inline constexpr int qk8_0 = 32;  // values per Q8_0 block
inline constexpr int qk4_0 = 32;  // values per Q4_0 block

struct block_q8_0 {
  f16 d;                      // scale
  std::int8_t qs[qk8_0];      // quants, value = d * qs[i]
};
static_assert(sizeof(block_q8_0) == 34 && alignof(block_q8_0) == 2);

struct block_q4_0 {
  f16 d;                      // scale
  std::uint8_t qs[qk4_0 / 2]; // nibbles: low = value i, high = value i + 16; value = d * (q - 8)
};
static_assert(sizeof(block_q4_0) == 18 && alignof(block_q4_0) == 2);

inline constexpr int qk_k = 256;  // values per K-quant super-block

/// Q4_1 (20 bytes, 32 values): x[i] = d * (qs[i] & 15) + m, x[i + 16] = d * (qs[i] >> 4) + m.
struct block_q4_1 {
  f16 d, m;                   // scale, offset (the block's minimum)
  std::uint8_t qs[16];
};
static_assert(sizeof(block_q4_1) == 20 && alignof(block_q4_1) == 2);

/// Q5_0 (22 bytes, 32 values): 5-bit quants q = low nibble (as Q4_0) | bit i of qh << 4 for value
/// i (qh read as a little-endian uint32, bits 16-31 for values 16-31); x = d * (q - 16).
struct block_q5_0 {
  f16 d;
  std::uint8_t qh[4];         // fifth bits
  std::uint8_t qs[16];        // low nibbles: value i, high nibbles: value i + 16
};
static_assert(sizeof(block_q5_0) == 22 && alignof(block_q5_0) == 2);

/// Q5_1 (24 bytes, 32 values): as Q5_0 with x = d * q + m (q in 0..31).
struct block_q5_1 {
  f16 d, m;
  std::uint8_t qh[4];
  std::uint8_t qs[16];
};
static_assert(sizeof(block_q5_1) == 24 && alignof(block_q5_1) == 2);

/// Q2_K (84 bytes, 256 values): 16 sub-blocks of 16; scales[s] = 4-bit scale | 4-bit min << 4;
/// 2-bit quants, x = d * (scales[s] & 15) * q - dmin * (scales[s] >> 4). Values 128h + 32j + l
/// (l < 32) sit in bits 2j..2j+1 of qs[32h + l]; sub-block s = value / 16.
struct block_q2_k {
  std::uint8_t scales[qk_k / 16];
  std::uint8_t qs[qk_k / 4];
  f16 d, dmin;
};
static_assert(sizeof(block_q2_k) == 84 && alignof(block_q2_k) == 2);

/// Q3_K (110 bytes, 256 values): 16 sub-blocks of 16 with 6-bit scales (12 bytes: low nibbles in
/// bytes 0-7, high 2-bit pairs in bytes 8-11), stored + 32; 3-bit quants = 2 low bits as in Q2_K
/// and a high bit in hmask (value 32j + l, j < 8: bit j of hmask[l]), q = low - (high ? 0 : 4);
/// x = d * (scale - 32) * q.
struct block_q3_k {
  std::uint8_t hmask[qk_k / 8];
  std::uint8_t qs[qk_k / 4];
  std::uint8_t scales[12];
  f16 d;
};
static_assert(sizeof(block_q3_k) == 110 && alignof(block_q3_k) == 2);

/// Q4_K (144 bytes, 256 values): 8 sub-blocks of 32 with 6-bit scale and min (12 packed bytes);
/// values 64j + l and 64j + 32 + l (l < 32) are the low and high nibble of qs[32j + l];
/// x = d * scale * q - dmin * min.
struct block_q4_k {
  f16 d, dmin;
  std::uint8_t scales[12];
  std::uint8_t qs[qk_k / 2];
};
static_assert(sizeof(block_q4_k) == 144 && alignof(block_q4_k) == 2);

/// Q5_K (176 bytes, 256 values): Q4_K plus a fifth bit per value: value 64j + l takes bit 2j of
/// qh[l], value 64j + 32 + l bit 2j + 1.
struct block_q5_k {
  f16 d, dmin;
  std::uint8_t scales[12];
  std::uint8_t qh[qk_k / 8];
  std::uint8_t qs[qk_k / 2];
};
static_assert(sizeof(block_q5_k) == 176 && alignof(block_q5_k) == 2);

/// Q6_K (210 bytes, 256 values): 16 sub-blocks of 16 with int8 scales; 6-bit quants, low 4 bits
/// in ql, high 2 bits in qh; x = d * scales[s] * (q - 32). In each half h (128 values) value
/// 128h + 32k + l (k < 4, l < 32) takes nibble k / 2 of ql[64h + 32 (k & 1) + l] and bits 2k..2k+1
/// of qh[32h + l].
struct block_q6_k {
  std::uint8_t ql[qk_k / 2];
  std::uint8_t qh[qk_k / 4];
  std::int8_t scales[qk_k / 16];
  f16 d;
};
static_assert(sizeof(block_q6_k) == 210 && alignof(block_q6_k) == 2);

// ---- traits ------------------------------------------------------------------------------------

/// dtype_traits<T>: for each storage type T arx has kernels for:
///   type        the GGUF type id
///   block_elems values per storage unit (1 for scalar types)
///   dot_type    the activation format its fast dot product takes: float (f32 activations) or
///               block_q8_0 (activations quantized to 8-bit blocks, int8 dot products)
template <class T>
struct dtype_traits;

template <>
struct dtype_traits<float> {
  static constexpr ggml_type type = ggml_type::f32;
  static constexpr int block_elems = 1;
  using dot_type = float;
};
template <>
struct dtype_traits<f16> {
  static constexpr ggml_type type = ggml_type::f16;
  static constexpr int block_elems = 1;
  using dot_type = float;
};
template <>
struct dtype_traits<bf16> {
  static constexpr ggml_type type = ggml_type::bf16;
  static constexpr int block_elems = 1;
  using dot_type = float;
};
template <>
struct dtype_traits<block_q8_0> {
  static constexpr ggml_type type = ggml_type::q8_0;
  static constexpr int block_elems = qk8_0;
  using dot_type = block_q8_0;
};
template <>
struct dtype_traits<block_q4_0> {
  static constexpr ggml_type type = ggml_type::q4_0;
  static constexpr int block_elems = qk4_0;
  using dot_type = block_q8_0;
};

/// The other block types are decoded to their integer form on the fly (ops/kquants.hpp). With
/// AVX512-VNNI the K-quants' dots take activations quantized to Q8_0 (int8 products, as llama.cpp
/// computes them); Q4_1, Q5_0, Q5_1, and the K-quants in other builds, decode to f32 and take f32
/// activations (their 32-value blocks gained nothing from the int8 route: measured in
/// bench/kernels, gemv within ±8% either way).
#if ARX_SIMD && defined(ARX_HAS_AVX512VNNI)
using kquant_dot_type = block_q8_0;
#else
using kquant_dot_type = float;
#endif
#define ARX_DECODED_TRAITS(T, id, be, dot)           \
  template <>                                        \
  struct dtype_traits<T> {                           \
    static constexpr ggml_type type = ggml_type::id; \
    static constexpr int block_elems = be;           \
    using dot_type = dot;                            \
  };
ARX_DECODED_TRAITS(block_q4_1, q4_1, 32, float)
ARX_DECODED_TRAITS(block_q5_0, q5_0, 32, float)
ARX_DECODED_TRAITS(block_q5_1, q5_1, 32, float)
ARX_DECODED_TRAITS(block_q2_k, q2_k, qk_k, kquant_dot_type)
ARX_DECODED_TRAITS(block_q3_k, q3_k, qk_k, kquant_dot_type)
ARX_DECODED_TRAITS(block_q4_k, q4_k, qk_k, kquant_dot_type)
ARX_DECODED_TRAITS(block_q5_k, q5_k, qk_k, kquant_dot_type)
ARX_DECODED_TRAITS(block_q6_k, q6_k, qk_k, kquant_dot_type)
#undef ARX_DECODED_TRAITS

template <class... Ts>
struct type_list {};

/// Every storage type arx computes with. Dispatchers and typed tests iterate this list.
using compute_types = type_list<float, f16, bf16, block_q8_0, block_q4_0, block_q4_1, block_q5_0,
                                block_q5_1, block_q2_k, block_q3_k, block_q4_k, block_q5_k,
                                block_q6_k>;

/// The block types decoded through an integer form (ops/kquants.hpp): Q4_1, Q5_0, Q5_1 and the
/// K-quants — every block type but Q8_0 and Q4_0.
template <class T>
inline constexpr bool is_decoded_type_v =
    dtype_traits<std::remove_const_t<T>>::block_elems > 1 &&
    !std::is_same_v<std::remove_const_t<T>, block_q8_0> &&
    !std::is_same_v<std::remove_const_t<T>, block_q4_0>;

template <class T>
concept storage_type = requires { dtype_traits<std::remove_const_t<T>>::type; };

template <class T>
inline constexpr bool is_block_type_v = dtype_traits<std::remove_const_t<T>>::block_elems > 1;

/// Calls `f(T{})`-style with a value of `std::type_identity<T>` for the storage type T whose id is
/// `t`; throws unsupported_error naming `what` when arx has no kernels for `t`.
template <class F>
decltype(auto) visit_dtype(ggml_type t, F&& f, std::string_view what = "tensor") {
  auto try_list = [&]<class... Ts>(type_list<Ts...>) -> decltype(auto) {
    using R = decltype(f(std::type_identity<float>{}));
    if constexpr (std::is_void_v<R>) {
      bool done = ((dtype_traits<Ts>::type == t ? (f(std::type_identity<Ts>{}), true) : false) ||
                   ...);
      if (!done)
        throw unsupported_error(std::string(what) + ": weight type " + type_name(t) +
                                " is not supported for computation");
    } else {
      std::optional<R> r;
      (void)((dtype_traits<Ts>::type == t ? (r.emplace(f(std::type_identity<Ts>{})), true)
                                          : false) ||
             ...);
      if (!r)
        throw unsupported_error(std::string(what) + ": weight type " + type_name(t) +
                                " is not supported for computation");
      return R(std::move(*r));
    }
  };
  return try_list(compute_types{});
}

/// Bytes taken by `n` values of type id `t` (n must be a multiple of the block size).
inline std::size_t row_bytes(ggml_type t, std::int64_t n) {
  auto f = type_info(std::uint32_t(t));
  if (!f) throw unsupported_error("unknown ggml type id " + std::to_string(std::uint32_t(t)));
  if (n < 0 || n % f->block_elems != 0)
    throw shape_error("row of " + std::to_string(n) + " values is not a multiple of the " +
                      std::string(f->name) + " block size " + std::to_string(f->block_elems));
  return std::size_t(n / f->block_elems) * f->block_bytes;
}

ARX_NAMESPACE_END
