// sequence::share_prefix: a sequence that reads its first n positions from another sequence's
// cache gives, bit for bit, the logits of a sequence holding those positions itself — through
// decode steps, multi-token forwards, forward_batch over several sharers of one base, clone()
// (which copies only the own rows), truncation below n and sharing from a sharer — for f32 and
// f16 KV and float and quantized weights; and refuses what it cannot share.
#include <catch2/catch.hpp>

#include <arx/core/thread_pool.hpp>
#include <arx/model/transformer.hpp>

#include <cstdint>
#include <cstring>
#include <vector>

#include "tiny_llama.hpp"

namespace {

using tokens_t = std::vector<arx::token_id>;

template <class KV>
arx::transformer<KV> make(arx::ggml_type type) {
  tiny::params p;
  p.type = type;
  p.n_ctx = 64;
  return arx::transformer<KV>(arx::llama_weights::from_file(tiny::build(p)));
}

bool same(std::span<const float> a, std::span<const float> b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

/// Logits of every row of `tokens` appended to `seq`, copied.
template <class KV>
std::vector<float> logits(const arx::transformer<KV>& m, arx::sequence<KV>& seq,
                          const tokens_t& tokens) {
  const auto r = m.forward(seq, tokens, arx::forward_request{arx::rows::all});
  return std::vector<float>(r.logits.data(), r.logits.data() + r.logits.numel());
}

template <class KV>
void check(arx::ggml_type type) {
  const auto m = make<KV>(type);
  const std::int64_t V = m.config().n_vocab;
  arx::thread_pool pool(2);
  const tokens_t prompt = tiny::tokens(12, V, 1), more = tiny::tokens(5, V, 2);
  auto base = m.new_sequence(40);
  base.set_thread_pool(&pool);
  (void)m.forward(base, prompt);

  for (const std::int64_t n : {std::int64_t(12), std::int64_t(7)}) {
    INFO("sharing " << n << " positions");
    const tokens_t head(prompt.begin(), prompt.begin() + n);
    auto own = m.new_sequence(40);  // holds the same positions itself
    (void)m.forward(own, head);
    auto sharer = m.new_sequence(40);
    sharer.share_prefix(base, n);
    CHECK(sharer.size() == n);
    CHECK(sharer.shared_prefix() == n);
    // a 5-token forward, then single tokens
    CHECK(same(logits(m, sharer, more), logits(m, own, more)));
    for (int i = 0; i < 4; ++i) {
      const tokens_t one = {arx::token_id((7 * i + 3) % V)};
      CHECK(same(logits(m, sharer, one), logits(m, own, one)));
    }
    // clone (own rows only) and diverge
    auto fork = sharer.clone();
    auto own_fork = own.clone();
    CHECK(fork.shared_prefix() == n);
    const tokens_t other = tiny::tokens(3, V, 3);
    CHECK(same(logits(m, fork, other), logits(m, own_fork, other)));
    CHECK(same(logits(m, sharer, more), logits(m, own, more)));  // the original is unchanged
    // sharing from a sharer within its shared part reads the same base
    auto second = m.new_sequence(40);
    second.share_prefix(sharer, n - 2);
    auto own_second = m.new_sequence(40);
    (void)m.forward(own_second, tokens_t(prompt.begin(), prompt.begin() + n - 2));
    CHECK(same(logits(m, second, more), logits(m, own_second, more)));
    // truncating below n, then a forward at a position inside the old prefix
    sharer.truncate(n - 3);
    own.truncate(n - 3);
    CHECK(sharer.shared_prefix() == n - 3);
    CHECK(same(logits(m, sharer, other), logits(m, own, other)));
    const auto r1 = m.forward(fork, other, 4, arx::forward_request{arx::rows::all});
    const std::vector<float> f1(r1.logits.data(), r1.logits.data() + r1.logits.numel());
    const auto r2 = m.forward(own_fork, other, 4, arx::forward_request{arx::rows::all});
    CHECK(same(f1, std::span<const float>(r2.logits.data(), std::size_t(r2.logits.numel()))));
    CHECK(fork.shared_prefix() == 4);
  }

  // forward_batch: three sharers of one base (different lengths) == three separate forwards
  std::vector<arx::sequence<KV>> s, o;
  const std::vector<std::int64_t> n = {12, 9, 12};
  const std::vector<tokens_t> batch = {tiny::tokens(1, V, 4), tiny::tokens(3, V, 5),
                                       tiny::tokens(2, V, 6)};
  for (std::size_t i = 0; i < 3; ++i) {
    s.push_back(m.new_sequence(40));
    o.push_back(m.new_sequence(40));
    s.back().set_thread_pool(&pool);
    s.back().share_prefix(base, n[i]);
    (void)m.forward(o.back(), tokens_t(prompt.begin(), prompt.begin() + n[i]));
  }
  std::vector<arx::batch_entry<KV>> entries;
  for (std::size_t i = 0; i < 3; ++i) entries.push_back({&s[i], batch[i]});
  const auto r = m.forward_batch(entries, arx::forward_request{arx::rows::all});
  const std::vector<float> all(r.logits.data(), r.logits.data() + r.logits.numel());
  std::size_t at = 0;
  for (std::size_t i = 0; i < 3; ++i) {
    const auto want = logits(m, o[i], batch[i]);
    CHECK(same(std::span<const float>(all.data() + at, want.size()), want));
    at += want.size();
  }
}

}  // namespace

TEST_CASE("a shared prefix gives the logits of a sequence holding it", "[shared_prefix]") {
  SECTION("f32 weights, f32 KV") { check<float>(arx::ggml_type::f32); }
  SECTION("q8_0 weights, f32 KV") { check<float>(arx::ggml_type::q8_0); }
  SECTION("f16 weights, f16 KV") { check<arx::f16>(arx::ggml_type::f16); }
}

TEST_CASE("share_prefix refuses what it cannot share", "[shared_prefix]") {
  const auto m = make<float>(arx::ggml_type::f32);
  auto base = m.new_sequence(40);
  (void)m.forward(base, tiny::tokens(10, m.config().n_vocab, 1));
  auto s = m.new_sequence(40);
  CHECK_THROWS_WITH(s.share_prefix(base, 11), Catch::Contains("the base holds 10"));
  CHECK_THROWS_AS(s.share_prefix(base, -1), arx::invalid_argument);
  CHECK_THROWS_AS(s.share_prefix(s, 0), arx::invalid_argument);
  auto small = m.new_sequence(8);
  CHECK_THROWS_WITH(small.share_prefix(base, 9), Catch::Contains("fits 8"));
  s.share_prefix(base, 6);
  (void)m.forward(s, tiny::tokens(2, m.config().n_vocab, 2));
  auto t = m.new_sequence(40);
  CHECK_THROWS_WITH(t.share_prefix(s, 7), Catch::Contains("from 6 on"));
  CHECK_THROWS_WITH(s.keep_rows(5, std::vector<std::int64_t>{6}),
                    Catch::Contains("inside the shared prefix"));
  tiny::params p;
  p.n_layer = 3;
  const arx::transformer<float> other(arx::llama_weights::from_file(tiny::build(p)));
  auto u = other.new_sequence(40);
  CHECK_THROWS_WITH(u.share_prefix(base, 4), Catch::Contains("another model"));
  s.clear();
  CHECK(s.shared_prefix() == 0);
  CHECK(s.size() == 0);
}
