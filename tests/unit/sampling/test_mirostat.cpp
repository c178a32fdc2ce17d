// Mirostat v1 / v2 (arx/sampling/mirostat.hpp) against closed forms written out here in double
// from the paper's / llama.cpp's definitions (softmax, surprise -log2 p, Zipf-exponent estimate
// from the probabilities, k formula with pow): the truncated distribution, the mu update after
// every draw, chi-square of the draws (with mutation checks that the same statistic rejects a
// wrong closed form), and convergence of the average surprise to tau.
#include <catch2/catch.hpp>

#include "throws.hpp"
#include "unit/sampling/chi_square.hpp"

#include <arx/core/error.hpp>
#include <arx/sampling/chain.hpp>
#include <arx/sampling/mirostat.hpp>
#include <arx/sampling/rng.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>
#include <numeric>
#include <span>
#include <string>
#include <vector>

using Catch::Matchers::Contains;

namespace {

constexpr float ninf = -std::numeric_limits<float>::infinity();

#ifdef NDEBUG
constexpr std::int64_t kDraws = 100000;  // draws per chi-square test
constexpr int kSteps = 10000;            // steps averaged in the convergence tests
constexpr double kConvergence = 0.02;    // |average surprise - tau| allowed
#else
constexpr std::int64_t kDraws = 20000;  // Debug / sanitizer builds: fewer, same checks
constexpr int kSteps = 3000;
constexpr double kConvergence = 0.05;
#endif

// n logits ~ N(0, sd) (Box-Muller on arx::rng), fixed by the seed.
std::vector<float> normal_logits(std::size_t n, double sd, std::uint64_t seed) {
  arx::rng g(seed);
  std::vector<float> v(n);
  for (auto& x : v) {
    const double u1 = 1.0 - g.uniform(), u2 = g.uniform();
    x = float(sd * std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2));
  }
  return v;
}

// The fixed part of a closed form: softmax in double and the ids ordered by probability, largest
// first (ties: lower id; -inf logits left out), with rank[id] (or npos) and prefix sums.
struct ranked_dist {
  std::vector<double> p;
  std::vector<std::size_t> order, rank;
  std::vector<double> cum;  // cum[j] = sum of p over order[0 .. j)
  explicit ranked_dist(std::span<const float> logits)
      : p(softmax_double(logits)), rank(logits.size(), std::size_t(-1)) {
    for (std::size_t i = 0; i < logits.size(); ++i)
      if (logits[i] != ninf) order.push_back(i);
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return logits[a] > logits[b]; });
    cum.push_back(0.0);
    for (std::size_t j = 0; j < order.size(); ++j) {
      rank[order[j]] = j;
      cum.push_back(cum.back() + p[order[j]]);
    }
  }
  // The distribution keeping the `len` most probable tokens, renormalized.
  std::vector<double> keep(std::size_t len) const {
    std::vector<double> out(p.size(), 0.0);
    for (std::size_t j = 0; j < len; ++j) out[order[j]] = p[order[j]] / cum[len];
    return out;
  }
  // Probability of `id` in keep(len).
  double prob(std::size_t id, std::size_t len) const {
    return rank[id] < len ? p[id] / cum[len] : 0.0;
  }
};

// ---- closed forms ------------------------------------------------------------------------------

// Mirostat 2.0: keep the tokens with surprise -log2 p <= mu (at least the most probable one).
// Returns how many (a prefix of the ranking).
std::size_t v2_len(const ranked_dist& d, double mu) {
  std::size_t len = 0;
  while (len < d.order.size() && -std::log2(d.p[d.order[len]]) <= mu) ++len;
  return std::max<std::size_t>(len, 1);
}

// Mirostat 1: s_hat from the m most probable (least squares of ln(p_i/p_{i+1}) on
// ln((i+2)/(i+1))), k = (eps 2^mu / (1 - N^-eps))^(1/s_hat); keeps the top max(1, floor(k)).
double v1_s_hat(const ranked_dist& d, int m) {
  double num = 0.0, den = 0.0;
  for (std::size_t i = 0; i + 1 < std::min<std::size_t>(std::size_t(m), d.order.size()); ++i) {
    const double t = std::log(double(i + 2) / double(i + 1));
    const double b = std::log(d.p[d.order[i]] / d.p[d.order[i + 1]]);
    num += t * b;
    den += t * t;
  }
  return num / den;
}
double v1_k(double s, double mu, double n_vocab) {
  const double eps = s - 1.0;
  return std::pow(eps * std::pow(2.0, mu) / (1.0 - std::pow(n_vocab, -eps)), 1.0 / s);
}
double v1_k(const ranked_dist& d, double mu, int m, double n_vocab) {
  return v1_k(v1_s_hat(d, m), mu, n_vocab);
}
std::size_t v1_len(const ranked_dist& d, double k) {
  const std::size_t n = d.order.size();
  return k >= double(n) ? n : std::max<std::size_t>(1, std::size_t(k));
}

void check_distribution(std::span<const float> got, const std::vector<double>& want) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    INFO("token " << i);
    CHECK(double(got[i]) == Approx(want[i]).margin(1e-6));
  }
}

// The surprise levels of `logits` are at least `gap` away from mu (so float vs double rounding
// cannot move a token across the threshold).
bool v2_mu_clear(std::span<const float> logits, double mu, double gap) {
  for (double p : softmax_double(logits))
    if (p > 0 && std::fabs(-std::log2(p) - mu) < gap) return false;
  return true;
}

}  // namespace

// ---- Mirostat 2.0 -----------------------------------------------------------------------------

TEST_CASE("mirostat_v2: truncation equals the closed form for every mu", "[sampling][mirostat]") {
  const auto logits = normal_logits(64, 2.0, 11);
  const ranked_dist d(logits);
  arx::chain<arx::mirostat_v2> s{arx::mirostat_v2{5.0f, 0.1f}};
  auto& mv = std::get<0>(s.processors());
  CHECK(mv.mu == 10.0f);  // 2 tau
  std::vector<float> got(logits.size());
  std::size_t last = 0, distinct = 0;
  for (double mu : {-1.0, 0.3, 1.7, 2.9, 4.1, 5.3, 7.7, 10.0, 40.0}) {
    INFO("mu " << mu);
    REQUIRE(v2_mu_clear(logits, mu, 1e-4));
    mv.mu = float(mu);
    s.distribution(logits, {}, got);
    const std::size_t len = v2_len(d, mu);
    check_distribution(got, d.keep(len));
    distinct += len != last;
    last = len;
  }
  CHECK(distinct >= 6);
  // mu below every surprise: the most probable token alone; above all: the plain softmax.
  CHECK(v2_len(d, -1.0) == 1);
  CHECK(v2_len(d, 40.0) == logits.size());
}

TEST_CASE("mirostat_v2: one update by hand", "[sampling][mirostat]") {
  // p = 1/2, 1/4, 1/8, 1/8: surprises 1, 2, 3, 3 bits. tau 1 -> mu 2 keeps {0, 1}: 2/3, 1/3.
  const std::vector<float> logits = {std::log(0.5f), std::log(0.25f), std::log(0.125f),
                                     std::log(0.125f)};
  arx::mirostat_v2 m(1.0f, 0.5f);
  arx::chain<arx::mirostat_v2> s{m};
  const auto& c = s.process(logits, {});
  REQUIRE(c.size() == 2);
  auto& mv = std::get<0>(s.processors());
  mv.accept(0, c);  // surprise log2(3/2)
  CHECK(mv.mu == Approx(2.0 - 0.5 * (std::log2(1.5) - 1.0)).epsilon(1e-6));
  const float mu1 = mv.mu;
  mv.accept(1, c);  // surprise log2 3
  CHECK(mv.mu == Approx(mu1 - 0.5 * (std::log2(3.0) - 1.0)).epsilon(1e-6));
  mv.reset();
  CHECK(mv.mu == 2.0f);
  REQUIRE_THROWS_TYPED(mv.accept(3, c), arx::invalid_argument, Contains("token 3"));
}

TEST_CASE("mirostat_v2: mu follows the update rule after every draw; draws match the closed form",
          "[sampling][mirostat]") {
  const auto logits = normal_logits(64, 2.0, 12);
  const ranked_dist d(logits);
  const double tau = 3.0, eta = 0.1;
  arx::chain<arx::mirostat_v2> s{arx::mirostat_v2{float(tau), float(eta)}};
  auto& mv = std::get<0>(s.processors());
  arx::rng g(99);
  std::vector<std::int64_t> counts(logits.size(), 0);
  std::vector<double> expected(logits.size(), 0.0), wrong(logits.size(), 0.0);
  double max_err = 0.0;
  for (std::int64_t step = 0; step < kDraws; ++step) {
    const double mu = mv.mu;
    const std::size_t len = v2_len(d, mu);
    const auto id = std::size_t(s.sample(logits, {}, g));
    const double p_id = d.prob(id, len);
    REQUIRE(p_id > 0.0);
    ++counts[id];
    for (std::size_t j = 0; j < len; ++j) expected[d.order[j]] += d.prob(d.order[j], len);
    // Mutation: the threshold a quarter bit too generous.
    const std::size_t wlen = v2_len(d, mu + 0.25);
    for (std::size_t j = 0; j < wlen; ++j) wrong[d.order[j]] += d.prob(d.order[j], wlen);
    const double want_mu = mu - eta * (-std::log2(p_id) - tau);
    max_err = std::max(max_err, std::fabs(double(mv.mu) - want_mu));
  }
  CHECK(max_err < 1e-5);
  for (auto& x : expected) x /= double(kDraws);
  for (auto& x : wrong) x /= double(kDraws);
  const auto ok = chi_square_test(counts, expected, kDraws);
  const auto bad = chi_square_test(counts, wrong, kDraws);
  WARN("mirostat_v2 dynamic: chi2 " << ok.statistic << " df " << ok.df << " p " << ok.p
                                    << "; mutation (mu + 0.25) p " << bad.p);
  CHECK(ok.p > 1e-6);
  CHECK(bad.p < 1e-6);
}

TEST_CASE("mirostat_v2: chi-square of the draws at a fixed mu, with a mutation check",
          "[sampling][mirostat]") {
  const auto logits = normal_logits(64, 2.0, 13);
  const ranked_dist d(logits);
  const double mu = 5.0;  // eta 0: mu stays at 2 tau
  REQUIRE(v2_mu_clear(logits, mu, 1e-4));
  arx::chain<arx::mirostat_v2> s{arx::mirostat_v2{2.5f, 0.0f}};
  const auto counts = histogram(s, logits, {}, 7, kDraws);
  CHECK(std::get<0>(s.processors()).mu == 5.0f);
  const std::size_t len = v2_len(d, mu);
  REQUIRE(len >= 3);
  const auto want = d.keep(len);
  const auto wrong = d.keep(len + 1);  // mutation: one more token (the next most probable) kept
  const double p_ok = chi_square_p_value(counts, want, kDraws);
  const double p_bad = chi_square_p_value(counts, wrong, kDraws);
  WARN("mirostat_v2 fixed mu 5: " << len << " tokens kept, p " << p_ok
                                  << "; mutation (one more token) p " << p_bad);
  CHECK(p_ok > 1e-6);
  CHECK(p_bad < 1e-6);
}

TEST_CASE("mirostat_v2: the average surprise converges to tau", "[sampling][mirostat]") {
  // Zipf-like: p_i ~ (i+1)^-1.1 over 300 tokens (entropy well above tau).
  std::vector<float> logits(300);
  for (std::size_t i = 0; i < logits.size(); ++i) logits[i] = float(-1.1 * std::log(double(i + 1)));
  const ranked_dist d(logits);
  for (double tau : {2.0, 4.5}) {
    INFO("tau " << tau);
    arx::chain<arx::mirostat_v2> s{arx::mirostat_v2{float(tau), 0.1f}};
    auto& mv = std::get<0>(s.processors());
    arx::rng g(5);
    const int warmup = 1000, n = kSteps;
    double sum = 0.0, mu_min = 1e9, mu_max = -1e9;
    for (int step = 0; step < warmup + n; ++step) {
      const std::size_t len = v2_len(d, mv.mu);
      const auto id = std::size_t(s.sample(logits, {}, g));
      if (step >= warmup) {
        sum += -std::log2(d.prob(id, len));
        mu_min = std::min(mu_min, double(mv.mu));
        mu_max = std::max(mu_max, double(mv.mu));
      }
    }
    WARN("mirostat_v2 tau " << tau << ": average surprise " << sum / n << ", mu in [" << mu_min
                            << ", " << mu_max << "]");
    CHECK(sum / n == Approx(tau).margin(kConvergence));
    CHECK(mu_min > 0.0);
    CHECK(mu_max < 3.0 * tau + 5.0);
  }
}

TEST_CASE("mirostat_v2: -inf logits are never kept", "[sampling][mirostat]") {
  std::vector<float> logits = {1.0f, ninf, 0.5f, ninf, 0.0f};
  arx::chain<arx::mirostat_v2> s{arx::mirostat_v2{50.0f, 0.1f}};
  const auto counts = histogram(s, logits, {}, 3, 2000);
  CHECK(counts[1] == 0);
  CHECK(counts[3] == 0);
  std::vector<float> got(5);
  std::get<0>(s.processors()).mu = 100.0f;
  s.distribution(logits, {}, got);
  check_distribution(got, softmax_double(logits));
}

// ---- Mirostat 1 ---------------------------------------------------------------------------------

TEST_CASE("mirostat_v1: truncation equals the closed form (k from the estimated exponent)",
          "[sampling][mirostat]") {
  const auto logits = normal_logits(200, 2.0, 21);
  const ranked_dist d(logits);
  std::vector<float> got(logits.size());
  std::size_t distinct_k = 0, last_k = 0;
  for (int m : {2, 5, 100}) {
    for (std::size_t n_vocab : {std::size_t(0), std::size_t(32000)}) {
      for (double mu : {1.0, 3.0, 5.0, 8.0, 10.0, 14.0}) {
        INFO("m " << m << " n_vocab " << n_vocab << " mu " << mu);
        const double N = n_vocab ? double(n_vocab) : double(logits.size());
        const double k = v1_k(d, mu, m, N);
        // Keep away from integers so that float/double rounding cannot change floor(k).
        if (std::isfinite(k) && k < 1e6) {
          REQUIRE(std::fabs(k - std::round(k)) > 1e-4);
        }
        arx::chain<arx::mirostat_v1> s{arx::mirostat_v1{5.0f, 0.1f, m, n_vocab}};
        std::get<0>(s.processors()).mu = float(mu);
        s.distribution(logits, {}, got);
        const std::size_t len = v1_len(d, k);
        check_distribution(got, d.keep(len));
        if (len != last_k) ++distinct_k, last_k = len;
      }
    }
  }
  CHECK(distinct_k >= 6);  // the cases above exercise many different k
}

TEST_CASE("mirostat_v1: limits of the k formula", "[sampling][mirostat]") {
  std::vector<float> got;
  SECTION("equal top logits (s_hat = 0): one token when 2^mu < N - 1, else all") {
    const std::vector<float> logits(8, 0.25f);
    got.resize(8);
    arx::chain<arx::mirostat_v1> s{arx::mirostat_v1{1.0f, 0.1f}};  // mu 2: 4 < 7
    s.distribution(logits, {}, got);
    CHECK(got[0] == 1.0f);
    std::get<0>(s.processors()).mu = 3.0f;  // 8 > 7
    s.distribution(logits, {}, got);
    for (float x : got) CHECK(x == Approx(0.125f));
  }
  SECTION("Zipf exponent 1 (eps = 0): k = 2^mu / ln N") {
    std::vector<float> logits(100);
    for (std::size_t i = 0; i < logits.size(); ++i) logits[i] = -std::log(float(i + 1));
    got.resize(100);
    arx::chain<arx::mirostat_v1> s{arx::mirostat_v1{2.5f, 0.1f}};  // mu 5: 32 / ln 100 = 6.95
    s.distribution(logits, {}, got);
    CHECK(std::count_if(got.begin(), got.end(), [](float x) { return x > 0; }) == 6);
    std::get<0>(s.processors()).mu = 7.0f;  // 128 / ln 100 = 27.8
    s.distribution(logits, {}, got);
    CHECK(std::count_if(got.begin(), got.end(), [](float x) { return x > 0; }) == 27);
  }
  SECTION("one finite candidate, -inf elsewhere") {
    const std::vector<float> logits = {ninf, 2.0f, ninf};
    got.resize(3);
    arx::chain<arx::mirostat_v1> s{arx::mirostat_v1{}};
    s.distribution(logits, {}, got);
    CHECK(got[1] == 1.0f);
    arx::rng g(1);
    CHECK(s.sample(logits, {}, g) == 1);
    CHECK(std::get<0>(s.processors()).mu == Approx(10.0 - 0.1 * (0.0 - 5.0)));
  }
  SECTION("-inf logits take no part in the estimate") {
    auto logits = normal_logits(40, 2.0, 23);
    auto with_inf = logits;
    with_inf.insert(with_inf.begin() + 3, 5, ninf);
    arx::chain<arx::mirostat_v1> a{arx::mirostat_v1{3.0f, 0.1f, 100, 1000}};
    arx::chain<arx::mirostat_v1> b{arx::mirostat_v1{3.0f, 0.1f, 100, 1000}};
    std::vector<float> pa(40), pb(45);
    a.distribution(logits, {}, pa);
    b.distribution(with_inf, {}, pb);
    pb.erase(pb.begin() + 3, pb.begin() + 8);
    for (std::size_t i = 0; i < 40; ++i) CHECK(pa[i] == pb[i]);
  }
}

TEST_CASE("mirostat_v1: mu follows the update rule after every draw; draws match the closed form",
          "[sampling][mirostat]") {
  const auto logits = normal_logits(120, 2.0, 22);
  const ranked_dist d(logits);
  const double tau = 2.5, eta = 0.1;
  const int m = 100;
  const double N = 32000;
  const double s_hat = v1_s_hat(d, m);
  arx::chain<arx::mirostat_v1> s{arx::mirostat_v1{float(tau), float(eta), m, 32000}};
  auto& mv = std::get<0>(s.processors());
  arx::rng g(98);
  std::vector<std::int64_t> counts(logits.size(), 0);
  std::vector<double> expected(logits.size(), 0.0), wrong(logits.size(), 0.0);
  double max_err = 0.0;
  for (std::int64_t step = 0; step < kDraws; ++step) {
    const double mu = mv.mu;
    const std::size_t len = v1_len(d, v1_k(s_hat, mu, N));
    const auto id = std::size_t(s.sample(logits, {}, g));
    const double p_id = d.prob(id, len);
    REQUIRE(p_id > 0.0);
    ++counts[id];
    for (std::size_t j = 0; j < len; ++j) expected[d.order[j]] += d.prob(d.order[j], len);
    const std::size_t wlen = std::min(len + 1, d.order.size());  // mutation: k + 1 tokens
    for (std::size_t j = 0; j < wlen; ++j) wrong[d.order[j]] += d.prob(d.order[j], wlen);
    max_err = std::max(max_err, std::fabs(double(mv.mu) - (mu - eta * (-std::log2(p_id) - tau))));
  }
  CHECK(max_err < 1e-5);
  for (auto& x : expected) x /= double(kDraws);
  for (auto& x : wrong) x /= double(kDraws);
  const auto ok = chi_square_test(counts, expected, kDraws);
  const auto bad = chi_square_test(counts, wrong, kDraws);
  WARN("mirostat_v1 dynamic: chi2 " << ok.statistic << " df " << ok.df << " p " << ok.p
                                    << "; mutation (k + 1) p " << bad.p);
  CHECK(ok.p > 1e-6);
  CHECK(bad.p < 1e-6);
}

TEST_CASE("mirostat_v1: chi-square of the draws at a fixed mu, with a mutation check",
          "[sampling][mirostat]") {
  const auto logits = normal_logits(120, 2.0, 24);
  const ranked_dist d(logits);
  const double mu = 5.25;
  arx::chain<arx::mirostat_v1> s{arx::mirostat_v1{2.625f, 0.0f}};  // eta 0: mu stays 2 tau
  const double k = v1_k(d, mu, 100, 120.0);
  REQUIRE(std::fabs(k - std::round(k)) > 1e-4);
  const auto counts = histogram(s, logits, {}, 8, kDraws);
  const std::size_t len = v1_len(d, k);
  REQUIRE(len >= 3);
  const double p_ok = chi_square_p_value(counts, d.keep(len), kDraws);
  const double p_bad = chi_square_p_value(counts, d.keep(len + 1), kDraws);
  WARN("mirostat_v1 fixed mu 5.25: k " << k << ", p " << p_ok << "; mutation (k + 1) p " << p_bad);
  CHECK(p_ok > 1e-6);
  CHECK(p_bad < 1e-6);
}

TEST_CASE("mirostat_v1: the average surprise converges to tau", "[sampling][mirostat]") {
  std::vector<float> logits(300);
  for (std::size_t i = 0; i < logits.size(); ++i) logits[i] = float(-1.1 * std::log(double(i + 1)));
  const ranked_dist d(logits);
  const double s_hat = v1_s_hat(d, 100);
  for (double tau : {2.0, 4.5}) {
    INFO("tau " << tau);
    arx::chain<arx::mirostat_v1> s{arx::mirostat_v1{float(tau), 0.1f}};
    auto& mv = std::get<0>(s.processors());
    arx::rng g(6);
    const int warmup = 1000, n = kSteps;
    double sum = 0.0;
    for (int step = 0; step < warmup + n; ++step) {
      const std::size_t len = v1_len(d, v1_k(s_hat, mv.mu, 300.0));
      const auto id = std::size_t(s.sample(logits, {}, g));
      if (step >= warmup) sum += -std::log2(d.prob(id, len));
    }
    WARN("mirostat_v1 tau " << tau << ": average surprise " << sum / n << ", final mu " << mv.mu);
    CHECK(sum / n == Approx(tau).margin(kConvergence));
  }
}

// ---- both ---------------------------------------------------------------------------------------

TEST_CASE("mirostat: parameter validation", "[sampling][mirostat]") {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  REQUIRE_THROWS_TYPED(arx::mirostat_v2(-1.0f, 0.1f), arx::invalid_argument, Contains("tau"));
  REQUIRE_THROWS_TYPED(arx::mirostat_v2(nan, 0.1f), arx::invalid_argument, Contains("tau"));
  REQUIRE_THROWS_TYPED(arx::mirostat_v2(inf, 0.1f), arx::invalid_argument, Contains("tau"));
  REQUIRE_THROWS_TYPED(arx::mirostat_v2(5.0f, -0.1f), arx::invalid_argument, Contains("eta"));
  REQUIRE_THROWS_TYPED(arx::mirostat_v2(5.0f, nan), arx::invalid_argument, Contains("eta"));
  REQUIRE_THROWS_TYPED(arx::mirostat_v1(-1.0f), arx::invalid_argument, Contains("tau"));
  REQUIRE_THROWS_TYPED(arx::mirostat_v1(5.0f, inf), arx::invalid_argument, Contains("eta"));
  REQUIRE_THROWS_TYPED(arx::mirostat_v1(5.0f, 0.1f, 1), arx::invalid_argument,
                       Contains("m must be >= 2, got 1"));
  CHECK_NOTHROW(arx::mirostat_v2(0.0f, 0.0f));
  CHECK(arx::mirostat_v2{}.name() == "mirostat_v2(tau=5, eta=0.1)");
  CHECK(arx::mirostat_v1{3.0f, 0.25f, 50}.name() == "mirostat_v1(tau=3, eta=0.25, m=50)");
  static_assert(arx::logit_processor<arx::mirostat_v1>);
  static_assert(arx::logit_processor<arx::mirostat_v2>);
}

TEST_CASE("mirostat: same seed, same tokens; a copied chain continues identically",
          "[sampling][mirostat]") {
  const auto logits = normal_logits(100, 2.0, 31);
  arx::sampler_chain s;
  s.add(arx::mirostat_v2{3.0f, 0.2f});
  arx::rng g(4);
  std::vector<arx::token_id> first;
  for (int i = 0; i < 50; ++i) first.push_back(s.sample(logits, {}, g));
  arx::sampler_chain copy = s;  // mu copied
  arx::rng g2 = g;
  for (int i = 0; i < 200; ++i) CHECK(s.sample(logits, {}, g) == copy.sample(logits, {}, g2));
  arx::sampler_chain fresh;
  fresh.add(arx::mirostat_v2{3.0f, 0.2f});
  arx::rng g3(4);
  for (int i = 0; i < 50; ++i) CHECK(fresh.sample(logits, {}, g3) == first[std::size_t(i)]);
}
