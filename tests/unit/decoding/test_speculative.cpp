// The speculative decoder (arx/decoding/speculative.hpp) on real (tiny, writer-built) models:
// - greedy speculative decoding equals plain greedy decoding token for token, for every drafter
//   (a second model, self-speculation with a layer or an MLP block skipped, draft trees from a
//   second model and from the model with a layer skipped, prompt lookup),
//   γ = 1..8, fixed and adaptive γ, 1 and 2 threads; also when the context fills or EOS stops it;
// - sampling (draft model, draft tree, prompt lookup): the first three emitted tokens follow the
//   target's exact joint distribution (computed here from fresh forwards and an independent
//   softmax) by a chi-square test, and a drafter that reports the wrong q fails that same test;
// - the KV rollback leaves the target's sequence holding exactly the history but the last token;
// - bad input is refused with typed errors.
#include <catch2/catch.hpp>

#include "test_size.hpp"

#include <arx/core/thread_pool.hpp>
#include <arx/decoding/speculative.hpp>
#include <arx/decoding/speculative_batch.hpp>
#include <arx/decoding/tree_drafter.hpp>
#include <arx/model/transformer.hpp>
#include <arx/sampling/chain.hpp>
#include <arx/sampling/mirostat.hpp>
#include <arx/sampling/truncation.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "../model/tiny_llama.hpp"
#include "../sampling/chi_square.hpp"

namespace {

using model_t = arx::transformer<float>;
using tokens_t = std::vector<arx::token_id>;

model_t make(std::uint64_t seed, std::int64_t n_vocab = 96, std::int64_t n_ctx = 128) {
  tiny::params p;
  p.seed = seed;
  p.n_vocab = n_vocab;
  p.n_ctx = n_ctx;
  p.n_layer = 3;
  return model_t(arx::llama_weights::from_file(tiny::build(p)));
}

arx::token_id argmax(std::span<const float> row) {
  return arx::token_id(std::max_element(row.begin(), row.end()) - row.begin());  // first max
}

/// Plain greedy: the prompt in one forward, then one token per forward.
tokens_t plain_greedy(const model_t& m, const tokens_t& prompt, std::size_t n,
                      std::int64_t capacity = 0) {
  auto seq = m.new_sequence(capacity);
  tokens_t out;
  auto r = m.forward(seq, prompt);
  for (;;) {
    out.push_back(argmax(r.logits.row(0)));
    if (out.size() == n || seq.size() == seq.capacity()) return out;
    r = m.forward(seq, std::span(&out.back(), 1));
  }
}

arx::sampler_chain greedy_chain() {
  arx::sampler_chain s;
  s.add(arx::temperature{0.0f});
  return s;
}

/// A prompt with a repeated stretch, so prompt lookup finds n-grams.
tokens_t prompt_with_repeats(std::int64_t n_vocab) {
  tokens_t p = tiny::tokens(10, n_vocab, 7);
  const tokens_t again(p.begin() + 2, p.begin() + 8);
  p.insert(p.end(), again.begin(), again.end());
  return p;
}

template <class Drafter>
tokens_t speculative_greedy(const model_t& target, Drafter d, const tokens_t& prompt,
                            std::int64_t n, arx::speculative_params sp, arx::thread_pool* pool,
                            arx::speculative_stats* stats = nullptr, std::int64_t capacity = 0,
                            arx::token_id eos = -1,
                            arx::speculative_stop* reason = nullptr) {
  arx::speculative_decoder dec(target, greedy_chain(), std::move(d), sp, 1);
  auto seq = target.new_sequence(capacity);
  seq.set_thread_pool(pool);
  tokens_t seen;
  const auto res = dec.generate(seq, prompt, n, [&](arx::token_id t) { seen.push_back(t); }, eos);
  CHECK(seen == res.tokens);
  // rollback: the target holds the prompt and every emitted token but the last
  CHECK(seq.size() == std::int64_t(prompt.size() + res.tokens.size()) - 1);
  if (stats) *stats = dec.stats();
  if (reason) *reason = res.reason;
  return res.tokens;
}

}  // namespace

TEST_CASE("speculative greedy equals plain greedy for every drafter, gamma and thread count",
          "[speculative][decoder]") {
  const model_t target = make(1);
  const model_t other = make(2);
  const tokens_t prompt = prompt_with_repeats(96);
  const std::int64_t n = 40;
  const tokens_t expect = plain_greedy(target, prompt, std::size_t(n));
  std::int64_t drafted = 0, accepted = 0, tree_accepted = 0;
  for (int threads : {1, 2}) {
    arx::thread_pool pool(threads);
    for (const int gamma : arx_test::draft_lengths()) {
      for (bool adaptive : {false, true}) {
        arx::speculative_params sp;
        sp.draft_max = gamma;
        sp.adaptive = adaptive;
        INFO("threads " << threads << ", gamma " << gamma << ", adaptive " << adaptive);
        arx::speculative_stats st;
        {
          INFO("draft model");
          CHECK(speculative_greedy(target, arx::model_drafter<>(other, 0, &pool), prompt, n, sp,
                                   &pool, &st) == expect);
          CHECK(st.drafted > 0);
          CHECK(st.emitted == n);
        }
        {
          INFO("self-speculation, layer 1 skipped");
          CHECK(speculative_greedy(target,
                                   arx::model_drafter<>::self_skip(target, {1}, {}, 0, &pool),
                                   prompt, n, sp, &pool, &st) == expect);
          CHECK(st.drafted > 0);
          drafted += st.drafted;
          accepted += st.accepted;
        }
        {
          INFO("self-speculation, MLP of layers 0 and 2 skipped");
          CHECK(speculative_greedy(target,
                                   arx::model_drafter<>::self_skip(target, {}, {0, 2}, 0, &pool),
                                   prompt, n, sp, &pool, &st) == expect);
        }
        {
          INFO("draft tree from the other model (gamma nodes, 3 per level)");
          CHECK(speculative_greedy(target,
                                   arx::tree_drafter<>(other, arx::tree_shape{3, 4}, 0, &pool),
                                   prompt, n, sp, &pool, &st) == expect);
          CHECK(st.drafted > 0);
        }
        {
          INFO("draft tree from the model with layer 1 skipped");
          CHECK(speculative_greedy(
                    target, arx::tree_drafter<>(target, arx::tree_shape{2, 8}, 0, &pool, {1}),
                    prompt, n, sp, &pool, &st) == expect);
          tree_accepted += st.accepted;
        }
        {
          INFO("prompt lookup");
          CHECK(speculative_greedy(target, arx::lookup_drafter(3, 1), prompt, n, sp, &pool, &st) ==
                expect);
          CHECK(st.drafted > 0);
        }
      }
    }
  }
  // the skipped-layer drafter is close enough to the model to be right some of the time
  CHECK(accepted > 0);
  CHECK(accepted < drafted);
  CHECK(tree_accepted > 0);
}

TEST_CASE("speculative greedy stops like plain greedy at a full context and at EOS",
          "[speculative][decoder]") {
  const model_t target = make(1);
  const tokens_t prompt = prompt_with_repeats(96);
  arx::thread_pool pool(1);
  arx::speculative_params sp;
  sp.draft_max = 5;
  const std::int64_t capacity = std::int64_t(prompt.size()) + 9;
  const tokens_t full = plain_greedy(target, prompt, 1000, capacity);
  REQUIRE(full.size() == 10);  // the last token is emitted, not evaluated
  arx::speculative_stop why{};
  CHECK(speculative_greedy(target, arx::model_drafter<>(make(2)), prompt, 1000, sp, &pool,
                           nullptr, capacity, -1, &why) == full);
  CHECK(why == arx::speculative_stop::context_full);

  const tokens_t expect = plain_greedy(target, prompt, 30);
  const arx::token_id eos = expect[17];
  const auto stop_at = std::size_t(std::find(expect.begin(), expect.end(), eos) - expect.begin());
  const tokens_t until(expect.begin(), expect.begin() + std::ptrdiff_t(stop_at) + 1);
  CHECK(speculative_greedy(target, arx::model_drafter<>(make(2)), prompt, 30, sp, &pool, nullptr,
                           0, eos, &why) == until);
  CHECK(why == arx::speculative_stop::eos);
}

TEST_CASE("a decoder continues a sequence across generate calls", "[speculative][decoder]") {
  const model_t target = make(1);
  const tokens_t prompt = prompt_with_repeats(96);
  const tokens_t expect = plain_greedy(target, prompt, 24);
  arx::speculative_params sp;
  sp.draft_max = 4;
  arx::speculative_decoder dec(target, greedy_chain(), arx::model_drafter<>(make(2)), sp, 3);
  auto seq = target.new_sequence();
  const auto a = dec.generate(seq, prompt, 12, [](arx::token_id) {});
  // the next call's prompt is the last emitted token (the one the sequence does not hold yet)
  const auto b = dec.generate(seq, std::span(&a.tokens.back(), 1), 12, [](arx::token_id) {});
  tokens_t both = a.tokens;
  both.insert(both.end(), b.tokens.begin(), b.tokens.end());
  CHECK(both == expect);
  CHECK(dec.stats().emitted == 24);
  CHECK(dec.stats().emitted ==
        dec.stats().accepted + dec.stats().target_calls);  // no round cut short here
}

namespace {

/// Wraps a drafter and reports uniform q rows instead of the ones it drew from: breaks exactness.
template <class D>
struct lying_drafter {
  D inner;
  void propose(std::span<const arx::token_id> h, int gamma, arx::draft_sampler& s, arx::rng& g,
               arx::draft_block& out) {
    inner.propose(h, gamma, s, g, out);
    std::fill(out.q.begin(), out.q.end(), 1.0f / float(s.n_vocab));
  }
};

constexpr std::int64_t small_v = 8;

/// The exact joint of the first three tokens after `prompt` under `proc` (a closed form of the
/// sampler applied to logits), from fresh forwards of the target. [V^3]
template <class Proc>
std::vector<double> exact_joint(const model_t& m, const tokens_t& prompt, const Proc& proc) {
  const auto next = [&](const tokens_t& ctx) {
    auto seq = m.new_sequence();
    const auto r = m.forward(seq, ctx);
    return proc(r.logits.row(0));
  };
  std::vector<double> joint(std::size_t(small_v * small_v * small_v), 0.0);
  const auto p1 = next(prompt);
  for (std::int64_t a = 0; a < small_v; ++a) {
    if (p1[std::size_t(a)] == 0.0) continue;
    tokens_t c1 = prompt;
    c1.push_back(arx::token_id(a));
    const auto p2 = next(c1);
    for (std::int64_t b = 0; b < small_v; ++b) {
      if (p2[std::size_t(b)] == 0.0) continue;
      tokens_t c2 = c1;
      c2.push_back(arx::token_id(b));
      const auto p3 = next(c2);
      for (std::int64_t c = 0; c < small_v; ++c)
        joint[std::size_t((a * small_v + b) * small_v + c)] =
            p1[std::size_t(a)] * p2[std::size_t(b)] * p3[std::size_t(c)];
    }
  }
  return joint;
}

/// counts of the first three emitted tokens over `runs` generate calls of one decoder.
template <class Dec>
std::vector<std::int64_t> joint_counts(Dec& dec, const model_t& target, const tokens_t& prompt,
                                       std::int64_t runs) {
  std::vector<std::int64_t> counts(std::size_t(small_v * small_v * small_v), 0);
  auto seq = target.new_sequence();
  for (std::int64_t i = 0; i < runs; ++i) {
    seq.clear();
    const auto r = dec.generate(seq, prompt, 3, [](arx::token_id) {});
    REQUIRE(r.tokens.size() == 3);
    ++counts[std::size_t((r.tokens[0] * small_v + r.tokens[1]) * small_v + r.tokens[2])];
  }
  return counts;
}

std::vector<double> softmax_t(std::span<const float> logits, double t, std::size_t top_k) {
  std::vector<std::size_t> order(logits.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return logits[a] > logits[b]; });
  std::vector<float> z(logits.size(), -std::numeric_limits<float>::infinity());
  for (std::size_t j = 0; j < top_k && j < order.size(); ++j)
    z[order[j]] = float(double(logits[order[j]]) / t);
  return sampling_test::softmax_double(z);
}

}  // namespace

TEST_CASE("speculative sampling from real models follows the target's exact joint distribution",
          "[speculative][decoder][chi2]") {
  const model_t target = make(11, small_v);
  const model_t draft = make(12, small_v);
  const tokens_t prompt = {1, 5, 2, 5, 2};
  const std::int64_t runs = arx_test::sized(3000);

  struct config {
    const char* name;
    double t;
    std::size_t k;
  };
  for (const config c :
       {config{"temperature 1", 1.0, small_v}, config{"top_k 3, temperature 0.7", 0.7, 3}}) {
    arx::sampler_chain s;
    if (c.k < std::size_t(small_v)) s.add(arx::top_k{int(c.k)});
    s.add(arx::temperature{float(c.t)});
    const auto joint = exact_joint(target, prompt, [&](std::span<const float> l) {
      return softmax_t(l, c.t, c.k);
    });
    for (int gamma : {1, 3}) {
      INFO(c.name << ", gamma " << gamma);
      arx::speculative_params sp;
      sp.draft_max = gamma;
      {
        arx::speculative_decoder dec(target, s, arx::model_drafter<>(draft), sp, 100 + gamma);
        const auto counts = joint_counts(dec, target, prompt, runs);
        const double pv = sampling_test::chi_square_p_value(counts, joint, runs);
        INFO("draft model: p = " << pv << ", acceptance " << dec.stats().acceptance_rate());
        CHECK(pv > 1e-6);
        CHECK(dec.stats().accepted > 0);
      }
      if (gamma == 3) {  // (trees and lookup at one draft length: the test's time is in CI x5)
        arx::speculative_decoder dec(target, s, arx::tree_drafter<>(draft, arx::tree_shape{2, 3}),
                                     sp, 400 + gamma);
        const auto counts = joint_counts(dec, target, prompt, runs);
        const double pv = sampling_test::chi_square_p_value(counts, joint, runs);
        INFO("draft tree: p = " << pv << ", acceptance " << dec.stats().acceptance_rate());
        CHECK(pv > 1e-6);
        CHECK(dec.stats().accepted > 0);
      }
      if (gamma == 3) {
        arx::speculative_decoder dec(target, s, arx::lookup_drafter(2, 1), sp, 200 + gamma);
        const auto counts = joint_counts(dec, target, prompt, runs);
        const double pv = sampling_test::chi_square_p_value(counts, joint, runs);
        INFO("prompt lookup: p = " << pv);
        CHECK(pv > 1e-6);
      }
    }
    // the same test catches a drafter whose q rows are not the ones it drew from
    {
      arx::speculative_params sp;
      sp.draft_max = 3;
      arx::speculative_decoder dec(
          target, s, lying_drafter<arx::model_drafter<>>{arx::model_drafter<>(draft)}, sp, 300);
      const auto counts = joint_counts(dec, target, prompt, runs);
      const double pv = sampling_test::chi_square_p_value(counts, joint, runs);
      INFO(c.name << ", lying drafter: p = " << pv);
      CHECK(pv < 1e-6);
    }
  }
}

TEST_CASE("speculative decoding refuses bad input with typed errors", "[speculative][decoder]") {
  const model_t target = make(1);
  const tokens_t prompt = {1, 2, 3};
  SECTION("vocabularies of different sizes") {
    try {
      arx::speculative_decoder dec(target, greedy_chain(), arx::model_drafter<>(make(2, 97)));
      FAIL("no error");
    } catch (const arx::invalid_argument& e) {
      CHECK_THAT(e.what(), Catch::Contains("97 tokens") && Catch::Contains("96"));
    }
  }
  SECTION("a stateful sampler") {
    arx::sampler_chain s;
    s.add(arx::mirostat_v2{5.0f, 0.1f});
    CHECK_THROWS_AS(arx::speculative_decoder(target, s, arx::lookup_drafter()),
                    arx::invalid_argument);
  }
  SECTION("draft lengths and bounds") {
    arx::speculative_params sp;
    sp.draft_min = 4;
    sp.draft_max = 2;
    CHECK_THROWS_AS(arx::speculative_decoder(target, greedy_chain(), arx::lookup_drafter(), sp),
                    arx::invalid_argument);
    sp = {};
    sp.draft_p_min = 1.5f;
    CHECK_THROWS_AS(arx::speculative_decoder(target, greedy_chain(), arx::lookup_drafter(), sp),
                    arx::invalid_argument);
  }
  SECTION("layers to skip") {
    CHECK_THROWS_AS(arx::model_drafter<>::self_skip(target, {3}), arx::invalid_argument);
    CHECK_THROWS_AS(arx::model_drafter<>::self_skip(target, {0, 1, 2}), arx::invalid_argument);
    auto seq = target.new_sequence();
    const std::vector<std::int64_t> bad = {-1};
    CHECK_THROWS_AS(target.forward(seq, prompt, arx::forward_request{arx::rows::last,
                                                                     arx::rows::none, bad}),
                    arx::invalid_argument);
    CHECK(seq.size() == 0);
  }
  SECTION("generate's arguments") {
    arx::speculative_decoder dec(target, greedy_chain(), arx::lookup_drafter());
    auto seq = target.new_sequence(8);
    CHECK_THROWS_AS(dec.generate(seq, tokens_t{}, 4, [](arx::token_id) {}), arx::invalid_argument);
    CHECK_THROWS_AS(dec.generate(seq, prompt, 0, [](arx::token_id) {}), arx::invalid_argument);
    const tokens_t long_prompt(12, 1);
    CHECK_THROWS_AS(dec.generate(seq, long_prompt, 4, [](arx::token_id) {}), arx::context_error);
    const tokens_t bad_id = {1, 96};
    CHECK_THROWS_AS(dec.generate(seq, bad_id, 4, [](arx::token_id) {}), arx::invalid_argument);
  }
}

TEST_CASE("batched speculative greedy: every sequence is its plain greedy continuation",
          "[speculative][decoder][batch]") {
  const model_t target = make(1);
  const model_t other = make(2);
  std::vector<tokens_t> prompts = {prompt_with_repeats(96), tiny::tokens(3, 96, 21), {5}};
  std::vector<tokens_t> expect;
  for (const auto& p : prompts) expect.push_back(plain_greedy(target, p, 30));
  for (int threads : {1, 2}) {
    arx::thread_pool pool(threads);
    for (int gamma = 1; gamma <= 5; ++gamma) {
      INFO("threads " << threads << ", gamma " << gamma);
      arx::speculative_params sp;
      sp.draft_max = gamma;
      sp.adaptive = gamma % 2 == 0;
      const auto run = [&](auto drafters, const char* what) {
        INFO(what);
        arx::speculative_batch_decoder dec(target, greedy_chain(), std::move(drafters), sp, 5);
        std::vector<arx::sequence<float>> seqs;
        for (std::size_t i = 0; i < prompts.size(); ++i) {
          seqs.push_back(target.new_sequence());
          seqs.back().set_thread_pool(&pool);
        }
        std::vector<tokens_t> seen(prompts.size());
        const auto res =
            dec.generate(std::span(seqs), std::span<const tokens_t>(prompts), 30,
                         [&](std::size_t i, arx::token_id t) { seen[i].push_back(t); });
        for (std::size_t i = 0; i < prompts.size(); ++i) {
          CHECK(res[i].tokens == expect[i]);
          CHECK(seen[i] == expect[i]);
          CHECK(seqs[i].size() == std::int64_t(prompts[i].size() + expect[i].size()) - 1);
        }
        CHECK(dec.stats().emitted == 90);
        return dec.stats();
      };
      std::vector<arx::model_drafter<>> models, skips;
      std::vector<arx::lookup_drafter> lookups(3, arx::lookup_drafter(3, 1));
      for (int i = 0; i < 3; ++i) {
        models.emplace_back(other, 0, &pool);
        skips.push_back(arx::model_drafter<>::self_skip(target, {1}, {}, 0, &pool));
      }
      const auto st = run(std::move(models), "draft model");
      CHECK(st.target_calls < 90);  // the three sequences share each target forward
      (void)run(std::move(skips), "self-speculation");
      (void)run(std::move(lookups), "prompt lookup");
    }
  }
}

TEST_CASE("batched speculative sampling: a sequence's output does not depend on its batch",
          "[speculative][decoder][batch]") {
  const model_t target = make(11, small_v);
  const model_t draft = make(12, small_v);
  arx::sampler_chain s;
  s.add(arx::top_k{4});
  s.add(arx::temperature{0.9f});
  const std::vector<tokens_t> prompts = {{1, 5, 2, 5, 2}, {3, 3}, {7}};
  arx::speculative_params sp;
  sp.draft_max = 3;
  const auto run = [&](std::size_t n_seqs) {
    std::vector<arx::model_drafter<>> d;
    for (std::size_t i = 0; i < n_seqs; ++i) d.emplace_back(draft);
    arx::speculative_batch_decoder dec(target, s, std::move(d), sp, 77);
    std::vector<arx::sequence<float>> seqs;
    for (std::size_t i = 0; i < n_seqs; ++i) seqs.push_back(target.new_sequence());
    const auto res = dec.generate(std::span(seqs), std::span(prompts).first(n_seqs), 40,
                                  [](std::size_t, arx::token_id) {});
    std::vector<tokens_t> out;
    for (const auto& r : res) out.push_back(r.tokens);
    return out;
  };
  const auto alone = run(1), pair = run(2), three = run(3);
  CHECK(alone[0] == pair[0]);
  CHECK(alone[0] == three[0]);
  CHECK(pair[1] == three[1]);
  CHECK(three[0] != three[1]);
}

TEST_CASE("batched speculative sampling follows the exact joint distribution",
          "[speculative][decoder][batch][chi2]") {
  const model_t target = make(11, small_v);
  const model_t draft = make(12, small_v);
  arx::sampler_chain s;
  s.add(arx::temperature{1.0f});
  const tokens_t prompt = {1, 5, 2, 5, 2};
  const auto joint = exact_joint(target, prompt, [](std::span<const float> l) {
    return softmax_t(l, 1.0, small_v);
  });
  arx::speculative_params sp;
  sp.draft_max = 2;
  std::vector<arx::model_drafter<>> d;
  for (int i = 0; i < 2; ++i) d.emplace_back(draft);
  arx::speculative_batch_decoder dec(target, s, std::move(d), sp, 9);
  const std::vector<tokens_t> prompts = {prompt, prompt};
  std::vector<std::int64_t> counts(std::size_t(small_v * small_v * small_v), 0);
  const std::int64_t runs = arx_test::sized(2000);  // two sequences each
  for (std::int64_t r = 0; r < runs; ++r) {
    std::vector<arx::sequence<float>> seqs;
    seqs.push_back(target.new_sequence());
    seqs.push_back(target.new_sequence());
    const auto res = dec.generate(std::span(seqs), std::span<const tokens_t>(prompts), 3,
                                  [](std::size_t, arx::token_id) {});
    for (const auto& x : res)
      ++counts[std::size_t((x.tokens[0] * small_v + x.tokens[1]) * small_v + x.tokens[2])];
  }
  const double pv = sampling_test::chi_square_p_value(counts, joint, 2 * runs);
  INFO("p = " << pv);
  CHECK(pv > 1e-6);
}

TEST_CASE("tree_drafter's min_gain stops growing trees that add little", "[speculative][decoder]") {
  const model_t target = make(1);
  const model_t other = make(2);
  const tokens_t prompt = prompt_with_repeats(96);
  const tokens_t expect = plain_greedy(target, prompt, 24);
  arx::speculative_params sp;
  sp.draft_max = 12;
  arx::thread_pool pool(1);
  std::vector<std::int64_t> drafted;
  for (double gain : {0.0, 0.5, 100.0}) {
    INFO("min_gain " << gain);
    arx::speculative_stats st;
    CHECK(speculative_greedy(target, arx::tree_drafter<>(other, arx::tree_shape{3, 4, gain}),
                             prompt, 24, sp, &pool, &st) == expect);
    drafted.push_back(st.drafted);
  }
  CHECK(drafted[0] > drafted[1]);  // a level adding < 0.5 expected tokens is not drafted
  CHECK(drafted[2] == 0);          // no level adds 100 tokens
}

TEST_CASE("draft_p_min stops a model drafter when the draft model is unsure",
          "[speculative][decoder]") {
  const model_t target = make(1);
  const model_t other = make(2);
  const tokens_t prompt = prompt_with_repeats(96);
  const tokens_t expect = plain_greedy(target, prompt, 24);
  arx::thread_pool pool(1);
  std::vector<std::int64_t> drafted;
  for (float p_min : {0.0f, 0.2f, 1.0f}) {
    INFO("draft_p_min " << p_min);
    arx::speculative_params sp;
    sp.draft_max = 6;
    sp.draft_p_min = p_min;
    arx::speculative_stats st;
    CHECK(speculative_greedy(target, arx::model_drafter<>(other), prompt, 24, sp, &pool, &st) ==
          expect);
    drafted.push_back(st.drafted);
  }
  CHECK(drafted[0] > drafted[1]);  // (greedy q is one-hot: the bound reads the raw softmax)
  CHECK(drafted[2] == 0);          // no softmax over 96 tokens reaches 1
}
