// arx/core/half.hpp — IEEE binary16 (f16) and bfloat16 (bf16) storage types and their exact
// scalar conversions. Bulk SIMD conversions live in arx/ops/convert.hpp.
//
// Both are 2-byte bit containers (no arithmetic): GGUF stores them little-endian, and so do we.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>

#include "arx/config.hpp"

ARX_NAMESPACE_BEGIN

struct f16 {
  std::uint16_t bits;
};
struct bf16 {
  std::uint16_t bits;
};
static_assert(sizeof(f16) == 2 && sizeof(bf16) == 2);

/// f16 -> f32, exact (every f16 is representable in f32), including subnormals, inf and NaN.
inline float to_f32(f16 h) noexcept {
  const std::uint32_t sign = std::uint32_t(h.bits & 0x8000u) << 16;
  const std::uint32_t exp = (h.bits >> 10) & 0x1fu;
  std::uint32_t mant = h.bits & 0x3ffu;
  std::uint32_t out;
  if (exp == 0x1f) {
    out = sign | 0x7f800000u | (mant << 13);  // inf / NaN (payload kept)
  } else if (exp != 0) {
    out = sign | ((exp + 112u) << 23) | (mant << 13);  // normal: rebias 15 -> 127
  } else if (mant == 0) {
    out = sign;  // signed zero
  } else {
    // subnormal: value = mant * 2^-24; normalise it
    std::uint32_t e = 113;  // exponent of 2^-14 in f32 bias, before shifting the mantissa up
    while ((mant & 0x400u) == 0) {
      mant <<= 1;
      --e;
    }
    out = sign | (e << 23) | ((mant & 0x3ffu) << 13);
  }
  return std::bit_cast<float>(out);
}

/// f32 -> f16 with round-to-nearest-even; overflow gives inf, NaN stays NaN (quiet).
inline f16 to_f16(float f) noexcept {
  const std::uint32_t x = std::bit_cast<std::uint32_t>(f);
  const std::uint16_t sign = std::uint16_t((x >> 16) & 0x8000u);
  const std::uint32_t ax = x & 0x7fffffffu;
  if (ax >= 0x7f800000u) {  // inf or NaN
    return {std::uint16_t(sign | 0x7c00u | (ax > 0x7f800000u ? 0x200u : 0u))};
  }
  if (ax >= 0x477ff000u) return {std::uint16_t(sign | 0x7c00u)};  // rounds to >= 65520: inf
  if (ax < 0x38800000u) {
    // result is an f16 subnormal (or zero): value / 2^-24, rounded to nearest even
    if (ax < 0x33000000u) return {sign};  // below half the smallest subnormal -> 0
    const std::uint32_t e = ax >> 23;
    const std::uint32_t m = (ax & 0x7fffffu) | 0x800000u;
    const std::uint32_t shift = 126u - e;  // so that (m >> shift) is in units of 2^-24
    std::uint32_t q = m >> shift;
    const std::uint32_t rem = m & ((1u << shift) - 1u);
    const std::uint32_t half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (q & 1u))) ++q;
    return {std::uint16_t(sign | q)};
  }
  // normal: rebias and round the 13 dropped mantissa bits to nearest even (carry may bump exp)
  std::uint32_t r = ax - 0x38000000u;  // exponent 127 -> 15 bias, in place
  r += 0x0fffu + ((r >> 13) & 1u);
  return {std::uint16_t(sign | (r >> 13))};
}

/// bf16 -> f32, exact.
inline float to_f32(bf16 h) noexcept { return std::bit_cast<float>(std::uint32_t(h.bits) << 16); }

/// f32 -> bf16 with round-to-nearest-even; NaN stays a quiet NaN.
inline bf16 to_bf16(float f) noexcept {
  const std::uint32_t x = std::bit_cast<std::uint32_t>(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return {std::uint16_t((x >> 16) | 0x40u)};
  return {std::uint16_t((x + 0x7fffu + ((x >> 16) & 1u)) >> 16)};
}

ARX_NAMESPACE_END
