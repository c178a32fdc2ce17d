// arx/decoding/speculative_batch.hpp — speculative decoding of several sequences at once: one
// target forward per round verifies every sequence's draft (transformer::forward_batch: the
// weights are read once for all of them), and each sequence accepts its own number of tokens.
//
//   std::vector<arx::model_drafter<>> drafters;  // one per sequence (a drafter keeps state)
//   for (int i = 0; i < 4; ++i) drafters.emplace_back(draft_model);
//   arx::speculative_batch_decoder dec(target, sampler, std::move(drafters), params, seed);
//   std::vector<arx::sequence<>> seqs = ...;              // one per prompt
//   std::vector<std::vector<arx::token_id>> prompts = ...;
//   auto res = dec.generate(std::span(seqs), std::span<const std::vector<arx::token_id>>(prompts),
//                           128, [](std::size_t i, arx::token_id t) { /* sequence i's token */ });
//
// Per sequence, everything is as in speculative_decoder (speculative.hpp) for chains of drafts:
// the drafter proposes, p_i comes from the sequence's own history, verify_draft accepts, the
// sequence's cache is truncated to its accepted prefix; stop conditions apply per sequence, and a
// finished sequence leaves the batch. Sequence slot i draws with its own rng (seeded from the seed
// and i, kept across calls), so its output does not depend on the other sequences: with a greedy
// sampler every sequence is its plain greedy continuation, and with any stateless sampler each one
// is distributed exactly as plain sampling from the target. Adaptive γ is kept per sequence. The
// statistics are summed over the sequences (target_calls counts batched forwards).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "arx/config.hpp"
#include "arx/core/error.hpp"
#include "arx/decoding/speculative.hpp"
#include "arx/model/transformer.hpp"

ARX_NAMESPACE_BEGIN

template <class KV, class Sampler, speculative_drafter Drafter>
class speculative_batch_decoder {
 public:
  /// One drafter per sequence slot: generate() takes at most drafters.size() sequences.
  speculative_batch_decoder(transformer<KV> target, Sampler sampler, std::vector<Drafter> drafters,
                            speculative_params params = {}, std::uint64_t seed = 0)
      : target_(std::move(target)), sampler_(std::move(sampler)), draft_sampler_(sampler_),
        drafters_(std::move(drafters)), params_(params), seed_(seed) {
    detail::check_speculative_setup(params_, sampler_, "speculative_batch_decoder");
    if (drafters_.empty())
      throw invalid_argument("speculative_batch_decoder: no drafters (one per sequence)");
    for (auto& d : drafters_)
      if constexpr (requires { d.check_target(target_.weights()); })
        d.check_target(target_.weights());
    for (std::size_t i = 0; i < drafters_.size(); ++i)
      rngs_.emplace_back(seed_ + 0x9e3779b97f4a7c15ull * (std::uint64_t(i) + 1));
  }

  /// Evaluates prompts[i] after what seqs[i] holds and emits up to max_tokens tokens for each,
  /// calling on_token(i, id) (return false to stop sequence i). eos < 0: never stop at EOS.
  /// Errors (invalid_argument, before anything changes): more sequences than drafters, sizes
  /// that differ, an empty prompt, max_tokens <= 0; a prompt that does not fit its context gives
  /// the forward's context_error.
  template <class OnToken>
  std::vector<speculative_result> generate(std::span<sequence<KV>> seqs,
                                           std::span<const std::vector<token_id>> prompts,
                                           std::int64_t max_tokens, OnToken&& on_token,
                                           token_id eos = -1) {
    using clock = std::chrono::steady_clock;
    const auto seconds = [](clock::time_point a) {
      return std::chrono::duration<double>(clock::now() - a).count();
    };
    const std::size_t n = seqs.size();
    if (n != prompts.size() || n == 0 || n > drafters_.size())
      throw invalid_argument("speculative_batch_decoder::generate: " + std::to_string(n) +
                             " sequences, " + std::to_string(prompts.size()) + " prompts and " +
                             std::to_string(drafters_.size()) +
                             " drafters (need as many prompts as sequences, at least one, and at "
                             "most one sequence per drafter)");
    if (max_tokens <= 0)
      throw invalid_argument("speculative_batch_decoder::generate: max_tokens " +
                             std::to_string(max_tokens) + " must be > 0");
    for (std::size_t i = 0; i < n; ++i)
      if (prompts[i].empty())
        throw invalid_argument("speculative_batch_decoder::generate: prompt " +
                               std::to_string(i) + " is empty");
    const auto start = clock::now();
    const std::int64_t n_vocab = target_.config().n_vocab;
    lanes_.assign(n, lane{});
    std::vector<speculative_result> res(n);
    // Prefill: every prompt but its last token, in one forward.
    std::vector<batch_entry<KV>> entries;
    for (std::size_t i = 0; i < n; ++i) {
      lane& L = lanes_[i];
      L.history.assign(prompts[i].begin(), prompts[i].end());
      L.n_prompt = std::int64_t(prompts[i].size());
      L.base = seqs[i].size();
      L.gamma = params_.draft_max;
      L.active = true;
      if (prompts[i].size() > 1)
        entries.push_back({&seqs[i], std::span(prompts[i]).first(prompts[i].size() - 1), L.base});
      else if (L.base + 1 > seqs[i].capacity())
        throw context_error("speculative_batch_decoder::generate: prompt " + std::to_string(i) +
                            " does not fit its sequence's context");
    }
    if (!entries.empty()) {
      const auto t0 = clock::now();
      (void)target_.forward_batch(entries, forward_request{rows::none});
      stats_.prefill_seconds += seconds(t0);
    }

    draft_sampler ds;
    ds.n_vocab = n_vocab;
    ds.p_min = params_.draft_p_min;
    ds.distribution = [this](std::span<const float> logits, std::span<const token_id> hist,
                             std::span<float> q) {
      draft_sampler_.distribution(logits, context(hist, ds_prompt_), q);
    };
    std::vector<std::size_t> live;
    for (;;) {
      // Draft for every live sequence.
      live.clear();
      entries.clear();
      auto t0 = clock::now();
      for (std::size_t i = 0; i < n; ++i) {
        lane& L = lanes_[i];
        if (!L.active) continue;
        const auto h = std::int64_t(L.history.size());
        const std::int64_t room = seqs[i].capacity() - (L.base + h);
        if (room < 0) {
          res[i].reason = speculative_stop::context_full;
          L.active = false;
          continue;
        }
        const std::int64_t left = max_tokens - std::int64_t(res[i].tokens.size());
        L.asked = int(std::min<std::int64_t>({L.gamma, room, left - 1}));
        L.block.clear();
        ds.n_prompt = ds_prompt_ = L.n_prompt;
        if (L.asked > 0) drafters_[i].propose(L.history, L.asked, ds, rngs_[i], L.block);
        const auto g = std::int64_t(L.block.tokens.size());
        if (g > L.asked || L.block.q.size() != std::size_t(g * n_vocab) || !L.block.parents.empty())
          throw invalid_argument("speculative_batch_decoder: drafter " + std::to_string(i) +
                                 " returned " + std::to_string(g) + " tokens with " +
                                 std::to_string(L.block.q.size()) + " q values for gamma " +
                                 std::to_string(L.asked) + " (chains only)");
        L.batch.assign(1, L.history.back());
        L.batch.insert(L.batch.end(), L.block.tokens.begin(), L.block.tokens.end());
        live.push_back(i);
      }
      stats_.draft_seconds += seconds(t0);
      if (live.empty()) break;
      for (const std::size_t i : live)
        entries.push_back({&seqs[i], lanes_[i].batch,
                           lanes_[i].base + std::int64_t(lanes_[i].history.size()) - 1});

      // One target forward for all; then each sequence verifies its own rows.
      t0 = clock::now();
      const auto r = target_.forward_batch(entries, forward_request{rows::all});
      ++stats_.target_calls;
      std::int64_t row = 0;
      for (const std::size_t i : live) {
        lane& L = lanes_[i];
        const auto g = std::int64_t(L.block.tokens.size());
        const auto h = std::int64_t(L.history.size());
        L.p.resize(std::size_t((g + 1) * n_vocab));
        for (std::int64_t j = 0; j <= g; ++j) {
          if (j > 0) L.history.push_back(L.block.tokens[std::size_t(j - 1)]);
          sampler_.distribution(
              r.logits.row(row + j), context(L.history, L.n_prompt),
              std::span(L.p).subspan(std::size_t(j * n_vocab), std::size_t(n_vocab)));
        }
        row += g + 1;
        L.history.resize(std::size_t(h));
        const speculative_verdict v =
            verify_draft(tensor_view<const float>(L.p.data(), {g + 1, n_vocab}),
                         tensor_view<const float>(L.block.q.data(), {g, n_vocab}), L.block.tokens,
                         rngs_[i]);
        seqs[i].truncate(L.base + h + v.accepted);
        stats_.drafted += g;
        stats_.accepted += v.accepted;
        detail::adapt_gamma(L.gamma, params_, g, L.asked, v.accepted);
        for (std::int64_t j = 0; j <= v.accepted && L.active; ++j) {
          const token_id t = j < v.accepted ? L.block.tokens[std::size_t(j)] : v.next;
          L.history.push_back(t);
          res[i].tokens.push_back(t);
          ++stats_.emitted;
          if (!call(on_token, i, t)) {
            res[i].reason = speculative_stop::cancelled;
            L.active = false;
          } else if (eos >= 0 && t == eos) {
            res[i].reason = speculative_stop::eos;
            L.active = false;
          } else if (std::int64_t(res[i].tokens.size()) >= max_tokens) {
            res[i].reason = speculative_stop::max_tokens;
            L.active = false;
          }
        }
        if (!L.active) {  // the sequence holds its history but the last token at most
          const std::int64_t keep = L.base + std::int64_t(L.history.size()) - 1;
          if (seqs[i].size() > keep) seqs[i].truncate(keep);
        }
      }
      stats_.verify_seconds += seconds(t0);
    }
    const double total = seconds(start);
    for (auto& x : res) x.seconds = total;
    return res;
  }

  const speculative_stats& stats() const noexcept { return stats_; }
  void reset_stats() noexcept { stats_ = {}; }

 private:
  struct lane {
    std::vector<token_id> history, batch;
    std::int64_t n_prompt = 0, base = 0;
    int gamma = 0, asked = 0;
    bool active = false;
    draft_block block;
    std::vector<float> p;
  };

  static sampling_context context(std::span<const token_id> hist, std::int64_t n_prompt) {
    return sampling_context{hist, std::int64_t(hist.size()) - n_prompt};
  }
  template <class F>
  static bool call(F& f, std::size_t i, token_id t) {
    if constexpr (std::is_void_v<std::invoke_result_t<F&, std::size_t, token_id>>) {
      f(i, t);
      return true;
    } else {
      return bool(f(i, t));
    }
  }

  transformer<KV> target_;
  Sampler sampler_, draft_sampler_;
  std::vector<Drafter> drafters_;
  speculative_params params_;
  std::uint64_t seed_;
  std::int64_t ds_prompt_ = 0;
  speculative_stats stats_;
  std::vector<lane> lanes_;
  std::vector<rng> rngs_;  // one per slot, kept across calls
};

ARX_NAMESPACE_END
