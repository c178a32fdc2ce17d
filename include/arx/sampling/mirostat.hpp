// arx/sampling/mirostat.hpp — Mirostat (Basu et al. 2021, "Mirostat: a neural text decoding
// algorithm that directly controls perplexity"), versions 1 and 2, as in llama.cpp.
//
// Both keep a running target `mu` (initially 2 * tau) for the surprise -log2 p of the next token,
// truncate the candidates with it in apply(), and after each draw (accept()) move mu towards the
// target surprise tau:
//
//   mu <- mu - eta * (s - tau),   s = -log2 p(id)  in the FINAL (renormalized) distribution the
//                                                  chain drew `id` from
//
// so that the average surprise of the generated tokens approaches tau.
//
//   mirostat_v2 (the simpler one; llama.cpp's default when --mirostat 2):
//     keep the tokens whose surprise -log2 p_i <= mu (p from softmax of the candidates at that
//     point); if none is left, keep the most probable one.
//   mirostat_v1:
//     estimate the Zipf exponent s of the distribution from its m most probable tokens
//     (least squares through the origin):
//        t_i = ln((i + 2) / (i + 1)),  b_i = ln(p_i / p_{i+1}) = logit_i - logit_{i+1},
//        s_hat = sum t_i b_i / sum t_i^2    over i = 0 .. min(m, n) - 2 (largest first),
//     then keep the k most probable tokens with
//        eps = s_hat - 1,  k = ((eps * 2^mu) / (1 - N^-eps))^(1 / s_hat),  N = vocabulary size,
//     truncated to an integer, at least 1. Limits where llama.cpp's formula divides by zero are
//     taken as limits: eps = 0 uses eps / (1 - N^-eps) = 1 / ln N; s_hat = 0 (the m top logits
//     are equal) gives k = 1 when 2^mu < N - 1 and the whole set otherwise. Candidates with logit
//     -inf are never counted.
//
// Place Mirostat last in a chain, after temperature (llama.cpp: temperature -> mirostat), and
// without other truncation samplers: it replaces them. It is stateful: copy the chain to fork the
// state; reset() restores mu = 2 * tau.
//
//   arx::chain s(arx::temperature{0.8f}, arx::mirostat_v2{5.0f, 0.1f});
//
// Parameters (invalid_argument at construction, naming the parameter and value):
//   tau  target surprise in bits, finite and >= 0
//   eta  learning rate, finite and >= 0 (0: mu stays at 2 * tau)
//   m    (v1) tokens used to estimate s_hat, >= 2 (llama.cpp uses 100)
//   n_vocab (v1) N in the formula; 0 (the default) takes the size of the logits row.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <charconv>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "arx/config.hpp"
#include "arx/core/error.hpp"
#include "arx/sampling/candidates.hpp"
#include "arx/sampling/chain.hpp"

ARX_NAMESPACE_BEGIN

namespace detail {

/// Shortest text that reads back as the same float ("0.1", "5", "nan"), for names and messages.
inline std::string mirostat_num(float v) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

inline void mirostat_check(const char* who, float tau, float eta) {
  if (!std::isfinite(tau) || tau < 0.0f)
    throw invalid_argument(std::string(who) + ": tau must be finite and >= 0, got " +
                           mirostat_num(tau));
  if (!std::isfinite(eta) || eta < 0.0f)
    throw invalid_argument(std::string(who) + ": eta must be finite and >= 0, got " +
                           mirostat_num(eta));
}

/// mu <- mu - eta * (-log2 p(id) - tau), p from the final candidates.
inline void mirostat_update(const char* who, float& mu, float tau, float eta, token_id id,
                            const candidates& final_set) {
  for (const auto& x : final_set) {
    if (x.id != id) continue;
    const double surprise = -std::log2(double(x.p));
    mu = float(double(mu) - double(eta) * (surprise - double(tau)));
    return;
  }
  throw invalid_argument(std::string(who) + ": accepted token " + std::to_string(id) +
                         " is not among the final candidates");
}

}  // namespace detail

/// Mirostat 2.0: keep the tokens with surprise <= mu. See the file comment.
struct mirostat_v2 {
  float tau = 5.0f;
  float eta = 0.1f;
  float mu = 10.0f;  ///< the current target surprise (state)

  explicit mirostat_v2(float tau_ = 5.0f, float eta_ = 0.1f) : tau(tau_), eta(eta_) {
    detail::mirostat_check("mirostat_v2", tau, eta);
    mu = 2.0f * tau;
  }

  void reset() noexcept { mu = 2.0f * tau; }

  void apply(candidates& c, const sampling_context&) {
    c.softmax();  // drops -inf candidates, p of the rest
    // -log2 p > mu  <=>  p < 2^-mu
    const double threshold = std::exp2(-double(mu));
    std::size_t kept = 0;
    for (const auto& x : c) kept += double(x.p) >= threshold;
    if (kept == c.size()) return;
    if (kept == 0) {  // keep the most probable (ties: lowest id)
      const candidate* best = &c[0];
      for (const auto& x : c)
        if (candidates::greater(x, *best)) best = &x;
      const token_id id = best->id;
      c.remove_if([id](const candidate& x) { return x.id != id; });
      return;
    }
    c.remove_if([threshold](const candidate& x) { return double(x.p) < threshold; });
  }

  void accept(token_id id, const candidates& final_set) {
    detail::mirostat_update("mirostat_v2", mu, tau, eta, id, final_set);
  }

  std::string name() const {
    return "mirostat_v2(tau=" + detail::mirostat_num(tau) + ", eta=" + detail::mirostat_num(eta) +
           ")";
  }
};

/// Mirostat (version 1): keep the k most probable tokens, k from the estimated Zipf exponent and
/// mu. See the file comment.
struct mirostat_v1 {
  float tau = 5.0f;
  float eta = 0.1f;
  int m = 100;
  std::size_t n_vocab = 0;  ///< N of the formula; 0: the logits row's size
  float mu = 10.0f;         ///< the current target surprise (state)

  explicit mirostat_v1(float tau_ = 5.0f, float eta_ = 0.1f, int m_ = 100,
                       std::size_t n_vocab_ = 0)
      : tau(tau_), eta(eta_), m(m_), n_vocab(n_vocab_) {
    detail::mirostat_check("mirostat_v1", tau, eta);
    if (m < 2)
      throw invalid_argument("mirostat_v1: m must be >= 2, got " + std::to_string(m));
    mu = 2.0f * tau;
    t_.resize(std::size_t(m) - 1);
    for (std::size_t i = 0; i < t_.size(); ++i) t_[i] = std::log(double(i + 2) / double(i + 1));
  }

  void reset() noexcept { mu = 2.0f * tau; }

  /// s_hat from logits sorted largest first (2 <= n <= m of them).
  double estimate_s(const float* top, std::size_t n) const {
    double num = 0.0, den = 0.0;
    for (std::size_t i = 0; i + 1 < n; ++i) {
      const double t = t_[i];  // ln((i + 2) / (i + 1))
      num += t * (double(top[i]) - double(top[i + 1]));
      den += t * t;
    }
    return num / den;
  }

  /// k (before truncation to an integer) for exponent s_hat, target mu, vocabulary N; may be inf.
  static double compute_k(double s_hat, double mu, double n) {
    const double ln_n = std::log(n);
    if (!(s_hat > 0.0)) {  // all equal: eps = -1, exponent +inf
      const double base = std::exp2(mu) / (n - 1.0);
      return base > 1.0 ? std::numeric_limits<double>::infinity() : base < 1.0 ? 0.0 : 1.0;
    }
    const double eps = s_hat - 1.0;
    // eps / (1 - N^-eps) = eps / -expm1(-eps ln N), which tends to 1 / ln N as eps -> 0.
    const double ratio = eps == 0.0 ? 1.0 / ln_n : eps / -std::expm1(-eps * ln_n);
    return std::exp((std::log(ratio) + mu * std::log(2.0)) / s_hat);
  }

  void apply(candidates& c, const sampling_context&) {
    // The top min(m, n_finite) logits, largest first.
    const std::size_t want = std::size_t(m);
    top_.clear();
    if (c.sorted()) {
      for (const auto& x : c) {
        if (top_.size() == want || x.logit == -std::numeric_limits<float>::infinity()) break;
        top_.push_back(x.logit);
      }
    } else if (c.size() <= 8 * want) {  // small sets: select by sorting a copy
      for (const auto& x : c)
        if (x.logit != -std::numeric_limits<float>::infinity()) top_.push_back(x.logit);
      const std::size_t n = std::min(want, top_.size());
      std::nth_element(top_.begin(), top_.begin() + std::ptrdiff_t(n - (n > 0)), top_.end(),
                       std::greater<float>());
      top_.resize(n);
      std::sort(top_.begin(), top_.end(), std::greater<float>());
    } else {  // large sets: a min-heap of the m largest (one comparison for most candidates)
      for (const auto& x : c) {
        if (x.logit == -std::numeric_limits<float>::infinity()) continue;
        if (top_.size() < want) {
          top_.push_back(x.logit);
          std::push_heap(top_.begin(), top_.end(), std::greater<float>());
        } else if (x.logit > top_.front()) {
          std::pop_heap(top_.begin(), top_.end(), std::greater<float>());
          top_.back() = x.logit;
          std::push_heap(top_.begin(), top_.end(), std::greater<float>());
        }
      }
      std::sort_heap(top_.begin(), top_.end(), std::greater<float>());  // largest first
    }
    if (top_.size() < 2) return;  // at most one possible token: nothing to truncate
    const double n = double(n_vocab != 0 ? n_vocab : c.vocab_size());
    const double k = compute_k(estimate_s(top_.data(), top_.size()), double(mu), n);
    if (!(k < double(c.size()))) return;  // keeps everything (also NaN)
    const std::size_t keep = std::max<std::size_t>(1, std::size_t(k));
    if (keep <= top_.size() && !c.sorted()) {
      // The keep-th largest logit is known: one cheap pass drops everything below it, leaving
      // `keep` candidates plus any ties at the threshold for top() to settle (lower ids first).
      const float threshold = top_[keep - 1];
      c.remove_if([threshold](const candidate& x) { return !(x.logit >= threshold); });
    }
    c.top(keep);
  }

  void accept(token_id id, const candidates& final_set) {
    detail::mirostat_update("mirostat_v1", mu, tau, eta, id, final_set);
  }

  std::string name() const {
    return "mirostat_v1(tau=" + detail::mirostat_num(tau) + ", eta=" + detail::mirostat_num(eta) +
           ", m=" + std::to_string(m) + ")";
  }

 private:
  std::vector<double> t_;   // ln((i + 2) / (i + 1)), i < m - 1
  std::vector<float> top_;  // scratch
};

ARX_NAMESPACE_END
