// ops/elementwise.hpp: add, mul, scale, axpy, copy, fill — fast kernels against the references
// and against double-precision arithmetic, at sizes around every vector width.
#include <algorithm>
#include <arx/ops/elementwise.hpp>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "unit/ops/float_test_util.hpp"

namespace {

using namespace float_test;

constexpr std::size_t kSizes[] = {0, 1, 3, 15, 16, 17, 31, 33, 4095, 4096, 5000};

}  // namespace

TEST_CASE("add mul scale match correctly rounded double results bit for bit",
          "[ops][elementwise]") {
  for (std::size_t n : kSizes) {
    INFO("n = " << n);
    const auto a = random_floats(n, -100.0f, 100.0f, 1);
    const auto b = random_floats(n, -3.0f, 3.0f, 2);
    const float s = 0.37f;
    guarded o_add(n), o_mul(n), o_scale(n);
    arx::ops::add(a, b, o_add.span());
    arx::ops::mul(a, b, o_mul.span());
    arx::ops::scale(a, s, o_scale.span());
    // One IEEE operation each: the exact result rounded once, whatever the vector width.
    for (std::size_t i = 0; i < n; ++i) {
      if (o_add.span()[i] != float(double(a[i]) + double(b[i]))) FAIL("add differs at " << i);
      if (o_mul.span()[i] != float(double(a[i]) * double(b[i]))) FAIL("mul differs at " << i);
      if (o_scale.span()[i] != float(double(s) * double(a[i]))) FAIL("scale differs at " << i);
    }
    CHECK(o_add.canaries_intact());
    CHECK(o_mul.canaries_intact());
    CHECK(o_scale.canaries_intact());

    // The references give the same bits.
    std::vector<float> r(n);
    arx::ops::ref::add(a, b, r);
    CHECK(std::equal(r.begin(), r.end(), o_add.span().begin()));
    arx::ops::ref::mul(a, b, r);
    CHECK(std::equal(r.begin(), r.end(), o_mul.span().begin()));
    arx::ops::ref::scale(a, s, r);
    CHECK(std::equal(r.begin(), r.end(), o_scale.span().begin()));
  }
}

TEST_CASE("in-place forms and out aliasing an input equal the out-of-place result",
          "[ops][elementwise]") {
  const std::size_t n = 37;
  const auto a = random_floats(n, -1.0f, 1.0f, 3);
  const auto b = random_floats(n, -1.0f, 1.0f, 4);
  std::vector<float> want(n);

  arx::ops::add(a, b, want);
  auto y = a;
  arx::ops::add(y, b);  // y += b
  CHECK(y == want);
  y = b;
  arx::ops::add(a, y, y);  // out aliases the second input
  CHECK(y == want);

  arx::ops::mul(a, b, want);
  y = a;
  arx::ops::mul(y, b);
  CHECK(y == want);

  arx::ops::scale(a, -2.5f, want);
  y = a;
  arx::ops::scale(y, -2.5f);
  CHECK(y == want);
}

TEST_CASE("axpy adds alpha x to y within one rounding of the fused result", "[ops][elementwise]") {
  for (std::size_t n : kSizes) {
    INFO("n = " << n);
    const auto x = random_floats(n, -10.0f, 10.0f, 5);
    const auto y0 = random_floats(n, -10.0f, 10.0f, 6);
    const float alpha = -0.731f;
    guarded y(n), yr(n);
    std::copy(y0.begin(), y0.end(), y.span().begin());
    std::copy(y0.begin(), y0.end(), yr.span().begin());
    arx::ops::axpy(alpha, x, y.span());
    arx::ops::ref::axpy(alpha, x, yr.span());
    // Fused (one rounding) or not (two): within 2u of |αx| + |y| of the exact value.
    const auto exact = [&](std::size_t i) { return double(alpha) * x[i] + double(y0[i]); };
    const auto tol = [&](std::size_t i) {
      return 2 * kU * (std::abs(double(alpha) * x[i]) + std::abs(double(y0[i])));
    };
    CHECK(first_mismatch(y.span(), exact, tol) == n);
    CHECK(first_mismatch(yr.span(), exact, tol) == n);
    CHECK(y.canaries_intact());
  }
}

TEST_CASE("copy handles overlap and fill writes only its span", "[ops][elementwise]") {
  std::vector<float> v = {0, 1, 2, 3, 4, 5, 6, 7};
  arx::ops::copy(std::span<const float>(v.data(), 6), std::span<float>(v.data() + 2, 6));
  CHECK(v == std::vector<float>{0, 1, 0, 1, 2, 3, 4, 5});
  arx::ops::copy(std::span<const float>(v.data() + 2, 6), std::span<float>(v.data(), 6));
  CHECK(v == std::vector<float>{0, 1, 2, 3, 4, 5, 4, 5});

  guarded g(33);
  arx::ops::fill(g.span(), -1.5f);
  for (float f : g.span()) CHECK(f == -1.5f);
  CHECK(g.canaries_intact());
  std::vector<float> r(5, 0.0f);
  arx::ops::ref::fill(r, 2.0f);
  CHECK(r == std::vector<float>(5, 2.0f));
}

TEST_CASE("elementwise size mismatches throw shape_error naming both sizes", "[ops][elementwise]") {
  std::vector<float> a(5), b(4), o(5);
  CHECK_THROWS_AS(arx::ops::add(a, b, o), arx::shape_error);
  CHECK_THROWS_WITH(arx::ops::add(a, b, o), Catch::Contains("4") && Catch::Contains("5"));
  CHECK_THROWS_AS(arx::ops::ref::add(a, b, o), arx::shape_error);
  CHECK_THROWS_AS(arx::ops::mul(a, a, b), arx::shape_error);
  CHECK_THROWS_AS(arx::ops::mul(b, a), arx::shape_error);
  CHECK_THROWS_AS(arx::ops::scale(a, 2.0f, b), arx::shape_error);
  CHECK_THROWS_AS(arx::ops::axpy(1.0f, a, b), arx::shape_error);
  CHECK_THROWS_AS(arx::ops::copy(a, b), arx::shape_error);
  CHECK_NOTHROW(
      arx::ops::add(std::span<const float>{}, std::span<const float>{}, std::span<float>{}));
}
