// kv_cache: float rows round-trip exactly (f32) or within half an f16 ulp (f16), truncate then
// rewrite, clone independence, and the invalid_argument cases naming the numbers.
#include <catch2/catch.hpp>

#include "throws.hpp"

#include <arx/model/kv_cache.hpp>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

using Catch::Contains;


namespace {

// n rows of `row` values, distinct per (seed, index): [n][row]
std::vector<float> rows(std::int64_t n, std::int64_t row, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-4.0f, 4.0f);
  std::vector<float> out(std::size_t(n * row));
  for (auto& x : out) x = u(rng);
  return out;
}

float as_float(float x) { return x; }
float as_float(arx::f16 x) { return arx::to_f32(x); }

// Half an ulp of x in f16 (x a normal f16 magnitude): f16 has 10 mantissa bits.
// Below 2^-14 f16 is subnormal with a fixed spacing of 2^-24.
float f16_half_ulp(float x) {
  return std::fabs(x) < 0x1p-14f ? 0x1p-25f : std::ldexp(1.0f, std::ilogb(x) - 11);
}

template <class T>
void check_rows(const arx::tensor_view<const T>& got, const std::vector<float>& want,
                std::int64_t first_pos) {
  const std::int64_t row = got.shape(1) * got.shape(2);
  for (std::int64_t p = 0; p < got.shape(0); ++p)
    for (std::int64_t i = 0; i < row; ++i) {
      const float w = want[std::size_t((p - first_pos) * row + i)];
      const float g = as_float(got.data()[p * row + i]);
      if constexpr (std::is_same_v<T, float>) {
        REQUIRE(g == w);
      } else {
        REQUIRE(std::fabs(g - w) <= f16_half_ulp(w));
      }
    }
}

}  // namespace

TEMPLATE_TEST_CASE("kv_cache round trip", "[model][kv_cache]", float, arx::f16) {
  const std::int64_t n_layer = 3, n_head_kv = 2, head_dim = 8, cap = 16, row = 16;
  arx::kv_cache<TestType> c(n_layer, n_head_kv, head_dim, cap);
  REQUIRE(c.size() == 0);
  REQUIRE(c.capacity() == cap);
  REQUIRE(c.row_size() == row);
  REQUIRE(c.bytes() == std::size_t(2 * n_layer * cap * row) * sizeof(TestType));
  REQUIRE(reinterpret_cast<std::uintptr_t>(c.k(0).data()) % arx::buffer_alignment == 0);

  // a prompt of 5 positions, then 1 generated token, written layer by layer
  std::vector<std::vector<float>> k(n_layer), v(n_layer);
  for (std::int64_t l = 0; l < n_layer; ++l) {
    k[std::size_t(l)] = rows(6, row, unsigned(10 + l));
    v[std::size_t(l)] = rows(6, row, unsigned(20 + l));
    const std::span<const float> ks(k[std::size_t(l)]), vs(v[std::size_t(l)]);
    c.write(l, 0, ks.first(5 * row), vs.first(5 * row));
    REQUIRE(c.k(l, 5).shape() == arx::shape_t{5, n_head_kv, head_dim});  // readable before advance
  }
  c.advance(5);
  for (std::int64_t l = 0; l < n_layer; ++l) {
    const std::span<const float> ks(k[std::size_t(l)]), vs(v[std::size_t(l)]);
    c.write(l, 5, ks.subspan(5 * row), vs.subspan(5 * row));
  }
  c.advance(1);
  REQUIRE(c.size() == 6);
  for (std::int64_t l = 0; l < n_layer; ++l) {
    REQUIRE(c.k(l).shape() == arx::shape_t{6, n_head_kv, head_dim});
    REQUIRE(c.v(l).shape() == arx::shape_t{6, n_head_kv, head_dim});
    check_rows<TestType>(c.k(l), k[std::size_t(l)], 0);
    check_rows<TestType>(c.v(l), v[std::size_t(l)], 0);
  }
}

TEMPLATE_TEST_CASE("kv_cache truncate then rewrite", "[model][kv_cache]", float, arx::f16) {
  const std::int64_t row = 4 * 2;
  arx::kv_cache<TestType> c(2, 4, 2, 10);
  const auto k1 = rows(8, row, 1), v1 = rows(8, row, 2);
  for (std::int64_t l = 0; l < 2; ++l) c.write(l, 0, k1, v1);
  c.advance(8);

  c.truncate(3);  // roll back 5 speculative positions
  REQUIRE(c.size() == 3);
  REQUIRE(c.k(1).shape(0) == 3);
  const auto k2 = rows(4, row, 3), v2 = rows(4, row, 4);
  for (std::int64_t l = 0; l < 2; ++l) c.write(l, 3, k2, v2);
  c.advance(4);
  REQUIRE(c.size() == 7);

  std::vector<float> want_k(k1.begin(), k1.begin() + 3 * row);
  std::vector<float> want_v(v1.begin(), v1.begin() + 3 * row);
  want_k.insert(want_k.end(), k2.begin(), k2.end());
  want_v.insert(want_v.end(), v2.begin(), v2.end());
  for (std::int64_t l = 0; l < 2; ++l) {
    check_rows<TestType>(c.k(l), want_k, 0);
    check_rows<TestType>(c.v(l), want_v, 0);
  }
  c.truncate(0);
  REQUIRE(c.size() == 0);
  REQUIRE(c.k(0).empty());
  c.truncate(0);  // truncating to the current size is allowed
}

TEMPLATE_TEST_CASE("kv_cache clone is independent", "[model][kv_cache]", float, arx::f16) {
  const std::int64_t row = 6;
  arx::kv_cache<TestType> a(2, 1, 6, 5);
  const auto k1 = rows(3, row, 5), v1 = rows(3, row, 6);
  for (std::int64_t l = 0; l < 2; ++l) a.write(l, 0, k1, v1);
  a.advance(3);

  arx::kv_cache<TestType> b = a.clone();
  REQUIRE(b.size() == 3);
  REQUIRE(b.capacity() == 5);
  REQUIRE(b.k(0).data() != a.k(0).data());

  // diverge: b overwrites position 2 and grows; a is untouched
  const auto k2 = rows(2, row, 7), v2 = rows(2, row, 8);
  for (std::int64_t l = 0; l < 2; ++l) b.write(l, 2, k2, v2);
  b.truncate(2);
  b.advance(2);
  for (std::int64_t l = 0; l < 2; ++l) {
    check_rows<TestType>(a.k(l), k1, 0);
    check_rows<TestType>(a.v(l), v1, 0);
  }
  REQUIRE(a.size() == 3);
  REQUIRE(b.size() == 4);

  arx::kv_cache<TestType> moved = std::move(b);  // move-only
  REQUIRE(moved.size() == 4);
  static_assert(!std::is_copy_constructible_v<arx::kv_cache<TestType>>);
  static_assert(std::is_nothrow_move_constructible_v<arx::kv_cache<TestType>>);
}

TEST_CASE("kv_cache capacity and argument errors", "[model][kv_cache]") {
  arx::kv_cache<float> c(2, 2, 4, 4);  // row 8
  const auto r3 = rows(3, 8, 9), r2 = rows(2, 8, 10);
  c.write(0, 0, r3, r3);
  c.advance(3);

  // rows [3, 5) exceed capacity 4
  REQUIRE_THROWS_TYPED(c.write(0, 3, r2, r2), arx::invalid_argument,
                         Contains("[3, 5)") && Contains("capacity 4"));
  REQUIRE_THROWS_TYPED(c.advance(2), arx::invalid_argument,
                         Contains("advance(2)") && Contains("size 3") && Contains("capacity 4"));
  REQUIRE_THROWS_TYPED(c.truncate(4), arx::invalid_argument,
                         Contains("truncate(4)") && Contains("size 3"));
  REQUIRE_THROWS_AS(c.truncate(-1), arx::invalid_argument);
  REQUIRE_THROWS_AS(c.advance(-1), arx::invalid_argument);
  // a gap: position 4 > size 3
  const auto one_row = std::span<const float>(r2).first(8);
  REQUIRE_THROWS_TYPED(c.write(0, 4, one_row, one_row), arx::invalid_argument,
                         Contains("size 3"));
  // not whole rows / K and V of different lengths
  const std::vector<float> odd(7, 0.0f);
  REQUIRE_THROWS_TYPED(c.write(0, 0, odd, odd), arx::invalid_argument, Contains("rows of 8"));
  REQUIRE_THROWS_AS(c.write(0, 0, r2, r3), arx::invalid_argument);
  REQUIRE_THROWS_TYPED(c.write(2, 0, r2, r2), arx::invalid_argument,
                         Contains("layer 2") && Contains("[0, 2)"));
  REQUIRE_THROWS_TYPED(c.k(0, 5), arx::invalid_argument, Contains("5"));
  REQUIRE(c.size() == 3);  // failed calls changed nothing

  c.advance(1);  // exactly full is fine
  REQUIRE(c.size() == c.capacity());

  REQUIRE_THROWS_TYPED(arx::kv_cache<float>(2, 0, 4, 4), arx::invalid_argument,
                         Contains("n_head_kv = 0"));
  REQUIRE_THROWS_AS(arx::kv_cache<arx::f16>(1, 1, 1, 0), arx::invalid_argument);
  REQUIRE_THROWS_AS(arx::kv_cache<float>(std::int64_t(1) << 40, 1024, 128, std::int64_t(1) << 40),
                    arx::memory_error);
}

TEST_CASE("kv_cache from a model_config", "[model][kv_cache]") {
  arx::model_config cfg;
  cfg.n_layer = 2;
  cfg.n_head_kv = 2;
  cfg.head_dim = 16;
  cfg.n_ctx_train = 64;
  arx::kv_cache<arx::f16> c(cfg, 64);
  REQUIRE(c.n_layer() == 2);
  REQUIRE(c.row_size() == 32);
  REQUIRE(c.capacity() == 64);
  REQUIRE_THROWS_TYPED(arx::kv_cache<float>(cfg, 65), arx::invalid_argument,
                         Contains("65") && Contains("64"));
  arx::kv_cache<float> longer(cfg, 128, arx::context_limit::unlimited);
  REQUIRE(longer.capacity() == 128);
}
