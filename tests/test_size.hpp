// How big the long sweeps and statistical tests run. Optimised builds (the main build and the
// AVX2 / SSE2 / scalar variants of CI) run them in full; unoptimised builds (NDEBUG unset: the
// AddressSanitizer variant, whose job is memory errors) run a subset that still exercises every
// code path — a sample of the draft lengths, fewer draws (chi-square checks keep their bounds).
#pragma once

#include <vector>

namespace arx_test {

#ifdef NDEBUG
inline constexpr bool full_size = true;
#else
inline constexpr bool full_size = false;
#endif

/// n in optimised builds, n / 5 (at least 1) otherwise.
constexpr long long sized(long long n) { return full_size ? n : (n / 5 > 0 ? n / 5 : 1); }

/// Draft lengths 1..8 in optimised builds, {1, 4, 8} otherwise.
inline std::vector<int> draft_lengths() {
  return full_size ? std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8} : std::vector<int>{1, 4, 8};
}

}  // namespace arx_test
