// Statistical helpers shared by the sampler tests (tests/unit/sampling/*.cpp):
//
//   chi_square_p_value(observed, expected_probs, n)
//       Pearson's chi-square goodness-of-fit test of a histogram of n draws against a closed-form
//       distribution; returns the p-value. Cells with an expected count < 5 are pooled (see
//       chi_square_test). A draw in a cell of expected probability 0 is impossible under the
//       hypothesis: p = 0.
//   chi_square_test(...)   the same, with the statistic and the degrees of freedom (for reports).
//   histogram(sampler, logits, ctx, seed, draws)
//       counts[id] of `draws` samples from `sampler` (arx::chain<...> or arx::sampler_chain), with
//       one arx::rng seeded by `seed`.
//   softmax_double(logits)  softmax in double (-inf -> 0), for closed forms.
//   regularized_gamma_q(a, x)  Q(a, x) = Γ(a, x) / Γ(a), used for the chi-square tail.
//
// Everything is in namespace sampling_test and also available unqualified (using-declarations).
#pragma once

#include <algorithm>
#include <arx/sampling/chain.hpp>
#include <arx/sampling/rng.hpp>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numeric>
#include <span>
#include <stdexcept>
#include <vector>

namespace sampling_test {

/// Regularized upper incomplete gamma Q(a, x) = Γ(a, x) / Γ(a) for a > 0, x >= 0: the series of
/// P(a, x) for x < a + 1, else the continued fraction of Q (modified Lentz), as in Numerical
/// Recipes §6.2, but with an iteration cap large enough for a up to ~10^6 (both converge in
/// O(sqrt(a)) steps near x ≈ a).
inline double regularized_gamma_q(double a, double x) {
  if (!(a > 0.0) || !(x >= 0.0)) throw std::domain_error("regularized_gamma_q: bad argument");
  if (x == 0.0) return 1.0;
  if (std::isinf(x)) return 0.0;
  constexpr double eps = 1e-15;
  constexpr int max_iter = 1'000'000;
  const double log_prefactor = -x + a * std::log(x) - std::lgamma(a);
  if (x < a + 1.0) {
    // P(a, x) = e^-x x^a / Γ(a+1) * Σ x^n / ((a+1)...(a+n))
    double ap = a, del = 1.0 / a, sum = del;
    for (int n = 0; n < max_iter; ++n) {
      ap += 1.0;
      del *= x / ap;
      sum += del;
      if (std::fabs(del) < std::fabs(sum) * eps) break;
    }
    const double p = sum * std::exp(log_prefactor);
    return std::clamp(1.0 - p, 0.0, 1.0);
  }
  // Q(a, x) = e^-x x^a / Γ(a) * 1 / (x + 1 - a - 1·(1-a) / (x + 3 - a - 2·(2-a) / (x + 5 - a ...
  constexpr double tiny = 1e-300;
  double b = x + 1.0 - a, c = 1.0 / tiny, d = 1.0 / b, h = d;
  for (int i = 1; i < max_iter; ++i) {
    const double an = -double(i) * (double(i) - a);
    b += 2.0;
    d = an * d + b;
    if (std::fabs(d) < tiny) d = tiny;
    c = b + an / c;
    if (std::fabs(c) < tiny) c = tiny;
    d = 1.0 / d;
    const double del = d * c;
    h *= del;
    if (std::fabs(del - 1.0) < eps) break;
  }
  return std::clamp(std::exp(log_prefactor) * h, 0.0, 1.0);
}

struct chi_square_result {
  double statistic = 0.0;  ///< Pearson's X² over the pooled cells (+inf for an impossible draw)
  std::int64_t df = 0;     ///< pooled cells - 1
  double p = 1.0;          ///< P(X² >= statistic) under the hypothesis
};

/// Pearson's chi-square test of `observed` (counts of n draws per cell) against `expected_probs`
/// (same length; renormalized to sum 1).
/// Pooling: every cell with expected count n·p < 5 goes into one pooled cell; if that pooled cell
/// still expects < 5 it is merged into the cell with the smallest expected count >= 5. Cells with
/// p == 0 take no part, except that any draw in one makes the result p = 0 (statistic +inf).
/// One cell left (df = 0): p = 1 when it holds all n draws.
inline chi_square_result chi_square_test(std::span<const std::int64_t> observed,
                                         std::span<const double> expected_probs, std::int64_t n) {
  if (observed.size() != expected_probs.size())
    throw std::invalid_argument("chi_square_test: observed and expected sizes differ");
  if (n <= 0) throw std::invalid_argument("chi_square_test: n must be positive");
  double total_p = 0.0;
  std::int64_t total_obs = 0;
  for (std::size_t i = 0; i < observed.size(); ++i) {
    if (!(expected_probs[i] >= 0.0) || !std::isfinite(expected_probs[i]))
      throw std::invalid_argument("chi_square_test: expected probabilities must be finite, >= 0");
    total_p += expected_probs[i];
    total_obs += observed[i];
  }
  if (!(total_p > 0.0)) throw std::invalid_argument("chi_square_test: expected sums to 0");
  if (total_obs != n) throw std::invalid_argument("chi_square_test: observed counts do not sum to n");

  chi_square_result r;
  std::vector<double> exp_cells;
  std::vector<double> obs_cells;
  double pooled_exp = 0.0, pooled_obs = 0.0;
  for (std::size_t i = 0; i < observed.size(); ++i) {
    const double e = double(n) * expected_probs[i] / total_p;
    if (expected_probs[i] == 0.0) {
      if (observed[i] > 0) {
        r.statistic = std::numeric_limits<double>::infinity();
        r.p = 0.0;
        r.df = 0;
        return r;
      }
      continue;
    }
    if (e < 5.0) {
      pooled_exp += e;
      pooled_obs += double(observed[i]);
    } else {
      exp_cells.push_back(e);
      obs_cells.push_back(double(observed[i]));
    }
  }
  if (pooled_exp > 0.0) {
    if (pooled_exp >= 5.0 || exp_cells.empty()) {
      exp_cells.push_back(pooled_exp);
      obs_cells.push_back(pooled_obs);
    } else {
      const auto it = std::min_element(exp_cells.begin(), exp_cells.end());
      const auto k = std::size_t(it - exp_cells.begin());
      exp_cells[k] += pooled_exp;
      obs_cells[k] += pooled_obs;
    }
  }
  r.df = std::int64_t(exp_cells.size()) - 1;
  for (std::size_t i = 0; i < exp_cells.size(); ++i) {
    const double d = obs_cells[i] - exp_cells[i];
    r.statistic += d * d / exp_cells[i];
  }
  r.p = r.df <= 0 ? 1.0 : regularized_gamma_q(0.5 * double(r.df), 0.5 * r.statistic);
  return r;
}

/// The p-value of chi_square_test.
inline double chi_square_p_value(std::span<const std::int64_t> observed,
                                 std::span<const double> expected_probs, std::int64_t n) {
  return chi_square_test(observed, expected_probs, n).p;
}

/// counts[id] over `draws` samples of `sampler.sample(logits, ctx, g)` with one arx::rng g(seed).
/// Stateful samplers (accept()) evolve across the draws, as in a generation with a fixed context.
template <class Sampler>
std::vector<std::int64_t> histogram(Sampler&& sampler, std::span<const float> logits,
                                    const arx::sampling_context& ctx, std::uint64_t seed,
                                    std::int64_t draws) {
  std::vector<std::int64_t> counts(logits.size(), 0);
  arx::rng g(seed);
  for (std::int64_t i = 0; i < draws; ++i) {
    const arx::token_id id = sampler.sample(logits, ctx, g);
    if (id < 0 || std::size_t(id) >= counts.size())
      throw std::out_of_range("histogram: sampler returned an id outside the vocabulary");
    ++counts[std::size_t(id)];
  }
  return counts;
}

/// softmax of `logits` in double; -inf logits get probability 0.
inline std::vector<double> softmax_double(std::span<const float> logits) {
  std::vector<double> p(logits.size(), 0.0);
  double m = -std::numeric_limits<double>::infinity();
  for (float l : logits) m = std::max(m, double(l));
  double sum = 0.0;
  for (std::size_t i = 0; i < logits.size(); ++i) {
    p[i] = std::isinf(logits[i]) && logits[i] < 0 ? 0.0 : std::exp(double(logits[i]) - m);
    sum += p[i];
  }
  for (double& x : p) x /= sum;
  return p;
}

}  // namespace sampling_test

using sampling_test::chi_square_p_value;
using sampling_test::chi_square_result;
using sampling_test::chi_square_test;
using sampling_test::histogram;
using sampling_test::regularized_gamma_q;
using sampling_test::softmax_double;
