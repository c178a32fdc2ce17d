// tensor_view / tensor / any_tensor_view: shapes, strides, blocks, ownership and type checks.
#include <catch2/catch.hpp>

#include <arx/core/tensor.hpp>

#include <numeric>

TEST_CASE("contiguous float tensor: shape, strides, element access", "[core][tensor]") {
  arx::tensor<float> t({2, 3, 4});
  CHECK(t.numel() == 24);
  CHECK(t.nbytes() == 24 * sizeof(float));
  CHECK(reinterpret_cast<std::uintptr_t>(t.data()) % arx::buffer_alignment == 0);
  auto v = t.view();
  CHECK(v.stride(0) == 12);
  CHECK(v.stride(1) == 4);
  CHECK(v.stride(2) == 1);
  std::iota(t.flat().begin(), t.flat().end(), 0.0f);
  CHECK(v(1, 2, 3) == 23.0f);
  CHECK(v.slice(1)(0, 1) == 13.0f);
  CHECK(v.rows(1, 2).shape(0) == 1);
  CHECK(v.slice(1).row(0)[0] == 12.0f);
  arx::tensor_view<const float> cv = v;  // mutable -> const
  CHECK(cv(0, 0, 1) == 1.0f);
}

TEST_CASE("clone is deep, move transfers ownership", "[core][tensor]") {
  arx::tensor<float> a({4});
  a(2) = 7.0f;
  auto b = a.clone();
  b(2) = 1.0f;
  CHECK(a(2) == 7.0f);
  auto c = std::move(a);
  CHECK(c(2) == 7.0f);
  CHECK(a.data() == nullptr);  // NOLINT: moved-from is empty by contract
}

TEST_CASE("block tensors count values, store blocks", "[core][tensor]") {
  arx::tensor<arx::block_q8_0> q({3, 64});
  CHECK(q.nbytes() == 3 * 2 * sizeof(arx::block_q8_0));
  CHECK(q.view().stride(0) == 2);
  CHECK(q.row(2).size() == 2);
  CHECK_THROWS_AS(arx::tensor<arx::block_q4_0>({2, 33}), arx::shape_error);
}

TEST_CASE("any_tensor_view checks the type it is viewed as", "[core][tensor]") {
  arx::tensor<arx::f16> h({2, 8});
  arx::any_tensor_view any(h.view() /*implicit const*/, "w");
  CHECK(any.type() == arx::ggml_type::f16);
  CHECK(any.nbytes() == 32);
  CHECK(any.as<arx::f16>().shape(1) == 8);
  CHECK_THROWS_AS(any.as<float>(), arx::unsupported_error);
}

TEST_CASE("type_info covers block sizes, visit_dtype dispatches and rejects", "[core][dtype]") {
  CHECK(arx::type_info(8)->block_bytes == 34);
  CHECK(arx::type_info(12)->block_elems == 256);
  CHECK_FALSE(arx::type_info(4).has_value());
  CHECK_FALSE(arx::type_info(1000).has_value());
  CHECK(arx::row_bytes(arx::ggml_type::q4_0, 64) == 36);
  const int size = arx::visit_dtype(arx::ggml_type::bf16, [](auto t) {
    return int(sizeof(typename decltype(t)::type));
  });
  CHECK(size == 2);
  CHECK_THROWS_AS(arx::visit_dtype(arx::ggml_type::iq2_xxs, [](auto) { return 0; }),
                  arx::unsupported_error);
}

TEST_CASE("impossible tensor sizes are typed errors, not crashes", "[core][tensor]") {
  CHECK_THROWS_AS(arx::tensor<float>({std::int64_t(1) << 62}), arx::shape_error);  // bytes overflow
  CHECK_THROWS_AS(arx::tensor<float>({std::int64_t(1) << 61}), arx::memory_error);  // 8 EiB
  CHECK_THROWS_AS(arx::aligned_buffer(std::size_t(1) << 63), arx::memory_error);
  CHECK_THROWS_AS(arx::shape_t({std::int64_t(1) << 40, std::int64_t(1) << 40}), arx::shape_error);
  CHECK_THROWS_AS(arx::shape_t({-1}), arx::shape_error);
}

TEST_CASE("empty tensors have zero bytes", "[core][tensor]") {
  arx::tensor<float> t({3, 0});
  CHECK(t.nbytes() == 0);
  CHECK(arx::any_tensor_view(t.view()).nbytes() == 0);
  CHECK(t.view().empty());
}

TEST_CASE("row() is defined for 2-D views only", "[core][tensor]") {
  arx::tensor<float> v1({8}), v3({2, 3, 4});
  CHECK_THROWS_AS(v1.view().row(0), arx::shape_error);
  CHECK_THROWS_AS(v3.view().row(0), arx::shape_error);
  arx::tensor<float> m({2, 3});
  CHECK(m.view().row(1).size() == 3);
  CHECK(m.view().row(1).data() == m.data() + 3);
}
