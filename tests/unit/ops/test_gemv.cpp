// gemv for every storage type: fast vs reference, reference vs an Eigen double product (bound
// derived from f32 summation and, for Q8_0/Q4_0 weights, the Q8_0 quantization of x), rows that
// equal the single-row dot bit for bit, strided/misaligned weights, the runtime-typed entry,
// scratch handling and shape errors.
#include <catch2/catch.hpp>

#include <arx/ops/gemv.hpp>

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
    return {{1, ops_test::fit<T>(32)}, {7, ops_test::fit<T>(96)}, {3, ops_test::fit<T>(1056)},
            {33, 4096}};
  else
    return {{1, 1}, {1, 32}, {5, 33}, {7, 96}, {4, 4095}, {33, 4096}};
}

bool bitwise_equal(float a, float b) {
  return std::bit_cast<std::uint32_t>(a) == std::bit_cast<std::uint32_t>(b);
}

// Random weights [rows][cols] stored with `pad` extra units per row and `off` units before the
// first row, so rows start at every alignment.
template <class T>
struct weights {
  std::vector<T> storage;
  arx::tensor_view<const T> view;
  weights(ops_test::rng& r, shape s, std::size_t pad = 0, std::size_t off = 0) {
    const std::size_t units = s.cols / std::size_t(arx::dtype_traits<T>::block_elems);
    storage = ops_test::random_units<T>(r, off + s.rows * (units + pad) + 1);
    view = arx::tensor_view<const T>(storage.data() + off,
                                     {std::int64_t(s.rows), std::int64_t(s.cols)},
                                     {std::int64_t(units + pad), 1, 0, 0});
  }
  std::vector<double> exact_row(std::size_t r) const {
    const auto row = view.row(std::int64_t(r));
    return ops_test::exact_values(row.data(), row.size());
  }
};

template <class T>
void check_gemv(shape s, std::size_t pad, std::size_t off) {
  ops_test::rng r(31 + s.rows * 7 + s.cols + pad + off);
  const weights<T> w(r, s, pad, off);
  const auto x = ops_test::random_floats(r, s.cols);
  std::vector<float> fast(s.rows), ref(s.rows);
  arx::ops::gemv(w.view, std::span<const float>(x), std::span<float>(fast));
  arx::ops::ref::gemv(w.view, std::span<const float>(x), std::span<float>(ref));

  // independent math: Eigen, in double, on the exact weight values and the unquantized x
  Eigen::MatrixXd wd(s.rows, s.cols);
  for (std::size_t i = 0; i < s.rows; ++i) {
    const auto row = w.exact_row(i);
    for (std::size_t j = 0; j < s.cols; ++j) wd(Eigen::Index(i), Eigen::Index(j)) = row[j];
  }
  const Eigen::VectorXd exact =
      wd * Eigen::Map<const Eigen::VectorXf>(x.data(), Eigen::Index(s.cols)).cast<double>();

  constexpr bool int8 = std::is_same_v<typename arx::dtype_traits<T>::dot_type, block_q8_0>;
  std::vector<block_q8_0> xq(int8 ? s.cols / 32 : 0);
  if constexpr (int8) arx::ops::quantize_row(std::span<const float>(x), std::span<block_q8_0>(xq));
  for (std::size_t i = 0; i < s.rows; ++i) {
    INFO(ops_test::type_label<T>() << " " << s.rows << "x" << s.cols << " pad " << pad << " off "
                                   << off << " row " << i);
    const double bound = ops_test::row_bound<T>(w.exact_row(i), x);
    REQUIRE(std::fabs(double(ref[i]) - exact(Eigen::Index(i))) <= bound);
    REQUIRE(std::fabs(double(fast[i]) - exact(Eigen::Index(i))) <= bound);
    REQUIRE(std::fabs(double(fast[i]) - double(ref[i])) <= 2 * bound);
    // gemv's row is the single-row dot, bit for bit
    const auto row = w.view.row(std::int64_t(i));
    float d;
    if constexpr (int8)
      d = arx::ops::dot(row, std::span<const block_q8_0>(xq));
    else
      d = arx::ops::dot(row, std::span<const float>(x));
    REQUIRE(bitwise_equal(d, fast[i]));
  }
}

}  // namespace

TEMPLATE_TEST_CASE("gemv: fast and reference against Eigen, rows equal to dot", "[ops][gemv]",
                   ARX_OPS_ALL_TYPES) {
  for (const shape s : shapes<TestType>()) check_gemv<TestType>(s, 0, 0);
}

TEMPLATE_TEST_CASE("gemv: strided and misaligned weight rows", "[ops][gemv]", ARX_OPS_ALL_TYPES) {
  const std::size_t cols = arx::is_block_type_v<TestType> ? ops_test::fit<TestType>(1120) : 133;
  for (std::size_t pad : {1, 3})
    for (std::size_t off : {1, 2, 7}) check_gemv<TestType>({5, cols}, pad, off);
}

TEMPLATE_TEST_CASE("gemv: runtime-typed entry and caller scratch give the same bits",
                   "[ops][gemv]", ARX_OPS_ALL_TYPES) {
  ops_test::rng r(41);
  constexpr std::size_t cols = ops_test::fit<TestType>(1056);
  const shape s{9, cols};
  const weights<TestType> w(r, s);
  const auto x = ops_test::random_floats(r, s.cols);
  std::vector<float> a(s.rows), b(s.rows), c(s.rows);
  arx::ops::gemv(w.view, std::span<const float>(x), std::span<float>(a));
  const arx::any_tensor_view any(w.view, "blk.0.ffn_up.weight");
  arx::ops::gemv(any, std::span<const float>(x), std::span<float>(b));
  const std::size_t need = arx::ops::gemv_scratch_bytes(arx::dtype_traits<TestType>::type, cols);
  CHECK(need == arx::ops::gemv_scratch_bytes<TestType>(cols));
  // scratch holds the quantized activations: needed exactly when the dot takes Q8_0 activations
  CHECK((need == 0) ==
        std::is_same_v<typename arx::dtype_traits<TestType>::dot_type, float>);
  std::vector<std::byte> scratch(need + 3);
  arx::ops::gemv(w.view, std::span<const float>(x), std::span<float>(c),
                 std::span<std::byte>(scratch).subspan(3));  // unaligned start: gemv aligns it
  CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
  CHECK(std::memcmp(a.data(), c.data(), a.size() * sizeof(float)) == 0);
  if (need > 0)
    CHECK_THROWS_AS(arx::ops::gemv(w.view, std::span<const float>(x), std::span<float>(c),
                                   std::span<std::byte>(scratch).first(need / 2)),
                    arx::invalid_argument);
}

TEST_CASE("gemv: empty shapes", "[ops][gemv]") {
  std::vector<float> w(4, 1.0f), x, y(4, 7.0f);
  arx::ops::gemv(arx::tensor_view<const float>(w.data(), {4, 0}), std::span<const float>(x),
                 std::span<float>(y));
  for (float v : y) CHECK(v == 0.0f);  // a product over no columns is 0
  std::vector<float> x1(3), none;
  arx::ops::gemv(arx::tensor_view<const float>(w.data(), {0, 3}), std::span<const float>(x1),
                 std::span<float>(none));
}

TEST_CASE("gemv: shape errors name both shapes", "[ops][gemv]") {
  std::vector<float> w(7 * 96), x(95), y(7), x_ok(96), y_bad(6);
  const arx::tensor_view<const float> wv(w.data(), {7, 96});
  try {
    arx::ops::gemv(wv, std::span<const float>(x), std::span<float>(y));
    FAIL("no exception");
  } catch (const arx::shape_error& e) {
    const std::string m = e.what();
    CHECK(m.find("[7, 96]") != std::string::npos);
    CHECK(m.find("[95]") != std::string::npos);
  }
  CHECK_THROWS_AS(arx::ops::gemv(wv, std::span<const float>(x_ok), std::span<float>(y_bad)),
                  arx::shape_error);
  CHECK_THROWS_AS(arx::ops::ref::gemv(wv, std::span<const float>(x), std::span<float>(y)),
                  arx::shape_error);
  const arx::tensor_view<const float> w1(w.data(), {96});
  CHECK_THROWS_AS(arx::ops::gemv(w1, std::span<const float>(x_ok), std::span<float>(y)),
                  arx::shape_error);
  std::vector<std::byte> raw(64);
  const arx::any_tensor_view q41(arx::ggml_type::iq4_nl, raw.data(), {1, 32},
                                 "blk.3.attn_q.weight");
  try {
    arx::ops::gemv(q41, std::span<const float>(x_ok).first(32), std::span<float>(y).first(1));
    FAIL("no exception");
  } catch (const arx::unsupported_error& e) {
    CHECK(std::string(e.what()).find("blk.3.attn_q.weight") != std::string::npos);
  }
}

TEST_CASE("gemv: columns that are not a multiple of the block size throw", "[ops][gemv]") {
  // A strided view can claim 33 columns of Q8_0 (one block and a stray value per row); the int8
  // kernels would silently drop the 33rd column.
  std::vector<block_q8_0> w8(4);
  std::vector<block_q4_0> w4(4);
  std::vector<float> x(33, 1.0f), y(2);
  const arx::tensor_view<const block_q8_0> v8(w8.data(), {2, 33}, {2, 1, 0, 0});
  const arx::tensor_view<const block_q4_0> v4(w4.data(), {2, 33}, {2, 1, 0, 0});
  try {
    arx::ops::gemv(v8, std::span<const float>(x), std::span<float>(y));
    FAIL("no exception");
  } catch (const arx::shape_error& e) {
    const std::string m = e.what();
    CHECK(m.find("[2, 33]") != std::string::npos);
    CHECK(m.find("32") != std::string::npos);
  }
  CHECK_THROWS_AS(arx::ops::gemv(v4, std::span<const float>(x), std::span<float>(y)),
                  arx::shape_error);
  CHECK_THROWS_AS(arx::ops::ref::gemv(v8, std::span<const float>(x), std::span<float>(y)),
                  arx::shape_error);
  CHECK_THROWS_AS(arx::ops::gemv(arx::any_tensor_view(v8, "blk.0.attn_k.weight"),
                                 std::span<const float>(x), std::span<float>(y)),
                  arx::shape_error);
}

TEMPLATE_TEST_CASE("gemv: activations too tiny for a finite 1/d give finite results",
                   "[ops][gemv]", block_q8_0, block_q4_0) {
  // Block 0 of x quantizes with 1/d overflowing (see test_quantize): its quants are 0, so it
  // adds nothing; block 1 is ordinary.
  ops_test::rng r(5);
  const shape s{5, 64};
  const weights<TestType> w(r, s);
  auto x = ops_test::random_floats(r, s.cols);
  std::fill(x.begin(), x.begin() + 32, 0.0f);
  x[0] = 1e-38f;
  x[1] = -5e-39f;
  std::vector<float> fast(s.rows), ref(s.rows);
  arx::ops::gemv(w.view, std::span<const float>(x), std::span<float>(fast));
  arx::ops::ref::gemv(w.view, std::span<const float>(x), std::span<float>(ref));
  for (std::size_t i = 0; i < s.rows; ++i) {
    CHECK(std::isfinite(fast[i]));
    const auto row = w.view.row(std::int64_t(i));
    // block 0 of x contributes exactly 0: the reference equals the dot over block 1 alone
    std::vector<block_q8_0> xq(1);
    arx::ops::ref::quantize_row(std::span<const float>(x).subspan(32), std::span<block_q8_0>(xq));
    CHECK(ref[i] == arx::ops::ref::dot(std::span<const TestType>(row.data() + 1, 1),
                                       std::span<const block_q8_0>(xq)));
    CHECK(std::fabs(fast[i] - ref[i]) <= 1e-4f * (1.0f + std::fabs(ref[i])));
  }
}
