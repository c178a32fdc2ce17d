// Momentum decoding (decoding/momentum.hpp, ALGORITHMS.md §4): α = 0 is greedy; the repeat length
// l equals a brute-force n-gram search; with infinite resistance for l >= n no n-gram of length n
// repeats; a hand-built case where the resistance flips the choice.
#include <arx/decoding/momentum.hpp>
#include <arx/model/transformer.hpp>
#include <arx/model/weights.hpp>
#include <arx/sampling/rng.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <set>
#include <vector>

#include "../model/tiny_llama.hpp"
#include "plain_greedy.hpp"

namespace {

using tokens_t = std::vector<arx::token_id>;
constexpr double inf = std::numeric_limits<double>::infinity();

/// The definition: the largest l <= max_n such that the l-gram (text's last l − 1 tokens, v)
/// occurs somewhere in text; 0 when v does not occur at all.
int brute_repeat_length(const tokens_t& text, arx::token_id v, int max_n) {
  const auto n = std::int64_t(text.size());
  for (int l = max_n; l >= 1; --l) {
    if (l - 1 > n) continue;
    tokens_t gram(text.end() - (l - 1), text.end());
    gram.push_back(v);
    for (std::int64_t i = 0; i + l <= n; ++i)
      if (std::equal(gram.begin(), gram.end(), text.begin() + i)) return l;
  }
  return 0;
}

std::vector<float> random_logits(arx::rng& g, std::size_t n) {
  std::vector<float> x(n);
  for (auto& v : x) v = float(4.0 * g.uniform());
  return x;
}

/// Every n-gram of t occurs once at most.
bool no_repeated_ngram(const tokens_t& t, std::size_t n) {
  std::set<tokens_t> seen;
  for (std::size_t i = 0; i + n <= t.size(); ++i)
    if (!seen.emplace(t.begin() + i, t.begin() + i + n).second) return false;
  return true;
}

arx::transformer<float> make(std::uint64_t seed) {
  tiny::params p;
  p.seed = seed;
  p.n_ctx = 256;
  return arx::transformer<float>(arx::llama_weights::from_file(tiny::build(p)));
}

}  // namespace

TEST_CASE("momentum: the repeat length equals a brute-force n-gram search", "[momentum]") {
  arx::rng g(11);
  int hits[6] = {0, 0, 0, 0, 0, 0};
  for (int trial = 0; trial < 300; ++trial) {
    const int vocab = 2 + int(g.next() % 4), max_n = 2 + int(g.next() % 5);
    std::vector<double> r(std::size_t(max_n) + 1, 1.0);
    arx::momentum_selector sel({.top_k = 1, .alpha = 0.0, .resistance = r});
    tokens_t text;
    const int len = int(g.next() % 40);
    for (int i = 0; i < len; ++i) {
      for (arx::token_id v = 0; v < vocab; ++v) {
        const int l = brute_repeat_length(text, v, max_n);
        REQUIRE(sel.repeat_length_of(v) == l);
        ++hits[std::min(l, 5)];
      }
      const auto t = arx::token_id(g.next() % std::uint64_t(vocab));
      sel.accept(t);
      text.push_back(t);
    }
  }
  for (int l = 0; l <= 5; ++l) CHECK(hits[l] > 100);  // every length was exercised
}

TEST_CASE("momentum with alpha = 0 is greedy decoding", "[momentum]") {
  arx::rng g(3);
  arx::momentum_selector sel({.top_k = 5, .alpha = 0.0});
  for (int step = 0; step < 500; ++step) {
    auto x = random_logits(g, 20);
    if (step % 7 == 0) x[3] = x[9] = 10.0f;  // a tie: the lower id
    CHECK(sel(x) == arx_test::argmax(x));
  }
  const auto m = make(5);
  const tokens_t prompt = tiny::tokens(5, 96, 5);
  const tokens_t greedy = arx_test::plain_greedy(m, prompt, 60);
  arx::momentum_selector ms({.top_k = 4, .alpha = 0.0}, prompt);
  CHECK(arx_test::decode_with(m, prompt, 60, ms) == greedy);
  CHECK(ms.text().size() == prompt.size() + 60);
}

TEST_CASE("momentum with infinite resistance for l >= n repeats no n-gram", "[momentum]") {
  for (const int n : {2, 3, 4}) {
    INFO("n = " << n);
    std::vector<double> r = {0, 1, 3, 4, 5, 6};
    for (int l = n; l <= 5; ++l) r[std::size_t(l)] = inf;
    // random logits over 200 tokens, 300 steps (greedy would repeat its favourites; a token
    // occurs at most 150 times, so it never runs out of new successors)
    arx::rng g(static_cast<std::uint64_t>(n));
    arx::momentum_selector sel({.top_k = 3, .alpha = 0.2, .resistance = r});
    const auto fav = random_logits(g, 200);
    for (int step = 0; step < 300; ++step) {
      auto x = fav;
      for (auto& v : x) v += float(0.1 * g.uniform());
      (void)sel(x);
    }
    CHECK(no_repeated_ngram(sel.text(), std::size_t(n)));
    // a tiny model, prompt included in the text
    const auto m = make(7);
    const tokens_t prompt = tiny::tokens(6, 96, 7);
    arx::momentum_selector ms({.top_k = 5, .alpha = 0.2, .resistance = r}, prompt);
    CHECK(arx_test::decode_with(m, prompt, 150, ms).size() == 150);
    CHECK(no_repeated_ngram(ms.text(), std::size_t(n)));
    CHECK(!no_repeated_ngram(arx_test::plain_greedy(m, prompt, 150), std::size_t(n)));
  }
}

TEST_CASE("momentum: the resistance flips a choice, exactly when alpha·ΔR exceeds Δp",
          "[momentum]") {
  // text 1 2 3 1 2: appending 3 walks the 3-gram (1 2 3) again (l = 3, R = 4); 4 is new (l = 0).
  const tokens_t text = {1, 2, 3, 1, 2};
  std::vector<float> x(6, -5.0f);
  x[3] = 1.0f;
  x[4] = 0.5f;
  double e3 = std::exp(1.0), e4 = std::exp(0.5), rest = 4 * std::exp(-5.0);
  const double p3 = e3 / (e3 + e4 + rest), p4 = e4 / (e3 + e4 + rest);
  const double threshold = (p3 - p4) / 4.0;  // 3 wins iff p3 − 4α > p4
  for (const double alpha : {threshold * 0.99, threshold * 1.01}) {
    arx::momentum_selector sel({.top_k = 2, .alpha = alpha}, text);
    CHECK(sel.repeat_length_of(3) == 3);
    CHECK(sel.repeat_length_of(4) == 0);
    CHECK(sel.repeat_length_of(1) == 1);
    CHECK(sel(x) == (alpha < threshold ? 3 : 4));
  }
  // top_k 1: no alternative, the most probable token is kept
  arx::momentum_selector one({.top_k = 1, .alpha = 10.0}, text);
  CHECK(one(x) == 3);
}

TEST_CASE("momentum: everything forbidden, bad parameters", "[momentum]") {
  // two tokens, R = ∞ once a token occurred: the third step has nothing left
  arx::momentum_selector sel({.top_k = 1, .alpha = 0.2, .resistance = {0, inf}});
  const std::vector<float> x = {1.0f, 0.0f};
  CHECK(sel(x) == 0);
  CHECK(sel(x) == 1);  // widened past the top-1
  CHECK_THROWS_WITH(sel(x), Catch::Contains("every token is forbidden"));
  CHECK_THROWS_WITH(arx::momentum_selector({.top_k = 0}), Catch::Contains("top_k = 0"));
  CHECK_THROWS_AS(arx::momentum_selector({.alpha = -1}), arx::invalid_argument);
  CHECK_THROWS_AS(arx::momentum_selector({.alpha = inf}), arx::invalid_argument);
  CHECK_THROWS_AS(arx::momentum_selector({.resistance = {0}}), arx::invalid_argument);
  CHECK_THROWS_WITH(arx::momentum_selector({.resistance = {0, -1}}),
                    Catch::Contains("resistance[1]"));
  arx::momentum_selector ok;
  CHECK_THROWS_AS(ok(std::vector<float>{1.0f, std::nanf("")}), arx::invalid_argument);
  CHECK_THROWS_AS(ok(std::vector<float>{}), arx::invalid_argument);
}
