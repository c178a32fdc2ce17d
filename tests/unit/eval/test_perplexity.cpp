// arx::perplexity against the convention written out independently here on the float64 reference
// forward (reference_llama.hpp): chunks of n_ctx tokens, the first replaced by BOS, positions
// [n_ctx/2, n_ctx-1) scored on the text's next token, running and final estimates, the standard
// error. Also: batch size does not change the bits, and bad arguments are typed errors.
#include <catch2/catch.hpp>

#include "unit/model/reference_llama.hpp"
#include "unit/model/tiny_llama.hpp"

#include <arx/eval/perplexity.hpp>
#include <arx/model/transformer.hpp>

#include <cmath>
#include <cstdint>
#include <vector>

namespace {

struct expected {
  std::vector<double> running;
  double ppl = 0, error = 0;
  std::int64_t scored = 0;
};

expected by_hand(const arx::gguf::file& f, const std::vector<std::int32_t>& text,
                 std::int64_t n_ctx, std::int32_t bos, std::int64_t chunks) {
  expected e;
  double sum = 0, sum_sq = 0;
  for (std::int64_t c = 0; c < chunks; ++c) {
    std::vector<std::int32_t> in(text.begin() + c * n_ctx, text.begin() + (c + 1) * n_ctx);
    if (bos >= 0) in[0] = bos;
    const auto out = reference::forward(f, in);
    for (std::int64_t i = n_ctx / 2; i + 1 < n_ctx; ++i) {
      const Eigen::VectorXd row = out.logits.row(Eigen::Index(i)).transpose();
      const double lse = row.maxCoeff() + std::log((row.array() - row.maxCoeff()).exp().sum());
      const double nll = lse - row(text[std::size_t(c * n_ctx + i + 1)]);
      sum += nll;
      sum_sq += nll * nll;
      ++e.scored;
    }
    e.running.push_back(std::exp(sum / double(e.scored)));
  }
  const double mean = sum / double(e.scored);
  e.ppl = std::exp(mean);
  e.error = e.ppl * std::sqrt((sum_sq / double(e.scored) - mean * mean) / double(e.scored - 1));
  return e;
}

}  // namespace

TEST_CASE("perplexity follows llama-perplexity's convention", "[eval][perplexity]") {
  tiny::params p;
  const auto f = tiny::build(p);
  const arx::transformer<float> m(arx::llama_weights::from_file(tiny::build(p)));
  const auto text = tiny::tokens(3 * 16 + 5, p.n_vocab, 3);  // 3 whole chunks of 16, 5 left over
  arx::perplexity_options o;
  o.n_ctx = 16;
  o.bos = 1;
  std::vector<double> seen;
  const auto r = arx::perplexity(m, text, o, [&](const arx::perplexity_chunk& c) {
    CHECK(c.index == std::int64_t(seen.size()));
    CHECK(c.n_chunks == 3);
    seen.push_back(c.running_ppl);
  });
  const auto want = by_hand(f, text, 16, 1, 3);
  REQUIRE(r.n_chunks == 3);
  CHECK(r.scored == 3 * 7);
  CHECK(r.scored == want.scored);
  REQUIRE(r.running.size() == 3);
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(r.running[i] == Approx(want.running[i]).epsilon(1e-5));
    CHECK(seen[i] == r.running[i]);
  }
  CHECK(r.ppl == Approx(want.ppl).epsilon(1e-5));
  CHECK(r.error == Approx(want.error).epsilon(1e-4));
  CHECK(r.ppl > 1.0);

  // without the BOS replacement the first token is the text's own: another number
  o.bos = -1;
  const auto plain = arx::perplexity(m, text, o);
  CHECK(plain.ppl != r.ppl);
  CHECK(plain.ppl == Approx(by_hand(f, text, 16, -1, 3).ppl).epsilon(1e-5));

  // batches of 5 tokens: bit-identical (the forward is batch-invariant); --chunks 2
  o.bos = 1;
  o.n_batch = 5;
  const auto small = arx::perplexity(m, text, o);
  CHECK(small.ppl == r.ppl);
  o.max_chunks = 2;
  const auto two = arx::perplexity(m, text, o);
  CHECK(two.n_chunks == 2);
  CHECK(two.running.back() == r.running[1]);
}

TEST_CASE("perplexity rejects bad arguments", "[eval][perplexity]") {
  tiny::params p;
  const arx::transformer<float> m(arx::llama_weights::from_file(tiny::build(p)));
  auto text = tiny::tokens(40, p.n_vocab, 5);
  arx::perplexity_options o;
  o.n_ctx = 32;  // 40 < 64 tokens
  CHECK_THROWS_WITH(arx::perplexity(m, text, o), Catch::Contains("at least 64"));
  o.n_ctx = 1;
  CHECK_THROWS_AS(arx::perplexity(m, text, o), arx::invalid_argument);
  o.n_ctx = 8;
  o.max_chunks = 0;
  CHECK_THROWS_AS(arx::perplexity(m, text, o), arx::invalid_argument);
  o.max_chunks = -1;
  o.bos = std::int32_t(p.n_vocab);
  CHECK_THROWS_AS(arx::perplexity(m, text, o), arx::invalid_argument);
  o.bos = -1;
  text[7] = -3;
  CHECK_THROWS_WITH(arx::perplexity(m, text, o), Catch::Contains("token 7"));
}
