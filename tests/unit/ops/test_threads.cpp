// gemv and gemm with a thread_pool give bit-identical results to the single-threaded call for
// every weight type and thread count (each row is computed by one thread, in the same order).
#include <catch2/catch.hpp>

#include <arx/core/thread_pool.hpp>
#include <arx/ops/gemm.hpp>
#include <arx/ops/gemv.hpp>
#include <arx/core/half.hpp>
#include <arx/ops/quantize.hpp>

#include "unit/ops/ops_test_util.hpp"

#include <cstdint>
#include <random>
#include <vector>


namespace {

template <class T>
std::vector<T> random_matrix(std::int64_t rows, std::int64_t cols, std::uint32_t seed) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> f(std::size_t(rows * cols));
  for (auto& v : f) v = d(g);
  if constexpr (std::is_same_v<T, float>) {
    return f;
  } else if constexpr (std::is_same_v<T, arx::f16>) {
    std::vector<T> out(f.size());
    for (std::size_t i = 0; i < f.size(); ++i) out[i] = arx::to_f16(f[i]);
    return out;
  } else if constexpr (std::is_same_v<T, arx::bf16>) {
    std::vector<T> out(f.size());
    for (std::size_t i = 0; i < f.size(); ++i) out[i] = arx::to_bf16(f[i]);
    return out;
  } else {
    std::vector<T> out(f.size() / arx::dtype_traits<T>::block_elems);
    arx::ops::quantize_row(std::span<const float>(f), std::span<T>(out));
    return out;
  }
}

}  // namespace

TEMPLATE_TEST_CASE("gemv and gemm are identical for every thread count", "[ops][threads]",
                   ARX_OPS_ALL_TYPES) {
  using T = TestType;
  constexpr std::int64_t rows = 300, cols = 256, n = 7;  // rows not a multiple of 16 * threads
  const auto w_data = random_matrix<T>(rows, cols, 1);
  const arx::tensor_view<const T> w(w_data.data(), arx::shape_t{rows, cols});
  const auto x_data = random_matrix<float>(n, cols, 2);
  const arx::tensor_view<const float> x(x_data.data(), arx::shape_t{n, cols});

  std::vector<float> y1(rows), ym(std::size_t(n * rows));
  arx::ops::gemv(w, x.row(0), std::span<float>(y1));
  arx::ops::gemm(w, x, arx::tensor_view<float>(ym.data(), arx::shape_t{n, rows}));
  for (int threads : {1, 2, 3, 4}) {
    arx::thread_pool pool(threads);
    std::vector<float> y(rows, -1.0f), z(std::size_t(n * rows), -1.0f);
    arx::ops::gemv(w, x.row(0), std::span<float>(y), {}, &pool);
    arx::ops::gemm(w, x, arx::tensor_view<float>(z.data(), arx::shape_t{n, rows}), {}, &pool);
    CAPTURE(threads);
    CHECK(y == y1);
    CHECK(z == ym);
  }
}
