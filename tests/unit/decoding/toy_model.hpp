// The toy model of the speculative-sampling tests: |V| = 6, next-token logits depend on the last
// two tokens, so the exact joint distribution of the first three emitted tokens can be enumerated
// (216 cells). Target p and draft q tables per context, with the sampler chain applied.
#pragma once

#include <arx/sampling/chain.hpp>
#include <arx/sampling/rng.hpp>
#include <arx/sampling/truncation.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

namespace toy_test {

constexpr int V = 6;                 // vocabulary
constexpr int contexts = V * V;      // next-token tables are indexed by the last two tokens
constexpr arx::token_id start0 = 0, start1 = 1;  // the context every run starts from

using table = std::vector<std::array<float, V>>;  // [contexts][V] logits or probabilities

inline table random_logits(std::uint64_t seed, double spread) {
  arx::rng g(seed);
  table t(contexts);
  for (auto& row : t)
    for (auto& x : row) x = float(spread * (g.uniform() * 2.0 - 1.0));
  return t;
}

inline int ctx(arx::token_id a, arx::token_id b) { return int(a) * V + int(b); }

enum class draft_kind { random, same, disjoint, one_hot };
inline const char* name(draft_kind k) {
  switch (k) {
    case draft_kind::random: return "random";
    case draft_kind::same: return "q = p";
    case draft_kind::disjoint: return "disjoint support";
    default: return "one-hot";
  }
}

/// Target and draft probability tables of one configuration (processors applied per context).
struct toy {
  table p, q;
  bool q_one_hot = false;
};

inline toy make_toy(draft_kind kind, float temp, bool truncate) {
  const table tl = random_logits(11, 3.0);
  table dl = random_logits(23, 3.0);
  if (kind == draft_kind::same) dl = tl;
  if (kind == draft_kind::disjoint)  // the draft only proposes the target's 3 least likely tokens
    for (int c = 0; c < contexts; ++c) {
      std::array<int, V> order{};
      for (int v = 0; v < V; ++v) order[std::size_t(v)] = v;
      std::sort(order.begin(), order.end(), [&](int a, int b) {
        return tl[std::size_t(c)][std::size_t(a)] > tl[std::size_t(c)][std::size_t(b)];
      });
      for (int i = 0; i < 3; ++i) dl[std::size_t(c)][std::size_t(order[std::size_t(i)])] = -1e9f;
    }
  const auto chain = [&] {
    arx::sampler_chain s;
    if (truncate) {
      s.add(arx::top_k{3});
      s.add(arx::top_p{0.9f});
    }
    s.add(arx::temperature{temp});
    return s;
  };
  auto sp = chain(), sq = chain();
  toy t;
  t.p.resize(contexts);
  t.q.resize(contexts);
  for (int c = 0; c < contexts; ++c) {
    sp.distribution(tl[std::size_t(c)], {}, t.p[std::size_t(c)]);
    if (kind == draft_kind::one_hot) {  // a deterministic drafter: q is one-hot at its choice
      const auto& row = dl[std::size_t(c)];
      const auto best = std::max_element(row.begin(), row.end()) - row.begin();
      t.q[std::size_t(c)].fill(0.0f);
      t.q[std::size_t(c)][std::size_t(best)] = 1.0f;
    } else {
      sq.distribution(dl[std::size_t(c)], {}, t.q[std::size_t(c)]);
    }
  }
  t.q_one_hot = kind == draft_kind::one_hot;
  return t;
}

/// Probability of token v after the context (a, b) in table t.
inline double prob(const table& t, int a, int b, int v) {
  return double(t[std::size_t(ctx(a, b))][std::size_t(v)]);
}

/// The exact joint distribution of the first three tokens under the target: [V^3].
inline std::vector<double> exact_joint(const toy& t) {
  std::vector<double> j(V * V * V);
  for (int a = 0; a < V; ++a)
    for (int b = 0; b < V; ++b)
      for (int c = 0; c < V; ++c)
        j[std::size_t((a * V + b) * V + c)] = prob(t.p, start0, start1, a) *
                                               prob(t.p, start1, a, b) * prob(t.p, a, b, c);
  return j;
}

}  // namespace toy_test
