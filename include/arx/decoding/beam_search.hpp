// arx/decoding/beam_search.hpp — beam search: keep the `width` most probable continuations,
// extend each by every token, keep the best `width` again; the beams share the prompt's KV.
//
//   arx::beam_search<> bs(model, {.width = 4, .length_penalty = 1.0});
//   auto seq = model.new_sequence(2048);
//   auto res = bs.generate(seq, prompt_ids, 64, eos);   // res.tokens: the best hypothesis
//   for (const auto& h : res.hypotheses) ...           // every kept hypothesis, best first
//
// The prompt is evaluated once into `seq`; every beam is a sequence that shares those positions
// (sequence::share_prefix: read in place, not copied) and holds only its own generated tokens'
// KV rows. A beam continued by several children is forked with clone(), which copies only those
// rows. One step:
//   1. candidates: every live beam b and token v, with log-probability s_b + log p_b(v) (log p
//      = log_softmax of the raw logits, in double); the best 2·width of them by that sum (ties:
//      lower beam index, then lower token id) are taken in order;
//   2. a candidate ending in EOS becomes a finished hypothesis (when it is among the first
//      `width` taken), with score = log-probability / length^length_penalty, length = the
//      generated tokens including EOS (Hugging Face's convention; length_penalty > 0 favours
//      longer texts, < 0 shorter); the others become the next live beams, up to width;
//   3. ONE transformer::forward_batch over the new beams' tokens (one row each: the weights are
//      read once for all beams) gives each beam its next log-probabilities.
// At most `width` finished hypotheses are kept (the best). The search ends
//   - with early_stopping, as soon as `width` hypotheses have finished;
//   - without, when `width` have finished and the best live beam's score at its current length,
//     s / length^length_penalty, is below the worst finished score (Hugging Face's heuristic
//     with early_stopping=False). Exact for length_penalty <= 0, where a beam's score only
//     falls as it grows; with length_penalty > 0 a longer continuation might still have won;
//   - after max_tokens tokens, or when a beam's sequence is full (context_full): the live beams
//     then join the hypotheses as unfinished.
// The result's tokens are the best hypothesis (ending in EOS when it finished; reason eos);
// `hypotheses` holds every kept one, best first. Width 1 without EOS is greedy decoding.
// Memory: the prompt's KV once, plus per beam its generated rows (the beams' sequences have
// seq's capacity but rows they never write are never touched), and width × n_vocab doubles.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "arx/config.hpp"
#include "arx/core/error.hpp"
#include "arx/decoding/decode_result.hpp"
#include "arx/model/transformer.hpp"

ARX_NAMESPACE_BEGIN

struct beam_params {
  int width = 4;                ///< beams kept (>= 1)
  double length_penalty = 1.0;  ///< score = log-probability / length^length_penalty (finite)
  /// true: stop once `width` hypotheses have finished; false: also go on while the best live
  /// beam's current score is not below the worst finished one (see the file comment).
  bool early_stopping = false;
};

struct beam_hypothesis {
  std::vector<token_id> tokens;  ///< generated tokens (EOS last when finished)
  double log_prob = 0;           ///< sum of the tokens' log-probabilities
  double score = 0;              ///< log_prob / tokens.size()^length_penalty
  bool finished = false;         ///< ended in EOS
};

struct beam_result : decode_result {
  std::vector<beam_hypothesis> hypotheses;  ///< best score first
};

template <class KV = float>
class beam_search {
 public:
  explicit beam_search(transformer<KV> model, beam_params p = {})
      : model_(std::move(model)), params_(p) {
    if (p.width < 1)
      throw invalid_argument("beam_search: width = " + std::to_string(p.width) +
                             " must be >= 1");
    if (!std::isfinite(p.length_penalty))
      throw invalid_argument("beam_search: length_penalty = " +
                             std::to_string(p.length_penalty) + " must be finite");
  }

  const beam_params& params() const noexcept { return params_; }

  /// Evaluates `prompt` after what `seq` holds (seq keeps it; the beams share it), then searches
  /// up to max_tokens tokens (see the file comment). eos < 0: no token ends a hypothesis.
  beam_result generate(sequence<KV>& seq, std::span<const token_id> prompt,
                       std::int64_t max_tokens, token_id eos = -1) {
    using clock = detail::decode_clock;
    detail::check_decode_call("beam_search::generate", prompt.size(), max_tokens);
    const std::int64_t n_vocab = model_.config().n_vocab;
    const auto width = std::size_t(params_.width);
    beam_result res;
    res.stats.n_prompt = std::int64_t(prompt.size());

    auto t0 = clock::now();
    std::vector<beam> live;
    {
      const auto out = model_.forward(seq, prompt);
      beam b{{}, 0.0, model_.new_sequence(seq.capacity(), context_limit::unlimited), {}};
      b.seq.set_thread_pool(seq.get_thread_pool());
      b.seq.share_prefix(seq, seq.size());
      log_softmax(out.logits.row(0), b.next);
      live.push_back(std::move(b));
    }
    res.stats.prompt_seconds = detail::seconds_since(t0);
    t0 = clock::now();

    std::vector<beam_hypothesis> done;
    std::vector<candidate> cand;
    std::vector<beam> next;
    std::vector<batch_entry<KV>> entries;
    std::vector<token_id> step_tokens;
    for (std::int64_t len = 1;; ++len) {
      // 1. the best 2·width candidates over every live beam and token
      cand.clear();
      for (std::size_t b = 0; b < live.size(); ++b)
        for (std::int64_t v = 0; v < n_vocab; ++v) {
          const double lp = live[b].next[std::size_t(v)];
          if (lp == -std::numeric_limits<double>::infinity()) continue;
          cand.push_back({live[b].log_prob + lp, b, token_id(v)});
        }
      const std::size_t keep = std::min(cand.size(), 2 * width);
      std::partial_sort(cand.begin(), cand.begin() + std::ptrdiff_t(keep), cand.end(), better);
      cand.resize(keep);
      // 2. finished hypotheses and the next live beams (a parent's sequence goes to its last
      //    child; earlier children get clones)
      std::vector<std::size_t> uses(live.size(), 0);
      std::vector<const candidate*> chosen;
      for (std::size_t i = 0; i < cand.size() && chosen.size() < width; ++i) {
        const candidate& c = cand[i];
        if (c.token == eos) {
          if (i < width) add(done, make_hypothesis(live[c.beam].tokens, c, true), width);
          continue;
        }
        chosen.push_back(&c);
        ++uses[c.beam];
      }
      const bool over = chosen.empty() || finished(done, chosen, len, width);
      if (over || len >= max_tokens) {
        if (!over)  // out of tokens: the live beams join the hypotheses as unfinished
          for (const candidate* c : chosen)
            add(done, make_hypothesis(live[c->beam].tokens, *c, false), width);
        break;
      }
      next.clear();
      for (const candidate* c : chosen) {
        beam& parent = live[c->beam];
        beam child{parent.tokens, c->log_prob,
                   --uses[c->beam] == 0 ? std::move(parent.seq) : parent.seq.clone(), {}};
        child.tokens.push_back(c->token);
        next.push_back(std::move(child));
      }
      // 3. one forward over every beam's new token
      bool full = false;
      for (const beam& b : next) full = full || b.seq.size() >= b.seq.capacity();
      if (full) {
        for (const beam& b : next)
          add(done, beam_hypothesis{b.tokens, b.log_prob, score(b.log_prob, b.tokens.size()),
                                    false}, width);
        res.reason = stop_reason::context_full;
        break;
      }
      entries.clear();
      step_tokens.clear();
      for (const beam& b : next) step_tokens.push_back(b.tokens.back());
      for (std::size_t i = 0; i < next.size(); ++i)
        entries.push_back({&next[i].seq, std::span<const token_id>(&step_tokens[i], 1)});
      const auto out = model_.forward_batch(entries, forward_request{rows::last});
      ++res.stats.forwards;
      res.stats.forward_tokens += std::int64_t(next.size());
      for (std::size_t i = 0; i < next.size(); ++i)
        log_softmax(out.logits.row(std::int64_t(i)), next[i].next);
      std::swap(live, next);
    }
    std::stable_sort(done.begin(), done.end(),
                     [](const beam_hypothesis& a, const beam_hypothesis& b) {
                       return a.score > b.score;
                     });
    res.hypotheses = std::move(done);
    if (!res.hypotheses.empty()) {
      res.tokens = res.hypotheses.front().tokens;
      if (res.reason != stop_reason::context_full)
        res.reason = res.hypotheses.front().finished ? stop_reason::eos : stop_reason::max_tokens;
    }
    res.stats.decode_seconds = detail::seconds_since(t0);
    return res;
  }

 private:
  struct beam {
    std::vector<token_id> tokens;  // generated so far
    double log_prob = 0;
    sequence<KV> seq;              // shares the prompt, holds its generated tokens' rows
    std::vector<double> next;      // {n_vocab}: log-probabilities of the next token
  };
  struct candidate {
    double log_prob;
    std::size_t beam;
    token_id token;
  };
  static bool better(const candidate& a, const candidate& b) {
    if (a.log_prob != b.log_prob) return a.log_prob > b.log_prob;
    if (a.beam != b.beam) return a.beam < b.beam;
    return a.token < b.token;
  }

  double score(double log_prob, std::size_t length) const {
    return log_prob / std::pow(double(length), params_.length_penalty);
  }

  beam_hypothesis make_hypothesis(const std::vector<token_id>& prefix, const candidate& c,
                                  bool finished) const {
    beam_hypothesis h{prefix, c.log_prob, 0.0, finished};
    h.tokens.push_back(c.token);
    h.score = score(h.log_prob, h.tokens.size());
    return h;
  }

  /// Adds h to the kept hypotheses, keeping the best `width`.
  static void add(std::vector<beam_hypothesis>& done, beam_hypothesis h, std::size_t width) {
    done.push_back(std::move(h));
    if (done.size() > width) {
      const auto worst = std::min_element(
          done.begin(), done.end(),
          [](const beam_hypothesis& a, const beam_hypothesis& b) { return a.score < b.score; });
      done.erase(worst);
    }
  }

  /// Whether the search is over before taking the chosen candidates as the next beams.
  bool finished(const std::vector<beam_hypothesis>& done,
                const std::vector<const candidate*>& chosen, std::int64_t len,
                std::size_t width) const {
    if (done.size() < width) return false;
    if (params_.early_stopping || chosen.empty()) return true;
    double worst = std::numeric_limits<double>::infinity();
    for (const auto& h : done) worst = std::min(worst, h.score);
    return score(chosen.front()->log_prob, std::size_t(len)) < worst;
  }

  /// out = log_softmax(logits) in double; a NaN or +inf logit -> invalid_argument.
  static void log_softmax(std::span<const float> logits, std::vector<double>& out) {
    double mx = -std::numeric_limits<double>::infinity();
    for (std::size_t i = 0; i < logits.size(); ++i) {
      if (std::isnan(logits[i]) || logits[i] == std::numeric_limits<float>::infinity())
        throw invalid_argument("beam_search: logit of token " + std::to_string(i) + " is " +
                               std::to_string(logits[i]));
      mx = std::max(mx, double(logits[i]));
    }
    if (mx == -std::numeric_limits<double>::infinity())
      throw invalid_argument("beam_search: every logit is -inf");
    double sum = 0;
    for (const float x : logits) sum += std::exp(double(x) - mx);
    const double lse = mx + std::log(sum);
    out.resize(logits.size());
    for (std::size_t i = 0; i < logits.size(); ++i) out[i] = double(logits[i]) - lse;
  }

  transformer<KV> model_;
  beam_params params_;
};

ARX_NAMESPACE_END
