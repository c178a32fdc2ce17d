// arx/sampling/penalties.hpp: penalties, no_repeat_ngram, dry, logit_bias, banned_tokens and
// min_length against closed forms written out here from their definitions (in double, by brute
// force where the header is clever: DRY's matches and breakers, n-gram bans), chi-square tests of
// the draws (with a mutated closed form that must be rejected), the no-op limits, llama.cpp's own
// expected values, parameter validation, and 150k-vocabulary runs equal to a naive O(vocab) pass.
#include <catch2/catch.hpp>

#include "throws.hpp"
#include "unit/sampling/chi_square.hpp"

#include <arx/core/error.hpp>
#include <arx/io/gguf.hpp>
#include <arx/io/gguf_writer.hpp>
#include <arx/sampling/candidates.hpp>
#include <arx/sampling/chain.hpp>
#include <arx/sampling/penalties.hpp>
#include <arx/sampling/rng.hpp>
#include <arx/tokenizer/spm.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <set>
#include <span>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

using arx::token_id;
using Catch::Matchers::Contains;

namespace {

constexpr double ninf = -std::numeric_limits<double>::infinity();
constexpr float finf = -std::numeric_limits<float>::infinity();

#ifdef NDEBUG
constexpr std::int64_t n_draws = 100000;
#else
constexpr std::int64_t n_draws = 40000;  // ASan Debug: fewer draws, same checks
#endif

template <class Sampler>
std::vector<float> dist(Sampler& s, std::span<const float> logits, const arx::sampling_context& ctx) {
  std::vector<float> p(logits.size());
  s.distribution(logits, ctx, p);
  return p;
}

/// softmax in double of logits given in double (-inf -> 0).
std::vector<double> softmax_d(const std::vector<double>& l) {
  double m = ninf;
  for (double x : l) m = std::max(m, x);
  std::vector<double> p(l.size());
  double sum = 0;
  for (std::size_t i = 0; i < l.size(); ++i) {
    p[i] = l[i] == ninf ? 0.0 : std::exp(l[i] - m);
    sum += p[i];
  }
  for (double& x : p) x /= sum;
  return p;
}

void require_close(const std::vector<float>& got, const std::vector<double>& want, double tol = 1e-6) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    INFO("token " << i << ": got " << got[i] << ", closed form " << want[i]);
    CHECK(std::fabs(double(got[i]) - want[i]) <= tol);
  }
}

std::vector<double> to_double(const std::vector<float>& v) { return {v.begin(), v.end()}; }

// ---- closed forms, from the definitions ---------------------------------------------------------

/// penalties: window = last `last_n` of h (-1 all); every token occurring c > 0 times:
/// l -> (l > 0 ? l / rep : l * rep) - c * freq - pres.
std::vector<double> penalties_closed(std::vector<double> l, const std::vector<token_id>& h, int last_n,
                                     double rep, double freq, double pres, bool mutate = false) {
  const std::size_t start =
      last_n < 0 || std::size_t(last_n) >= h.size() ? 0 : h.size() - std::size_t(last_n);
  std::map<token_id, int> count;
  for (std::size_t i = start; i < h.size(); ++i) ++count[h[i]];
  for (const auto& [id, c] : count) {
    if (std::size_t(id) >= l.size()) continue;
    double& x = l[std::size_t(id)];
    if (mutate) x = x * rep;  // the classic bug: positive logits made MORE likely
    else x = x > 0 ? x / rep : x * rep;
    x -= c * freq + pres;
  }
  return l;
}

/// DRY by brute force: texts of the tokens, breakers as strings.
struct dry_reference {
  std::vector<std::string> texts;
  std::vector<std::string> breakers;
  double multiplier, base;
  int allowed, last_n;

  std::string text(token_id id) const {
    return id >= 0 && std::size_t(id) < texts.size() ? texts[std::size_t(id)] : std::string();
  }

  /// Tokens after the last window token that overlaps a breaker occurrence in the window text.
  std::int64_t limit(const std::vector<token_id>& w) const {
    std::string s;
    std::vector<std::size_t> st, en;
    for (token_id t : w) {
      st.push_back(s.size());
      s += text(t);
      en.push_back(s.size());
    }
    std::int64_t last = -1;
    for (const auto& b : breakers)
      for (std::size_t pos = s.find(b); pos != std::string::npos; pos = s.find(b, pos + 1))
        for (std::size_t k = 0; k < w.size(); ++k)
          if (std::max(st[k], pos) < std::min(en[k], pos + b.size())) last = std::max(last, std::int64_t(k));
    return std::int64_t(w.size()) - 1 - last;
  }

  /// token -> match length (only those >= allowed), from the definition.
  std::map<token_id, std::int64_t> matches(const std::vector<token_id>& h) const {
    std::map<token_id, std::int64_t> out;
    if (last_n == 0) return out;
    const std::size_t start =
        last_n < 0 || std::size_t(last_n) >= h.size() ? 0 : h.size() - std::size_t(last_n);
    const std::vector<token_id> w(h.begin() + std::ptrdiff_t(start), h.end());
    const auto L = std::int64_t(w.size());
    if (L == 0) return out;
    const std::int64_t lim = limit(w);
    for (std::int64_t j = 1; j < L; ++j) {
      std::int64_t n = 0;
      while (n < j && w[std::size_t(j - 1 - n)] == w[std::size_t(L - 1 - n)]) ++n;
      n = std::min(n, lim);
      if (n < allowed) continue;
      auto [it, fresh] = out.emplace(w[std::size_t(j)], n);
      if (!fresh) it->second = std::max(it->second, n);
    }
    return out;
  }

  bool is_breaker(token_id id) const {
    for (const auto& b : breakers)
      if (text(id).find(b) != std::string::npos) return true;
    return false;
  }

  std::vector<double> closed(std::vector<double> l, const std::vector<token_id>& h,
                             int exponent_shift = 0) const {
    if (multiplier == 0) return l;
    for (const auto& [id, n] : matches(h)) {
      if (std::size_t(id) >= l.size() || is_breaker(id)) continue;
      l[std::size_t(id)] -= multiplier * std::pow(base, double(n - allowed + exponent_shift));
    }
    return l;
  }

  arx::dry make() const {
    return arx::dry([this](token_id id) { return texts[std::size_t(id)]; }, texts.size(),
                    float(multiplier), float(base), allowed, last_n, breakers);
  }
};

/// Bans of no_repeat_ngram by brute force: every n-gram of h whose first n-1 tokens equal the
/// last n-1 of h bans its last token.
std::set<token_id> ngram_bans(const std::vector<token_id>& h, int n) {
  std::set<token_id> out;
  const auto L = std::int64_t(h.size());
  for (std::int64_t i = 0; i + n <= L; ++i) {
    bool same = true;
    for (std::int64_t k = 0; k + 1 < n; ++k) same = same && h[std::size_t(i + k)] == h[std::size_t(L - n + 1 + k)];
    if (same) out.insert(h[std::size_t(i + n - 1)]);
  }
  return out;
}

const std::vector<float> logits8 = {2.0f, -1.0f, 0.5f, 0.0f, 3.0f, -2.5f, 1.0f, -0.3f};

// A processor that reorders the set (sorted, no longer id order) so the map path is exercised.
struct sort_all {
  void apply(arx::candidates& c, const arx::sampling_context&) { c.sort(); }
};
struct keep_top {
  std::size_t k;
  void apply(arx::candidates& c, const arx::sampling_context&) { c.top(k); }
};

}  // namespace


// =================================================================================================
// penalties

TEST_CASE("penalties: distribution equals the closed form", "[sampling][penalties]") {
  const std::vector<token_id> h = {4, 4, 1, 0, 6, 4, 0, 7, 7, 7, 2, 5, 0, 4, 1, 42, -3};
  const arx::sampling_context ctx{h, 5};
  struct param {
    int last_n;
    float rep, freq, pres;
  };
  for (const param q : {param{64, 1.3f, 0.4f, 0.25f}, param{6, 1.3f, 0.4f, 0.25f},
                        param{-1, 0.7f, -0.2f, 0.5f}, param{1, 2.5f, 0.0f, 0.0f},
                        param{3, 2.5f, 0.0f, 0.0f}, param{15, 1.0f, 1.5f, 0.0f},
                        param{3, 1.0f, 0.0f, -1.0f}, param{1000, 1.1f, 0.1f, 0.1f}}) {
    INFO("last_n " << q.last_n << " repeat " << q.rep << " frequency " << q.freq << " presence " << q.pres);
    const auto want =
        softmax_d(penalties_closed(to_double(logits8), h, q.last_n, q.rep, q.freq, q.pres));
    arx::chain s(arx::penalties{q.last_n, q.rep, q.freq, q.pres});
    require_close(dist(s, logits8, ctx), want);
    arx::chain sorted(sort_all{}, arx::penalties{q.last_n, q.rep, q.freq, q.pres});  // map path
    require_close(dist(sorted, logits8, ctx), want);
  }
}

TEST_CASE("penalties: llama.cpp's test-sampling expectations", "[sampling][penalties]") {
  // llama.cpp tests/test-sampling.cpp: logits = log(0.2) for 5 tokens, the history accepted into
  // a window of its own length; expected probabilities (there sorted, here by id).
  const std::vector<float> l(5, std::log(0.2f));
  const auto run = [&](std::vector<token_id> h, float rep, float freq, float pres) {
    arx::chain s(arx::penalties{int(h.size()), rep, freq, pres});
    return to_double(dist(s, l, {h, 0}));
  };
  const auto near = [](const std::vector<double>& got, const std::vector<double>& want) {
    for (std::size_t i = 0; i < want.size(); ++i) {
      INFO("token " << i << ": " << got[i] << " vs " << want[i]);
      CHECK(std::fabs(got[i] - want[i]) < 2e-6);
    }
  };
  near(run({0}, 50, 0, 0), {0, 0.25, 0.25, 0.25, 0.25});
  near(run({0, 1, 2}, 50, 0, 0), {0, 0, 0, 0.5, 0.5});
  near(run({0, 1, 2, 0, 0}, 50, 0, 0), {0, 0, 0, 0.5, 0.5});
  near(run({0}, 1, 5, 5), {0.000011, 0.249997, 0.249997, 0.249997, 0.249997});
  near(run({0, 1, 2}, 1, 5, 5), {0.000023, 0.000023, 0.000023, 0.499966, 0.499966});
  near(run({0, 1, 2, 0, 0}, 1, 5, 5), {0.0, 0.000023, 0.000023, 0.499977, 0.499977});
}

TEST_CASE("penalties: draws follow the closed form (chi-square), a wrong one is rejected",
          "[sampling][penalties]") {
  const std::vector<token_id> h = {4, 4, 1, 0, 6, 4, 0, 7, 7, 7, 2, 5, 0, 4, 1};
  const arx::sampling_context ctx{h, 0};
  const int last_n = 9;
  const float rep = 1.3f, freq = 0.3f, pres = 0.2f;
  arx::chain s(arx::penalties{last_n, rep, freq, pres});
  const auto counts = histogram(s, logits8, ctx, 20261123, n_draws);
  const auto good = softmax_d(penalties_closed(to_double(logits8), h, last_n, rep, freq, pres));
  const auto bad = softmax_d(penalties_closed(to_double(logits8), h, last_n, rep, freq, pres, true));
  const auto r_good = chi_square_test(counts, good, n_draws);
  const auto r_bad = chi_square_test(counts, bad, n_draws);
  INFO("penalties: p = " << r_good.p << " (X2 " << r_good.statistic << ", df " << r_good.df
                         << "); mutated (repeat multiplies positive logits): p = " << r_bad.p
                         << " (X2 " << r_bad.statistic << ")");
  CHECK(r_good.p > 1e-6);
  CHECK(r_bad.p < 1e-6);
  // Same seed, same tokens.
  arx::chain s2(arx::penalties{last_n, rep, freq, pres});
  CHECK(histogram(s2, logits8, ctx, 20261123, 2000) == histogram(s, logits8, ctx, 20261123, 2000));
}

// =================================================================================================
// DRY

namespace {
// 0 "the" 1 " cat" 2 " sat" 3 " on" 4 " mat" 5 "\n" 6 "." 7 " dog" 8 "x:" 9 "*" 10 "\""
// 11 "" 12 ".\n" 13 "a" 14 "b" 15 "c"
const std::vector<std::string> toy_texts = {"the", " cat", " sat", " on", " mat", "\n", ".", " dog",
                                            "x:", "*", "\"", "", ".\n", "a", "b", "c"};
const std::vector<float> toy_logits = {1.0f, 0.5f, 2.0f, 2.5f, -0.5f, 0.2f, 0.0f, 1.5f,
                                       -1.0f, 0.3f, -0.2f, 0.1f, 0.4f, 1.2f, 0.8f, -0.7f};
const std::vector<std::string> default_breakers = {"\n", ":", "\"", "*"};
}  // namespace

TEST_CASE("dry: matches and distribution equal the definition on chosen histories",
          "[sampling][dry]") {
  struct cse {
    std::vector<token_id> h;
    std::vector<std::string> breakers;
    int allowed, last_n;
    std::map<token_id, std::int64_t> expect;  // match lengths written out by hand
  };
  const std::vector<cse> cases = {
      // "the cat sat on" ... "the cat sat on the": emitting " mat" (4) repeats 5; "the"->" cat" 1
      {{0, 1, 2, 3, 0, 4, 6, 0, 1, 2, 3, 0}, default_breakers, 2, -1, {{4, 5}}},
      {{0, 1, 2, 3, 0, 4, 6, 0, 1, 2, 3, 0}, default_breakers, 1, -1, {{4, 5}, {1, 1}}},
      {{0, 1, 2, 3, 0, 4, 6, 0, 1, 2, 3, 0}, default_breakers, 1, 6, {{1, 1}}},
      {{0, 1, 2, 3, 0, 4, 6, 0, 1, 2, 3, 0}, default_breakers, 2, 6, {}},
      {{0, 1, 2, 3, 0, 4, 6, 0, 1, 2, 3, 0}, default_breakers, 5, -1, {{4, 5}}},
      // a "\n" breaker: the repetition cannot reach back over it
      {{0, 1, 2, 5, 0, 1}, default_breakers, 2, -1, {{2, 2}}},
      {{0, 1, 2, 7, 0, 1, 5, 7, 0, 1}, default_breakers, 2, -1, {{2, 2}, {5, 3}}},
      {{0, 1, 2, 7, 0, 1, 3, 7, 0, 1}, default_breakers, 2, -1, {{2, 2}, {3, 3}}},
      // a breaker inside a longer token (".\n"), then ':' inside "x:"
      {{0, 1, 2, 3, 12, 0, 1, 2}, default_breakers, 2, -1, {{3, 3}}},
      {{0, 1, 2, 8, 0, 1, 2, 8, 0, 1, 2}, default_breakers, 1, -1, {{8, 3}}},  // limit 3
      // multi-token breaker "ab" split over tokens, also across an empty-text token
      {{0, 13, 14, 1, 2, 0, 13, 14, 1}, {"ab"}, 2, -1, {}},
      {{0, 13, 14, 1, 2, 0, 13, 14, 1}, {"\n"}, 2, -1, {{2, 4}}},
      {{0, 13, 11, 14, 1, 2, 0, 13, 11, 14, 1}, {"ab"}, 2, -1, {}},
      {{0, 14, 13, 1, 2, 0, 14, 13, 1}, {"ab"}, 2, -1, {{2, 4}}},  // "ba" is no breaker
      {{0, 14, 13, 1, 2, 0, 14, 13, 1}, {"ab", "\n"}, 2, -1, {{2, 4}}},
      // the last breaker to end is a longer one that starts before a shorter one: "abc" over "b"
      {{15, 0, 1, 13, 14, 15, 0, 1}, {"b", "abc"}, 2, -1, {{13, 2}}},
      {{15, 0, 1, 13, 14, 15, 0, 1}, {"b"}, 2, -1, {{13, 3}}},
      // a breaker as the candidate is never penalized (here 5 = "\n" would have match 1)
      {{0, 5, 0, 5, 0}, default_breakers, 1, -1, {{5, 1}}},
      {{7, 7, 7, 7}, default_breakers, 2, -1, {{7, 3}}},
      {{7, 7, 7, 7}, default_breakers, 0, -1, {{7, 3}}},
      {{0, 1, 2}, default_breakers, 0, -1, {{1, 0}, {2, 0}}},
      {{}, default_breakers, 0, -1, {}},
  };
  for (const auto& cs : cases) {
    const dry_reference ref{toy_texts, cs.breakers, 0.8, 1.75, cs.allowed, cs.last_n};
    INFO("history of " << cs.h.size() << " tokens, allowed " << cs.allowed << ", last_n " << cs.last_n);
    // the brute-force reference agrees with the hand-written expectation ...
    const auto want_matches = ref.matches(cs.h);
    CHECK(want_matches == cs.expect);
    // ... and the processor agrees with the reference
    auto d = ref.make();
    const auto got = d.matches(cs.h);
    CHECK(std::map<token_id, std::int64_t>(got.begin(), got.end()) == want_matches);
    arx::chain s(ref.make());
    const auto want = softmax_d(ref.closed(to_double(toy_logits), cs.h));
    require_close(dist(s, toy_logits, {cs.h, 0}), want);
    arx::chain sorted(keep_top{12}, ref.make());
    auto top12 = to_double(toy_logits);
    {
      std::vector<std::size_t> idx(toy_logits.size());
      for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = i;
      std::stable_sort(idx.begin(), idx.end(),
                       [&](std::size_t a, std::size_t b) { return toy_logits[a] > toy_logits[b]; });
      for (std::size_t i = 12; i < idx.size(); ++i) top12[idx[i]] = ninf;
    }
    require_close(dist(sorted, toy_logits, {cs.h, 0}), softmax_d(ref.closed(top12, cs.h)));
  }
}

TEST_CASE("dry: huge penalties stay finite, bans stay bans", "[sampling][dry]") {
  const dry_reference ref{toy_texts, default_breakers, 1.0, 1.75, 2, -1};
  const std::vector<token_id> h(400, 7);  // " dog" x 400: 1.75^397 overflows a float (and a double)
  REQUIRE(ref.matches(h) == std::map<token_id, std::int64_t>{{7, 399}});
  arx::chain s(ref.make());
  auto want = to_double(toy_logits);
  want[7] = ninf;
  require_close(dist(s, toy_logits, {h, 0}), softmax_d(want));
  // the penalized token alone: still a candidate (finite logit), so it is drawn with p = 1
  arx::chain alone(arx::banned_tokens{{0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15}}, ref.make());
  const auto& c = alone.process(toy_logits, {h, 0});
  REQUIRE(c.size() == 1);
  CHECK(c[0].id == 7);
  CHECK(std::isfinite(c[0].logit));
  CHECK(c[0].p == 1.0f);
  // a token banned before DRY stays banned (-inf is not lifted to a finite logit)
  arx::chain banned(arx::banned_tokens{{7}}, ref.make());
  const auto& b = banned.process(toy_logits, {h, 0});
  CHECK(b.size() == toy_logits.size() - 1);
  for (const auto& x : b) CHECK(x.id != 7);
}

TEST_CASE("dry: llama.cpp's test-sampling expectations", "[sampling][dry]") {
  // llama.cpp tests/test-sampling.cpp test_dry (token-id breakers there; here the breaker token's
  // text is "\n"). Expected probabilities by id.
  const std::vector<std::string> texts = {"a", "b", "c", "\n", "e"};
  const auto run = [&](std::size_t n, std::vector<token_id> h, float mult, float base, int allowed,
                       int last_n, std::vector<std::string> breakers) {
    const std::vector<float> l(n, std::log(1.0f / float(n)));
    arx::chain s(arx::dry([&](token_id id) { return texts[std::size_t(id)]; }, texts.size(), mult,
                          base, allowed, last_n, std::move(breakers)));
    return to_double(dist(s, l, {h, 0}));
  };
  const auto near = [](const std::vector<double>& got, const std::vector<double>& want) {
    REQUIRE(got.size() == want.size());
    for (std::size_t i = 0; i < want.size(); ++i) {
      INFO("token " << i << ": " << got[i] << " vs " << want[i]);
      CHECK(std::fabs(got[i] - want[i]) < 2e-6);
    }
  };
  near(run(4, {0, 1}, 1.0f, 1.1f, 2, 4, {}), {0.25, 0.25, 0.25, 0.25});
  near(run(4, {0, 1, 2, 0, 1}, 1.0f, 1.1f, 2, 5, {}), {0.296923, 0.296923, 0.109232, 0.296923});
  near(run(5, {0, 1, 3, 4, 0, 1}, 1.0f, 1.1f, 2, 6, {"\n"}), {0.2, 0.2, 0.2, 0.2, 0.2});
  near(run(5, {0, 1, 2, 0, 1}, 2.0f, 1.1f, 2, 5, {}),
       {0.241818, 0.241818, 0.032727, 0.241818, 0.241818});
  near(run(5, {0, 1, 2, 3, 4, 0, 1}, 1.0f, 1.1f, 4, 7, {}), {0.2, 0.2, 0.2, 0.2, 0.2});
}

TEST_CASE("dry: random histories agree with the brute-force definition", "[sampling][dry]") {
  arx::rng g(99);
  const auto pick = [&](std::size_t n) { return std::size_t(g.uniform() * double(n)); };
  const std::vector<std::vector<std::string>> breaker_sets = {
      default_breakers, {}, {"ab", "\n"}, {"c", "x:", "\n"}, {".\n"}, {"at"}, {"b", "abc"}};
  const std::vector<int> last_ns = {-1, 0, 1, 4, 9, 30};
  for (int iter = 0; iter < 400; ++iter) {
    // few distinct tokens so repetitions are common; sometimes a breaker or an empty token
    const std::size_t alphabet = 2 + pick(6);
    std::vector<token_id> pool;
    for (std::size_t i = 0; i < alphabet; ++i) pool.push_back(token_id(pick(toy_texts.size())));
    std::vector<token_id> h(pick(40));
    for (auto& t : h) t = pool[pick(pool.size())];
    const dry_reference ref{toy_texts, breaker_sets[pick(breaker_sets.size())], 0.5 + g.uniform(),
                            1.0 + g.uniform(), int(pick(4)), last_ns[pick(last_ns.size())]};
    auto d = ref.make();
    const auto got = d.matches(h);
    const auto want = ref.matches(h);
    INFO("iteration " << iter);
    REQUIRE(std::map<token_id, std::int64_t>(got.begin(), got.end()) == want);
    arx::chain s(ref.make());
    require_close(dist(s, toy_logits, {h, 0}), softmax_d(ref.closed(to_double(toy_logits), h)));
  }
}

TEST_CASE("dry: draws follow the closed form (chi-square), a wrong one is rejected",
          "[sampling][dry]") {
  // " sat" (2) would repeat 2 tokens ("the cat"), " on" (3) 3 tokens (" dog the cat").
  const std::vector<token_id> h = {0, 1, 2, 7, 0, 1, 3, 7, 0, 1};
  const dry_reference ref{toy_texts, default_breakers, 0.8, 1.75, 2, -1};
  REQUIRE(ref.matches(h) == std::map<token_id, std::int64_t>{{2, 2}, {3, 3}});
  arx::chain s(ref.make());
  const arx::sampling_context ctx{h, 0};
  const auto counts = histogram(s, toy_logits, ctx, 77, n_draws);
  const auto good = softmax_d(ref.closed(to_double(toy_logits), h));
  const auto bad = softmax_d(ref.closed(to_double(toy_logits), h, 1));  // exponent off by one
  const auto r_good = chi_square_test(counts, good, n_draws);
  const auto r_bad = chi_square_test(counts, bad, n_draws);
  INFO("dry: p = " << r_good.p << " (X2 " << r_good.statistic << ", df " << r_good.df
                   << "); mutated (base^(n - allowed + 1)): p = " << r_bad.p << " (X2 "
                   << r_bad.statistic << ")");
  CHECK(r_good.p > 1e-6);
  CHECK(r_bad.p < 1e-6);
}

TEST_CASE("dry: token texts from an spm_tokenizer; copies share the tables", "[sampling][dry]") {
  const std::string sp = "\xe2\x96\x81";
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
  std::vector<std::int32_t> types = {2, 3, 3};
  static constexpr char hex[] = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b) {
    tokens.push_back(std::string("<0x") + hex[b >> 4] + hex[b & 15] + ">");
    types.push_back(6);
  }
  for (std::string t : {sp + "the", sp + "cat", sp + "sat", std::string("x:")}) {
    tokens.push_back(t);
    types.push_back(1);
  }
  std::vector<float> scores(tokens.size(), 0.0f);
  arx::gguf::writer w;
  w.set("tokenizer.ggml.model", "llama");
  w.set_array("tokenizer.ggml.tokens", tokens);
  w.set_array("tokenizer.ggml.scores", scores);
  w.set_array("tokenizer.ggml.token_type", types);
  w.set("tokenizer.ggml.unknown_token_id", std::uint32_t(0));
  w.set("tokenizer.ggml.bos_token_id", std::uint32_t(1));
  w.set("tokenizer.ggml.eos_token_id", std::uint32_t(2));
  w.set("tokenizer.ggml.add_space_prefix", true);
  const auto tok = arx::spm_tokenizer::from_gguf(arx::gguf::file::from_bytes(w.to_bytes(), "v.gguf"));
  const token_id nl = 3 + '\n', the = 259, cat = 260, sat = 261, xcolon = 262;

  arx::dry d(tok, 0.8f);
  CHECK(d.n_vocab() == tokens.size());
  CHECK(d.breakers() == default_breakers);
  std::vector<std::string> texts;
  for (std::size_t i = 0; i < tokens.size(); ++i) texts.push_back(tok.piece(token_id(i), true));
  REQUIRE(texts[std::size_t(nl)] == "\n");
  const dry_reference ref{texts, default_breakers, 0.8, 1.75, 2, -1};
  std::vector<float> logits(tokens.size(), 0.0f);
  for (const auto& h : {std::vector<token_id>{the, cat, sat, nl, the, cat},
                        std::vector<token_id>{the, cat, nl, the, cat, nl, the, cat},
                        std::vector<token_id>{the, cat, sat, xcolon, the, cat, sat, the, cat},
                        std::vector<token_id>{1, the, cat, sat, the, cat, sat, the, cat}}) {
    CHECK(!ref.matches(h).empty());
    arx::sampler_chain s;
    s.add(d);
    const arx::sampler_chain copy = s;  // clone: shares the immutable token tables
    arx::sampler_chain c2 = copy;
    require_close(dist(c2, logits, {h, 0}), softmax_d(ref.closed(to_double(logits), h)));
  }
}

// =================================================================================================
// no_repeat_ngram

TEST_CASE("no_repeat_ngram: bans equal the brute-force n-gram scan", "[sampling][no_repeat_ngram]") {
  arx::rng g(5);
  for (int iter = 0; iter < 300; ++iter) {
    const int n = 1 + int(g.uniform() * 4);
    std::vector<token_id> h(std::size_t(g.uniform() * 30));
    const int alphabet = 1 + int(g.uniform() * 4);
    for (auto& t : h) t = token_id(g.uniform() * alphabet);
    std::vector<double> want = to_double(logits8);
    const auto bans = ngram_bans(h, n);
    if (bans.size() == logits8.size()) continue;  // everything banned: nothing to draw
    for (token_id t : bans) want[std::size_t(t)] = ninf;
    INFO("iteration " << iter << ", n " << n);
    arx::chain s(arx::no_repeat_ngram{n});
    require_close(dist(s, logits8, {h, 0}), softmax_d(want));
    arx::chain sorted(sort_all{}, arx::no_repeat_ngram{n});
    require_close(dist(sorted, logits8, {h, 0}), softmax_d(want));
  }
  // hand-made: "1 2 3 1 2" with n = 3 bans 3; n = 2 bans 3 (after "2"); n = 1 bans 1, 2, 3
  const std::vector<token_id> h = {1, 2, 3, 1, 2};
  const auto banned = [&](int n) {
    arx::chain s(arx::no_repeat_ngram{n});
    std::set<token_id> out;
    const auto p = dist(s, logits8, {h, 0});
    for (std::size_t i = 0; i < p.size(); ++i)
      if (p[i] == 0.0f) out.insert(token_id(i));
    return out;
  };
  CHECK(banned(1) == std::set<token_id>{1, 2, 3});
  CHECK(banned(2) == std::set<token_id>{3});
  CHECK(banned(3) == std::set<token_id>{3});
  CHECK(banned(4).empty());
  CHECK(banned(5).empty());
  CHECK(banned(6).empty());
}

TEST_CASE("no_repeat_ngram: a long random generation never repeats an n-gram",
          "[sampling][no_repeat_ngram]") {
  // Peaked logits: without the processor the same n-grams come back all the time.
  std::vector<float> logits(64);
  for (std::size_t i = 0; i < logits.size(); ++i) logits[i] = -0.25f * float(i);
  const auto repeats = [](const std::vector<token_id>& seq, int n) {
    std::set<std::vector<token_id>> seen;
    int count = 0;
    for (std::size_t i = 0; i + std::size_t(n) <= seq.size(); ++i)
      count += !seen.emplace(seq.begin() + std::ptrdiff_t(i), seq.begin() + std::ptrdiff_t(i) + n).second;
    return count;
  };
  const std::vector<token_id> prompt = {0, 1, 0};
  for (const int n : {3, 4}) {
    arx::sampling_selector with(arx::chain(arx::no_repeat_ngram{n}), 1234 + std::uint64_t(n), prompt);
    arx::sampling_selector without(arx::chain<>(), 1234 + std::uint64_t(n), prompt);
    for (int i = 0; i < 1500; ++i) {
      with(logits);
      without(logits);
    }
    INFO("n = " << n);
    CHECK(repeats(with.history(), n) == 0);
    CHECK(repeats(without.history(), n) > 100);
  }
}

// =================================================================================================
// logit_bias, banned_tokens, min_length

TEST_CASE("logit_bias and banned_tokens: closed forms", "[sampling][logit_bias][banned_tokens]") {
  const arx::sampling_context ctx{};
  {
    // duplicates add up; -inf bans; ids outside the vocabulary are ignored
    arx::chain s(arx::logit_bias{{{1, 2.5f}, {4, -1.0f}, {1, 0.5f}, {6, finf}, {1000, 3.0f}}});
    auto want = to_double(logits8);
    want[1] += 3.0;
    want[4] -= 1.0;
    want[6] = ninf;
    require_close(dist(s, logits8, ctx), softmax_d(want));
    arx::chain sorted(sort_all{}, arx::logit_bias{{{1, 2.5f}, {4, -1.0f}, {1, 0.5f}, {6, finf}}});
    require_close(dist(sorted, logits8, ctx), softmax_d(want));
  }
  {
    arx::chain s(arx::banned_tokens{{4, 0, 4, 99}});
    auto want = to_double(logits8);
    want[4] = want[0] = ninf;
    require_close(dist(s, logits8, ctx), softmax_d(want));
    arx::chain top(keep_top{3}, arx::banned_tokens{{4, 0}});  // top 3: 4, 0, 6 -> only 6 left
    const auto p = dist(top, logits8, ctx);
    CHECK(p[6] == 1.0f);
  }
}

TEST_CASE("min_length: stop ids are banned exactly while n_generated < n", "[sampling][min_length]") {
  const std::vector<token_id> h = {1, 2, 3};
  for (const std::int64_t n : {0, 1, 4}) {
    arx::chain s(arx::min_length{n, {2, 5}});
    for (std::int64_t gen = 0; gen < 7; ++gen) {
      auto want = to_double(logits8);
      if (gen < n) want[2] = want[5] = ninf;
      INFO("n " << n << ", generated " << gen);
      require_close(dist(s, logits8, {h, gen}), softmax_d(want));
    }
  }
  // In a generation where EOS (2) is all but certain, it comes exactly at generated index n.
  std::vector<float> logits(8, 0.0f);
  logits[2] = 40.0f;
  for (const std::int64_t n : {0, 1, 5, 17}) {
    arx::sampling_selector sel(arx::chain(arx::min_length{n, {2}}), 7, h);
    std::int64_t first_eos = -1;
    for (std::int64_t i = 0; i < n + 3 && first_eos < 0; ++i)
      if (sel(logits) == 2) first_eos = i;
    CHECK(first_eos == n);
  }
}

// =================================================================================================
// limits, validation, names

TEST_CASE("penalty processors: neutral parameters change nothing", "[sampling][penalties]") {
  const std::vector<token_id> h = {4, 4, 1, 0, 6, 4, 0, 7, 7, 7, 2, 5, 0, 4, 1, 4, 0};
  const arx::sampling_context ctx{h, 3};
  arx::chain<> plain;
  const auto base = dist(plain, logits8, ctx);
  const auto same = [&](auto proc) {
    arx::chain s(std::move(proc));
    INFO(std::get<0>(s.processors()).name());
    CHECK(dist(s, logits8, ctx) == base);
    CHECK(dist(s, logits8, {}) == base);  // empty history
  };
  same(arx::penalties{64, 1.0f, 0.0f, 0.0f});  // factor 1 / 0
  same(arx::penalties{-1, 1.0f, 0.0f, 0.0f});
  same(arx::penalties{0, 1.7f, 0.5f, 0.5f});   // window 0
  const auto text = [](token_id id) { return std::string(1, char('a' + id)); };
  same(arx::dry(text, 8, 0.0f));               // multiplier 0
  same(arx::dry(text, 8, 0.8f, 1.75f, 2, 0));  // window 0
  same(arx::dry(text, 8, 0.8f, 1.75f, 100));   // nothing that long repeats
  same(arx::logit_bias{{}});
  same(arx::logit_bias{{{3, 0.0f}}});
  same(arx::banned_tokens{{}});
  same(arx::min_length{0, {2}});
  same(arx::no_repeat_ngram{40});
}

TEST_CASE("penalty processors: bad parameters are typed errors naming them", "[sampling][penalties]") {
  using arx::invalid_argument;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  REQUIRE_THROWS_TYPED(arx::penalties(-2), invalid_argument, Contains("last_n = -2"));
  REQUIRE_THROWS_TYPED(arx::penalties(64, 0.0f), invalid_argument, Contains("repeat = 0"));
  REQUIRE_THROWS_TYPED(arx::penalties(64, -1.0f), invalid_argument, Contains("repeat = -1"));
  REQUIRE_THROWS_TYPED(arx::penalties(64, nan), invalid_argument, Contains("repeat = nan"));
  REQUIRE_THROWS_TYPED(arx::penalties(64, inf), invalid_argument, Contains("repeat = inf"));
  REQUIRE_THROWS_TYPED(arx::penalties(64, 1.0f, nan), invalid_argument, Contains("frequency = nan"));
  REQUIRE_THROWS_TYPED(arx::penalties(64, 1.0f, 0.0f, -inf), invalid_argument,
                       Contains("presence = -inf"));
  REQUIRE_THROWS_TYPED(arx::no_repeat_ngram(0), invalid_argument, Contains("n = 0"));
  REQUIRE_THROWS_TYPED(arx::no_repeat_ngram(-3), invalid_argument, Contains("n = -3"));
  const auto text = [](token_id) { return std::string("x"); };
  REQUIRE_THROWS_TYPED(arx::dry(text, 8, -0.5f), invalid_argument, Contains("multiplier = -0.5"));
  REQUIRE_THROWS_TYPED(arx::dry(text, 8, nan), invalid_argument, Contains("multiplier = nan"));
  REQUIRE_THROWS_TYPED(arx::dry(text, 8, 0.8f, 0.9f), invalid_argument, Contains("base = 0.9"));
  REQUIRE_THROWS_TYPED(arx::dry(text, 8, 0.8f, inf), invalid_argument, Contains("base = inf"));
  REQUIRE_THROWS_TYPED(arx::dry(text, 8, 0.8f, 1.75f, -1), invalid_argument,
                       Contains("allowed_length = -1"));
  REQUIRE_THROWS_TYPED(arx::dry(text, 8, 0.8f, 1.75f, 2, -5), invalid_argument, Contains("last_n = -5"));
  REQUIRE_THROWS_TYPED(arx::dry(text, 0, 0.8f), invalid_argument, Contains("n_vocab = 0"));
  REQUIRE_THROWS_TYPED(arx::dry(text, 8, 0.8f, 1.75f, 2, -1, {"\n", ""}), invalid_argument,
                       Contains("sequence breaker 1 is empty"));
  REQUIRE_THROWS_TYPED(arx::logit_bias({{-1, 1.0f}}), invalid_argument, Contains("token id -1"));
  REQUIRE_THROWS_TYPED(arx::logit_bias({{3, nan}}), invalid_argument, Contains("bias of token 3 is nan"));
  REQUIRE_THROWS_TYPED(arx::logit_bias({{3, inf}}), invalid_argument, Contains("bias of token 3 is inf"));
  REQUIRE_THROWS_TYPED(arx::banned_tokens({1, -7}), invalid_argument, Contains("token id -7"));
  REQUIRE_THROWS_TYPED(arx::min_length(-1, {2}), invalid_argument, Contains("n = -1"));
  REQUIRE_THROWS_TYPED(arx::min_length(3, {}), invalid_argument, Contains("stop_ids is empty"));
  REQUIRE_THROWS_TYPED(arx::min_length(3, {2, -2}), invalid_argument, Contains("stop id -2"));
}

TEST_CASE("penalty processors: names", "[sampling][penalties]") {
  arx::sampler_chain s;
  s.add(arx::penalties{64, 1.1f, 0.0f, 0.5f});
  s.add(arx::dry([](token_id) { return std::string("x"); }, 4, 0.8f));
  s.add(arx::no_repeat_ngram{3});
  s.add(arx::logit_bias{{{1, 1.0f}, {2, -1.0f}}});
  s.add(arx::banned_tokens{{7}});
  s.add(arx::min_length{5, {2}});
  CHECK(s.describe() ==
        "penalties(last_n=64, repeat=1.1, frequency=0, presence=0.5) -> "
        "dry(multiplier=0.8, base=1.75, allowed_length=2, last_n=-1) -> no_repeat_ngram(3) -> "
        "logit_bias(2 tokens) -> banned_tokens(1 token) -> min_length(5)");
}

// =================================================================================================
// a 150k vocabulary: results equal a naive O(vocab) pass

TEST_CASE("penalties on a 150k vocabulary equal a naive O(vocab) pass", "[sampling][penalties]") {
  constexpr std::size_t V = 150000;
  arx::rng g(2026);
  std::vector<float> logits(V);
  for (auto& l : logits) l = float(g.uniform() * 20.0 - 10.0);
  std::vector<token_id> h(500);
  for (std::size_t i = 0; i < h.size(); ++i)  // half from a small pool so counts exceed 1
    h[i] = i % 2 ? token_id(g.uniform() * double(V)) : token_id(g.uniform() * 20.0) * 7000;
  const arx::sampling_context ctx{h, 100};
  const int last_n = 256;
  const float rep = 1.2f, freq = 0.3f, pres = 0.4f;

  // naive: a count per vocabulary entry, then a pass over every token, same float operations
  std::vector<int> count(V, 0);
  for (std::size_t i = h.size() - last_n; i < h.size(); ++i) ++count[std::size_t(h[i])];
  std::vector<float> naive = logits;
  for (std::size_t id = 0; id < V; ++id) {
    if (count[id] == 0) continue;
    float& x = naive[id];
    x = x > 0.0f ? x / rep : x * rep;
    x -= float(count[id]) * freq + pres;
  }

  arx::chain s(arx::penalties{last_n, rep, freq, pres});
  const auto& c = s.process(logits, ctx);
  REQUIRE(c.size() == V);
  std::size_t changed = 0, differ = 0;
  for (const auto& x : c) {
    differ += x.logit != naive[std::size_t(x.id)];
    changed += x.logit != logits[std::size_t(x.id)];
  }
  CHECK(differ == 0);
  CHECK(changed > 100);
  CHECK(changed <= std::size_t(last_n));
  // after a partial selection (not id order): the map path, same values on the survivors
  arx::chain top(keep_top{5000}, arx::penalties{last_n, rep, freq, pres});
  const auto& t = top.process(logits, ctx);
  differ = 0;
  for (const auto& x : t) differ += x.logit != naive[std::size_t(x.id)];
  CHECK(t.size() == 5000);
  CHECK(differ == 0);

  // DRY on the same vocabulary equals the brute-force definition
  std::vector<std::string> texts(V);
  for (std::size_t i = 0; i < V; ++i) texts[i] = i % 997 == 0 ? "\n" : std::to_string(i) + "w";
  std::vector<token_id> hd = {5, 6, 7, 8, 9, 10, 5, 6, 7, 1994, 5, 6, 7, 8, 5, 6, 7};
  const dry_reference ref{texts, default_breakers, 0.8, 1.75, 2, -1};
  auto d = ref.make();
  const auto m = d.matches(hd);
  CHECK(std::map<token_id, std::int64_t>(m.begin(), m.end()) == ref.matches(hd));
  CHECK(ref.matches(hd) == std::map<token_id, std::int64_t>{{8, 3}, {1994, 3}});  // limit 7
  arx::chain sd(std::move(d));
  const auto& cd = sd.process(logits, {hd, 0});
  const auto want = ref.closed(to_double(logits), hd);
  differ = 0;
  for (const auto& x : cd) differ += std::fabs(double(x.logit) - want[std::size_t(x.id)]) > 1e-5;
  CHECK(differ == 0);
  CHECK(cd[8].logit < logits[8]);
}
