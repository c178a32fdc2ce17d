// Dot products of one weight row: fast kernels vs the scalar references at awkward lengths and
// misaligned starts, the references vs exact double math, int8 dots worked out by hand.
#include <catch2/catch.hpp>

#include <arx/ops/dot.hpp>

#include "unit/ops/ops_test_util.hpp"

#include <cmath>
#include <cstdint>
#include <vector>

using arx::block_q4_0;
using arx::block_q8_0;

namespace {

template <class T>
std::vector<std::size_t> lengths() {
  if constexpr (arx::is_block_type_v<T>)
    return {0, 32, 64, 96, 128, 160, 1056, 1120, 4096};
  else
    return {0, 1, 15, 16, 17, 31, 32, 33, 64, 96, 4095, 4096};
}

// exact Σ w·x and Σ|w·x| in double
template <class T>
std::pair<double, double> exact_dot(const T* w, std::size_t units, const std::vector<float>& x) {
  const auto v = ops_test::exact_values(w, units);
  double s = 0, a = 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    s += v[i] * double(x[i]);
    a += std::fabs(v[i] * double(x[i]));
  }
  return {s, a};
}

// exact int8-path dot and Σ|term| per block, from the exact values of both sides
template <class W>
std::pair<double, double> exact_q8_dot(const W* w, const block_q8_0* x, std::size_t nb) {
  const auto wv = ops_test::exact_values(w, nb);
  const auto xv = ops_test::exact_values(x, nb);
  double s = 0, a = 0;
  for (std::size_t b = 0; b < nb; ++b) {
    double blk = 0;
    for (std::size_t j = 32 * b; j < 32 * b + 32; ++j) blk += wv[j] * xv[j];
    s += blk;
    a += std::fabs(blk);
  }
  return {s, a};
}

template <class T>
void check_float_dots() {
  ops_test::rng r(21);
  constexpr std::size_t be = std::size_t(arx::dtype_traits<T>::block_elems);
  for (std::size_t n : lengths<T>()) {
    // the row starts at several offsets, so the aligned-line reader sees every shift
    const auto storage = ops_test::random_units<T>(r, n / be + 16);
    const auto x = ops_test::random_floats(r, n);
    for (std::size_t off : {0, 1, 3, 8}) {
      INFO(ops_test::type_label<T>() << " n = " << n << " offset = " << off);
      const std::span<const T> w(storage.data() + off, n / be);
      const float fast = arx::ops::dot(w, std::span<const float>(x));
      const float ref = arx::ops::ref::dot(w, std::span<const float>(x));
      const auto [exact, abs_sum] = exact_dot(w.data(), w.size(), x);
      REQUIRE(std::fabs(double(fast) - double(ref)) <= ops_test::order_tolerance(abs_sum, n));
      REQUIRE(std::fabs(double(ref) - exact) <= ops_test::order_tolerance(abs_sum, n) / 2);
    }
  }
}

template <class W>
void check_int8_dots() {
  ops_test::rng r(22);
  for (std::size_t nb : {0, 1, 2, 3, 4, 5, 8, 31, 32, 33, 35, 128}) {
    const auto storage = ops_test::random_units<W>(r, nb + 8);
    const auto x = ops_test::random_activation_blocks(r, nb);
    for (std::size_t off : {0, 1, 2, 5}) {
      INFO(ops_test::type_label<W>() << " blocks = " << nb << " offset = " << off);
      const std::span<const W> w(storage.data() + off, nb);
      const float fast = arx::ops::dot(w, std::span<const block_q8_0>(x));
      const float ref = arx::ops::ref::dot(w, std::span<const block_q8_0>(x));
      const auto [exact, abs_sum] = exact_q8_dot(w.data(), x.data(), nb);
      // block sums are exact integers on both sides; only the scaling and adding round
      REQUIRE(std::fabs(double(fast) - double(ref)) <= ops_test::order_tolerance(abs_sum, nb, 4));
      REQUIRE(std::fabs(double(ref) - exact) <= ops_test::order_tolerance(abs_sum, nb, 4) / 2);
    }
  }
}

}  // namespace

TEST_CASE("f32 dot: fast vs reference vs exact", "[ops][dot]") { check_float_dots<float>(); }
TEST_CASE("f16 dot: fast vs reference vs exact", "[ops][dot]") { check_float_dots<arx::f16>(); }
TEST_CASE("bf16 dot: fast vs reference vs exact", "[ops][dot]") { check_float_dots<arx::bf16>(); }
TEST_CASE("Q8_0 weights with f32 activations: fast vs reference vs exact", "[ops][dot]") {
  check_float_dots<block_q8_0>();
}
TEST_CASE("Q4_0 weights with f32 activations: fast vs reference vs exact", "[ops][dot]") {
  check_float_dots<block_q4_0>();
}
TEST_CASE("Q8_0 x Q8_0 int8 dot: fast vs reference vs exact", "[ops][dot]") {
  check_int8_dots<block_q8_0>();
}
TEST_CASE("Q4_0 x Q8_0 int8 dot: fast vs reference vs exact", "[ops][dot]") {
  check_int8_dots<block_q4_0>();
}

TEST_CASE("int8 dots worked out by hand", "[ops][dot]") {
  // Q4_0: d = 1, bytes 0x40 0x51 ... 0xcf: values j - 8 (j < 16) and
  // -4 -3 -3 -2 -2 -1 -1 0 0 1 1 2 2 3 3 4; their sum is -8 + 0. Activations: all quants 1,
  // d = 0.5, so the dot is 1 * 0.5 * (-8) = -4.
  block_q4_0 w4{};
  w4.d.bits = 0x3c00;
  const std::uint8_t qs[16] = {0x40, 0x51, 0x52, 0x63, 0x64, 0x75, 0x76, 0x87,
                               0x88, 0x99, 0x9a, 0xab, 0xac, 0xbd, 0xbe, 0xcf};
  for (int j = 0; j < 16; ++j) w4.qs[j] = qs[j];
  block_q8_0 x{};
  x.d.bits = 0x3800;  // 0.5
  for (auto& q : x.qs) q = 1;
  CHECK(arx::ops::dot(std::span<const block_q4_0>(&w4, 1), std::span<const block_q8_0>(&x, 1)) ==
        -4.0f);
  CHECK(arx::ops::ref::dot(std::span<const block_q4_0>(&w4, 1),
                           std::span<const block_q8_0>(&x, 1)) == -4.0f);
  // Q8_0: d = 2, quants j - 16 (sum -16); activations d = 0.25, quants 1: 2 * 0.25 * -16 = -8.
  block_q8_0 w8{};
  w8.d.bits = 0x4000;
  for (int j = 0; j < 32; ++j) w8.qs[j] = std::int8_t(j - 16);
  x.d.bits = 0x3400;  // 0.25
  CHECK(arx::ops::dot(std::span<const block_q8_0>(&w8, 1), std::span<const block_q8_0>(&x, 1)) ==
        -8.0f);
  // The weight quant -128 (legal in a file, never produced by quantize_row): -128 * -127 = 16256.
  for (auto& q : w8.qs) q = 0;
  w8.qs[5] = -128;
  w8.d.bits = x.d.bits = 0x3c00;
  for (auto& q : x.qs) q = -127;
  CHECK(arx::ops::dot(std::span<const block_q8_0>(&w8, 1), std::span<const block_q8_0>(&x, 1)) ==
        16256.0f);
}

TEST_CASE("f32 dot of a hand-computed row", "[ops][dot]") {
  // 1..33 times alternating +-1: (1 - 2) + (3 - 4) + ... + (31 - 32) + 33 = -16 + 33 = 17
  std::vector<float> w(33), x(33);
  for (int i = 0; i < 33; ++i) {
    w[std::size_t(i)] = float(i + 1);
    x[std::size_t(i)] = i % 2 ? -1.0f : 1.0f;
  }
  CHECK(arx::ops::dot(std::span<const float>(w), std::span<const float>(x)) == 17.0f);
  CHECK(arx::ops::ref::dot(std::span<const float>(w), std::span<const float>(x)) == 17.0f);
}

TEST_CASE("dots of rows with different lengths throw shape_error", "[ops][dot]") {
  std::vector<float> w(31), x(32);
  std::vector<block_q4_0> q4(2);
  std::vector<block_q8_0> q8(1);
  CHECK_THROWS_AS(arx::ops::dot(std::span<const float>(w), std::span<const float>(x)),
                  arx::shape_error);
  CHECK_THROWS_AS(arx::ops::ref::dot(std::span<const float>(w), std::span<const float>(x)),
                  arx::shape_error);
  CHECK_THROWS_AS(arx::ops::dot(std::span<const block_q4_0>(q4), std::span<const float>(x)),
                  arx::shape_error);
  CHECK_THROWS_AS(arx::ops::dot(std::span<const block_q4_0>(q4), std::span<const block_q8_0>(q8)),
                  arx::shape_error);
}
