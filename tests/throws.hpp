// REQUIRE_THROWS_TYPED(expr, type, matcher): expr throws `type` AND its message matches.
// (Catch2 v2's REQUIRE_THROWS_MATCHES does not take Contains() on arx's exception types.)
#pragma once

#include <catch2/catch.hpp>

#define REQUIRE_THROWS_TYPED(expr, type, matcher) \
  do {                                            \
    REQUIRE_THROWS_AS(expr, type);                \
    REQUIRE_THROWS_WITH(expr, matcher);           \
  } while (false)
