// arx-bench-search: the decoding strategies of arx/decoding side by side on one model — time per
// generated token, forwards per token, extra memory, and how repetitive the text is.
//
//   arx-bench-search -m stories260K.gguf -n 256 -r 1                  # text quality
//   arx-bench-search -m tinyllama-1.1b-q4_0.gguf -t 2 -n 64 -r 3      # speed
//
// Strategies (-s, comma-separated; default all): greedy (argmax), nucleus (top-p 0.95 at
// temperature 1, seed = repetition), contrastive (-k, --alpha), momentum (--momentum-alpha),
// jacobi (--jacobi M), beam (--beams N). Every strategy emits N tokens (-n; fewer when EOS
// ends it) from the same prompts; greedy, nucleus and momentum also evaluate their last token,
// so each of them runs one forward per token, as contrastive does (Jacobi and beam search leave
// their last token unevaluated). Beam search's time is the whole search (its text is known only at the end).
//
// Prompts: -p TEXT (repeatable) or -f FILE (one prompt per line); default: eight story openings.
// Each repetition (-r) runs every strategy on every prompt, in the order given, so the ratios
// compare runs made close together. One untimed warm-up (greedy, 8 tokens) first.
//
// Reported per strategy (markdown table on stdout, progress on stderr):
//   tokens        mean continuation length (EOS can end one before N)
//   ms/token      decode time after the prompt's forward / emitted tokens, mean over reps
//   x greedy      that time / greedy's, per repetition then averaged (needs greedy in -s)
//   fwd/token     model forward calls after the prefill per emitted token
//   extra MiB     memory the strategy holds beyond greedy's sequence: contrastive's hidden-state
//                 history and k − 1 spare KV rows; beam search: every beam's own KV rows (at
//                 most width × N; the prompt's are shared)
//   rep-2/3/4     share of repeated n-grams in a continuation, 1 − unique / total (SimCTG's
//                 rep-n), averaged over prompts and repetitions, in %
//   distinct-2/3/4  unique n-grams / total n-grams over the continuations of all prompts pooled,
//                 in %, averaged over repetitions
//   (n-grams of token ids of the continuation only.)
// Exit status: 0 success, 1 error from arx, 2 bad arguments.
#include "cli.hpp"

#include <arx/core/error.hpp>
#include <arx/core/thread_pool.hpp>
#include <arx/decoding/beam_search.hpp>
#include <arx/decoding/contrastive.hpp>
#include <arx/decoding/jacobi.hpp>
#include <arx/decoding/momentum.hpp>
#include <arx/model/transformer.hpp>
#include <arx/sampling/chain.hpp>
#include <arx/sampling/params.hpp>
#include <arx/tokenizer/tokenizer.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

using tokens_t = std::vector<arx::token_id>;
using clock_type = std::chrono::steady_clock;
using arx_cli::usage_error;

void usage(std::FILE* out) {
  std::fputs(
      "usage: arx-bench-search -m FILE [options]\n"
      "  -m, --model FILE        GGUF model\n"
      "  -t, --threads N         threads (default: physical cores)\n"
      "  -n, --n-gen N           tokens per continuation (default 128)\n"
      "  -r, --repetitions N     repetitions (default 3)\n"
      "  -p, --prompt TEXT       a prompt (repeatable)\n"
      "  -f, --file FILE         prompts, one per line\n"
      "  -s, --strategies LIST   greedy,nucleus,contrastive,momentum,jacobi,beam (default:\n"
      "                          all)\n"
      "  -k N                    contrastive candidates (default 4)\n"
      "      --alpha X           contrastive alpha (default 0.6)\n"
      "      --momentum-alpha X  momentum alpha (default 0.2)\n"
      "      --jacobi M          Jacobi guesses per forward (default 4)\n"
      "      --beams N           beam width (default 4)\n",
      out);
}

struct options {
  std::string model;
  std::int64_t threads = 0, n_gen = 128, reps = 3;
  std::vector<std::string> prompts, strategies;
  std::int64_t k = 4;
  float alpha = 0.6f;
  float momentum_alpha = 0.2f;
  std::int64_t jacobi = 4;
  std::int64_t beams = 4;
};

const std::vector<std::string> all_strategies = {"greedy",   "nucleus", "contrastive",
                                                 "momentum", "jacobi",  "beam"};

std::vector<std::string> split(std::string_view s) {
  std::vector<std::string> out;
  for (std::size_t b = 0;;) {
    const std::size_t e = s.find(',', b);
    out.emplace_back(s.substr(b, e == std::string_view::npos ? s.npos : e - b));
    if (e == std::string_view::npos) return out;
    b = e + 1;
  }
}

bool parse(int argc, char** argv, options& o) {
  const arx_cli::option_reader args{argc, argv};
  std::string file;
  const auto in_range = [](std::int64_t v, std::int64_t lo, std::int64_t hi, const char* what) {
    if (v < lo || v > hi)
      throw usage_error{std::string(what) + " must be in [" + std::to_string(lo) + ", " +
                        std::to_string(hi) + "], got " + std::to_string(v)};
    return v;
  };
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "-h" || a == "--help") return false;
    if (a == "-m" || a == "--model") o.model = args.value(i);
    else if (a == "-t" || a == "--threads") o.threads = in_range(args.integer(i), 1, 1024, "-t");
    else if (a == "-n" || a == "--n-gen") o.n_gen = in_range(args.integer(i), 1, 1 << 20, "-n");
    else if (a == "-r" || a == "--repetitions") o.reps = in_range(args.integer(i), 1, 1000, "-r");
    else if (a == "-p" || a == "--prompt") o.prompts.emplace_back(args.value(i));
    else if (a == "-f" || a == "--file") file = args.value(i);
    else if (a == "-s" || a == "--strategies") o.strategies = split(args.value(i));
    else if (a == "-k") o.k = in_range(args.integer(i), 1, 1024, "-k");
    else if (a == "--alpha") o.alpha = args.real(i);
    else if (a == "--momentum-alpha") o.momentum_alpha = args.real(i);
    else if (a == "--jacobi") o.jacobi = in_range(args.integer(i), 1, 4096, "--jacobi");
    else if (a == "--beams") o.beams = in_range(args.integer(i), 1, 4096, "--beams");
    else throw usage_error{"unexpected argument '" + std::string(a) + "'"};
  }
  if (o.model.empty()) throw usage_error{"no model given (-m FILE)"};
  if (!(o.alpha >= 0 && o.alpha <= 1)) throw usage_error{"--alpha must be in [0, 1]"};
  if (!(o.momentum_alpha >= 0)) throw usage_error{"--momentum-alpha must be >= 0"};
  if (o.strategies.empty()) o.strategies = all_strategies;
  for (const auto& s : o.strategies)
    if (std::find(all_strategies.begin(), all_strategies.end(), s) == all_strategies.end())
      throw usage_error{"unknown strategy '" + s + "'"};
  if (!file.empty()) {
    std::istringstream in(arx_cli::read_file(file));
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) o.prompts.push_back(line);
    if (o.prompts.empty()) throw usage_error{"no prompt in " + file};
  }
  if (o.prompts.empty())
    o.prompts = {"Once upon a time",
                 "One day, a little girl named Lily",
                 "Tom and his dog",
                 "There was a big tree in the park",
                 "The sun was shining and",
                 "Sam wanted to play with",
                 "In a small house lived",
                 "Mom said"};
  return true;
}

/// One continuation of one strategy.
struct run_result {
  tokens_t tokens;
  double seconds = 0;          // after the prompt's forward
  std::int64_t forwards = 0;   // after the prompt's forward
  double extra_bytes = 0;
};

arx::token_id argmax(std::span<const float> row) {
  return arx::token_id(std::max_element(row.begin(), row.end()) - row.begin());
}

template <class Select>
run_result plain(const arx::transformer<float>& m, arx::sequence<float>& seq,
                 const tokens_t& prompt, std::int64_t n, arx::token_id eos, Select&& select) {
  run_result r;
  auto out = m.forward(seq, prompt);
  const auto t0 = clock_type::now();
  for (;;) {
    const arx::token_id t = select(out.logits.row(0));
    r.tokens.push_back(t);
    if (t == eos || std::int64_t(r.tokens.size()) == n || seq.size() == seq.capacity()) break;
    out = m.forward(seq, std::span(&r.tokens.back(), 1));
    ++r.forwards;
  }
  if (seq.size() < seq.capacity()) {  // evaluate the last token too, as the strategies do
    (void)m.forward(seq, std::span(&r.tokens.back(), 1));
    ++r.forwards;
  }
  r.seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
  return r;
}

run_result from(const arx::decode_result& d, double extra_bytes) {
  return run_result{d.tokens, d.stats.decode_seconds, d.stats.forwards, extra_bytes};
}

run_result run_one(const std::string& strategy, const options& o,
                   const arx::transformer<float>& m, const arx::tokenizer& tok,
                   arx::thread_pool& pool, const tokens_t& prompt, std::uint64_t seed) {
  auto seq = m.new_sequence(std::int64_t(prompt.size()) + o.n_gen + 64);
  seq.set_thread_pool(&pool);
  const arx::token_id eos = tok.vocab().eos();
  const auto none = [](arx::token_id) {};
  if (strategy == "greedy") return plain(m, seq, prompt, o.n_gen, eos, argmax);
  if (strategy == "nucleus") {
    arx::sampling_params sp;
    sp.temp = 1.0f;
    sp.top_k = 0;
    sp.top_p = 0.95f;
    sp.min_p = 0.0f;
    sp.seed = seed;
    arx::sampling_selector<arx::sampler_chain> sel(arx::make_sampler(sp, tok), seed, prompt);
    return plain(m, seq, prompt, o.n_gen, eos, sel);
  }
  if (strategy == "momentum") {
    arx::momentum_selector sel({.alpha = double(o.momentum_alpha)}, prompt);
    return plain(m, seq, prompt, o.n_gen, eos, sel);
  }
  if (strategy == "jacobi") {
    arx::jacobi_decoder<float> jd(m, {.block = int(o.jacobi)});
    return from(jd.generate(seq, prompt, o.n_gen, none, eos), 0.0);
  }
  const double kv_row = double(seq.cache().bytes()) / double(seq.capacity());
  if (strategy == "beam") {  // extra: every beam's own rows (the prompt is shared)
    arx::beam_search<float> bs(m, {.width = int(o.beams)});
    const arx::beam_result r = bs.generate(seq, prompt, o.n_gen, eos);
    return from(r, double(o.beams) * double(r.tokens.size()) * kv_row);
  }
  // contrastive
  arx::contrastive_search<float> cs(m, {.k = int(o.k), .alpha = double(o.alpha)});
  const auto d = cs.generate(seq, prompt, o.n_gen, none, eos);
  return from(d, double(cs.history_bytes()) + double(o.k - 1) * kv_row);
}

/// 1 − unique / total n-grams of one continuation (0 when it has no n-gram).
double rep_n(const tokens_t& t, std::size_t n) {
  if (t.size() < n) return 0;
  std::set<tokens_t> seen;
  for (std::size_t i = 0; i + n <= t.size(); ++i) seen.emplace(t.begin() + i, t.begin() + i + n);
  return 1.0 - double(seen.size()) / double(t.size() - n + 1);
}

struct summary {
  std::vector<double> ms_per_token, ratio;
  double forwards = 0, tokens = 0, extra = 0, runs = 0;
  double rep[3] = {0, 0, 0};
  double distinct[3] = {0, 0, 0};  // summed over repetitions
  std::set<tokens_t> grams[3];     // this repetition's
  double gram_total[3] = {0, 0, 0};
};

double mean(const std::vector<double>& v) {
  double s = 0;
  for (const double x : v) s += x;
  return v.empty() ? 0 : s / double(v.size());
}

int run(const options& o) {
  const auto m = arx::transformer<float>::load(o.model);
  const auto tok = arx::tokenizer::from_gguf(m.weights().file());
  arx::thread_pool pool(o.threads == 0 ? arx::thread_pool::physical_cores() : int(o.threads));
  std::vector<tokens_t> prompts;
  for (const auto& p : o.prompts) prompts.push_back(tok.encode(p, tok.vocab().add_bos()));
  std::fprintf(stderr, "model %s, %d threads, %zu prompts, %lld tokens each, %lld reps\n",
               o.model.c_str(), pool.size(), prompts.size(), (long long)o.n_gen,
               (long long)o.reps);
  {  // warm-up
    options w = o;
    w.n_gen = 8;
    (void)run_one("greedy", w, m, tok, pool, prompts[0], 0);
  }
  std::map<std::string, summary> s;
  for (std::int64_t rep = 0; rep < o.reps; ++rep) {
    std::map<std::string, double> seconds, tokens;
    for (const auto& name : o.strategies) {
      std::fprintf(stderr, "rep %lld: %s\n", (long long)rep + 1, name.c_str());
      for (const auto& p : prompts) {
        const run_result r = run_one(name, o, m, tok, pool, p, std::uint64_t(rep));
        summary& e = s[name];
        seconds[name] += r.seconds;
        tokens[name] += double(r.tokens.size());
        e.forwards += double(r.forwards);
        e.tokens += double(r.tokens.size());
        e.extra = std::max(e.extra, r.extra_bytes);
        e.runs += 1;
        for (std::size_t n = 2; n <= 4; ++n) {
          e.rep[n - 2] += rep_n(r.tokens, n);
          for (std::size_t i = 0; i + n <= r.tokens.size(); ++i)
            e.grams[n - 2].emplace(r.tokens.begin() + i, r.tokens.begin() + i + n);
          e.gram_total[n - 2] += r.tokens.size() >= n ? double(r.tokens.size() - n + 1) : 0;
        }
      }
    }
    for (const auto& name : o.strategies) {
      summary& e = s[name];
      for (int n = 0; n < 3; ++n) {
        e.distinct[n] += double(e.grams[n].size()) / std::max(1.0, e.gram_total[n]);
        e.grams[n].clear();
        e.gram_total[n] = 0;
      }
      const double ms = 1e3 * seconds[name] / std::max(1.0, tokens[name]);
      s[name].ms_per_token.push_back(ms);
      if (seconds.count("greedy"))
        s[name].ratio.push_back(ms / (1e3 * seconds["greedy"] / std::max(1.0, tokens["greedy"])));
    }
  }
  std::printf("| strategy | tokens | ms/token | x greedy | fwd/token | extra MiB | rep-2 %% | "
              "rep-3 %% | rep-4 %% | distinct-2 %% | distinct-3 %% | distinct-4 %% |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const auto& name : o.strategies) {
    const summary& e = s[name];
    std::printf("| %s | %.1f | %.3f | %s | %.3f | %.2f", name.c_str(),
                e.tokens / std::max(1.0, e.runs), mean(e.ms_per_token),
                e.ratio.empty() ? "" : std::to_string(mean(e.ratio)).substr(0, 5).c_str(),
                e.forwards / std::max(1.0, e.tokens), e.extra / (1024.0 * 1024.0));
    for (int n = 0; n < 3; ++n) std::printf(" | %.1f", 100.0 * e.rep[n] / std::max(1.0, e.runs));
    for (int n = 0; n < 3; ++n)
      std::printf(" | %.1f", 100.0 * e.distinct[n] / double(o.reps));
    std::printf(" |\n");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return arx_cli::main<options>("arx-bench-search", argc, argv, parse, usage, run);
}
