// ops/norm.hpp: rms_norm and layer_norm — references and fast kernels against double-precision
// math done with Eigen, hand-computed cases, extreme magnitudes, row-batched views, argument
// checks.
#include <Eigen/Core>
#include <arx/ops/norm.hpp>
#include <catch2/catch.hpp>

// Eigen's AVX-512 reductions trip GCC 12's false -Wmaybe-uninitialized on _mm512_undefined_*().
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <span>
#include <vector>

#include "unit/ops/float_test_util.hpp"

namespace {

using namespace float_test;

constexpr std::size_t kSizes[] = {0, 1, 3, 15, 16, 17, 31, 33, 4095, 4096, 5000};

// The references compute in double and round once per output (plus float inputs to products).
constexpr double kRefRelTol = 2 * kU;
// Fast kernels: the sum of squares is within 69u relative (norm.hpp; SSE2 worst case), so the
// 1/rms factor within ~35u, plus the roundings of the factor and two products.
constexpr double kFastRelTol = 40 * kU;

Eigen::VectorXd as_double(const std::vector<float>& v) {
  return Eigen::Map<const Eigen::VectorXf>(v.data(), Eigen::Index(v.size())).cast<double>();
}

// Double-precision RMSNorm, written independently of the library.
Eigen::VectorXd rms_norm_exact(const std::vector<float>& x, const std::vector<float>& w,
                               double eps) {
  const Eigen::VectorXd xd = as_double(x), wd = as_double(w);
  const double r = 1.0 / std::sqrt(xd.squaredNorm() / double(x.size()) + eps);
  return (xd * r).cwiseProduct(wd);
}

struct layer_norm_exact_t {
  Eigen::VectorXd out;
  double mean, inv_std;
};
layer_norm_exact_t layer_norm_exact(const std::vector<float>& x, const std::vector<float>& w,
                                    const std::vector<float>& b, double eps) {
  const Eigen::VectorXd xd = as_double(x);
  const double mean = xd.mean();
  const Eigen::VectorXd d = xd.array() - mean;
  const double r = 1.0 / std::sqrt(d.squaredNorm() / double(x.size()) + eps);
  Eigen::VectorXd out = (d * r).cwiseProduct(as_double(w));
  if (!b.empty()) out += as_double(b);
  return {out, mean, r};
}

}  // namespace

TEST_CASE("rms_norm hand-computed cases", "[ops][norm]") {
  // x = {3, 4}: mean square 12.5, rms = 3.5355339...
  const std::vector<float> x = {3.0f, 4.0f}, w = {1.0f, 2.0f};
  std::vector<float> out(2), out_ref(2);
  arx::ops::rms_norm(x, w, 0.0f, out);
  arx::ops::ref::rms_norm(x, w, 0.0f, out_ref);
  for (const auto& o : {out, out_ref}) {
    CHECK(o[0] == Approx(3.0 / std::sqrt(12.5)).epsilon(kRefRelTol));
    CHECK(o[1] == Approx(8.0 / std::sqrt(12.5)).epsilon(kRefRelTol));
  }

  // A constant vector c·1 normalises to sign(c)·weight (eps = 0), or c/sqrt(c² + eps)·weight.
  const std::size_t n = 4096;
  const std::vector<float> c(n, -3.25f);
  const auto wr = random_floats(n, 0.5f, 1.5f, 11);
  std::vector<float> o(n), o_eps(n);
  arx::ops::rms_norm(c, wr, 0.0f, o);
  arx::ops::rms_norm(c, wr, 0.5f, o_eps);
  const double k = -3.25 / std::sqrt(3.25 * 3.25 + 0.5);
  for (std::size_t i = 0; i < n; ++i) {
    if (std::abs(o[i] + wr[i]) > 2 * kU * wr[i]) FAIL("eps = 0: index " << i << ": " << o[i]);
    if (std::abs(o_eps[i] - k * wr[i]) > 4 * kU * wr[i]) FAIL("eps: index " << i);
  }
}

TEST_CASE("rms_norm reference and fast kernel match double precision at awkward sizes",
          "[ops][norm]") {
  for (std::size_t n : kSizes) {
    for (float offset : {0.0f, 50.0f}) {  // offset: all values of one sign, large mean
      INFO("n = " << n << ", offset = " << offset);
      auto x = random_floats(n, -2.0f, 2.0f, 21);
      for (auto& v : x) v += offset;
      const auto w = random_floats(n, -1.5f, 1.5f, 22);
      const float eps = 1e-6f;
      guarded fast(n), ref(n);
      arx::ops::rms_norm(x, w, eps, fast.span());
      arx::ops::ref::rms_norm(x, w, eps, ref.span());
      const Eigen::VectorXd want = n ? rms_norm_exact(x, w, eps) : Eigen::VectorXd();
      const auto exact = [&](std::size_t i) { return want[Eigen::Index(i)]; };
      CHECK(first_mismatch(ref.span(), exact, [&](std::size_t i) {
              return kRefRelTol * std::abs(exact(i)) + 1e-30;
            }) == n);
      CHECK(first_mismatch(fast.span(), exact, [&](std::size_t i) {
              return kFastRelTol * std::abs(exact(i)) + 1e-30;
            }) == n);
      CHECK(fast.canaries_intact());
      CHECK(ref.canaries_intact());
    }
  }
}

TEST_CASE("rms_norm survives squares that overflow or underflow float", "[ops][norm]") {
  for (float magnitude : {1e20f, 3e37f, 1e-22f, 1e-40f /* subnormal */}) {
    for (std::size_t n : {std::size_t(3), std::size_t(4096)}) {
      INFO("magnitude = " << magnitude << ", n = " << n);
      auto x = random_floats(n, -1.0f, 1.0f, 31);
      for (auto& v : x) v *= magnitude;
      const std::vector<float> w(n, 1.0f);
      std::vector<float> out(n), out_ref(n);
      arx::ops::rms_norm(x, w, 0.0f, out);
      arx::ops::ref::rms_norm(x, w, 0.0f, out_ref);
      const Eigen::VectorXd want = rms_norm_exact(x, w, 0.0);
      REQUIRE(std::isfinite(want.norm()));
      const auto exact = [&](std::size_t i) { return want[Eigen::Index(i)]; };
      const auto tol = [&](std::size_t i) { return kFastRelTol * std::abs(exact(i)) + 1e-30; };
      CHECK(first_mismatch(out, exact, tol) == n);
      CHECK(first_mismatch(out_ref, exact, tol) == n);
    }
  }
}

TEST_CASE("rms_norm in place, row-batched and strided rows", "[ops][norm]") {
  const std::size_t rows = 5, n = 33, stride = 40;
  const auto w = random_floats(n, -1.0f, 1.0f, 41);
  std::vector<float> buf = random_floats(rows * stride, -3.0f, 3.0f, 42);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t j = n; j < stride; ++j) buf[r * stride + j] = kCanary;  // gaps
  const std::vector<float> orig = buf;
  arx::tensor_view<float> view(buf.data(), {std::int64_t(rows), std::int64_t(n)},
                               {std::int64_t(stride), 1, 0, 0});
  arx::ops::rms_norm(view, w, 1e-5f, view);  // in place over strided rows
  for (std::size_t r = 0; r < rows; ++r) {
    INFO("row " << r);
    std::vector<float> row(orig.begin() + std::ptrdiff_t(r * stride),
                           orig.begin() + std::ptrdiff_t(r * stride + n));
    std::vector<float> want(n);
    arx::ops::rms_norm(row, w, 1e-5f, want);
    CHECK(std::equal(want.begin(), want.end(), buf.begin() + std::ptrdiff_t(r * stride)));
    for (std::size_t j = n; j < stride; ++j) CHECK(buf[r * stride + j] == kCanary);
    // The reference's batched form agrees too.
    arx::ops::ref::rms_norm(row, w, 1e-5f, want);
    for (std::size_t j = 0; j < n; ++j)
      CHECK(want[j] == Approx(buf[r * stride + j]).epsilon(kFastRelTol).margin(1e-30));
  }

  arx::tensor<float> a({3, 8}), b({3, 7});
  const std::vector<float> w8(8, 1.0f);
  CHECK_THROWS_AS(arx::ops::rms_norm(a, w8, 1e-5f, b), arx::shape_error);
  CHECK_THROWS_AS(arx::ops::ref::rms_norm(a, w8, 1e-5f, b), arx::shape_error);
  arx::tensor<float> v1({8});
  CHECK_THROWS_AS(arx::ops::rms_norm(v1, w8, 1e-5f, v1), arx::shape_error);
  CHECK_THROWS_AS(arx::ops::rms_norm(a, std::vector<float>(7), 1e-5f, a), arx::shape_error);
}

TEST_CASE("norm argument checks", "[ops][norm]") {
  std::vector<float> x(8, 1.0f), w(8, 1.0f), out(8), bad(7);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_AS(arx::ops::rms_norm(x, w, -1e-6f, out), arx::invalid_argument);
  CHECK_THROWS_AS(arx::ops::rms_norm(x, w, nan, out), arx::invalid_argument);
  CHECK_THROWS_AS(arx::ops::ref::rms_norm(x, w, -1e-6f, out), arx::invalid_argument);
  CHECK_THROWS_AS(arx::ops::layer_norm(x, w, {}, -1.0f, out), arx::invalid_argument);
  CHECK_THROWS_WITH(arx::ops::rms_norm(x, bad, 1e-6f, out),
                    Catch::Contains("weight") && Catch::Contains("7") && Catch::Contains("8"));
  CHECK_THROWS_AS(arx::ops::rms_norm(x, w, 1e-6f, bad), arx::shape_error);
  CHECK_THROWS_AS(arx::ops::layer_norm(x, w, bad, 1e-6f, out), arx::shape_error);
  CHECK_THROWS_AS(arx::ops::ref::layer_norm(x, bad, {}, 1e-6f, out), arx::shape_error);
}

TEST_CASE("layer_norm hand-computed cases", "[ops][norm]") {
  // x = {1, 2, 3, 4}: mean 2.5, population variance 1.25.
  const std::vector<float> x = {1, 2, 3, 4}, w = {2, 2, 2, 2}, b = {1, 1, 1, 1}, ones(4, 1.0f);
  const double s = 1.0 / std::sqrt(1.25);
  std::vector<float> out(4), out_b(4), out_ref(4);
  arx::ops::layer_norm(x, ones, {}, 0.0f, out);
  arx::ops::layer_norm(x, w, b, 0.0f, out_b);
  arx::ops::ref::layer_norm(x, w, b, 0.0f, out_ref);
  for (int i = 0; i < 4; ++i) {
    CHECK(out[std::size_t(i)] == Approx((i + 1 - 2.5) * s).epsilon(4 * kU));
    CHECK(out_b[std::size_t(i)] == Approx(2 * (i + 1 - 2.5) * s + 1).epsilon(4 * kU));
    CHECK(out_ref[std::size_t(i)] == Approx(2 * (i + 1 - 2.5) * s + 1).epsilon(4 * kU));
  }
  // A constant row has zero variance: the output is the bias (eps > 0).
  const std::vector<float> c(37, 7.5f), w37(37, 3.0f), b37 = random_floats(37, -1, 1, 51);
  std::vector<float> oc(37);
  arx::ops::layer_norm(c, w37, b37, 1e-5f, oc);
  CHECK(oc == b37);
}

TEST_CASE("layer_norm reference and fast kernel match double precision, also far from zero mean",
          "[ops][norm]") {
  for (std::size_t n : kSizes) {
    for (float offset : {0.0f, 1e4f}) {
      for (bool with_bias : {false, true}) {
        INFO("n = " << n << ", offset = " << offset << ", bias = " << with_bias);
        auto x = random_floats(n, -1.0f, 1.0f, 61);
        for (auto& v : x) v += offset;
        const auto w = random_floats(n, -2.0f, 2.0f, 62);
        const auto b = with_bias ? random_floats(n, -1.0f, 1.0f, 63) : std::vector<float>{};
        const float eps = 1e-5f;
        guarded fast(n), ref(n);
        arx::ops::layer_norm(x, w, b, eps, fast.span());
        arx::ops::ref::layer_norm(x, w, b, eps, ref.span());
        if (n == 0) continue;
        const auto want = layer_norm_exact(x, w, b, eps);
        const auto exact = [&](std::size_t i) { return want.out[Eigen::Index(i)]; };
        // The fast kernel's mean is off by up to ~70u·mean|x − mean| (a blocked sum of the
        // deviations corrects a first estimate); that shift, scaled by w/σ, is the second term.
        // It does not grow with |mean|: the offset 1e4 case checks that.
        const double mean_dev = (as_double(x).array() - want.mean).abs().mean();
        const auto tol = [&](std::size_t i) {
          const double wi = std::abs(double(w[i]));
          const double bi = with_bias ? std::abs(double(b[i])) : 0.0;
          return kFastRelTol * std::abs(exact(i)) + 70 * kU * mean_dev * want.inv_std * wi +
                 kU * bi + 1e-30;
        };
        CHECK(first_mismatch(fast.span(), exact, tol) == n);
        CHECK(first_mismatch(ref.span(), exact, [&](std::size_t i) {
                return kRefRelTol * std::abs(exact(i)) + 1e-30;
              }) == n);
        CHECK(fast.canaries_intact());
      }
    }
  }
}

TEST_CASE("layer_norm output has zero mean and unit variance, row-batched", "[ops][norm]") {
  const std::size_t rows = 3, n = 4095;
  std::vector<float> x = random_floats(rows * n, -5.0f, 9.0f, 71), out(rows * n);
  const std::vector<float> ones(n, 1.0f);
  arx::ops::layer_norm(
      arx::tensor_view<const float>(x.data(), {std::int64_t(rows), std::int64_t(n)}), ones, {},
      0.0f, arx::tensor_view<float>(out.data(), {std::int64_t(rows), std::int64_t(n)}));
  for (std::size_t r = 0; r < rows; ++r) {
    double s = 0, ss = 0;
    for (std::size_t j = 0; j < n; ++j) {
      s += out[r * n + j];
      ss += double(out[r * n + j]) * out[r * n + j];
    }
    CHECK(std::abs(s / n) < 1e-5);
    CHECK(ss / n == Approx(1.0).epsilon(1e-5));
  }
  arx::tensor<float> bad({3, 4095});
  CHECK_THROWS_AS(arx::ops::layer_norm(bad, ones, {}, 1e-5f, arx::tensor_view<float>()),
                  arx::shape_error);
}
