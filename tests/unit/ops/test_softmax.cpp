// ops/softmax.hpp: softmax and log_softmax — hand-computed values, double-precision comparisons,
// invariances, masks, special values and huge inputs, for the reference and the fast kernel.
#include <algorithm>
#include <arx/ops/softmax.hpp>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <span>
#include <vector>

#include "unit/ops/float_test_util.hpp"

namespace {

using namespace float_test;

constexpr std::size_t kSizes[] = {1, 2, 3, 15, 16, 17, 31, 33, 4095, 4096, 5000};
constexpr float kInf = std::numeric_limits<float>::infinity();

// Probabilities, relative: exp within ~2 ulp (xsimd's polynomial; libm's is better), the
// normaliser within 69u (softmax.hpp), one rounding of the product.
constexpr double kProbRelTol = 80 * kU;
// Below this, float exp may flush to zero (xsimd's exp returns 0 under ~1e-38).
constexpr double kProbAbsTol = 1e-37;

// Tolerance of p = exp(t)/Σ with t = s·x − M. The exponent is a float: rounding t costs up to
// ½ulp(t), and without FMA rounding s·x costs ½ulp(s·x) more; exp turns that absolute error into
// relative error u·(|t| + |s·x|) — exp's condition number, large only for tiny probabilities.
double prob_tol(double p, double sx, double sM) {
  return (kProbRelTol + kU * (std::abs(sx - sM) + std::abs(sx))) * p + kProbAbsTol;
}
// Maximum of scale·x.
double scaled_max(const std::vector<float>& x, double scale) {
  double m = -INFINITY;
  for (float v : x) m = std::max(m, scale * v);
  return m;
}

// Double-precision softmax / log-softmax of scale·x, written independently of the library.
std::vector<double> softmax_exact(const std::vector<float>& x, double scale) {
  double m = -INFINITY;
  for (float v : x) m = std::max(m, scale * v);
  double s = 0;
  for (float v : x) s += std::exp(scale * v - m);
  std::vector<double> p;
  for (float v : x) p.push_back(std::exp(scale * v - m) / s);
  return p;
}
std::vector<double> log_softmax_exact(const std::vector<float>& x, double scale) {
  double m = -INFINITY;
  for (float v : x) m = std::max(m, scale * v);
  double s = 0;
  for (float v : x) s += std::exp(scale * v - m);
  std::vector<double> y;
  for (float v : x) y.push_back(scale * v - m - std::log(s));
  return y;
}

using kernel_t = void (*)(std::span<float>, float);
struct named_kernel {
  const char* name;
  kernel_t softmax, log_softmax;
};
const named_kernel kKernels[] = {
    {"fast", [](std::span<float> x, float s) { arx::ops::softmax(x, s); },
     [](std::span<float> x, float s) { arx::ops::log_softmax(x, s); }},
    {"ref", [](std::span<float> x, float s) { arx::ops::ref::softmax(x, s); },
     [](std::span<float> x, float s) { arx::ops::ref::log_softmax(x, s); }},
};

}  // namespace

TEST_CASE("softmax of {0, ln 2, ln 3} is {1/6, 2/6, 3/6}", "[ops][softmax]") {
  for (const auto& k : kKernels) {
    INFO(k.name);
    std::vector<float> x = {0.0f, float(std::log(2.0)), float(std::log(3.0))};
    k.softmax(x, 1.0f);
    CHECK(x[0] == Approx(1.0 / 6).epsilon(kProbRelTol));
    CHECK(x[1] == Approx(2.0 / 6).epsilon(kProbRelTol));
    CHECK(x[2] == Approx(3.0 / 6).epsilon(kProbRelTol));
    std::vector<float> y = {0.0f, float(std::log(2.0)), float(std::log(3.0))};
    k.log_softmax(y, 1.0f);
    CHECK(y[0] == Approx(std::log(1.0 / 6)).epsilon(8 * kU));
    CHECK(y[2] == Approx(std::log(3.0 / 6)).epsilon(8 * kU));
    // A single entry gets all the mass; equal entries share it.
    std::vector<float> one = {-123.0f};
    k.softmax(one, 1.0f);
    CHECK(one[0] == 1.0f);
    std::vector<float> eq(37, 2.5f);
    k.softmax(eq, 0.1f);
    for (float p : eq) CHECK(p == Approx(1.0 / 37).epsilon(kProbRelTol));
  }
}

TEST_CASE("softmax and log_softmax match double precision at awkward sizes and scales",
          "[ops][softmax]") {
  for (const auto& k : kKernels) {
    for (std::size_t n : kSizes) {
      for (float scale : {1.0f, 0.08838835f /* 1/sqrt(128) */, 3.0f}) {
        INFO(k.name << ", n = " << n << ", scale = " << scale);
        const auto x = random_floats(n, -12.0f, 12.0f, std::uint32_t(n) + 7);
        const auto p = softmax_exact(x, scale);
        const auto lp = log_softmax_exact(x, scale);
        const double sM = scaled_max(x, scale);
        auto y = x;
        k.softmax(y, scale);
        CHECK(first_mismatch(
                  y, [&](std::size_t i) { return p[i]; },
                  [&](std::size_t i) { return prob_tol(p[i], double(scale) * x[i], sM); }) == n);
        double sum = 0;
        for (float v : y) sum += v;
        CHECK(std::abs(sum - 1.0) <= kProbRelTol);

        y = x;
        k.log_softmax(y, scale);
        // y = t − lse with t = s·x − M: a few roundings of each term (|t| ≤ |y| + lse) plus the
        // rounding of s·x as in prob_tol, and the sum inside lse within ~80u relative, i.e. lse
        // within ~80u absolute.
        const double lse = -*std::max_element(lp.begin(), lp.end());
        CHECK(first_mismatch(
                  y, [&](std::size_t i) { return lp[i]; },
                  [&](std::size_t i) {
                    return 4 * kU * (std::abs(lp[i]) + lse) + kU * std::abs(scale * x[i]) +
                           kProbRelTol;
                  }) == n);
      }
    }
  }
}

TEST_CASE("fast softmax agrees with the reference, including the vector tail", "[ops][softmax]") {
  for (std::size_t n : kSizes) {
    INFO("n = " << n);
    const auto x = random_floats(n, -40.0f, 40.0f, std::uint32_t(n));
    auto a = x, b = x;
    arx::ops::softmax(a, 0.5f);
    arx::ops::ref::softmax(b, 0.5f);
    const double sM = scaled_max(x, 0.5);
    CHECK(first_mismatch(
              a, [&](std::size_t i) { return b[i]; },
              [&](std::size_t i) { return 2 * prob_tol(b[i], 0.5 * x[i], sM); }) == n);
  }
  std::vector<float> empty;
  arx::ops::softmax(empty, 1.0f);  // nothing to do, no throw
  arx::ops::log_softmax(empty, 1.0f);
}

TEST_CASE("softmax is shift invariant and scale equals pre-multiplying", "[ops][softmax]") {
  for (const auto& k : kKernels) {
    INFO(k.name);
    // Multiples of 2^-10 in [-8, 8]: adding 64 or halving is exact in float, so any difference
    // comes from the kernel.
    auto x = random_floats(1000, -8.0f, 8.0f, 81);
    for (auto& v : x) v = std::round(v * 1024.0f) / 1024.0f;
    auto shifted = x, scaled = x, p = x;
    for (auto& v : shifted) v += 64.0f;
    for (auto& v : scaled) v *= 0.5f;
    k.softmax(p, 1.0f);
    k.softmax(shifted, 1.0f);
    k.softmax(scaled, 1.0f);
    auto q = x;
    k.softmax(q, 0.5f);
    const auto close = [&](const std::vector<float>& a, const std::vector<float>& b) {
      return first_mismatch(
                 a, [&](std::size_t i) { return b[i]; },
                 [&](std::size_t i) { return 2 * kProbRelTol * b[i]; }) == a.size();
    };
    CHECK(close(shifted, p));
    CHECK(close(q, scaled));
  }
}

TEST_CASE("softmax masks: -inf entries get zero, a fully masked row gives zeros not NaN",
          "[ops][softmax]") {
  for (const auto& k : kKernels) {
    for (std::size_t n : {std::size_t(5), std::size_t(40)}) {
      INFO(k.name << ", n = " << n);
      // Causal mask: the first 3 entries visible.
      auto x = random_floats(n, -2.0f, 2.0f, 91);
      for (std::size_t i = 3; i < n; ++i) x[i] = -kInf;
      const std::vector<float> visible(x.begin(), x.begin() + 3);
      const auto p = softmax_exact(visible, 1.0);
      auto y = x;
      k.softmax(y, 1.0f);
      for (std::size_t i = 0; i < 3; ++i) CHECK(y[i] == Approx(p[i]).epsilon(kProbRelTol));
      for (std::size_t i = 3; i < n; ++i) CHECK(y[i] == 0.0f);
      y = x;
      k.log_softmax(y, 1.0f);
      for (std::size_t i = 3; i < n; ++i) CHECK(y[i] == -kInf);
      CHECK(y[0] == Approx(std::log(p[0])).epsilon(8 * kU));

      std::vector<float> all(n, -kInf);
      k.softmax(all, 1.0f);
      CHECK(std::all_of(all.begin(), all.end(), [](float v) { return v == 0.0f; }));
      std::fill(all.begin(), all.end(), -kInf);
      k.log_softmax(all, 0.125f);
      CHECK(std::all_of(all.begin(), all.end(), [](float v) { return v == -kInf; }));
    }
  }
}

TEST_CASE("softmax: a NaN or +inf entry turns the whole row NaN", "[ops][softmax]") {
  for (const auto& k : kKernels) {
    for (float bad : {std::numeric_limits<float>::quiet_NaN(), kInf}) {
      for (std::size_t pos : {std::size_t(0), std::size_t(20), std::size_t(36)}) {
        INFO(k.name << ", bad = " << bad << " at " << pos);
        auto x = random_floats(37, -1.0f, 1.0f, 101);
        x[pos] = bad;
        auto y = x;
        k.softmax(y, 1.0f);
        CHECK(std::all_of(y.begin(), y.end(), [](float v) { return std::isnan(v); }));
        y = x;
        k.log_softmax(y, 1.0f);
        CHECK(std::all_of(y.begin(), y.end(), [](float v) { return std::isnan(v); }));
      }
    }
  }
}

TEST_CASE("softmax of huge inputs does not overflow", "[ops][softmax]") {
  for (const auto& k : kKernels) {
    INFO(k.name);
    const float big = 3e38f;
    std::vector<float> x = {big, -big, big, 0.0f, 1e30f};
    k.softmax(x, 1.0f);
    CHECK(x == std::vector<float>{0.5f, 0.0f, 0.5f, 0.0f, 0.0f});

    std::vector<float> y = {1e30f, 0.0f, -1e30f};
    k.log_softmax(y, 1.0f);
    CHECK(y[0] == 0.0f);
    CHECK(y[1] == -1e30f);
    CHECK(y[2] == -2e30f);

    // Large scale·x: computed relative to the maximum, so still exact-ish.
    std::vector<float> z = {1000.0f, 1000.0f + float(std::log(3.0))};
    k.softmax(z, 1.0f);
    CHECK(z[0] == Approx(0.25).epsilon(1e-4));  // ln 3 is rounded at ulp(1000) = 6e-5
    CHECK(z[1] == Approx(0.75).epsilon(1e-4));
  }
}

TEST_CASE("softmax rejects a scale that is not finite and positive", "[ops][softmax]") {
  std::vector<float> x = {1, 2, 3};
  for (float s : {0.0f, -1.0f, kInf, std::numeric_limits<float>::quiet_NaN()}) {
    INFO("scale = " << s);
    CHECK_THROWS_AS(arx::ops::softmax(x, s), arx::invalid_argument);
    CHECK_THROWS_AS(arx::ops::log_softmax(x, s), arx::invalid_argument);
    CHECK_THROWS_AS(arx::ops::ref::softmax(x, s), arx::invalid_argument);
  }
}

TEST_CASE("softmax of every row of a strided matrix", "[ops][softmax]") {
  const std::size_t rows = 4, n = 33, stride = 48;
  auto buf = random_floats(rows * stride, -5.0f, 5.0f, 111);
  const auto orig = buf;
  arx::tensor_view<float> v(buf.data(), {std::int64_t(rows), std::int64_t(n)},
                            {std::int64_t(stride), 1, 0, 0});
  arx::ops::softmax(v, 0.25f);
  auto buf2 = orig;
  arx::ops::ref::log_softmax(
      arx::tensor_view<float>(buf2.data(), {std::int64_t(rows), std::int64_t(n)},
                              {std::int64_t(stride), 1, 0, 0}),
      0.25f);
  for (std::size_t r = 0; r < rows; ++r) {
    INFO("row " << r);
    std::vector<float> row(orig.begin() + std::ptrdiff_t(r * stride),
                           orig.begin() + std::ptrdiff_t(r * stride + n));
    const auto p = softmax_exact(row, 0.25);
    for (std::size_t j = 0; j < n; ++j) {
      CHECK(buf[r * stride + j] == Approx(p[j]).epsilon(kProbRelTol));
      CHECK(buf2[r * stride + j] == Approx(std::log(p[j])).epsilon(8 * kU).margin(8 * kU));
    }
    for (std::size_t j = n; j < stride; ++j) CHECK(buf[r * stride + j] == orig[r * stride + j]);
  }
  arx::tensor<float> t3({2, 2, 2});
  CHECK_THROWS_AS(arx::ops::softmax(t3, 1.0f), arx::shape_error);
}
