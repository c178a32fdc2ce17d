// arx/decoding/jacobi.hpp — Jacobi decoding (Santilli et al., arXiv:2305.10427): greedy decoding
// as a fixed point, several tokens guessed and checked per forward (../shared/ALGORITHMS.md §5).
//
//   arx::jacobi_decoder<> jd(model, {.block = 4});
//   auto seq = model.new_sequence(2048);
//   auto res = jd.generate(seq, prompt_ids, 256, [](arx::token_id t) { ...; return true; }, eos);
//   res.stats.tokens_per_forward(res.tokens.size());
//
// The output is plain greedy decoding token for token (argmax, ties to the lower id); what
// changes is how many sequential forwards produce it. The sequence holds every token but the
// last committed one, `cur`. Each iteration, with guesses y_1..y_m for the tokens after cur:
//   1. ONE forward of [cur, y_1, ..., y_m] (m + 1 tokens, logits for every row);
//      o_i = argmax of row i, the greedy token after [.., cur, y_1..y_i];
//   2. y_1 is right when it equals o_0; then o_1 is greedy too, and y_2 is right when it equals
//      o_1; and so on: the a leading guesses with y_{i+1} = o_i are committed together with
//      o_a — a + 1 >= 1 tokens per forward, so m tokens never take more than m forwards;
//   3. the KV cache keeps cur and the a committed guesses (truncate); o_a is the new cur;
//   4. the Jacobi update: o_{a+1}..o_m (each the argmax after a prefix that was still partly
//      guessed) become the next guesses, and the block is filled up to m by repeating the last
//      known token (or from a caller's guess, see set_guess).
// A guess equal to the greedy continuation commits m + 1 tokens in one forward. Because the
// forward is batch-invariant (a row's logits do not depend on the other rows), o_i equals the
// one-token forward's argmax bit for bit, so the result is exactly greedy.
// Gauss-Seidel-Jacobi (the paper's per-block variant) is what step 2 does within one block: the
// committed prefix is never recomputed.
// Near the end of max_tokens or of the context the block shrinks (down to 0 guesses: one plain
// greedy step). Afterwards seq holds the prompt and every emitted token but the last (as after
// a greedy loop that does not evaluate its last token).
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
#include "arx/decoding/decode_result.hpp"
#include "arx/model/transformer.hpp"

ARX_NAMESPACE_BEGIN

struct jacobi_params {
  int block = 4;  ///< guesses per forward, m (>= 1; the forward evaluates m + 1 tokens)
};

template <class KV = float>
class jacobi_decoder {
 public:
  explicit jacobi_decoder(transformer<KV> model, jacobi_params p = {})
      : model_(std::move(model)), params_(p) {
    if (p.block < 1)
      throw invalid_argument("jacobi_decoder: block = " + std::to_string(p.block) +
                             " must be >= 1");
  }

  const jacobi_params& params() const noexcept { return params_; }

  /// Guesses for the next generate() call's continuation, used in order as the blocks' initial
  /// guesses (where they run out, the last known token is repeated). Ids are checked by the
  /// forward (invalid_argument naming the id).
  void set_guess(std::span<const token_id> guess) { guess_.assign(guess.begin(), guess.end()); }

  /// See the file comment and decode_result.hpp for the conventions.
  template <class OnToken>
  decode_result generate(sequence<KV>& seq, std::span<const token_id> prompt,
                         std::int64_t max_tokens, OnToken&& on_token, token_id eos = -1) {
    using clock = detail::decode_clock;
    detail::check_decode_call("jacobi_decoder::generate", prompt.size(), max_tokens);
    decode_result res;
    res.stats.n_prompt = std::int64_t(prompt.size());
    auto t0 = clock::now();
    // The sequence holds everything but cur (the prompt's last token).
    if (prompt.size() > 1) (void)model_.forward(seq, prompt.first(prompt.size() - 1), {rows::none});
    res.stats.prompt_seconds = detail::seconds_since(t0);
    t0 = clock::now();
    token_id cur = prompt.back();
    // guesses[j] guesses emitted token E + j, E = res.tokens.size(); out[j] is the argmax after it
    std::vector<token_id> guesses, batch, out;
    for (;;) {
      const std::int64_t pos = seq.size();
      if (pos + 1 > seq.capacity()) {
        res.reason = stop_reason::context_full;
        break;
      }
      const std::int64_t left = max_tokens - std::int64_t(res.tokens.size());
      const auto m = std::size_t(
          std::min<std::int64_t>({params_.block, seq.capacity() - pos - 1, left - 1}));
      guesses.resize(std::min(guesses.size(), m));
      while (guesses.size() < m) {  // the caller's guess, else the last known token again
        const std::size_t at = res.tokens.size() + guesses.size();
        guesses.push_back(at < guess_.size() ? guess_[at] : guesses.empty() ? cur : guesses.back());
      }
      batch.assign(1, cur);
      batch.insert(batch.end(), guesses.begin(), guesses.end());
      const auto r = model_.forward(seq, batch, pos, forward_request{rows::all});
      ++res.stats.forwards;
      res.stats.forward_tokens += std::int64_t(batch.size());
      out.resize(batch.size());
      for (std::size_t i = 0; i < batch.size(); ++i) {
        const auto row = r.logits.row(std::int64_t(i));
        out[i] = token_id(std::max_element(row.begin(), row.end()) - row.begin());
      }
      std::size_t a = 0;  // leading guesses confirmed
      while (a < m && guesses[a] == out[a]) ++a;
      bool stop = false;
      std::size_t i = 0;
      for (; i <= a && !stop; ++i) {  // emit out[0..a]
        const token_id t = out[i];
        res.tokens.push_back(t);
        if (eos >= 0 && t == eos) {
          res.reason = stop_reason::eos;
          stop = true;
        } else if (!detail::call_on_token(on_token, t)) {
          res.reason = stop_reason::cancelled;
          stop = true;
        } else if (std::int64_t(res.tokens.size()) >= max_tokens) {
          res.reason = stop_reason::max_tokens;
          stop = true;
        }
      }
      // keep cur and the committed tokens emitted before the last one (i tokens emitted)
      seq.truncate(pos + std::int64_t(i));
      if (stop) break;
      cur = out[a];
      guesses.assign(out.begin() + std::ptrdiff_t(a) + 1, out.end());  // the Jacobi update
    }
    guess_.clear();
    res.stats.decode_seconds = detail::seconds_since(t0);
    return res;
  }

 private:
  transformer<KV> model_;
  jacobi_params params_;
  std::vector<token_id> guess_;
};

ARX_NAMESPACE_END
