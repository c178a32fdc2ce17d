// Q4_1, Q5_0, Q5_1 and the K-quants (arx/ops/kquants.hpp): decoding against GGUF's formulas
// written out independently in ops_test_util.hpp, arx's quantizers by round-trip error against the
// uniform-quantization bound of each type's level count, and the int8 (Q8_0-activation) dot
// against the exact double sum. gemv/gemm/threads cover these types in their own files.
#include <catch2/catch.hpp>

#include <arx/ops/dot.hpp>
#include <arx/ops/quantize.hpp>

#include "unit/ops/ops_test_util.hpp"

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <span>
#include <utility>
#include <vector>

namespace {

/// Quant levels of each type (the round-trip bound below scales with 1 / (levels - 1)).
template <class T>
constexpr int levels() {
  using namespace arx;
  if constexpr (std::is_same_v<T, block_q2_k>) return 4;
  else if constexpr (std::is_same_v<T, block_q3_k>) return 8;
  else if constexpr (std::is_same_v<T, block_q4_1> || std::is_same_v<T, block_q4_k>) return 16;
  else if constexpr (std::is_same_v<T, block_q6_k>) return 64;
  else return 32;  // Q5_0, Q5_1, Q5_K
}

/// Σ w[i]·x(i) and Σ |w[i]·x(i)| in double.
template <class X>
std::pair<double, double> exact_dot(const std::vector<double>& w, X x) {
  double sum = 0, abs_sum = 0;
  for (std::size_t i = 0; i < w.size(); ++i) {
    sum += w[i] * x(i);
    abs_sum += std::fabs(w[i] * x(i));
  }
  return {sum, abs_sum};
}

}  // namespace

TEMPLATE_TEST_CASE("kquants: decoded values are GGUF's, bit for bit", "[ops][kquants]",
                   ARX_OPS_DECODED_TYPES) {
  using T = TestType;
  constexpr std::size_t be = std::size_t(arx::dtype_traits<T>::block_elems);
  ops_test::rng r(7);
  const auto units = ops_test::random_units<T>(r, 40);
  std::vector<float> fast(units.size() * be), ref(units.size() * be);
  arx::ops::dequantize_row(std::span<const T>(units), std::span<float>(fast));
  arx::ops::ref::dequantize_row(std::span<const T>(units), std::span<float>(ref));
  const auto exact = ops_test::exact_values(units.data(), units.size());
  REQUIRE(exact.size() == fast.size());
  std::size_t nonzero = 0;
  for (std::size_t i = 0; i < exact.size(); ++i) {
    INFO(ops_test::type_label<T>() << " value " << i << " (block " << i / be << ")");
    // every formula is exact in double; the f32 decoder rounds it once
    REQUIRE(std::bit_cast<std::uint32_t>(fast[i] + 0.0f) ==
            std::bit_cast<std::uint32_t>(float(exact[i]) + 0.0f));
    REQUIRE(std::bit_cast<std::uint32_t>(ref[i]) == std::bit_cast<std::uint32_t>(fast[i]));
    nonzero += exact[i] != 0.0;
  }
  CHECK(nonzero > exact.size() / 2);
}

TEMPLATE_TEST_CASE("kquants: quantize round trip within the type's level spacing",
                   "[ops][kquants]", ARX_OPS_DECODED_TYPES) {
  using T = TestType;
  constexpr std::size_t be = std::size_t(arx::dtype_traits<T>::block_elems);
  ops_test::rng r(11);
  // uniform values in [-1, 1): L levels over a span of 2 leave an RMS error of about
  // step / sqrt(12) = RMS(x) / (L - 1); the sub-block scales' rounding to their integer grid
  // costs some more, hence 1.5x. A misplaced bit or nibble gives errors of the order of RMS(x).
  const std::size_t n = 64 * be;
  auto x = ops_test::random_floats(r, n);
  for (std::size_t i = 0; i < be; ++i) x[i] = 0.0f;  // an all-zero block decodes to zeros
  for (std::size_t i = be; i < 2 * be; ++i) x[i] = 0.25f;  // a constant block
  std::vector<T> q(n / be), q2(n / be);
  arx::ops::quantize_row(std::span<const float>(x), std::span<T>(q));
  arx::ops::ref::quantize_row(std::span<const float>(x), std::span<T>(q2));
  CHECK(std::memcmp(q.data(), q2.data(), q.size() * sizeof(T)) == 0);
  std::vector<float> y(n);
  arx::ops::dequantize_row(std::span<const T>(q), std::span<float>(y));
  for (std::size_t i = 0; i < be; ++i) REQUIRE(y[i] == 0.0f);
  for (std::size_t i = be; i < 2 * be; ++i) REQUIRE(std::fabs(y[i] - 0.25f) <= 0.25f / 32);
  double err = 0, sq = 0, worst = 0;
  for (std::size_t i = 2 * be; i < n; ++i) {
    const double d = double(y[i]) - double(x[i]);
    err += d * d;
    sq += double(x[i]) * double(x[i]);
    worst = std::max(worst, std::fabs(d));
  }
  const double rel = std::sqrt(err / sq);
  INFO(ops_test::type_label<T>() << ": relative RMS error " << rel << ", worst " << worst);
  CHECK(rel <= 1.5 / (levels<T>() - 1));
  CHECK(worst <= 2.0 * 2.0 / (levels<T>() - 1));  // at most two level steps of the full span
}

TEMPLATE_TEST_CASE("kquants: int8 dot with Q8_0 activations against the exact sum",
                   "[ops][kquants][dot]", ARX_OPS_DECODED_TYPES) {
  using T = TestType;
  constexpr std::size_t be = std::size_t(arx::dtype_traits<T>::block_elems);
  ops_test::rng r(13);
  for (std::size_t nb : {std::size_t(1), std::size_t(3), std::size_t(4096 / be)}) {
    const auto w = ops_test::random_units<T>(r, nb);
    const auto xq = ops_test::random_activation_blocks(r, nb * be / 32);
    const auto wv = ops_test::exact_values(w.data(), w.size());
    const auto [exact, abs_sum] = exact_dot(wv, [&](std::size_t i) {
      return double(arx::to_f32(xq[i / 32].d)) * xq[i / 32].qs[i % 32];
    });
    const float got = arx::ops::dot(std::span<const T>(w), std::span<const arx::block_q8_0>(xq));
    const float ref = arx::ops::ref::dot_q8(std::span<const T>(w),
                                            std::span<const arx::block_q8_0>(xq));
    INFO(ops_test::type_label<T>() << " " << nb << " blocks: " << got << " vs exact " << exact);
    // the integer sums are exact; per 32 values 6 roundings (scale products and adds)
    const double tol = ops_test::order_tolerance(abs_sum, wv.size() / 4, 8);
    CHECK(std::fabs(double(got) - exact) <= tol);
    CHECK(std::fabs(double(ref) - exact) <= tol);
    if constexpr (std::is_same_v<typename arx::dtype_traits<T>::dot_type, float>)
      CHECK(std::bit_cast<std::uint32_t>(got) == std::bit_cast<std::uint32_t>(ref));  // ref's code
    // (with AVX512-VNNI the public dot is gemv's int8 row kernel, checked bitwise in test_gemv)
  }
  std::vector<T> w(2);
  std::vector<arx::block_q8_0> x(3 * be / 32);
  CHECK_THROWS_AS(arx::ops::dot(std::span<const T>(w), std::span<const arx::block_q8_0>(x)),
                  arx::shape_error);
}

TEMPLATE_TEST_CASE("kquants: f32 dot equals the reference within summation order",
                   "[ops][kquants][dot]", ARX_OPS_DECODED_TYPES) {
  using T = TestType;
  constexpr std::size_t be = std::size_t(arx::dtype_traits<T>::block_elems);
  ops_test::rng r(17);
  for (std::size_t nb : {std::size_t(1), std::size_t(5), std::size_t(8192 / be)}) {
    const auto w = ops_test::random_units<T>(r, nb);
    const auto x = ops_test::random_floats(r, nb * be);
    const auto wv = ops_test::exact_values(w.data(), w.size());
    const auto [exact, abs_sum] = exact_dot(wv, [&](std::size_t i) { return double(x[i]); });
    const float fast = arx::ops::dot(std::span<const T>(w), std::span<const float>(x));
    const float ref = arx::ops::ref::dot(std::span<const T>(w), std::span<const float>(x));
    const double tol = ops_test::order_tolerance(abs_sum, wv.size(), 2);
    INFO(ops_test::type_label<T>() << " " << nb << " blocks");
    CHECK(std::fabs(double(fast) - exact) <= tol);
    CHECK(std::fabs(double(ref) - exact) <= tol);
  }
  std::vector<T> w(2);
  std::vector<float> x(be);
  CHECK_THROWS_AS(arx::ops::dot(std::span<const T>(w), std::span<const float>(x)),
                  arx::shape_error);
}

#if ARX_SIMD && defined(ARX_HAS_AVX2)
TEST_CASE("kquants: the word-mask Q4_K/Q5_K scale unpacking equals the per-sub-block one",
          "[ops][kquants]") {
  // Random scale bytes and every single-bit pattern: each of the 96 bits lands in its field.
  std::uint32_t state = 12345u;
  const auto next = [&] { return state = state * 1664525u + 1013904223u; };
  for (int trial = 0; trial < 2000 + 96; ++trial) {
    std::uint8_t s[12];
    for (auto& b : s) b = std::uint8_t(next() >> 24);
    if (trial >= 2000) {
      std::memset(s, 0, sizeof s);
      s[(trial - 2000) / 8] = std::uint8_t(1u << ((trial - 2000) % 8));
    }
    const float d = 0.0123f + float(trial % 7), dmin = 0.5f - float(trial % 5);
    float a0[16], off0[16], a1[16], off1[16];
    arx::ops::detail::k4_factors(s, d, dmin, a0, off0);
    arx::ops::detail::k4_factors_vec(s, d, dmin, a1, off1);
    INFO("trial " << trial);
    for (int i = 0; i < 16; ++i) {
      REQUIRE(std::bit_cast<std::uint32_t>(a0[i]) == std::bit_cast<std::uint32_t>(a1[i]));
      REQUIRE(std::bit_cast<std::uint32_t>(off0[i]) == std::bit_cast<std::uint32_t>(off1[i]));
    }
  }
}
#endif
