// Beam search (decoding/beam_search.hpp): width 1 is greedy; on a model with 6 tokens, the best
// beam equals the exhaustive argmax over every continuation (log-probabilities from full
// forwards, computed here) when the width covers the tree — with and without EOS, for several
// length penalties, which change the winner; every step follows the documented rules (a slow
// reference from full forwards: candidates, EOS ranks, kept hypotheses, both stopping modes);
// early stopping; errors.
#include <arx/core/thread_pool.hpp>
#include <arx/decoding/beam_search.hpp>
#include <arx/model/transformer.hpp>
#include <arx/model/weights.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
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

/// log p(v | prompt + cont) for every token v: one full forward, log_softmax in double.
std::vector<double> next_log_probs(const model_t& m, const tokens_t& prompt,
                                   const tokens_t& cont) {
  tokens_t text = prompt;
  text.insert(text.end(), cont.begin(), cont.end());
  auto seq = m.new_sequence();
  const auto r = m.forward(seq, text);
  const auto row = r.logits.row(0);
  double mx = -1e300, sum = 0;
  for (const float x : row) mx = std::max(mx, double(x));
  for (const float x : row) sum += std::exp(double(x) - mx);
  std::vector<double> out;
  for (const float x : row) out.push_back(double(x) - mx - std::log(sum));
  return out;
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

/// The rules of beam_search.hpp's file comment, written out slowly and independently: each
/// beam's next log-probabilities from a full forward of prompt + its tokens (no shared prefix,
/// no clone, no batch); every candidate ranked; kept hypotheses re-sorted each time.
struct reference_t {
  std::vector<arx::beam_hypothesis> hypotheses;  // best first
  std::int64_t forwards = 0;                     // steps that went on to a forward
};

reference_t reference(const model_t& m, arx::beam_params bp, const tokens_t& prompt,
                      int max_tokens, arx::token_id eos) {
  const auto V = arx::token_id(m.config().n_vocab);
  const auto W = std::size_t(bp.width);
  const auto score = [&](double lp, std::size_t n) {
    return lp / std::pow(double(n), bp.length_penalty);
  };
  reference_t out;
  auto& done = out.hypotheses;
  const auto keep = [&](arx::beam_hypothesis h) {
    h.score = score(h.log_prob, h.tokens.size());
    done.push_back(std::move(h));
    std::stable_sort(done.begin(), done.end(),
                     [](const auto& a, const auto& b) { return a.score > b.score; });
    if (done.size() > W) done.pop_back();
  };
  struct beam_t {
    tokens_t tokens;
    double log_prob;
  };
  struct cand_t {
    double log_prob;
    std::size_t beam;
    arx::token_id token;
  };
  std::vector<beam_t> live = {{{}, 0.0}};
  for (int len = 1;; ++len) {
    std::vector<cand_t> cands;
    for (std::size_t b = 0; b < live.size(); ++b) {
      const std::vector<double> next = next_log_probs(m, prompt, live[b].tokens);  // {V}
      for (arx::token_id v = 0; v < V; ++v)
        cands.push_back({live[b].log_prob + next[std::size_t(v)], b, v});
    }
    std::sort(cands.begin(), cands.end(), [](const cand_t& a, const cand_t& b) {
      if (a.log_prob != b.log_prob) return a.log_prob > b.log_prob;
      return a.beam != b.beam ? a.beam < b.beam : a.token < b.token;
    });
    std::vector<beam_t> next;
    for (std::size_t i = 0; i < std::min(cands.size(), 2 * W) && next.size() < W; ++i) {
      tokens_t t = live[cands[i].beam].tokens;
      t.push_back(cands[i].token);
      if (cands[i].token != eos)
        next.push_back({t, cands[i].log_prob});
      else if (i < W)
        keep({t, cands[i].log_prob, 0.0, true});
    }
    bool over = next.empty();
    if (!over && done.size() == W)
      over = bp.early_stopping || score(next.front().log_prob, std::size_t(len)) <
                                      done.back().score;
    if (over || len == max_tokens) {
      if (!over)
        for (const beam_t& b : next) keep({b.tokens, b.log_prob, 0.0, false});
      return out;
    }
    ++out.forwards;
    live = std::move(next);
  }
}

}  // namespace

TEST_CASE("beam search with width 1 is greedy decoding", "[beam]") {
  arx::thread_pool pool(2);
  for (const std::uint64_t seed : {1u, 2u, 3u}) {
    const auto m = make(seed, 96);
    const tokens_t prompt = tiny::tokens(5, 96, seed);
    for (const std::int64_t n : {1, 7, 30}) {
      const auto r = beam(m, {.width = 1}, prompt, n, -1, seed == 2 ? &pool : nullptr);
      CHECK(r.tokens == arx_test::plain_greedy(m, prompt, std::size_t(n)));
      CHECK(r.reason == arx::stop_reason::max_tokens);
      CHECK(r.stats.forwards == n - 1);
    }
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
    // length penalties <= 0 prune exactly: a width of 36 is enough with EOS too
    for (const double lp : {-1.0, 0.0}) {
      const best_t want = exhaustive(m, prompt, 3, 0, lp);
      CHECK(beam(m, {.width = 36, .length_penalty = lp}, prompt, 3, 0).tokens == want.tokens);
    }
  }
  CHECK(winners.size() >= 3);  // the length penalty changed the winner
}

TEST_CASE("beam search follows its documented rules step by step", "[beam]") {
  // Widths 1..3, penalties, both early-stopping modes, with EOS: the hypotheses (tokens,
  // finished, log-probabilities, order) and the forward count equal the slow reference's.
  int stops_differ = 0, results_differ = 0;
  for (const std::uint64_t seed : {1u, 2u, 3u}) {
    const auto m = make(seed, 6);
    const tokens_t prompt = {2, 5};
    for (const int width : {1, 2, 3})
      for (const double lp : {-1.0, 0.0, 1.0, 2.0})
      for (const arx::token_id eos : {1, 3}) {
        std::vector<arx::beam_result> got;
        for (const bool es : {true, false}) {
          INFO("seed " << seed << ", width " << width << ", penalty " << lp << ", EOS " << eos
                       << ", early " << es);
          const arx::beam_params bp{.width = width, .length_penalty = lp, .early_stopping = es};
          const reference_t want = reference(m, bp, prompt, 8, eos);
          got.push_back(beam(m, bp, prompt, 8, eos));
          const arx::beam_result& r = got.back();
          CHECK(r.stats.forwards == want.forwards);
          REQUIRE(r.hypotheses.size() == want.hypotheses.size());
          for (std::size_t i = 0; i < want.hypotheses.size(); ++i) {
            const auto &h = r.hypotheses[i], &w = want.hypotheses[i];
            CHECK(h.tokens == w.tokens);
            CHECK(h.finished == w.finished);
            CHECK(h.log_prob == Approx(w.log_prob).margin(1e-9));
            CHECK(h.score == Approx(w.score).margin(1e-9));
          }
          CHECK(r.tokens == want.hypotheses.front().tokens);
          CHECK(r.reason == (want.hypotheses.front().finished ? arx::stop_reason::eos
                                                              : arx::stop_reason::max_tokens));
          if (es) {  // stopped at the step the width-th hypothesis finished, or out of tokens
            const bool all_done = r.hypotheses.size() == std::size_t(width) &&
                                  std::all_of(r.hypotheses.begin(), r.hypotheses.end(),
                                              [](const auto& h) { return h.finished; });
            CHECK((all_done || r.stats.forwards == 7));
          }
        }
        stops_differ += got[0].stats.forwards != got[1].stats.forwards;
        results_differ += got[0].tokens != got[1].tokens;
      }
  }
  // the two modes are told apart: early stopping ends sooner, and sometimes with another winner
  CHECK(stops_differ > 0);
  CHECK(results_differ > 0);
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
