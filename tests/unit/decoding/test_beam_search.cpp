// Beam search (decoding/beam_search.hpp): width 1 is greedy; on a model with 6 tokens, the best
// beam equals the exhaustive argmax over every continuation (log-probabilities from full
// forwards, computed here) when the width covers the tree — with and without EOS, for several
// length penalties, which change the winner; early stopping; errors.
#include <arx/core/thread_pool.hpp>
#include <arx/decoding/beam_search.hpp>
#include <arx/model/transformer.hpp>
#include <arx/model/weights.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <set>
#include <vector>

#include "../model/tiny_llama.hpp"
#include "plain_greedy.hpp"

namespace {

using tokens_t = std::vector<arx::token_id>;
using model_t = arx::transformer<float>;

model_t make(std::uint64_t seed, std::int64_t n_vocab) {
  tiny::params p;
  p.seed = seed;
  p.n_vocab = n_vocab;
  p.n_ctx = 64;
  return model_t(arx::llama_weights::from_file(tiny::build(p)));
}

arx::beam_result beam(const model_t& m, arx::beam_params bp, const tokens_t& prompt,
                      std::int64_t n, arx::token_id eos = -1, arx::thread_pool* pool = nullptr) {
  arx::beam_search<float> bs(m, bp);
  auto seq = m.new_sequence();
  seq.set_thread_pool(pool);
  auto r = bs.generate(seq, prompt, n, eos);
  CHECK(seq.size() == std::int64_t(prompt.size()));  // the beams shared it, it holds the prompt
  return r;
}

/// log p(continuation | prompt) by one full forward of the whole text, in double.
double log_prob(const model_t& m, const tokens_t& prompt, const tokens_t& cont) {
  tokens_t text = prompt;
  text.insert(text.end(), cont.begin(), cont.end());
  auto seq = m.new_sequence();
  const auto r = m.forward(seq, text, arx::forward_request{arx::rows::all});
  double total = 0;
  for (std::size_t i = 0; i < cont.size(); ++i) {
    const auto row = r.logits.row(std::int64_t(prompt.size() + i) - 1);
    double mx = -1e300, sum = 0;
    for (const float x : row) mx = std::max(mx, double(x));
    for (const float x : row) sum += std::exp(double(x) - mx);
    total += double(row[std::size_t(cont[i])]) - mx - std::log(sum);
  }
  return total;
}

struct best_t {
  tokens_t tokens;
  double score = -std::numeric_limits<double>::infinity();
};

/// Every continuation of at most n tokens (ending at EOS, or of length n), scored by
/// log p / length^lp; the best (ties: the first in lexicographic order).
best_t exhaustive(const model_t& m, const tokens_t& prompt, int n, arx::token_id eos, double lp) {
  const auto V = arx::token_id(m.config().n_vocab);
  best_t best;
  std::function<void(tokens_t&)> walk = [&](tokens_t& cont) {
    const bool ended = !cont.empty() && cont.back() == eos;
    if (ended || int(cont.size()) == n) {
      const double s = log_prob(m, prompt, cont) / std::pow(double(cont.size()), lp);
      if (s > best.score) best = {cont, s};
      return;
    }
    for (arx::token_id v = 0; v < V; ++v) {
      cont.push_back(v);
      walk(cont);
      cont.pop_back();
    }
  };
  tokens_t cont;
  walk(cont);
  return best;
}

}  // namespace

TEST_CASE("beam search with width 1 is greedy decoding", "[beam]") {
  arx::thread_pool pool(2);
  for (const std::uint64_t seed : {1u, 2u, 3u}) {
    const auto m = make(seed, 96);
    const tokens_t prompt = tiny::tokens(5, 96, seed);
    const auto r = beam(m, {.width = 1}, prompt, 30, -1, seed == 2 ? &pool : nullptr);
    CHECK(r.tokens == arx_test::plain_greedy(m, prompt, 30));
    CHECK(r.reason == arx::stop_reason::max_tokens);
    CHECK(r.stats.forwards == 29);
  }
}

TEST_CASE("beam search finds the exhaustive argmax when the width covers the tree", "[beam]") {
  std::set<tokens_t> winners;
  for (const std::uint64_t seed : {4u, 5u}) {
    const auto m = make(seed, 6);
    const tokens_t prompt = {1, 4, 2};
    {  // no EOS: every continuation has 3 tokens; width 36 = 6^2 keeps every 2-token prefix
      const best_t want = exhaustive(m, prompt, 3, -1, 1.0);
      const auto r = beam(m, {.width = 36}, prompt, 3);
      CHECK(r.tokens == want.tokens);
      CHECK(r.hypotheses.front().log_prob == Approx(log_prob(m, prompt, want.tokens)).margin(1e-9));
      CHECK(r.hypotheses.size() == 36);
      // every kept hypothesis carries its own log-probability
      for (const auto& h : r.hypotheses)
        CHECK(h.log_prob == Approx(log_prob(m, prompt, h.tokens)).margin(1e-9));
      // a narrow beam is not guaranteed to find it, but never beats it
      CHECK(beam(m, {.width = 2}, prompt, 3).hypotheses.front().score <= want.score + 1e-12);
    }
    // EOS = token 0 ends a hypothesis early; width 216 keeps the whole tree
    for (const double lp : {-1.0, 0.0, 1.0, 3.0}) {
      INFO("seed " << seed << ", length penalty " << lp);
      const best_t want = exhaustive(m, prompt, 3, 0, lp);
      const auto r = beam(m, {.width = 216, .length_penalty = lp}, prompt, 3, 0);
      CHECK(r.tokens == want.tokens);
      CHECK(r.hypotheses.front().score == Approx(want.score).margin(1e-9));
      CHECK(r.reason == (want.tokens.back() == 0 ? arx::stop_reason::eos
                                                 : arx::stop_reason::max_tokens));
      winners.insert(want.tokens);
    }
    // length penalty 0 prunes exactly: a width of 36 is enough with EOS too
    const best_t want0 = exhaustive(m, prompt, 3, 0, 0.0);
    CHECK(beam(m, {.width = 36, .length_penalty = 0.0}, prompt, 3, 0).tokens == want0.tokens);
  }
  CHECK(winners.size() >= 3);  // the length penalty changed the winner
}

TEST_CASE("beam search: early stopping, statistics, errors", "[beam]") {
  const auto m = make(6, 6);
  const tokens_t prompt = {3, 1};
  // EOS = 0 with a width of 2: early stopping ends once two hypotheses have finished
  const auto early = beam(m, {.width = 2, .early_stopping = true}, prompt, 40, 0);
  const auto late = beam(m, {.width = 2, .early_stopping = false}, prompt, 40, 0);
  CHECK(early.hypotheses.size() == 2);
  for (const auto& h : early.hypotheses) CHECK(h.finished);
  CHECK(early.stats.forwards <= late.stats.forwards);
  CHECK(late.hypotheses.front().score >= early.hypotheses.back().score);
  CHECK(early.stats.forward_tokens <= 2 * early.stats.forwards);
  // the context: 10 positions hold the prompt and 8 more tokens
  arx::beam_search<float> bs(m, {.width = 3});
  auto small = m.new_sequence(10);
  const auto full = bs.generate(small, prompt, 40);
  CHECK(full.reason == arx::stop_reason::context_full);
  CHECK(full.tokens.size() == 9);
  CHECK_THROWS_WITH(arx::beam_search<float>(m, {.width = 0}), Catch::Contains("width = 0"));
  CHECK_THROWS_AS(arx::beam_search<float>(m, {.length_penalty = std::nan("")}),
                  arx::invalid_argument);
  auto seq = m.new_sequence();
  CHECK_THROWS_AS(bs.generate(seq, tokens_t{}, 4), arx::invalid_argument);
  CHECK_THROWS_AS(bs.generate(seq, prompt, 0), arx::invalid_argument);
  CHECK_THROWS_WITH(bs.generate(seq, tokens_t{1, 6}, 4), Catch::Contains("6"));
}
