// arx/decoding/contrastive.hpp — contrastive search (Su & Collier, arXiv:2210.14140): greedy
// decoding that avoids tokens whose representation repeats what was already said
// (../shared/ALGORITHMS.md §3).
//
//   auto model = arx::transformer<>::load("model.gguf");
//   arx::contrastive_search<> cs(model, {.k = 4, .alpha = 0.6});
//   auto seq = model.new_sequence(2048);
//   auto res = cs.generate(seq, prompt_ids, 256, [](arx::token_id t) { ...; return true; }, eos);
//
// Each step, with logits for the next position:
//   1. p = softmax(logits) (double); the candidates are the k most probable tokens (ties: lower
//      id first);
//   2. ONE tree forward of the k candidates (forward_request::tree_parents all -1): each sits at
//      the same position after the shared prefix and attends to the prefix and itself only, so the
//      prefix's KV is read by all k and copied by none; it returns each candidate's final-norm
//      hidden state h_v and its next-token logits;
//   3. score(v) = (1 − α)·p(v) − α·max_j cos(h_v, h_j), j over every position of this call (prompt
//      and emitted tokens); the winner is the first candidate with the highest score (so α = 0
//      or k = 1 is greedy decoding, ties to the lower id);
//   4. sequence::keep_rows keeps the winner's KV row (the others are dropped), its logits are the
//      next step's, its hidden state joins the history.
// One step therefore costs one forward of k tokens reading the weights once (plus k·n·n_embd
// multiply-adds for the cosines), against k full KV-cache copies in HF transformers.
//
// Memory: the hidden-state history holds one unit-length float row of n_embd values per position
// of the call: at most seq.capacity() × n_embd × 4 bytes (16 MiB for a 2048-token context of a
// 2048-wide model), reserved up front but touched only as positions are added. The candidates
// need k − 1 spare rows in the KV cache; near the end of the context, where fewer rows are
// free, the candidates are evaluated in chunks that fit (same result, one more forward when the
// winner is not in the last chunk). Positions the sequence held before the call are attended to
// but are not in the history (their hidden states are not known).
// After generate(), seq holds the prompt and every emitted token (the last one included: its
// logits were computed when it was a candidate), and next_logits() is what the next step would
// use.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numeric>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "arx/config.hpp"
#include "arx/core/error.hpp"
#include "arx/core/tensor.hpp"
#include "arx/decoding/decode_result.hpp"
#include "arx/model/transformer.hpp"
#include "arx/ops/gemm.hpp"

ARX_NAMESPACE_BEGIN

struct contrastive_params {
  int k = 4;           ///< candidates per step (>= 1)
  double alpha = 0.6;  ///< degeneration penalty weight, in [0, 1]
};

/// Step 3 on its own: the index (into `probs`) of the winning candidate.
/// probs: {k} candidate probabilities; cand: {k, d} their hidden states; hist: {n, d} the
/// history's hidden states as unit-length rows (n may be 0: then no penalty). cos_max receives
/// max_j cos(h_v, h_j) per candidate ({k}; 0 when n = 0 or h_v = 0).
inline std::size_t contrastive_pick(std::span<const double> probs, tensor_view<const float> cand,
                                    tensor_view<const float> hist, double alpha,
                                    std::span<double> cos_max) {
  const std::int64_t k = cand.shape(0), d = cand.shape(1), n = hist.shape(0);
  if (std::int64_t(probs.size()) != k || std::int64_t(cos_max.size()) != k || k == 0 ||
      (n > 0 && hist.shape(1) != d))
    throw shape_error("contrastive_pick: " + std::to_string(probs.size()) +
                      " probabilities, candidates " + cand.shape().str() + ", history " +
                      hist.shape().str() + ", " + std::to_string(cos_max.size()) + " outputs");
  std::vector<float> unit(static_cast<std::size_t>(k * d));  // {k, d}: candidates / |h_v|
  for (std::int64_t c = 0; c < k; ++c) {
    double ss = 0;
    for (std::int64_t i = 0; i < d; ++i) ss += double(cand(c, i)) * double(cand(c, i));
    const double inv = ss > 0 ? 1.0 / std::sqrt(ss) : 0.0;
    for (std::int64_t i = 0; i < d; ++i)
      unit[std::size_t(c * d + i)] = float(double(cand(c, i)) * inv);
  }
  std::vector<float> cos;  // {k, n}
  if (n > 0) {
    cos.resize(static_cast<std::size_t>(k * n));
    ops::gemm(hist, tensor_view<const float>(unit.data(), shape_t{k, d}),
              tensor_view<float>(cos.data(), shape_t{k, n}));
  }
  std::size_t best = 0;
  double best_score = -std::numeric_limits<double>::infinity();
  for (std::int64_t c = 0; c < k; ++c) {
    double m = 0;
    if (n > 0) m = *std::max_element(cos.begin() + c * n, cos.begin() + (c + 1) * n);
    cos_max[std::size_t(c)] = m;
    const double score = (1.0 - alpha) * probs[std::size_t(c)] - alpha * m;
    if (score > best_score) {
      best_score = score;
      best = std::size_t(c);
    }
  }
  return best;
}

template <class KV = float>
class contrastive_search {
 public:
  explicit contrastive_search(transformer<KV> model, contrastive_params p = {})
      : model_(std::move(model)), params_(p) {
    if (p.k < 1)
      throw invalid_argument("contrastive_search: k = " + std::to_string(p.k) + " must be >= 1");
    if (!(p.alpha >= 0.0 && p.alpha <= 1.0))
      throw invalid_argument("contrastive_search: alpha = " + std::to_string(p.alpha) +
                             " must be in [0, 1]");
  }

  const contrastive_params& params() const noexcept { return params_; }
  /// The logits the next step would start from ({n_vocab}; empty before generate()).
  std::span<const float> next_logits() const noexcept { return logits_; }
  /// Bytes held by the hidden-state history (its reserved capacity).
  std::size_t history_bytes() const noexcept { return hist_.capacity() * sizeof(float); }

  /// See the file comment and decode_result.hpp for the conventions.
  template <class OnToken>
  decode_result generate(sequence<KV>& seq, std::span<const token_id> prompt,
                         std::int64_t max_tokens, OnToken&& on_token, token_id eos = -1) {
    using clock = detail::decode_clock;
    detail::check_decode_call("contrastive_search::generate", prompt.size(), max_tokens);
    const model_config& c = model_.config();
    const std::int64_t d = c.n_embd, n_vocab = c.n_vocab;
    decode_result res;
    res.stats.n_prompt = std::int64_t(prompt.size());

    auto t0 = clock::now();
    {
      const auto out = model_.forward(seq, prompt, forward_request{rows::last, rows::all});
      hist_.clear();
      hist_.reserve(std::size_t(seq.capacity()) * std::size_t(d));
      for (std::int64_t r = 0; r < out.hidden.shape(0); ++r) push_history(out.hidden.row(r));
      const auto last = out.logits.row(0);
      logits_.assign(last.begin(), last.end());
    }
    res.stats.prompt_seconds = detail::seconds_since(t0);
    t0 = clock::now();

    const bool greedy = params_.k == 1 || params_.alpha == 0.0;
    const auto k = std::min<std::int64_t>(greedy ? 1 : params_.k, n_vocab);
    std::vector<double> probs(static_cast<std::size_t>(n_vocab));
    std::vector<token_id> cand(static_cast<std::size_t>(k));
    std::vector<double> cand_p(static_cast<std::size_t>(k)), cos_max(static_cast<std::size_t>(k));
    std::vector<float> cand_h(static_cast<std::size_t>(k * d));        // {k, d}
    std::vector<float> cand_logits(static_cast<std::size_t>(k * n_vocab));  // {k, n_vocab}
    std::vector<std::int32_t> parents;

    for (;;) {
      const std::int64_t pos = seq.size();
      if (pos >= seq.capacity()) {
        res.reason = stop_reason::context_full;
        break;
      }
      // 1. candidates: the k most probable tokens, ties to the lower id
      softmax_into(logits_, probs);
      std::vector<token_id>& order = order_;
      order.resize(std::size_t(n_vocab));
      std::iota(order.begin(), order.end(), token_id(0));
      std::partial_sort(order.begin(), order.begin() + k, order.end(),
                        [&](token_id a, token_id b) {
                          return probs[std::size_t(a)] > probs[std::size_t(b)] ||
                                 (probs[std::size_t(a)] == probs[std::size_t(b)] && a < b);
                        });
      for (std::int64_t i = 0; i < k; ++i) {
        cand[std::size_t(i)] = order[std::size_t(i)];
        cand_p[std::size_t(i)] = probs[std::size_t(cand[std::size_t(i)])];
      }
      // 2. the candidates as a tree of k roots after the prefix, in chunks that fit the context
      const std::int64_t chunk = std::min(k, seq.capacity() - pos);
      std::int64_t last_chunk = 0;
      for (std::int64_t c0 = 0; c0 < k; c0 += chunk) {
        const std::int64_t m = std::min(chunk, k - c0);
        if (c0 > 0) seq.truncate(pos);
        parents.assign(std::size_t(m), -1);
        const auto out = model_.forward(
            seq, std::span<const token_id>(cand.data() + c0, std::size_t(m)), pos,
            forward_request{rows::all, rows::all, {}, {}, parents});
        ++res.stats.forwards;
        res.stats.forward_tokens += m;
        for (std::int64_t r = 0; r < m; ++r) {
          const auto h = out.hidden.row(r), l = out.logits.row(r);
          std::copy(h.begin(), h.end(), cand_h.begin() + (c0 + r) * d);
          std::copy(l.begin(), l.end(), cand_logits.begin() + (c0 + r) * n_vocab);
        }
        last_chunk = c0;
      }
      // 3. the winner
      const std::size_t w =
          contrastive_pick(cand_p, tensor_view<const float>(cand_h.data(), shape_t{k, d}),
                           tensor_view<const float>(hist_.data(), shape_t{hist_rows(), d}),
                           params_.alpha, cos_max);
      // 4. keep its KV row, logits and hidden state
      const auto wi = std::int64_t(w);
      if (wi >= last_chunk) {
        const std::int64_t row = pos + (wi - last_chunk);
        seq.keep_rows(pos, std::span<const std::int64_t>(&row, 1));
      } else {  // an earlier chunk: its row was overwritten, evaluate the winner again
        seq.truncate(pos);
        (void)model_.forward(seq, std::span<const token_id>(&cand[w], 1), pos,
                             forward_request{rows::none});
        ++res.stats.forwards;
        ++res.stats.forward_tokens;
      }
      logits_.assign(cand_logits.begin() + wi * n_vocab, cand_logits.begin() + (wi + 1) * n_vocab);
      push_history(std::span<const float>(cand_h.data() + wi * d, std::size_t(d)));

      const token_id t = cand[w];
      res.tokens.push_back(t);
      if (eos >= 0 && t == eos) {
        res.reason = stop_reason::eos;
        break;
      }
      if (!detail::call_on_token(on_token, t)) {
        res.reason = stop_reason::cancelled;
        break;
      }
      if (std::int64_t(res.tokens.size()) >= max_tokens) {
        res.reason = stop_reason::max_tokens;
        break;
      }
    }
    res.stats.decode_seconds = detail::seconds_since(t0);
    return res;
  }

 private:
  std::int64_t hist_rows() const noexcept {
    return std::int64_t(hist_.size()) / model_.config().n_embd;
  }

  /// Appends h / |h| (zeros for a zero vector) to the history.
  void push_history(std::span<const float> h) {
    double ss = 0;
    for (const float x : h) ss += double(x) * double(x);
    const double inv = ss > 0 ? 1.0 / std::sqrt(ss) : 0.0;
    for (const float x : h) hist_.push_back(float(double(x) * inv));
  }

  /// p = softmax(logits) in double; a NaN or +inf logit -> invalid_argument naming the token.
  static void softmax_into(std::span<const float> logits, std::vector<double>& p) {
    for (std::size_t i = 0; i < logits.size(); ++i)
      if (std::isnan(logits[i]) || logits[i] == std::numeric_limits<float>::infinity())
        throw invalid_argument("contrastive_search: logit of token " + std::to_string(i) +
                               " is " + std::to_string(logits[i]));
    const float mx = *std::max_element(logits.begin(), logits.end());
    double sum = 0;
    for (std::size_t i = 0; i < logits.size(); ++i) sum += p[i] = std::exp(double(logits[i]) - mx);
    for (double& x : p) x /= sum;
  }

  transformer<KV> model_;
  contrastive_params params_;
  std::vector<float> hist_;     // {positions, n_embd}: unit-length final-norm hidden states
  std::vector<float> logits_;   // {n_vocab}: the next step's logits
  std::vector<token_id> order_;  // scratch: token ids sorted by probability
};

ARX_NAMESPACE_END
