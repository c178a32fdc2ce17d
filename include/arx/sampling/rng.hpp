// arx/sampling/rng.hpp — the random numbers samplers draw from, with a sequence arx fixes.
//
// Standard distributions (std::uniform_real_distribution, ...) may produce different values on
// different standard libraries, so a seed would not reproduce a generation elsewhere. arx::rng
// is fully specified here, independent of compiler, library and thread count:
//
//   state   four 64-bit words s0..s3, from the seed by SplitMix64: z += 0x9e3779b97f4a7c15;
//           z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9; z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
//           word = z ^ (z >> 31)   (four times, starting from z = seed)
//   next()  xoshiro256** (Blackman & Vigna 2018): result = rotl(s1 * 5, 7) * 9, then
//           t = s1 << 17; s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t; s3 = rotl(s3, 45)
//   uniform()  (next() >> 11) * 2^-53: a double in [0, 1) with 53 random bits
//
// One draw of a sampler consumes exactly one uniform() (see arx/sampling/chain.hpp).
#pragma once

#include <cstdint>

#include "arx/config.hpp"
#include "arx/core/error.hpp"

ARX_NAMESPACE_BEGIN

class rng {
 public:
  explicit rng(std::uint64_t seed = 0) noexcept { reseed(seed); }

  /// A generator in the given raw xoshiro256** state (not all zero), e.g. to check the
  /// algorithm against published values.
  static rng from_state(std::uint64_t s0, std::uint64_t s1, std::uint64_t s2, std::uint64_t s3) {
    if ((s0 | s1 | s2 | s3) == 0) throw invalid_argument("rng: the all-zero state is not allowed");
    rng g;
    g.s_[0] = s0, g.s_[1] = s1, g.s_[2] = s2, g.s_[3] = s3;
    return g;
  }

  void reseed(std::uint64_t seed) noexcept {
    std::uint64_t z = seed;
    for (auto& w : s_) {
      z += 0x9e3779b97f4a7c15ULL;
      std::uint64_t x = z;
      x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
      x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
      w = x ^ (x >> 31);
    }
  }

  /// The next 64 random bits.
  std::uint64_t next() noexcept {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  /// A double in [0, 1): the top 53 bits of next().
  double uniform() noexcept { return double(next() >> 11) * 0x1.0p-53; }

  friend bool operator==(const rng&, const rng&) = default;

 private:
  static constexpr std::uint64_t rotl(std::uint64_t x, int k) noexcept {
    return (x << k) | (x >> (64 - k));
  }
  std::uint64_t s_[4] = {};
};

ARX_NAMESPACE_END
