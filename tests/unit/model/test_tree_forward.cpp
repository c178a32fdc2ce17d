// Tree forwards (forward_request::tree_parents) and kv_cache::keep_rows: every node of a token
// tree gets bit for bit the logits a chain forward of its branch gives, and keeping one branch's
// rows leaves a sequence equal to having evaluated that branch as a chain.
#include <catch2/catch.hpp>

#include <arx/core/thread_pool.hpp>
#include <arx/model/transformer.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "tiny_llama.hpp"

namespace {

template <class KV>
arx::transformer<KV> make(arx::ggml_type type) {
  tiny::params p;
  p.type = type;
  p.n_layer = 2;
  return arx::transformer<KV>(arx::llama_weights::from_file(tiny::build(p)));
}

/// A random tree of n tokens: parent[t] uniform in [-1, t) with a bias to deep chains.
std::vector<std::int32_t> random_parents(std::size_t n, std::uint64_t seed) {
  const auto r = tiny::tokens(n, 1 << 20, seed);
  std::vector<std::int32_t> p(n);
  for (std::size_t t = 0; t < n; ++t)
    p[t] = t == 0 ? -1
                  : (r[t] % 3 == 0 ? std::int32_t(t) - 1
                                   : std::int32_t(r[t] % std::int32_t(t + 1)) - 1);
  return p;
}

template <class KV>
void check_tree(arx::ggml_type type, int threads) {
  const auto m = make<KV>(type);
  arx::thread_pool pool(threads);
  const std::int64_t V = m.config().n_vocab;
  for (std::uint64_t seed = 1; seed <= 6; ++seed) {
    INFO("seed " << seed);
    const auto prefix = tiny::tokens(5 + seed, V, seed);
    const std::size_t n = 3 + 2 * seed;
    const auto toks = tiny::tokens(n, V, seed + 100);
    const auto parents = random_parents(n, seed + 200);
    auto seq = m.new_sequence();
    seq.set_thread_pool(&pool);
    (void)m.forward(seq, prefix);
    const std::int64_t pos = seq.size();
    arx::forward_request req{arx::rows::all};
    req.tree_parents = parents;
    const auto r = m.forward(seq, toks, req);
    const std::vector<float> tree_logits(r.logits.data(), r.logits.data() + n * V);
    for (std::size_t t = 0; t < n; ++t) {
      // the branch of t, root first
      std::vector<std::int32_t> branch_idx;
      for (std::int32_t a = std::int32_t(t); a >= 0; a = parents[std::size_t(a)])
        branch_idx.push_back(a);
      std::reverse(branch_idx.begin(), branch_idx.end());
      std::vector<arx::token_id> chain = prefix;
      for (auto a : branch_idx) chain.push_back(toks[std::size_t(a)]);
      auto fresh = m.new_sequence();
      fresh.set_thread_pool(&pool);
      const auto c = m.forward(fresh, chain);
      INFO("node " << t);
      CHECK(std::memcmp(c.logits.data(), tree_logits.data() + t * std::size_t(V),
                        std::size_t(V) * sizeof(float)) == 0);
      if (t + 1 == n) {
        // keep this branch's rows: continuing equals a chain run
        std::vector<std::int64_t> rows;
        for (auto a : branch_idx) rows.push_back(pos + a);
        seq.keep_rows(pos, rows);
        CHECK(seq.size() == std::int64_t(chain.size()));
        const arx::token_id next = 3;
        const auto a1 = m.forward(seq, std::span(&next, 1));
        const std::vector<float> got(a1.logits.data(), a1.logits.data() + V);
        const auto b1 = m.forward(fresh, std::span(&next, 1));
        CHECK(std::memcmp(got.data(), b1.logits.data(), std::size_t(V) * sizeof(float)) == 0);
      }
    }
  }
}

}  // namespace

TEST_CASE("a tree forward gives every node its branch's chain logits, bit for bit",
          "[transformer][tree]") {
  for (int threads : {1, 2}) {
    INFO("threads " << threads);
    check_tree<float>(arx::ggml_type::f32, threads);
    check_tree<float>(arx::ggml_type::q8_0, threads);
    check_tree<arx::f16>(arx::ggml_type::q4_0, threads);
  }
}

TEST_CASE("tree forwards and keep_rows refuse bad input", "[transformer][tree]") {
  const auto m = make<float>(arx::ggml_type::f32);
  auto seq = m.new_sequence();
  const std::vector<arx::token_id> toks = {1, 2, 3};
  arx::forward_request req;
  const std::vector<std::int32_t> short_p = {-1, 0};
  req.tree_parents = short_p;
  CHECK_THROWS_AS(m.forward(seq, toks, req), arx::invalid_argument);
  const std::vector<std::int32_t> forward_ref = {-1, 2, 0};
  req.tree_parents = forward_ref;
  CHECK_THROWS_AS(m.forward(seq, toks, req), arx::invalid_argument);
  CHECK(seq.size() == 0);
  (void)m.forward(seq, toks);
  const std::vector<std::int64_t> not_ascending = {2, 1};
  CHECK_THROWS_AS(seq.keep_rows(1, not_ascending), arx::invalid_argument);
  const std::vector<std::int64_t> past_end = {3};
  CHECK_THROWS_AS(seq.keep_rows(1, past_end), arx::invalid_argument);
  CHECK(seq.size() == 3);
}
