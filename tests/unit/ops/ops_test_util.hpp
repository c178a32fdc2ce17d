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
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

// The typed tests list the storage types by name (readable test names); this breaks the build
// when arx gains a compute type, so that its tests get written.
static_assert(std::is_same_v<arx::compute_types,
                             arx::type_list<float, arx::f16, arx::bf16, arx::block_q8_0,
                                            arx::block_q4_0, arx::block_q4_1, arx::block_q5_0,
                                            arx::block_q5_1, arx::block_q2_k, arx::block_q3_k,
                                            arx::block_q4_k, arx::block_q5_k, arx::block_q6_k>>,
              "a new compute type needs its ops tests: add it to the TEMPLATE_TEST_CASE lists");

/// The TEMPLATE_TEST_CASE lists: every compute type, and the decoded block types alone.
#define ARX_OPS_ALL_TYPES                                                                   \
  float, arx::f16, arx::bf16, arx::block_q8_0, arx::block_q4_0, arx::block_q4_1,            \
      arx::block_q5_0, arx::block_q5_1, arx::block_q2_k, arx::block_q3_k, arx::block_q4_k, \
      arx::block_q5_k, arx::block_q6_k
#define ARX_OPS_DECODED_TYPES                                                              \
  arx::block_q4_1, arx::block_q5_0, arx::block_q5_1, arx::block_q2_k, arx::block_q3_k,    \
      arx::block_q4_k, arx::block_q5_k, arx::block_q6_k

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
  } else if constexpr (arx::is_decoded_type_v<T>) {
    // any bytes for quants and sub-block scales; the f16 factors in a normal range
    T b;
    auto* raw = reinterpret_cast<unsigned char*>(&b);
    for (std::size_t i = 0; i < sizeof(T); ++i) raw[i] = static_cast<unsigned char>(r.next());
    const float unit = arx::dtype_traits<T>::block_elems == 256 ? 0.002f : 0.02f;
    b.d = arx::to_f16(r.uniform(0.05f, 1.0f) * unit * (r.next() & 1 ? 1.0f : -1.0f));
    if constexpr (requires { b.dmin; }) b.dmin = arx::to_f16(r.uniform(0.0f, 1.0f) * unit);
    if constexpr (requires { b.m; }) b.m = arx::to_f16(r.uniform(-0.2f, 0.2f));
    return b;
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

// GGUF's decoding formulas for the other block types, written out in double in the order the
// format describes them (value by value, in storage order), independent of arx/ops/kquants.hpp.
inline double f(arx::f16 h) { return double(arx::to_f32(h)); }
inline std::vector<double> gguf_values(const arx::block_q4_1& b) {
  std::vector<double> y(32);
  for (int j = 0; j < 16; ++j) {
    y[std::size_t(j)] = f(b.d) * (b.qs[j] & 0xF) + f(b.m);
    y[std::size_t(j) + 16] = f(b.d) * (b.qs[j] >> 4) + f(b.m);
  }
  return y;
}
template <class B>
std::vector<double> q5_values(const B& b, int bias, double m) {
  std::vector<double> y(32);
  std::uint32_t qh;
  std::memcpy(&qh, b.qh, 4);
  for (int j = 0; j < 16; ++j) {
    const int x0 = (b.qs[j] & 0x0F) | int(((qh >> j) << 4) & 0x10);
    const int x1 = (b.qs[j] >> 4) | int((qh >> (j + 12)) & 0x10);
    y[std::size_t(j)] = f(b.d) * (x0 - bias) + m;
    y[std::size_t(j) + 16] = f(b.d) * (x1 - bias) + m;
  }
  return y;
}
inline std::vector<double> gguf_values(const arx::block_q5_0& b) { return q5_values(b, 16, 0.0); }
inline std::vector<double> gguf_values(const arx::block_q5_1& b) { return q5_values(b, 0, f(b.m)); }
inline std::vector<double> gguf_values(const arx::block_q2_k& b) {
  std::vector<double> y;
  const std::uint8_t* q = b.qs;
  int is = 0;
  for (int n = 0; n < 256; n += 128) {
    for (int shift = 0; shift < 8; shift += 2) {
      for (int half = 0; half < 2; ++half) {
        const int sc = b.scales[is++];
        for (int l = 0; l < 16; ++l)
          y.push_back(f(b.d) * (sc & 0xF) * ((q[l + 16 * half] >> shift) & 3) -
                      f(b.dmin) * (sc >> 4));
      }
    }
    q += 32;
  }
  return y;
}
inline std::vector<double> gguf_values(const arx::block_q3_k& b) {
  // 16 six-bit scales: four low bits from bytes 0-7 (low nibbles first), two high bits from
  // bytes 8-11 (scale s: bits 2 (s / 4) of byte 8 + s % 4)
  int scales[16];
  for (int s = 0; s < 16; ++s) {
    const int lo = s < 8 ? (b.scales[s] & 0xF) : (b.scales[s - 8] >> 4);
    scales[s] = (lo | (((b.scales[8 + s % 4] >> (2 * (s / 4))) & 3) << 4)) - 32;
  }
  std::vector<double> y;
  const std::uint8_t* q = b.qs;
  int is = 0, m = 1;
  for (int n = 0; n < 256; n += 128) {
    for (int shift = 0; shift < 8; shift += 2, m <<= 1) {
      for (int half = 0; half < 2; ++half) {
        const double dl = f(b.d) * scales[is++];
        for (int l = 16 * half; l < 16 * half + 16; ++l)
          y.push_back(dl * (((q[l] >> shift) & 3) - ((b.hmask[l] & m) ? 0 : 4)));
      }
    }
    q += 32;
  }
  return y;
}
inline void k4_scale(int j, const std::uint8_t* q, int& d, int& m) {
  if (j < 4) {
    d = q[j] & 63;
    m = q[j + 4] & 63;
  } else {
    d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    m = (q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4);
  }
}
template <class B>
std::vector<double> k4_values(const B& b, bool fifth) {
  std::vector<double> y;
  const std::uint8_t* q = b.qs;
  int is = 0, u1 = 1, u2 = 2;
  for (int j = 0; j < 256; j += 64, q += 32, is += 2, u1 <<= 2, u2 <<= 2) {
    int sc, m;
    k4_scale(is, b.scales, sc, m);
    for (int l = 0; l < 32; ++l) {
      int hi = 0;
      if constexpr (requires { b.qh; }) hi = fifth && (b.qh[l] & u1) ? 16 : 0;
      y.push_back(f(b.d) * sc * ((q[l] & 0xF) + hi) - f(b.dmin) * m);
    }
    k4_scale(is + 1, b.scales, sc, m);
    for (int l = 0; l < 32; ++l) {
      int hi = 0;
      if constexpr (requires { b.qh; }) hi = fifth && (b.qh[l] & u2) ? 16 : 0;
      y.push_back(f(b.d) * sc * ((q[l] >> 4) + hi) - f(b.dmin) * m);
    }
  }
  return y;
}
inline std::vector<double> gguf_values(const arx::block_q4_k& b) { return k4_values(b, false); }
inline std::vector<double> gguf_values(const arx::block_q5_k& b) { return k4_values(b, true); }
inline std::vector<double> gguf_values(const arx::block_q6_k& b) {
  std::vector<double> y(256);
  const std::uint8_t *ql = b.ql, *qh = b.qh;
  const std::int8_t* sc = b.scales;
  for (int n = 0; n < 256; n += 128, ql += 64, qh += 32, sc += 8) {
    for (int l = 0; l < 32; ++l) {
      const int is = l / 16;
      const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
      const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
      const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
      const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
      y[std::size_t(n + l)] = f(b.d) * sc[is] * q1;
      y[std::size_t(n + l + 32)] = f(b.d) * sc[is + 2] * q2;
      y[std::size_t(n + l + 64)] = f(b.d) * sc[is + 4] * q3;
      y[std::size_t(n + l + 96)] = f(b.d) * sc[is + 6] * q4;
    }
  }
  return y;
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
    } else if constexpr (arx::is_decoded_type_v<T>) {
      const auto v = gguf_values(p[u]);
      out.insert(out.end(), v.begin(), v.end());
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

/// `cols` rounded up to a whole number of T's blocks (256 for the K-quants), so one test shape
/// serves every type.
template <class T>
constexpr std::size_t fit(std::size_t cols) {
  const auto be = std::size_t(arx::dtype_traits<T>::block_elems);
  return (cols + be - 1) / be * be;
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
