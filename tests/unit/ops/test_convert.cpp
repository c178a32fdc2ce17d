// Bulk f16/bf16 <-> f32 conversion: the fast rows must reproduce the scalar conversions of
// core/half.hpp bit for bit (all 65536 f16/bf16 patterns, and f32 sweeps with every special case),
// at lengths that exercise the vector body and the scalar tail.
#include <catch2/catch.hpp>

#include <arx/ops/convert.hpp>

#include "unit/ops/ops_test_util.hpp"

#include <bit>
#include <cstdint>
#include <limits>
#include <vector>

namespace {

std::uint32_t bits(float f) { return std::bit_cast<std::uint32_t>(f); }

// f32 inputs that stress rounding: random bit patterns (all exponents, NaN/inf included), values
// near f16/bf16 ties, subnormal boundaries and overflow thresholds.
std::vector<float> tricky_floats(std::size_t n) {
  ops_test::rng r(7);
  std::vector<float> v;
  const float specials[] = {0.0f, -0.0f, 1.0f, 65504.0f, 65519.99f, 65520.0f, -65520.0f,
                            0x1p-24f, 0x1p-25f, 0x1.8p-25f, 0x1p-14f, 0x1.ffcp-15f,
                            1.0f + 0x1p-11f, 1.0f + 0x3p-11f, 1.0f + 0x1p-8f, 1.0f + 0x3p-8f,
                            std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(),
                            std::numeric_limits<float>::quiet_NaN(),
                            std::bit_cast<float>(0x7f800001u), std::bit_cast<float>(0xffc12345u),
                            std::numeric_limits<float>::denorm_min(),
                            std::numeric_limits<float>::max()};
  for (float f : specials) v.push_back(f);
  while (v.size() < n) {
    const std::uint32_t b = std::uint32_t(r.next());
    switch (r.below(3)) {
      case 0:  // anything
        v.push_back(std::bit_cast<float>(b));
        break;
      case 1:  // around the f16 range
        v.push_back(std::bit_cast<float>((b & 0x87ffffffu) | 0x30000000u));
        break;
      default:  // bf16 ties
        v.push_back(std::bit_cast<float>((b & 0xffff0000u) | 0x8000u));
        break;
    }
  }
  return v;
}

const std::size_t lengths[] = {0, 1, 7, 8, 15, 16, 17, 31, 32, 33, 4095, 4096};

}  // namespace

TEST_CASE("f16 -> f32 rows match the scalar conversion for all 65536 patterns", "[ops][convert]") {
  std::vector<arx::f16> h(65536);
  for (std::uint32_t i = 0; i < 65536; ++i) h[i].bits = std::uint16_t(i);
  std::vector<float> fast(h.size()), ref(h.size());
  arx::ops::convert(std::span<const arx::f16>(h), std::span<float>(fast));
  arx::ops::ref::convert(std::span<const arx::f16>(h), std::span<float>(ref));
  for (std::size_t i = 0; i < h.size(); ++i) {
    INFO("f16 bits 0x" << std::hex << i);
    REQUIRE(bits(fast[i]) == bits(arx::to_f32(h[i])));
    REQUIRE(bits(ref[i]) == bits(arx::to_f32(h[i])));
  }
}

TEST_CASE("bf16 -> f32 rows match the scalar conversion for all 65536 patterns",
          "[ops][convert]") {
  std::vector<arx::bf16> h(65536);
  for (std::uint32_t i = 0; i < 65536; ++i) h[i].bits = std::uint16_t(i);
  std::vector<float> fast(h.size());
  arx::ops::convert(std::span<const arx::bf16>(h), std::span<float>(fast));
  for (std::size_t i = 0; i < h.size(); ++i) REQUIRE(bits(fast[i]) == i << 16);
}

TEST_CASE("f32 -> f16 and f32 -> bf16 rows match the scalar conversions", "[ops][convert]") {
  const auto in = tricky_floats(100000);
  std::vector<arx::f16> h(in.size());
  std::vector<arx::bf16> b(in.size());
  arx::ops::convert(std::span<const float>(in), std::span<arx::f16>(h));
  arx::ops::convert(std::span<const float>(in), std::span<arx::bf16>(b));
  for (std::size_t i = 0; i < in.size(); ++i) {
    INFO("f32 bits 0x" << std::hex << bits(in[i]));
    REQUIRE(h[i].bits == arx::to_f16(in[i]).bits);
    REQUIRE(b[i].bits == arx::to_bf16(in[i]).bits);
  }
}

TEST_CASE("conversion rows of awkward lengths: body and tail agree with the reference",
          "[ops][convert]") {
  const auto all = tricky_floats(5000);
  for (std::size_t n : lengths) {
    INFO("n = " << n);
    const std::span<const float> in(all.data(), n);
    std::vector<arx::f16> h(n), hr(n);
    std::vector<arx::bf16> b(n), br(n);
    arx::ops::convert(in, std::span<arx::f16>(h));
    arx::ops::ref::convert(in, std::span<arx::f16>(hr));
    arx::ops::convert(in, std::span<arx::bf16>(b));
    arx::ops::ref::convert(in, std::span<arx::bf16>(br));
    std::vector<float> back(n), back_ref(n);
    arx::ops::convert(std::span<const arx::f16>(h), std::span<float>(back));
    arx::ops::ref::convert(std::span<const arx::f16>(hr), std::span<float>(back_ref));
    for (std::size_t i = 0; i < n; ++i) {
      REQUIRE(h[i].bits == hr[i].bits);
      REQUIRE(b[i].bits == br[i].bits);
      REQUIRE(bits(back[i]) == bits(back_ref[i]));
    }
    arx::ops::convert(std::span<const arx::bf16>(b), std::span<float>(back));
    for (std::size_t i = 0; i < n; ++i) REQUIRE(bits(back[i]) == std::uint32_t(b[i].bits) << 16);
  }
}

TEST_CASE("reference conversions on hand-checked values", "[ops][convert]") {
  const arx::f16 h[] = {{0x3c00}, {0xc000}, {0x7bff}, {0x0001}, {0x3555}};
  const double expect[] = {1.0, -2.0, 65504.0, 0x1p-24, 0.333251953125};  // 0x3555 = 1365/4096
  float out[5];
  arx::ops::ref::convert(std::span<const arx::f16>(h), std::span<float>(out));
  for (int i = 0; i < 5; ++i) CHECK(double(out[i]) == expect[i]);
  const float f[] = {1.0f, 1.00390625f /* 1 + 2^-8: tie, stays even */, -3.0f};
  arx::bf16 b[3];
  arx::ops::ref::convert(std::span<const float>(f), std::span<arx::bf16>(b));
  CHECK(b[0].bits == 0x3f80);
  CHECK(b[1].bits == 0x3f80);
  CHECK(b[2].bits == 0xc040);
}

TEST_CASE("conversion of rows with different lengths throws shape_error", "[ops][convert]") {
  std::vector<float> f(5);
  std::vector<arx::f16> h(4);
  CHECK_THROWS_AS(arx::ops::convert(std::span<const float>(f), std::span<arx::f16>(h)),
                  arx::shape_error);
  CHECK_THROWS_AS(arx::ops::ref::convert(std::span<const arx::f16>(h), std::span<float>(f)),
                  arx::shape_error);
}
