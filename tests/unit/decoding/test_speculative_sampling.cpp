// Speculative sampling's acceptance step (arx/decoding/speculative_sampling.hpp) against the exact
// distribution it must reproduce (../shared/ALGORITHMS.md §1):
// - on a toy model with |V| = 6 whose next-token logits depend on the last two tokens, the first
//   three emitted tokens follow the target's exact joint distribution (all 216 cells enumerated) by
//   a chi-square test, for γ ∈ {1, 3, 5}, drafts {random, q = p, disjoint support, one-hot},
//   temperatures {0.7, 1.0}, with and without top-k/top-p;
// - the same test rejects three broken variants (residual drawn from p, argmax draft accepted
//   against q, bonus drawn from the wrong row);
// - with context-independent p and q, tokens per round = (1 − α^{γ+1}) / (1 − α) within 4σ;
// - q = p accepts everything; one-hot p and q give greedy; bad input is refused.
#include <catch2/catch.hpp>

#include <arx/decoding/speculative_sampling.hpp>
#include <arx/sampling/chain.hpp>
#include <arx/sampling/truncation.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "../sampling/chi_square.hpp"
#include "toy_model.hpp"

namespace {

using namespace toy_test;

using verifier = std::function<arx::speculative_verdict(
    arx::tensor_view<const float>, arx::tensor_view<const float>, std::span<const arx::token_id>,
    arx::rng&)>;

enum class drafting { sample, argmax };

/// Runs rounds of γ from the start context until three tokens are emitted; returns them as a
/// cell index. `rounds`/`emitted` accumulate the per-round statistics.
int emit_three(const toy& t, int gamma, arx::rng& g, const verifier& verify, drafting how,
               std::int64_t* rounds = nullptr, std::int64_t* emitted = nullptr) {
  std::vector<arx::token_id> seq{start0, start1};
  std::vector<float> P(std::size_t((gamma + 1) * V)), Q(std::size_t(std::max(gamma, 1) * V));
  std::vector<arx::token_id> drafted;
  while (seq.size() < 5) {
    drafted.clear();
    arx::token_id a = seq[seq.size() - 2], b = seq.back();
    for (int i = 0; i < gamma; ++i) {
      const auto& q = t.q[std::size_t(ctx(a, b))];
      std::copy(q.begin(), q.end(), Q.begin() + i * V);
      arx::token_id x;
      if (how == drafting::argmax)
        x = arx::token_id(std::max_element(q.begin(), q.end()) - q.begin());
      else
        x = arx::draw_from(q, g);
      drafted.push_back(x);
      a = b;
      b = x;
    }
    a = seq[seq.size() - 2];
    b = seq.back();
    for (int i = 0; i <= gamma; ++i) {
      const auto& p = t.p[std::size_t(ctx(a, b))];
      std::copy(p.begin(), p.end(), P.begin() + i * V);
      if (i < gamma) {
        a = b;
        b = drafted[std::size_t(i)];
      }
    }
    const auto v = verify(arx::tensor_view<const float>(P.data(), {gamma + 1, V}),
                          arx::tensor_view<const float>(Q.data(), {gamma, V}), drafted, g);
    for (std::int64_t i = 0; i < v.accepted; ++i) seq.push_back(drafted[std::size_t(i)]);
    seq.push_back(v.next);
    if (rounds) ++*rounds;
    if (emitted) *emitted += v.accepted + 1;
  }
  return (int(seq[2]) * V + int(seq[3])) * V + int(seq[4]);
}

double joint_p_value(const toy& t, int gamma, std::uint64_t seed, std::int64_t runs,
                     const verifier& verify, drafting how = drafting::sample) {
  arx::rng g(seed);
  std::vector<std::int64_t> counts(V * V * V);
  for (std::int64_t r = 0; r < runs; ++r)
    ++counts[std::size_t(emit_three(t, gamma, g, verify, how))];
  const auto expected = exact_joint(t);
  return sampling_test::chi_square_p_value(counts, expected, runs);
}

const verifier correct = [](auto p, auto q, auto d, arx::rng& g) {
  return arx::verify_draft(p, q, d, g);
};

constexpr std::int64_t runs = 20000;

}  // namespace

TEST_CASE("speculative sampling emits the target's exact joint distribution",
          "[decoding][speculative]") {
  std::uint64_t seed = 100;
  for (draft_kind kind :
       {draft_kind::random, draft_kind::same, draft_kind::disjoint, draft_kind::one_hot})
    for (float temp : {0.7f, 1.0f})
      for (bool truncate : {false, true}) {
        const toy t = make_toy(kind, temp, truncate);
        for (int gamma : {1, 3, 5}) {
          INFO("draft " << name(kind) << ", temperature " << temp
                        << (truncate ? ", top_k(3) -> top_p(0.9)" : "") << ", gamma " << gamma);
          CHECK(joint_p_value(t, gamma, ++seed, runs, correct) > 1e-6);
        }
      }
}

TEST_CASE("the joint test rejects broken speculative samplers", "[decoding][speculative]") {
  const toy t = make_toy(draft_kind::random, 1.0f, false);
  SECTION("the residual drawn from p instead of norm(max(0, p - q))") {
    const verifier broken = [](auto p, auto q, auto d, arx::rng& g) {
      auto v = arx::verify_draft(p, q, d, g);
      if (!v.bonus) v.next = arx::draw_from(p.row(v.accepted), g);
      return v;
    };
    CHECK(joint_p_value(t, 3, 7, runs, correct) > 1e-6);
    CHECK(joint_p_value(t, 3, 7, runs, broken) < 1e-6);
  }
  SECTION("the draft's argmax accepted as if it had been sampled from q") {
    CHECK(joint_p_value(t, 3, 8, runs, correct, drafting::argmax) < 1e-6);
  }
  SECTION("the bonus drawn from p_gamma instead of p_{gamma+1}") {
    const toy same = make_toy(draft_kind::same, 1.0f, false);  // q = p: every round ends in a bonus
    const verifier broken = [](auto p, auto q, auto d, arx::rng& g) {
      auto v = arx::verify_draft(p, q, d, g);
      if (v.bonus && p.shape(0) > 1) v.next = arx::draw_from(p.row(p.shape(0) - 2), g);
      return v;
    };
    CHECK(joint_p_value(same, 1, 9, runs, correct) > 1e-6);
    CHECK(joint_p_value(same, 1, 9, runs, broken) < 1e-6);
  }
}

TEST_CASE("tokens per round match (1 - a^(g+1)) / (1 - a) for context-independent p and q",
          "[decoding][speculative]") {
  // Every context gets the same p and q rows, so each draft is accepted with probability
  // α = Σ min(p, q) independently of the others.
  toy t = make_toy(draft_kind::random, 1.0f, false);
  for (int c = 1; c < contexts; ++c) {
    t.p[std::size_t(c)] = t.p[0];
    t.q[std::size_t(c)] = t.q[0];
  }
  double alpha = 0.0;
  for (int v = 0; v < V; ++v) alpha += std::min(prob(t.p, 0, 0, v), prob(t.q, 0, 0, v));
  REQUIRE(alpha > 0.2);
  REQUIRE(alpha < 0.95);
  for (int gamma : {1, 3, 5}) {
    // One round at a time (not three tokens): its emitted count is 1 + accepted.
    arx::rng g(300 + std::uint64_t(gamma));
    const std::int64_t n = 40000;
    double sum = 0.0, sum2 = 0.0;
    std::vector<float> P(std::size_t((gamma + 1) * V)), Q(std::size_t(gamma * V));
    std::vector<arx::token_id> d(static_cast<std::size_t>(gamma));
    for (int i = 0; i <= gamma; ++i) std::copy(t.p[0].begin(), t.p[0].end(), P.begin() + i * V);
    for (int i = 0; i < gamma; ++i) std::copy(t.q[0].begin(), t.q[0].end(), Q.begin() + i * V);
    for (std::int64_t r = 0; r < n; ++r) {
      for (auto& x : d) x = arx::draw_from(t.q[0], g);
      const auto v = arx::verify_draft(arx::tensor_view<const float>(P.data(), {gamma + 1, V}),
                                       arx::tensor_view<const float>(Q.data(), {gamma, V}), d, g);
      const double k = double(v.accepted + 1);
      sum += k;
      sum2 += k * k;
    }
    const double mean = sum / double(n), var = sum2 / double(n) - mean * mean;
    const double expected = (1.0 - std::pow(alpha, gamma + 1)) / (1.0 - alpha);
    INFO("gamma " << gamma << ", alpha " << alpha << ": mean " << mean << ", expected "
                  << expected);
    CHECK(std::fabs(mean - expected) <= 4.0 * std::sqrt(var / double(n)));
  }
}

TEST_CASE("q = p accepts every draft and ends with a bonus", "[decoding][speculative]") {
  const toy t = make_toy(draft_kind::same, 0.7f, true);
  arx::rng g(5);
  std::int64_t rounds = 0, emitted = 0;
  for (int r = 0; r < 2000; ++r)
    (void)emit_three(t, 4, g, correct, drafting::sample, &rounds, &emitted);
  CHECK(emitted == 5 * rounds);  // every round: 4 accepted + the bonus
}

TEST_CASE("one-hot p and q: speculative greedy equals greedy", "[decoding][speculative]") {
  // Target greedy: p one-hot at the argmax of its logits; a draft that agrees on some contexts.
  const table tl = random_logits(41, 3.0), dl = random_logits(43, 3.0);
  toy t;
  t.p.resize(contexts);
  t.q.resize(contexts);
  for (int c = 0; c < contexts; ++c) {
    const auto& a = tl[std::size_t(c)];
    const auto& b = c % 2 ? tl[std::size_t(c)] : dl[std::size_t(c)];
    t.p[std::size_t(c)].fill(0.0f);
    t.q[std::size_t(c)].fill(0.0f);
    t.p[std::size_t(c)][std::size_t(std::max_element(a.begin(), a.end()) - a.begin())] = 1.0f;
    t.q[std::size_t(c)][std::size_t(std::max_element(b.begin(), b.end()) - b.begin())] = 1.0f;
  }
  std::vector<arx::token_id> greedy{start0, start1};
  while (greedy.size() < 5) {
    const auto& p = t.p[std::size_t(ctx(greedy[greedy.size() - 2], greedy.back()))];
    greedy.push_back(arx::token_id(std::max_element(p.begin(), p.end()) - p.begin()));
  }
  const int want = (int(greedy[2]) * V + int(greedy[3])) * V + int(greedy[4]);
  for (int gamma : {1, 2, 3, 5, 8}) {
    arx::rng g{std::uint64_t(gamma)};
    for (int r = 0; r < 50; ++r) CHECK(emit_three(t, gamma, g, correct, drafting::sample) == want);
  }
}

TEST_CASE("verify_draft refuses inconsistent input", "[decoding][speculative]") {
  std::vector<float> P{0.5f, 0.5f, 0.0f, 0.2f, 0.3f, 0.5f}, Q{0.0f, 1.0f, 0.0f};
  const arx::tensor_view<const float> p(P.data(), {2, 3}), q(Q.data(), {1, 3});
  arx::rng g(1);
  const std::vector<arx::token_id> ok{1}, zero_q{0}, outside{3};
  CHECK_NOTHROW(arx::verify_draft(p, q, ok, g));
  REQUIRE_THROWS_AS(arx::verify_draft(p, q, zero_q, g), arx::invalid_argument);
  CHECK_THROWS_WITH(arx::verify_draft(p, q, zero_q, g),
                    Catch::Contains("drafted token 0 at 0 has probability 0 under q"));
  CHECK_THROWS_WITH(arx::verify_draft(p, q, outside, g), Catch::Contains("outside [0, 3)"));
  CHECK_THROWS_WITH(arx::verify_draft(p, q, std::vector<arx::token_id>{1, 2}, g),
                    Catch::Contains("need p [3, n_vocab] and q [2, n_vocab]"));
  std::vector<float> bad{0.5f, 0.6f, 0.0f, 0.2f, 0.3f, 0.5f};
  CHECK_THROWS_WITH(
      arx::verify_draft(arx::tensor_view<const float>(bad.data(), {2, 3}), q, ok, g),
      Catch::Contains("p row 0 sums to"));
  std::vector<float> neg{0.5f, 0.5f, 0.0f, -0.2f, 0.7f, 0.5f};
  CHECK_THROWS_WITH(
      arx::verify_draft(arx::tensor_view<const float>(neg.data(), {2, 3}), q, ok, g),
      Catch::Contains("p row 1 has entry"));
}
