// gemm for every storage type: each token's output row equals gemv of that token alone, bit for
// bit (batch invariance), for several batch sizes and row tilings; gemm against an Eigen double
// product and the reference; strided activations; shape errors.
#include <catch2/catch.hpp>

#include <arx/ops/gemm.hpp>

#include "unit/ops/ops_test_util.hpp"

#include "unit/ops/matmul_test_util.hpp"

#include <bit>
#include <cmath>
#include <cstring>
#include <vector>

using arx::block_q4_0;
using arx::block_q8_0;

namespace {

using ops_test::shape;

template <class T>
std::vector<shape> shapes() {
  if constexpr (arx::is_block_type_v<T>)
    return {{1, ops_test::fit<T>(32)}, {7, ops_test::fit<T>(96)}, {33, 4096}};
  else
    return {{1, 32}, {7, 96}, {5, 33}, {33, 4096}};  // f32 33x4096 spans two row tiles
}

// X: [n][cols] with a row stride of cols + 3 (strided activations); Y likewise [n][rows + 1].
template <class T>
void check_gemm(shape s, std::size_t n) {
  INFO(ops_test::type_label<T>() << " " << s.rows << "x" << s.cols << " n = " << n);
  ops_test::rng r(51 + s.rows + s.cols + n);
  const std::size_t units = s.cols / std::size_t(arx::dtype_traits<T>::block_elems);
  const auto w = ops_test::random_units<T>(r, s.rows * units);
  const arx::tensor_view<const T> wv(w.data(), {std::int64_t(s.rows), std::int64_t(s.cols)});
  const auto xs = ops_test::random_floats(r, n * (s.cols + 3));
  const arx::tensor_view<const float> x(xs.data(), {std::int64_t(n), std::int64_t(s.cols)},
                                        {std::int64_t(s.cols + 3), 1, 0, 0});
  std::vector<float> ys(n * (s.rows + 1), -1.0f), yr(n * s.rows);
  const arx::tensor_view<float> y(ys.data(), {std::int64_t(n), std::int64_t(s.rows)},
                                  {std::int64_t(s.rows + 1), 1, 0, 0});
  arx::ops::gemm(wv, x, y);
  arx::ops::ref::gemm(wv, x,
                      arx::tensor_view<float>(yr.data(), {std::int64_t(n), std::int64_t(s.rows)}));

  Eigen::MatrixXd wd(s.rows, s.cols), xd(n, s.cols);
  std::vector<std::vector<double>> wrows(s.rows);
  for (std::size_t i = 0; i < s.rows; ++i) {
    wrows[i] = ops_test::exact_values(w.data() + i * units, units);
    for (std::size_t j = 0; j < s.cols; ++j) wd(Eigen::Index(i), Eigen::Index(j)) = wrows[i][j];
  }
  for (std::size_t t = 0; t < n; ++t)
    for (std::size_t j = 0; j < s.cols; ++j)
      xd(Eigen::Index(t), Eigen::Index(j)) = x(std::int64_t(t), std::int64_t(j));
  const Eigen::MatrixXd exact = xd * wd.transpose();

  std::vector<float> alone(s.rows);
  for (std::size_t t = 0; t < n; ++t) {
    const auto xt = x.row(std::int64_t(t));
    arx::ops::gemv(wv, xt, std::span<float>(alone));
    const std::vector<float> xv(xt.begin(), xt.end());
    for (std::size_t i = 0; i < s.rows; ++i) {
      INFO("token " << t << " row " << i);
      const float got = y(std::int64_t(t), std::int64_t(i));
      REQUIRE(std::bit_cast<std::uint32_t>(got) == std::bit_cast<std::uint32_t>(alone[i]));
      const double bound = ops_test::row_bound<T>(wrows[i], xv);
      REQUIRE(std::fabs(double(got) - exact(Eigen::Index(t), Eigen::Index(i))) <= bound);
      REQUIRE(std::fabs(double(yr[t * s.rows + i]) - exact(Eigen::Index(t), Eigen::Index(i))) <=
              bound);
    }
    CHECK(ys[t * (s.rows + 1) + s.rows] == -1.0f);  // the stride gap of Y is untouched
  }
}

}  // namespace

TEMPLATE_TEST_CASE("gemm: every token equals gemv alone, bit for bit, and matches Eigen",
                   "[ops][gemm]", ARX_OPS_ALL_TYPES) {
  for (const shape s : shapes<TestType>())
    // 5, 7, 8: one pass for Q4_0/Q8_0 (VNNI); 9, 16, 41: register tiles
    for (std::size_t n : {1, 2, 5, 7, 8, 9, 16, 41}) check_gemm<TestType>(s, n);
}

TEMPLATE_TEST_CASE("gemm: a token's result does not depend on its batch", "[ops][gemm]",
                   ARX_OPS_ALL_TYPES) {
  // The same token at position 0 of a batch of 1, position 2 of 3 and position 6 of 7.
  ops_test::rng r(61);
  const std::size_t rows = 6, cols = ops_test::fit<TestType>(1056);
  const auto w = ops_test::random_units<TestType>(
      r, rows * cols / std::size_t(arx::dtype_traits<TestType>::block_elems));
  const arx::tensor_view<const TestType> wv(w.data(), {std::int64_t(rows), std::int64_t(cols)});
  const auto xs = ops_test::random_floats(r, 7 * cols);
  std::vector<float> y1(rows), y3(3 * rows), y7(7 * rows);
  arx::ops::gemm(wv, arx::tensor_view<const float>(xs.data() + 6 * cols, {1, std::int64_t(cols)}),
                 arx::tensor_view<float>(y1.data(), {1, std::int64_t(rows)}));
  arx::ops::gemm(wv, arx::tensor_view<const float>(xs.data() + 4 * cols, {3, std::int64_t(cols)}),
                 arx::tensor_view<float>(y3.data(), {3, std::int64_t(rows)}));
  arx::ops::gemm(wv, arx::tensor_view<const float>(xs.data(), {7, std::int64_t(cols)}),
                 arx::tensor_view<float>(y7.data(), {7, std::int64_t(rows)}));
  CHECK(std::memcmp(y1.data(), y3.data() + 2 * rows, rows * sizeof(float)) == 0);
  CHECK(std::memcmp(y1.data(), y7.data() + 6 * rows, rows * sizeof(float)) == 0);
}

TEMPLATE_TEST_CASE("gemm: runtime-typed entry and caller scratch give the same bits",
                   "[ops][gemm]", ARX_OPS_ALL_TYPES) {
  ops_test::rng r(62);
  const std::size_t rows = 5, cols = ops_test::fit<TestType>(96), n = 6;
  const auto w = ops_test::random_units<TestType>(
      r, rows * cols / std::size_t(arx::dtype_traits<TestType>::block_elems));
  const arx::tensor_view<const TestType> wv(w.data(), {std::int64_t(rows), std::int64_t(cols)});
  const auto xs = ops_test::random_floats(r, n * cols);
  const arx::tensor_view<const float> x(xs.data(), {std::int64_t(n), std::int64_t(cols)});
  std::vector<float> a(n * rows), b(n * rows), c(n * rows);
  auto view = [&](std::vector<float>& v) {
    return arx::tensor_view<float>(v.data(), {std::int64_t(n), std::int64_t(rows)});
  };
  arx::ops::gemm(wv, x, view(a));
  arx::ops::gemm(arx::any_tensor_view(wv, "output.weight"), x, view(b));
  const auto type = arx::dtype_traits<TestType>::type;
  std::vector<std::byte> scratch(arx::ops::gemm_scratch_bytes(type, n, cols));
  arx::ops::gemm(wv, x, view(c), std::span<std::byte>(scratch));
  CHECK(a == b);
  CHECK(a == c);
}

TEST_CASE("gemm: empty batch and shape errors", "[ops][gemm]") {
  std::vector<float> w(7 * 96), x(3 * 96), y(3 * 7);
  const arx::tensor_view<const float> wv(w.data(), {7, 96});
  arx::ops::gemm(wv, arx::tensor_view<const float>(x.data(), {0, 96}),
                 arx::tensor_view<float>(y.data(), {0, 7}));  // n = 0: nothing to do
  try {
    arx::ops::gemm(wv, arx::tensor_view<const float>(x.data(), {3, 95}),
                   arx::tensor_view<float>(y.data(), {3, 7}));
    FAIL("no exception");
  } catch (const arx::shape_error& e) {
    const std::string m = e.what();
    CHECK(m.find("[7, 96]") != std::string::npos);
    CHECK(m.find("[3, 95]") != std::string::npos);
  }
  CHECK_THROWS_AS(arx::ops::gemm(wv, arx::tensor_view<const float>(x.data(), {3, 96}),
                                 arx::tensor_view<float>(y.data(), {2, 7})),
                  arx::shape_error);
  CHECK_THROWS_AS(arx::ops::gemm(wv, arx::tensor_view<const float>(x.data(), {3, 96}),
                                 arx::tensor_view<float>(y.data(), {21})),
                  arx::shape_error);
  CHECK_THROWS_AS(arx::ops::ref::gemm(wv, arx::tensor_view<const float>(x.data(), {3, 96}),
                                      arx::tensor_view<float>(y.data(), {3, 6})),
                  arx::shape_error);
}

TEST_CASE("gemm: columns that are not a multiple of the block size throw", "[ops][gemm]") {
  std::vector<block_q8_0> w8(4);
  std::vector<block_q4_0> w4(4);
  std::vector<float> x(2 * 33, 1.0f), y(2 * 2);
  const arx::tensor_view<const block_q8_0> v8(w8.data(), {2, 33}, {2, 1, 0, 0});
  const arx::tensor_view<const block_q4_0> v4(w4.data(), {2, 33}, {2, 1, 0, 0});
  const arx::tensor_view<const float> xv(x.data(), {2, 33});
  const arx::tensor_view<float> yv(y.data(), {2, 2});
  try {
    arx::ops::gemm(v8, xv, yv);
    FAIL("no exception");
  } catch (const arx::shape_error& e) {
    const std::string m = e.what();
    CHECK(m.find("[2, 33]") != std::string::npos);
    CHECK(m.find("32") != std::string::npos);
  }
  CHECK_THROWS_AS(arx::ops::gemm(v4, xv, yv), arx::shape_error);
  CHECK_THROWS_AS(arx::ops::ref::gemm(v4, xv, yv), arx::shape_error);
}
