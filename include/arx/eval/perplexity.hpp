// arx/eval/perplexity.hpp — perplexity of a token stream, by llama.cpp's llama-perplexity
// convention, so the two numbers can be compared:
//
//   * the tokens (the whole text, tokenized once, with BOS first when the vocab adds one) are cut
//     into n_chunk = floor(n_tokens / n_ctx) chunks of n_ctx tokens (the rest is unused);
//   * each chunk is evaluated from an empty cache, in batches of n_batch tokens, with its first
//     token replaced by BOS when `bos` is set (the vocab adds BOS);
//   * only the second half is scored: positions i in [n_ctx / 2, n_ctx - 1) predict token i + 1,
//     nll_i = -log softmax(logits_i)[token_{i+1}];
//   * after chunk c the running estimate is exp(mean nll so far); the final one comes with
//     the error ppl · sqrt(var(nll) / (count - 1)) (var over every scored token).
//
//   arx::perplexity_options o{.n_ctx = 512};
//   const auto r = arx::perplexity(model, ids, o, [](const arx::perplexity_chunk& c) { ... });
//   r.ppl, r.error, r.scored
//
// Errors (arx::invalid_argument, before any forward): n_ctx < 2, n_batch < 0, max_chunks 0,
// fewer than 2 · n_ctx tokens (llama-perplexity's minimum), a token or BOS id outside the
// vocabulary.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "arx/config.hpp"
#include "arx/core/error.hpp"
#include "arx/core/thread_pool.hpp"
#include "arx/model/transformer.hpp"

ARX_NAMESPACE_BEGIN

struct perplexity_options {
  std::int64_t n_ctx = 512;       ///< tokens per chunk
  std::int64_t n_batch = 0;       ///< tokens per forward; 0 = n_ctx
  std::int64_t max_chunks = -1;   ///< < 0: every whole chunk; else at most this many
  std::int32_t bos = -1;          ///< >= 0: each chunk's first token is replaced by this id
};

/// Progress after one chunk.
struct perplexity_chunk {
  std::int64_t index = 0;       ///< 0-based
  std::int64_t n_chunks = 0;
  double running_ppl = 0;       ///< exp(mean nll over chunks 0..index)
  double seconds = 0;           ///< time spent on this chunk
};

struct perplexity_result {
  double ppl = 0;               ///< exp(mean nll)
  double error = 0;             ///< ppl · standard error of the mean nll
  double mean_nll = 0;
  std::int64_t scored = 0;      ///< tokens scored
  std::int64_t n_chunks = 0;
  std::vector<double> running;  ///< running_ppl after each chunk
};

namespace detail {
/// -log softmax(logits)[target], with the maximum subtracted first (sums in double).
inline double token_nll(std::span<const float> logits, std::int32_t target) {
  const float mx = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (const float v : logits) sum += std::exp(double(v) - double(mx));
  return -(double(logits[std::size_t(target)]) - double(mx) - std::log(sum));
}
}  // namespace detail

template <class KV>
perplexity_result perplexity(const transformer<KV>& model, std::span<const std::int32_t> tokens,
                             const perplexity_options& o,
                             const std::function<void(const perplexity_chunk&)>& on_chunk = {},
                             thread_pool* pool = nullptr) {
  const std::int64_t n_ctx = o.n_ctx, n_batch = o.n_batch > 0 ? std::min(o.n_batch, n_ctx) : n_ctx;
  if (n_ctx < 2)
    throw invalid_argument("perplexity: n_ctx " + std::to_string(n_ctx) + " is below 2");
  if (o.n_batch < 0)
    throw invalid_argument("perplexity: n_batch " + std::to_string(o.n_batch) + " is negative");
  const auto n_tokens = std::int64_t(tokens.size());
  if (n_tokens < 2 * n_ctx)
    throw invalid_argument("perplexity: " + std::to_string(n_tokens) + " tokens; at least " +
                           std::to_string(2 * n_ctx) + " (2 x n_ctx " + std::to_string(n_ctx) +
                           ") are needed");
  const std::int64_t n_vocab = model.config().n_vocab;
  for (std::int64_t i = 0; i < n_tokens; ++i)
    if (tokens[std::size_t(i)] < 0 || tokens[std::size_t(i)] >= n_vocab)
      throw invalid_argument("perplexity: token " + std::to_string(i) + " has id " +
                             std::to_string(tokens[std::size_t(i)]) + ", outside [0, " +
                             std::to_string(n_vocab) + ")");
  if (o.bos >= n_vocab)
    throw invalid_argument("perplexity: BOS id " + std::to_string(o.bos) + " is outside [0, " +
                           std::to_string(n_vocab) + ")");
  std::int64_t n_chunks = n_tokens / n_ctx;
  if (o.max_chunks == 0) throw invalid_argument("perplexity: max_chunks is 0; nothing to score");
  if (o.max_chunks > 0) n_chunks = std::min(n_chunks, o.max_chunks);

  auto seq = model.new_sequence(n_ctx, context_limit::unlimited);
  seq.set_thread_pool(pool);
  const std::int64_t first = n_ctx / 2;
  perplexity_result r;
  r.n_chunks = n_chunks;
  double nll = 0, nll2 = 0;
  std::vector<std::int32_t> chunk(static_cast<std::size_t>(n_ctx));
  for (std::int64_t c = 0; c < n_chunks; ++c) {
    const auto t0 = std::chrono::steady_clock::now();
    std::copy_n(tokens.begin() + c * n_ctx, n_ctx, chunk.begin());
    if (o.bos >= 0) chunk[0] = o.bos;
    seq.truncate(0);
    for (std::int64_t b = 0; b < n_ctx; b += n_batch) {
      const std::int64_t e = std::min(n_ctx, b + n_batch);
      // logits only where a scored position lies in this batch
      const rows want = e > first ? rows::all : rows::none;
      const auto out = model.forward(
          seq, std::span<const std::int32_t>(chunk).subspan(std::size_t(b), std::size_t(e - b)),
          forward_request{want});
      if (want == rows::none) continue;
      for (std::int64_t i = std::max(b, first); i < std::min(e, n_ctx - 1); ++i) {
        // the target is the text's token (a BOS replacement only ever changes position 0)
        const double v =
            detail::token_nll(out.logits.row(i - b), tokens[std::size_t(c * n_ctx + i + 1)]);
        nll += v;
        nll2 += v * v;
        ++r.scored;
      }
    }
    r.running.push_back(std::exp(nll / double(r.scored)));
    if (on_chunk)
      on_chunk({c, n_chunks, r.running.back(),
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()});
  }
  r.mean_nll = nll / double(r.scored);
  r.ppl = std::exp(r.mean_nll);
  const double var = nll2 / double(r.scored) - r.mean_nll * r.mean_nll;
  r.error = r.scored > 1 && var > 0 ? r.ppl * std::sqrt(var / double(r.scored - 1)) : 0.0;
  return r;
}

ARX_NAMESPACE_END
