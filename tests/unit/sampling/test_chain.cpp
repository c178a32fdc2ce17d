// The sampling core: candidates (partial top-k == full sort, softmax, probability vector, bad
// logits), the draw (one uniform per draw, inverse CDF in candidate order), chain<...> and
// sampler_chain agreeing, user processors plugged into both, accept() after every draw, and
// sampling_selector's history.
#include <catch2/catch.hpp>

#include "throws.hpp"

#include <arx/sampling/candidates.hpp>
#include <arx/sampling/chain.hpp>
#include <arx/sampling/rng.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

using Catch::Contains;

namespace {

std::vector<float> random_logits(std::size_t n, std::uint64_t seed) {
  arx::rng g(seed);
  std::vector<float> l(n);
  for (auto& x : l) x = float(8.0 * g.uniform() - 4.0);
  return l;
}

// A user-defined processor: keeps ids divisible by `m` and counts the draws it saw.
struct keep_multiples {
  int m = 2;
  int* accepted = nullptr;
  arx::token_id* last = nullptr;
  void apply(arx::candidates& c, const arx::sampling_context&) {
    c.remove_if([&](const arx::candidate& x) { return x.id % m != 0; });
  }
  void accept(arx::token_id id, const arx::candidates& final) {
    ++*accepted;
    *last = id;
    REQUIRE(final.has_probs());
  }
  std::string name() const { return "keep_multiples(" + std::to_string(m) + ")"; }
};

struct scale_logits {
  float s = 1.0f;
  void apply(arx::candidates& c, const arx::sampling_context&) {
    for (auto& x : c) x.logit *= s;
    c.logits_changed();
  }
};

}  // namespace

TEST_CASE("candidates: top(k) keeps exactly the k largest, sorted, ties by lower id",
          "[sampling][chain]") {
  std::vector<float> l = random_logits(150000, 3);
  l[10] = l[20] = l[30] = 5.0f;  // a three-way tie at the top
  arx::candidates c;
  c.assign(l);
  CHECK(c.id_order());
  c.top(50);
  REQUIRE(c.size() == 50);
  CHECK(c.sorted());
  std::vector<std::int32_t> ids(l.size());
  std::iota(ids.begin(), ids.end(), 0);
  std::sort(ids.begin(), ids.end(), [&](int a, int b) { return l[a] > l[b] || (l[a] == l[b] && a < b); });
  for (std::size_t i = 0; i < 50; ++i) {
    CHECK(c[i].id == ids[i]);
    CHECK(c[i].logit == l[std::size_t(ids[i])]);
  }
  CHECK(c[0].id == 10);
  CHECK(c[1].id == 20);
  CHECK(c[2].id == 30);
}

TEST_CASE("candidates: softmax, probability vector and -inf", "[sampling][chain]") {
  const float ninf = -std::numeric_limits<float>::infinity();
  const std::vector<float> l = {1.0f, ninf, 3.0f, 0.5f, 2.0f};
  arx::candidates c;
  c.assign(l);
  std::vector<float> p(5);
  c.probabilities(p);
  double z = std::exp(1.0) + std::exp(3.0) + std::exp(0.5) + std::exp(2.0);
  CHECK(p[0] == Approx(std::exp(1.0) / z).epsilon(1e-6));
  CHECK(p[1] == 0.0f);
  CHECK(p[2] == Approx(std::exp(3.0) / z).epsilon(1e-6));
  CHECK(p[3] == Approx(std::exp(0.5) / z).epsilon(1e-6));
  CHECK(p[4] == Approx(std::exp(2.0) / z).epsilon(1e-6));
  CHECK(c.size() == 4);  // the -inf candidate was dropped
  std::vector<float> wrong(4);
  REQUIRE_THROWS_TYPED(c.probabilities(wrong), arx::invalid_argument, Contains("4 entries"));
}

TEST_CASE("candidates: bad logits are typed errors naming the token", "[sampling][chain]") {
  arx::candidates c;
  REQUIRE_THROWS_TYPED(c.assign({}), arx::invalid_argument, Contains("empty"));
  std::vector<float> l = {0.0f, 1.0f, std::nanf("")};
  REQUIRE_THROWS_TYPED(c.assign(l), arx::invalid_argument, Contains("token 2 is NaN"));
  l[2] = std::numeric_limits<float>::infinity();
  REQUIRE_THROWS_TYPED(c.assign(l), arx::invalid_argument, Contains("token 2 is +inf"));
  const float ninf = -std::numeric_limits<float>::infinity();
  const std::vector<float> all_ninf = {ninf, ninf};
  REQUIRE_THROWS_TYPED(c.assign(all_ninf), arx::invalid_argument, Contains("every logit is -inf"));
  // A chain that removes every candidate.
  arx::sampler_chain s;
  int n = 0;
  arx::token_id last = -1;
  s.add(keep_multiples{7, &n, &last});
  arx::rng g(1);
  const std::vector<float> three = {1.0f, 2.0f, 3.0f};
  CHECK(s.sample(three, {}, g) == 0);  // id 0 survives (0 % 7 == 0)
  const std::vector<float> ids_1_to_6 = {ninf, 1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f};
  REQUIRE_THROWS_TYPED(s.sample(ids_1_to_6, {}, g), arx::invalid_argument,
                       Contains("no candidate token is left"));
}

TEST_CASE("draw: one uniform per draw, inverse CDF over the candidates in order",
          "[sampling][chain]") {
  const std::vector<float> l = random_logits(40, 9);
  arx::chain<> plain;
  arx::rng g(123), h(123);
  std::vector<double> p(l.size());
  double z = 0;
  for (float x : l) z += std::exp(double(x));
  for (std::size_t i = 0; i < l.size(); ++i) p[i] = std::exp(double(l[i])) / z;
  for (int draw = 0; draw < 2000; ++draw) {
    const arx::token_id got = plain.sample(l, {}, g);
    const double u = h.uniform();  // the same u, consumed by the same single call
    double cum = 0;
    arx::token_id want = arx::token_id(l.size() - 1);
    for (std::size_t i = 0; i < l.size(); ++i) {
      cum += p[i];
      if (u < cum) {
        want = arx::token_id(i);
        break;
      }
    }
    // Float-vs-double rounding can move a u that lands within 1e-6 of a boundary.
    if (got != want) {
      double c = 0;
      for (arx::token_id i = 0; i < std::min(got, want) + 1; ++i) c += p[std::size_t(i)];
      CHECK(std::abs(c - u) < 1e-6);
    }
  }
  CHECK(g == h);  // exactly one uniform per draw
}

TEST_CASE("chain<...> and sampler_chain agree; user processors plug into both",
          "[sampling][chain]") {
  const std::vector<float> l = random_logits(1000, 5);
  int n1 = 0, n2 = 0;
  arx::token_id last1 = -1, last2 = -1;
  arx::chain<scale_logits, keep_multiples> a(scale_logits{1.7f}, keep_multiples{3, &n1, &last1});
  arx::sampler_chain b;
  b.add(scale_logits{1.7f}).add(keep_multiples{3, &n2, &last2});
  CHECK(b.size() == 2);
  CHECK(b.describe() == "custom -> keep_multiples(3)");
  arx::rng ga(77), gb(77);
  for (int i = 0; i < 500; ++i) {
    const arx::token_id ta = a.sample(l, {}, ga), tb = b.sample(l, {}, gb);
    REQUIRE(ta == tb);
    REQUIRE(ta % 3 == 0);
    REQUIRE(last1 == ta);
  }
  CHECK(n1 == 500);
  CHECK(n2 == 500);
  // The distributions agree too, and sum to 1 with zeros off the support.
  std::vector<float> pa(l.size()), pb(l.size());
  a.distribution(l, {}, pa);
  b.distribution(l, {}, pb);
  CHECK(pa == pb);
  double sum = 0;
  for (std::size_t i = 0; i < pa.size(); ++i) {
    if (i % 3 != 0) CHECK(pa[i] == 0.0f);
    sum += pa[i];
  }
  CHECK(sum == Approx(1.0).epsilon(1e-5));
  // A copied sampler_chain continues identically.
  arx::sampler_chain c = b;
  arx::rng gc(5), gd(5);
  for (int i = 0; i < 50; ++i) CHECK(b.sample(l, {}, gc) == c.sample(l, {}, gd));
}

TEST_CASE("sampling_selector keeps the RNG and the history", "[sampling][chain]") {
  const std::vector<float> l = random_logits(64, 2);
  struct spy {
    std::vector<std::int64_t>* seen_generated;
    std::vector<std::size_t>* seen_history;
    void apply(arx::candidates&, const arx::sampling_context& ctx) {
      seen_generated->push_back(ctx.n_generated);
      seen_history->push_back(ctx.history.size());
    }
  };
  std::vector<std::int64_t> gen;
  std::vector<std::size_t> hist;
  const std::vector<arx::token_id> prompt = {1, 2, 3};
  arx::sampling_selector sel(arx::chain<spy>(spy{&gen, &hist}), 99, prompt);
  arx::chain<> reference;
  arx::rng g(99);
  for (int i = 0; i < 4; ++i) CHECK(sel(l) == reference.sample(l, {}, g));
  CHECK(gen == std::vector<std::int64_t>{0, 1, 2, 3});
  CHECK(hist == std::vector<std::size_t>{3, 4, 5, 6});
  CHECK(sel.history().size() == 7);
  CHECK(std::equal(prompt.begin(), prompt.end(), sel.history().begin()));
}
