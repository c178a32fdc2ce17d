// transformer::forward_batch: several sequences in one forward give, entry by entry, bit for bit
// the logits and hidden states of separate forwards (different lengths, positions and rollbacks,
// rows::all and rows::last, 1 and 2 threads, float and quantized weights, f32 and f16 KV), and
// refuse what they cannot do before changing anything.
#include <catch2/catch.hpp>

#include <arx/core/thread_pool.hpp>
#include <arx/model/transformer.hpp>

#include <cstdint>
#include <cstring>
#include <vector>

#include "tiny_llama.hpp"

namespace {

template <class KV>
arx::transformer<KV> make(arx::ggml_type type) {
  tiny::params p;
  p.type = type;
  return arx::transformer<KV>(arx::llama_weights::from_file(tiny::build(p)));
}

bool same(const float* a, const float* b, std::int64_t n) {
  return std::memcmp(a, b, std::size_t(n) * sizeof(float)) == 0;
}

template <class KV>
void check(arx::ggml_type type, int threads) {
  const auto m = make<KV>(type);
  const std::int64_t V = m.config().n_vocab, E = m.config().n_embd;
  arx::thread_pool pool(threads);
  // three sequences with histories of 0, 5 and 9 tokens; the third is rolled back to 6
  const std::vector<std::vector<arx::token_id>> history = {
      {}, tiny::tokens(5, V, 1), tiny::tokens(9, V, 2)};
  const std::vector<std::vector<arx::token_id>> batch = {
      tiny::tokens(7, V, 3), tiny::tokens(1, V, 4), tiny::tokens(3, V, 5)};
  const std::vector<std::int64_t> pos = {-1, -1, 6};
  for (arx::rows which : {arx::rows::all, arx::rows::last}) {
    std::vector<arx::sequence<KV>> a, b;
    for (std::size_t i = 0; i < 3; ++i) {
      a.push_back(m.new_sequence(32));
      b.push_back(m.new_sequence(32));
      a.back().set_thread_pool(&pool);
      b.back().set_thread_pool(&pool);
      if (!history[i].empty()) {
        (void)m.forward(a.back(), history[i]);
        (void)m.forward(b.back(), history[i]);
      }
    }
    std::vector<arx::batch_entry<KV>> entries;
    for (std::size_t i = 0; i < 3; ++i) entries.push_back({&a[i], batch[i], pos[i]});
    const auto r = m.forward_batch(entries, arx::forward_request{which, which});
    const std::vector<float> logits(r.logits.data(), r.logits.data() + r.logits.shape(0) * V);
    const std::vector<float> hidden(r.hidden.data(), r.hidden.data() + r.hidden.shape(0) * E);
    std::int64_t row = 0;
    for (std::size_t i = 0; i < 3; ++i) {
      INFO("entry " << i << (which == arx::rows::all ? ", all rows" : ", last rows"));
      const auto p = pos[i] < 0 ? b[i].size() : pos[i];
      const auto s = m.forward(b[i], batch[i], p, arx::forward_request{which, which});
      CHECK(a[i].size() == b[i].size());
      for (std::int64_t t = 0; t < s.logits.shape(0); ++t, ++row) {
        CHECK(same(logits.data() + row * V, s.logits.row(t).data(), V));
        CHECK(same(hidden.data() + row * E, s.hidden.row(t).data(), E));
      }
      // and the caches agree: one more token gives the same logits
      const arx::token_id next = 7;
      const auto x = m.forward(a[i], std::span(&next, 1));
      const std::vector<float> xa(x.logits.data(), x.logits.data() + V);
      CHECK(same(xa.data(), m.forward(b[i], std::span(&next, 1)).logits.data(), V));
    }
    CHECK(row == std::int64_t(logits.size()) / V);
  }
}

}  // namespace

TEST_CASE("forward_batch equals separate forwards bit for bit", "[transformer][forward_batch]") {
  for (int threads : {1, 2}) {
    INFO("threads " << threads);
    check<float>(arx::ggml_type::f32, threads);
    check<float>(arx::ggml_type::q8_0, threads);
    check<arx::f16>(arx::ggml_type::q4_0, threads);
    check<float>(arx::ggml_type::f16, threads);
  }
}

TEST_CASE("forward_batch refuses bad batches before changing anything",
          "[transformer][forward_batch]") {
  const auto m = make<float>(arx::ggml_type::f32);
  auto a = m.new_sequence(16), b = m.new_sequence(4);
  const std::vector<arx::token_id> t3 = {1, 2, 3}, t5 = {1, 2, 3, 4, 5};
  using E = arx::batch_entry<float>;
  CHECK_THROWS_AS(m.forward_batch(std::span<const E>{}), arx::invalid_argument);
  const std::vector<E> twice = {{&a, t3}, {&a, t3}};
  CHECK_THROWS_AS(m.forward_batch(twice), arx::invalid_argument);
  const std::vector<E> too_long = {{&a, t3}, {&b, t5}};
  CHECK_THROWS_AS(m.forward_batch(too_long), arx::context_error);
  const std::vector<E> two = {{&a, t3}, {&b, t3}};
  const std::vector<std::int32_t> parents = {-1, 0, 1, -1, 3, 4};
  arx::forward_request tree;
  tree.tree_parents = parents;
  CHECK_THROWS_AS(m.forward_batch(two, tree), arx::invalid_argument);
  CHECK_THROWS_AS(m.forward_batch(two, arx::forward_request{arx::rows::all, arx::rows::last}),
                  arx::invalid_argument);
  CHECK(a.size() == 0);
  CHECK(b.size() == 0);
  const auto r = m.forward_batch(two);  // default: each entry's last row
  CHECK(r.logits.shape(0) == 2);
  CHECK(a.size() == 3);
  CHECK(b.size() == 3);
}
