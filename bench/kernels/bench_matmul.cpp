// bench_matmul.cpp — the weight-type kernels of arx::ops: quantize, dot, gemv and gemm for every
// storage type, reported as weight bytes/s ("W_B/s") and FLOP/s (2 per multiply-add). gemv is
// memory bound, so it also reports the machine's single-thread read bandwidth measured in this
// process ("read_B/s", see bandwidth.hpp) and its own fraction of it ("of_read_bw").
//
//   arx-bench-kernels --benchmark_filter='read_bandwidth|gemv'
//
// The context printed first names the SIMD target (arx::simd_target) the kernels were built for.
#include <benchmark/benchmark.h>

#include <arx/core/dtype.hpp>
#include <arx/core/memory.hpp>
#include <arx/core/tensor.hpp>
#include <arx/ops/gemm.hpp>
#include <arx/ops/gemv.hpp>
#include <arx/ops/quantize.hpp>

#include "kernels/bandwidth.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace {

using arx::block_q4_0;
using arx::block_q8_0;

const bool context_added = [] {
  benchmark::AddCustomContext("arx::simd_target", arx::simd_target);
  return true;
}();

constexpr std::int64_t dim = 4096;  // the benchmarked weight is [dim][dim]

template <class T>
std::vector<T> random_row(std::size_t units, std::uint32_t seed) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  constexpr std::size_t be = std::size_t(arx::dtype_traits<T>::block_elems);
  std::vector<float> x(units * be);
  for (auto& v : x) v = u(g);
  std::vector<T> out(units);
  arx::ops::quantize_row(std::span<const float>(x), std::span<T>(out));
  return out;
}

std::vector<float> random_floats(std::size_t n, std::uint32_t seed) {
  return random_row<float>(n, seed);
}

// Distinct copies of one [dim][dim] weight of type T, together at least 256 MiB: eight times the
// 32 MiB L3, so cycling through them makes every gemv stream its weights from DRAM, as decoding
// a model larger than the caches does. The weights start `offset` bytes past a 64-byte boundary.
// One pool at a time is kept (the last type and offset asked for).
class weight_pool {
 public:
  template <class T>
  static const weight_pool& get(std::size_t offset = 0) {
    static weight_pool pool;
    if (pool.type_ != arx::dtype_traits<T>::type || pool.offset_ != offset || pool.copies_.empty())
      pool.fill<T>(offset);
    return pool;
  }
  /// Copy i % count.
  template <class T>
  arx::tensor_view<const T> view(std::size_t i) const {
    const std::byte* p = copies_[i % copies_.size()].data() + offset_;
    return {reinterpret_cast<const T*>(p), {dim, dim}};
  }
  std::size_t bytes() const { return bytes_; }

 private:
  template <class T>
  void fill(std::size_t offset) {
    copies_.clear();
    type_ = arx::dtype_traits<T>::type;
    offset_ = offset;
    bytes_ = arx::row_bytes(type_, dim) * std::size_t(dim);
    const std::size_t count = (std::size_t(256) << 20) / bytes_ + 1;
    const std::size_t units = std::size_t(dim * dim / arx::dtype_traits<T>::block_elems);
    const auto row = random_row<T>(units, 1);
    for (std::size_t c = 0; c < count; ++c) {
      copies_.emplace_back(bytes_ + offset);
      std::memcpy(copies_.back().data() + offset, row.data(), bytes_);
    }
  }
  arx::ggml_type type_ = arx::ggml_type::f32;
  std::size_t offset_ = 0, bytes_ = 0;
  std::vector<arx::aligned_buffer> copies_;
};

using counter = benchmark::Counter;

void set_counters(benchmark::State& state, double weight_bytes, double flops) {
  const double it = double(state.iterations());
  state.counters["W_B/s"] = counter(weight_bytes * it, counter::kIsRate);
  state.counters["FLOP/s"] = counter(flops * it, counter::kIsRate);
}

// ---- the reference: what one core can stream ------------------------------------------------

void read_bandwidth(benchmark::State& state) {
  const auto& buf = arx_bench::bandwidth_buffer();
  const std::size_t ahead = std::size_t(state.range(0));
  for (auto _ : state) benchmark::DoNotOptimize(arx_bench::read_sum(buf.data(), buf.size(), ahead));
  const double bytes = double(buf.size()) * double(state.iterations());
  state.counters["read_B/s"] = counter(bytes, counter::kIsRate);
  state.SetLabel(ahead ? "prefetch " + std::to_string(ahead) + " B ahead"
                       : "hardware prefetch only");
}
BENCHMARK(read_bandwidth)->Arg(0)->Arg(4096)->Arg(8192)->Arg(16384)->Unit(benchmark::kMillisecond)
    ->UseRealTime()->MinTime(1.0);

// ---- quantize -------------------------------------------------------------------------------

template <class T>
void quantize_row(benchmark::State& state) {
  const auto x = random_floats(dim, 2);
  std::vector<T> out(std::size_t(dim / arx::dtype_traits<T>::block_elems));
  for (auto _ : state) {
    arx::ops::quantize_row(std::span<const float>(x), std::span<T>(out));
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["x_B/s"] = counter(double(dim * 4) * double(state.iterations()), counter::kIsRate);
}
BENCHMARK_TEMPLATE(quantize_row, block_q8_0);
BENCHMARK_TEMPLATE(quantize_row, block_q4_0);
BENCHMARK_TEMPLATE(quantize_row, arx::f16);

// ---- dot (one row, cache resident) ----------------------------------------------------------

template <class T>
void dot_f32(benchmark::State& state) {
  const auto w = random_row<T>(std::size_t(dim / arx::dtype_traits<T>::block_elems), 3);
  const auto x = random_floats(dim, 4);
  for (auto _ : state)
    benchmark::DoNotOptimize(arx::ops::dot(std::span<const T>(w), std::span<const float>(x)));
  set_counters(state, double(arx::row_bytes(arx::dtype_traits<T>::type, dim)), 2.0 * dim);
}
BENCHMARK_TEMPLATE(dot_f32, float);
BENCHMARK_TEMPLATE(dot_f32, arx::f16);
BENCHMARK_TEMPLATE(dot_f32, arx::bf16);
BENCHMARK_TEMPLATE(dot_f32, block_q8_0);
BENCHMARK_TEMPLATE(dot_f32, block_q4_0);

template <class W>
void dot_q8(benchmark::State& state) {
  const auto w = random_row<W>(std::size_t(dim / 32), 5);
  const auto x = random_row<block_q8_0>(std::size_t(dim / 32), 6);
  for (auto _ : state)
    benchmark::DoNotOptimize(arx::ops::dot(std::span<const W>(w), std::span<const block_q8_0>(x)));
  set_counters(state, double(arx::row_bytes(arx::dtype_traits<W>::type, dim)), 2.0 * dim);
}
BENCHMARK_TEMPLATE(dot_q8, block_q8_0);
BENCHMARK_TEMPLATE(dot_q8, block_q4_0);

// ---- gemv: [4096][4096] from DRAM -----------------------------------------------------------
// Arg: byte offset of the weights past a 64-byte boundary. 0 is an aligned buffer; 32 is what a
// GGUF file gives (tensors aligned to 32 bytes), where every row starts mid cache line.

template <class T>
void gemv(benchmark::State& state) {
  const double read = arx_bench::machine_read_gbps() * 1e9;  // measured before the pool exists
  const auto& pool = weight_pool::get<T>(std::size_t(state.range(0)));
  const auto x = random_floats(dim, 7);
  std::vector<float> y(dim);
  std::vector<std::byte> scratch(arx::ops::gemv_scratch_bytes<T>(dim));
  std::size_t i = 0;
  const auto t0 = std::chrono::steady_clock::now();  // for the ratio (a plain number, not a rate)
  for (auto _ : state) {
    arx::ops::gemv(pool.template view<T>(i++), std::span<const float>(x), std::span<float>(y),
                   std::span<std::byte>(scratch));
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double bytes = double(pool.bytes());
  set_counters(state, bytes, 2.0 * dim * dim);
  state.counters["read_B/s"] = counter(read);
  state.counters["of_read_bw"] = counter(bytes * double(state.iterations()) / secs / read);
}
#define ARX_GEMV_BENCH(T)                                                                        \
  BENCHMARK_TEMPLATE(gemv, T)->Arg(0)->Arg(32)->Unit(benchmark::kMicrosecond)->UseRealTime()    \
      ->MinTime(1.0)
ARX_GEMV_BENCH(float);
ARX_GEMV_BENCH(arx::f16);
ARX_GEMV_BENCH(arx::bf16);
ARX_GEMV_BENCH(block_q8_0);
ARX_GEMV_BENCH(block_q4_0);
ARX_GEMV_BENCH(arx::block_q4_1);
ARX_GEMV_BENCH(arx::block_q5_0);
ARX_GEMV_BENCH(arx::block_q5_1);
ARX_GEMV_BENCH(arx::block_q2_k);
ARX_GEMV_BENCH(arx::block_q3_k);
ARX_GEMV_BENCH(arx::block_q4_k);
ARX_GEMV_BENCH(arx::block_q5_k);
ARX_GEMV_BENCH(arx::block_q6_k);

// ---- gemm: n tokens x [4096][4096] ----------------------------------------------------------

template <class T>
void gemm(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  const auto& pool = weight_pool::get<T>();
  const auto xs = random_floats(std::size_t(n * dim), 8);
  std::vector<float> ys(std::size_t(n * dim));
  std::vector<std::byte> scratch(arx::ops::gemm_scratch_bytes<T>(n, dim));
  const arx::tensor_view<const float> x(xs.data(), {n, dim});
  const arx::tensor_view<float> y(ys.data(), {n, dim});
  std::size_t i = 0;
  for (auto _ : state) {
    arx::ops::gemm(pool.template view<T>(i++), x, y, std::span<std::byte>(scratch));
    benchmark::DoNotOptimize(ys.data());
    benchmark::ClobberMemory();
  }
  set_counters(state, double(pool.bytes()), 2.0 * double(n) * dim * dim);
}
#define ARX_GEMM_BENCH(T)                                                                        \
  BENCHMARK_TEMPLATE(gemm, T)->RangeMultiplier(2)->Range(1, 16)->Arg(64)->Arg(256)              \
      ->Unit(benchmark::kMillisecond)->UseRealTime()
ARX_GEMM_BENCH(float);
ARX_GEMM_BENCH(arx::f16);
ARX_GEMM_BENCH(arx::bf16);
ARX_GEMM_BENCH(block_q8_0);
ARX_GEMM_BENCH(block_q4_0);
ARX_GEMM_BENCH(arx::block_q4_k);
ARX_GEMM_BENCH(arx::block_q6_k);

// ---- gemm at a model's shapes: n tokens x [rows][cols] (TinyLlama-1.1B: attention 2048 x 2048,
// FFN gate/up 5632 x 2048, down 2048 x 5632). The weights are one copy, so with n >= 16 this is
// compute bound (prefill). Args: rows, cols, n.

template <class T>
void gemm_shape(benchmark::State& state) {
  const std::int64_t rows = state.range(0), cols = state.range(1), n = state.range(2);
  const std::size_t units = std::size_t(cols / arx::dtype_traits<T>::block_elems);
  std::vector<T> w(std::size_t(rows) * units);
  for (std::int64_t r = 0; r < rows; ++r) {
    const auto row = random_row<T>(units, std::uint32_t(11 + r));
    std::memcpy(w.data() + std::size_t(r) * units, row.data(), units * sizeof(T));
  }
  const auto xs = random_floats(std::size_t(n * cols), 12);
  std::vector<float> ys(std::size_t(n * rows));
  std::vector<std::byte> scratch(arx::ops::gemm_scratch_bytes<T>(n, cols));
  const arx::tensor_view<const T> wv(w.data(), {rows, cols});
  const arx::tensor_view<const float> x(xs.data(), {n, cols});
  const arx::tensor_view<float> y(ys.data(), {n, rows});
  for (auto _ : state) {
    arx::ops::gemm(wv, x, y, std::span<std::byte>(scratch));
    benchmark::DoNotOptimize(ys.data());
    benchmark::ClobberMemory();
  }
  set_counters(state, double(arx::row_bytes(arx::dtype_traits<T>::type, cols)) * double(rows),
               2.0 * double(n) * double(rows) * double(cols));
}
void model_shapes(benchmark::internal::Benchmark* b) {
  for (std::int64_t n : {16, 64, 512})
    for (auto [rows, cols] : {std::pair<std::int64_t, std::int64_t>{2048, 2048}, {5632, 2048},
                              {2048, 5632}})
      b->Args({rows, cols, n});
}
#define ARX_GEMM_SHAPE_BENCH(T)                                                                   \
  BENCHMARK_TEMPLATE(gemm_shape, T)->Apply(model_shapes)->Unit(benchmark::kMillisecond)          \
      ->MeasureProcessCPUTime()
ARX_GEMM_SHAPE_BENCH(arx::f16);
ARX_GEMM_SHAPE_BENCH(block_q8_0);
ARX_GEMM_SHAPE_BENCH(block_q4_0);

}  // namespace
