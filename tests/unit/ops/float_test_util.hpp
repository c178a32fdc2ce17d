// Helpers shared by the float-kernel tests (element-wise, norm, softmax, RoPE, activation):
// seeded inputs, canary-guarded outputs, and a tolerance-driven first-mismatch search.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace float_test {

inline constexpr double kU = 0x1p-24;  // unit roundoff of float
inline constexpr float kCanary = 12345.0f;
inline constexpr std::size_t kPad = 19;

// Uniform floats in [lo, hi) from a fixed seed (own mapping: std distributions differ by library).
inline std::vector<float> random_floats(std::size_t n, float lo, float hi, std::uint32_t seed) {
  std::mt19937 g(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = lo + (hi - lo) * float(g() >> 8) * 0x1p-24f;
  return v;
}

// n floats with kPad canaries either side, to catch a kernel writing past its span.
struct guarded {
  std::vector<float> buf;
  std::size_t n;
  explicit guarded(std::size_t n_) : buf(n_ + 2 * kPad, kCanary), n(n_) {}
  std::span<float> span() { return {buf.data() + kPad, n}; }
  bool canaries_intact() const {
    for (std::size_t i = 0; i < kPad; ++i)
      if (buf[i] != kCanary || buf[kPad + n + i] != kCanary) return false;
    return true;
  }
};

// Index of the first element with |got − want| > tol(i), or got.size() if none (NaN fails).
template <class Want, class Tol>
std::size_t first_mismatch(std::span<const float> got, Want want, Tol tol) {
  for (std::size_t i = 0; i < got.size(); ++i)
    if (!(std::abs(double(got[i]) - double(want(i))) <= tol(i))) return i;
  return got.size();
}

}  // namespace float_test
