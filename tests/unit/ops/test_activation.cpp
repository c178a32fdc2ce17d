// ops/activation.hpp: SiLU, GELU (tanh and erf), SwiGLU, GeGLU — hand-computed values, the
// references and fast kernels against double-precision definitions with condition-aware
// tolerances, the odd-part identity, extreme inputs, aliasing and size checks.
#include <algorithm>
#include <arx/ops/activation.hpp>
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

constexpr std::size_t kSizes[] = {0, 1, 3, 15, 16, 17, 31, 33, 4095, 4096, 5000};
constexpr double kSqrt2OverPi = 0.79788456080286535588;

// Relative tolerance per unit of condition number. Each activation ends in exp(t) or erfc(z) of an
// argument computed in float with a few roundings; a relative error δ of the argument becomes
// |t|·δ (exp) or ~2z²·δ (erfc, z ≫ 1) relative error of the result, so the tolerance is
// kActRelTol · cond(x) with cond = 1 (silu, exact argument), 1 + |t| (gelu), 1 + z² (gelu_erf).
// Measured worst cases are ≤ 5.5u · cond with libm and xsimd.
constexpr double kActRelTol = 8 * kU;
// Results below the smallest normal float are compared absolutely.
constexpr double kActAbsTol = 1e-37;

enum class act { silu, gelu, gelu_erf };
const act kActs[] = {act::silu, act::gelu, act::gelu_erf};
const char* name(act a) { return a == act::silu ? "silu" : a == act::gelu ? "gelu" : "gelu_erf"; }

double gelu_arg(double x) { return -2 * kSqrt2OverPi * (x + 0.044715 * x * x * x); }  // t

// Double-precision definitions. Below x ≈ −5 (tanh) / −3 (erf) even double cancels in 1 + tanh
// and 1 + erf, so there the identities ½(1 + tanh y) = 1/(1 + e^−2y) and ½(1 + erf z) =
// ½·erfc(−z) are used; a test below checks the identities where both forms are accurate.
double exact(act a, double x) {
  switch (a) {
    case act::silu:
      return x / (1 + std::exp(-x));
    case act::gelu:
      return x > -5 ? 0.5 * x * (1 + std::tanh(kSqrt2OverPi * (x + 0.044715 * x * x * x)))
                    : x / (1 + std::exp(gelu_arg(x)));
    case act::gelu_erf:
      return x > -3 ? 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)))
                    : 0.5 * x * std::erfc(-x / std::sqrt(2.0));
  }
  return 0;
}
double cond(act a, double x) {
  switch (a) {
    case act::silu:
      return 1;
    case act::gelu:
      return 1 + std::abs(gelu_arg(x));
    case act::gelu_erf:
      return 1 + x * x / 2;
  }
  return 1;
}
double tol(act a, double x) { return kActRelTol * cond(a, x) * std::abs(exact(a, x)) + kActAbsTol; }

void run_fast(act a, std::span<const float> x, std::span<float> out) {
  if (a == act::silu) arx::ops::silu(x, out);
  if (a == act::gelu) arx::ops::gelu(x, out);
  if (a == act::gelu_erf) arx::ops::gelu_erf(x, out);
}
void run_ref(act a, std::span<const float> x, std::span<float> out) {
  if (a == act::silu) arx::ops::ref::silu(x, out);
  if (a == act::gelu) arx::ops::ref::gelu(x, out);
  if (a == act::gelu_erf) arx::ops::ref::gelu_erf(x, out);
}

// Index of the first x[i] whose result is outside tol(a, x[i]) of the definition.
std::size_t first_bad(act a, std::span<const float> x, std::span<const float> y) {
  for (std::size_t i = 0; i < x.size(); ++i)
    if (!(std::abs(double(y[i]) - exact(a, x[i])) <= tol(a, x[i]))) return i;
  return x.size();
}

}  // namespace

TEST_CASE("activations: hand-computed values", "[ops][activation]") {
  struct row {
    float x;
    double silu, gelu, gelu_erf;
  };
  const row rows[] = {
      {0.0f, 0.0, 0.0, 0.0},
      {1.0f, 0.7310585786300049, 0.8411919906082768, 0.8413447460685429},
      {-1.0f, -0.2689414213699951, -0.15880800939172324, -0.15865525393145707},
      {2.0f, 1.7615941559557646, 1.954597694087775, 1.9544997361036416},
      {-3.0f, -0.14227761953270035, -0.0036373920817729943, -0.00404969409489031},
  };
  for (const auto& r : rows) {
    INFO("x = " << r.x);
    std::vector<float> x = {r.x}, y(1), yr(1);
    for (act a : kActs) {
      const double want = a == act::silu ? r.silu : a == act::gelu ? r.gelu : r.gelu_erf;
      run_fast(a, x, y);
      run_ref(a, x, yr);
      CHECK(y[0] == Approx(want).epsilon(kActRelTol * cond(a, r.x)));
      CHECK(yr[0] == Approx(want).epsilon(kActRelTol * cond(a, r.x)));
    }
  }
}

TEST_CASE("the double-precision oracles' two forms agree where both are accurate",
          "[ops][activation]") {
  for (double x = -5; x <= 5; x += 0.01) {
    const double y = kSqrt2OverPi * (x + 0.044715 * x * x * x);
    CHECK(0.5 * (1 + std::tanh(y)) == Approx(1 / (1 + std::exp(-2 * y))).epsilon(1e-9));
    if (x > -3)
      CHECK(0.5 * (1 + std::erf(x / std::sqrt(2.0))) ==
            Approx(0.5 * std::erfc(-x / std::sqrt(2.0))).epsilon(1e-12));
  }
}

TEST_CASE("activations match double precision across the float range", "[ops][activation]") {
  // A dense grid over [−12, 12] (the tails reach the smallest normal floats) plus random inputs.
  std::vector<float> x;
  for (float v = -12.0f; v <= 12.0f; v += 0.00123f) x.push_back(v);
  const auto r = random_floats(20000, -30.0f, 30.0f, 1);
  x.insert(x.end(), r.begin(), r.end());
  std::vector<float> y(x.size());
  for (act a : kActs) {
    INFO(name(a));
    run_fast(a, x, y);
    std::size_t bad = first_bad(a, x, y);
    if (bad < x.size()) INFO("fast: x = " << x[bad] << ", got " << y[bad]);
    CHECK(bad == x.size());
    run_ref(a, x, y);
    bad = first_bad(a, x, y);
    if (bad < x.size()) INFO("ref: x = " << x[bad] << ", got " << y[bad]);
    CHECK(bad == x.size());
  }
}

TEST_CASE("fast activations agree with the references at awkward sizes", "[ops][activation]") {
  for (std::size_t n : kSizes) {
    const auto x = random_floats(n, -15.0f, 15.0f, std::uint32_t(n) + 2);
    for (act a : kActs) {
      INFO(name(a) << ", n = " << n);
      guarded fast(n), ref(n);
      run_fast(a, x, fast.span());
      run_ref(a, x, ref.span());
      std::size_t bad = n;
      for (std::size_t i = 0; i < n && bad == n; ++i)
        if (!(std::abs(double(fast.span()[i]) - ref.span()[i]) <= 2 * tol(a, x[i]))) bad = i;
      CHECK(bad == n);
      CHECK(fast.canaries_intact());
      CHECK(ref.canaries_intact());
    }
  }
}

TEST_CASE("activations: f(x) - f(-x) = x", "[ops][activation]") {
  // σ(x) + σ(−x) = 1 and Φ(x) + Φ(−x) = 1, and the GELU tanh argument is odd.
  const auto pos = random_floats(4096, 0.0f, 20.0f, 3);
  std::vector<float> neg(pos.size());
  for (std::size_t i = 0; i < pos.size(); ++i) neg[i] = -pos[i];
  std::vector<float> fp(pos.size()), fn(pos.size());
  for (act a : kActs) {
    for (bool fast : {true, false}) {
      INFO(name(a) << (fast ? " fast" : " ref"));
      (fast ? run_fast : run_ref)(a, pos, fp);
      (fast ? run_fast : run_ref)(a, neg, fn);
      double worst = 0;
      for (std::size_t i = 0; i < pos.size(); ++i)
        worst = std::max(worst, std::abs(double(fp[i]) - fn[i] - pos[i]) / (pos[i] + 1e-30));
      CHECK(worst <= 2 * kActRelTol);
    }
  }
}

TEST_CASE("activations of extreme inputs: no NaN for finite x", "[ops][activation]") {
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> x = {0.0f,   -0.0f, 1e-30f, -1e-30f, 1e-45f, 3e38f, -3e38f, 1e30f,
                          -1e30f, 88.0f, -88.0f, 89.0f,   -89.0f, 1e13f, -1e13f, inf};
  for (float m = 1e-38f; m < 3e38f; m *= 7.3f) {
    x.push_back(m);
    x.push_back(-m);
  }
  std::vector<float> y(x.size());
  for (act a : kActs) {
    for (bool fast : {true, false}) {
      INFO(name(a) << (fast ? " fast" : " ref"));
      (fast ? run_fast : run_ref)(a, x, y);
      for (std::size_t i = 0; i < x.size(); ++i) {
        INFO("x = " << x[i] << " -> " << y[i]);
        CHECK_FALSE(std::isnan(y[i]));
        if (x[i] >= 20.0f) CHECK(y[i] == x[i]);                // gate fully open
        if (x[i] <= -100.0f) CHECK(std::abs(y[i]) <= 1e-37f);  // fully closed
        if (x[i] != 0 && std::abs(x[i]) < 1e-20f) CHECK(y[i] == Approx(x[i] / 2).epsilon(1e-6));
      }
    }
  }
  std::vector<float> nan = {std::numeric_limits<float>::quiet_NaN()};
  arx::ops::silu(nan);
  CHECK(std::isnan(nan[0]));
}

TEST_CASE("swiglu geglu geglu_erf equal activation times up, in place too", "[ops][activation]") {
  for (std::size_t n : {std::size_t(0), std::size_t(1), std::size_t(33), std::size_t(4096)}) {
    INFO("n = " << n);
    const auto g = random_floats(n, -8.0f, 8.0f, 4);
    const auto u = random_floats(n, -2.0f, 2.0f, 5);
    struct glu {
      act a;
      void (*fast)(std::span<const float>, std::span<const float>, std::span<float>);
      void (*ref)(std::span<const float>, std::span<const float>, std::span<float>);
    };
    const glu glus[] = {{act::silu, arx::ops::swiglu, arx::ops::ref::swiglu},
                        {act::gelu, arx::ops::geglu, arx::ops::ref::geglu},
                        {act::gelu_erf, arx::ops::geglu_erf, arx::ops::ref::geglu_erf}};
    for (const auto& k : glus) {
      INFO(name(k.a));
      // Same batch code then one product: bit-identical to activation then mul.
      std::vector<float> want(n), got(n);
      run_fast(k.a, g, want);
      arx::ops::mul(want, u);
      k.fast(g, u, got);
      CHECK(got == want);
      auto in_gate = g;
      k.fast(in_gate, u, in_gate);
      CHECK(in_gate == want);
      auto in_up = u;
      k.fast(g, in_up, in_up);
      CHECK(in_up == want);
      // The reference: activation (within tol) times u, rounded once more.
      k.ref(g, u, got);
      for (std::size_t i = 0; i < n; ++i) {
        const double e = exact(k.a, g[i]) * u[i];
        if (!(std::abs(got[i] - e) <= tol(k.a, g[i]) * std::abs(u[i]) + kU * std::abs(e)))
          FAIL("ref at " << i << ": " << got[i] << " vs " << e);
      }
    }
  }
}

TEST_CASE("activation size mismatches throw shape_error", "[ops][activation]") {
  std::vector<float> a(8), b(7), c(8);
  CHECK_THROWS_AS(arx::ops::silu(a, b), arx::shape_error);
  CHECK_THROWS_AS(arx::ops::gelu(a, b), arx::shape_error);
  CHECK_THROWS_AS(arx::ops::ref::gelu_erf(a, b), arx::shape_error);
  CHECK_THROWS_AS(arx::ops::swiglu(a, b, c), arx::shape_error);
  CHECK_THROWS_AS(arx::ops::geglu(a, c, b), arx::shape_error);
  CHECK_THROWS_WITH(arx::ops::geglu_erf(a, b, c),
                    Catch::Contains("up") && Catch::Contains("7") && Catch::Contains("8"));
}
