// The search strategies on stories260K (../shared/reference, read in place): at their greedy
// limits — contrastive search with α = 0 or k = 1, momentum with α = 0, beam search of width 1 —
// and Jacobi decoding (always greedy, m = 1..8) they reproduce llama.cpp's greedy ids of every
// golden case (1 and 2 threads). Contrastive search with k = 4, α = 0.6 equals the slow
// full-forward reference, and over 256 tokens it repeats far less than greedy decoding (rep-3,
// the share of repeated 3-grams, below a third of greedy's); so does momentum decoding.
#include <arx/core/thread_pool.hpp>
#include <arx/decoding/beam_search.hpp>
#include <arx/decoding/contrastive.hpp>
#include <arx/decoding/jacobi.hpp>
#include <arx/decoding/momentum.hpp>
#include <arx/model/transformer.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "../unit/decoding/contrastive_slow.hpp"
#include "../unit/decoding/plain_greedy.hpp"
#include "golden_cases.hpp"
#include "reference.hpp"

namespace {

using tokens_t = std::vector<arx::token_id>;
using model_t = arx::transformer<float>;

tokens_t contrastive(const model_t& m, arx::contrastive_params cp, const tokens_t& prompt,
                     std::int64_t n, arx::thread_pool& pool) {
  arx::contrastive_search<float> cs(m, cp);
  auto seq = m.new_sequence(512);
  seq.set_thread_pool(&pool);
  return cs.generate(seq, prompt, n, [](arx::token_id) {}).tokens;
}

tokens_t momentum(const model_t& m, arx::momentum_params mp, const tokens_t& prompt,
                  std::size_t n, arx::thread_pool& pool) {
  arx::momentum_selector sel(mp, prompt);
  return arx_test::decode_with(m, prompt, n, sel, 512, &pool);
}

/// 1 − unique / total 3-grams.
double rep3(const tokens_t& t) {
  std::set<tokens_t> seen;
  for (std::size_t i = 0; i + 3 <= t.size(); ++i) seen.emplace(t.begin() + i, t.begin() + i + 3);
  return 1.0 - double(seen.size()) / double(t.size() - 2);
}

}  // namespace

TEST_CASE("search strategies on stories260K: greedy limits, slow reference, less repetition",
          "[contrastive][jacobi][momentum][beam][golden]") {
  const model_t m = model_t::load((arx_test::reference_dir() / "models/stories260K.gguf").string());
  const auto cases = arx_test::golden_cases("stories260K");
  REQUIRE(!cases.empty());
  for (const auto& c : cases) {
    INFO(c.file);
    const tokens_t& prompt = c.prompt;
    const tokens_t& expect = c.greedy;
    REQUIRE(!expect.empty());
    const auto n = std::int64_t(expect.size());
    for (const int threads : {1, 2}) {
      arx::thread_pool pool(threads);
      CHECK(contrastive(m, {.k = 4, .alpha = 0.0}, prompt, n, pool) == expect);
      CHECK(contrastive(m, {.k = 1, .alpha = 0.6}, prompt, n, pool) == expect);
      CHECK(momentum(m, {.alpha = 0.0}, prompt, std::size_t(n), pool) == expect);
      for (const int block : {1, 2, 3, 4, 5, 6, 7, 8}) {
        INFO("Jacobi block " << block << ", threads " << threads);
        arx::jacobi_decoder<float> jd(m, {.block = block});
        auto seq = m.new_sequence(512);
        seq.set_thread_pool(&pool);
        const auto r = jd.generate(seq, prompt, n, [](arx::token_id) {});
        CHECK(r.tokens == expect);
        CHECK(r.stats.forwards <= n);
      }
      arx::beam_search<float> bs(m, {.width = 1});
      auto seq = m.new_sequence(512);
      seq.set_thread_pool(&pool);
      CHECK(bs.generate(seq, prompt, n).tokens == expect);
    }
    arx::thread_pool pool(2);
    int off_top = 0;
    CHECK(contrastive(m, {.k = 4, .alpha = 0.6}, prompt, 24, pool) ==
          contrastive_slow::run(m, prompt, 4, 0.6, 24, off_top));
    CHECK(off_top > 0);
    const double r_greedy = rep3(arx_test::plain_greedy(m, prompt, 256, 512));
    const double r_contrastive = rep3(contrastive(m, {.k = 4, .alpha = 0.6}, prompt, 256, pool));
    const double r_momentum = rep3(momentum(m, {}, prompt, 256, pool));
    INFO("rep-3 greedy " << r_greedy << ", contrastive " << r_contrastive << ", momentum "
                         << r_momentum);
    CHECK(r_contrastive < r_greedy / 3);
    CHECK(r_momentum < r_greedy / 3);
  }
}
