// arx-bench-speculative: how much the speculative decoder itself gains, apart from how well a
// draft model predicts — with a replay drafter of known acceptance.
//
//   arx-bench-speculative -m tinyllama-1.1b-q4_0.gguf -t 2 -n 128 -g 2,4,8 -a 1,0.8,0.5 -r 3
//
// 1. Plain greedy decoding of the target: a prompt of P tokens (BOS, if the model adds one, then
//    random ids from arx::rng with a fixed seed) in one forward, then N single-token forwards,
//    each token chosen by the same sampler chain the decoder uses (temperature 0). Its output is
//    the target's greedy continuation.
// 2. For each acceptance α and draft length γ: arx::speculative_decoder with a replay drafter that
//    proposes the next γ tokens of that continuation, each replaced by a different random id with
//    probability 1 − α (independently; q is one-hot, the draft costs nothing). Greedy verification
//    accepts a drafted token exactly when it is the continuation's, so the accepted run per round
//    is geometric and the expected tokens per target call is (1 − α^{γ+1}) / (1 − α) (γ + 1 at
//    α = 1). That is compared with the tokens per round over the rounds that drafted the full γ
//    (rounds near the end of the N tokens draft fewer), pooled over the repetitions.
//    The decoder's output is checked against the plain continuation (exit 1 if it differs).
// Each repetition (-r) runs plain decoding and then every (α, γ) once, so the ratios compare runs
// made minutes apart at most; reported: means over the repetitions of tokens/s (N / time of the
// decode after the prompt's forward), tokens per target call, and speed-up = speculative tokens/s /
// plain tokens/s of the same repetition, averaged. One untimed warm-up of each first.
//
// stdout: a markdown table (-o md, default) or a JSON array (-o json). stderr: progress.
// Exit status: 0 success, 1 error from arx or an output mismatch, 2 bad arguments.
#include "cli.hpp"

#include <arx/core/error.hpp>
#include <arx/core/thread_pool.hpp>
#include <arx/decoding/speculative.hpp>
#include <arx/model/transformer.hpp>
#include <arx/sampling/chain.hpp>
#include <arx/sampling/rng.hpp>
#include <arx/sampling/truncation.hpp>
#include <arx/tokenizer/vocab.hpp>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

using tokens_t = std::vector<arx::token_id>;
using clock_type = std::chrono::steady_clock;

void usage(std::FILE* out) {
  std::fprintf(out,
               "usage: arx-bench-speculative -m FILE [options]\n"
               "  -m, --model FILE     target model (GGUF)\n"
               "  -t, --threads N      threads (default: physical cores)\n"
               "  -p, --prompt N       prompt tokens (default 32)\n"
               "  -n, --n-gen N        tokens to generate (default 128)\n"
               "  -g, --gamma LIST     draft lengths, comma-separated (default 2,4,8)\n"
               "  -a, --alpha LIST     replay acceptance rates in [0, 1] (default 1,0.8,0.5)\n"
               "  -r, --repetitions N  repetitions (default 3)\n"
               "  -o, --output FMT     md or json (default md)\n");
}

struct options {
  std::string model;
  int threads = 0, prompt = 32, n_gen = 128, reps = 3;
  std::vector<int> gammas = {2, 4, 8};
  std::vector<double> alphas = {1.0, 0.8, 0.5};
  std::string output = "md";
};

std::vector<std::string> split(std::string_view s) {
  std::vector<std::string> out;
  std::size_t b = 0;
  for (;;) {
    const std::size_t e = s.find(',', b);
    out.emplace_back(s.substr(b, e == std::string_view::npos ? s.npos : e - b));
    if (e == std::string_view::npos) return out;
    b = e + 1;
  }
}

bool parse(int argc, char** argv, options& o) {
  const auto num = [](const std::string& s, double lo, double hi, double& v) {
    try {
      std::size_t used = 0;
      v = std::stod(s, &used);
      return used == s.size() && v >= lo && v <= hi;
    } catch (const std::exception&) {
      return false;
    }
  };
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "-h" || a == "--help") {
      usage(stdout);
      std::exit(0);
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "arx-bench-speculative: %s needs a value\n", argv[i]);
      return false;
    }
    const std::string v = argv[++i];
    double x = 0;
    const auto bad = [&] {
      std::fprintf(stderr, "arx-bench-speculative: bad value '%s' for %s\n", v.c_str(),
                   argv[i - 1]);
      return false;
    };
    if (a == "-m" || a == "--model") o.model = v;
    else if (a == "-o" || a == "--output") {
      if (v != "md" && v != "json") return bad();
      o.output = v;
    } else if (a == "-t" || a == "--threads") {
      if (!num(v, 1, 1024, x) || x != std::floor(x)) return bad();
      o.threads = int(x);
    } else if (a == "-p" || a == "--prompt") {
      if (!num(v, 1, 1e6, x) || x != std::floor(x)) return bad();
      o.prompt = int(x);
    } else if (a == "-n" || a == "--n-gen") {
      if (!num(v, 1, 1e6, x) || x != std::floor(x)) return bad();
      o.n_gen = int(x);
    } else if (a == "-r" || a == "--repetitions") {
      if (!num(v, 1, 1000, x) || x != std::floor(x)) return bad();
      o.reps = int(x);
    } else if (a == "-g" || a == "--gamma") {
      o.gammas.clear();
      for (const auto& s : split(v)) {
        if (!num(s, 1, 64, x) || x != std::floor(x)) return bad();
        o.gammas.push_back(int(x));
      }
    } else if (a == "-a" || a == "--alpha") {
      o.alphas.clear();
      for (const auto& s : split(v)) {
        if (!num(s, 0, 1, x)) return bad();
        o.alphas.push_back(x);
      }
    } else {
      std::fprintf(stderr, "arx-bench-speculative: unknown option %s\n", argv[i - 1]);
      return false;
    }
  }
  if (o.model.empty()) {
    std::fprintf(stderr, "arx-bench-speculative: -m FILE is required\n");
    return false;
  }
  return true;
}

/// Proposes the next tokens of a known continuation, each corrupted with probability 1 − α.
class replay_drafter {
 public:
  replay_drafter(tokens_t continuation, std::size_t n_prompt, double alpha, int gamma,
                 std::uint64_t seed)
      : cont_(std::move(continuation)), n_prompt_(n_prompt), alpha_(alpha), full_gamma_(gamma),
        g_(seed) {}
  /// Call after the generation with the number of tokens emitted: counts the last round.
  void finish(std::size_t emitted) {
    if (last_gamma_ == full_gamma_) {
      ++full_rounds_;
      full_round_tokens_ += std::int64_t(emitted - last_at_);
    }
    last_gamma_ = -1;
  }
  /// Rounds that drafted the full γ (rounds shortened near the end of the generation are left
  /// out: their expected length is smaller) and the tokens they emitted, as seen from the next
  /// round's history (the last round: from finish()). A full round is never cut short by the
  /// token limit (the decoder drafts at most the tokens left but one).
  std::int64_t full_rounds() const noexcept { return full_rounds_; }
  std::int64_t full_round_tokens() const noexcept { return full_round_tokens_; }
  void propose(std::span<const arx::token_id> history, int gamma, arx::draft_sampler& s,
               arx::rng&, arx::draft_block& out) {
    out.clear();
    const std::size_t at = history.size() - n_prompt_;  // tokens emitted so far
    if (last_gamma_ == full_gamma_) {  // the previous round drafted the full γ: count it
      ++full_rounds_;
      full_round_tokens_ += std::int64_t(at - last_at_);
    }
    last_gamma_ = gamma;
    last_at_ = at;
    for (int i = 0; i < gamma && at + std::size_t(i) < cont_.size(); ++i) {
      arx::token_id t = cont_[at + std::size_t(i)];
      if (g_.uniform() >= alpha_)  // corrupt: any other id
        t = arx::token_id((std::uint64_t(t) + 1 + g_.next() % std::uint64_t(s.n_vocab - 1)) %
                          std::uint64_t(s.n_vocab));
      out.push_one_hot(t, s.n_vocab);
    }
  }

 private:
  tokens_t cont_;
  std::size_t n_prompt_;
  double alpha_;
  int full_gamma_, last_gamma_ = -1;
  std::size_t last_at_ = 0;
  std::int64_t full_rounds_ = 0, full_round_tokens_ = 0;
  arx::rng g_;
};

arx::sampler_chain greedy_chain() {
  arx::sampler_chain s;
  s.add(arx::temperature{0.0f});
  return s;
}

double since(clock_type::time_point t) {
  return std::chrono::duration<double>(clock_type::now() - t).count();
}

/// Plain decoding; returns the decode's seconds (after the prompt forward) and the tokens.
double plain(const arx::transformer<float>& m, arx::sequence<float>& seq, const tokens_t& prompt,
             int n, tokens_t& out) {
  arx::sampler_chain s = greedy_chain();
  arx::rng g(1);
  seq.clear();
  tokens_t hist = prompt;
  out.clear();
  auto r = m.forward(seq, prompt);
  const auto t0 = clock_type::now();
  for (;;) {
    const arx::token_id t = s.sample(r.logits.row(0), {hist, std::int64_t(out.size())}, g);
    out.push_back(t);
    hist.push_back(t);
    if (int(out.size()) == n) break;
    r = m.forward(seq, std::span(&out.back(), 1));
  }
  return since(t0);
}

struct row {
  double alpha = 0;
  int gamma = 0;
  std::vector<double> tps, plain_tps, per_call, speedup;
  std::int64_t calls = 0, full_rounds = 0, full_tokens = 0;
  double full_per_call() const {
    return full_rounds ? double(full_tokens) / double(full_rounds) : 0.0;
  }
};

double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0.0 : s / double(v.size());
}

int run(const options& o) {
  arx::thread_pool pool(o.threads ? o.threads : arx::thread_pool::physical_cores());
  const auto model = arx::transformer<float>::load(o.model);
  const auto& c = model.config();
  auto seq = model.new_sequence(std::int64_t(o.prompt) + o.n_gen + 64);
  seq.set_thread_pool(&pool);
  tokens_t prompt;
  arx::rng ids(42);
  const auto voc = arx::vocab::from_gguf(model.weights().file());
  if (voc.add_bos() && voc.bos() >= 0) prompt.push_back(voc.bos());
  while (int(prompt.size()) < o.prompt)
    prompt.push_back(arx::token_id(ids.next() % std::uint64_t(c.n_vocab)));
  std::fprintf(stderr, "arx-bench-speculative: %s, %d threads, prompt %d, %d tokens\n",
               o.model.c_str(), pool.size(), o.prompt, o.n_gen);

  tokens_t cont, got;
  (void)plain(model, seq, prompt, o.n_gen, cont);  // warm-up; the continuation to replay
  std::vector<row> rows;
  for (double a : o.alphas)
    for (int g : o.gammas) rows.push_back(row{a, g, {}, {}, {}, {}, 0, 0, 0});
  for (int rep = -1; rep < o.reps; ++rep) {  // rep -1: warm-up of every configuration
    const double plain_tps = o.n_gen / plain(model, seq, prompt, o.n_gen, got);
    if (got != cont) throw std::runtime_error("plain greedy decoding is not deterministic");
    for (auto& r : rows) {
      arx::speculative_params sp;
      sp.draft_max = r.gamma;
      arx::speculative_decoder dec(model, greedy_chain(),
                                   replay_drafter(cont, prompt.size(), r.alpha, r.gamma,
                                                  7 + std::uint64_t(rep + 1)),
                                   sp, 1);
      seq.clear();
      const auto res = dec.generate(seq, prompt, o.n_gen, [](arx::token_id) {});
      dec.drafter().finish(res.tokens.size());
      if (res.tokens != cont)
        throw std::runtime_error("speculative greedy output differs from plain greedy (alpha " +
                                 std::to_string(r.alpha) + ", gamma " + std::to_string(r.gamma) +
                                 ")");
      if (rep < 0) continue;
      const auto& st = dec.stats();
      const double tps = o.n_gen / (res.seconds - st.prefill_seconds);
      r.tps.push_back(tps);
      r.plain_tps.push_back(plain_tps);
      r.per_call.push_back(st.tokens_per_call());
      r.speedup.push_back(tps / plain_tps);
      r.calls += st.target_calls;
      r.full_rounds += dec.drafter().full_rounds();
      r.full_tokens += dec.drafter().full_round_tokens();
      std::fprintf(stderr,
                   "  rep %d alpha %.2f gamma %d: %.2f t/s (plain %.2f), %.3f tokens/call, "
                   "%.2f ms verify + %.3f ms draft per call\n",
                   rep + 1, r.alpha, r.gamma, tps, plain_tps, st.tokens_per_call(),
                   1e3 * st.verify_seconds / double(st.target_calls),
                   1e3 * st.draft_seconds / double(st.target_calls));
    }
  }
  const auto expected = [](double a, int g) {
    return a >= 1.0 ? double(g + 1) : (1.0 - std::pow(a, g + 1)) / (1.0 - a);
  };
  if (o.output == "json") {
    std::printf("[\n");
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const auto& r = rows[i];
      std::printf(
          "  {\"model_filename\": \"%s\", \"n_threads\": %d, \"n_prompt\": %d, \"n_gen\": %d, "
          "\"alpha\": %.3f, \"gamma\": %d, \"tokens_per_call\": %.4f, "
          "\"full_rounds\": %lld, \"tokens_per_full_round\": %.4f, \"expected_tokens_per_call\": "
          "%.4f, \"avg_ts\": %.3f, \"plain_avg_ts\": %.3f, "
          "\"speedup\": %.4f}%s\n",
          o.model.c_str(), pool.size(), o.prompt, o.n_gen, r.alpha, r.gamma, mean(r.per_call),
          static_cast<long long>(r.full_rounds), r.full_per_call(), expected(r.alpha, r.gamma),
          mean(r.tps), mean(r.plain_tps), mean(r.speedup), i + 1 < rows.size() ? "," : "");
    }
    std::printf("]\n");
    return 0;
  }
  std::printf(
      "| alpha | gamma | tokens / target call | full-γ rounds | tokens / full-γ round | expected | "
      "off by | speculative t/s | plain t/s | speed-up |\n");
  std::printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const auto& r : rows) {
    const double e = expected(r.alpha, r.gamma), m = r.full_per_call();
    std::printf("| %.2f | %d | %.3f | %lld | %.3f | %.3f | %+.1f%% | %.2f | %.2f | %.2fx |\n",
                r.alpha, r.gamma, mean(r.per_call), static_cast<long long>(r.full_rounds), m, e,
                100.0 * (m / e - 1.0), mean(r.tps), mean(r.plain_tps), mean(r.speedup));
  }
  std::printf(
      "\n%s, %d threads, prompt %d tokens, %d generated, %d repetitions, arx built for %s\n",
      o.model.c_str(), pool.size(), o.prompt, o.n_gen, o.reps, arx::simd_target);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  if (!parse(argc, argv, o)) {
    usage(stderr);
    return 2;
  }
  try {
    return run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "arx-bench-speculative: %s\n", e.what());
    return 1;
  }
}
