// Jacobi decoding (decoding/jacobi.hpp, ALGORITHMS.md §5): any initialisation converges to plain
// greedy decoding, token for token, with at most one forward per emitted token (so at most m per
// m-token block); initialised with the greedy continuation it commits m + 1 tokens per forward.
#include <arx/core/thread_pool.hpp>
#include <arx/decoding/jacobi.hpp>
#include <arx/model/transformer.hpp>
#include <arx/model/weights.hpp>
#include <arx/sampling/rng.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include "../model/tiny_llama.hpp"
#include "plain_greedy.hpp"

namespace {

using tokens_t = std::vector<arx::token_id>;
using model_t = arx::transformer<float>;

model_t make(std::uint64_t seed, std::int64_t n_vocab = 96) {
  tiny::params p;
  p.seed = seed;
  p.n_vocab = n_vocab;
  p.n_ctx = 128;
  p.n_layer = 3;
  return model_t(arx::llama_weights::from_file(tiny::build(p)));
}

arx::decode_result jacobi(const model_t& m, int block, const tokens_t& prompt, std::int64_t n,
                          const tokens_t& guess = {}, arx::thread_pool* pool = nullptr,
                          std::int64_t capacity = 0) {
  arx::jacobi_decoder<float> jd(m, {.block = block});
  jd.set_guess(guess);
  auto seq = m.new_sequence(capacity);
  seq.set_thread_pool(pool);
  return jd.generate(seq, prompt, n, [](arx::token_id) {});
}

tokens_t random_tokens(std::size_t n, std::int64_t n_vocab, std::uint64_t seed) {
  arx::rng g(seed);
  tokens_t t(n);
  for (auto& x : t) x = arx::token_id(g.next() % std::uint64_t(n_vocab));
  return t;
}

}  // namespace

TEST_CASE("Jacobi decoding equals plain greedy from any initialisation", "[jacobi]") {
  arx::thread_pool pool2(2);
  std::int64_t small_vocab_forwards = 0, small_vocab_tokens = 0;
  for (const std::uint64_t seed : {1u, 2u, 3u}) {
    // a small vocabulary makes random models repeat themselves, so guesses get confirmed too
    const auto m = make(seed, seed == 3 ? 8 : 96);
    const std::int64_t n_vocab = m.config().n_vocab;
    const tokens_t prompt = tiny::tokens(6, n_vocab, seed + 20);
    const std::int64_t n = 40;
    const tokens_t greedy = arx_test::plain_greedy(m, prompt, n);
    for (const int block : {1, 2, 3, 5, 8})
      for (arx::thread_pool* pool : {static_cast<arx::thread_pool*>(nullptr), &pool2}) {
        INFO("seed " << seed << ", block " << block << ", threads " << (pool ? 2 : 1));
        const auto plain = jacobi(m, block, prompt, n, {}, pool);
        CHECK(plain.tokens == greedy);
        CHECK(plain.reason == arx::stop_reason::max_tokens);
        CHECK(plain.stats.forwards <= n);  // >= 1 token per forward: <= m forwards per m tokens
        if (seed == 3 && block > 1) {
          small_vocab_forwards += plain.stats.forwards;
          small_vocab_tokens += n;
        }
        const auto random = jacobi(m, block, prompt, n, random_tokens(60, n_vocab, seed), pool);
        CHECK(random.tokens == greedy);
        CHECK(random.stats.forwards <= n);
        // initialised with the greedy continuation: every forward commits block + 1 tokens
        const auto ideal = jacobi(m, block, prompt, n, greedy, pool);
        CHECK(ideal.tokens == greedy);
        CHECK(ideal.stats.forwards == (n + block) / (block + 1));
      }
  }
  // with 8 tokens the model repeats itself, and Jacobi's own iterations confirm guesses
  INFO(small_vocab_tokens << " tokens in " << small_vocab_forwards << " forwards");
  CHECK(small_vocab_forwards < small_vocab_tokens);
}

TEST_CASE("Jacobi decoding: a partly right guess is confirmed up to its first wrong token",
          "[jacobi]") {
  const auto m = make(4);
  const tokens_t prompt = tiny::tokens(5, 96, 4);
  const tokens_t greedy = arx_test::plain_greedy(m, prompt, 12);
  tokens_t guess = greedy;
  guess[3] = arx::token_id((guess[3] + 1) % 96);  // tokens 0..2 right, 3 wrong
  // block 4: the first forward confirms guesses 0..2 and emits greedy[3] from the logits
  arx::jacobi_decoder<float> jd(m, {.block = 4});
  jd.set_guess(guess);
  auto seq = m.new_sequence();
  std::vector<std::size_t> per_forward;
  const auto res = jd.generate(seq, prompt, 4, [&](arx::token_id) { per_forward.push_back(0); });
  CHECK(res.tokens == tokens_t(greedy.begin(), greedy.begin() + 4));
  CHECK(res.stats.forwards == 1);
  CHECK(res.stats.forward_tokens == 4);  // max_tokens 4: cur + 3 guesses
}

TEST_CASE("Jacobi decoding: stops, the KV cache it leaves, errors", "[jacobi]") {
  const auto m = make(5);
  const tokens_t prompt = tiny::tokens(5, 96, 5);
  const tokens_t greedy = arx_test::plain_greedy(m, prompt, 30);
  arx::jacobi_decoder<float> jd(m, {.block = 3});
  {  // EOS = greedy[7] (its first occurrence ends the call)
    const auto first = std::find(greedy.begin(), greedy.end(), greedy[7]) - greedy.begin();
    auto seq = m.new_sequence();
    jd.set_guess(greedy);
    const auto res = jd.generate(seq, prompt, 30, [](arx::token_id) {}, greedy[7]);
    CHECK(res.reason == arx::stop_reason::eos);
    CHECK(res.tokens == tokens_t(greedy.begin(), greedy.begin() + first + 1));
    // the sequence holds the prompt and every emitted token but the last: decoding the last
    // gives the logits of a fresh forward over the whole text
    CHECK(seq.size() == std::int64_t(prompt.size() + res.tokens.size()) - 1);
    tokens_t all = prompt;
    all.insert(all.end(), res.tokens.begin(), res.tokens.end());
    auto fresh = m.new_sequence();
    const auto want = m.forward(fresh, all).logits.row(0);
    const auto got = m.forward(seq, std::span(&res.tokens.back(), 1)).logits.row(0);
    CHECK(std::equal(got.begin(), got.end(), want.begin()));
  }
  {  // cancel after 5 tokens, in the middle of a committed block
    auto seq = m.new_sequence();
    jd.set_guess(greedy);
    int seen = 0;
    const auto res = jd.generate(seq, prompt, 30, [&](arx::token_id) { return ++seen < 5; });
    CHECK(res.reason == arx::stop_reason::cancelled);
    CHECK(res.tokens == tokens_t(greedy.begin(), greedy.begin() + 5));
    CHECK(seq.size() == std::int64_t(prompt.size()) + 4);
  }
  {  // a context of 20: 16 tokens fit (the last one is not evaluated), as plain greedy
    const auto res = jacobi(m, 4, prompt, 30, {}, nullptr, 20);
    CHECK(res.reason == arx::stop_reason::context_full);
    CHECK(res.tokens == arx_test::plain_greedy(m, prompt, 30, 20));
    CHECK(res.tokens.size() == 16);
  }
  CHECK_THROWS_WITH(arx::jacobi_decoder<float>(m, {.block = 0}), Catch::Contains("block = 0"));
  auto seq = m.new_sequence();
  CHECK_THROWS_AS(jd.generate(seq, tokens_t{}, 4, [](arx::token_id) {}), arx::invalid_argument);
  CHECK_THROWS_AS(jd.generate(seq, prompt, 0, [](arx::token_id) {}), arx::invalid_argument);
  jd.set_guess(tokens_t{3, 500});
  CHECK_THROWS_WITH(jd.generate(seq, prompt, 10, [](arx::token_id) {}), Catch::Contains("500"));
}
