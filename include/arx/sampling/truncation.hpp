// arx/sampling/truncation.hpp — logit processors that rescale or truncate the distribution:
// temperature, top_k, top_p, min_p, typical, epsilon, eta, top_n_sigma, xtc.
//
// Each is a small struct for arx::chain / arx::sampler_chain (arx/sampling/chain.hpp) with a
// validating constructor (arx::invalid_argument naming the parameter and its value), public
// parameter members (read them freely; assigning them bypasses the validation) and name(), e.g.
// "top_p(0.95)". Probabilities below are those of the CURRENT set (softmax of the candidates that
// are still there when the processor runs), computed in double.
//
//   temperature{t}           t > 0: logit /= t.  t == 0: greedy (keeps the largest logit, ties:
//                            lowest id). A t so small that logit / t overflows divides
//                            logit - max instead (same softmax, tends to greedy).
//   top_k{k}                 keeps the k largest logits (ties: lower id). k >= 1.
//   top_p{p, min_keep = 1}   p in (0, 1]: the smallest prefix of the set sorted by logit whose
//                            probability mass is >= p (at least min_keep). p == 1 changes nothing.
//                            No full sort of a large set: the prefix is searched in growing top-k
//                            windows (64, 512, 4096, ...), the mass measured against the softmax
//                            normaliser of the whole set.
//   min_p{p, min_keep = 1}   p in [0, 1]: keeps p_i >= p * p_max (at least min_keep).
//   typical{p, min_keep = 1} p in (0, 1]: locally typical sampling (Meister et al. 2022): with
//                            H = -Σ p_i log p_i, orders by |-log p_i - H| (ties: larger logit,
//                            then lower id) and keeps the smallest prefix of mass >= p (at least
//                            min_keep); the survivors keep their previous order. p == 1: no-op.
//   epsilon{eps}             eps in [0, 1): keeps p_i >= eps; the largest logit always survives
//                            (all of them if tied), as HF's epsilon_cutoff.
//   eta{cutoff}              cutoff in [0, 1): HF's eta_cutoff: keeps p_i >= min(cutoff,
//                            sqrt(cutoff) * exp(-H)); the largest logit always survives.
//   top_n_sigma{n}           n > 0 finite: keeps logit >= max - n * sigma, sigma the population
//                            standard deviation of the set's finite logits (Tang et al. 2024).
//   xtc{probability, threshold, seed, min_keep = 1}
//                            "exclude top choices": each apply() takes one uniform u from its own
//                            arx::rng(seed); when u < probability and >= 2 candidates have
//                            p_i >= threshold, removes all of those except the least probable one
//                            (ties: the highest id survives, the last in sorted order), unless
//                            fewer than min_keep candidates (of finite logit) would be left. probability, threshold
//                            in [0, 1]; threshold > 0.5 can never remove anything.
#pragma once

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "arx/config.hpp"
#include "arx/core/error.hpp"
#include "arx/sampling/candidates.hpp"
#include "arx/sampling/chain.hpp"
#include "arx/sampling/rng.hpp"

ARX_NAMESPACE_BEGIN

namespace detail {

/// Shortest round-trip text of a float: fixed notation from 1e-5 to 1e7 ("0.95", "40",
/// "0.0003"), else scientific ("1e-07"); "nan", "inf".
inline std::string float_text(float x) {
  char buf[64];
  const float a = std::fabs(x);
  const bool fixed = a == 0.0f || (a >= 1e-5f && a < 1e7f);
  const auto r = fixed ? std::to_chars(buf, buf + sizeof buf, x, std::chars_format::fixed)
                       : std::to_chars(buf, buf + sizeof buf, x);
  return std::string(buf, r.ptr);
}

[[noreturn]] inline void bad_sampler_parameter(const char* sampler, const char* parameter,
                                               const std::string& value, const char* rule) {
  throw invalid_argument(std::string(sampler) + ": " + parameter + " must be " + rule + ", got " +
                         value);
}

inline std::string with_min_keep(std::string s, std::size_t min_keep) {
  if (min_keep != 1) s += ", min_keep=" + std::to_string(min_keep);
  return s + ")";
}

/// The largest logit of the set (-inf when empty or all -inf).
inline double max_logit(const candidates& c) noexcept {
  if (c.sorted() && !c.empty()) return double(c[0].logit);
  float m = -std::numeric_limits<float>::infinity();
  for (const auto& x : c) m = std::max(m, x.logit);
  return double(m);
}

/// Σ exp(logit - m) over the set, in double.
inline double softmax_normaliser(const candidates& c, double m) noexcept {
  double z = 0.0;
  for (const auto& x : c) z += std::exp(double(x.logit) - m);
  return z;
}

/// The smallest n such that the first n elements of v in `before` order have total weight
/// >= target (v.size() when the whole of v falls short). Reorders v so that its first n elements
/// are sorted, without sorting the rest: partial selection of growing windows 64, 512, 4096, ...
template <class T, class Before, class Weight>
std::size_t smallest_prefix_with_mass(std::vector<T>& v, double target, Before before,
                                      Weight weight) {
  std::size_t done = 0, window = 64;
  double cum = 0.0;
  for (;;) {
    const std::size_t end = std::min(window, v.size());
    if (end < v.size())
      std::nth_element(v.begin() + std::ptrdiff_t(done), v.begin() + std::ptrdiff_t(end), v.end(),
                       before);
    std::sort(v.begin() + std::ptrdiff_t(done), v.begin() + std::ptrdiff_t(end), before);
    for (std::size_t i = done; i < end; ++i) {
      cum += weight(v[i]);
      if (cum >= target) return i + 1;
    }
    if (end == v.size()) return v.size();
    done = end;
    window *= 8;
  }
}

}  // namespace detail

/// t > 0: logits /= t (when that overflows: (logit - max) / t, -inf below the float range; the
/// same softmax). t == 0: greedy.
struct temperature {
  float t;

  explicit temperature(float t_) : t(t_) {
    if (!(t_ >= 0.0f) || std::isinf(t_))
      detail::bad_sampler_parameter("temperature", "t", detail::float_text(t_),
                                    "finite and >= 0 (0 = greedy)");
  }

  void apply(candidates& c, const sampling_context&) const {
    if (c.empty()) return;
    if (t == 0.0f) {
      c.top(1);
      return;
    }
    if (t == 1.0f) return;
    constexpr float ninf = -std::numeric_limits<float>::infinity();
    bool overflow = false;
    for (const auto& x : c) overflow |= x.logit != ninf && std::isinf(x.logit / t);
    if (!overflow) {
      for (auto& x : c) x.logit /= t;
    } else {
      // a tiny t: logit / t leaves the float range. Shift by the maximum first (softmax does not
      // change): the maxima become 0, the rest very negative, -inf beyond the float range.
      const double m = detail::max_logit(c);
      const double big = double(std::numeric_limits<float>::max());
      for (auto& x : c) {
        if (x.logit == ninf) continue;
        const double v = (double(x.logit) - m) / double(t);
        x.logit = v < -big ? ninf : float(v);
      }
    }
    c.logits_changed();
  }

  std::string name() const { return "temperature(" + detail::float_text(t) + ")"; }
};

/// Keeps the k largest logits (ties: lower id), then sorted; a set of <= k is left as it is.
struct top_k {
  int k;

  explicit top_k(int k_) : k(k_) {
    if (k_ <= 0)
      detail::bad_sampler_parameter("top_k", "k", std::to_string(k_),
                                    ">= 1 (leave top_k out to disable it)");
  }

  void apply(candidates& c, const sampling_context&) const {
    if (std::size_t(k) < c.size()) c.top(std::size_t(k));
  }

  std::string name() const { return "top_k(" + std::to_string(k) + ")"; }
};

/// Nucleus sampling: the smallest logit-sorted prefix with mass >= p (at least min_keep).
struct top_p {
  float p;
  std::size_t min_keep;

  explicit top_p(float p_, std::size_t min_keep_ = 1) : p(p_), min_keep(min_keep_) {
    if (!(p_ > 0.0f && p_ <= 1.0f))
      detail::bad_sampler_parameter("top_p", "p", detail::float_text(p_), "in (0, 1]");
  }

  void apply(candidates& c, const sampling_context&) const {
    if (p >= 1.0f || c.size() <= std::max<std::size_t>(min_keep, 1)) return;
    const double m = detail::max_logit(c);
    if (m == -std::numeric_limits<double>::infinity()) return;  // softmax() reports it
    const double z = detail::softmax_normaliser(c, m);
    const double target = double(p) * z;
    std::size_t n;
    if (c.size() <= 64) c.sort();  // small sets: sorting is cheaper than the scratch copy
    if (c.sorted()) {
      double cum = 0.0;
      n = c.size();
      for (std::size_t i = 0; i < c.size(); ++i) {
        cum += std::exp(double(c[i].logit) - m);
        if (cum >= target) {
          n = i + 1;
          break;
        }
      }
    } else {
      std::vector<float> l(c.size());
      for (std::size_t i = 0; i < c.size(); ++i) l[i] = c[i].logit;
      n = detail::smallest_prefix_with_mass(l, target, std::greater<float>{},
                                            [m](float x) { return std::exp(double(x) - m); });
    }
    n = std::max(n, min_keep);
    if (n >= c.size()) return;
    if (c.sorted())
      c.keep_first(n);
    else
      c.top(n);
  }

  std::string name() const { return detail::with_min_keep("top_p(" + detail::float_text(p), min_keep); }
};

/// Keeps p_i >= p * p_max (at least min_keep, the largest).
struct min_p {
  float p;
  std::size_t min_keep;

  explicit min_p(float p_, std::size_t min_keep_ = 1) : p(p_), min_keep(min_keep_) {
    if (!(p_ >= 0.0f && p_ <= 1.0f))
      detail::bad_sampler_parameter("min_p", "p", detail::float_text(p_), "in [0, 1]");
  }

  void apply(candidates& c, const sampling_context&) const {
    if (p <= 0.0f || c.empty()) return;
    const double m = detail::max_logit(c);
    if (m == -std::numeric_limits<double>::infinity()) return;
    // p_i / p_max = exp(logit_i - max)
    const double log_p = std::log(double(p));
    const auto below = [&](const candidate& x) { return double(x.logit) - m < log_p; };
    std::size_t kept = 0;
    for (const auto& x : c) kept += !below(x);
    if (kept >= min_keep)
      c.remove_if(below);
    else
      c.top(min_keep);
  }

  std::string name() const { return detail::with_min_keep("min_p(" + detail::float_text(p), min_keep); }
};

/// Locally typical sampling (Meister et al. 2022).
struct typical {
  float p;
  std::size_t min_keep;

  explicit typical(float p_, std::size_t min_keep_ = 1) : p(p_), min_keep(min_keep_) {
    if (!(p_ > 0.0f && p_ <= 1.0f))
      detail::bad_sampler_parameter("typical", "p", detail::float_text(p_), "in (0, 1]");
  }

  void apply(candidates& c, const sampling_context&) const {
    if (p >= 1.0f || c.size() <= std::max<std::size_t>(min_keep, 1)) return;
    const double m = detail::max_logit(c);
    if (m == -std::numeric_limits<double>::infinity()) return;
    const double log_z = std::log(detail::softmax_normaliser(c, m));
    struct entry {
      double score, prob;
      float logit;
      token_id id;
    };
    std::vector<entry> e;
    e.reserve(c.size());
    double h = 0.0;
    for (const auto& x : c) {
      if (x.logit == -std::numeric_limits<float>::infinity()) continue;  // p = 0: dropped anyway
      const double log_p = double(x.logit) - m - log_z;
      const double q = std::exp(log_p);
      h -= q * log_p;
      e.push_back({log_p, q, x.logit, x.id});
    }
    for (auto& x : e) x.score = std::fabs(-x.score - h);
    const auto before = [](const entry& a, const entry& b) {
      if (a.score != b.score) return a.score < b.score;
      if (a.logit != b.logit) return a.logit > b.logit;
      return a.id < b.id;
    };
    // the first `found` of e are the most typical, in order, and precede all the others
    const std::size_t found = detail::smallest_prefix_with_mass(
        e, double(p), before, [](const entry& x) { return x.prob; });
    const std::size_t n = std::max(found, min_keep);
    if (n >= e.size()) return;
    if (n > found)
      std::nth_element(e.begin() + std::ptrdiff_t(found), e.begin() + std::ptrdiff_t(n), e.end(),
                       before);
    std::vector<token_id> keep(n);
    for (std::size_t i = 0; i < n; ++i) keep[i] = e[i].id;
    std::sort(keep.begin(), keep.end());
    c.remove_if([&](const candidate& x) {
      return !std::binary_search(keep.begin(), keep.end(), x.id);
    });
  }

  std::string name() const {
    return detail::with_min_keep("typical(" + detail::float_text(p), min_keep);
  }
};

namespace detail {
/// Removes p_i = exp(logit_i - m) / z < cutoff except the largest logit(s), m (HF's epsilon and
/// eta warpers with min_tokens_to_keep = 1).
inline void remove_below_probability(candidates& c, double m, double z, double cutoff) {
  c.remove_if([&](const candidate& x) {
    return double(x.logit) != m && std::exp(double(x.logit) - m) / z < cutoff;
  });
}
}  // namespace detail

/// HF epsilon_cutoff: keeps p_i >= eps; the largest logit always survives.
struct epsilon {
  float eps;

  explicit epsilon(float eps_) : eps(eps_) {
    if (!(eps_ >= 0.0f && eps_ < 1.0f))
      detail::bad_sampler_parameter("epsilon", "eps", detail::float_text(eps_), "in [0, 1)");
  }

  void apply(candidates& c, const sampling_context&) const {
    if (eps <= 0.0f || c.empty()) return;
    const double m = detail::max_logit(c);
    if (m == -std::numeric_limits<double>::infinity()) return;
    detail::remove_below_probability(c, m, detail::softmax_normaliser(c, m), double(eps));
  }

  std::string name() const { return "epsilon(" + detail::float_text(eps) + ")"; }
};

/// HF eta_cutoff: keeps p_i >= min(cutoff, sqrt(cutoff) * exp(-H)); the largest logit survives.
struct eta {
  float cutoff;

  explicit eta(float cutoff_) : cutoff(cutoff_) {
    if (!(cutoff_ >= 0.0f && cutoff_ < 1.0f))
      detail::bad_sampler_parameter("eta", "eta", detail::float_text(cutoff_), "in [0, 1)");
  }

  void apply(candidates& c, const sampling_context&) const {
    if (cutoff <= 0.0f || c.empty()) return;
    const double m = detail::max_logit(c);
    if (m == -std::numeric_limits<double>::infinity()) return;
    const double z = detail::softmax_normaliser(c, m);
    const double log_z = std::log(z);
    double h = 0.0;
    for (const auto& x : c) {
      if (x.logit == -std::numeric_limits<float>::infinity()) continue;
      const double log_p = double(x.logit) - m - log_z;
      h -= std::exp(log_p) * log_p;
    }
    const double e = double(cutoff);
    detail::remove_below_probability(c, m, z, std::min(e, std::sqrt(e) * std::exp(-h)));
  }

  std::string name() const { return "eta(" + detail::float_text(cutoff) + ")"; }
};

/// Top-nσ: keeps logit >= max - n * sigma (population std of the finite logits).
struct top_n_sigma {
  float n;

  explicit top_n_sigma(float n_) : n(n_) {
    if (!(n_ > 0.0f) || std::isinf(n_))
      detail::bad_sampler_parameter("top_n_sigma", "n", detail::float_text(n_),
                                    "finite and > 0 (leave top_n_sigma out to disable it)");
  }

  void apply(candidates& c, const sampling_context&) const {
    double sum = 0.0, m = -std::numeric_limits<double>::infinity();
    std::size_t count = 0;
    for (const auto& x : c) {
      if (x.logit == -std::numeric_limits<float>::infinity()) continue;
      sum += double(x.logit);
      m = std::max(m, double(x.logit));
      ++count;
    }
    if (count == 0) return;
    const double mean = sum / double(count);
    double acc = 0.0;
    for (const auto& x : c) {
      if (x.logit == -std::numeric_limits<float>::infinity()) continue;
      const double d = double(x.logit) - mean;
      acc += d * d;
    }
    const double threshold = m - double(n) * std::sqrt(acc / double(count));
    c.remove_if([&](const candidate& x) { return double(x.logit) < threshold; });
  }

  std::string name() const { return "top_n_sigma(" + detail::float_text(n) + ")"; }
};

/// XTC, "exclude top choices" (text-generation-webui / llama.cpp).
struct xtc {
  float probability;
  float threshold;
  std::uint64_t seed;
  std::size_t min_keep;

  xtc(float probability_, float threshold_, std::uint64_t seed_, std::size_t min_keep_ = 1)
      : probability(probability_), threshold(threshold_), seed(seed_), min_keep(min_keep_),
        g_(seed_) {
    if (!(probability_ >= 0.0f && probability_ <= 1.0f))
      detail::bad_sampler_parameter("xtc", "probability", detail::float_text(probability_),
                                    "in [0, 1]");
    if (!(threshold_ >= 0.0f && threshold_ <= 1.0f))
      detail::bad_sampler_parameter("xtc", "threshold", detail::float_text(threshold_),
                                    "in [0, 1]");
  }

  void apply(candidates& c, const sampling_context&) {
    const double u = g_.uniform();  // always one per apply: the sequence does not depend on c
    if (!(u < double(probability)) || c.size() < 2) return;
    const double m = detail::max_logit(c);
    if (m == -std::numeric_limits<double>::infinity()) return;
    const double z = detail::softmax_normaliser(c, m);
    const auto above = [&](const candidate& x) {
      return x.logit != -std::numeric_limits<float>::infinity() &&
             std::exp(double(x.logit) - m) / z >= double(threshold);
    };
    // the least probable of those above: smallest logit, ties the highest id (last when sorted)
    std::size_t count = 0, finite = 0;
    const candidate* last = nullptr;
    for (const auto& x : c) {
      finite += x.logit != -std::numeric_limits<float>::infinity();
      if (!above(x)) continue;
      ++count;
      if (last == nullptr || candidates::greater(*last, x)) last = &x;
    }
    if (count < 2 || finite - (count - 1) < min_keep) return;
    const token_id survivor = last->id;
    c.remove_if([&](const candidate& x) { return x.id != survivor && above(x); });
  }

  std::string name() const {
    return detail::with_min_keep(
        "xtc(" + detail::float_text(probability) + ", " + detail::float_text(threshold), min_keep);
  }

 private:
  rng g_;
};

ARX_NAMESPACE_END
