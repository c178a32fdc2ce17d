// quantize_row / dequantize_row: hand-computed blocks with their exact GGUF bytes, fast == ref bit
// for bit on random and tie-heavy rows, round-trip error bounds, and shape errors.
#include <catch2/catch.hpp>

#include <arx/ops/quantize.hpp>

#include "unit/ops/ops_test_util.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

using arx::block_q4_0;
using arx::block_q8_0;

namespace {

// Block-type sizes (values) from the brief, plus stretches that cross 32-block boundaries.
const std::size_t block_lengths[] = {0, 32, 64, 96, 1056, 4096};

template <class T>
std::vector<T> quantize(const std::vector<float>& x, bool fast) {
  std::vector<T> q(x.size() / std::size_t(arx::dtype_traits<T>::block_elems));
  if (fast)
    arx::ops::quantize_row(std::span<const float>(x), std::span<T>(q));
  else
    arx::ops::ref::quantize_row(std::span<const float>(x), std::span<T>(q));
  return q;
}

template <class T>
bool same_bytes(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

// Rows whose blocks hit the rounding edge cases: amax = 127 (scale 1: x*id is x, so halves are
// exact ties), scales of 0.5, exact zeros, repeated maxima of both signs, and plain random data.
std::vector<float> tricky_row(ops_test::rng& r, std::size_t n) {
  std::vector<float> x(n);
  for (std::size_t b = 0; b < n / 32; ++b) {
    float* v = x.data() + 32 * b;
    switch (b % 5) {
      case 0:
        for (int j = 0; j < 32; ++j) v[j] = float(r.below(254) - 127) + (r.below(2) ? 0.5f : 0.0f);
        v[r.below(32)] = 127.0f;
        break;
      case 1:
        for (int j = 0; j < 32; ++j) v[j] = float(r.below(255) - 127) * 0.25f;
        v[r.below(32)] = -63.5f;
        break;
      case 2:
        for (int j = 0; j < 32; ++j) v[j] = 0.0f;
        break;
      case 3:
        for (int j = 0; j < 32; ++j) v[j] = r.uniform(-1.0f, 1.0f);
        v[3] = 2.0f;
        v[9] = -2.0f;  // equal magnitude, opposite sign: the first (+2) sets the Q4_0 scale
        break;
      default:
        for (int j = 0; j < 32; ++j)
          v[j] = r.uniform(-3.0f, 3.0f) * std::ldexp(1.0f, r.below(20) - 10);
        break;
    }
  }
  return x;
}

}  // namespace

TEST_CASE("Q4_0 block worked out by hand", "[ops][quantize]") {
  // x[j] = j - 8 for j < 16, x[16 + j] = (j - 8) / 2. Largest magnitude: x[0] = -8, so
  // d = -8 / -8 = 1 and id = 1; q = trunc(x + 8.5): first half q = j, second half
  // q = trunc(j/2 + 4.5) = 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12.
  // Byte j holds q[j] in the low nibble and q[j + 16] in the high nibble.
  std::vector<float> x(32);
  for (int j = 0; j < 16; ++j) {
    x[std::size_t(j)] = float(j - 8);
    x[std::size_t(16 + j)] = float(j - 8) / 2.0f;
  }
  const std::uint8_t expect_qs[16] = {0x40, 0x51, 0x52, 0x63, 0x64, 0x75, 0x76, 0x87,
                                      0x88, 0x99, 0x9a, 0xab, 0xac, 0xbd, 0xbe, 0xcf};
  for (bool fast : {false, true}) {
    const auto q = quantize<block_q4_0>(x, fast);
    CHECK(q[0].d.bits == 0x3c00);  // 1.0
    CHECK(std::memcmp(q[0].qs, expect_qs, 16) == 0);
    std::vector<float> y(32);
    arx::ops::ref::dequantize_row(std::span<const block_q4_0>(q), std::span<float>(y));
    // Values come back as d * (q - 8): the first half exactly, the second half with halves
    // rounded up (x = -3.5 -> -3, x = 3.5 -> 4).
    const float expect_hi[16] = {-4, -3, -3, -2, -2, -1, -1, 0, 0, 1, 1, 2, 2, 3, 3, 4};
    for (int j = 0; j < 16; ++j) {
      CHECK(y[std::size_t(j)] == float(j - 8));
      CHECK(y[std::size_t(16 + j)] == expect_hi[j]);
    }
  }
}

TEST_CASE("Q8_0 block worked out by hand: halves round away from zero", "[ops][quantize]") {
  // amax = 127 gives d = 1 exactly (f16 0x3c00) and id = 1, so q = round(x) with ties away from
  // zero: 0.5 -> 1, -0.5 -> -1, 2.5 -> 3 (a banker's rounding would give 0, 0, 2).
  std::vector<float> x(32, 0.0f);
  const float v[] = {-127.0f, 127.0f, 0.5f, -0.5f, 1.5f, -1.5f, 2.5f, 2.49f, -2.51f, 100.4f};
  const std::int8_t q_expect[] = {-127, 127, 1, -1, 2, -2, 3, 2, -3, 100};
  std::copy(std::begin(v), std::end(v), x.begin());
  // second block: amax = 63.5 -> d = 0.5 (f16 0x3800), id = 2, q = round(2x)
  x.resize(64, 0.0f);
  x[32] = 63.5f;
  x[33] = -0.25f;  // -0.5 -> -1
  x[34] = 10.1f;   // 20.2 -> 20
  for (bool fast : {false, true}) {
    const auto q = quantize<block_q8_0>(x, fast);
    CHECK(q[0].d.bits == 0x3c00);
    for (std::size_t j = 0; j < std::size(q_expect); ++j) CHECK(q[0].qs[j] == q_expect[j]);
    for (std::size_t j = std::size(q_expect); j < 32; ++j) CHECK(q[0].qs[j] == 0);
    CHECK(q[1].d.bits == 0x3800);
    CHECK(q[1].qs[0] == 127);
    CHECK(q[1].qs[1] == -1);
    CHECK(q[1].qs[2] == 20);
  }
}

TEST_CASE("Q4_0 rounds x * id + 8.5 once (fused), on every build", "[ops][quantize]") {
  // With m = -8.8 the scale id = 1 / (m / -8) is inexact, so x * id + 8.5 computed with one
  // rounding (what quantize.hpp specifies) and with two can land on different sides of an integer.
  // Such x lie just below each boundary x * id = k - 8.5: search downwards from it, and check the
  // stored nibble takes the fused side.
  const float m = -8.8f, d = m / -8.0f, id = 1.0f / d;
  std::vector<float> x(32, 0.0f);
  x[0] = m;
  std::vector<int> expect(32, -1);
  std::size_t slot = 1;
  for (int k = 1; k <= 15 && slot < 32; ++k) {
    float v = float((k - 8.5) / double(id));
    for (int step = 0; step < 256; ++step, v = std::nextafter(v, -100.0f)) {
      const double exact = double(v) * double(id);  // exact in double (24 x 24 bits)
      const int fused = int(float(exact + 8.5));    // exact + 8.5 is exact too: one rounding
      const int unfused = int(float(double(float(exact)) + 8.5));
      if (fused != unfused) {
        x[slot] = v;
        expect[slot++] = std::min(fused, 15);
        break;
      }
    }
  }
  INFO("blocks with a fused/unfused difference found: " << slot - 1);
  REQUIRE(slot > 3);
  for (bool fast : {false, true}) {
    const auto q = quantize<block_q4_0>(x, fast);
    for (std::size_t j = 1; j < slot; ++j) {
      const int nib = j < 16 ? (q[0].qs[j] & 15) : (q[0].qs[j - 16] >> 4);
      CHECK(nib == expect[j]);
    }
  }
}

TEST_CASE("zero blocks give d = 0 and zero values", "[ops][quantize]") {
  const std::vector<float> x(64, 0.0f);
  for (bool fast : {false, true}) {
    const auto q8 = quantize<block_q8_0>(x, fast);
    const auto q4 = quantize<block_q4_0>(x, fast);
    for (int b = 0; b < 2; ++b) {
      CHECK(q8[std::size_t(b)].d.bits == 0);
      CHECK(q4[std::size_t(b)].d.bits == 0x8000);  // 0 / -8 = -0, as ggml stores it
      for (auto v : q8[std::size_t(b)].qs) CHECK(v == 0);
      for (auto v : q4[std::size_t(b)].qs) CHECK(v == 0x88);  // nibble 8 stands for 0
    }
  }
}

// Expected block bytes, in file order: f16 d (little-endian), then the quants.
template <class T>
bool block_is(const T& b, std::uint16_t d, std::uint8_t q) {
  std::uint8_t bytes[sizeof(T)], want[sizeof(T)];
  std::memcpy(bytes, &b, sizeof(T));
  std::memset(want, q, sizeof(T));
  want[0] = std::uint8_t(d & 0xff);
  want[1] = std::uint8_t(d >> 8);
  return std::memcmp(bytes, want, sizeof(T)) == 0;
}

TEST_CASE("negative-zero blocks (-0.0f) quantize like +0 blocks, fast and reference alike", "[ops][quantize]") {
  // Block 0: all -0.0f. Block 1: x[0] = -0.0f, the rest +0. amax = 0 in both, so m stays +0 (no
  // value is larger in magnitude than 0): Q4_0 d = +0 / -8 = -0 (f16 0x8000), id = 0, every
  // nibble trunc(0 * 0 + 8.5) = 8 (byte 0x88); Q8_0 d = 0 / 127 = +0, quants round(±0 * 0) = 0.
  std::vector<float> x(64, 0.0f);
  std::fill(x.begin(), x.begin() + 32, -0.0f);
  x[32] = -0.0f;
  for (bool fast : {false, true}) {
    INFO("fast = " << fast);
    const auto q4 = quantize<block_q4_0>(x, fast);
    const auto q8 = quantize<block_q8_0>(x, fast);
    for (std::size_t b = 0; b < 2; ++b) {
      CHECK(block_is(q4[b], 0x8000, 0x88));
      CHECK(block_is(q8[b], 0x0000, 0x00));
    }
  }
  CHECK(same_bytes(quantize<block_q4_0>(x, true), quantize<block_q4_0>(x, false)));
  CHECK(same_bytes(quantize<block_q8_0>(x, true), quantize<block_q8_0>(x, false)));
}

TEST_CASE("blocks too tiny for a finite 1/d quantize to zero values", "[ops][quantize]") {
  // Block 0: x = {1e-38, -5e-39, 0, ...}.
  //   Q8_0: amax = 1e-38, d = amax / 127 ≈ 7.9e-41 (subnormal), 1/d ≈ 1.3e40 overflows float: id
  //   = 0, so d rounds to f16 +0 (0x0000) and every quant is 0.
  //   Q4_0: m = 1e-38 (first largest magnitude), d = m / -8 = -1.25e-39, 1/d ≈ -8e38 overflows:
  //   id = 0, d rounds to f16 -0 (0x8000), every nibble trunc(8.5) = 8 (bytes 0x88).
  // Block 1: amax = 1e-37: Q8_0 d ≈ 7.9e-40 still overflows (quants 0, d 0x0000), while Q4_0 d =
  //   -1.25e-38 has 1/d ≈ -8e37, finite: the normal path (d still rounds to f16 -0, 0x8000).
  // Block 2: a normal block after them is untouched.
  std::vector<float> x(96, 0.0f);
  x[0] = 1e-38f;
  x[1] = -5e-39f;
  x[32] = 1e-37f;
  x[40] = -3e-38f;
  for (int j = 0; j < 32; ++j) x[std::size_t(64 + j)] = float(j - 16);
  for (bool fast : {false, true}) {
    INFO("fast = " << fast);
    const auto q8 = quantize<block_q8_0>(x, fast);
    const auto q4 = quantize<block_q4_0>(x, fast);
    CHECK(block_is(q8[0], 0x0000, 0x00));
    CHECK(block_is(q4[0], 0x8000, 0x88));
    CHECK(block_is(q8[1], 0x0000, 0x00));
    CHECK(q4[1].d.bits == 0x8000);
    // x[32] = m -> q = trunc(-8 + 8.5) = 0; x[40] = -0.3 m -> trunc(2.4 + 8.5) = 10; zeros -> 8
    CHECK(q4[1].qs[0] == 0x80);
    CHECK(q4[1].qs[8] == 0x8a);
    CHECK(q8[2].d.bits == 0x3008);  // 16 / 127 = 0.12598 -> f16 2^-3 * (1 + 8/1024)
    CHECK(q8[2].qs[0] == -127);
    std::vector<float> y(96);
    arx::ops::dequantize_row(std::span<const block_q8_0>(q8), std::span<float>(y));
    for (std::size_t i = 0; i < 64; ++i) CHECK(y[i] == 0.0f);
  }
  CHECK(same_bytes(quantize<block_q8_0>(x, true), quantize<block_q8_0>(x, false)));
  CHECK(same_bytes(quantize<block_q4_0>(x, true), quantize<block_q4_0>(x, false)));
  // Many tiny blocks across the threshold, both signs: fast == ref, and no UB (sanitizer builds).
  ops_test::rng r(77);
  std::vector<float> t(32 * 64);
  for (std::size_t b = 0; b < 64; ++b)
    for (std::size_t j = 0; j < 32; ++j)
      t[32 * b + j] = r.uniform(-1.0f, 1.0f) * std::ldexp(1.0f, -136 + int(b % 16));
  CHECK(same_bytes(quantize<block_q8_0>(t, true), quantize<block_q8_0>(t, false)));
  CHECK(same_bytes(quantize<block_q4_0>(t, true), quantize<block_q4_0>(t, false)));
}

TEST_CASE("fast quantize_row gives the reference bytes", "[ops][quantize]") {
  ops_test::rng r(11);
  for (std::size_t n : block_lengths) {
    INFO("n = " << n);
    const auto x = tricky_row(r, n);
    CHECK(same_bytes(quantize<block_q8_0>(x, true), quantize<block_q8_0>(x, false)));
    CHECK(same_bytes(quantize<block_q4_0>(x, true), quantize<block_q4_0>(x, false)));
  }
}

TEST_CASE("fast dequantize_row gives the reference values", "[ops][quantize]") {
  ops_test::rng r(12);
  for (std::size_t n : block_lengths) {
    INFO("n = " << n);
    const auto q8 = ops_test::random_units<block_q8_0>(r, n / 32);
    const auto q4 = ops_test::random_units<block_q4_0>(r, n / 32);
    std::vector<float> a(n), b(n);
    arx::ops::dequantize_row(std::span<const block_q8_0>(q8), std::span<float>(a));
    arx::ops::ref::dequantize_row(std::span<const block_q8_0>(q8), std::span<float>(b));
    CHECK(same_bytes(a, b));
    const auto e8 = ops_test::exact_values(q8.data(), q8.size());
    for (std::size_t i = 0; i < n; ++i) REQUIRE(double(a[i]) == e8[i]);  // d * q is exact in f32
    arx::ops::dequantize_row(std::span<const block_q4_0>(q4), std::span<float>(a));
    arx::ops::ref::dequantize_row(std::span<const block_q4_0>(q4), std::span<float>(b));
    CHECK(same_bytes(a, b));
    const auto e4 = ops_test::exact_values(q4.data(), q4.size());
    for (std::size_t i = 0; i < n; ++i) REQUIRE(double(a[i]) == e4[i]);
  }
}

TEST_CASE("Q8_0 round trip: error at most half a step per value", "[ops][quantize]") {
  ops_test::rng r(13);
  const auto x = tricky_row(r, 4096);
  const auto q = quantize<block_q8_0>(x, true);
  std::vector<float> y(x.size());
  arx::ops::dequantize_row(std::span<const block_q8_0>(q), std::span<float>(y));
  for (std::size_t b = 0; b < q.size(); ++b) {
    double amax = 0;
    for (std::size_t i = 32 * b; i < 32 * b + 32; ++i)
      amax = std::max(amax, std::fabs(double(x[i])));
    const double d = amax / 127.0;                              // the exact step
    const double d16 = arx::to_f32(q[b].d);                     // the stored step
    for (int j = 0; j < 32; ++j) {
      const std::size_t i = 32 * b + std::size_t(j);
      const double err = std::fabs(double(x[i]) - double(y[i]));
      // half a step, plus |q| times the f16 rounding of the step
      REQUIRE(err <= d / 2 * 1.00001 + std::fabs(double(q[b].qs[j])) * std::fabs(d - d16) + 1e-30);
    }
  }
}

TEST_CASE("Q4_0 round trip: half a step, except the clamped extreme", "[ops][quantize]") {
  ops_test::rng r(14);
  const auto x = tricky_row(r, 4096);
  const auto q = quantize<block_q4_0>(x, true);
  std::vector<float> y(x.size());
  arx::ops::dequantize_row(std::span<const block_q4_0>(q), std::span<float>(y));
  int clamped = 0;
  for (std::size_t b = 0; b < q.size(); ++b) {
    double m = 0;  // the value of largest magnitude (first on ties)
    for (std::size_t i = 32 * b; i < 32 * b + 32; ++i)
      if (std::fabs(double(x[i])) > std::fabs(m)) m = x[i];
    const double d = m / -8.0, d16 = arx::to_f32(q[b].d);
    for (int j = 0; j < 32; ++j) {
      const std::size_t i = 32 * b + std::size_t(j);
      const double err = std::fabs(double(x[i]) - double(y[i]));
      const double scale_err = 8.0 * std::fabs(d - d16);
      // x / d in (7.5, 8]: the value opposite in sign to m would need q = 16, clamped to 15
      const bool extreme = d != 0 && double(x[i]) / d > 7.5;
      clamped += extreme;
      REQUIRE(err <= (extreme ? std::fabs(d) : std::fabs(d) / 2) * 1.00001 + scale_err + 1e-30);
    }
  }
  CHECK(clamped > 0);  // tricky_row has blocks with +-m: the bound for the clamp was exercised
}

TEST_CASE("f16 and bf16 round trips: relative error of one rounding", "[ops][quantize]") {
  ops_test::rng r(15);
  for (std::size_t n : {std::size_t(1), std::size_t(31), std::size_t(33), std::size_t(4095)}) {
    const auto x = ops_test::random_floats(r, n, 1000.0f);
    std::vector<arx::f16> h(n);
    std::vector<arx::bf16> b(n);
    std::vector<float> yh(n), yb(n);
    arx::ops::quantize_row(std::span<const float>(x), std::span<arx::f16>(h));
    arx::ops::quantize_row(std::span<const float>(x), std::span<arx::bf16>(b));
    arx::ops::dequantize_row(std::span<const arx::f16>(h), std::span<float>(yh));
    arx::ops::dequantize_row(std::span<const arx::bf16>(b), std::span<float>(yb));
    for (std::size_t i = 0; i < n; ++i) {
      const double ax = std::fabs(double(x[i]));
      const double bound_h = ax >= 0x1p-14 ? ax * ops_test::f16_rel_error  // normal f16
                                           : ops_test::f16_subnormal_error;
      REQUIRE(std::fabs(double(yh[i]) - x[i]) <= bound_h);
      REQUIRE(std::fabs(double(yb[i]) - x[i]) <= ax * ops_test::bf16_rel_error);
    }
    std::vector<float> copy(n);
    arx::ops::quantize_row(std::span<const float>(x), std::span<float>(copy));
    CHECK(copy == x);
  }
}

TEST_CASE("quantize_row and dequantize_row reject bad lengths", "[ops][quantize]") {
  std::vector<float> x(33), y(64);
  std::vector<block_q8_0> q8(1);
  std::vector<block_q4_0> q4(2);
  CHECK_THROWS_AS(arx::ops::quantize_row(std::span<const float>(x), std::span<block_q8_0>(q8)),
                  arx::shape_error);  // 33 is not a multiple of 32
  CHECK_THROWS_AS(arx::ops::ref::quantize_row(std::span<const float>(x), std::span<block_q4_0>(q4)),
                  arx::shape_error);
  CHECK_THROWS_AS(arx::ops::quantize_row(std::span<const float>(y), std::span<block_q8_0>(q8)),
                  arx::shape_error);  // 64 values need 2 blocks
  CHECK_THROWS_AS(
      arx::ops::dequantize_row(std::span<const block_q4_0>(q4), std::span<float>(x)),
      arx::shape_error);
  std::vector<arx::f16> h(3);
  CHECK_THROWS_AS(arx::ops::quantize_row(std::span<const float>(x), std::span<arx::f16>(h)),
                  arx::shape_error);
  try {
    arx::ops::quantize_row(std::span<const float>(x), std::span<block_q8_0>(q8));
  } catch (const arx::shape_error& e) {
    CHECK(std::string(e.what()).find("Q8_0") != std::string::npos);
  }
}
