// Benchmarks of token selection on one row of 152,064 logits (Qwen2's vocabulary): llama.cpp's
// default chain as make_sampler(sampling_params{}) builds it (top_k 40 -> top_p 0.95 ->
// min_p 0.05 -> temperature 0.8, then the draw), greedy, top_k alone, and a few other chains.
// Each iteration is one sample() call: assign the logits to the candidate set, run the
// processors, softmax, draw (what arx::sampling_selector does per generated token).
//
// Logits: N(0, 2) from a fixed seed plus a few peaks (a confident model: five tokens at +9..+13),
// fixed across iterations; history: 64 random token ids (the penalties' window).
// Counter "logits/s": logits processed per second.
#include <benchmark/benchmark.h>

#include <arx/sampling/chain.hpp>
#include <arx/sampling/greedy.hpp>
#include <arx/sampling/mirostat.hpp>
#include <arx/sampling/params.hpp>
#include <arx/sampling/penalties.hpp>
#include <arx/sampling/rng.hpp>
#include <arx/sampling/truncation.hpp>

#include <cmath>
#include <cstdint>
#include <numbers>
#include <span>
#include <string>
#include <vector>

namespace {

constexpr std::size_t kVocab = 152064;

const std::vector<float>& logits() {
  static const std::vector<float> v = [] {
    arx::rng g(2024);
    std::vector<float> l(kVocab);
    for (auto& x : l) {  // Box-Muller
      const double u1 = 1.0 - g.uniform(), u2 = g.uniform();
      x = float(2.0 * std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2));
    }
    const std::size_t peaks[] = {271, 1034, 8192, 40000, 151000};
    for (std::size_t i = 0; i < 5; ++i) l[peaks[i]] = 13.0f - float(i);
    return l;
  }();
  return v;
}

const std::vector<arx::token_id>& history() {
  static const std::vector<arx::token_id> h = [] {
    arx::rng g(7);
    std::vector<arx::token_id> v(64);
    for (auto& t : v) t = arx::token_id(g.next() % kVocab);
    return v;
  }();
  return h;
}

void finish(benchmark::State& state, const std::string& what = "") {
  state.counters["logits/s"] =
      benchmark::Counter(double(kVocab) * double(state.iterations()), benchmark::Counter::kIsRate);
  state.SetLabel(std::string(arx::simd_target) + (what.empty() ? "" : ": " + what));
}

template <class Sampler>
void run(benchmark::State& state, Sampler& s) {
  const auto& l = logits();
  const arx::sampling_context ctx{history(), 0};
  arx::rng g(1);
  for (auto _ : state) {
    const arx::token_id id = s.sample(l, ctx, g);
    benchmark::DoNotOptimize(id);
  }
  if constexpr (requires { s.describe(); })
    finish(state, s.describe());
  else
    finish(state);
}

void BM_default_chain(benchmark::State& state) {
  auto s = arx::make_sampler(arx::sampling_params{});
  run(state, s);
}
BENCHMARK(BM_default_chain)->Unit(benchmark::kMicrosecond);

void BM_greedy(benchmark::State& state) {
  const auto& l = logits();
  const arx::greedy select;
  for (auto _ : state) {
    const arx::token_id id = select(l);
    benchmark::DoNotOptimize(id);
  }
  finish(state);
}
BENCHMARK(BM_greedy)->Unit(benchmark::kMicrosecond);

void BM_temp0_chain(benchmark::State& state) {  // make_sampler with --temp 0
  arx::sampling_params p;
  p.temp = 0.0f;
  auto s = arx::make_sampler(p);
  run(state, s);
}
BENCHMARK(BM_temp0_chain)->Unit(benchmark::kMicrosecond);

void BM_top_k(benchmark::State& state) {
  arx::chain<arx::top_k> s{arx::top_k{40}};
  run(state, s);
}
BENCHMARK(BM_top_k)->Unit(benchmark::kMicrosecond);

void BM_softmax_only(benchmark::State& state) {  // empty chain: assign + softmax + draw
  arx::chain<> s;
  run(state, s);
}
BENCHMARK(BM_softmax_only)->Unit(benchmark::kMicrosecond);

void BM_default_with_penalties(benchmark::State& state) {
  arx::sampling_params p;
  p.repeat_penalty = 1.1f;
  p.frequency_penalty = 0.1f;
  auto s = arx::make_sampler(p);
  run(state, s);
}
BENCHMARK(BM_default_with_penalties)->Unit(benchmark::kMicrosecond);

void BM_all_samplers(benchmark::State& state) {  // every sampler of the default order enabled
  arx::sampling_params p;
  p.repeat_penalty = 1.1f;
  p.dry_multiplier = 0.8f;
  p.top_n_sigma = 2.0f;
  p.typical = 0.95f;
  p.xtc_probability = 0.5f;
  auto s = arx::make_sampler(p, [](arx::token_id id) { return "t" + std::to_string(id); }, kVocab);
  run(state, s);
}
BENCHMARK(BM_all_samplers)->Unit(benchmark::kMicrosecond);

void BM_mirostat_v1(benchmark::State& state) {
  arx::sampling_params p;
  p.mirostat = 1;
  auto s = arx::make_sampler(p);
  run(state, s);
}
BENCHMARK(BM_mirostat_v1)->Unit(benchmark::kMicrosecond);

void BM_mirostat_v2(benchmark::State& state) {
  arx::sampling_params p;
  p.mirostat = 2;
  auto s = arx::make_sampler(p);
  run(state, s);
}
BENCHMARK(BM_mirostat_v2)->Unit(benchmark::kMicrosecond);

}  // namespace
