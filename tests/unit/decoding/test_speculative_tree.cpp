// Verification of draft trees (arx/decoding/speculative_tree.hpp) against the exact distribution
// it must reproduce, on the toy model of toy_model.hpp:
// - trees whose children are sampled independently from q (two or three per node, two levels), and
//   deterministic trees (the draft's two most likely tokens, then each one's most likely follower,
//   q one-hot): the first three emitted tokens follow the target's exact joint by chi-square, for
//   drafts {random, q = p, disjoint support}, temperatures {0.7, 1.0}, with and without top-k and
//   top-p;
// - the same test rejects two broken walks (siblings tried against the unchanged p instead of the
//   residual; after rejecting every child, drawing from p instead of the residual);
// - one-hot p: the walk is greedy; bad trees are refused.
#include <catch2/catch.hpp>

#include "test_size.hpp"

#include <arx/decoding/speculative_tree.hpp>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <vector>

#include "../sampling/chi_square.hpp"
#include "toy_model.hpp"

namespace {

using namespace toy_test;

enum class shape { sampled2, sampled3, top2 };
const char* shape_name(shape s) {
  return s == shape::sampled2 ? "2 sampled children per node"
         : s == shape::sampled3 ? "3 sampled children at the root, 2 below"
                                : "deterministic top-2, then argmax";
}

using tree_verifier = std::function<arx::tree_verdict(
    arx::tensor_view<const float>, arx::tensor_view<const float>, std::span<const arx::token_id>,
    std::span<const std::int32_t>, arx::rng&)>;

const tree_verifier correct = [](auto p, auto q, auto t, auto par, arx::rng& g) {
  return arx::verify_tree(p, q, t, par, g);
};

/// A deliberately wrong walk. keep_p: siblings are tried against the node's p, never the
/// residual; final_from_p: after rejecting every child, draw from p instead of the residual.
tree_verifier broken(bool keep_p, bool final_from_p) {
  return [=](arx::tensor_view<const float> p, arx::tensor_view<const float> q,
             std::span<const arx::token_id> tokens, std::span<const std::int32_t> parents,
             arx::rng& g) {
    arx::tree_verdict v;
    const std::int64_t m = std::int64_t(tokens.size()), nv = p.shape(1);
    std::int64_t node = -1;
    for (;;) {
      std::vector<double> r(static_cast<std::size_t>(nv));
      for (std::int64_t t = 0; t < nv; ++t) r[std::size_t(t)] = p(node + 1, t);
      bool moved = false;
      for (std::int64_t c = node + 1; c < m && !moved; ++c) {
        if (parents[std::size_t(c)] != node) continue;
        const auto x = tokens[std::size_t(c)];
        double tot = 0;
        for (double y : r) tot += y;
        if (g.uniform() * double(q(c, x)) * tot < r[std::size_t(x)]) {
          v.path.push_back(c);
          node = c;
          moved = true;
        } else if (!keep_p) {
          for (std::int64_t t = 0; t < nv; ++t)
            r[std::size_t(t)] = std::max(0.0, r[std::size_t(t)] / tot - double(q(c, t)));
        }
      }
      if (moved) continue;
      if (final_from_p)
        for (std::int64_t t = 0; t < nv; ++t) r[std::size_t(t)] = p(node + 1, t);
      double tot = 0;
      for (double y : r) tot += y;
      v.next = arx::detail::draw_weighted(r.size(), [&](std::size_t t) { return r[t]; }, tot, g);
      return v;
    }
  };
}

struct tree {
  std::vector<arx::token_id> tokens;
  std::vector<std::int32_t> parents;
  std::vector<std::pair<int, int>> ctx_after;  // the (last two tokens) context after each node
};

/// Drafts a tree of the given shape after the context (a, b).
tree draft_tree(const toy& t, shape s, arx::token_id a, arx::token_id b, arx::rng& g) {
  tree tr;
  const auto add = [&](std::int32_t parent, arx::token_id x, int pa, int pb) {
    tr.tokens.push_back(x);
    tr.parents.push_back(parent);
    tr.ctx_after.push_back({pb, int(x)});
    (void)pa;
  };
  const auto top = [&](int ca, int cb, int rank) {
    const auto& q = t.q[std::size_t(ctx(ca, cb))];
    std::array<int, V> order{};
    for (int v = 0; v < V; ++v) order[std::size_t(v)] = v;
    std::stable_sort(order.begin(), order.end(),
                     [&](int x, int y) { return q[std::size_t(x)] > q[std::size_t(y)]; });
    return arx::token_id(order[std::size_t(rank)]);
  };
  const int root_children = s == shape::sampled3 ? 3 : 2;
  for (int i = 0; i < root_children; ++i) {
    const arx::token_id x = s == shape::top2 ? top(a, b, i)
                                             : arx::draw_from(t.q[std::size_t(ctx(a, b))], g);
    add(-1, x, a, b);
    const auto self = std::int32_t(tr.tokens.size() - 1);
    const int below = s == shape::top2 ? 1 : 2;
    for (int j = 0; j < below; ++j) {
      const arx::token_id y = s == shape::top2 ? top(b, x, 0)
                                               : arx::draw_from(t.q[std::size_t(ctx(b, x))], g);
      add(self, y, b, x);
    }
  }
  return tr;
}

/// q row of each node: the draft's distribution at its parent (one-hot for deterministic trees).
std::vector<float> q_rows(const toy& t, const tree& tr, shape s, arx::token_id a, arx::token_id b) {
  std::vector<float> Q(tr.tokens.size() * V, 0.0f);
  for (std::size_t i = 0; i < tr.tokens.size(); ++i) {
    if (s == shape::top2) {
      Q[i * V + std::size_t(tr.tokens[i])] = 1.0f;
      continue;
    }
    const int par = tr.parents[i];
    const auto c = par < 0 ? ctx(a, b) : ctx(tr.ctx_after[std::size_t(par)].first,
                                             tr.ctx_after[std::size_t(par)].second);
    std::copy(t.q[std::size_t(c)].begin(), t.q[std::size_t(c)].end(),
              Q.begin() + std::ptrdiff_t(i * V));
  }
  return Q;
}

int emit_three(const toy& t, shape s, arx::rng& g, const tree_verifier& verify) {
  std::vector<arx::token_id> seq{start0, start1};
  while (seq.size() < 5) {
    const arx::token_id a = seq[seq.size() - 2], b = seq.back();
    const tree tr = draft_tree(t, s, a, b, g);
    const auto Q = q_rows(t, tr, s, a, b);
    std::vector<float> P((tr.tokens.size() + 1) * V);
    std::copy(t.p[std::size_t(ctx(a, b))].begin(), t.p[std::size_t(ctx(a, b))].end(), P.begin());
    for (std::size_t i = 0; i < tr.tokens.size(); ++i) {
      const auto& row = t.p[std::size_t(ctx(tr.ctx_after[i].first, tr.ctx_after[i].second))];
      std::copy(row.begin(), row.end(), P.begin() + std::ptrdiff_t((i + 1) * V));
    }
    const auto m = std::int64_t(tr.tokens.size());
    const auto v =
        verify(arx::tensor_view<const float>(P.data(), {m + 1, V}),
               arx::tensor_view<const float>(Q.data(), {m, V}), tr.tokens, tr.parents, g);
    for (const auto i : v.path) seq.push_back(tr.tokens[std::size_t(i)]);
    seq.push_back(v.next);
  }
  return (int(seq[2]) * V + int(seq[3])) * V + int(seq[4]);
}

double joint_p_value(const toy& t, shape s, std::uint64_t seed, const tree_verifier& verify) {
  constexpr std::int64_t runs = arx_test::sized(20000);
  arx::rng g(seed);
  std::vector<std::int64_t> counts(V * V * V);
  for (std::int64_t r = 0; r < runs; ++r) ++counts[std::size_t(emit_three(t, s, g, verify))];
  return sampling_test::chi_square_p_value(counts, exact_joint(t), runs);
}

}  // namespace

TEST_CASE("tree verification emits the target's exact joint distribution",
          "[decoding][speculative][tree]") {
  std::uint64_t seed = 500;
  for (draft_kind kind : {draft_kind::random, draft_kind::same, draft_kind::disjoint})
    for (float temp : {0.7f, 1.0f})
      for (bool truncate : {false, true}) {
        const toy t = make_toy(kind, temp, truncate);
        for (shape s : {shape::sampled2, shape::sampled3, shape::top2}) {
          INFO("draft " << name(kind) << ", temperature " << temp
                        << (truncate ? ", top_k(3) -> top_p(0.9)" : "") << ", "
                        << shape_name(s));
          CHECK(joint_p_value(t, s, ++seed, correct) > 1e-6);
        }
      }
}

TEST_CASE("the tree test rejects broken walks", "[decoding][speculative][tree]") {
  const toy t = make_toy(draft_kind::random, 1.0f, false);
  for (shape s : {shape::sampled2, shape::top2}) {
    INFO(shape_name(s));
    CHECK(joint_p_value(t, s, 900, broken(true, false)) < 1e-6);
    CHECK(joint_p_value(t, s, 901, broken(false, true)) < 1e-6);
  }
}

TEST_CASE("tree verification with one-hot p follows the argmax", "[decoding][speculative][tree]") {
  constexpr int nv = 5;
  // root -> {0: token 2, 1: token 3}; 0 -> {2: token 4}; 1 -> {3: token 1}
  const std::vector<arx::token_id> tokens = {2, 3, 4, 1};
  const std::vector<std::int32_t> parents = {-1, -1, 0, 1};
  std::vector<float> q(4 * nv, 0.0f);
  for (int i = 0; i < 4; ++i) q[std::size_t(i * nv + tokens[std::size_t(i)])] = 1.0f;
  const auto one_hot = [&](std::vector<int> argmax) {
    std::vector<float> p(5 * nv, 0.0f);
    for (int r = 0; r < 5; ++r) p[std::size_t(r * nv + argmax[std::size_t(r)])] = 1.0f;
    return p;
  };
  arx::rng g(1);
  {  // argmax follows node 1 (token 3), then node 3 (token 1), then the bonus after node 3: 0
    const auto p = one_hot({3, 0, 0, 0, 0});
    const auto v = arx::verify_tree(arx::tensor_view<const float>(p.data(), {5, nv}),
                                    arx::tensor_view<const float>(q.data(), {4, nv}), tokens,
                                    parents, g);
    CHECK(v.path == std::vector<std::int64_t>{1});
    CHECK(v.next == 0);  // row 2 (after node 1): argmax 0, node 3 (token 1) rejected
    CHECK_FALSE(v.bonus);
  }
  {
    const auto p = one_hot({3, 0, 0, 0, 1});
    auto p2 = p;  // row 2 (after node 1) says 1: node 3 accepted, bonus from row 4
    p2[std::size_t(2 * nv + 0)] = 0.0f;
    p2[std::size_t(2 * nv + 1)] = 1.0f;
    const auto v = arx::verify_tree(arx::tensor_view<const float>(p2.data(), {5, nv}),
                                    arx::tensor_view<const float>(q.data(), {4, nv}), tokens,
                                    parents, g);
    CHECK(v.path == std::vector<std::int64_t>{1, 3});
    CHECK(v.next == 1);
    CHECK(v.bonus);
  }
}

TEST_CASE("verify_tree refuses bad trees", "[decoding][speculative][tree]") {
  constexpr int nv = 4;
  std::vector<float> p(3 * nv, 0.25f), q(2 * nv, 0.25f);
  arx::rng g(1);
  const arx::tensor_view<const float> pv(p.data(), {3, nv}), qv(q.data(), {2, nv});
  const std::vector<arx::token_id> tokens = {1, 2};
  CHECK_THROWS_AS(arx::verify_tree(pv, qv, tokens, std::vector<std::int32_t>{-1, 1}, g),
                  arx::invalid_argument);
  CHECK_THROWS_AS(arx::verify_tree(pv, qv, tokens, std::vector<std::int32_t>{-1}, g),
                  arx::invalid_argument);
  CHECK_THROWS_AS(arx::verify_tree(pv, qv, std::vector<arx::token_id>{1, 4},
                                   std::vector<std::int32_t>{-1, 0}, g),
                  arx::invalid_argument);
  q[std::size_t(nv + 2)] = 0.0f;
  q[std::size_t(nv + 3)] = 0.5f;
  CHECK_THROWS_AS(arx::verify_tree(pv, qv, tokens, std::vector<std::int32_t>{-1, 0}, g),
                  arx::invalid_argument);
}

TEST_CASE("acceptance does not fall as the number of i.i.d. candidates grows",
          "[decoding][speculative][tree]") {
  // One level: k candidates drawn i.i.d. from q at the start context; the chance that one of
  // them is accepted (the round emits 2 tokens) must be non-decreasing in k (ALGORITHMS.md §2).
  const toy t = make_toy(draft_kind::random, 1.0f, false);
  constexpr std::int64_t runs = arx_test::sized(40000);
  const auto& q = t.q[std::size_t(ctx(start0, start1))];
  const auto& p = t.p[std::size_t(ctx(start0, start1))];
  std::vector<double> rate;
  for (int k = 1; k <= 4; ++k) {
    arx::rng g(1000 + std::uint64_t(k));
    std::int64_t accepted = 0;
    std::vector<float> P((std::size_t(k) + 1) * V), Q(std::size_t(k) * V);
    std::copy(p.begin(), p.end(), P.begin());
    for (int i = 0; i < k; ++i) {
      std::copy(q.begin(), q.end(), Q.begin() + i * V);
      std::fill(P.begin() + (i + 1) * V, P.begin() + (i + 2) * V, 1.0f / V);  // (unused rows)
    }
    std::vector<arx::token_id> tokens(static_cast<std::size_t>(k));
    const std::vector<std::int32_t> parents(static_cast<std::size_t>(k), -1);
    for (std::int64_t r = 0; r < runs; ++r) {
      for (auto& x : tokens) x = arx::draw_from(q, g);
      const auto v = arx::verify_tree(arx::tensor_view<const float>(P.data(), {k + 1, V}),
                                      arx::tensor_view<const float>(Q.data(), {k, V}), tokens,
                                      parents, g);
      accepted += !v.path.empty();
    }
    rate.push_back(double(accepted) / double(runs));
  }
  INFO("acceptance for k = 1..4: " << rate[0] << " " << rate[1] << " " << rate[2] << " "
                                   << rate[3]);
  for (std::size_t k = 1; k < rate.size(); ++k) CHECK(rate[k] >= rate[k - 1] - 0.01);  // 4 sigma
  CHECK(rate[3] > rate[0] + 0.05);  // and more candidates do help here
}
