// arx/decoding/speculative.hpp — speculative decoding: a drafter proposes tokens, the target
// model checks them all in one forward, and the output is distributed exactly as plain sampling
// from the target (../shared/ALGORITHMS.md §0–2).
//
//   auto target = arx::transformer<>::load("big.gguf");
//   arx::model_drafter<> draft(arx::transformer<>::load("small.gguf"));  // or lookup_drafter,
//   arx::speculative_decoder dec(target, sampler, std::move(draft), {.draft_max = 5}, seed);
//   auto seq = target.new_sequence(2048);
//   auto res = dec.generate(seq, prompt_ids, 256, [](arx::token_id t) { ...; return true; });
//   dec.stats().tokens_per_call();
//
// One round, with h tokens of history (prompt + emitted) of which the target's sequence holds
// the first h - 1:
//   1. the drafter proposes x_1..x_γ and the rows q_1..q_γ they were drawn from (for a model
//      drafter: its logits through the same logit processors as the target's; a deterministic
//      drafter gives one-hot rows);
//      (the sampling context's history is this call's prompt and the tokens emitted since);
//   2. ONE target forward over [history[h-1], x_1, ..., x_γ] at position h - 1, logits for every
//      row; p_i = the sampler's distribution of row i - 1 with history + x_1..x_{i-1} as context;
//   3. verify_draft (speculative_sampling.hpp): accept x_i with probability min(1, p_i/q_i), on the
//      first rejection draw from norm(max(0, p_i - q_i)), after γ acceptances a bonus from p_{γ+1};
//   4. KV rollback: the target's sequence is truncated to the accepted prefix (h + a positions);
//      a model drafter re-syncs its own sequence to the history at its next proposal.
// A drafter may return a TREE instead (draft_block::parents, e.g. tree_drafter.hpp): the target
// then evaluates it in one tree forward (forward_request::tree_parents), verify_tree
// (speculative_tree.hpp) walks it, and sequence::keep_rows keeps the accepted branch.
// Several sequences at once: speculative_batch.hpp.
// γ = 0 rounds are plain decoding steps. With a greedy sampler (temperature 0) p and q are one-hot
// and the output is plain greedy decoding token for token (gemm is batch-invariant, so the
// verify forward's logits equal the one-token forwards' bit for bit).
//
// Draft length: at most draft_max tokens, fewer near the end of max_tokens or of the target's
// context, and a model drafter stops early when its top probability (softmax of its raw logits)
// falls below draft_p_min.
// With `adaptive`, γ grows by one after a round that accepted every draft token and shrinks by
// one after a round that accepted fewer than half (within [draft_min, draft_max]).
//
// Samplers: any chain<...> or sampler_chain whose processors keep no state between draws
// (Mirostat does; it is refused with invalid_argument, since its distribution at a drafted
// position would depend on draws that have not been made yet). Processors reading the history
// (penalties, DRY, ...) see the drafted tokens before position i, as plain sampling would.
//
// Drafters (concept `speculative_drafter`): `propose(history, gamma, draft_sampler&, rng&,
// draft_block&)` fills out.tokens (at most gamma) and out.q ([tokens][n_vocab]); optional
// `check_target(const llama_weights&)` refuses a target it cannot draft for. Here:
// model_drafter (a draft model sharing the target's vocabulary, or the target itself with layers
// or MLP blocks skipped: self-speculation) and lookup_drafter (prompt lookup).
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "arx/config.hpp"
#include "arx/core/error.hpp"
#include "arx/core/tensor.hpp"
#include "arx/core/thread_pool.hpp"
#include "arx/decoding/decode_result.hpp"
#include "arx/decoding/prompt_lookup.hpp"
#include "arx/decoding/speculative_sampling.hpp"
#include "arx/decoding/speculative_tree.hpp"
#include "arx/model/transformer.hpp"
#include "arx/model/weights.hpp"
#include "arx/sampling/chain.hpp"
#include "arx/sampling/rng.hpp"

ARX_NAMESPACE_BEGIN

/// Draft length and its control.
struct speculative_params {
  int draft_max = 5;          ///< γ: tokens drafted per round (the start value when adaptive)
  int draft_min = 1;          ///< adaptive γ never drops below this
  bool adaptive = false;      ///< grow / shrink γ with the acceptance (file comment)
  float draft_p_min = 0.0f;   ///< a model drafter stops when its top softmax probability (raw
                              ///< logits, before the processors) is below this
};

/// Counters over every generate() call of a decoder (reset with reset_stats()).
struct speculative_stats {
  std::int64_t target_calls = 0;  ///< verify forwards (one per round; the prompt prefill apart)
  std::int64_t drafted = 0;       ///< draft tokens proposed
  std::int64_t accepted = 0;      ///< draft tokens accepted
  std::int64_t emitted = 0;       ///< tokens produced by the rounds (accepted + one per round)
  double draft_seconds = 0;       ///< inside the drafter
  double verify_seconds = 0;      ///< target forwards, distributions and verification
  double prefill_seconds = 0;     ///< the prompt's forward

  double acceptance_rate() const noexcept {
    return drafted ? double(accepted) / double(drafted) : 0.0;
  }
  double tokens_per_call() const noexcept {
    return target_calls ? double(emitted) / double(target_calls) : 0.0;
  }
};

/// What a drafter hands back: the proposed tokens and, row by row, the distribution each was
/// drawn from.
struct draft_block {
  std::vector<token_id> tokens;  // [n]
  std::vector<float> q;          // [n][n_vocab]
  /// Empty: the tokens form a chain. Otherwise a tree (speculative_tree.hpp): parents[i] < i is
  /// token i's parent, -1 the position after the history; q[i] is the distribution token i was
  /// drawn from at its parent, independently of its siblings.
  std::vector<std::int32_t> parents;  // [n] or empty
  void clear() noexcept {
    tokens.clear();
    q.clear();
    parents.clear();
  }
  /// Appends a token drafted deterministically (q one-hot at it).
  void push_one_hot(token_id t, std::int64_t n_vocab) {
    tokens.push_back(t);
    q.resize(q.size() + std::size_t(n_vocab), 0.0f);
    q[q.size() - std::size_t(n_vocab) + std::size_t(t)] = 1.0f;
  }
};

/// The target's logit processors as the decoder lends them to a drafter.
struct draft_sampler {
  std::int64_t n_vocab = 0;
  std::int64_t n_prompt = 0;  ///< history[0, n_prompt) is the prompt (sampling_context)
  float p_min = 0.0f;         ///< speculative_params::draft_p_min
  /// q = the processed distribution of `logits` with `history` as context. q: [n_vocab]
  std::function<void(std::span<const float> logits, std::span<const token_id> history,
                     std::span<float> q)>
      distribution;
};

template <class D>
concept speculative_drafter = requires(D& d, std::span<const token_id> history, int gamma,
                           draft_sampler& s, rng& g, draft_block& out) {
  d.propose(history, gamma, s, g, out);
};

namespace detail {
/// The decoders' checks of their parameters and sampler (`who` names the decoder).
template <class Sampler>
void check_speculative_setup(const speculative_params& p, const Sampler& sampler, const char* who) {
  if (p.draft_max < 0 || p.draft_min < 0 || p.draft_min > p.draft_max)
    throw invalid_argument(std::string(who) + ": draft lengths need 0 <= draft_min (" +
                           std::to_string(p.draft_min) + ") <= draft_max (" +
                           std::to_string(p.draft_max) + ")");
  if (!(p.draft_p_min >= 0.0f && p.draft_p_min <= 1.0f))
    throw invalid_argument(std::string(who) + ": draft_p_min " + std::to_string(p.draft_p_min) +
                           " is outside [0, 1]");
  if (sampler.stateful())
    throw invalid_argument(
        std::string(who) +
        ": the sampler keeps state between draws (e.g. mirostat), so its distribution at a "
        "drafted position is not defined before the draws; use a stateless chain");
}
/// A drafter's layers to skip: ids in [0, n_layer), and not every layer (invalid_argument,
/// naming `who`, at construction rather than at the first draft).
inline void check_skips(std::int64_t n_layer, std::span<const std::int64_t> layers,
                        std::span<const std::int64_t> ffn, const char* who) {
  for (const auto ids : {layers, ffn})
    for (const std::int64_t l : ids)
      if (l < 0 || l >= n_layer)
        throw invalid_argument(std::string(who) + ": layer " + std::to_string(l) +
                               " to skip is outside [0, " + std::to_string(n_layer) + ")");
  std::vector<std::int64_t> distinct(layers.begin(), layers.end());
  std::sort(distinct.begin(), distinct.end());
  if (n_layer > 0 && std::unique(distinct.begin(), distinct.end()) - distinct.begin() == n_layer)
    throw invalid_argument(std::string(who) + ": every layer is skipped");
}
/// Adaptive γ after a round that drafted g of the `gamma` asked for and accepted `accepted`.
inline void adapt_gamma(int& gamma_now, const speculative_params& p, std::int64_t g, int gamma,
                        std::int64_t accepted) {
  if (!p.adaptive || g != gamma || gamma <= 0) return;
  if (accepted == g)
    gamma_now = std::min(gamma_now + 1, p.draft_max);
  else if (2 * accepted < g)
    gamma_now = std::max(gamma_now - 1, p.draft_min);
}
}  // namespace detail

/// Throws invalid_argument unless `draft` and `target` have the same vocabulary: the same
/// n_vocab and, when both files carry tokenizer.ggml.tokens, the same token texts.
inline void check_same_vocabulary(const llama_weights& target, const llama_weights& draft) {
  const std::int64_t nt = target.config().n_vocab, nd = draft.config().n_vocab;
  const auto where = [&] {
    return " (target " + target.file().path() + ", draft " + draft.file().path() + ")";
  };
  if (nt != nd)
    throw invalid_argument("speculative decoding: the draft model's vocabulary has " +
                           std::to_string(nd) + " tokens, the target's " + std::to_string(nt) +
                           where());
  const auto* a = target.file().find("tokenizer.ggml.tokens");
  const auto* b = draft.file().find("tokenizer.ggml.tokens");
  if (!a || !b) return;
  const auto oa = a->as_array<std::string_view>();
  const auto ob = b->as_array<std::string_view>();
  if (!oa || !ob) return;  // not string arrays: the tokenizer loader reports that
  const auto ta = *oa, tb = *ob;
  for (std::size_t i = 0; i < ta.size() && i < tb.size(); ++i)
    if (ta[i] != tb[i])
      throw invalid_argument("speculative decoding: token " + std::to_string(i) + " is \"" +
                             std::string(ta[i]) + "\" in the target and \"" + std::string(tb[i]) +
                             "\" in the draft model" + where());
}

/// A drafter running a model: a draft GGUF sharing the target's vocabulary, or (self-speculation)
/// the target itself with `skip_layers` / `skip_ffn` left out. It keeps its own sequence and
/// re-syncs it to the history at each proposal (the common prefix stays, the rest is evaluated
/// in one batch), so rejected draft tokens are rolled back there.
template <class KV = float>
class model_drafter {
 public:
  /// capacity 0: the draft model's training context. pool: threads for its forwards.
  explicit model_drafter(transformer<KV> model, std::int64_t capacity = 0,
                         thread_pool* pool = nullptr, std::vector<std::int64_t> skip_layers = {},
                         std::vector<std::int64_t> skip_ffn = {})
      : model_(std::move(model)), seq_(model_.new_sequence(capacity)),
        skip_layers_(std::move(skip_layers)), skip_ffn_(std::move(skip_ffn)) {
    seq_.set_thread_pool(pool);
    detail::check_skips(model_.config().n_layer, skip_layers_, skip_ffn_, "model_drafter");
  }

  /// The same model with layers skipped (self-speculation): a separate sequence, shared weights.
  static model_drafter self_skip(const transformer<KV>& target, std::vector<std::int64_t> layers,
                                 std::vector<std::int64_t> ffn = {}, std::int64_t capacity = 0,
                                 thread_pool* pool = nullptr) {
    return model_drafter(target, capacity, pool, std::move(layers), std::move(ffn));
  }

  void check_target(const llama_weights& target) const {
    check_same_vocabulary(target, model_.weights());
  }

  void propose(std::span<const token_id> history, int gamma, draft_sampler& s, rng& g,
               draft_block& out) {
    out.clear();
    const auto h = std::int64_t(history.size());
    if (gamma <= 0 || h == 0) return;
    // room: the history and the drafted tokens but the last must fit the draft's context
    gamma = int(std::min<std::int64_t>(gamma, seq_.capacity() - h + 1));
    if (gamma <= 0) return;
    // Keep the common prefix of what the sequence holds and the history, minus at least the
    // last history token (its logits are needed).
    std::int64_t keep = 0;
    const auto held = std::int64_t(held_.size());
    while (keep < held && keep < h - 1 && held_[std::size_t(keep)] == history[std::size_t(keep)])
      ++keep;
    seq_.truncate(keep);
    held_.resize(std::size_t(keep));
    work_.assign(history.begin(), history.end());
    forward_request req{rows::last, rows::none, skip_layers_, skip_ffn_};
    auto r = model_.forward(seq_, std::span(work_).subspan(std::size_t(keep)), req);
    held_.assign(history.begin(), history.end());
    q_.resize(std::size_t(s.n_vocab));
    for (int i = 0; i < gamma; ++i) {
      if (s.p_min > 0.0f && top_probability(r.logits.row(0)) < double(s.p_min)) break;
      s.distribution(r.logits.row(0), work_, q_);
      const token_id x = draw_from(q_, g);
      out.tokens.push_back(x);
      out.q.insert(out.q.end(), q_.begin(), q_.end());
      work_.push_back(x);
      if (i + 1 == gamma) break;
      r = model_.forward(seq_, std::span(&x, 1), req);
      held_.push_back(x);
    }
  }

  const transformer<KV>& model() const noexcept { return model_; }

 private:
  // The draft model's own confidence: the largest softmax probability of its raw logits (the
  // processed q would say 1 for every greedy draft).
  static double top_probability(std::span<const float> logits) {
    const float mx = *std::max_element(logits.begin(), logits.end());
    double sum = 0.0;
    for (const float l : logits) sum += std::exp(double(l) - double(mx));
    return 1.0 / sum;
  }

  transformer<KV> model_;
  sequence<KV> seq_;
  std::vector<std::int64_t> skip_layers_, skip_ffn_;
  std::vector<token_id> held_;  // the tokens whose KV seq_ holds
  std::vector<token_id> work_;  // history + drafted
  std::vector<float> q_;
};

/// Prompt lookup as a drafter (prompt_lookup.hpp): deterministic, so q is one-hot.
class lookup_drafter {
 public:
  explicit lookup_drafter(int max_ngram = 3, int min_ngram = 1) : lookup_(max_ngram, min_ngram) {}
  void propose(std::span<const token_id> history, int gamma, draft_sampler& s, rng&,
               draft_block& out) {
    out.clear();
    if (gamma <= 0) return;
    for (const token_id t : lookup_.draft(history, gamma)) out.push_one_hot(t, s.n_vocab);
  }

 private:
  prompt_lookup lookup_;
};

/// Why generate() stopped.
enum class speculative_stop { max_tokens, eos, cancelled, context_full };

struct speculative_result {
  std::vector<token_id> tokens;  ///< emitted tokens (an EOS that stopped it is the last one)
  speculative_stop reason = speculative_stop::max_tokens;
  double seconds = 0;  ///< the whole call, prefill included
};

/// The decoder: a target model, its sampler, a drafter. See the file comment.
template <class KV, class Sampler, speculative_drafter Drafter>
class speculative_decoder {
 public:
  speculative_decoder(transformer<KV> target, Sampler sampler, Drafter drafter,
                      speculative_params params = {}, std::uint64_t seed = 0)
      : target_(std::move(target)), sampler_(std::move(sampler)), draft_sampler_(sampler_),
        drafter_(std::move(drafter)), params_(params), rng_(seed) {
    detail::check_speculative_setup(params_, sampler_, "speculative_decoder");
    if constexpr (requires { drafter_.check_target(target_.weights()); })
      drafter_.check_target(target_.weights());
    gamma_ = params_.draft_max;
  }

  /// Evaluates `prompt` after what `seq` holds, then emits up to max_tokens tokens, calling
  /// on_token(id) for each (return false to stop). eos < 0: never stop at EOS.
  template <class OnToken>
  speculative_result generate(sequence<KV>& seq, std::span<const token_id> prompt,
                              std::int64_t max_tokens, OnToken&& on_token, token_id eos = -1) {
    using clock = detail::decode_clock;
    detail::check_decode_call("speculative_decoder::generate", prompt.size(), max_tokens);
    const auto start = clock::now();
    const std::int64_t n_vocab = target_.config().n_vocab;
    speculative_result res;
    // The target holds history[0, h - 1); the last history token goes into the next round.
    history_.assign(prompt.begin(), prompt.end());
    n_prompt_ = std::int64_t(prompt.size());
    const std::int64_t base = seq.size();
    if (prompt.size() > 1) {
      const auto t0 = clock::now();
      (void)target_.forward(seq, prompt.first(prompt.size() - 1), forward_request{rows::none});
      stats_.prefill_seconds += detail::seconds_since(t0);
    } else if (base + 1 > seq.capacity()) {
      throw context_error("speculative_decoder::generate: the prompt does not fit the context");
    }
    draft_sampler ds;
    ds.n_vocab = n_vocab;
    ds.n_prompt = std::int64_t(prompt.size());
    ds.p_min = params_.draft_p_min;
    ds.distribution = [this](std::span<const float> logits, std::span<const token_id> hist,
                             std::span<float> q) {
      draft_sampler_.distribution(logits, context(hist), q);
    };

    for (;;) {
      const auto h = std::int64_t(history_.size());
      // positions base .. base + h - 1 used after this round's forward of 1 + γ tokens
      const std::int64_t room = seq.capacity() - (base + h);  // draft tokens that still fit
      if (room < 0) {
        res.reason = speculative_stop::context_full;
        break;
      }
      const std::int64_t left = max_tokens - std::int64_t(res.tokens.size());
      const int gamma = int(std::min<std::int64_t>({gamma_, room, left - 1}));

      auto t0 = clock::now();
      block_.clear();
      if (gamma > 0) drafter_.propose(history_, gamma, ds, rng_, block_);
      stats_.draft_seconds += detail::seconds_since(t0);
      const auto g = std::int64_t(block_.tokens.size());
      const bool tree = !block_.parents.empty();
      if (g > gamma || block_.q.size() != std::size_t(g * n_vocab) ||
          (tree && block_.parents.size() != block_.tokens.size()))
        throw invalid_argument("speculative_decoder: the drafter returned " + std::to_string(g) +
                               " tokens with " + std::to_string(block_.q.size()) +
                               " q values and " + std::to_string(block_.parents.size()) +
                               " parents for gamma " + std::to_string(gamma));

      t0 = clock::now();
      const std::int64_t pos = base + h - 1;
      batch_.assign(1, history_.back());
      batch_.insert(batch_.end(), block_.tokens.begin(), block_.tokens.end());
      forward_request req{rows::all};
      if (tree) {  // batch index of node i is i + 1; the root (history's last token) is 0
        batch_parents_.assign(1, -1);
        for (const std::int32_t par : block_.parents) {
          if (par < -1 || std::int64_t(par) >= std::int64_t(batch_parents_.size()) - 1)
            throw invalid_argument("speculative_decoder: the drafter's tree has parent " +
                                   std::to_string(par) + " for node " +
                                   std::to_string(batch_parents_.size() - 1));
          batch_parents_.push_back(par + 1);
        }
        req.tree_parents = batch_parents_;
      }
      const auto r = target_.forward(seq, batch_, pos, req);
      p_.resize(std::size_t((g + 1) * n_vocab));
      const std::size_t hsize = history_.size();
      for (std::int64_t i = 0; i <= g; ++i) {
        history_.resize(hsize);
        if (tree) {  // the branch of node i - 1, root first
          for (std::int64_t a = i - 1; a >= 0; a = block_.parents[std::size_t(a)])
            history_.push_back(block_.tokens[std::size_t(a)]);
          std::reverse(history_.begin() + std::ptrdiff_t(hsize), history_.end());
        } else {
          history_.insert(history_.end(), block_.tokens.begin(), block_.tokens.begin() + i);
        }
        sampler_.distribution(
            r.logits.row(i), context(history_),
            std::span(p_).subspan(std::size_t(i * n_vocab), std::size_t(n_vocab)));
      }
      history_.resize(hsize);
      const tensor_view<const float> pv(p_.data(), {g + 1, n_vocab});
      const tensor_view<const float> qv(block_.q.data(), {g, n_vocab});
      speculative_verdict v;
      if (tree) {
        const tree_verdict tv = verify_tree(pv, qv, block_.tokens, block_.parents, rng_);
        keep_.assign(1, pos);
        accepted_.clear();
        for (const std::int64_t c : tv.path) {
          keep_.push_back(pos + 1 + c);
          accepted_.push_back(block_.tokens[std::size_t(c)]);
        }
        seq.keep_rows(pos, keep_);  // the root and the accepted branch, compacted
        v.accepted = std::int64_t(tv.path.size());
        v.next = tv.next;
        v.bonus = tv.bonus;
      } else {
        v = verify_draft(pv, qv, block_.tokens, rng_);
        seq.truncate(base + h + v.accepted);  // KV of history[h-1] and the accepted drafts
        accepted_.assign(block_.tokens.begin(), block_.tokens.begin() + v.accepted);
      }
      stats_.verify_seconds += detail::seconds_since(t0);
      ++stats_.target_calls;
      stats_.drafted += g;
      stats_.accepted += v.accepted;
      if (!tree) detail::adapt_gamma(gamma_, params_, g, gamma, v.accepted);

      // Emit accepted drafts, then the verdict's token.
      bool stop = false;
      for (std::int64_t i = 0; i <= v.accepted && !stop; ++i) {
        const token_id t = i < v.accepted ? accepted_[std::size_t(i)] : v.next;
        history_.push_back(t);
        res.tokens.push_back(t);
        ++stats_.emitted;
        if (!call(on_token, t)) {
          res.reason = speculative_stop::cancelled;
          stop = true;
        } else if (eos >= 0 && t == eos) {
          res.reason = speculative_stop::eos;
          stop = true;
        } else if (std::int64_t(res.tokens.size()) >= max_tokens) {
          res.reason = speculative_stop::max_tokens;
          stop = true;
        }
      }
      if (stop) {
        // The target holds history up to the last emitted token's predecessor at most.
        const std::int64_t keep = base + std::int64_t(history_.size()) - 1;
        if (seq.size() > keep) seq.truncate(keep);
        break;
      }
    }
    res.seconds = detail::seconds_since(start);
    return res;
  }

  const speculative_stats& stats() const noexcept { return stats_; }
  void reset_stats() noexcept { stats_ = {}; }
  /// The current draft length (moves when params.adaptive).
  int gamma() const noexcept { return gamma_; }
  Drafter& drafter() noexcept { return drafter_; }

 private:
  sampling_context context(std::span<const token_id> hist) const {
    return sampling_context{hist, std::int64_t(hist.size()) - n_prompt_};
  }
  template <class F>
  static bool call(F& f, token_id t) {
    if constexpr (std::is_void_v<std::invoke_result_t<F&, token_id>>) {
      f(t);
      return true;
    } else {
      return bool(f(t));
    }
  }

  transformer<KV> target_;
  Sampler sampler_, draft_sampler_;
  Drafter drafter_;
  speculative_params params_;
  rng rng_;
  int gamma_ = 0;
  std::int64_t n_prompt_ = 0;
  speculative_stats stats_;
  std::vector<token_id> history_, batch_, accepted_;
  std::vector<std::int32_t> batch_parents_;
  std::vector<std::int64_t> keep_;
  std::vector<float> p_;
  draft_block block_;
};

ARX_NAMESPACE_END
