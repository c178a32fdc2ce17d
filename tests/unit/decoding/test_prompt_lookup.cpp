// Prompt lookup (arx/decoding/prompt_lookup.hpp): what it proposes, checked against a brute-force
// search written independently of the header, and its errors.
#include <catch2/catch.hpp>

#include <arx/decoding/prompt_lookup.hpp>
#include <arx/sampling/rng.hpp>

#include <cstdint>
#include <vector>

namespace {

using ids = std::vector<arx::token_id>;

// Brute force: for n = max..min, every start s whose n tokens equal the suffix and that has a
// follower; the largest such s wins; its followers, at most gamma.
ids brute(const ids& h, int gamma, int max_n, int min_n) {
  for (int n = max_n; n >= min_n; --n) {
    const int size = int(h.size());
    if (size <= n) continue;
    int best = -1;
    for (int s = 0; s + n < size; ++s) {
      bool eq = true;
      for (int k = 0; k < n; ++k) eq = eq && h[std::size_t(s + k)] == h[std::size_t(size - n + k)];
      if (eq) best = s;
    }
    if (best >= 0) {
      ids out;
      for (int j = best + n; j < size && int(out.size()) < gamma; ++j)
        out.push_back(h[std::size_t(j)]);
      return out;
    }
  }
  return {};
}

}  // namespace

TEST_CASE("prompt_lookup proposes what followed the last match of the suffix",
          "[decoding][prompt_lookup]") {
  const arx::prompt_lookup d(3, 1);
  // "... 5 6 7 8 9 ... 5 6 7" -> "8 9 ..."
  const ids h{1, 5, 6, 7, 8, 9, 2, 3, 5, 6, 7};
  CHECK(d.draft(h, 2) == ids{8, 9});
  CHECK(d.draft(h, 4) == ids{8, 9, 2, 3});
  CHECK(d.draft(h, 0).empty());
  // The longest n-gram wins over a more recent shorter match: "6 7" last occurs right after 4.
  const ids h2{6, 7, 1, 2, 4, 6, 7, 3, 9, 4, 6, 7};
  CHECK(d.draft(h2, 1) == ids{3});  // 3-gram "4 6 7" at 4..6 is followed by 3
  // Most recent occurrence among several.
  const ids h3{2, 8, 2, 9, 2};
  CHECK(d.draft(h3, 1) == ids{9});
  // No match at any n: empty; too short a history: empty.
  CHECK(d.draft(ids{1, 2, 3, 4}, 3).empty());
  CHECK(d.draft(ids{7}, 3).empty());
  // Followers stop at the end of the history.
  CHECK(d.draft(ids{4, 4}, 5) == ids{4});
}

TEST_CASE("prompt_lookup equals a brute-force search on random histories",
          "[decoding][prompt_lookup]") {
  arx::rng g(17);
  for (int trial = 0; trial < 3000; ++trial) {
    const int len = 1 + int(g.next() % 40), vocab = 2 + int(g.next() % 5);
    ids h(static_cast<std::size_t>(len));
    for (auto& x : h) x = arx::token_id(g.next() % std::uint64_t(vocab));
    const int max_n = 1 + int(g.next() % 4), min_n = 1 + int(g.next() % std::uint64_t(max_n));
    const int gamma = int(g.next() % 8);
    INFO("trial " << trial << " max " << max_n << " min " << min_n << " gamma " << gamma);
    REQUIRE(arx::prompt_lookup(max_n, min_n).draft(h, gamma) == brute(h, gamma, max_n, min_n));
  }
}

TEST_CASE("prompt_lookup refuses bad sizes", "[decoding][prompt_lookup]") {
  CHECK_THROWS_AS(arx::prompt_lookup(0, 0), arx::invalid_argument);
  CHECK_THROWS_WITH(arx::prompt_lookup(2, 3), Catch::Contains("1 <= min (3) <= max (2)"));
  CHECK_THROWS_WITH(arx::prompt_lookup(3, 1).draft(ids{1, 2}, -1),
                    Catch::Contains("gamma -1 is negative"));
}
