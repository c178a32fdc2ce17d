// Our quantizers against llama.cpp's: ../shared/reference/models/tiny-q.<type>.gguf were made by
// llama.cpp's quantizer from tiny-q.f32.gguf. Quantizing the same f32 tensors with arx must give
// the very same bytes for every tensor llama.cpp stored as F16, BF16, Q8_0 or Q4_0 — an
// independent check of the bit layouts and of the rounding rules (f16 scale, round half away).
#include <catch2/catch.hpp>

#include <arx/io/gguf.hpp>
#include <arx/ops/quantize.hpp>

#include <cstring>
#include <string>
#include <vector>

#include "reference/reference.hpp"

namespace {

struct compare_result {
  int tensors = 0;              // tensors of the wanted type compared
  std::int64_t units = 0;       // storage units (values or blocks) compared
  std::int64_t ref_diffs = 0;   // units where ops::ref::quantize_row differs from llama.cpp
  std::int64_t fast_diffs = 0;  // units where ops::quantize_row differs from llama.cpp
};

template <class T>
compare_result compare_with(const std::string& quantized_name) {
  const auto dir = arx_test::reference_dir() / "models";
  auto src = arx::gguf::open((dir / "tiny-q.f32.gguf").string());
  auto dst = arx::gguf::open((dir / quantized_name).string());
  compare_result r;
  for (const auto& info : dst.tensors()) {
    if (info.type != arx::dtype_traits<T>::type) continue;
    const auto x = src.tensor_as<float>(info.name);  // [rows][cols], same shape
    REQUIRE(x.shape() == info.shape);
    const auto want = dst.tensor_as<T>(info.name);
    const auto flat_x = std::span<const float>(x.data(), std::size_t(x.numel()));
    const auto flat_want = want.flat();
    std::vector<T> got_ref(flat_want.size()), got_fast(flat_want.size());
    arx::ops::ref::quantize_row<T>(flat_x, got_ref);
    arx::ops::quantize_row<T>(flat_x, got_fast);
    for (std::size_t u = 0; u < flat_want.size(); ++u) {
      r.ref_diffs += std::memcmp(&got_ref[u], &flat_want[u], sizeof(T)) != 0;
      r.fast_diffs += std::memcmp(&got_fast[u], &flat_want[u], sizeof(T)) != 0;
    }
    r.units += std::int64_t(flat_want.size());
    ++r.tensors;
  }
  return r;
}

template <class T>
void check_identical(const std::string& file) {
  const auto r = compare_with<T>(file);
  INFO(file << ": " << r.tensors << " tensors, " << r.units << " units, ref differs in "
            << r.ref_diffs << ", fast differs in " << r.fast_diffs);
  REQUIRE(r.tensors > 0);
  CHECK(r.ref_diffs == 0);
  CHECK(r.fast_diffs == 0);
}

}  // namespace

TEST_CASE("quantize: F16 rows equal llama.cpp's tiny-q.f16 bytes", "[reference][quantize]") {
  check_identical<arx::f16>("tiny-q.f16.gguf");
}
TEST_CASE("quantize: BF16 rows equal llama.cpp's tiny-q.bf16 bytes", "[reference][quantize]") {
  check_identical<arx::bf16>("tiny-q.bf16.gguf");
}
TEST_CASE("quantize: Q8_0 blocks equal llama.cpp's tiny-q.q8_0 bytes", "[reference][quantize]") {
  check_identical<arx::block_q8_0>("tiny-q.q8_0.gguf");
}
TEST_CASE("quantize: Q4_0 blocks equal llama.cpp's tiny-q.q4_0 bytes", "[reference][quantize]") {
  check_identical<arx::block_q4_0>("tiny-q.q4_0.gguf");
}
