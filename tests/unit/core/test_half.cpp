// f16 / bf16 scalar conversions against hand-computed bit patterns and exhaustive round trips.
#include <catch2/catch.hpp>

#include <arx/core/half.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

TEST_CASE("f16 known bit patterns", "[core][half]") {
  CHECK(arx::to_f16(1.0f).bits == 0x3c00);
  CHECK(arx::to_f16(-2.0f).bits == 0xc000);
  CHECK(arx::to_f16(65504.0f).bits == 0x7bff);               // largest finite
  CHECK(arx::to_f16(65520.0f).bits == 0x7c00);               // rounds up to inf
  CHECK(arx::to_f16(std::ldexp(1.0f, -24)).bits == 0x0001);  // smallest subnormal
  CHECK(arx::to_f16(std::ldexp(1.0f, -25)).bits == 0x0000);  // tie -> even (zero)
  CHECK(arx::to_f16(std::ldexp(3.0f, -26)).bits == 0x0001);  // 0.75 ulp -> 1
  CHECK(arx::to_f16(std::ldexp(1.0f, -14)).bits == 0x0400);  // smallest normal
  CHECK(arx::to_f16(1.0f + std::ldexp(1.0f, -11)).bits == 0x3c00);  // tie -> even (down)
  CHECK(arx::to_f16(1.0f + 3 * std::ldexp(1.0f, -11)).bits == 0x3c02);  // tie -> even (up)
  CHECK((arx::to_f16(std::numeric_limits<float>::quiet_NaN()).bits & 0x7fff) > 0x7c00);
  CHECK(arx::to_f32(arx::f16{0x3555}) == Approx(0.333251953125f).epsilon(0));
  CHECK(arx::to_f32(arx::f16{0x8001}) == -std::ldexp(1.0f, -24));
  CHECK(std::isinf(arx::to_f32(arx::f16{0xfc00})));
}

TEST_CASE("f16 round trip is exact for all 65536 patterns", "[core][half]") {
  for (std::uint32_t b = 0; b < 0x10000; ++b) {
    const arx::f16 h{std::uint16_t(b)};
    const float f = arx::to_f32(h);
    if (std::isnan(f)) continue;
    REQUIRE(arx::to_f16(f).bits == h.bits);
  }
}

TEST_CASE("f16 rounding matches nearest representable value", "[core][half]") {
  // Every f32 in a sweep must map to the f16 whose value is nearest (ties to even mantissa).
  std::uint32_t seed = 12345;
  for (int i = 0; i < 200000; ++i) {
    seed = seed * 1664525u + 1013904223u;
    const float f = std::ldexp(float(seed >> 8) / float(1 << 24), int(seed % 40) - 26) *
                    ((seed & 1) ? -1.0f : 1.0f);
    const arx::f16 h = arx::to_f16(f);
    const double v = arx::to_f32(h);
    // neighbours of h
    const double up = arx::to_f32(arx::f16{std::uint16_t(h.bits + 1)});
    const double dn = (h.bits & 0x7fff) ? arx::to_f32(arx::f16{std::uint16_t(h.bits - 1)}) : -v;
    if (std::isinf(v)) continue;
    REQUIRE(std::abs(double(f) - v) <= std::abs(double(f) - up));
    REQUIRE(std::abs(double(f) - v) <= std::abs(double(f) - dn));
  }
}

TEST_CASE("bf16 conversions", "[core][half]") {
  CHECK(arx::to_bf16(1.0f).bits == 0x3f80);
  CHECK(arx::to_f32(arx::bf16{0x3f80}) == 1.0f);
  // 1 + 2^-8 is a tie between 0x3f80 and 0x3f81: even wins.
  CHECK(arx::to_bf16(1.0f + std::ldexp(1.0f, -8)).bits == 0x3f80);
  CHECK(arx::to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)).bits == 0x3f82);
  CHECK(arx::to_bf16(std::bit_cast<float>(0x3f80ffffu)).bits == 0x3f81);
  CHECK(std::isnan(arx::to_f32(arx::to_bf16(std::numeric_limits<float>::quiet_NaN()))));
  CHECK(std::isinf(arx::to_f32(arx::to_bf16(std::numeric_limits<float>::infinity()))));
}
