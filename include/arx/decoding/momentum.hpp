// arx/decoding/momentum.hpp — momentum decoding (Lan et al., arXiv:2212.02175): greedy decoding
// that resists walking a path of the text again (../shared/ALGORITHMS.md §4). Logits only, so it
// is a token selector for arx::generate:
//
//   arx::momentum_selector sel({.top_k = 5, .alpha = 0.2}, prompt_ids);
//   auto res = arx::generate(model, seq, tok, prompt_ids, sel, on_text, opts);
//
// The text so far (prompt and generated tokens) is a graph whose nodes are tokens and whose
// edges are the n-grams already walked. For each of the top_k most probable tokens v (ties:
// lower id first), l(v) is the length of the longest n-gram, n <= max_n, that appending v would
// walk again:
//   l = 0  v never occurred;
//   l = 1  v occurred, but no n-gram of length >= 2 ending in v repeats;
//   l = n  (x_{t-n+2}, ..., x_t, v) already occurs in the text
//          (n <= max_n = resistance.size() - 1).
// score(v) = p(v) − α·R(l), p the softmax probability of the raw logits (double), R the
// resistance table (default {0, 1, 3, 4, 5, 6}). The highest score wins (ties: the more probable,
// then the lower id). α = 0 is greedy decoding.
// R may hold +infinity: such tokens are never chosen (e.g. R(l) = ∞ for l >= n forbids repeating
// any n-gram). When every top-k candidate is forbidden the search widens to the next tokens in
// probability order over the whole vocabulary; when every token is forbidden, select() throws
// arx::error naming the step (no silent fallback).
// Cost per step: a softmax, a top-k, and for each candidate O(occurrences of v × max_n) through
// an index token → positions (the graph's nodes); memory: one int64 per position of the text.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numeric>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "arx/config.hpp"
#include "arx/core/error.hpp"
#include "arx/generation/generate.hpp"  // token_id

ARX_NAMESPACE_BEGIN

struct momentum_params {
  int top_k = 5;        ///< candidates per step (>= 1)
  double alpha = 0.2;   ///< weight of the resistance (>= 0)
  /// R(l) for l = 0 .. max_n (at least {R(0), R(1)}; finite values or +infinity, >= 0)
  std::vector<double> resistance = {0, 1, 3, 4, 5, 6};
};

class momentum_selector {
 public:
  explicit momentum_selector(momentum_params p = {}, std::span<const token_id> prompt = {})
      : p_(std::move(p)) {
    if (p_.top_k < 1)
      throw invalid_argument("momentum_selector: top_k = " + std::to_string(p_.top_k) +
                             " must be >= 1");
    if (!(p_.alpha >= 0) || std::isinf(p_.alpha))
      throw invalid_argument("momentum_selector: alpha = " + std::to_string(p_.alpha) +
                             " must be finite and >= 0");
    if (p_.resistance.size() < 2)
      throw invalid_argument("momentum_selector: resistance has " +
                             std::to_string(p_.resistance.size()) +
                             " values; it needs R(0) and R(1) at least");
    for (std::size_t l = 0; l < p_.resistance.size(); ++l)
      if (!(p_.resistance[l] >= 0))
        throw invalid_argument("momentum_selector: resistance[" + std::to_string(l) +
                               "] = " + std::to_string(p_.resistance[l]) + " must be >= 0");
    for (const token_id t : prompt) accept(t);
  }

  const momentum_params& params() const noexcept { return p_; }
  int max_n() const noexcept { return int(p_.resistance.size()) - 1; }
  const std::vector<token_id>& text() const noexcept { return text_; }

  /// Appends a token to the text (select() does this for the token it returns).
  void accept(token_id t) {
    if (t < 0) throw invalid_argument("momentum_selector: token id " + std::to_string(t));
    where_[t].push_back(std::int64_t(text_.size()));
    text_.push_back(t);
  }

  /// l for appending v to the text (see the file comment).
  int repeat_length_of(token_id v) const {
    const auto it = where_.find(v);
    if (it == where_.end()) return 0;
    const auto n = std::int64_t(text_.size());
    const int max_n = this->max_n();
    int best = 1;
    for (const std::int64_t i : it->second) {
      int len = 1;
      while (len < max_n && i - len >= 0 &&
             text_[std::size_t(i - len)] == text_[std::size_t(n - len)])
        ++len;
      best = std::max(best, len);
      if (best == max_n) break;
    }
    return best;
  }

  /// The next token for these logits ({n_vocab}); it joins the text.
  token_id operator()(std::span<const float> logits) {
    const auto nv = std::int64_t(logits.size());
    if (nv == 0) throw invalid_argument("momentum_selector: empty logits");
    float mx = -std::numeric_limits<float>::infinity();
    for (std::int64_t i = 0; i < nv; ++i) {
      const float x = logits[std::size_t(i)];
      if (std::isnan(x) || x == std::numeric_limits<float>::infinity())
        throw invalid_argument("momentum_selector: logit of token " + std::to_string(i) +
                               " is " + std::to_string(x));
      mx = std::max(mx, x);
    }
    if (mx == -std::numeric_limits<float>::infinity())
      throw invalid_argument("momentum_selector: every logit is -inf");
    p_of_.resize(std::size_t(nv));
    double sum = 0;
    for (std::int64_t i = 0; i < nv; ++i)
      sum += p_of_[std::size_t(i)] = std::exp(double(logits[std::size_t(i)]) - double(mx));
    for (double& x : p_of_) x /= sum;
    order_.resize(std::size_t(nv));
    std::iota(order_.begin(), order_.end(), token_id(0));
    const auto more_probable = [&](token_id a, token_id b) {
      const double pa = p_of_[std::size_t(a)], pb = p_of_[std::size_t(b)];
      return pa > pb || (pa == pb && a < b);
    };
    // top_k first; widened to the whole vocabulary only when all of them are forbidden
    std::int64_t k = std::min<std::int64_t>(p_.top_k, nv);
    std::partial_sort(order_.begin(), order_.begin() + k, order_.end(), more_probable);
    for (std::int64_t from = 0;;) {
      token_id best = -1;
      double best_score = -std::numeric_limits<double>::infinity();
      for (std::int64_t c = from; c < k; ++c) {
        const token_id v = order_[std::size_t(c)];
        const double r = p_.resistance[std::size_t(repeat_length_of(v))];
        const double score = std::isinf(r) ? -std::numeric_limits<double>::infinity()
                                           : p_of_[std::size_t(v)] - p_.alpha * r;
        if (score > best_score) {  // candidates in probability order: ties keep the first
          best_score = score;
          best = v;
        }
      }
      if (best >= 0) {
        accept(best);
        return best;
      }
      if (k == nv)
        throw error("momentum_selector: every token is forbidden by an infinite resistance at "
                    "step " + std::to_string(text_.size()));
      from = k;
      k = nv;
      std::sort(order_.begin() + from, order_.end(), more_probable);
    }
  }

 private:
  momentum_params p_;
  std::vector<token_id> text_;                                    // prompt + generated
  std::unordered_map<token_id, std::vector<std::int64_t>> where_;  // token -> its positions
  std::vector<double> p_of_;                                      // scratch: probabilities
  std::vector<token_id> order_;                                   // scratch: ids by p
};

ARX_NAMESPACE_END
