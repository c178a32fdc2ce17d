// ops/rope.hpp: rotary position embedding in both layouts — identity at position 0, known
// rotations, double-precision comparisons up to position 32768, norm preservation, the
// relative-position property, partial rotation, strided heads, batches and argument checks.
#include <algorithm>
#include <array>
#include <chrono>
#include <arx/ops/rope.hpp>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "unit/ops/float_test_util.hpp"

namespace {

using namespace float_test;

using arx::ops::rope_layout;
using arx::ops::rope_params;


// Error of a rotated pair relative to its norm: cos and sin are rounded to float (½u each), then
// two products and a sum are rounded: ≤ ~3u; 4u leaves room for non-fused arithmetic.
constexpr double kRotRelTol = 4 * kU;
// Angle error per unit of position. rope.hpp computes angles in double, within ~(n_rot/2 + 2)·2^-53
// relative, i.e. < pos·2^-46 rad for n_rot ≤ 128; we allow pos·2^-44. (Float angles would be
// ~pos·2^-24 off and fail well before position 100.)
constexpr double kAngleTolPerPos = 0x1p-44;
double pair_tol(std::int64_t pos) { return kRotRelTol + double(std::abs(pos)) * kAngleTolPerPos; }

// Dims (a, b) of pair i in a head.
std::pair<std::size_t, std::size_t> pair_dims(rope_layout l, int n_rot, std::size_t i) {
  return l == rope_layout::normal ? std::pair{2 * i, 2 * i + 1}
                                  : std::pair{i, i + std::size_t(n_rot / 2)};
}

// Double-precision RoPE of one head, written from the definition (angle from pow per pair).
std::vector<double> rope_exact(const float* head, std::size_t head_dim, std::int64_t pos,
                               const rope_params& p) {
  std::vector<double> out(head, head + head_dim);
  for (std::size_t i = 0; i < std::size_t(p.n_rot / 2); ++i) {
    const double theta = double(pos) * double(p.freq_scale) *
                         std::pow(double(p.freq_base), -2.0 * double(i) / double(p.n_rot));
    const auto [a, b] = pair_dims(p.layout, p.n_rot, i);
    out[a] = head[a] * std::cos(theta) - head[b] * std::sin(theta);
    out[b] = head[a] * std::sin(theta) + head[b] * std::cos(theta);
  }
  return out;
}

using rope_fn = void (*)(arx::tensor_view<float>, std::int64_t, const rope_params&);
struct named_rope {
  const char* name;
  rope_fn f;
};
const named_rope kRopes[] = {
    {"fast", [](arx::tensor_view<float> x, std::int64_t pos,
                const rope_params& p) { arx::ops::rope(x, pos, p); }},
    {"ref", [](arx::tensor_view<float> x, std::int64_t pos,
               const rope_params& p) { arx::ops::ref::rope(x, pos, p); }},
};

arx::tensor_view<float> heads(std::vector<float>& v, std::size_t n_heads, std::size_t head_dim) {
  return {v.data(), {std::int64_t(n_heads), std::int64_t(head_dim)}};
}

// Largest |got − want| over every pair, divided by (pair norm · pair_tol(pos)); ≤ 1 passes.
double worst_pair_error(const std::vector<float>& got, const std::vector<float>& in,
                        std::size_t n_heads, std::size_t head_dim, std::int64_t pos,
                        const rope_params& p) {
  double worst = 0;
  for (std::size_t h = 0; h < n_heads; ++h) {
    const float* head = in.data() + h * head_dim;
    const auto want = rope_exact(head, head_dim, pos, p);
    for (std::size_t i = 0; i < std::size_t(p.n_rot / 2); ++i) {
      const auto [a, b] = pair_dims(p.layout, p.n_rot, i);
      const double norm = std::hypot(double(head[a]), double(head[b]));
      const double err =
          std::hypot(got[h * head_dim + a] - want[a], got[h * head_dim + b] - want[b]);
      worst = std::max(worst, err / (norm * pair_tol(pos) + 1e-300));
    }
    for (std::size_t d = std::size_t(p.n_rot); d < head_dim; ++d)  // untouched, bit for bit
      if (got[h * head_dim + d] != head[d]) return INFINITY;
  }
  return worst;
}

}  // namespace

TEST_CASE("rope at position 0 is the identity", "[ops][rope]") {
  for (const auto& k : kRopes) {
    for (auto layout : {rope_layout::normal, rope_layout::neox}) {
      INFO(k.name << ", layout " << int(layout));
      const auto x = random_floats(4 * 64, -3.0f, 3.0f, 1);
      auto y = x;
      k.f(heads(y, 4, 64), 0, {.n_rot = 64, .layout = layout});
      CHECK(y == x);
    }
  }
}

TEST_CASE("rope rotates a known vector by a known angle", "[ops][rope]") {
  for (const auto& k : kRopes) {
    INFO(k.name);
    // Pair 0 always turns by pos·freq_scale radians.
    std::vector<float> x = {1.0f, 0.0f, 0.0f, 0.0f};
    k.f(heads(x, 1, 4), 1, {.n_rot = 4});
    CHECK(x[0] == Approx(std::cos(1.0)).epsilon(kRotRelTol));
    CHECK(x[1] == Approx(std::sin(1.0)).epsilon(kRotRelTol));
    CHECK(x[2] == 0.0f);
    CHECK(x[3] == 0.0f);

    // NeoX pairs dims (0, 2) and (1, 3); pair 1 turns at base^(-2/4) = 0.01 rad per position.
    x = {0.0f, 2.0f, 0.0f, 0.0f};
    k.f(heads(x, 1, 4), 100, {.n_rot = 4, .layout = rope_layout::neox});
    CHECK(x[0] == 0.0f);
    CHECK(x[1] == Approx(2 * std::cos(1.0)).epsilon(kRotRelTol));
    CHECK(x[3] == Approx(2 * std::sin(1.0)).epsilon(kRotRelTol));

    // Linear scaling: position 6 at freq_scale 0.25 is position 1.5.
    x = {0.0f, 1.0f};
    k.f(heads(x, 1, 2), 6, {.n_rot = 2, .freq_base = 500000.0f, .freq_scale = 0.25f});
    CHECK(x[0] == Approx(-std::sin(1.5)).epsilon(kRotRelTol));
    CHECK(x[1] == Approx(std::cos(1.5)).epsilon(kRotRelTol));
  }
}

TEST_CASE("rope matches double precision up to position 32768, both layouts, partial n_rot",
          "[ops][rope]") {
  struct shape {
    std::size_t n_heads, head_dim;
    int n_rot;
  };
  // Llama (128/128), partial rotation (Phi-2: 80 dims, 32 rotated), odd pair counts and tails.
  const shape shapes[] = {{4, 128, 128}, {3, 80, 32}, {2, 70, 70}, {2, 64, 6}, {1, 36, 34}};
  const std::int64_t positions[] = {0, 1, 7, 100, 1000, 4095, 32767, 32768};
  for (const auto& k : kRopes) {
    for (const auto& s : shapes) {
      for (auto layout : {rope_layout::normal, rope_layout::neox}) {
        for (float base : {10000.0f, 1e6f}) {
          const rope_params p{.n_rot = s.n_rot, .freq_base = base, .layout = layout};
          const auto x = random_floats(s.n_heads * s.head_dim, -2.0f, 2.0f, 2);
          for (std::int64_t pos : positions) {
            INFO(k.name << ", head_dim " << s.head_dim << ", n_rot " << s.n_rot << ", layout "
                        << int(layout) << ", base " << base << ", pos " << pos);
            auto y = x;
            k.f(heads(y, s.n_heads, s.head_dim), pos, p);
            CHECK(worst_pair_error(y, x, s.n_heads, s.head_dim, pos, p) <= 1.0);
          }
        }
      }
    }
  }
}

TEST_CASE("rope preserves pair norms and inverts with the negative position", "[ops][rope]") {
  for (const auto& k : kRopes) {
    for (auto layout : {rope_layout::normal, rope_layout::neox}) {
      INFO(k.name << ", layout " << int(layout));
      const rope_params p{.n_rot = 128, .layout = layout};
      const auto x = random_floats(8 * 128, -5.0f, 5.0f, 3);
      auto y = x;
      k.f(heads(y, 8, 128), 12345, p);
      double worst_norm = 0, worst_back = 0;
      auto z = y;
      k.f(heads(z, 8, 128), -12345, p);
      for (std::size_t h = 0; h < 8; ++h)
        for (std::size_t i = 0; i < 64; ++i) {
          const auto [a, b] = pair_dims(layout, 128, i);
          const std::size_t o = h * 128;
          const double n0 = std::hypot(double(x[o + a]), double(x[o + b]));
          const double n1 = std::hypot(double(y[o + a]), double(y[o + b]));
          worst_norm = std::max(worst_norm, std::abs(n1 - n0) / n0);
          worst_back =
              std::max(worst_back,
                       std::hypot(double(z[o + a]) - x[o + a], double(z[o + b]) - x[o + b]) / n0);
        }
      CHECK(worst_norm <= kRotRelTol);
      CHECK(worst_back <= 2 * kRotRelTol);
    }
  }
}

TEST_CASE("rope: q(m)·k(n) depends only on m - n", "[ops][rope]") {
  for (const auto& k : kRopes) {
    for (auto layout : {rope_layout::normal, rope_layout::neox}) {
      INFO(k.name << ", layout " << int(layout));
      const rope_params p{.n_rot = 128, .freq_base = 10000.0f, .layout = layout};
      const auto q = random_floats(128, -1.0f, 1.0f, 4);
      const auto kv = random_floats(128, -1.0f, 1.0f, 5);
      double qn = 0, kn = 0;
      for (std::size_t i = 0; i < 128; ++i) {
        qn += double(q[i]) * q[i];
        kn += double(kv[i]) * kv[i];
      }
      const double scale = std::sqrt(qn * kn);
      const auto score = [&](std::int64_t m, std::int64_t n) {
        auto qq = q, kk = kv;
        k.f(heads(qq, 1, 128), m, p);
        k.f(heads(kk, 1, 128), n, p);
        double d = 0;
        for (std::size_t i = 0; i < 128; ++i) d += double(qq[i]) * kk[i];
        return d;
      };
      // Each rotated vector is within pair_tol of exact, so a dot product moves by at most
      // (tol_m + tol_n)·|q|·|k|.
      for (std::int64_t delta : {0, 3, 17, 500}) {
        const double base = score(delta, 0);
        for (std::int64_t m : {std::int64_t(100), std::int64_t(5000), std::int64_t(30000)}) {
          INFO("delta " << delta << ", m " << m);
          CHECK(std::abs(score(m + delta, m) - base) <=
                (pair_tol(m + delta) + pair_tol(m) + 2 * pair_tol(delta)) * scale);
        }
      }
      // And it does depend on m − n (a broken kernel rotating by a constant would pass the above).
      CHECK(std::abs(score(10, 0) - score(0, 0)) > 1e-3 * scale);
    }
  }
}

TEST_CASE("fast rope matches the reference on strided heads and leaves gaps alone", "[ops][rope]") {
  const std::size_t n_heads = 32, head_dim = 128, stride = 136;
  for (auto layout : {rope_layout::normal, rope_layout::neox}) {
    for (int n_rot : {128, 96, 2, 62}) {
      INFO("layout " << int(layout) << ", n_rot " << n_rot);
      auto buf = random_floats(n_heads * stride, -4.0f, 4.0f, 6);
      for (std::size_t h = 0; h < n_heads; ++h)
        for (std::size_t j = head_dim; j < stride; ++j) buf[h * stride + j] = kCanary;
      auto buf_ref = buf;
      const arx::shape_t sh{std::int64_t(n_heads), std::int64_t(head_dim)};
      const std::array<std::int64_t, 4> st{std::int64_t(stride), 1, 0, 0};
      const rope_params p{.n_rot = n_rot, .freq_base = 10000.0f, .layout = layout};
      arx::ops::rope(arx::tensor_view<float>(buf.data(), sh, st), 777, p);
      arx::ops::ref::rope(arx::tensor_view<float>(buf_ref.data(), sh, st), 777, p);
      double worst = 0;  // relative to the largest pair norm, 4·√2 = √32
      for (std::size_t i = 0; i < buf.size(); ++i)
        worst = std::max(worst, std::abs(double(buf[i]) - buf_ref[i]) / std::sqrt(32.0));
      CHECK(worst <= 2 * kRotRelTol);
      for (std::size_t h = 0; h < n_heads; ++h)
        for (std::size_t j = head_dim; j < stride; ++j) CHECK(buf[h * stride + j] == kCanary);
    }
  }
}

TEST_CASE("rope over a batch of tokens equals one call per token, and the rope_sincos table",
          "[ops][rope]") {
  const std::size_t tokens = 3, n_heads = 2, head_dim = 16;
  const rope_params p{.n_rot = 16, .freq_base = 10000.0f, .layout = rope_layout::neox};
  const auto x = random_floats(tokens * n_heads * head_dim, -1.0f, 1.0f, 7);
  const std::vector<std::int64_t> pos = {5, 0, 900};
  auto batched = x, batched_ref = x;
  arx::tensor_view<float> bv(batched.data(), {3, 2, 16});
  arx::ops::rope(bv, pos, p);
  arx::ops::ref::rope(arx::tensor_view<float>(batched_ref.data(), {3, 2, 16}), pos, p);
  for (std::size_t t = 0; t < tokens; ++t) {
    std::vector<float> one(x.begin() + std::ptrdiff_t(t * 32),
                           x.begin() + std::ptrdiff_t(t * 32 + 32));
    arx::ops::rope(heads(one, n_heads, head_dim), pos[t], p);
    CHECK(std::equal(one.begin(), one.end(), batched.begin() + std::ptrdiff_t(t * 32)));
  }
  CHECK(worst_pair_error(std::vector<float>(batched_ref.begin() + 64, batched_ref.end()),
                         std::vector<float>(x.begin() + 64, x.end()), 2, 16, 900, p) <= 1.0);

  // The table itself: cos θ_i, sin θ_i with θ_i = pos·base^(−2i/n_rot).
  std::vector<float> c(8), s(8);
  arx::ops::rope_sincos(32768, p, c, s);
  for (std::size_t i = 0; i < 8; ++i) {
    const double theta = 32768.0 * std::pow(10000.0, -2.0 * double(i) / 16.0);
    CHECK(std::abs(c[i] - std::cos(theta)) <= kU + 32768 * kAngleTolPerPos);
    CHECK(std::abs(s[i] - std::sin(theta)) <= kU + 32768 * kAngleTolPerPos);
  }
}

TEST_CASE("rope argument checks", "[ops][rope]") {
  std::vector<float> x(2 * 8);
  auto v = heads(x, 2, 8);
  CHECK_THROWS_AS(arx::ops::rope(v, 1, {.n_rot = 5}), arx::invalid_argument);
  CHECK_THROWS_AS(arx::ops::ref::rope(v, 1, {.n_rot = 5}), arx::invalid_argument);
  CHECK_THROWS_AS(arx::ops::rope(v, 1, {.n_rot = -2}), arx::invalid_argument);
  CHECK_THROWS_WITH(arx::ops::rope(v, 1, {.n_rot = 10}),
                    Catch::Contains("10") && Catch::Contains("8"));
  CHECK_THROWS_AS(arx::ops::rope(v, 1, {.n_rot = 10}), arx::shape_error);
  CHECK_THROWS_AS(arx::ops::rope(v, 1, {.n_rot = 8, .freq_base = 0.0f}), arx::invalid_argument);
  CHECK_THROWS_AS(arx::ops::rope(v, 1, {.n_rot = 8, .freq_scale = -1.0f}), arx::invalid_argument);
  std::vector<float> c(4), s(3);
  CHECK_THROWS_AS(arx::ops::rope_apply(v, c, s, rope_layout::normal), arx::shape_error);
  CHECK_THROWS_AS(arx::ops::rope_sincos(0, {.n_rot = 8}, c, s), arx::shape_error);
  CHECK_THROWS_AS(arx::ops::rope(arx::tensor_view<float>(x.data(), {16}), 0, {.n_rot = 2}),
                  arx::shape_error);
  const std::vector<std::int64_t> pos = {1};
  CHECK_THROWS_AS(arx::ops::rope(arx::tensor_view<float>(x.data(), {2, 1, 8}),
                                 std::span<const std::int64_t>(pos), {.n_rot = 8}),
                  arx::shape_error);
  CHECK_NOTHROW(arx::ops::rope(v, 3, {.n_rot = 0}));  // nothing rotated
}

TEST_CASE("rope validates n_rot before building its table", "[ops][rope]") {
  // n_rot = 2e9 would need an 8 GB table and 1e9 sincos before the head_dim check; it must throw
  // at once (the same shape_error as any n_rot > head_dim).
  std::vector<float> x(2 * 8);
  auto v = heads(x, 2, 8);
  const auto t0 = std::chrono::steady_clock::now();
  CHECK_THROWS_AS(arx::ops::rope(v, 1, {.n_rot = 2'000'000'000}), arx::shape_error);
  CHECK_THROWS_AS(arx::ops::ref::rope(v, 1, {.n_rot = 2'000'000'000}), arx::shape_error);
  const std::vector<std::int64_t> pos = {1, 2};
  CHECK_THROWS_AS(arx::ops::rope(arx::tensor_view<float>(x.data(), {2, 1, 8}),
                                 std::span<const std::int64_t>(pos), {.n_rot = 2'000'000'000}),
                  arx::shape_error);
  CHECK_THROWS_AS(arx::ops::rope(v, 1, {.n_rot = 2'000'000'001}), arx::invalid_argument);
  CHECK_THROWS_AS(arx::ops::rope(v, 1, {.n_rot = 2'000'000'000, .freq_base = -1.0f}),
                  arx::invalid_argument);
  // a 1-D x with a huge n_rot: the rank is checked before the table too
  CHECK_THROWS_AS(arx::ops::rope(arx::tensor_view<float>(x.data(), {16}), 0,
                                 {.n_rot = 2'000'000'000}),
                  arx::shape_error);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(seconds < 1.0);
  for (float f : x) CHECK(f == 0.0f);  // nothing was touched
}
