// sampling/truncation.hpp: temperature, top_k, top_p, min_p, typical, epsilon, eta, top_n_sigma,
// xtc. Each stochastic processor: a chi-square test of 10^5 draws against its closed-form
// distribution, computed here in double from the definition (never by calling the processor);
// distribution() equals the closed form; the same histogram REJECTS a deliberately wrong closed
// form. Then limits (greedy cases, no-op parameters, min_keep), parameter validation, determinism,
// and a 150k-logit vocabulary against a naive full-sort implementation.
//
// Set ARX_SAMPLING_REPORT=1 to print the chi-square statistics.
#include <algorithm>
#include <arx/sampling/chain.hpp>
#include <arx/sampling/greedy.hpp>
#include <arx/sampling/truncation.hpp>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <numeric>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "throws.hpp"
#include "unit/sampling/chi_square.hpp"

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

#ifdef NDEBUG
constexpr std::int64_t kDraws = 100'000;
#else
constexpr std::int64_t kDraws = 30'000;  // Debug / sanitizer builds: slower, same checks
#endif

// 16 tokens, not in logit order, one -inf. Sorted: 4 (3.0), 9 (2.6), 1 (2.3), 11 (2.0), 7 (1.6),
// 13 (1.3), 3 (1.1), 15 (0.8), 5 (0.4), 10 (0.1), 0 (-0.3), 12 (-0.8), 8 (-1.4), 2 (-2.0),
// 14 (-3.0), 6 (-inf). Softmax p: .291 .195 .145 .107 .072 .053 .044 .032 .022 .016 .011 ...
const std::vector<float> kLogits = {-0.3f, 2.3f, -2.0f, 1.1f, 3.0f, 0.4f, kNegInf, 1.6f,
                                    -1.4f, 2.6f, 0.1f, 2.0f, -0.8f, 1.3f, -3.0f, 0.8f};

// ---- closed forms, in double, straight from the definitions (full sorts are fine here) ----------

using dist = std::vector<double>;

std::vector<double> as_double(std::span<const float> l) { return {l.begin(), l.end()}; }

std::vector<double> softmax_of(const std::vector<double>& l) {
  double m = -std::numeric_limits<double>::infinity();
  for (double x : l) m = std::max(m, x);
  dist p(l.size());
  double s = 0.0;
  for (std::size_t i = 0; i < l.size(); ++i) s += p[i] = std::isinf(l[i]) ? 0.0 : std::exp(l[i] - m);
  for (double& x : p) x /= s;
  return p;
}

// ids by logit, largest first, ties lower id first; -inf excluded
std::vector<std::size_t> sorted_ids(const std::vector<double>& l) {
  std::vector<std::size_t> ids;
  for (std::size_t i = 0; i < l.size(); ++i)
    if (!std::isinf(l[i])) ids.push_back(i);
  std::sort(ids.begin(), ids.end(), [&](std::size_t a, std::size_t b) {
    return l[a] > l[b] || (l[a] == l[b] && a < b);
  });
  return ids;
}

// logits restricted to `keep` (others -inf)
std::vector<double> restrict_to(const std::vector<double>& l, const std::vector<std::size_t>& keep) {
  std::vector<double> r(l.size(), -std::numeric_limits<double>::infinity());
  for (std::size_t i : keep) r[i] = l[i];
  return r;
}

std::vector<double> keep_where(const std::vector<double>& l, const std::vector<bool>& keep) {
  std::vector<double> r(l.size(), -std::numeric_limits<double>::infinity());
  for (std::size_t i = 0; i < l.size(); ++i)
    if (keep[i]) r[i] = l[i];
  return r;
}

std::vector<double> cf_temperature(std::vector<double> l, double t) {
  for (double& x : l) x /= t;
  return l;
}

std::vector<double> cf_top_k(const std::vector<double>& l, std::size_t k) {
  auto ids = sorted_ids(l);
  ids.resize(std::min(k, ids.size()));
  return restrict_to(l, ids);
}

std::vector<double> cf_top_p(const std::vector<double>& l, double p, std::size_t extra = 0) {
  const dist q = softmax_of(l);
  const auto ids = sorted_ids(l);
  double cum = 0.0;
  std::size_t n = 0;
  while (n < ids.size()) {
    cum += q[ids[n++]];
    if (cum >= p) break;
  }
  n = std::min(n + extra, ids.size());
  return restrict_to(l, {ids.begin(), ids.begin() + std::ptrdiff_t(n)});
}

std::vector<double> cf_min_p(const std::vector<double>& l, double p) {
  const dist q = softmax_of(l);
  const double pmax = *std::max_element(q.begin(), q.end());
  std::vector<bool> keep(l.size());
  for (std::size_t i = 0; i < l.size(); ++i) keep[i] = q[i] > 0 && q[i] >= p * pmax;
  return keep_where(l, keep);
}

double entropy(const dist& q) {
  double h = 0.0;
  for (double x : q)
    if (x > 0) h -= x * std::log(x);
  return h;
}

// sign = +1: |-log p - H| (correct); sign = -1: |log p - H| (a plausible bug)
std::vector<double> cf_typical(const std::vector<double>& l, double p, double sign = 1.0,
                               std::size_t min_keep = 1) {
  const dist q = softmax_of(l);
  const double h = entropy(q);
  std::vector<std::size_t> ids;
  for (std::size_t i = 0; i < l.size(); ++i)
    if (q[i] > 0) ids.push_back(i);
  const auto score = [&](std::size_t i) { return std::fabs(-sign * std::log(q[i]) - h); };
  std::sort(ids.begin(), ids.end(), [&](std::size_t a, std::size_t b) {
    if (score(a) != score(b)) return score(a) < score(b);
    if (l[a] != l[b]) return l[a] > l[b];
    return a < b;
  });
  double cum = 0.0;
  std::size_t n = 0;
  while (n < ids.size()) {
    cum += q[ids[n++]];
    if (cum >= p) break;
  }
  n = std::min(std::max(n, min_keep), ids.size());
  return restrict_to(l, {ids.begin(), ids.begin() + std::ptrdiff_t(n)});
}

std::vector<double> cf_cutoff(const std::vector<double>& l, double cutoff) {
  const dist q = softmax_of(l);
  const double lmax = *std::max_element(l.begin(), l.end());
  std::vector<bool> keep(l.size());
  for (std::size_t i = 0; i < l.size(); ++i) keep[i] = q[i] > 0 && (q[i] >= cutoff || l[i] == lmax);
  return keep_where(l, keep);
}

std::vector<double> cf_eta(const std::vector<double>& l, double eta) {
  const double h = entropy(softmax_of(l));
  return cf_cutoff(l, std::min(eta, std::sqrt(eta) * std::exp(-h)));
}

// ddof = 0: population std (correct); ddof = 1: sample std (a plausible bug)
std::vector<double> cf_top_n_sigma(const std::vector<double>& l, double n, int ddof = 0) {
  double sum = 0, cnt = 0, mx = -std::numeric_limits<double>::infinity();
  for (double x : l)
    if (!std::isinf(x)) sum += x, cnt += 1, mx = std::max(mx, x);
  const double mean = sum / cnt;
  double acc = 0;
  for (double x : l)
    if (!std::isinf(x)) acc += (x - mean) * (x - mean);
  const double sd = std::sqrt(acc / (cnt - ddof));
  std::vector<bool> keep(l.size());
  for (std::size_t i = 0; i < l.size(); ++i) keep[i] = !std::isinf(l[i]) && l[i] >= mx - n * sd;
  return keep_where(l, keep);
}

// XTC when it fires: drop every token with p >= threshold except the least probable of them
// (keep_last = false: drop all of them — the mutation)
std::vector<double> cf_xtc_fired(const std::vector<double>& l, double threshold, bool keep_last = true) {
  const dist q = softmax_of(l);
  const auto ids = sorted_ids(l);
  std::size_t above = 0;
  while (above < ids.size() && q[ids[above]] >= threshold) ++above;
  if (above < 2) return l;
  std::vector<double> r = l;
  for (std::size_t i = 0; i + (keep_last ? 1 : 0) < above; ++i)
    r[ids[i]] = -std::numeric_limits<double>::infinity();
  return r;
}

dist mix(const dist& a, const dist& b, double wa) {
  dist r(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) r[i] = wa * a[i] + (1 - wa) * b[i];
  return r;
}

std::size_t support(const dist& d) {
  return std::size_t(std::count_if(d.begin(), d.end(), [](double x) { return x > 0; }));
}

// ---- the checks ---------------------------------------------------------------------------------

void report(const char* label, const chi_square_result& real, const std::string& mutation,
            const chi_square_result& wrong) {
  if (std::getenv("ARX_SAMPLING_REPORT"))
    std::printf("chi-square %-36s real: X2=%7.3f df=%2lld p=%.4f | mutated (%s): X2=%.4g df=%lld p=%.3g\n",
                label, real.statistic, (long long)real.df, real.p, mutation.c_str(),
                wrong.statistic, (long long)wrong.df, wrong.p);
}

struct mutation {
  std::string what;
  dist d;
};

template <class Sampler>
void require_distribution(Sampler s, std::span<const float> logits, const dist& closed) {
  std::vector<float> d(logits.size());
  s.distribution(logits, {}, d);
  std::size_t worst = 0;
  for (std::size_t i = 0; i < d.size(); ++i)
    if (std::fabs(double(d[i]) - closed[i]) > std::fabs(double(d[worst]) - closed[worst])) worst = i;
  INFO("token " << worst << ": distribution() " << d[worst] << ", closed form " << closed[worst]);
  REQUIRE(std::fabs(double(d[worst]) - closed[worst]) <= 1e-6);
}

/// The histogram of kDraws samples must fit `closed` and reject each of `wrongs`.
template <class Sampler>
void require_fits(const char* label, Sampler s, const dist& closed,
                  const std::vector<mutation>& wrongs, std::uint64_t seed) {
  const auto h = histogram(s, kLogits, {}, seed, kDraws);
  const auto real = chi_square_test(h, closed, kDraws);
  for (const auto& [what, wrong] : wrongs) {
    double diff = 0.0;
    for (std::size_t i = 0; i < closed.size(); ++i)
      diff = std::max(diff, std::fabs(closed[i] - wrong[i]));
    REQUIRE(diff > 1e-3);  // the mutation is a different distribution
    const auto mutated = chi_square_test(h, wrong, kDraws);
    report(label, real, what, mutated);
    INFO(label << ": real X2 = " << real.statistic << ", df = " << real.df << ", p = " << real.p
               << "; mutated (" << what << ") X2 = " << mutated.statistic << ", p = " << mutated.p);
    CHECK(real.p > 1e-6);
    CHECK(mutated.p < 1e-6);
  }
}

template <class Sampler>
void check_stochastic(const char* label, Sampler s, const std::vector<double>& closed_logits,
                      const char* what, const std::vector<double>& wrong_logits,
                      std::uint64_t seed) {
  const dist closed = softmax_of(closed_logits);
  require_distribution(s, kLogits, closed);
  require_fits(label, s, closed, {{what, softmax_of(wrong_logits)}}, seed);
}

const std::vector<double> L = as_double(kLogits);

}  // namespace

TEST_CASE("chi_square helper: known tail values and pooling", "[sampling]") {
  // chi-square quantiles: P(X2_1 >= 3.841459) = 0.05, P(X2_10 >= 18.307038) = 0.05
  CHECK(regularized_gamma_q(0.5, 3.841459 / 2) == Approx(0.05).epsilon(1e-5));
  CHECK(regularized_gamma_q(5.0, 18.307038 / 2) == Approx(0.05).epsilon(1e-5));
  CHECK(regularized_gamma_q(1.0, 30.0) == Approx(std::exp(-30.0)).epsilon(1e-9));
  CHECK(regularized_gamma_q(1.5, 0.25) == Approx(0.918891).epsilon(1e-5));
  const std::vector<std::int64_t> obs = {50, 30, 18, 2, 0};
  const std::vector<double> exp = {0.5, 0.3, 0.18, 0.02, 0.0};  // 2 -> pooled into the smallest
  const auto r = chi_square_test(obs, exp, 100);
  CHECK(r.df == 2);
  CHECK(r.statistic == Approx(0.0).margin(1e-12));
  CHECK(r.p == Approx(1.0));
  const std::vector<std::int64_t> bad = {50, 30, 18, 1, 1};  // a draw where p = 0
  CHECK(chi_square_p_value(bad, exp, 100) == 0.0);
}

TEST_CASE("temperature: softmax(logits / t), chi-square", "[sampling]") {
  // mutation: multiplying instead of dividing
  check_stochastic("temperature(0.7)", arx::chain(arx::temperature{0.7f}), cf_temperature(L, 0.7),
                   "logits * t", cf_temperature(L, 1 / 0.7), 11);
  check_stochastic("temperature(2.5)", arx::chain(arx::temperature{2.5f}), cf_temperature(L, 2.5),
                   "t ignored", L, 12);
}

TEST_CASE("temperature before top_p: order matters, chi-square", "[sampling]") {
  // closed: temperature 0.7 first (4 tokens reach 0.8); mutation: top_p on the raw logits first
  // (5 tokens), temperature after
  check_stochastic("temperature(0.7) -> top_p(0.8)",
                   arx::chain(arx::temperature{0.7f}, arx::top_p{0.8f}),
                   cf_top_p(cf_temperature(L, 0.7), 0.8), "temperature after top_p",
                   cf_temperature(cf_top_p(L, 0.8), 0.7), 13);
}

TEST_CASE("top_k: the k largest, chi-square", "[sampling]") {
  REQUIRE(support(softmax_of(cf_top_k(L, 5))) == 5);
  check_stochastic("top_k(5)", arx::chain(arx::top_k{5}), cf_top_k(L, 5), "k + 1 kept",
                   cf_top_k(L, 6), 21);
}

TEST_CASE("top_p: smallest prefix with mass >= p, chi-square", "[sampling]") {
  REQUIRE(support(softmax_of(cf_top_p(L, 0.8))) == 5);  // .738 < 0.8 <= .810
  // mutation: one token too many
  check_stochastic("top_p(0.8)", arx::chain(arx::top_p{0.8f}), cf_top_p(L, 0.8),
                   "one token too many", cf_top_p(L, 0.8, 1), 31);
  // mutation: top_p and top_k applied in the other order (top_k(3) first keeps 3 of the 5)
  check_stochastic("top_p(0.5) -> top_k(6)", arx::chain(arx::top_p{0.5f}, arx::top_k{6}),
                   cf_top_k(cf_top_p(L, 0.5), 6), "top_k first",
                   cf_top_p(cf_top_k(L, 6), 0.5), 32);
}

TEST_CASE("min_p: p_i >= p * p_max, chi-square", "[sampling]") {
  REQUIRE(support(softmax_of(cf_min_p(L, 0.2))) == 5);
  // mutation: the threshold taken as an absolute probability, p_i >= 0.2 (keeps 1)
  std::vector<bool> abs_keep(L.size());
  const dist q = softmax_of(L);
  for (std::size_t i = 0; i < L.size(); ++i) abs_keep[i] = q[i] >= 0.2;
  check_stochastic("min_p(0.2)", arx::chain(arx::min_p{0.2f}), cf_min_p(L, 0.2),
                   "absolute p_i >= p", keep_where(L, abs_keep), 41);
}

TEST_CASE("typical: locally typical set, chi-square", "[sampling]") {
  REQUIRE(support(softmax_of(cf_typical(L, 0.5))) == 4);
  // mutation: the sign of the surprisal flipped
  check_stochastic("typical(0.5)", arx::chain(arx::typical{0.5f}), cf_typical(L, 0.5),
                   "|log p - H|", cf_typical(L, 0.5, -1.0), 51);
  check_stochastic("typical(0.9)", arx::chain(arx::typical{0.9f}), cf_typical(L, 0.9),
                   "mass 0.95", cf_typical(L, 0.95), 52);
}

TEST_CASE("epsilon: p_i >= eps, chi-square", "[sampling]") {
  REQUIRE(support(softmax_of(cf_cutoff(L, 0.03))) == 8);
  // mutation: half the cutoff
  check_stochastic("epsilon(0.03)", arx::chain(arx::epsilon{0.03f}), cf_cutoff(L, 0.03),
                   "eps / 2", cf_cutoff(L, 0.015), 61);
}

TEST_CASE("eta: p_i >= min(eta, sqrt(eta) exp(-H)), chi-square", "[sampling]") {
  REQUIRE(support(softmax_of(cf_eta(L, 0.1))) == 7);
  // mutation: the entropy term left out (cutoff = eta)
  check_stochastic("eta(0.1)", arx::chain(arx::eta{0.1f}), cf_eta(L, 0.1), "cutoff = eta",
                   cf_cutoff(L, 0.1), 71);
}

TEST_CASE("top_n_sigma: logit >= max - n sigma, chi-square", "[sampling]") {
  REQUIRE(support(softmax_of(cf_top_n_sigma(L, 1.5))) == 8);
  REQUIRE(support(softmax_of(cf_top_n_sigma(L, 1.5, 1))) == 9);
  // mutation: sample standard deviation (n - 1) instead of the population one
  check_stochastic("top_n_sigma(1.5)", arx::chain(arx::top_n_sigma{1.5f}), cf_top_n_sigma(L, 1.5),
                   "sample std", cf_top_n_sigma(L, 1.5, 1), 81);
}

TEST_CASE("xtc: excludes the top choices with a probability, chi-square", "[sampling]") {
  const dist full = softmax_of(L);
  const dist fired = softmax_of(cf_xtc_fired(L, 0.1));
  REQUIRE(support(fired) == 12);  // 4 tokens have p >= 0.1: 3 of them go
  // probability 1: always fires, distribution() is the fired one
  require_distribution(arx::chain(arx::xtc{1.0f, 0.1f, 5}), kLogits, fired);
  // probability 0.5: the mixture; mutations: all 4 above the threshold removed, and firing with
  // probability 0.4 instead of 0.5
  const dist closed = mix(fired, full, 0.5);
  require_fits("xtc(0.5, 0.1)", arx::chain(arx::xtc{0.5f, 0.1f, 7}), closed,
               {{"all above removed", mix(softmax_of(cf_xtc_fired(L, 0.1, false)), full, 0.5)},
                {"fires with 0.4", mix(fired, full, 0.4)}},
               91);
  // run-time chain
  arx::sampler_chain r;
  r.add(arx::xtc{0.5f, 0.1f, 9}).add(arx::temperature{0.7f});
  const dist fired_t = softmax_of(cf_temperature(cf_xtc_fired(L, 0.1), 0.7));
  const dist full_t = softmax_of(cf_temperature(L, 0.7));
  const dist fired_after_t = softmax_of(cf_xtc_fired(cf_temperature(L, 0.7), 0.1));
  require_fits("xtc(0.5, 0.1) -> temperature(0.7)", r, mix(fired_t, full_t, 0.5),
               {{"xtc after temperature", mix(fired_after_t, full_t, 0.5)}}, 93);
}

TEST_CASE("truncation limits: greedy cases", "[sampling]") {
  // ties at the top: the lowest id wins
  const std::vector<float> tied = {0.5f, 2.0f, -1.0f, 2.0f, kNegInf, 1.0f};
  const arx::token_id g = arx::greedy{}(kLogits);
  REQUIRE(g == 4);
  REQUIRE(arx::greedy{}(tied) == 1);
  for (const auto& logits : {kLogits, tied}) {
    const arx::token_id want = arx::greedy{}(logits);
    dist one_hot(logits.size(), 0.0);
    one_hot[std::size_t(want)] = 1.0;
    require_distribution(arx::chain(arx::temperature{0.0f}), logits, one_hot);
    require_distribution(arx::chain(arx::top_k{1}), logits, one_hot);
    require_distribution(arx::chain(arx::top_p{1e-7f}), logits, one_hot);
    require_distribution(arx::chain(arx::top_p{std::numeric_limits<float>::denorm_min()}), logits,
                         one_hot);
    arx::chain greedy_chain(arx::top_k{40}, arx::top_p{0.9f}, arx::temperature{0.0f});
    arx::rng r(3);
    for (int i = 0; i < 50; ++i) REQUIRE(greedy_chain.sample(logits, {}, r) == want);
  }
  // a tiny temperature is greedy in the limit, without overflow to inf / NaN
  dist one_hot(kLogits.size(), 0.0);
  one_hot[4] = 1.0;
  // min_p(1) keeps p_i >= p_max: greedy without ties, every tied maximum with them
  require_distribution(arx::chain(arx::min_p{1.0f}), kLogits, one_hot);
  require_distribution(arx::chain(arx::min_p{1.0f}), tied, dist{0, 0.5, 0, 0.5, 0, 0});
  require_distribution(arx::chain(arx::temperature{1e-30f}), kLogits, one_hot);
  require_distribution(arx::chain(arx::temperature{std::numeric_limits<float>::denorm_min()}),
                       kLogits, one_hot);
}

TEST_CASE("truncation limits: no-op parameters give the softmax", "[sampling]") {
  const dist soft = softmax_of(L);
  require_distribution(arx::chain(arx::top_p{1.0f}, arx::temperature{1.0f}), kLogits, soft);
  require_distribution(arx::chain(arx::top_k{16}), kLogits, soft);
  require_distribution(arx::chain(arx::top_k{1000}), kLogits, soft);
  require_distribution(arx::chain(arx::min_p{0.0f}), kLogits, soft);
  require_distribution(arx::chain(arx::typical{1.0f}), kLogits, soft);
  require_distribution(arx::chain(arx::epsilon{0.0f}), kLogits, soft);
  require_distribution(arx::chain(arx::eta{0.0f}), kLogits, soft);
  require_distribution(arx::chain(arx::top_n_sigma{100.0f}), kLogits, soft);
  require_distribution(arx::chain(arx::xtc{0.0f, 0.1f, 1}), kLogits, soft);
  require_distribution(arx::chain(arx::xtc{1.0f, 0.51f, 1}), kLogits, soft);  // threshold > 0.5
  require_distribution(arx::sampler_chain{}, kLogits, soft);
  // the softmax chain draws with the softmax's frequencies
  const auto h = histogram(arx::chain(arx::top_p{1.0f}, arx::temperature{1.0f}), kLogits, {}, 101,
                           kDraws);
  CHECK(chi_square_p_value(h, soft, kDraws) > 1e-6);
  // epsilon above every probability: only the top token survives; eta's cutoff is capped by
  // sqrt(eta) exp(-H) = 0.128: 3 tokens
  dist one_hot(kLogits.size(), 0.0);
  one_hot[4] = 1.0;
  require_distribution(arx::chain(arx::epsilon{0.999f}), kLogits, one_hot);
  require_distribution(arx::chain(arx::eta{0.999f}), kLogits, softmax_of(restrict_to(L, {4, 9, 1})));
  REQUIRE(support(softmax_of(cf_eta(L, 0.999))) == 3);
  require_distribution(arx::chain(arx::top_n_sigma{1e-6f}), kLogits, one_hot);
  // xtc with threshold 0: everything is "above", only the least probable (finite) token is left
  dist last(kLogits.size(), 0.0);
  last[14] = 1.0;
  require_distribution(arx::chain(arx::xtc{1.0f, 0.0f, 1}), kLogits, last);
}

TEST_CASE("truncation: min_keep", "[sampling]") {
  const auto top3 = softmax_of(cf_top_k(L, 3));
  require_distribution(arx::chain(arx::top_p{1e-7f, 3}), kLogits, top3);
  require_distribution(arx::chain(arx::min_p{1.0f, 3}), kLogits, top3);
  require_distribution(arx::chain(arx::top_p{0.5f, 1}), kLogits, top3);  // .486 < .5 <= .631
  require_distribution(arx::chain(arx::top_p{0.5f, 2}), kLogits, top3);
  // typical with min_keep: the min_keep most typical tokens
  require_distribution(arx::chain(arx::typical{1e-7f, 3}), kLogits,
                       softmax_of(restrict_to(L, {1, 11, 9})));
  require_distribution(arx::chain(arx::typical{1e-7f, 100}), kLogits, softmax_of(L));
  // xtc: would leave 12 of the 15 finite candidates; min_keep 13 stops it
  require_distribution(arx::chain(arx::xtc{1.0f, 0.1f, 1, 12}), kLogits,
                       softmax_of(cf_xtc_fired(L, 0.1)));
  require_distribution(arx::chain(arx::xtc{1.0f, 0.1f, 1, 13}), kLogits, softmax_of(L));
}

TEST_CASE("truncation: processors see the current set, -inf and sorted input", "[sampling]") {
  // after top_k(8) the probabilities are renormalized over 8 tokens
  const auto k8 = cf_top_k(L, 8);
  require_distribution(arx::chain(arx::top_k{8}, arx::top_p{0.8f}), kLogits,
                       softmax_of(cf_top_p(k8, 0.8)));
  require_distribution(arx::chain(arx::top_k{8}, arx::min_p{0.3f}), kLogits,
                       softmax_of(cf_min_p(k8, 0.3)));
  require_distribution(arx::chain(arx::top_k{8}, arx::typical{0.6f}), kLogits,
                       softmax_of(cf_typical(k8, 0.6)));
  require_distribution(arx::chain(arx::top_k{8}, arx::epsilon{0.08f}), kLogits,
                       softmax_of(cf_cutoff(k8, 0.08)));
  require_distribution(arx::chain(arx::top_k{8}, arx::eta{0.2f}), kLogits,
                       softmax_of(cf_eta(k8, 0.2)));
  require_distribution(arx::chain(arx::top_k{8}, arx::top_n_sigma{1.0f}), kLogits,
                       softmax_of(cf_top_n_sigma(k8, 1.0)));
  require_distribution(arx::chain(arx::top_k{8}, arx::xtc{1.0f, 0.15f, 2}), kLogits,
                       softmax_of(cf_xtc_fired(k8, 0.15)));
  // a single-token set survives every processor
  const std::vector<float> one = {kNegInf, 1.0f, kNegInf};
  const dist hot = {0, 1, 0};
  require_distribution(arx::chain(arx::top_p{0.5f}, arx::min_p{0.5f}, arx::typical{0.5f},
                                  arx::epsilon{0.5f}, arx::eta{0.5f}, arx::top_n_sigma{1.0f},
                                  arx::xtc{1.0f, 0.0f, 1}, arx::temperature{0.5f}),
                       one, hot);
}

TEST_CASE("truncation: 5000-token vocabulary equals the closed forms", "[sampling]") {
  // more than one selection window (64, 512, 4096, ...) for top_p and typical
  std::mt19937 gen(7);
  std::normal_distribution<double> nd(0.0, 2.0);
  std::vector<float> l(5000);
  for (auto& x : l) x = float(std::round(nd(gen) * 64) / 64);
  l[17] = kNegInf;
  const auto ld = as_double(l);
  require_distribution(arx::chain(arx::top_p{0.9f}), l, softmax_of(cf_top_p(ld, 0.9)));
  require_distribution(arx::chain(arx::top_p{0.2f, 700}), l, softmax_of(cf_top_k(ld, 700)));
  require_distribution(arx::chain(arx::typical{0.9f}), l, softmax_of(cf_typical(ld, 0.9)));
  require_distribution(arx::chain(arx::typical{0.2f}), l, softmax_of(cf_typical(ld, 0.2)));
  require_distribution(arx::chain(arx::typical{1e-6f, 600}), l,
                       softmax_of(cf_typical(ld, 1e-6, 1.0, 600)));
  require_distribution(arx::chain(arx::min_p{0.05f}), l, softmax_of(cf_min_p(ld, 0.05)));
  require_distribution(arx::chain(arx::epsilon{0.001f}), l, softmax_of(cf_cutoff(ld, 0.001)));
  require_distribution(arx::chain(arx::eta{0.01f}), l, softmax_of(cf_eta(ld, 0.01)));
  require_distribution(arx::chain(arx::top_n_sigma{2.0f}), l, softmax_of(cf_top_n_sigma(ld, 2.0)));
  require_distribution(arx::chain(arx::xtc{1.0f, 0.01f, 3}), l, softmax_of(cf_xtc_fired(ld, 0.01)));
  require_distribution(arx::chain(arx::temperature{0.6f}, arx::top_p{0.95f}), l,
                       softmax_of(cf_top_p(cf_temperature(ld, 0.6), 0.95)));
  // the closed forms above are not trivial
  CHECK(support(softmax_of(cf_top_p(ld, 0.9))) > 512);
  CHECK(support(softmax_of(cf_typical(ld, 0.9))) > 512);
  CHECK(support(softmax_of(cf_xtc_fired(ld, 0.01))) < 4999);
}

TEST_CASE("truncation: bad parameters are invalid_argument naming parameter and value",
          "[sampling]") {
  using Catch::Contains;
  REQUIRE_THROWS_TYPED(arx::temperature{-1.0f}, arx::invalid_argument,
                       Contains("temperature") && Contains("-1"));
  REQUIRE_THROWS_TYPED(arx::temperature{kNaN}, arx::invalid_argument, Contains("nan"));
  REQUIRE_THROWS_TYPED(arx::temperature{kInf}, arx::invalid_argument, Contains("inf"));
  REQUIRE_THROWS_TYPED(arx::top_k{0}, arx::invalid_argument, Contains("top_k") && Contains("0"));
  REQUIRE_THROWS_TYPED(arx::top_k{-3}, arx::invalid_argument, Contains("top_k") && Contains("-3"));
  REQUIRE_THROWS_TYPED(arx::top_p{0.0f}, arx::invalid_argument, Contains("top_p") && Contains("p"));
  REQUIRE_THROWS_TYPED(arx::top_p{1.5f}, arx::invalid_argument, Contains("top_p") && Contains("1.5"));
  REQUIRE_THROWS_TYPED(arx::top_p{-0.25f}, arx::invalid_argument, Contains("-0.25"));
  REQUIRE_THROWS_TYPED(arx::top_p{kNaN}, arx::invalid_argument, Contains("top_p") && Contains("nan"));
  REQUIRE_THROWS_TYPED(arx::min_p{-0.1f}, arx::invalid_argument, Contains("min_p") && Contains("-0.1"));
  REQUIRE_THROWS_TYPED(arx::min_p{1.25f}, arx::invalid_argument, Contains("min_p") && Contains("1.25"));
  REQUIRE_THROWS_TYPED(arx::min_p{kNaN}, arx::invalid_argument, Contains("min_p"));
  REQUIRE_THROWS_TYPED(arx::typical{0.0f}, arx::invalid_argument, Contains("typical"));
  REQUIRE_THROWS_TYPED(arx::typical{1.5f}, arx::invalid_argument, Contains("typical") && Contains("1.5"));
  REQUIRE_THROWS_TYPED(arx::typical{kNaN}, arx::invalid_argument, Contains("typical"));
  REQUIRE_THROWS_TYPED(arx::epsilon{-0.5f}, arx::invalid_argument, Contains("epsilon") && Contains("-0.5"));
  REQUIRE_THROWS_TYPED(arx::epsilon{1.0f}, arx::invalid_argument, Contains("epsilon") && Contains("1"));
  REQUIRE_THROWS_TYPED(arx::epsilon{kNaN}, arx::invalid_argument, Contains("epsilon"));
  REQUIRE_THROWS_TYPED(arx::eta{-0.5f}, arx::invalid_argument, Contains("eta") && Contains("-0.5"));
  REQUIRE_THROWS_TYPED(arx::eta{1.0f}, arx::invalid_argument, Contains("eta") && Contains("1"));
  REQUIRE_THROWS_TYPED(arx::eta{kNaN}, arx::invalid_argument, Contains("eta"));
  REQUIRE_THROWS_TYPED(arx::top_n_sigma{0.0f}, arx::invalid_argument, Contains("top_n_sigma"));
  REQUIRE_THROWS_TYPED(arx::top_n_sigma{-1.0f}, arx::invalid_argument,
                       Contains("top_n_sigma") && Contains("-1"));
  REQUIRE_THROWS_TYPED(arx::top_n_sigma{kNaN}, arx::invalid_argument, Contains("top_n_sigma"));
  REQUIRE_THROWS_TYPED(arx::top_n_sigma{kInf}, arx::invalid_argument, Contains("inf"));
  REQUIRE_THROWS_TYPED((arx::xtc{-0.1f, 0.1f, 0}), arx::invalid_argument,
                       Contains("xtc") && Contains("probability") && Contains("-0.1"));
  REQUIRE_THROWS_TYPED((arx::xtc{1.5f, 0.1f, 0}), arx::invalid_argument,
                       Contains("probability") && Contains("1.5"));
  REQUIRE_THROWS_TYPED((arx::xtc{kNaN, 0.1f, 0}), arx::invalid_argument, Contains("probability"));
  REQUIRE_THROWS_TYPED((arx::xtc{0.5f, -0.1f, 0}), arx::invalid_argument,
                       Contains("threshold") && Contains("-0.1"));
  REQUIRE_THROWS_TYPED((arx::xtc{0.5f, 1.5f, 0}), arx::invalid_argument,
                       Contains("threshold") && Contains("1.5"));
  REQUIRE_THROWS_TYPED((arx::xtc{0.5f, kNaN, 0}), arx::invalid_argument, Contains("threshold"));
  // boundary values are accepted
  REQUIRE_NOTHROW(arx::temperature{0.0f});
  REQUIRE_NOTHROW(arx::top_p{1.0f});
  REQUIRE_NOTHROW(arx::min_p{0.0f});
  REQUIRE_NOTHROW(arx::min_p{1.0f});
  REQUIRE_NOTHROW(arx::typical{1.0f});
  REQUIRE_NOTHROW(arx::epsilon{0.0f});
  REQUIRE_NOTHROW(arx::eta{0.0f});
  REQUIRE_NOTHROW(arx::xtc(0.0f, 0.0f, 0));
  REQUIRE_NOTHROW(arx::xtc(1.0f, 1.0f, 0));
}

TEST_CASE("truncation: names", "[sampling]") {
  CHECK(arx::temperature{0.8f}.name() == "temperature(0.8)");
  CHECK(arx::top_k{40}.name() == "top_k(40)");
  CHECK(arx::top_p{0.95f}.name() == "top_p(0.95)");
  CHECK(arx::top_p(0.95f, 3).name() == "top_p(0.95, min_keep=3)");
  CHECK(arx::min_p{0.05f}.name() == "min_p(0.05)");
  CHECK(arx::typical{1.0f}.name() == "typical(1)");
  CHECK(arx::epsilon{0.0003f}.name() == "epsilon(0.0003)");
  CHECK(arx::eta{0.002f}.name() == "eta(0.002)");
  CHECK(arx::top_n_sigma{1.5f}.name() == "top_n_sigma(1.5)");
  CHECK(arx::xtc(0.5f, 0.1f, 7).name() == "xtc(0.5, 0.1)");
  CHECK(arx::top_p(1e-7f).name() == "top_p(1e-07)");
  CHECK(arx::xtc(0.5f, 0.1f, 7, 2).name() == "xtc(0.5, 0.1, min_keep=2)");
  arx::sampler_chain r;
  r.add(arx::top_k{40}).add(arx::top_p{0.95f}).add(arx::temperature{0.8f});
  CHECK(r.describe() == "top_k(40) -> top_p(0.95) -> temperature(0.8)");
}

TEST_CASE("truncation: same seed, same tokens", "[sampling]") {
  const auto make = [] {
    arx::sampler_chain r;
    r.add(arx::top_k{12}).add(arx::typical{0.95f}).add(arx::top_p{0.97f}).add(arx::min_p{0.01f});
    r.add(arx::xtc{0.5f, 0.1f, 1234}).add(arx::temperature{0.9f});
    return r;
  };
  const auto run = [&](std::uint64_t seed) {
    auto s = make();
    arx::rng g(seed);
    std::vector<arx::token_id> out;
    for (int i = 0; i < 300; ++i) out.push_back(s.sample(kLogits, {}, g));
    return out;
  };
  const auto a = run(42), b = run(42), c = run(43);
  CHECK(a == b);
  CHECK(a != c);
  // a copied chain continues identically (xtc's own generator is copied too)
  auto s1 = make();
  arx::rng g1(5);
  for (int i = 0; i < 10; ++i) s1.sample(kLogits, {}, g1);
  auto s2 = s1;
  arx::rng g2 = g1;
  for (int i = 0; i < 50; ++i) REQUIRE(s1.sample(kLogits, {}, g1) == s2.sample(kLogits, {}, g2));
}

namespace {

// Naive reference for the large vocabulary: every id, fully sorted (logit desc, id asc).
std::vector<arx::token_id> naive_order(const std::vector<float>& l) {
  std::vector<arx::token_id> ids(l.size());
  std::iota(ids.begin(), ids.end(), 0);
  std::sort(ids.begin(), ids.end(), [&](arx::token_id a, arx::token_id b) {
    const float la = l[std::size_t(a)], lb = l[std::size_t(b)];
    return la > lb || (la == lb && a < b);
  });
  return ids;
}

// top_p over the ids of `order` (sorted, the whole set): probabilities from the full softmax
std::vector<arx::token_id> naive_top_p(const std::vector<float>& l,
                                       const std::vector<arx::token_id>& order, double p) {
  const double m = double(l[std::size_t(order[0])]);
  double z = 0.0;
  for (auto id : order) z += std::exp(double(l[std::size_t(id)]) - m);
  double cum = 0.0;
  std::size_t n = 0;
  while (n < order.size()) {
    cum += std::exp(double(l[std::size_t(order[n++])]) - m) / z;
    if (cum >= p) break;
  }
  return {order.begin(), order.begin() + std::ptrdiff_t(n)};
}

std::vector<arx::token_id> kept_ids(const arx::candidates& c) {
  std::vector<arx::token_id> ids;
  for (const auto& x : c) ids.push_back(x.id);
  return ids;
}

std::vector<arx::token_id> sorted_copy(std::vector<arx::token_id> v) {
  std::sort(v.begin(), v.end());
  return v;
}

// sorts the set first, so that top_p takes its already-sorted path
struct sort_all {
  void apply(arx::candidates& c, const arx::sampling_context&) const { c.sort(); }
};

}  // namespace

TEST_CASE("truncation: 150k vocabulary, top_k / top_p equal a naive full sort", "[sampling]") {
  constexpr std::size_t n = 150'000;
  struct top_p_case {
    float p;
    bool also_sorted_first;  // also through the already-sorted path
  };
  struct vocab_case {
    double scale;
    std::vector<std::size_t> ks;
    std::vector<top_p_case> ps;
  };
  // scale 1: flat, the nucleus has thousands of tokens (windows up to the whole set); scale 4:
  // peaked, tens to hundreds
  const vocab_case cases[] = {
      {1.0, {1, 40, n - 1, n}, {{0.5f, true}, {0.99f, false}}},
      {4.0, {40, 5000}, {{1e-6f, false}, {0.9f, true}, {0.999f, false}}},
  };
  std::mt19937 gen(20261123);
  for (const auto& vc : cases) {
    std::normal_distribution<double> nd(0.0, vc.scale);
    std::vector<float> l(n);
    // quantized to 1/16: many ties, so the id tie-break is exercised
    for (auto& x : l) x = float(std::round(nd(gen) * 16) / 16);
    INFO("scale " << vc.scale);
    const auto order = naive_order(l);
    for (const std::size_t k : vc.ks) {
      INFO("top_k " << k);
      arx::chain s(arx::top_k{int(k)});
      const auto got = kept_ids(s.process(l));
      const std::vector<arx::token_id> want(order.begin(), order.begin() + std::ptrdiff_t(k));
      if (k < n)
        REQUIRE(got == want);  // sorted, ties by lower id
      else
        REQUIRE(sorted_copy(got) == sorted_copy(want));
    }
    for (const auto& pc : vc.ps) {
      INFO("top_p " << pc.p);
      const auto want = naive_top_p(l, order, double(pc.p));
      arx::chain s(arx::top_p{pc.p});
      const auto& c = s.process(l);
      REQUIRE(kept_ids(c) == want);  // top(n): sorted
      // the probabilities are the softmax over exactly those ids
      const double m = double(l[std::size_t(want[0])]);
      double z = 0.0;
      for (auto id : want) z += std::exp(double(l[std::size_t(id)]) - m);
      double worst = 0.0;
      for (const auto& x : c)
        worst = std::max(worst, std::fabs(double(x.p) - std::exp(double(x.logit) - m) / z));
      REQUIRE(worst < 1e-6);
      if (pc.also_sorted_first) {
        arx::chain sorted_first(sort_all{}, arx::top_p{pc.p});
        REQUIRE(kept_ids(sorted_first.process(l)) == want);
      }
    }
    // the llama.cpp default pair on a large vocabulary: top_p over the 40 survivors
    arx::chain kp(arx::top_k{40}, arx::top_p{0.95f});
    const std::vector<arx::token_id> k40(order.begin(), order.begin() + 40);
    std::vector<float> sub(40);
    for (std::size_t i = 0; i < 40; ++i) sub[i] = l[std::size_t(k40[i])];
    std::vector<arx::token_id> sub_order(40);
    std::iota(sub_order.begin(), sub_order.end(), 0);
    const auto sub_kept = naive_top_p(sub, sub_order, double(0.95f));
    REQUIRE(kept_ids(kp.process(l)) ==
            std::vector<arx::token_id>(k40.begin(), k40.begin() + std::ptrdiff_t(sub_kept.size())));
  }
}
