// Greedy speculative decoding equals plain greedy decoding token for token on the reference
// models (../shared/reference, read in place), for every drafter, γ = 1..8, 1 and 2 threads:
//   * stories260K (trained): the decoder reproduces llama.cpp's greedy_ids of every golden case;
//     drafters: tiny-q.q8_0 (a different model with the same 512-token vocabulary),
//     self-speculation (layer 2 skipped; MLP blocks of layers 0 and 1 skipped), prompt lookup,
//     draft trees (from tiny-q.q8_0 and from the model with layer 2 skipped);
//   * tiny-q.f32, tiny-q.q8_0 and tiny-llama-gqa (random weights, llama.cpp's free-running text is
//     not comparable there, see the README): the decoder reproduces arx's own plain greedy
//     decoding; drafters: the other tiny-q file (tiny-llama-gqa: itself), self-speculation,
//     prompt lookup, draft trees.
#include <catch2/catch.hpp>

#include "test_size.hpp"

#include <arx/core/thread_pool.hpp>
#include <arx/decoding/speculative.hpp>
#include <arx/decoding/speculative_batch.hpp>
#include <arx/decoding/tree_drafter.hpp>
#include <arx/model/transformer.hpp>
#include <arx/sampling/chain.hpp>
#include <arx/sampling/truncation.hpp>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "reference/golden_cases.hpp"
#include "reference/reference.hpp"
#include "unit/decoding/plain_greedy.hpp"

namespace {

using tokens_t = std::vector<arx::token_id>;
using model_t = arx::transformer<float>;

model_t load(const std::string& file) {
  return model_t::load((arx_test::reference_dir() / "models" / file).string());
}

template <class Drafter>
tokens_t speculative_greedy(const model_t& target, Drafter d, const tokens_t& prompt,
                            std::int64_t n, int gamma, arx::thread_pool& pool,
                            arx::speculative_stats& st) {
  arx::sampler_chain greedy;
  greedy.add(arx::temperature{0.0f});
  arx::speculative_params sp;
  sp.draft_max = gamma;
  arx::speculative_decoder dec(target, greedy, std::move(d), sp, 1);
  auto seq = target.new_sequence(512);
  seq.set_thread_pool(&pool);
  const auto res = dec.generate(seq, prompt, n, [](arx::token_id) {});
  st = dec.stats();
  return res.tokens;
}

/// Runs every drafter for γ = 1..8 and threads 1, 2 and checks the output equals `expect`.
/// Returns the draft tokens accepted from the draft model and from the layer-skipping drafters.
std::pair<std::int64_t, std::int64_t> check_all_drafters(
    const model_t& target, const model_t& draft, const tokens_t& prompt, const tokens_t& expect,
    std::int64_t skip_layer, std::vector<std::int64_t> skip_ffn) {
  const auto n = std::int64_t(expect.size());
  std::int64_t model_accepted = 0, skip_accepted = 0;
  for (int threads : {1, 2}) {
    arx::thread_pool pool(threads);
    for (const int gamma : arx_test::draft_lengths()) {
      INFO("threads " << threads << ", gamma " << gamma);
      arx::speculative_stats st;
      CHECK(speculative_greedy(target, arx::model_drafter<>(draft, 512, &pool), prompt, n, gamma,
                               pool, st) == expect);
      model_accepted += st.accepted;
      CHECK(speculative_greedy(
                target, arx::model_drafter<>::self_skip(target, {skip_layer}, {}, 512, &pool),
                prompt, n, gamma, pool, st) == expect);
      skip_accepted += st.accepted;
      CHECK(speculative_greedy(target,
                               arx::model_drafter<>::self_skip(target, {}, skip_ffn, 512, &pool),
                               prompt, n, gamma, pool, st) == expect);
      CHECK(speculative_greedy(target, arx::lookup_drafter(3, 1), prompt, n, gamma, pool, st) ==
            expect);
      CHECK(speculative_greedy(target, arx::tree_drafter<>(draft, {3, 4}, 512, &pool), prompt, n,
                               gamma, pool, st) == expect);
      CHECK(speculative_greedy(target,
                               arx::tree_drafter<>(target, {2, 6}, 512, &pool, {skip_layer}),
                               prompt, n, gamma, pool, st) == expect);
      skip_accepted += st.accepted;
    }
  }
  return {model_accepted, skip_accepted};
}

}  // namespace

TEST_CASE("speculative greedy reproduces llama.cpp's greedy ids on stories260K",
          "[speculative][golden]") {
  const model_t target = load("stories260K.gguf");
  const model_t draft = load("tiny-q.q8_0.gguf");
  const auto cases = arx_test::golden_cases("stories260K");
  REQUIRE(!cases.empty());
  for (const auto& c : cases) {
    INFO(c.file);
    REQUIRE(!c.greedy.empty());
    // (tiny-q's random weights do not predict stories; skipping a layer of the model itself does)
    CHECK(check_all_drafters(target, draft, c.prompt, c.greedy, 2, {0, 1}).second > 0);
  }
}

TEST_CASE("batched speculative greedy reproduces llama.cpp's greedy ids of every stories260K case",
          "[speculative][golden][batch]") {
  const model_t target = load("stories260K.gguf");
  const auto cases = arx_test::golden_cases("stories260K");
  REQUIRE(!cases.empty());
  std::vector<tokens_t> prompts, expect;
  for (const auto& c : cases) {
    prompts.push_back(c.prompt);
    expect.push_back(c.greedy);
  }
  const auto n = std::int64_t(expect[0].size());
  for (int threads : {1, 2}) {
    arx::thread_pool pool(threads);
    for (const int gamma : arx_test::draft_lengths()) {
      INFO("threads " << threads << ", gamma " << gamma);
      arx::sampler_chain greedy;
      greedy.add(arx::temperature{0.0f});
      arx::speculative_params sp;
      sp.draft_max = gamma;
      std::vector<arx::model_drafter<>> drafters;
      for (std::size_t i = 0; i < prompts.size(); ++i)
        drafters.push_back(arx::model_drafter<>::self_skip(target, {2}, {}, 512, &pool));
      arx::speculative_batch_decoder dec(target, greedy, std::move(drafters), sp, 1);
      std::vector<arx::sequence<float>> seqs;
      for (std::size_t i = 0; i < prompts.size(); ++i) {
        seqs.push_back(target.new_sequence(512));
        seqs.back().set_thread_pool(&pool);
      }
      const auto res = dec.generate(std::span(seqs), std::span<const tokens_t>(prompts), n,
                                    [](std::size_t, arx::token_id) {});
      for (std::size_t i = 0; i < prompts.size(); ++i) CHECK(res[i].tokens == expect[i]);
    }
  }
}

TEST_CASE("speculative greedy equals plain greedy on the tiny reference models",
          "[speculative][golden]") {
  const model_t f32 = load("tiny-q.f32.gguf"), q8 = load("tiny-q.q8_0.gguf");
  const tokens_t prompt = {1, 450, 4996, 17354, 1701, 3096, 975, 278, 17366, 11203};
  const model_t gqa = load("tiny-llama-gqa.f32.gguf");  // 32000 tokens: its own draft model
  for (const auto& [target, draft, name] :
       {std::tuple{&f32, &q8, "tiny-q.f32 (draft q8_0)"},
        std::tuple{&q8, &f32, "tiny-q.q8_0 (draft f32)"},
        std::tuple{&gqa, &gqa, "tiny-llama-gqa (drafting for itself)"}}) {
    INFO(name);
    tokens_t p = prompt;
    for (auto& t : p) t %= arx::token_id(target->config().n_vocab);
    // (fewer tokens for the 32000-token vocabulary: each round handles whole-vocabulary rows)
    const tokens_t expect = arx_test::plain_greedy(*target, p, target == &gqa ? 12 : 40);
    CHECK(check_all_drafters(*target, *draft, p, expect, 1, {0}).first > 0);
  }
}
