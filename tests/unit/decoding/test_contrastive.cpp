// Contrastive search (decoding/contrastive.hpp, ALGORITHMS.md §3): α = 0 and k = 1 are greedy;
// the decoder equals a slow reference that runs full forwards of the whole text for every
// candidate (no KV sharing, cosines in double); the hand-built cosine case; the logits kept from
// the winning candidate equal a fresh forward; chunked candidates at the end of the context.
#include <arx/core/thread_pool.hpp>
#include <arx/decoding/contrastive.hpp>
#include <arx/model/transformer.hpp>
#include <arx/model/weights.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <vector>

#include "../model/tiny_llama.hpp"
#include "contrastive_slow.hpp"
#include "plain_greedy.hpp"

namespace {

using tokens_t = std::vector<arx::token_id>;

template <class KV = float>
arx::transformer<KV> make(std::uint64_t seed, arx::ggml_type type = arx::ggml_type::f32,
                          std::int64_t n_vocab = 96) {
  tiny::params p;
  p.seed = seed;
  p.n_vocab = n_vocab;
  p.n_ctx = 128;
  p.n_layer = 3;
  p.type = type;
  return arx::transformer<KV>(arx::llama_weights::from_file(tiny::build(p)));
}

template <class KV>
tokens_t run(const arx::transformer<KV>& m, arx::contrastive_params cp, const tokens_t& prompt,
             std::int64_t n, std::int64_t capacity = 0, arx::decode_result* res_out = nullptr) {
  arx::contrastive_search<KV> cs(m, cp);
  auto seq = m.new_sequence(capacity);
  auto res = cs.generate(seq, prompt, n, [](arx::token_id) {});
  if (res_out) *res_out = res;
  return res.tokens;
}

}  // namespace

TEST_CASE("contrastive search with alpha = 0 or k = 1 is greedy decoding", "[contrastive]") {
  for (const std::uint64_t seed : {1u, 2u, 3u}) {
    const auto m = make(seed);
    const tokens_t prompt = tiny::tokens(6, 96, seed + 10);
    const tokens_t greedy = arx_test::plain_greedy(m, prompt, 40);
    CHECK(run(m, {.k = 4, .alpha = 0.0}, prompt, 40) == greedy);
    CHECK(run(m, {.k = 1, .alpha = 0.6}, prompt, 40) == greedy);
    CHECK(run(m, {.k = 1, .alpha = 1.0}, prompt, 40) == greedy);
  }
}

TEST_CASE("contrastive search equals the slow full-forward reference", "[contrastive]") {
  int off_top = 0;
  for (const std::uint64_t seed : {4u, 5u}) {
    const auto m = make(seed);
    const auto mq = make(seed, arx::ggml_type::q8_0);
    const auto mh = make<arx::f16>(seed);
    const tokens_t prompt = tiny::tokens(5, 96, seed);
    for (const int k : {2, 4, 6})
      for (const double alpha : {0.3, 0.6, 0.9}) {
        INFO("seed " << seed << ", k " << k << ", alpha " << alpha);
        const arx::contrastive_params cp{.k = k, .alpha = alpha};
        CHECK(run(m, cp, prompt, 14) == contrastive_slow::run(m, prompt, k, alpha, 14, off_top));
        CHECK(run(mq, cp, prompt, 14) == contrastive_slow::run(mq, prompt, k, alpha, 14, off_top));
        CHECK(run(mh, cp, prompt, 14) == contrastive_slow::run(mh, prompt, k, alpha, 14, off_top));
      }
  }
  // the sweep is not greedy in disguise: the penalty changed many choices
  CHECK(off_top > 50);
}

TEST_CASE("contrastive_pick: a candidate repeating an earlier state loses once alpha is large",
          "[contrastive]") {
  // history: e0 and e1; the top candidate's state is 2·e0 (cos 1 with e0), the runner-up's e2
  // (cos 0 with everything). The runner-up wins iff (1 − α)p2 > (1 − α)p1 − α, i.e.
  // α > (p1 − p2) / (p1 − p2 + 1).
  const float hist[2 * 3] = {1, 0, 0, 0, 1, 0};
  const float cand[2 * 3] = {2, 0, 0, 0, 0, 1};
  const arx::tensor_view<const float> h(hist, arx::shape_t{2, 3}), c(cand, arx::shape_t{2, 3});
  std::vector<double> cos(2);
  for (const auto& [p1, p2] : {std::pair{0.6, 0.3}, {0.9, 0.05}, {0.35, 0.34}}) {
    const std::vector<double> p{p1, p2};
    const double threshold = (p1 - p2) / (p1 - p2 + 1);
    INFO("p1 " << p1 << ", p2 " << p2 << ", threshold " << threshold);
    CHECK(arx::contrastive_pick(p, c, h, threshold - 1e-6, cos) == 0);
    CHECK(arx::contrastive_pick(p, c, h, threshold + 1e-6, cos) == 1);
    CHECK(cos[0] == Approx(1.0).margin(1e-6));
    CHECK(cos[1] == Approx(0.0).margin(1e-6));
    CHECK(arx::contrastive_pick(p, c, h, 0.0, cos) == 0);
  }
  // empty history: no penalty, the most probable wins; a zero state has cosine 0
  const float zero[3] = {0, 0, 0};
  CHECK(arx::contrastive_pick(std::vector<double>{0.2, 0.7}, c,
                              arx::tensor_view<const float>(zero, arx::shape_t{0, 3}), 0.9,
                              cos) == 1);
  const float zc[2 * 3] = {0, 0, 0, 1, 0, 0};
  CHECK(arx::contrastive_pick(std::vector<double>{0.5, 0.4},
                              arx::tensor_view<const float>(zc, arx::shape_t{2, 3}), h, 0.5,
                              cos) == 0);
  CHECK(cos[0] == 0.0);
  CHECK_THROWS_AS(arx::contrastive_pick(std::vector<double>{0.5}, c, h, 0.5, cos),
                  arx::shape_error);
}

TEST_CASE("contrastive search keeps the winner's logits: they equal a fresh forward",
          "[contrastive]") {
  for (const std::uint64_t seed : {6u, 7u}) {
    const auto m = make(seed);
    const tokens_t prompt = tiny::tokens(4, 96, seed);
    arx::contrastive_search<float> cs(m, {.k = 5, .alpha = 0.7});
    auto seq = m.new_sequence();
    const auto res = cs.generate(seq, prompt, 20, [](arx::token_id) { return true; });
    REQUIRE(res.tokens.size() == 20);
    CHECK(seq.size() == std::int64_t(prompt.size() + res.tokens.size()));
    tokens_t all = prompt;
    all.insert(all.end(), res.tokens.begin(), res.tokens.end());
    auto fresh = m.new_sequence();
    const auto r = m.forward(fresh, all);
    const auto want = r.logits.row(0);
    const auto got = cs.next_logits();
    REQUIRE(got.size() == want.size());
    CHECK(std::equal(got.begin(), got.end(), want.begin()));
    // and the KV the decoder left behind is the text's: one more token decodes the same
    const arx::token_id next = 3;
    const auto a = m.forward(seq, std::span(&next, 1)).logits.row(0);
    const auto b = m.forward(fresh, std::span(&next, 1)).logits.row(0);
    CHECK(std::equal(a.begin(), a.end(), b.begin()));
  }
}

TEST_CASE("contrastive search at the end of the context: chunked candidates, same tokens",
          "[contrastive]") {
  const auto m = make(8);
  const tokens_t prompt = tiny::tokens(5, 96, 8);
  const arx::contrastive_params cp{.k = 6, .alpha = 0.6};
  const tokens_t roomy = run(m, cp, prompt, 40);
  // capacity 30: the last 5 steps have fewer than k free rows
  arx::decode_result res;
  const tokens_t tight = run(m, cp, prompt, 40, 30, &res);
  CHECK(res.reason == arx::stop_reason::context_full);
  REQUIRE(tight.size() == 30 - prompt.size());
  CHECK(std::equal(tight.begin(), tight.end(), roomy.begin()));
  // and with threads
  arx::thread_pool pool(2);
  arx::contrastive_search<float> cs(m, cp);
  auto seq = m.new_sequence();
  seq.set_thread_pool(&pool);
  CHECK(cs.generate(seq, prompt, 40, [](arx::token_id) {}).tokens == roomy);
}

TEST_CASE("contrastive search: stops, statistics and errors", "[contrastive]") {
  const auto m = make(9);
  const tokens_t prompt = tiny::tokens(5, 96, 9);
  const tokens_t all = run(m, {.k = 3, .alpha = 0.5}, prompt, 12);
  arx::contrastive_search<float> cs(m, {.k = 3, .alpha = 0.5});
  {  // EOS: the first emitted occurrence of all[4] ends the call and is the last token
    auto seq = m.new_sequence();
    const auto res = cs.generate(seq, prompt, 12, [](arx::token_id) {}, all[4]);
    CHECK(res.reason == arx::stop_reason::eos);
    CHECK(res.tokens.back() == all[4]);
    CHECK(std::equal(res.tokens.begin(), res.tokens.end(), all.begin()));
  }
  {  // cancel after 3 tokens; statistics
    auto seq = m.new_sequence();
    int seen = 0;
    const auto res = cs.generate(seq, prompt, 12, [&](arx::token_id) { return ++seen < 3; });
    CHECK(res.reason == arx::stop_reason::cancelled);
    CHECK(res.tokens.size() == 3);
    CHECK(res.stats.n_prompt == 5);
    CHECK(res.stats.forwards == 3);
    CHECK(res.stats.forward_tokens == 9);
  }
  CHECK_THROWS_AS(arx::contrastive_search<float>(m, {.k = 0, .alpha = 0.5}),
                  arx::invalid_argument);
  CHECK_THROWS_WITH(arx::contrastive_search<float>(m, {.k = 4, .alpha = 1.5}),
                    Catch::Contains("alpha = 1.5"));
  CHECK_THROWS_AS(arx::contrastive_search<float>(m, {.k = 4, .alpha = std::nan("")}),
                  arx::invalid_argument);
  auto seq = m.new_sequence();
  CHECK_THROWS_AS(cs.generate(seq, tokens_t{}, 4, [](arx::token_id) {}), arx::invalid_argument);
  CHECK_THROWS_AS(cs.generate(seq, prompt, 0, [](arx::token_id) {}), arx::invalid_argument);
  CHECK_THROWS_WITH(cs.generate(seq, tokens_t{1, 96}, 4, [](arx::token_id) {}),
                    Catch::Contains("96"));
  // k larger than the vocabulary: every token is a candidate
  const auto small = make(10, arx::ggml_type::f32, 8);
  CHECK(run(small, {.k = 20, .alpha = 0.5}, tokens_t{1, 2}, 10).size() == 10);
}
