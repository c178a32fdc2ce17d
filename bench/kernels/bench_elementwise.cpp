// Benchmarks of the non-matmul kernels (ops/{elementwise,norm,softmax,activation,rope}.hpp) at the
// sizes of a 7B Llama layer: vectors of n = 4096 and RoPE over 32 heads × 128. Each kernel runs in
// its fast form and as its scalar reference (".../ref").
//
// Counters (rates per second of wall time):
//   bytes  logical traffic: each input read once, each output written once
//   FLOP   additions and multiplications the formula needs; exp, erfc, sqrt, division count 1
//   elems  elements (or rotated dims) produced
// The label shows the SIMD target the binary was compiled for (without -march: SSE2).
#include <benchmark/benchmark.h>

#include <arx/ops/activation.hpp>
#include <arx/ops/elementwise.hpp>
#include <arx/ops/norm.hpp>
#include <arx/ops/rope.hpp>
#include <arx/ops/softmax.hpp>
#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace {

constexpr std::size_t kN = 4096;
constexpr std::size_t kHeads = 32, kHeadDim = 128;

std::vector<float> random_floats(std::size_t n, float lo, float hi, std::uint32_t seed) {
  std::mt19937 g(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = lo + (hi - lo) * float(g() >> 8) * 0x1p-24f;
  return v;
}

// Per-iteration work of a kernel.
struct work {
  double bytes, flops, elems;
};

void report(benchmark::State& state, work w) {
  const double it = double(state.iterations());
  state.counters["bytes"] = benchmark::Counter(w.bytes * it, benchmark::Counter::kIsRate);
  state.counters["FLOP"] = benchmark::Counter(w.flops * it, benchmark::Counter::kIsRate);
  state.counters["elems"] = benchmark::Counter(w.elems * it, benchmark::Counter::kIsRate);
  state.SetLabel(arx::simd_target);
}

constexpr double kF = sizeof(float);
constexpr double kN_ = double(kN);

// ---- elementwise --------------------------------------------------------------------------
template <bool Ref>
void BM_add(benchmark::State& state) {
  const auto a = random_floats(kN, -1, 1, 1), b = random_floats(kN, -1, 1, 2);
  std::vector<float> out(kN);
  for (auto _ : state) {
    if constexpr (Ref)
      arx::ops::ref::add(a, b, out);
    else
      arx::ops::add(a, b, out);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  report(state, {3 * kF * kN_, kN_, kN_});
}

template <bool Ref>
void BM_mul(benchmark::State& state) {
  const auto a = random_floats(kN, -1, 1, 1), b = random_floats(kN, -1, 1, 2);
  std::vector<float> out(kN);
  for (auto _ : state) {
    if constexpr (Ref)
      arx::ops::ref::mul(a, b, out);
    else
      arx::ops::mul(a, b, out);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  report(state, {3 * kF * kN_, kN_, kN_});
}

template <bool Ref>
void BM_scale(benchmark::State& state) {
  const auto x = random_floats(kN, -1, 1, 1);
  std::vector<float> out(kN);
  for (auto _ : state) {
    if constexpr (Ref)
      arx::ops::ref::scale(x, 0.5f, out);
    else
      arx::ops::scale(x, 0.5f, out);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  report(state, {2 * kF * kN_, kN_, kN_});
}

template <bool Ref>
void BM_axpy(benchmark::State& state) {
  const auto x = random_floats(kN, -1, 1, 1);
  auto y = random_floats(kN, -1, 1, 2);
  for (auto _ : state) {
    if constexpr (Ref)
      arx::ops::ref::axpy(1e-6f, x, y);
    else
      arx::ops::axpy(1e-6f, x, y);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  report(state, {3 * kF * kN_, 2 * kN_, kN_});
}

// ---- norms --------------------------------------------------------------------------------
template <bool Ref>
void BM_rms_norm(benchmark::State& state) {
  const auto x = random_floats(kN, -2, 2, 1), w = random_floats(kN, 0, 2, 2);
  std::vector<float> out(kN);
  for (auto _ : state) {
    if constexpr (Ref)
      arx::ops::ref::rms_norm(x, w, 1e-6f, out);
    else
      arx::ops::rms_norm(x, w, 1e-6f, out);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  report(state, {3 * kF * kN_, 4 * kN_, kN_});  // x², Σ; x·r·w
}

template <bool Ref>
void BM_layer_norm(benchmark::State& state) {
  const auto x = random_floats(kN, -2, 2, 1), w = random_floats(kN, 0, 2, 2),
             b = random_floats(kN, -1, 1, 3);
  std::vector<float> out(kN);
  for (auto _ : state) {
    if constexpr (Ref)
      arx::ops::ref::layer_norm(x, w, b, 1e-5f, out);
    else
      arx::ops::layer_norm(x, w, b, 1e-5f, out);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  report(state, {4 * kF * kN_, 8 * kN_, kN_});  // Σx; (x−m)², Σ; (x−m)·r·w + b
}

// ---- softmax (in place; repeating it keeps values finite) -------------------------------------
template <bool Ref>
void BM_softmax(benchmark::State& state) {
  auto x = random_floats(kN, -10, 10, 1);
  for (auto _ : state) {
    if constexpr (Ref)
      arx::ops::ref::softmax(x, 0.125f);
    else
      arx::ops::softmax(x, 0.125f);
    benchmark::DoNotOptimize(x.data());
    benchmark::ClobberMemory();
  }
  report(state, {2 * kF * kN_, 6 * kN_, kN_});  // max; s·x − M, exp, Σ; ·1/Σ
}

template <bool Ref>
void BM_log_softmax(benchmark::State& state) {
  auto x = random_floats(kN, -10, 10, 1);
  for (auto _ : state) {
    if constexpr (Ref)
      arx::ops::ref::log_softmax(x, 1.0f);
    else
      arx::ops::log_softmax(x, 1.0f);
    benchmark::DoNotOptimize(x.data());
    benchmark::ClobberMemory();
  }
  report(state, {2 * kF * kN_, 7 * kN_, kN_});  // max; s·x − M, exp, Σ; s·x − M − lse
}

// ---- activations (out of place: repeating SiLU in place would drift into subnormals) -----------
enum class act { silu, gelu, gelu_erf, swiglu, geglu };

template <act A, bool Ref>
void BM_act(benchmark::State& state) {
  const auto x = random_floats(kN, -6, 6, 1), u = random_floats(kN, -1, 1, 2);
  std::vector<float> out(kN);
  for (auto _ : state) {
    if constexpr (A == act::silu) Ref ? arx::ops::ref::silu(x, out) : arx::ops::silu(x, out);
    if constexpr (A == act::gelu) Ref ? arx::ops::ref::gelu(x, out) : arx::ops::gelu(x, out);
    if constexpr (A == act::gelu_erf)
      Ref ? arx::ops::ref::gelu_erf(x, out) : arx::ops::gelu_erf(x, out);
    if constexpr (A == act::swiglu)
      Ref ? arx::ops::ref::swiglu(x, u, out) : arx::ops::swiglu(x, u, out);
    if constexpr (A == act::geglu)
      Ref ? arx::ops::ref::geglu(x, u, out) : arx::ops::geglu(x, u, out);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  const bool glu = A == act::swiglu || A == act::geglu;
  // silu: neg, exp, add, div; gelu: 5 for the argument + exp, add, div; gelu_erf: 3 + erfc
  const double per = (A == act::silu || A == act::swiglu) ? 4 : A == act::gelu_erf ? 4 : 9;
  report(state, {(glu ? 3 : 2) * kF * kN_, (per + (glu ? 1 : 0)) * kN_, kN_});
}

// ---- RoPE over one token's 32 × 128 query heads -------------------------------------------
// "rope": table (64 double sincos) + rotation; "rope_apply": rotation with a precomputed table.
template <arx::ops::rope_layout Layout, bool Ref, bool WithTable>
void BM_rope(benchmark::State& state) {
  auto q = random_floats(kHeads * kHeadDim, -1, 1, 1);
  const arx::tensor_view<float> v(q.data(), {std::int64_t(kHeads), std::int64_t(kHeadDim)});
  const arx::ops::rope_params p{.n_rot = int(kHeadDim), .freq_base = 10000.0f, .layout = Layout};
  std::vector<float> c(kHeadDim / 2), s(kHeadDim / 2);
  arx::ops::rope_sincos(1234, p, c, s);
  std::int64_t pos = 1000;
  for (auto _ : state) {
    if constexpr (WithTable) {
      if constexpr (Ref)
        arx::ops::ref::rope(v, pos, p);
      else
        arx::ops::rope(v, pos, p);
      ++pos;
    } else {
      if constexpr (Ref)
        arx::ops::ref::rope_apply(v, c, s, Layout);
      else
        arx::ops::rope_apply(v, c, s, Layout);
    }
    benchmark::DoNotOptimize(q.data());
    benchmark::ClobberMemory();
  }
  const double n = double(kHeads * kHeadDim);
  report(state, {2 * kF * n, 3 * n, n});  // per pair: 4 mul, 2 add
}

using arx::ops::rope_layout;

}  // namespace

BENCHMARK(BM_add<false>)->Name("elementwise/add/4096");
BENCHMARK(BM_add<true>)->Name("elementwise/add/4096/ref");
BENCHMARK(BM_mul<false>)->Name("elementwise/mul/4096");
BENCHMARK(BM_mul<true>)->Name("elementwise/mul/4096/ref");
BENCHMARK(BM_scale<false>)->Name("elementwise/scale/4096");
BENCHMARK(BM_scale<true>)->Name("elementwise/scale/4096/ref");
BENCHMARK(BM_axpy<false>)->Name("elementwise/axpy/4096");
BENCHMARK(BM_axpy<true>)->Name("elementwise/axpy/4096/ref");
BENCHMARK(BM_rms_norm<false>)->Name("norm/rms_norm/4096");
BENCHMARK(BM_rms_norm<true>)->Name("norm/rms_norm/4096/ref");
BENCHMARK(BM_layer_norm<false>)->Name("norm/layer_norm/4096");
BENCHMARK(BM_layer_norm<true>)->Name("norm/layer_norm/4096/ref");
BENCHMARK(BM_softmax<false>)->Name("softmax/softmax/4096");
BENCHMARK(BM_softmax<true>)->Name("softmax/softmax/4096/ref");
BENCHMARK(BM_log_softmax<false>)->Name("softmax/log_softmax/4096");
BENCHMARK(BM_log_softmax<true>)->Name("softmax/log_softmax/4096/ref");
BENCHMARK(BM_act<act::silu, false>)->Name("activation/silu/4096");
BENCHMARK(BM_act<act::silu, true>)->Name("activation/silu/4096/ref");
BENCHMARK(BM_act<act::gelu, false>)->Name("activation/gelu/4096");
BENCHMARK(BM_act<act::gelu, true>)->Name("activation/gelu/4096/ref");
BENCHMARK(BM_act<act::gelu_erf, false>)->Name("activation/gelu_erf/4096");
BENCHMARK(BM_act<act::gelu_erf, true>)->Name("activation/gelu_erf/4096/ref");
BENCHMARK(BM_act<act::swiglu, false>)->Name("activation/swiglu/4096");
BENCHMARK(BM_act<act::swiglu, true>)->Name("activation/swiglu/4096/ref");
BENCHMARK(BM_act<act::geglu, false>)->Name("activation/geglu/4096");
BENCHMARK(BM_act<act::geglu, true>)->Name("activation/geglu/4096/ref");
BENCHMARK(BM_rope<rope_layout::normal, false, false>)->Name("rope/apply_normal/32x128");
BENCHMARK(BM_rope<rope_layout::normal, true, false>)->Name("rope/apply_normal/32x128/ref");
BENCHMARK(BM_rope<rope_layout::neox, false, false>)->Name("rope/apply_neox/32x128");
BENCHMARK(BM_rope<rope_layout::neox, true, false>)->Name("rope/apply_neox/32x128/ref");
BENCHMARK(BM_rope<rope_layout::normal, false, true>)->Name("rope/with_table_normal/32x128");
BENCHMARK(BM_rope<rope_layout::normal, true, true>)->Name("rope/with_table_normal/32x128/ref");
