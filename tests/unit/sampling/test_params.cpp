// arx::sampling_params / arx::make_sampler / arx::parse_samplers (arx/sampling/params.hpp):
// llama.cpp's defaults and default order, disabled samplers left out, temp <= 0 greedy, Mirostat
// replacing the truncation samplers, order strings (names, letters) and their errors, and the
// same seed giving the same tokens.
#include <catch2/catch.hpp>

#include "throws.hpp"
#include "unit/sampling/chi_square.hpp"

#include <arx/core/error.hpp>
#include <arx/sampling/chain.hpp>
#include <arx/sampling/params.hpp>
#include <arx/sampling/rng.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

using Catch::Matchers::Contains;
using arx::sampler_type;

namespace {

std::vector<float> random_logits(std::size_t n, std::uint64_t seed) {
  arx::rng g(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = float(8.0 * g.uniform() - 4.0);
  return v;
}

std::string text_of(arx::token_id id) { return id % 7 == 0 ? "\n" : "w" + std::to_string(id); }

std::size_t argmax(const std::vector<float>& v) {
  return std::size_t(std::max_element(v.begin(), v.end()) - v.begin());
}

}  // namespace

TEST_CASE("sampling_params: llama.cpp's defaults", "[sampling][params]") {
  const arx::sampling_params p;
  CHECK(p.temp == 0.8f);
  CHECK(p.top_k == 40);
  CHECK(p.top_p == 0.95f);
  CHECK(p.min_p == 0.05f);
  CHECK(p.typical == 1.0f);
  CHECK(p.repeat_last_n == 64);
  CHECK(p.repeat_penalty == 1.0f);
  CHECK(p.frequency_penalty == 0.0f);
  CHECK(p.presence_penalty == 0.0f);
  CHECK(p.top_n_sigma == -1.0f);
  CHECK(p.xtc_probability == 0.0f);
  CHECK(p.xtc_threshold == 0.1f);
  CHECK(p.dry_multiplier == 0.0f);
  CHECK(p.dry_base == 1.75f);
  CHECK(p.dry_allowed_length == 2);
  CHECK(p.dry_penalty_last_n == -1);
  CHECK(p.dry_sequence_breakers == std::vector<std::string>{"\n", ":", "\"", "*"});
  CHECK(p.mirostat == 0);
  CHECK(p.mirostat_tau == 5.0f);
  CHECK(p.mirostat_eta == 0.1f);
  CHECK(p.samplers == "penalties;dry;top_n_sigma;top_k;typ_p;top_p;min_p;xtc;temperature");
}

TEST_CASE("make_sampler: the default chain in llama.cpp's order", "[sampling][params]") {
  const arx::sampling_params p;
  auto s = arx::make_sampler(p);
  CHECK(s.describe() == "top_k(40) -> top_p(0.95) -> min_p(0.05) -> temperature(0.8)");

  // The same distribution as the chain written out by hand.
  arx::sampler_chain manual;
  manual.add(arx::top_k{40}).add(arx::top_p{0.95f}).add(arx::min_p{0.05f}).add(arx::temperature{0.8f});
  const auto logits = random_logits(1000, 1);
  std::vector<float> a(1000), b(1000);
  s.distribution(logits, {}, a);
  manual.distribution(logits, {}, b);
  CHECK(a == b);
}

TEST_CASE("make_sampler: every sampler enabled, in order", "[sampling][params]") {
  arx::sampling_params p;
  p.repeat_penalty = 1.1f;
  p.dry_multiplier = 0.8f;
  p.top_n_sigma = 1.5f;
  p.typical = 0.9f;
  p.xtc_probability = 0.5f;
  p.logit_bias = {{3, -1.0f}};
  const auto s = arx::make_sampler(p, text_of, 1000);
  CHECK(s.describe() ==
        "logit_bias(1 token) -> penalties(last_n=64, repeat=1.1, frequency=0, presence=0) -> "
        "dry(multiplier=0.8, base=1.75, allowed_length=2, last_n=-1) -> top_n_sigma(1.5) -> "
        "top_k(40) -> typical(0.9) -> top_p(0.95) -> min_p(0.05) -> xtc(0.5, 0.1) -> "
        "temperature(0.8)");
  p.min_keep = 3;
  CHECK_THAT(arx::make_sampler(p, text_of, 1000).describe(),
             Contains("typical(0.9, min_keep=3) -> top_p(0.95, min_keep=3) -> "
                      "min_p(0.05, min_keep=3) -> xtc(0.5, 0.1, min_keep=3)"));
  // Frequency or presence alone also turn penalties on.
  arx::sampling_params f;
  f.frequency_penalty = 0.5f;
  CHECK_THAT(arx::make_sampler(f).describe(), Contains("penalties(last_n=64, repeat=1, frequency=0.5"));
  arx::sampling_params q;
  q.presence_penalty = 0.25f;
  CHECK_THAT(arx::make_sampler(q).describe(), Contains("presence=0.25"));
}

TEST_CASE("make_sampler: disabled samplers are left out", "[sampling][params]") {
  arx::sampling_params p;
  p.top_k = 0;
  CHECK(arx::make_sampler(p).describe() == "top_p(0.95) -> min_p(0.05) -> temperature(0.8)");
  p.top_p = 1.0f;
  CHECK(arx::make_sampler(p).describe() == "min_p(0.05) -> temperature(0.8)");
  p.min_p = 0.0f;
  CHECK(arx::make_sampler(p).describe() == "temperature(0.8)");
  p.temp = 1.0f;
  CHECK(arx::make_sampler(p).describe() == "softmax");  // nothing left: the plain softmax
  // Penalties with factor 1 / 0, or a window of 0; XTC with probability 0 or threshold > 0.5;
  // DRY with multiplier 0 or window 0; top_n_sigma -1.
  p.repeat_penalty = 1.5f;
  p.repeat_last_n = 0;
  p.xtc_probability = 0.5f;
  p.xtc_threshold = 0.6f;
  p.dry_multiplier = 1.0f;
  p.dry_penalty_last_n = 0;
  p.top_n_sigma = -1.0f;
  CHECK(arx::make_sampler(p).describe() == "softmax");
  // The plain softmax really is the softmax.
  const auto logits = random_logits(50, 2);
  auto s = arx::make_sampler(p);
  std::vector<float> got(50);
  s.distribution(logits, {}, got);
  const auto want = softmax_double(logits);
  for (std::size_t i = 0; i < 50; ++i) CHECK(double(got[i]) == Approx(want[i]).margin(1e-6));
}

TEST_CASE("make_sampler: temp <= 0 is greedy", "[sampling][params]") {
  const auto logits = random_logits(500, 3);
  for (float t : {0.0f, -1.0f}) {
    arx::sampling_params p;
    p.temp = t;
    p.typical = 0.5f;          // truncation samplers do not run in greedy mode
    p.xtc_probability = 1.0f;  // (XTC would remove the argmax)
    p.xtc_threshold = 0.0f;
    p.mirostat = 2;            // greedy wins over Mirostat too
    auto s = arx::make_sampler(p);
    CHECK(s.describe() == "temperature(0)");
    std::vector<float> got(500);
    s.distribution(logits, {}, got);
    CHECK(got[argmax(logits)] == 1.0f);
    arx::rng g(1);
    for (int i = 0; i < 20; ++i) CHECK(std::size_t(s.sample(logits, {}, g)) == argmax(logits));
  }
  // Logit modifiers still apply: the penalized argmax.
  arx::sampling_params p;
  p.temp = 0.0f;
  p.repeat_penalty = 100.0f;
  auto s = arx::make_sampler(p);
  CHECK(s.describe() == "penalties(last_n=64, repeat=100, frequency=0, presence=0) -> temperature(0)");
  std::vector<float> l = {1.0f, 3.0f, 2.0f};
  const std::vector<arx::token_id> hist = {1};
  arx::rng g(1);
  CHECK(s.sample(l, {hist, 0}, g) == 2);
}

TEST_CASE("make_sampler: Mirostat replaces the truncation samplers", "[sampling][params]") {
  arx::sampling_params p;
  p.mirostat = 2;
  CHECK(arx::make_sampler(p).describe() == "temperature(0.8) -> mirostat_v2(tau=5, eta=0.1)");
  p.mirostat = 1;
  p.mirostat_tau = 3.0f;
  p.mirostat_eta = 0.2f;
  p.repeat_penalty = 1.2f;  // logit modifiers stay
  p.temp = 1.0f;
  CHECK(arx::make_sampler(p).describe() ==
        "penalties(last_n=64, repeat=1.2, frequency=0, presence=0) -> "
        "mirostat_v1(tau=3, eta=0.2, m=100)");
  p.mirostat = 3;
  REQUIRE_THROWS_TYPED(arx::make_sampler(p), arx::invalid_argument, Contains("mirostat must be 0, 1 or 2, got 3"));
  p.mirostat = 2;
  p.mirostat_tau = -1.0f;
  REQUIRE_THROWS_TYPED(arx::make_sampler(p), arx::invalid_argument, Contains("tau"));
}

TEST_CASE("parse_samplers: names, letters, separators", "[sampling][params]") {
  using V = std::vector<sampler_type>;
  const V full = {sampler_type::penalties, sampler_type::dry,   sampler_type::top_n_sigma,
                  sampler_type::top_k,     sampler_type::typical, sampler_type::top_p,
                  sampler_type::min_p,     sampler_type::xtc,   sampler_type::temperature};
  CHECK(arx::parse_samplers(arx::sampling_params{}.samplers) == full);
  CHECK(arx::parse_samplers("edskypmxt") == full);
  CHECK(arx::parse_samplers("e;d;s;k;y;p;m;x;t") == full);
  CHECK(arx::parse_samplers("k;p;t") == V{sampler_type::top_k, sampler_type::top_p, sampler_type::temperature});
  CHECK(arx::parse_samplers("top_k;top_p;temperature") ==
        V{sampler_type::top_k, sampler_type::top_p, sampler_type::temperature});
  CHECK(arx::parse_samplers("kypmxt") == V{sampler_type::top_k, sampler_type::typical, sampler_type::top_p,
                                          sampler_type::min_p, sampler_type::xtc, sampler_type::temperature});
  // llama.cpp's alternative names, ',' as separator, spaces around names.
  CHECK(arx::parse_samplers(" top-k , nucleus;typical-p; typ ;typ-p;typical;min-p;temp;top-n-sigma ") ==
        V{sampler_type::top_k, sampler_type::top_p, sampler_type::typical, sampler_type::typical,
          sampler_type::typical, sampler_type::typical, sampler_type::min_p, sampler_type::temperature,
          sampler_type::top_n_sigma});
  // A whole word that is a name is the name, not letters.
  CHECK(arx::parse_samplers("temp") == V{sampler_type::temperature});
  CHECK(arx::parse_samplers("dry") == V{sampler_type::dry});
  CHECK(arx::parse_samplers("xtc") == V{sampler_type::xtc});
  CHECK(arx::parse_samplers("t") == V{sampler_type::temperature});
  // Repeats are allowed (as in llama.cpp); empty is the empty order.
  CHECK(arx::parse_samplers("tt") == V{sampler_type::temperature, sampler_type::temperature});
  CHECK(arx::parse_samplers("").empty());
  CHECK(arx::parse_samplers("  ").empty());
  CHECK(arx::samplers_to_string(full) == arx::sampling_params{}.samplers);
  for (auto t : full) CHECK(arx::parse_samplers(std::string(1, arx::to_letter(t))) == V{t});
  for (auto t : full) CHECK(arx::parse_samplers(arx::to_string(t)) == V{t});
}

TEST_CASE("parse_samplers: unknown names are errors naming them", "[sampling][params]") {
  REQUIRE_THROWS_TYPED(arx::parse_samplers("bogus"), arx::invalid_argument, Contains("'bogus'"));
  REQUIRE_THROWS_TYPED(arx::parse_samplers("kq"), arx::invalid_argument, Contains("unknown sampler 'kq'"));
  REQUIRE_THROWS_TYPED(arx::parse_samplers("k;q;t"), arx::invalid_argument, Contains("unknown sampler 'q'"));
  REQUIRE_THROWS_TYPED(arx::parse_samplers("top_k;nope"), arx::invalid_argument, Contains("'nope'"));
  REQUIRE_THROWS_TYPED(arx::parse_samplers("k;;t"), arx::invalid_argument, Contains("empty"));
  REQUIRE_THROWS_TYPED(arx::parse_samplers("k;"), arx::invalid_argument, Contains("empty"));
  REQUIRE_THROWS_TYPED(arx::parse_samplers("infill"), arx::invalid_argument, Contains("'infill'"));
  REQUIRE_THROWS_TYPED(arx::parse_samplers("TOP_K"), arx::invalid_argument, Contains("'TOP_K'"));
  arx::sampling_params p;
  p.samplers = "k;bogus";
  REQUIRE_THROWS_TYPED(arx::make_sampler(p), arx::invalid_argument, Contains("'bogus'"));
}

TEST_CASE("make_sampler: a custom order", "[sampling][params]") {
  arx::sampling_params p;
  p.samplers = "t;k";
  CHECK(arx::make_sampler(p).describe() == "temperature(0.8) -> top_k(40)");
  p.samplers = "min_p";
  CHECK(arx::make_sampler(p).describe() == "min_p(0.05)");
  p.samplers = "";
  CHECK(arx::make_sampler(p).describe() == "softmax");
  p.samplers = "ttk";
  CHECK(arx::make_sampler(p).describe() == "temperature(0.8) -> temperature(0.8) -> top_k(40)");
}

TEST_CASE("make_sampler: bad values are errors, not 'off'", "[sampling][params]") {
  auto with = [](auto edit) {
    arx::sampling_params p;
    edit(p);
    return arx::make_sampler(p, text_of, 100);
  };
  REQUIRE_THROWS_TYPED(with([](auto& p) { p.top_p = 1.5f; }), arx::invalid_argument, Contains("top_p"));
  REQUIRE_THROWS_TYPED(with([](auto& p) { p.top_k = -1; }), arx::invalid_argument, Contains("top_k"));
  REQUIRE_THROWS_TYPED(with([](auto& p) { p.min_p = 2.0f; }), arx::invalid_argument, Contains("min_p"));
  REQUIRE_THROWS_TYPED(with([](auto& p) { p.typical = 0.0f; }), arx::invalid_argument, Contains("typical"));
  REQUIRE_THROWS_TYPED(with([](auto& p) { p.top_n_sigma = 0.0f; }), arx::invalid_argument,
                       Contains("top_n_sigma"));
  REQUIRE_THROWS_TYPED(with([](auto& p) { p.temp = std::numeric_limits<float>::quiet_NaN(); }),
                       arx::invalid_argument, Contains("temp is NaN"));
  REQUIRE_THROWS_TYPED(with([](auto& p) { p.temp = std::numeric_limits<float>::infinity(); }),
                       arx::invalid_argument, Contains("temperature"));
  REQUIRE_THROWS_TYPED(with([](auto& p) { p.repeat_penalty = 0.0f; }), arx::invalid_argument,
                       Contains("repeat"));
  REQUIRE_THROWS_TYPED(with([](auto& p) { p.repeat_penalty = 1.1f, p.repeat_last_n = -2; }), arx::invalid_argument, Contains("last_n"));
  REQUIRE_THROWS_TYPED(with([](auto& p) { p.xtc_probability = 1.5f; }), arx::invalid_argument,
                       Contains("probability"));
  REQUIRE_THROWS_TYPED(with([](auto& p) { p.dry_multiplier = 1.0f, p.dry_base = 0.5f; }),
                       arx::invalid_argument, Contains("base"));
  REQUIRE_THROWS_TYPED(with([](auto& p) { p.min_keep = -1; }), arx::invalid_argument, Contains("min_keep"));
  // DRY needs the token texts.
  arx::sampling_params p;
  p.dry_multiplier = 0.8f;
  REQUIRE_THROWS_TYPED(arx::make_sampler(p), arx::invalid_argument, Contains("DRY"));
  CHECK_THAT(arx::make_sampler(p, text_of, 100).describe(), Contains("dry(multiplier=0.8"));
}

TEST_CASE("make_sampler: same seed, same tokens", "[sampling][params]") {
  arx::sampling_params p;
  p.seed = 1234;
  p.repeat_penalty = 1.1f;
  p.xtc_probability = 0.5f;  // XTC has its own rng: part of the state a copy must carry
  p.xtc_threshold = 0.05f;
  p.dry_multiplier = 0.5f;
  // A "model": logits depending on the previous token.
  auto step_logits = [](arx::token_id prev) { return random_logits(300, 1000 + std::uint64_t(prev)); };
  auto run = [&](arx::sampling_selector<arx::sampler_chain>& sel, int n) {
    std::vector<arx::token_id> out;
    arx::token_id prev = sel.history().empty() ? 0 : sel.history().back();
    for (int i = 0; i < n; ++i) {
      prev = sel(step_logits(prev));
      out.push_back(prev);
    }
    return out;
  };
  const std::vector<arx::token_id> prompt = {1, 2, 3};
  arx::sampling_selector a(arx::make_sampler(p, text_of, 300), p.seed, prompt);
  arx::sampling_selector b(arx::make_sampler(p, text_of, 300), p.seed, prompt);
  const auto ta = run(a, 100);
  CHECK(ta == run(b, 100));
  // A copy (sampler state, rng, history) continues exactly like the original.
  auto c = a;
  CHECK(run(a, 100) == run(c, 100));
  // Another seed gives another sequence.
  arx::sampling_params q = p;
  q.seed = 1235;
  arx::sampling_selector d(arx::make_sampler(q, text_of, 300), q.seed, prompt);
  CHECK(run(d, 100) != ta);
  // A copied sampler_chain (with a fresh rng of the same seed) draws the same sequence.
  auto s1 = arx::make_sampler(p, text_of, 300);
  auto s2 = s1;
  const auto logits = random_logits(300, 9);
  arx::rng g1(p.seed), g2(p.seed);
  const std::vector<arx::token_id> hist = {5, 6, 5, 6, 5};
  for (int i = 0; i < 200; ++i) CHECK(s1.sample(logits, {hist, 2}, g1) == s2.sample(logits, {hist, 2}, g2));
}
