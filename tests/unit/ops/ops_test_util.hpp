// Helpers shared by the ops tests: a small deterministic RNG, random rows of every storage type,
// exact conversion of any row to double, and the error bounds the tests assert.
#pragma once

#include <arx/core/dtype.hpp>
#include <arx/core/half.hpp>
#include <arx/core/tensor.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

// The typed tests list the storage types by name (readable test names); this breaks the build
// when arx gains a compute type, so that its tests get written.
static_assert(std::is_same_v<arx::compute_types, arx::type_list<float, arx::f16, arx::bf16,
                                                               arx::block_q8_0, arx::block_q4_0>>,
              "a new compute type needs its ops tests: add it to the TEMPLATE_TEST_CASE lists");

namespace ops_test {

/// splitmix64: tiny, fast, the same numbers everywhere.
struct rng {
  std::uint64_t s;
  explicit rng(std::uint64_t seed) : s(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  /// uniform in [lo, hi)
  float uniform(float lo, float hi) { return lo + (hi - lo) * float(next() >> 40) * 0x1p-24f; }
  int below(int n) { return int(next() % std::uint64_t(n)); }
};

inline std::vector<float> random_floats(rng& r, std::size_t n, float scale = 1.0f) {
  std::vector<float> v(n);
  for (auto& x : v) x = r.uniform(-scale, scale);
  return v;
}

/// A random storage unit of type T: any bit pattern of the quants (Q8_0 includes -128), a scale
/// of either sign in a normal f16 range, and finite f16/bf16 values.
template <class T>
T random_unit(rng& r) {
  if constexpr (std::is_same_v<T, float>) {
    return r.uniform(-1.0f, 1.0f);
  } else if constexpr (std::is_same_v<T, arx::f16>) {
    return arx::to_f16(r.uniform(-2.0f, 2.0f));
  } else if constexpr (std::is_same_v<T, arx::bf16>) {
    return arx::to_bf16(r.uniform(-2.0f, 2.0f));
  } else {
    T b{};
    b.d = arx::to_f16(r.uniform(0.001f, 0.05f) * (r.next() & 1 ? 1.0f : -1.0f));
    for (auto& q : b.qs) q = static_cast<std::remove_reference_t<decltype(q)>>(r.next());
    return b;
  }
}

template <class T>
std::vector<T> random_units(rng& r, std::size_t n) {
  std::vector<T> v(n);
  for (auto& u : v) u = random_unit<T>(r);
  return v;
}

/// Q8_0 activation blocks as quantize_row makes them: quants in [-127, 127].
inline std::vector<arx::block_q8_0> random_activation_blocks(rng& r, std::size_t nb) {
  std::vector<arx::block_q8_0> v(nb);
  for (auto& b : v) {
    b.d = arx::to_f16(r.uniform(0.001f, 0.05f));
    for (auto& q : b.qs) q = std::int8_t(r.below(255) - 127);
  }
  return v;
}

/// Exact values of a row of T, in double (independent of the code under test: core/half.hpp
/// conversions and the GGUF formulas written out here).
template <class T>
std::vector<double> exact_values(const T* p, std::size_t units) {
  std::vector<double> out;
  for (std::size_t u = 0; u < units; ++u) {
    if constexpr (std::is_same_v<T, float>) {
      out.push_back(p[u]);
    } else if constexpr (std::is_same_v<T, arx::f16> || std::is_same_v<T, arx::bf16>) {
      out.push_back(arx::to_f32(p[u]));
    } else if constexpr (std::is_same_v<T, arx::block_q8_0>) {
      for (int j = 0; j < 32; ++j) out.push_back(double(arx::to_f32(p[u].d)) * p[u].qs[j]);
    } else {
      for (int j = 0; j < 32; ++j) {
        const int nib = j < 16 ? (p[u].qs[j] & 15) : (p[u].qs[j - 16] >> 4);
        out.push_back(double(arx::to_f32(p[u].d)) * (nib - 8));
      }
    }
  }
  return out;
}

// ---- tolerances ------------------------------------------------------------------------------
/// Unit roundoff of f32.
inline constexpr double eps32 = 0x1p-24;
/// Largest relative error of one rounding to f16 (normal range) and to bf16.
inline constexpr double f16_rel_error = 0x1p-11;
inline constexpr double bf16_rel_error = 0x1p-8;
/// Half the spacing of f16 subnormals: the absolute error bound below the normal range.
inline constexpr double f16_subnormal_error = 0x1p-25;

/// Two float sums of the same m terms in different orders (fast vs reference) each lie within
/// m * eps * Σ|term| of the exact sum (standard recursive-summation bound, any order); `extra`
/// roundings per term (e.g. the scale products of the int8 path) add (extra) * eps * Σ|term|.
inline double order_tolerance(double abs_sum, std::size_t terms, int extra = 2) {
  return 2.0 * double(terms + std::size_t(extra)) * eps32 * abs_sum + 1e-30;
}

/// Worst error of one value of an activation block after Q8_0 quantization: half a quant step,
/// plus up to 127 quants times the f16 rounding of the scale.
inline double q8_value_error(double amax) {
  return amax / 127.0 * (0.5 + 127.0 * f16_rel_error) * 1.0001;
}

/// Names for failure messages.
template <class T>
std::string type_label() {
  return arx::type_name(arx::dtype_traits<T>::type);
}

}  // namespace ops_test

namespace ops_test {

/// Bound on |y_r - exact_r| for y = W·x computed in f32 (any order), exact_r = Σ w·x in double.
/// For weights with int8 dots, x is first quantized to Q8_0: each value may move by
/// q8_value_error(amax of its block), weighted by |w|.
template <class T>
double row_bound(const std::vector<double>& w, const std::vector<float>& x) {
  constexpr bool int8 = std::is_same_v<typename arx::dtype_traits<T>::dot_type, arx::block_q8_0>;
  double abs_sum = 0, quant = 0;
  for (std::size_t b = 0; b < x.size(); b += 32) {
    double amax = 0;
    const std::size_t e = std::min(x.size(), b + 32);
    for (std::size_t i = b; i < e; ++i) amax = std::max(amax, std::fabs(double(x[i])));
    const double dq = int8 ? q8_value_error(amax) : 0.0;
    for (std::size_t i = b; i < e; ++i) {
      abs_sum += std::fabs(w[i]) * (std::fabs(double(x[i])) + dq);
      quant += std::fabs(w[i]) * dq;
    }
  }
  return quant + order_tolerance(abs_sum, x.size(), 4);
}

}  // namespace ops_test
