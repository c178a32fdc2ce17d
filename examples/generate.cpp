// generate: text generation with a Llama-family GGUF model (llama.cpp-style options).
//
//   generate -m model.gguf -p "Once upon a time" -n 64                 # llama.cpp's sampling
//   generate -p "And God said"                # no -m: the bundled demo model (examples/models)
//   generate -m model.gguf -p "Once upon a time" --temp 0              # greedy
//   generate -m model.gguf -p "Once upon a time" --seed 42 --top-k 20 --samplers "k;p;t"
//
// Sampling follows llama.cpp: the same flags, defaults (temp 0.8, top-k 40, top-p 0.95,
// min-p 0.05, ...) and sampler order (arx/sampling/params.hpp). Without --seed (or with -1) a
// random seed is drawn and printed on stderr, so any run can be reproduced with --seed; the
// sampler chain is printed on stderr too. A given seed gives the same text on every run.
//
// stdout carries only the prompt text followed by the generated text, streamed and flushed as it
// is produced (so it can be piped); everything else (model summary, SIMD target, timings, stop
// reason) goes to stderr. Exit codes: 0 done, 1 an error from arx (bad file, prompt longer than
// the context, ...), 2 bad command-line arguments.
#include "cli.hpp"

#include <arx/core/error.hpp>
#include <arx/core/half.hpp>
#include <arx/decoding/beam_search.hpp>
#include <arx/decoding/contrastive.hpp>
#include <arx/decoding/jacobi.hpp>
#include <arx/decoding/momentum.hpp>
#include <arx/generation/generate.hpp>
#include <arx/io/gguf.hpp>
#include <arx/model/transformer.hpp>
#include <arx/sampling/chain.hpp>
#include <arx/sampling/params.hpp>
#include <arx/tokenizer/tokenizer.hpp>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

void usage(std::FILE* out) {
  std::fputs(
      "usage: generate [-m MODEL.gguf] [-p PROMPT | -f FILE] [options]\n"
      "Prints the prompt and its continuation on stdout (streamed); model summary, seed,\n"
      "sampler chain, timings and the stop reason go to stderr.\n"
      "  -m, --model FILE       GGUF model (llama, qwen2, phi3, gemma, gpt2; SPM or BPE vocab)\n"
      "                         (default: the bundled demo model examples/models/kjv-target.gguf)\n"
      "  -p, --prompt TEXT      prompt text (default: empty, i.e. generate from BOS)\n"
      "  -f, --file FILE        read the prompt from FILE (its bytes as they are)\n"
      "  -n, --n-predict N      tokens to generate at most (default 64; -1: until the\n"
      "                         context is full or EOS)\n"
      "  -c, --ctx-size N       context size in tokens (default 0: the model's training\n"
      "                         context; larger than it is allowed, with a warning)\n"
      "  -t, --threads N        threads for the forward pass (default: physical cores)\n"
      "      --kv f32|f16       KV cache element type (default f32)\n"
      "      --stop TEXT        stop when the generated text contains TEXT (repeatable);\n"
      "                         TEXT itself is not printed\n"
      "      --no-bos           do not add the BOS token even if the model asks for it\n"
      "      --ignore-eos       keep generating after the end-of-sequence token\n"
      "  -h, --help             show this text\n"
      "Search strategies (deterministic; instead of sampling, so no sampling flag with them):\n"
      "      --contrastive K[,A]  contrastive search: K candidates per step (one batched\n"
      "                         forward sharing the prefix KV), degeneration penalty A\n"
      "                         (default 0.6); K 1 or A 0 is greedy\n"
      "      --momentum         momentum decoding: the top-k token with the highest\n"
      "                         p - alpha * R(l), l the n-gram it would repeat\n"
      "      --momentum-alpha X   its alpha (default 0.2; 0 is greedy)\n"
      "      --momentum-k N     its candidates per step (default 5)\n"
      "      --jacobi M         Jacobi decoding: greedy text, M guessed tokens checked per\n"
      "                         forward (fewer sequential forwards when guesses hold)\n"
      "      --beams N          beam search with N beams sharing the prompt's KV (the text\n"
      "                         is printed when the search ends)\n"
      "      --length-penalty X   its score: log-probability / length^X (default 1)\n"
      "      --early-stopping   end once N hypotheses have reached EOS\n"
      "Sampling (llama.cpp's flags and defaults; 0 / 1 / -1 as noted turn one off):\n"
      "  -s, --seed N           random seed (default -1: pick one and print it)\n"
      "      --temp N           temperature (default 0.8; <= 0: greedy, the most probable\n"
      "                         token after penalties)\n",
      out);
  std::fputs(arx_cli::sampling_usage, out);
  std::fputs(
      "      --mirostat N       0 off (default), 1 Mirostat, 2 Mirostat 2.0 (replaces\n"
      "                         top-k, top-p, min-p, typical, XTC and top-n-sigma)\n"
      "      --mirostat-lr N    Mirostat learning rate eta (default 0.1)\n"
      "      --mirostat-ent N   Mirostat target entropy tau (default 5.0)\n"
      "      --samplers LIST    sampler order, names separated by ';' (default\n"
      "                         penalties;dry;top_n_sigma;top_k;typ_p;top_p;min_p;xtc;temperature)\n"
      "                         or llama.cpp's letters, e.g. edskypmxt\n"
      "      --sampling-seq S   the same as --samplers\n"
      "Disabled samplers are left out of the chain; values outside a sampler's range\n"
      "(e.g. --top-p 1.5) are errors.\n"
      "Timings: 'prompt' is the one batched forward over the prompt; 'generation' is\n"
      "everything after it (N tokens take N-1 single-token forwards: the first token comes\n"
      "from the prompt's logits).\n"
      "Exit status: 0 success, 1 error (message on stderr), 2 bad arguments.\n",
      out);
}

struct options {
  std::string model;
  bool demo = false;  // no -m: the bundled demo model(s) of examples/models
  std::string prompt;
  std::string prompt_file;
  bool have_prompt = false, have_file = false;
  std::int64_t n_predict = 64;
  std::int64_t ctx = 0;
  std::int64_t threads = 0;      // 0: arx::thread_pool::physical_cores()
  std::int64_t seed = -1;        // -1: random
  arx::sampling_params sampling;  // seed filled in by run()
  bool breakers_set = false;
  std::string kv = "f32";
  std::vector<std::string> stops;
  bool no_bos = false;
  bool ignore_eos = false;
  std::string strategy;          // "": sampling; else the search strategy's flag
  std::string sampling_flag;     // the first sampling flag given (refused with a strategy)
  arx::contrastive_params contrastive;
  arx::momentum_params momentum;
  bool momentum_tuned = false;   // --momentum-alpha / --momentum-k given
  arx::jacobi_params jacobi;
  arx::beam_params beam;
  bool beam_tuned = false;       // --length-penalty / --early-stopping given
};

using arx_cli::usage_error;

/// Records a search strategy's flag; a second one is a usage error.
void strategy(options& o, std::string_view flag) {
  if (!o.strategy.empty())
    throw usage_error{"give one search strategy, not " + o.strategy + " and " + std::string(flag)};
  o.strategy = flag;
}

/// A number in [lo, hi] (an integer when `integer`) from `text`, a part of flag's value.
double number(std::string_view flag, const std::string& text, double lo, double hi,
              bool integer = false) {
  double v = 0;
  const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || text.empty() ||
      !(v >= lo && v <= hi) || (integer && v != std::floor(v))) {
    char range[64];
    std::snprintf(range, sizeof range, "[%g, %g]", lo, hi);
    throw usage_error{std::string(flag) + ": '" + text + "' is not " +
                      (integer ? "an integer" : "a number") + " in " + range};
  }
  return v;
}

// Returns false for --help.
bool parse(int argc, char** argv, options& o) {
  const arx_cli::option_reader args{argc, argv};
  auto value = [&](int& i) { return args.value(i); };
  auto integer = [&](int& i) { return args.integer(i); };
  auto& sp = o.sampling;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "-h" || a == "--help") return false;
    if (a == "-m" || a == "--model") o.model = value(i);
    else if (a == "-p" || a == "--prompt") o.prompt = value(i), o.have_prompt = true;
    else if (a == "-f" || a == "--file") o.prompt_file = value(i), o.have_file = true;
    else if (a == "-n" || a == "--n-predict") o.n_predict = integer(i);
    else if (a == "-c" || a == "--ctx-size") o.ctx = integer(i);
    else if (a == "-t" || a == "--threads") o.threads = integer(i);
    else if (a == "-s" || a == "--seed") o.seed = integer(i);
    else if (const int at = i; arx_cli::sampling_flag(args, i, sp, o.breakers_set)) {
      if (o.sampling_flag.empty()) o.sampling_flag = argv[at];
    } else if (a == "--contrastive") {
      strategy(o, a);
      const std::string v = value(i);
      const std::size_t comma = v.find(',');
      o.contrastive.k = int(number(a, v.substr(0, comma), 1, 1 << 20, true));
      if (comma != std::string::npos) o.contrastive.alpha = number(a, v.substr(comma + 1), 0, 1);
    } else if (a == "--momentum") {
      strategy(o, a);
    } else if (a == "--momentum-alpha") {
      o.momentum.alpha = number(a, value(i), 0, 1e6);
      o.momentum_tuned = true;
    } else if (a == "--momentum-k") {
      o.momentum.top_k = int(number(a, value(i), 1, 1 << 20, true));
      o.momentum_tuned = true;
    } else if (a == "--beams") {
      strategy(o, a);
      o.beam.width = int(number(a, value(i), 1, 4096, true));
    } else if (a == "--length-penalty") {
      o.beam.length_penalty = number(a, value(i), -1e6, 1e6);
      o.beam_tuned = true;
    } else if (a == "--early-stopping") {
      o.beam.early_stopping = true;
      o.beam_tuned = true;
    } else if (a == "--jacobi") {
      strategy(o, a);
      o.jacobi.block = int(number(a, value(i), 1, 4096, true));
    }
    else if (a == "--kv") o.kv = value(i);
    else if (a == "--stop") o.stops.emplace_back(value(i));
    else if (a == "--no-bos") o.no_bos = true;
    else if (a == "--ignore-eos") o.ignore_eos = true;
    else throw usage_error{"unexpected argument '" + std::string(a) + "'"};
  }
  if (o.model.empty()) {  // the bundled demo model (examples/models)
    o.model = arx_cli::demo_model("kjv-target.gguf");
    o.demo = true;
  }
  if (o.have_prompt && o.have_file) throw usage_error{"give the prompt with -p or -f, not both"};
  if (o.n_predict == 0 || o.n_predict < -1)
    throw usage_error{"-n must be positive or -1, got " + std::to_string(o.n_predict)};
  if (o.ctx < 0) throw usage_error{"-c must be >= 0, got " + std::to_string(o.ctx)};
  if (o.threads < 0 || o.threads > 1024)
    throw usage_error{"-t must be in [1, 1024], got " + std::to_string(o.threads)};
  if (o.kv != "f32" && o.kv != "f16") throw usage_error{"--kv must be f32 or f16, got '" + o.kv + "'"};
  for (const auto& s : o.stops)
    if (s.empty()) throw usage_error{"--stop needs a non-empty text"};
  if (o.seed < -1) throw usage_error{"--seed must be >= 0 or -1 (random), got " + std::to_string(o.seed)};
  if (o.beam_tuned && o.strategy != "--beams")
    throw usage_error{"--length-penalty and --early-stopping need --beams"};
  if (o.momentum_tuned && o.strategy != "--momentum")
    throw usage_error{"--momentum-alpha and --momentum-k need --momentum"};
  if (!o.strategy.empty() && !o.sampling_flag.empty())
    throw usage_error{o.sampling_flag + " is a sampling flag; " + o.strategy +
                      " does not sample (leave one of them out)"};
  arx_cli::check_sampling(sp);  // every sampling value, before a model is loaded
  return true;
}

void print_summary(const arx::llama_weights& w, const arx::tokenizer& tok) {
  const auto& c = w.config();
  std::fprintf(stderr, "model: %s\n", w.file().path().c_str());
  std::fprintf(stderr,
               "  arch %s, %lld layers, n_embd %lld, n_head %lld (kv %lld), head_dim %lld, "
               "n_ff %lld, n_ctx_train %lld, vocab %lld%s\n",
               arx::gguf::escape(c.arch, 64).c_str(), (long long)c.n_layer, (long long)c.n_embd,
               (long long)c.n_head, (long long)c.n_head_kv, (long long)c.head_dim,
               (long long)c.n_ff, (long long)c.n_ctx_train, (long long)c.n_vocab,
               c.tied_output ? ", tied output" : "");
  std::map<std::string, std::pair<int, std::size_t>> types;
  for (const auto& t : w.file().tensors()) {
    auto& e = types[arx::type_name(t.type)];
    e.first += 1;
    e.second += t.nbytes;
  }
  std::string s;
  for (const auto& [name, e] : types)
    s += (s.empty() ? "" : ", ") + name + " x" + std::to_string(e.first) + " (" +
         std::to_string(e.second) + " bytes)";
  std::fprintf(stderr, "  weights: %s\n", s.c_str());
  std::fprintf(stderr, "  tokenizer: %zu tokens, bos %d, eos %d, add_bos %s\n", tok.vocab().size(),
               tok.vocab().bos(), tok.vocab().eos(), tok.vocab().add_bos() ? "yes" : "no");
  std::fprintf(stderr, "arx built for %s\n", arx::simd_target);
}

bool wrote_stdout = false;  // something is on stdout without a newline after it

bool write_out(std::string_view s) {
  if (s.empty()) return true;
  wrote_stdout = true;
  if (std::fwrite(s.data(), 1, s.size(), stdout) != s.size()) return false;
  return std::fflush(stdout) == 0;
}

void rate_line(const char* what, std::int64_t n, double seconds, std::int64_t steps) {
  const double ms = seconds * 1e3;
  if (seconds > 0)
    std::fprintf(stderr, "%s: %lld tokens, %.2f ms, %.2f tokens/s", what, (long long)n, ms,
                 double(n) / seconds);
  else
    std::fprintf(stderr, "%s: %lld tokens, %.2f ms", what, (long long)n, ms);
  if (steps > 0) std::fprintf(stderr, " (%lld single-token forwards, %.3f ms each)", (long long)steps, ms / double(steps));
  std::fputc('\n', stderr);
}

/// printf into a std::string.
template <class... Args>
std::string line(const char* fmt, Args... args) {
  char buf[256];
  std::snprintf(buf, sizeof buf, fmt, args...);
  return buf;
}

/// Runs the search strategy o.strategy, streaming its text the way arx::generate does (the
/// detokenizer primed with the prompt; text that could start a stop string held back, the stop
/// string and what follows it cut).
template <class KV, class OnText>
arx::generate_result search(const options& o, const arx::transformer<KV>& model,
                            const arx::tokenizer& tok, arx::sequence<KV>& seq,
                            const std::vector<arx::token_id>& prompt,
                            const arx::generate_options& g, OnText& on_text,
                            std::string& report) {
  arx::detokenizer detok(tok);
  for (const arx::token_id id : prompt) (void)detok.push(id);
  arx::detail::stop_filter filter(g.stop_strings);
  arx::generate_result res;
  bool stopped = false;
  std::string chunk;
  const auto emit = [&](const std::string& text) {
    if (text.empty()) return true;
    res.text += text;
    return bool(on_text(text));
  };
  const auto on_token = [&](arx::token_id id) {
    chunk.clear();
    if (filter.push(detok.push(id), chunk)) {
      (void)emit(chunk);
      stopped = true;
      return false;
    }
    return emit(chunk);
  };
  const arx::token_id eos = g.stop_at_eos ? tok.vocab().eos() : -1;
  arx::decode_result d;
  if (o.strategy == "--contrastive") {
    arx::contrastive_search<KV> cs(model, o.contrastive);
    std::fprintf(stderr, "strategy: contrastive search, k %d, alpha %g\n", o.contrastive.k,
                 o.contrastive.alpha);
    d = cs.generate(seq, prompt, g.max_tokens, on_token, eos);
    report += line("hidden-state history: %.2f MiB\n",
                   double(cs.history_bytes()) / (1024.0 * 1024.0));
  } else if (o.strategy == "--beams") {
    arx::beam_search<KV> bs(model, o.beam);
    std::fprintf(stderr, "strategy: beam search, %d beams, length penalty %g%s\n", o.beam.width,
                 o.beam.length_penalty, o.beam.early_stopping ? ", early stopping" : "");
    const arx::beam_result br = bs.generate(seq, prompt, g.max_tokens, eos);
    d = br;
    for (const arx::token_id t : br.tokens) {  // the best hypothesis, streamed as it ends
      if (t == eos) break;
      if (!on_token(t)) {
        d.reason = arx::stop_reason::cancelled;
        break;
      }
    }
    if (!br.hypotheses.empty())
      report += line("hypotheses: %zu kept, best score %.4f (log-probability %.4f, %zu tokens%s)\n",
                     br.hypotheses.size(), br.hypotheses.front().score,
                     br.hypotheses.front().log_prob, br.hypotheses.front().tokens.size(),
                     br.hypotheses.front().finished ? ", ended by EOS" : "");
  } else if (o.strategy == "--jacobi") {
    arx::jacobi_decoder<KV> jd(model, o.jacobi);
    std::fprintf(stderr, "strategy: Jacobi decoding, %d guesses per forward\n", o.jacobi.block);
    d = jd.generate(seq, prompt, g.max_tokens, on_token, eos);
  }
  res.tokens = d.tokens;
  res.reason = stopped ? arx::stop_reason::stop_string : d.reason;
  if (res.reason != arx::stop_reason::stop_string && res.reason != arx::stop_reason::cancelled) {
    chunk.clear();
    if (filter.push(detok.flush(), chunk)) res.reason = arx::stop_reason::stop_string;
    else chunk += filter.finish();
    (void)emit(chunk);
  }
  res.n_prompt = d.stats.n_prompt;
  res.prompt_seconds = d.stats.prompt_seconds;
  res.generate_seconds = d.stats.decode_seconds;
  report += line("forwards: %lld after the prompt (%lld tokens evaluated), %.3f tokens per "
                 "forward\n", (long long)d.stats.forwards, (long long)d.stats.forward_tokens,
                 d.stats.tokens_per_forward(std::int64_t(d.tokens.size())));
  return res;
}

template <class KV>
int run(const options& o) {
  if (o.demo)
    std::fprintf(stderr, "no -m given: the bundled demo model (examples/models/README.md)\n");
  const auto model = arx::transformer<KV>::load(o.model);
  const auto tok = arx::tokenizer::from_gguf(model.weights().file());
  print_summary(model.weights(), tok);
  arx::thread_pool pool(o.threads == 0 ? arx::thread_pool::physical_cores() : int(o.threads));
  std::fprintf(stderr, "threads: %d\n", pool.size());

  const auto& cfg = model.config();
  const auto [ctx, limit] = arx_cli::context_size(o.ctx, cfg.n_ctx_train);
  auto seq = model.new_sequence(ctx, limit);
  seq.set_thread_pool(&pool);
  std::fprintf(stderr, "context: %lld tokens, KV cache %s\n", (long long)seq.capacity(),
               o.kv.c_str());

  const std::string text = o.have_file ? arx_cli::read_file(o.prompt_file) : o.prompt;
  const auto prompt = tok.encode(text, tok.vocab().add_bos() && !o.no_bos);

  arx::generate_options g;
  g.max_tokens = o.n_predict < 0 ? seq.capacity() : o.n_predict;
  g.stop_at_eos = !o.ignore_eos;
  g.stop_strings = o.stops;

  // The prompt goes out with the first generated text (or after generate returns), so nothing is
  // printed when the prompt cannot be evaluated (e.g. longer than the context).
  bool output_ok = true, prompt_shown = false;
  auto show_prompt = [&] {
    if (!std::exchange(prompt_shown, true)) output_ok = write_out(text);
  };
  auto on_text = [&](std::string_view s) {
    show_prompt();
    output_ok = output_ok && write_out(s);
    return output_ok;  // stdout closed (e.g. piped into head): stop
  };
  arx::generate_result r;
  std::string report;  // the strategy's statistics, printed after the text
  if (o.strategy == "--momentum") {  // logits only: a selector in the usual loop
    arx::momentum_selector select(o.momentum, prompt);
    std::fprintf(stderr, "strategy: momentum decoding, top-k %d, alpha %g\n", o.momentum.top_k,
                 o.momentum.alpha);
    r = arx::generate(model, seq, tok, prompt, select, on_text, g);
  } else if (!o.strategy.empty()) {
    r = search(o, model, tok, seq, prompt, g, on_text, report);
  } else {
    // Sampling: the seed goes to stderr first, so even a run that fails later can be repeated.
    arx::sampling_params sp = o.sampling;
    sp.seed = arx_cli::choose_seed(o.seed);
    arx::sampling_selector<arx::sampler_chain> select(arx::make_sampler(sp, tok), sp.seed,
                                                      prompt);
    std::fprintf(stderr, "sampler: %s\n", select.sampler().describe().c_str());
    r = arx::generate(model, seq, tok, prompt, select, on_text, g);
  }
  show_prompt();

  if (std::exchange(wrote_stdout, false))
    std::fputc('\n', stderr);  // the text has no trailing newline of its own
  std::fputs(report.c_str(), stderr);
  rate_line("prompt", r.n_prompt, r.prompt_seconds, 0);
  const auto n = std::int64_t(r.tokens.size());
  rate_line("generation", n, r.generate_seconds, report.empty() ? n - 1 : 0);
  std::fprintf(stderr, "stop: %s\n", arx::to_string(r.reason));
  if (const std::uint64_t peak = arx_cli::peak_resident_bytes()) {
    const double mib = 1024.0 * 1024.0;
    const double file = double(model.weights().file().bytes().size()) / mib;
    const double kv = double(seq.cache().bytes()) / mib;
    std::fprintf(stderr,
                 "memory: peak resident %.1f MiB = %.1f%% of model file %.1f MiB + KV cache "
                 "%.1f MiB\n",
                 double(peak) / mib, 100.0 * double(peak) / mib / (file + kv), file, kv);
  }
  if (!output_ok) {
    std::fprintf(stderr, "error: writing to stdout failed\n");
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
#ifdef SIGPIPE
  std::signal(SIGPIPE, SIG_IGN);  // a closed pipe becomes a write error, not a silent death
#endif
  return arx_cli::main<options>(
      "generate", argc, argv, parse, usage,
      [](const options& o) { return o.kv == "f16" ? run<arx::f16>(o) : run<float>(o); },
      [] {
        std::fflush(stdout);
        if (wrote_stdout) std::fputc('\n', stderr);
      });
}
