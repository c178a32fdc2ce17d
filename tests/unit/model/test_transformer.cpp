// arx::transformer against an independent float64 Eigen forward pass (reference_llama.hpp) on
// small random llama models built in memory (tiny_llama.hpp): every weight type, KV f32/f16,
// GQA/MQA/MHA, tied output, partial RoPE; batch prefill vs token-by-token decode; truncation and
// clone; and the typed errors of bad input and bad files. No expected value comes from arx itself.
//
// Every test can fail: mutating a copy of transformer.hpp (NeoX RoPE layout, KV head h % n_head_kv,
// no causal mask in a batch, one layer skipped, 1/sqrt(n_embd) attention scale, silu on the wrong
// SwiGLU operand) fails 80-95 checks each; an off-by-one in the token-id or context check, or
// truncating before validating, fails the error tests; a wrong Q8_0 activation scale fails
// "quantized error is activation quantization".
#include <catch2/catch.hpp>

#include "throws.hpp"

#include "reference_llama.hpp"
#include "tiny_llama.hpp"

#include <arx/model/transformer.hpp>
#include <arx/model/weights.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

using Catch::Contains;

namespace {

using tokens_t = std::vector<std::int32_t>;

template <class KV = float>
arx::transformer<KV> make(const tiny::params& p) {
  return arx::transformer<KV>(arx::llama_weights::from_file(tiny::build(p)));
}

// A result view copied out (views die at the next forward on the sequence).
Eigen::MatrixXd to_matrix(const arx::tensor_view<const float>& v) {
  Eigen::MatrixXd m(v.shape(0), v.shape(1));
  for (std::int64_t i = 0; i < v.shape(0); ++i)
    for (std::int64_t j = 0; j < v.shape(1); ++j) m(i, j) = double(v(i, j));
  return m;
}

struct error_stats {
  double max_abs = 0;  // max |got - want|
  double rms = 0;      // sqrt(mean (got - want)^2)
  double ref_std = 0;  // standard deviation of want (the logits' scale)
};

error_stats compare(const Eigen::MatrixXd& got, const Eigen::MatrixXd& want) {
  REQUIRE(got.rows() == want.rows());
  REQUIRE(got.cols() == want.cols());
  REQUIRE(got.allFinite());
  const Eigen::ArrayXXd d = (got - want).array();
  error_stats e;
  e.max_abs = d.abs().maxCoeff();
  e.rms = std::sqrt(d.square().mean());
  e.ref_std = std::sqrt((want.array() - want.mean()).square().mean());
  return e;
}

// Logits (or hidden states) of every prompt position from one batched forward.
template <class KV>
Eigen::MatrixXd run_all(const arx::transformer<KV>& m, const tokens_t& toks, bool hidden = false) {
  auto seq = m.new_sequence();
  const auto r = m.forward(seq, toks, arx::forward_request{arx::rows::all, arx::rows::all});
  REQUIRE(seq.size() == std::int64_t(toks.size()));
  return to_matrix(hidden ? r.hidden : r.logits);
}

// Logits of each position from one forward per token (rows::last).
template <class KV>
Eigen::MatrixXd run_one_by_one(const arx::transformer<KV>& m, arx::sequence<KV>& seq,
                               std::span<const std::int32_t> toks) {
  Eigen::MatrixXd out(Eigen::Index(toks.size()), m.config().n_vocab);
  for (std::size_t t = 0; t < toks.size(); ++t) {
    const auto r = m.forward(seq, toks.subspan(t, 1));
    REQUIRE(r.logits.shape(0) == 1);
    out.row(Eigen::Index(t)) = to_matrix(r.logits).row(0);
  }
  return out;
}

double max_rel(const Eigen::MatrixXd& got, const Eigen::MatrixXd& want) {
  return (got - want).cwiseAbs().maxCoeff() / std::max(want.cwiseAbs().maxCoeff(), 1e-30);
}

// ---- tolerances ---------------------------------------------------------------------------------
// The tiny models have logits of standard deviation 0.9-1.2 (30 seeds), so absolute errors below
// are also relative to the logit scale. "Observed" = worst over seeds 1-30 of the default model
// (arx-tests "[transformer-measure]" -s prints them) on AVX-512; AVX2 (-march=x86-64-v3) and
// scalar (ARX_FORCE_SCALAR) builds were measured too and noted where they differ.
//
// f32 weights, f32 KV: f32 arithmetic on O(1) values, dot products of length <= 128, 2 layers:
// a few hundred f32 ulps at most. Observed max abs 1.8e-6, RMS 3.6e-7 (scalar: 3.3e-6, 7.0e-7);
// tolerance 2e-5 (>6x).
constexpr double tol_f32 = 2e-5;
// f16 KV cache: K and V rounded to f16 (relative 2^-11 = 4.9e-4) before attention move the logits
// by ~ that times their scale. Observed max abs 3.0e-3, RMS 5.3e-4; tolerance 1e-2.
constexpr double tol_kv_f16 = 1e-2;
// Q8_0/Q4_0 matrices vs the reference on the DEQUANTIZED weights (weight rounding is then not an
// error): arx quantizes the input rows of every such product to Q8_0 (blocks of 32, one f16 scale
// max|x|/127, so ~0.5% RMS rounding per element), 15 products deep. The f64 reference with the
// same Q8_0 rounding of activations differs from the exact one by RMS 0.013-0.026 on logits of
// std ~1, i.e. the whole observed error of arx (Q8_0: max abs 0.112, RMS 0.0248; Q4_0: max abs
// 0.117, RMS 0.0242) is activation quantization. Tolerances: max abs 0.25, RMS 0.05 (5% of the
// logit std). They still catch real bugs: the closest wrong variant of the model (RMSNorm without
// its weights) is off by >= 0.795 max abs / 0.212 RMS on every seed 1-10, and RoPE layout, GQA
// mapping, a missing layer, the causal mask or the 1/sqrt(head_dim) scale by >= 1.5 / 0.33
// (see "tolerances catch real bugs"). The test "quantized error is activation quantization"
// checks the mechanism much more tightly.
constexpr double tol_q_max = 0.25, tol_q_rms = 0.05;

struct type_tolerance {
  arx::ggml_type type;
  double max_abs;  // over all logits of all positions
  double rms;
};
// F16/BF16 matrices keep f32 activations: like f32 (observed max abs 2.1e-6 / 1.6e-6, RMS 4.2e-7
// / 3.8e-7; scalar 2.8e-6 / 3.5e-6, RMS 6.4e-7 / 7.3e-7).
const type_tolerance type_tols[] = {
    {arx::ggml_type::f16, tol_f32, 4e-6},
    {arx::ggml_type::bf16, tol_f32, 4e-6},
    {arx::ggml_type::q8_0, tol_q_max, tol_q_rms},
    {arx::ggml_type::q4_0, tol_q_max, tol_q_rms},
};

}  // namespace

TEST_CASE("transformer f32 logits match the float64 reference", "[model][transformer]") {
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    tiny::params p;
    p.seed = seed;
    const auto f = tiny::build(p);
    const tokens_t toks = tiny::tokens(12, p.n_vocab, seed);
    const auto want = reference::forward(f, toks);
    INFO("seed " << seed);
    {
      const auto e = compare(run_all(make<float>(p), toks), want.logits);
      INFO("KV f32: max abs " << e.max_abs << ", rms " << e.rms << ", logit std " << e.ref_std);
      CHECK(e.ref_std > 0.5);  // the model is well-conditioned: logits of order 1
      CHECK(e.ref_std < 5.0);
      CHECK(e.max_abs <= tol_f32);
    }
    {
      const auto e = compare(run_all(make<arx::f16>(p), toks), want.logits);
      INFO("KV f16: max abs " << e.max_abs << ", rms " << e.rms);
      CHECK(e.max_abs <= tol_kv_f16);
    }
  }
}

TEST_CASE("transformer sliding-window attention matches the reference", "[model][transformer]") {
  // llama.attention.sliding_window = 5 over 16 tokens: token t sees positions t-4..t. Batched and
  // token by token (the window applies to cache rows either way), and the window must matter: the
  // same weights without it give other logits.
  tiny::params p;
  p.n_swa = 5;
  const tokens_t toks = tiny::tokens(16, p.n_vocab, 7);
  const auto want = reference::forward(tiny::build(p), toks);
  const auto m = make<float>(p);
  REQUIRE(m.config().n_swa == 5);
  const auto batch = compare(run_all(m, toks), want.logits);
  auto seq = m.new_sequence();
  const auto single = compare(run_one_by_one(m, seq, toks), want.logits);
  INFO("batch max abs " << batch.max_abs << ", token by token " << single.max_abs);
  CHECK(batch.max_abs <= tol_f32);
  CHECK(single.max_abs <= tol_f32);
  tiny::params whole = p;
  whole.n_swa = 0;
  const auto full = reference::forward(tiny::build(whole), toks);
  CHECK((full.logits.bottomRows(10) - want.logits.bottomRows(10)).cwiseAbs().maxCoeff() > 0.05);
  // the first 5 positions see no further back than the window anyway
  CHECK((full.logits.topRows(5) - want.logits.topRows(5)).cwiseAbs().maxCoeff() <= 1e-12);
}

TEST_CASE("transformer quantized and half weights match the reference on dequantized weights",
          "[model][transformer]") {
  for (const auto& tt : type_tols) {
    for (std::uint64_t seed : {1u, 2u, 3u, 4u}) {
      DYNAMIC_SECTION(arx::type_name(tt.type) << " seed " << seed) {
        tiny::params p;
        p.type = tt.type;
        p.seed = seed;
        const auto f = tiny::build(p);
        const tokens_t toks = tiny::tokens(12, p.n_vocab, seed + 100);
        const auto want = reference::forward(f, toks);
        const auto e = compare(run_all(make<float>(p), toks), want.logits);
        INFO("max abs " << e.max_abs << ", rms " << e.rms << ", logit std " << e.ref_std);
        CHECK(e.max_abs <= tt.max_abs);
        CHECK(e.rms <= tt.rms);
      }
    }
  }
}

TEST_CASE("transformer quantized error is activation quantization", "[model][transformer]") {
  // The f64 reference with every Q8_0/Q4_0 product's input rounded through Q8_0 (the scalar
  // arx::ops::ref::quantize_row) reproduces arx's arithmetic up to f32 rounding, EXCEPT that an
  // f32-level difference occasionally flips the rounding of one activation to the next Q8_0 step,
  // which then spreads to that row (and, through K/V, to later rows). Observed over seeds 1-30:
  // 341/360 (Q8_0) and 353/360 (Q4_0) rows agree within 4e-7 (AVX2 350/360, scalar 357/360);
  // the others differ at the level of the Q8_0 noise. (Checked: computing the activation scale as
  // max|x|/126 instead of /127 in quantize.hpp leaves 0 of 48 rows within 1e-5, while the loose
  // tolerance of the previous test does not notice it.) An implementation quantizing activations differently (other rounding, scale,
  // block layout, or not at all) leaves almost no row within 1e-5, since the noise itself is
  // RMS >= 0.013. Require 75% of the 48 rows of seeds 1-4 to agree within 1e-5.
  for (const arx::ggml_type type : {arx::ggml_type::q8_0, arx::ggml_type::q4_0}) {
    int close = 0, rows = 0;
    double worst_close = 0;
    for (std::uint64_t seed : {1u, 2u, 3u, 4u}) {
      tiny::params p;
      p.type = type;
      p.seed = seed;
      const auto f = tiny::build(p);
      const tokens_t toks = tiny::tokens(12, p.n_vocab, seed + 100);
      const Eigen::MatrixXd got = run_all(make<float>(p), toks);
      const auto sim =
          reference::forward(f, toks, {reference::variant::exact, /*q8_0_activations=*/true});
      for (Eigen::Index t = 0; t < got.rows(); ++t, ++rows) {
        const double e = (got.row(t) - sim.logits.row(t)).cwiseAbs().maxCoeff();
        if (e <= 1e-5) {
          ++close;
          worst_close = std::max(worst_close, e);
        }
      }
    }
    INFO(arx::type_name(type) << ": " << close << " of " << rows
                              << " rows within 1e-5 of the Q8_0-activation reference (worst "
                              << worst_close << ")");
    CHECK(close * 4 >= rows * 3);
  }
}

TEST_CASE("transformer tolerances catch real bugs", "[model][transformer]") {
  // Each wrong variant of the reference (a bug an implementation could have) must be far outside
  // the tolerance the tests above grant: the f32 one, and the looser quantized one (Q4_0 model).
  using V = reference::variant;
  for (const arx::ggml_type type : {arx::ggml_type::f32, arx::ggml_type::q4_0}) {
    tiny::params p;
    p.type = type;
    p.seed = 7;
    const auto f = tiny::build(p);
    const tokens_t toks = tiny::tokens(12, p.n_vocab, 7);
    const Eigen::MatrixXd got = run_all(make<float>(p), toks);
    const double tol_max = type == arx::ggml_type::f32 ? tol_f32 : tol_q_max;
    const double tol_rms = type == arx::ggml_type::f32 ? tol_f32 : tol_q_rms;
    for (const V v : {V::neox_rope, V::no_rope, V::rope_half_freq, V::no_norm_weights,
                      V::skip_last_layer, V::gqa_modulo, V::no_causal_mask, V::no_sqrt_scale}) {
      const auto e = compare(got, reference::forward(f, toks, {v}).logits);
      INFO(arx::type_name(type) << ", " << reference::name(v) << ": max abs " << e.max_abs
                                << ", rms " << e.rms);
      CHECK(e.max_abs > 2 * tol_max);
      CHECK(e.rms > 3 * tol_rms);
    }
  }
}

TEST_CASE("transformer batch prefill equals token-by-token decode", "[model][transformer]") {
  for (const arx::ggml_type type : {arx::ggml_type::f32, arx::ggml_type::q8_0}) {
    DYNAMIC_SECTION(arx::type_name(type)) {
      tiny::params p;
      p.type = type;
      const auto m = make<float>(p);
      const tokens_t toks = tiny::tokens(12, p.n_vocab, 3);
      const Eigen::MatrixXd batch = run_all(m, toks);
      auto seq = m.new_sequence();
      const Eigen::MatrixXd steps = run_one_by_one(m, seq, toks);
      CHECK(seq.size() == 12);
      // The implementation promises bit-identical results (batch-invariant gemm); the issue
      // asks for <= 1e-5 relative.
      CHECK(max_rel(steps, batch) <= 1e-5);
      CHECK((steps.array() == batch.array()).all());

      // rows::last of a batch is the last row of rows::all.
      auto seq2 = m.new_sequence();
      const auto last = to_matrix(m.forward(seq2, toks).logits);
      REQUIRE(last.rows() == 1);
      CHECK(max_rel(last.row(0), batch.row(11)) <= 1e-5);
    }
  }
  SECTION("f16 KV") {
    tiny::params p;
    const auto m = make<arx::f16>(p);
    const tokens_t toks = tiny::tokens(12, p.n_vocab, 4);
    const Eigen::MatrixXd batch = run_all(m, toks);
    auto seq = m.new_sequence();
    CHECK(max_rel(run_one_by_one(m, seq, toks), batch) <= 1e-5);
  }
}

TEST_CASE("one transformer serves several sequences on several threads at once",
          "[model][transformer]") {
  // The weights are immutable and all per-sequence state is in the sequence: two threads
  // decoding different prompts through one (copied) handle get what each gets alone.
  tiny::params p;
  p.type = arx::ggml_type::q8_0;
  const auto m = make<float>(p);
  const tokens_t a = tiny::tokens(10, p.n_vocab, 7), b = tiny::tokens(10, p.n_vocab, 8);
  auto seq_a = m.new_sequence(), seq_b = m.new_sequence();
  const Eigen::MatrixXd alone_a = run_one_by_one(m, seq_a, a);
  const Eigen::MatrixXd alone_b = run_one_by_one(m, seq_b, b);
  std::vector<Eigen::MatrixXd> got(2);
  {
    const auto worker = [&](const tokens_t& toks, Eigen::MatrixXd& out) {
      const arx::transformer<float> copy = m;  // a handle: shares the weights
      auto seq = copy.new_sequence();
      out = Eigen::MatrixXd(Eigen::Index(toks.size()), copy.config().n_vocab);
      for (int round = 0; round < 20; ++round) {  // repeat to overlap the threads' forwards
        seq.clear();
        for (std::size_t t = 0; t < toks.size(); ++t)
          out.row(Eigen::Index(t)) =
              to_matrix(copy.forward(seq, std::span(toks).subspan(t, 1)).logits).row(0);
      }
    };
    std::thread ta(worker, std::cref(a), std::ref(got[0]));
    std::thread tb(worker, std::cref(b), std::ref(got[1]));
    ta.join();
    tb.join();
  }
  CHECK((got[0].array() == alone_a.array()).all());
  CHECK((got[1].array() == alone_b.array()).all());
}

TEST_CASE("transformer logits are identical for every thread count", "[model][transformer]") {
  for (const arx::ggml_type type : {arx::ggml_type::f32, arx::ggml_type::q4_0}) {
    // Large enough that the kernels really split (ops::detail::min_parallel_work multiply-adds
    // per matrix call, 2^13 per attention call): 256 x 544 matrices, 40 positions.
    tiny::params p;
    p.type = type;
    p.n_embd = 256;
    p.n_ff = 544;  // rows not a multiple of the 16-row split grain times the thread count
    const auto m = make<float>(p);
    const tokens_t toks = tiny::tokens(40, p.n_vocab, 11);
    const Eigen::MatrixXd one = run_all(m, toks);
    for (int threads : {2, 3}) {
      arx::thread_pool pool(threads);
      auto seq = m.new_sequence();
      seq.set_thread_pool(&pool);
      const auto prefill = m.forward(seq, std::span(toks).first(30), {arx::rows::all});
      Eigen::MatrixXd got(Eigen::Index(toks.size()), m.config().n_vocab);
      got.topRows(30) = to_matrix(prefill.logits);
      for (std::size_t t = 30; t < toks.size(); ++t)
        got.row(Eigen::Index(t)) = to_matrix(m.forward(seq, std::span(toks).subspan(t, 1)).logits);
      CAPTURE(threads, arx::type_name(type));
      CHECK((got.array() == one.array()).all());
    }
  }
}

TEST_CASE("transformer hidden state is the reference's final-norm output", "[model][transformer]") {
  tiny::params p;
  p.seed = 5;
  const auto f = tiny::build(p);
  const tokens_t toks = tiny::tokens(12, p.n_vocab, 5);
  const auto want = reference::forward(f, toks);
  const auto m = make<float>(p);
  const auto e = compare(run_all(m, toks, true), want.hidden);
  INFO("hidden: max abs " << e.max_abs << ", rms " << e.rms << ", std " << e.ref_std);
  CHECK(e.max_abs <= tol_f32);

  SECTION("hidden only, last row") {
    auto seq = m.new_sequence();
    const auto r = m.forward(seq, toks, arx::forward_request{arx::rows::none, arx::rows::last});
    CHECK(r.logits.shape(0) == 0);
    REQUIRE(r.hidden.shape(0) == 1);
    REQUIRE(r.hidden.shape(1) == p.n_embd);
    CHECK(compare(to_matrix(r.hidden), want.hidden.bottomRows(1)).max_abs <= tol_f32);
  }
  SECTION("all logits, last hidden row") {
    auto seq = m.new_sequence();
    const auto r = m.forward(seq, toks, arx::forward_request{arx::rows::all, arx::rows::last});
    REQUIRE(r.hidden.shape(0) == 1);
    CHECK(compare(to_matrix(r.hidden), want.hidden.bottomRows(1)).max_abs <= tol_f32);
    CHECK(compare(to_matrix(r.logits), want.logits).max_abs <= tol_f32);
  }
  SECTION("nothing: the cache is still filled") {
    auto seq = m.new_sequence();
    const auto r = m.forward(seq, std::span(toks).first(11),
                             arx::forward_request{arx::rows::none, arx::rows::none});
    CHECK(r.logits.shape(0) == 0);
    CHECK(r.hidden.shape(0) == 0);
    CHECK(seq.size() == 11);
    const auto last = to_matrix(m.forward(seq, std::span(toks).last(1)).logits);
    CHECK(compare(last, want.logits.bottomRows(1)).max_abs <= tol_f32);
  }
}

TEST_CASE("transformer truncation and clone", "[model][transformer]") {
  tiny::params p;
  p.seed = 11;
  const auto m = make<float>(p);
  const tokens_t prompt = tiny::tokens(13, p.n_vocab, 11);  // 10 prefill + 3 decoded
  const tokens_t cont = {5, 17, 42, 90};                    // a different continuation
  tokens_t fresh_toks(prompt.begin(), prompt.begin() + 6);
  fresh_toks.insert(fresh_toks.end(), cont.begin(), cont.end());
  const auto f = tiny::build(p);
  const Eigen::MatrixXd want = reference::forward(f, fresh_toks).logits.bottomRows(4);
  const Eigen::MatrixXd fresh = run_all(m, fresh_toks).bottomRows(4);
  CHECK(compare(fresh, want).max_abs <= tol_f32);

  auto filled = [&] {
    auto seq = m.new_sequence();
    m.forward(seq, std::span(prompt).first(10));
    run_one_by_one(m, seq, std::span(prompt).subspan(10, 3));
    REQUIRE(seq.size() == 13);
    return seq;
  };

  SECTION("truncate() then append") {
    auto seq = filled();
    seq.truncate(6);
    CHECK(seq.size() == 6);
    const auto r = m.forward(seq, cont, arx::forward_request{arx::rows::all});
    CHECK(seq.size() == 10);
    CHECK(max_rel(to_matrix(r.logits), fresh) <= 1e-5);
  }
  SECTION("forward at pos 6") {
    auto seq = filled();
    const auto r = m.forward(seq, cont, 6, arx::forward_request{arx::rows::all});
    CHECK(seq.size() == 10);
    CHECK(max_rel(to_matrix(r.logits), fresh) <= 1e-5);
  }
  SECTION("decode one by one at pos 6") {
    auto seq = filled();
    m.forward(seq, std::span(cont).first(1), 6);
    CHECK(seq.size() == 7);
    const Eigen::MatrixXd rest = run_one_by_one(m, seq, std::span(cont).subspan(1));
    CHECK(max_rel(rest, fresh.bottomRows(3)) <= 1e-5);
  }
  SECTION("truncate to 0 restarts") {
    auto seq = filled();
    seq.truncate(0);
    CHECK(seq.size() == 0);
    const auto r = m.forward(seq, fresh_toks, arx::forward_request{arx::rows::all});
    CHECK(max_rel(to_matrix(r.logits).bottomRows(4), fresh) <= 1e-5);
  }
  SECTION("truncate beyond size is an invalid_argument") {
    auto seq = filled();
    CHECK_THROWS_AS(seq.truncate(14), arx::invalid_argument);
    CHECK(seq.size() == 13);
  }
  SECTION("clone is an independent deep copy") {
    auto seq = m.new_sequence();
    m.forward(seq, std::span(prompt).first(6));
    auto copy = seq.clone();
    CHECK(copy.size() == 6);
    CHECK(copy.capacity() == seq.capacity());
    // The original goes on with the old prompt (overwriting cache rows 6..12), the copy with the
    // new continuation; neither may see the other's rows.
    const Eigen::MatrixXd orig = run_one_by_one(m, seq, std::span(prompt).subspan(6));
    const auto r = m.forward(copy, cont, arx::forward_request{arx::rows::all});
    CHECK(copy.size() == 10);
    CHECK(seq.size() == 13);
    CHECK(max_rel(to_matrix(r.logits), fresh) <= 1e-5);
    const Eigen::MatrixXd orig_want = reference::forward(f, prompt).logits.bottomRows(7);
    CHECK(compare(orig, orig_want).max_abs <= tol_f32);
    // and the original still matches after the copy was written
    const tokens_t one = {3};
    const auto more = to_matrix(m.forward(seq, one).logits);
    tokens_t all = prompt;
    all.push_back(3);
    CHECK(compare(more, reference::forward(f, all).logits.bottomRows(1)).max_abs <= tol_f32);
  }
}

TEST_CASE("transformer shapes: MHA, GQA, MQA, tied output, partial RoPE, mixed types",
          "[model][transformer]") {
  struct shape_case {
    const char* name;
    tiny::params p;
  };
  std::vector<shape_case> cases;
  auto add = [&](const char* name, auto edit) {
    tiny::params p;
    p.seed = 21 + cases.size();
    edit(p);
    cases.push_back({name, p});
  };
  add("MHA n_head_kv = n_head", [](tiny::params& p) { p.n_head_kv = 4; });
  add("GQA n_head_kv = n_head / 2", [](tiny::params& p) { p.n_head_kv = 2; });
  add("MQA n_head_kv = 1", [](tiny::params& p) { p.n_head_kv = 1; });
  add("GQA 8 heads of 8, 2 KV heads", [](tiny::params& p) {
    p.n_head = 8;
    p.n_head_kv = 2;
  });
  add("tied output", [](tiny::params& p) { p.tied = true; });
  add("tied output Q4_0", [](tiny::params& p) {
    p.tied = true;
    p.type = arx::ggml_type::q4_0;
  });
  add("3 layers, rope base 500000", [](tiny::params& p) {
    p.n_layer = 3;
    p.rope_base = 500000.0f;
  });
  add("partial RoPE n_rot = head_dim / 2", [](tiny::params& p) { p.n_rot = 8; });
  add("F16 and BF16 norm vectors", [](tiny::params& p) {
    p.norm_type = arx::ggml_type::f16;
    p.type_override["output_norm.weight"] = arx::ggml_type::bf16;
    p.type_override["blk.1.attn_norm.weight"] = arx::ggml_type::bf16;
  });
  add("mixed matrix types", [](tiny::params& p) {
    p.type = arx::ggml_type::f16;
    p.type_override["token_embd.weight"] = arx::ggml_type::q8_0;
    p.type_override["blk.0.attn_q.weight"] = arx::ggml_type::q4_0;
    p.type_override["blk.0.ffn_down.weight"] = arx::ggml_type::bf16;
    p.type_override["blk.1.attn_v.weight"] = arx::ggml_type::f32;
    p.type_override["output.weight"] = arx::ggml_type::q8_0;
  });

  for (const auto& c : cases) {
    DYNAMIC_SECTION(c.name) {
      const auto f = tiny::build(c.p);
      const tokens_t toks = tiny::tokens(10, c.p.n_vocab, c.p.seed);
      const auto want = reference::forward(f, toks);
      const auto m = make<float>(c.p);
      CHECK(m.config().tied_output == c.p.tied);
      const auto e = compare(run_all(m, toks), want.logits);
      INFO("max abs " << e.max_abs << ", rms " << e.rms << ", logit std " << e.ref_std);
      // Any quantized matrix -> the Q8_0-activation tolerance, else the f32 one.
      bool quantized = c.p.type == arx::ggml_type::q4_0 || c.p.type == arx::ggml_type::q8_0;
      for (const auto& [name, t] : c.p.type_override)
        quantized |= t == arx::ggml_type::q4_0 || t == arx::ggml_type::q8_0;
      CHECK(e.max_abs <= (quantized ? tol_q_max : tol_f32));
      CHECK(e.rms <= (quantized ? tol_q_rms : tol_f32));
    }
  }
}

TEST_CASE("transformer rejects bad input and leaves the sequence unchanged",
          "[model][transformer]") {
  tiny::params p;
  p.seed = 31;
  const auto f = tiny::build(p);
  const auto m = make<float>(p);
  const tokens_t toks = tiny::tokens(9, p.n_vocab, 31);
  const auto want = reference::forward(f, toks).logits;

  auto seq = m.new_sequence(8);
  CHECK(seq.capacity() == 8);
  m.forward(seq, std::span(toks).first(4));
  REQUIRE(seq.size() == 4);

  SECTION("empty batch") {
    REQUIRE_THROWS_TYPED(m.forward(seq, std::span<const std::int32_t>()), arx::invalid_argument,
                         Contains("empty"));
  }
  SECTION("token id n_vocab") {
    const tokens_t bad = {1, 2, 96, 3};
    REQUIRE_THROWS_TYPED(m.forward(seq, bad), arx::invalid_argument,
                         Contains("96") && Contains("index 2"));
  }
  SECTION("token id -1") {
    const tokens_t bad = {-1};
    REQUIRE_THROWS_TYPED(m.forward(seq, bad), arx::invalid_argument,
                         Contains("-1") && Contains("index 0"));
  }
  SECTION("batch beyond the context") {
    // 5 more tokens at position 4 need 9 > 8 positions
    REQUIRE_THROWS_TYPED(m.forward(seq, std::span(toks).subspan(4, 5)), arx::context_error,
                         Contains("9") && Contains("8"));
    // a context_error is an invalid_argument
    CHECK_THROWS_AS(m.forward(seq, std::span(toks).subspan(4, 5)), arx::invalid_argument);
  }
  SECTION("position beyond the sequence") {
    REQUIRE_THROWS_TYPED(m.forward(seq, std::span(toks).subspan(4, 1), 5), arx::invalid_argument,
                         Contains("5"));
    CHECK_THROWS_AS(m.forward(seq, std::span(toks).subspan(4, 1), -1), arx::invalid_argument);
  }
  SECTION("a bad id after a rollback position does not roll back") {
    const tokens_t bad = {1, 200};
    CHECK_THROWS_AS(m.forward(seq, bad, 1), arx::invalid_argument);
  }
  // Whatever was thrown, the sequence is as before and the next forward is still correct.
  CHECK(seq.size() == 4);
  const auto r =
      m.forward(seq, std::span(toks).subspan(4, 4), arx::forward_request{arx::rows::all});
  CHECK(seq.size() == 8);
  CHECK(compare(to_matrix(r.logits), want.middleRows(4, 4)).max_abs <= tol_f32);

  SECTION("a fresh sequence of capacity 8 refuses a 9-token prompt") {
    auto s2 = m.new_sequence(8);
    REQUIRE_THROWS_TYPED(m.forward(s2, toks), arx::context_error, Contains("9") && Contains("8"));
    CHECK(s2.size() == 0);
  }
}

TEST_CASE("transformer new_sequence capacity", "[model][transformer]") {
  tiny::params p;
  const auto m = make<float>(p);
  CHECK(m.new_sequence().capacity() == p.n_ctx);
  CHECK(m.new_sequence(8).capacity() == 8);
  CHECK_THROWS_AS(m.new_sequence(p.n_ctx + 1), arx::invalid_argument);
  CHECK(m.new_sequence(p.n_ctx + 1, arx::context_limit::unlimited).capacity() == p.n_ctx + 1);
  CHECK_THROWS_AS(m.new_sequence(-1), arx::invalid_argument);
}

TEST_CASE("llama_weights surfaces bad files with typed errors naming the tensor",
          "[model][transformer]") {
  const auto load = [](const tiny::params& p) {
    return arx::llama_weights::from_file(tiny::build(p));
  };
  SECTION("valid") {
    tiny::params p;
    const auto w = load(p);
    CHECK(w->config().n_layer == 2);
    CHECK(w->token_embd().shape() == arx::shape_t{96, 64});
    CHECK(w->output().shape() == arx::shape_t{96, 64});
    CHECK(w->output_norm().size() == 64);
    CHECK(w->layer(1).wk.shape() == arx::shape_t{32, 64});
    CHECK(w->layer(1).attn_norm.size() == 64);
    CHECK_THROWS_AS(w->layer(2), arx::invalid_argument);
    CHECK(w->file().path() == "tiny.gguf");
  }
  SECTION("missing tensor") {
    tiny::params p;
    p.omit.insert("blk.1.ffn_up.weight");
    REQUIRE_THROWS_TYPED(load(p), arx::key_error, Contains("blk.1.ffn_up.weight"));
  }
  SECTION("wrong shape") {
    tiny::params p;
    p.shape_override["blk.0.attn_k.weight"] = {64, 64};
    REQUIRE_THROWS_TYPED(
        load(p), arx::shape_error,
        Contains("blk.0.attn_k.weight") && Contains("[64, 64]") && Contains("[32, 64]"));
  }
  SECTION("unsupported architecture") {
    tiny::params p;
    p.arch = "mamba";
    REQUIRE_THROWS_TYPED(load(p), arx::unsupported_error, Contains("mamba"));
  }
  SECTION("matrix type without a kernel") {
    for (const char* name : {"blk.1.attn_output.weight", "token_embd.weight", "output.weight"}) {
      tiny::params p;
      p.type_override[name] = arx::ggml_type::iq4_nl;
      REQUIRE_THROWS_TYPED(load(p), arx::unsupported_error, Contains(name) && Contains("IQ4_NL"));
    }
  }
  SECTION("norm vector type other than F32/F16/BF16") {
    tiny::params p;
    p.type_override["blk.0.ffn_norm.weight"] = arx::ggml_type::q8_0;
    p.n_embd = 64;
    REQUIRE_THROWS_TYPED(load(p), arx::unsupported_error,
                         Contains("blk.0.ffn_norm.weight") && Contains("Q8_0"));
  }
}

// Not run by default: prints the worst errors over many seeds, to re-derive the tolerances.
//   arx-tests "[transformer-measure]" -s | grep measure
TEST_CASE("transformer error measurements", "[.][transformer-measure]") {
  using T = arx::ggml_type;
  for (const T type : {T::f32, T::f16, T::bf16, T::q8_0, T::q4_0}) {
    for (const bool kv16 : {false, true}) {
      if (kv16 && type != T::f32) continue;
      double worst_max = 0, worst_rms = 0, worst_sim_max = 0, worst_sim_rms = 0, min_std = 1e9,
             max_std = 0;
      for (std::uint64_t seed = 1; seed <= 30; ++seed) {
        tiny::params p;
        p.type = type;
        p.seed = seed;
        const auto f = tiny::build(p);
        const tokens_t toks = tiny::tokens(12, p.n_vocab, seed + 100);
        const Eigen::MatrixXd got =
            kv16 ? run_all(make<arx::f16>(p), toks) : run_all(make<float>(p), toks);
        const auto e = compare(got, reference::forward(f, toks).logits);
        const auto es =
            compare(got, reference::forward(f, toks, {reference::variant::exact, true}).logits);
        worst_max = std::max(worst_max, e.max_abs);
        worst_rms = std::max(worst_rms, e.rms);
        worst_sim_max = std::max(worst_sim_max, es.max_abs);
        worst_sim_rms = std::max(worst_sim_rms, es.rms);
        min_std = std::min(min_std, e.ref_std);
        max_std = std::max(max_std, e.ref_std);
      }
      std::printf(
          "measure %s kv%s: max abs %.3g rms %.3g | q8-sim ref: max abs %.3g rms %.3g | logit std "
          "%.3g..%.3g\n",
          arx::type_name(type).c_str(), kv16 ? "16" : "32", worst_max, worst_rms, worst_sim_max,
          worst_sim_rms, min_std, max_std);
    }
  }
  for (const T type : {T::q8_0, T::q4_0})
    for (std::int64_t layers : {1, 2, 3}) {
      double worst_ratio = 0, worst_noise = 0, min_noise = 1e9, worst_tight = 0;
      int tight = 0, loose = 0;
      for (std::uint64_t seed = 1; seed <= 30; ++seed) {
        tiny::params p;
        p.type = type;
        p.seed = seed;
        p.n_layer = layers;
        const auto f = tiny::build(p);
        const tokens_t toks = tiny::tokens(12, p.n_vocab, seed + 100);
        const Eigen::MatrixXd got = run_all(make<float>(p), toks);
        const auto exact = reference::forward(f, toks).logits;
        const auto sim = reference::forward(f, toks, {reference::variant::exact, true}).logits;
        const double noise = compare(sim, exact).rms, dev = compare(got, sim).rms;
        worst_ratio = std::max(worst_ratio, dev / noise);
        for (int t = 0; t < 12; ++t) {
          const double re = (got.row(t) - sim.row(t)).cwiseAbs().maxCoeff();
          (re <= 1e-5 ? tight : loose) += 1;
          if (re <= 1e-5) worst_tight = std::max(worst_tight, re);
        }
        worst_noise = std::max(worst_noise, noise);
        min_noise = std::min(min_noise, noise);
      }
      std::printf(
          "measure %s %d layers: q8 noise rms (sim vs exact) %.3g..%.3g, worst rms(arx - sim) / "
          "noise %.3g; rows within 1e-5 of sim: %d of %d (worst %.2g)\n",
          arx::type_name(type).c_str(), int(layers), min_noise, worst_noise, worst_ratio, tight,
          tight + loose, worst_tight);
    }
  using V = reference::variant;
  for (const T type : {T::f32, T::q4_0}) {
    for (const V v : {V::neox_rope, V::no_rope, V::rope_half_freq, V::no_norm_weights,
                      V::skip_last_layer, V::gqa_modulo, V::no_causal_mask, V::no_sqrt_scale}) {
      double min_max = 1e9, min_rms = 1e9;
      for (std::uint64_t seed = 1; seed <= 10; ++seed) {
        tiny::params p;
        p.type = type;
        p.seed = seed;
        const auto f = tiny::build(p);
        const tokens_t toks = tiny::tokens(12, p.n_vocab, seed + 100);
        const auto e =
            compare(run_all(make<float>(p), toks), reference::forward(f, toks, {v}).logits);
        min_max = std::min(min_max, e.max_abs);
        min_rms = std::min(min_rms, e.rms);
      }
      std::printf("measure variant %s %s: smallest max abs %.3g, smallest rms %.3g\n",
                  reference::name(v), arx::type_name(type).c_str(), min_max, min_rms);
    }
  }
}
