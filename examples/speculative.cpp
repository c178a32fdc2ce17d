// speculative: text generation with speculative decoding (arx/decoding/speculative.hpp).
//
//   speculative -m target.gguf -md draft.gguf --draft 5 -p "Once upon a time"   # draft model
//   speculative -p "And God said"         # no -m: the bundled demo pair (examples/models)
//   speculative -m model.gguf --lookup 3 -f prompt.txt --temp 0                 # prompt lookup
//   speculative -m model.gguf --self-skip 4,6-9 -p "..."                        # self-speculation
//   speculative -m target.gguf -md draft.gguf --tree 3,4 --draft 12 -p "..."    # draft trees
//
// A drafter proposes up to --draft tokens per round, the target checks them in one forward, and
// the output follows the target's sampling distribution exactly (with --temp 0 it is the
// target's greedy text token for token). Exactly one drafter: a draft model sharing the target's
// vocabulary (-md), prompt lookup (--lookup N: n-grams of N tokens down to 1), or the target
// itself with layers (--self-skip) and/or MLP blocks (--self-skip-ffn) left out.
//
// Prompt, context, thread and sampling options are generate's (llama.cpp's flags and defaults),
// except Mirostat, which keeps state between draws and is refused by the decoder.
//
// stdout carries only the prompt text followed by the generated text, streamed as tokens are
// accepted. stderr: the models and drafter, the sampler, then the decoder's statistics
// (acceptance rate, tokens per target call, draft vs verify time, tokens/s) and, unless
// --no-baseline, the speed-up over plain decoding of the same target measured in the same run.
// Exit codes: 0 done, 1 an error from arx (bad file, vocabularies that differ, Mirostat, ...),
// 2 bad command-line arguments.
#include "cli.hpp"

#include <arx/core/error.hpp>
#include <arx/core/half.hpp>
#include <arx/core/thread_pool.hpp>
#include <arx/decoding/speculative.hpp>
#include <arx/decoding/tree_drafter.hpp>
#include <arx/generation/generate.hpp>
#include <arx/io/gguf.hpp>
#include <arx/model/transformer.hpp>
#include <arx/sampling/chain.hpp>
#include <arx/sampling/params.hpp>
#include <arx/tokenizer/tokenizer.hpp>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

void usage(std::FILE* out) {
  std::fputs(
      "usage: speculative [-m MODEL.gguf] (-md DRAFT.gguf | --lookup N | --self-skip LAYERS)\n"
      "                   [-p PROMPT | -f FILE] [options]\n"
      "Speculative decoding: a drafter proposes tokens, the target model verifies them in one\n"
      "forward; the text is distributed exactly as plain sampling from the target.\n"
      "Prints the prompt and its continuation on stdout (streamed); the models, drafter,\n"
      "sampler, statistics and the speed-up over plain decoding go to stderr.\n"
      "  -m, --model FILE       target GGUF model (llama, qwen2, phi3, gemma, gpt2)\n"
      "                         (default: the bundled demo pair of examples/models, the target\n"
      "                         kjv-target.gguf with kjv-draft.gguf as -md unless a drafter is\n"
      "                         given)\n"
      "Drafter (exactly one):\n"
      "  -md, --model-draft FILE  a draft model with the target's vocabulary\n"
      "      --lookup N         prompt lookup: continue the latest earlier occurrence of the\n"
      "                         last N..1 tokens (N >= 1)\n"
      "      --self-skip LAYERS self-speculation: the target with these layers left out, a\n"
      "                         comma list of ids and ranges, e.g. 4,6-9 (layers count from 0)\n"
      "      --self-skip-ffn LAYERS  the same, leaving out only the MLP block of these layers\n"
      "                         (alone or with --self-skip)\n"
      "      --tree B[,D]       with -md or --self-skip: draft a tree instead of a chain, up to\n"
      "                         --draft nodes, B candidates per node and per level, depth <= D\n"
      "                         (default 8), chosen by the draft's probability of the branch\n"
      "Draft length:\n"
      "      --draft N          tokens drafted per round, gamma (default 5; 0: plain decoding;\n"
      "                         1 with the bundled demo pair, whose draft forward costs a third\n"
      "                         of the target's: examples/models/README.md)\n"
      "      --draft-max N      the same as --draft\n"
      "      --draft-min N      with --adaptive, gamma never drops below N (default 1)\n"
      "      --adaptive         grow gamma after a fully accepted round, shrink it after one\n"
      "                         accepting fewer than half of the drafts\n"
      "      --draft-p-min P    a draft model stops drafting when its top probability is\n"
      "                         below P (default 0.0 = never)\n"
      "      --no-baseline      skip the plain decoding run that measures the speed-up\n"
      "Prompt and context:\n"
      "  -p, --prompt TEXT      prompt text (default: empty, i.e. generate from BOS)\n"
      "  -f, --file FILE        read the prompt from FILE (its bytes as they are)\n"
      "  -n, --n-predict N      tokens to generate at most (default 64; -1: until the\n"
      "                         context is full or EOS)\n"
      "  -c, --ctx-size N       context size in tokens (default 0: the target's training\n"
      "                         context; larger than it is allowed, with a warning). A draft\n"
      "                         model's context is the smaller of this and its own training\n"
      "                         context\n"
      "  -t, --threads N        threads for target and draft forwards (default: physical cores)\n"
      "      --kv f32|f16       KV cache element type (default f32), target and draft\n"
      "      --no-bos           do not add the BOS token even if the model asks for it\n"
      "      --ignore-eos       keep generating after the end-of-sequence token\n"
      "  -h, --help             show this text\n"
      "Sampling (llama.cpp's flags and defaults; 0 / 1 / -1 as noted turn one off):\n"
      "  -s, --seed N           random seed (default -1: pick one and print it)\n"
      "      --temp N           temperature (default 0.8; <= 0: greedy)\n",
      out);
  std::fputs(arx_cli::sampling_usage, out);
  std::fputs(
      "      --mirostat N       1 or 2: refused (exit status 1), since Mirostat keeps state\n"
      "                         between draws; --mirostat-lr and --mirostat-ent as generate's\n"
      "      --samplers LIST    sampler order, names separated by ';' (default\n"
      "                         "
      "penalties;dry;top_n_sigma;top_k;typ_p;top_p;min_p;xtc;temperature)\n"
      "                         or llama.cpp's letters, e.g. edskypmxt\n"
      "      --sampling-seq S   the same as --samplers\n"
      "Statistics: tokens/s counts the generated tokens over the time after the prompt's\n"
      "prefill (the speculative run's includes the forward of the prompt's last token, which\n"
      "its first round verifies with the drafts). The plain run decodes the same prompt with\n"
      "the same target, sampler and seed, one token per forward, for as many tokens as the\n"
      "speculative run produced (EOS does not stop it), on a fresh sequence; with --temp 0\n"
      "its tokens are compared with the speculative ones.\n"
      "Exit status: 0 success, 1 error (message on stderr), 2 bad arguments.\n",
      out);
}

struct options {
  std::string model;
  std::string draft_model;
  bool demo = false;  // no -m: the bundled demo model(s) of examples/models
  int lookup = 0;  // 0: not chosen
  std::vector<std::int64_t> skip_layers, skip_ffn;
  bool self_skip = false;
  arx::tree_shape tree{0, 8};  // branch 0: a chain
  arx::speculative_params spec;
  bool draft_min_set = false;
  bool baseline = true;
  std::string prompt;
  std::string prompt_file;
  bool have_prompt = false, have_file = false;
  std::int64_t n_predict = 64;
  std::int64_t ctx = 0;
  std::int64_t threads = 0;       // 0: arx::thread_pool::physical_cores()
  std::int64_t seed = -1;         // -1: random
  arx::sampling_params sampling;  // seed filled in by run()
  bool breakers_set = false;
  std::string kv = "f32";
  bool no_bos = false;
  bool ignore_eos = false;
};

using arx_cli::usage_error;

bool parse_int(std::string_view s, std::int64_t& v) {
  const char* end = s.data() + s.size();
  const auto [p, ec] = std::from_chars(s.data(), end, v);
  return ec == std::errc() && p == end && p != s.data();
}

// "4,6-9" -> 4 6 7 8 9 (sorted, without repeats).
std::vector<std::int64_t> parse_layers(const char* name, std::string_view s) {
  const auto bad = [&](std::string_view why) {
    return usage_error{std::string("option ") + name + ": '" + std::string(s) + "': " +
                       std::string(why) + " (expected layer ids and ranges, e.g. 4,6-9)"};
  };
  std::vector<std::int64_t> out;
  std::string_view rest = s;
  for (;;) {
    const std::size_t comma = rest.find(',');
    const std::string_view item = rest.substr(0, comma);
    if (item.empty()) throw bad("empty item");
    const std::size_t dash = item.find('-');
    std::int64_t a = 0, b = 0;
    if (dash == std::string_view::npos) {
      if (!parse_int(item, a) || a < 0) throw bad("'" + std::string(item) + "' is not a layer id");
      b = a;
    } else if (!parse_int(item.substr(0, dash), a) || !parse_int(item.substr(dash + 1), b) ||
               a < 0 || b < a) {
      throw bad("'" + std::string(item) + "' is not a range FIRST-LAST with FIRST <= LAST");
    }
    if (b - a >= 1 << 16) throw bad("range '" + std::string(item) + "' is too long");
    for (std::int64_t l = a; l <= b; ++l) out.push_back(l);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string join_layers(const std::vector<std::int64_t>& v) {
  std::string s;
  for (std::size_t i = 0; i < v.size();) {
    std::size_t j = i;
    while (j + 1 < v.size() && v[j + 1] == v[j] + 1) ++j;
    if (!s.empty()) s += ',';
    s += std::to_string(v[i]);
    if (j > i) {
      s += '-';
      s += std::to_string(v[j]);
    }
    i = j + 1;
  }
  return s;
}

// Returns false for --help.
bool parse(int argc, char** argv, options& o) {
  const arx_cli::option_reader args{argc, argv};
  auto value = [&](int& i) { return args.value(i); };
  auto integer = [&](int& i) { return args.integer(i); };
  auto real = [&](int& i) { return args.real(i); };
  auto draft_len = [&](int& i) {
    const char* name = argv[i];
    const std::int64_t v = integer(i);
    if (v < 0 || v > 256)
      throw usage_error{std::string("option ") + name + " must be in [0, 256], got " +
                        std::to_string(v)};
    return int(v);
  };
  auto& sp = o.sampling;
  bool lookup_set = false, draft_set = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "-h" || a == "--help") return false;
    if (a == "-m" || a == "--model") o.model = value(i);
    else if (a == "-md" || a == "--model-draft") o.draft_model = value(i);
    else if (a == "--lookup") {
      const std::int64_t n = integer(i);
      if (n < 1 || n > 64)
        throw usage_error{"--lookup must be in [1, 64], got " + std::to_string(n)};
      o.lookup = int(n), lookup_set = true;
    }
    else if (a == "--self-skip") {
      const char* name = argv[i];
      o.skip_layers = parse_layers(name, value(i)), o.self_skip = true;
    }
    else if (a == "--self-skip-ffn") {
      const char* name = argv[i];
      o.skip_ffn = parse_layers(name, value(i)), o.self_skip = true;
    }
    else if (a == "--tree") {
      const std::string v = value(i);
      const auto comma = v.find(',');
      const auto num = [&](const std::string& t) {
        int x = 0;
        const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), x);
        if (ec != std::errc() || end != t.data() + t.size() || x < 1 || x > 64)
          throw usage_error{"--tree takes BRANCH[,DEPTH] with both in [1, 64], got '" + v + "'"};
        return x;
      };
      o.tree.branch = num(v.substr(0, comma));
      if (comma != std::string::npos) o.tree.max_depth = num(v.substr(comma + 1));
    }
    else if (a == "--draft" || a == "--draft-max")
      o.spec.draft_max = draft_len(i), draft_set = true;
    else if (a == "--draft-min") o.spec.draft_min = draft_len(i), o.draft_min_set = true;
    else if (a == "--adaptive") o.spec.adaptive = true;
    else if (a == "--draft-p-min") o.spec.draft_p_min = real(i);
    else if (a == "--no-baseline") o.baseline = false;
    else if (a == "-p" || a == "--prompt") o.prompt = value(i), o.have_prompt = true;
    else if (a == "-f" || a == "--file") o.prompt_file = value(i), o.have_file = true;
    else if (a == "-n" || a == "--n-predict") o.n_predict = integer(i);
    else if (a == "-c" || a == "--ctx-size") o.ctx = integer(i);
    else if (a == "-t" || a == "--threads") o.threads = integer(i);
    else if (a == "-s" || a == "--seed") o.seed = integer(i);
    else if (arx_cli::sampling_flag(args, i, sp, o.breakers_set)) continue;
    else if (a == "--kv") o.kv = value(i);
    else if (a == "--no-bos") o.no_bos = true;
    else if (a == "--ignore-eos") o.ignore_eos = true;
    else throw usage_error{"unexpected argument '" + std::string(a) + "'"};
  }
  if (o.model.empty()) {  // the bundled demo pair (examples/models)
    o.model = arx_cli::demo_model("kjv-target.gguf");
    if (o.draft_model.empty() && !lookup_set && !o.self_skip) {
      o.draft_model = arx_cli::demo_model("kjv-draft.gguf");
      if (!draft_set) o.spec.draft_max = 1;  // the pair's measured best (examples/models)
    }
    o.demo = true;
  }
  const int drafters = int(!o.draft_model.empty()) + int(lookup_set) + int(o.self_skip);
  if (drafters != 1)
    throw usage_error{
        std::string(drafters == 0 ? "no drafter chosen" : "more than one drafter chosen") +
        ": give exactly one of -md FILE, --lookup N, --self-skip LAYERS "
        "(with or without --self-skip-ffn LAYERS)"};
  if (o.tree.branch > 0 && lookup_set)
    throw usage_error{"--tree needs a model drafter (-md or --self-skip), not --lookup"};
  if (o.tree.branch > 0 && o.spec.adaptive)
    throw usage_error{"--adaptive applies to chains of drafts, not to --tree"};
  if (!o.draft_min_set) o.spec.draft_min = std::min(o.spec.draft_min, o.spec.draft_max);
  if (o.spec.draft_min > o.spec.draft_max)
    throw usage_error{"--draft-min (" + std::to_string(o.spec.draft_min) +
                      ") must not exceed --draft (" + std::to_string(o.spec.draft_max) + ")"};
  if (!(o.spec.draft_p_min >= 0.0f && o.spec.draft_p_min <= 1.0f))
    throw usage_error{"--draft-p-min must be in [0, 1]"};
  if (o.have_prompt && o.have_file) throw usage_error{"give the prompt with -p or -f, not both"};
  if (o.n_predict == 0 || o.n_predict < -1)
    throw usage_error{"-n must be positive or -1, got " + std::to_string(o.n_predict)};
  if (o.ctx < 0) throw usage_error{"-c must be >= 0, got " + std::to_string(o.ctx)};
  if (o.threads < 0 || o.threads > 1024)
    throw usage_error{"-t must be in [1, 1024], got " + std::to_string(o.threads)};
  if (o.kv != "f32" && o.kv != "f16")
    throw usage_error{"--kv must be f32 or f16, got '" + o.kv + "'"};
  if (o.seed < -1)
    throw usage_error{"--seed must be >= 0 or -1 (random), got " + std::to_string(o.seed)};
  arx_cli::check_sampling(sp);  // every sampling value, before a model is loaded
  return true;
}

void print_model(const char* role, const arx::llama_weights& w) {
  const auto& c = w.config();
  std::fprintf(stderr, "%s: %s\n", role, w.file().path().c_str());
  std::fprintf(stderr,
               "  arch %s, %lld layers, n_embd %lld, n_head %lld (kv %lld), n_ff %lld, "
               "n_ctx_train %lld, vocab %lld, %.1f MiB\n",
               arx::gguf::escape(c.arch, 64).c_str(), (long long)c.n_layer, (long long)c.n_embd,
               (long long)c.n_head, (long long)c.n_head_kv, (long long)c.n_ff,
               (long long)c.n_ctx_train, (long long)c.n_vocab,
               double(w.file().bytes().size()) / (1024.0 * 1024.0));
}

bool wrote_stdout = false;  // something is on stdout without a newline after it

bool write_out(std::string_view s) {
  if (s.empty()) return true;
  wrote_stdout = true;
  if (std::fwrite(s.data(), 1, s.size(), stdout) != s.size()) return false;
  return std::fflush(stdout) == 0;
}

const char* stop_name(arx::speculative_stop s) {
  switch (s) {
    case arx::speculative_stop::max_tokens: return "max_tokens";
    case arx::speculative_stop::eos: return "eos";
    case arx::speculative_stop::cancelled: return "cancelled";
    case arx::speculative_stop::context_full: return "context_full";
  }
  return "unknown";
}

double rate(std::int64_t n, double seconds) { return seconds > 0 ? double(n) / seconds : 0.0; }

// Everything the drafter-specific part needs from run().
template <class KV>
struct setup {
  const options& o;
  const arx::transformer<KV>& target;
  const arx::tokenizer& tok;
  arx::thread_pool& pool;
  std::int64_t ctx;
  arx::context_limit limit;
  const std::vector<arx::token_id>& prompt;
  const std::string& text;
  const arx::sampling_params& sp;
};

template <class KV, class Drafter>
int decode(const setup<KV>& s, Drafter drafter) {
  const options& o = s.o;
  const auto& sp = s.sp;
  arx::speculative_decoder<KV, arx::sampler_chain, Drafter> dec(
      s.target, arx::make_sampler(sp, s.tok), std::move(drafter), o.spec, sp.seed);

  std::optional<arx::sequence<KV>> seq(s.target.new_sequence(s.ctx, s.limit));
  seq->set_thread_pool(&s.pool);
  std::fprintf(stderr, "context: %lld tokens, KV cache %s\n", (long long)seq->capacity(),
               o.kv.c_str());
  const auto n_prompt = std::int64_t(s.prompt.size());
  if (n_prompt > seq->capacity())
    throw arx::context_error("the prompt has " + std::to_string(n_prompt) +
                             " tokens, more than the context of " +
                             std::to_string(seq->capacity()) + " (-c)");
  const std::int64_t max_tokens = o.n_predict < 0 ? seq->capacity() : o.n_predict;
  const arx::token_id eos = s.tok.vocab().eos();

  // The prompt goes out with the first generated text (or after the run), so nothing is printed
  // when the prompt cannot be evaluated.
  bool output_ok = true, prompt_shown = false;
  auto show = [&](std::string_view t) {
    if (!std::exchange(prompt_shown, true)) output_ok = write_out(s.text);
    output_ok = output_ok && write_out(t);
    return output_ok;
  };
  arx::detokenizer detok(s.tok);
  for (const arx::token_id id : s.prompt) (void)detok.push(id);
  auto on_token = [&](arx::token_id id) {
    if (!o.ignore_eos && id == eos) return true;  // ends the run; EOS has no text
    return show(detok.push(id));  // false (stdout closed): stop
  };
  const auto res = dec.generate(*seq, s.prompt, max_tokens, on_token, o.ignore_eos ? -1 : eos);
  if (res.reason != arx::speculative_stop::cancelled) (void)show(detok.flush());
  if (std::exchange(wrote_stdout, false)) std::fputc('\n', stderr);
  seq.reset();  // its KV cache is not needed for the plain run

  const auto& st = dec.stats();
  const auto n = std::int64_t(res.tokens.size());
  const double gen_s = res.seconds - st.prefill_seconds;
  const double spec_rate = rate(n, gen_s);
  std::fprintf(stderr, "prompt: %lld tokens, %.2f ms (prefill of all but the last)\n",
               (long long)n_prompt, st.prefill_seconds * 1e3);
  std::fprintf(stderr, "generation: %lld tokens, %.2f ms, %.2f tokens/s\n", (long long)n,
               gen_s * 1e3, spec_rate);
  std::fprintf(stderr, "stop: %s\n", stop_name(res.reason));
  std::fprintf(stderr, "target calls: %lld; mean tokens per target call: %.2f\n",
               (long long)st.target_calls, st.tokens_per_call());
  std::fprintf(stderr, "drafted %lld, accepted %lld: acceptance rate %.1f%%\n",
               (long long)st.drafted, (long long)st.accepted, 100.0 * st.acceptance_rate());
  if (o.spec.adaptive)
    std::fprintf(stderr, "adaptive draft length: %d at the end (range [%d, %d])\n", dec.gamma(),
                 o.spec.draft_min, o.spec.draft_max);
  const double other = std::max(0.0, gen_s - st.draft_seconds - st.verify_seconds);
  const auto pct = [&](double x) { return gen_s > 0 ? 100.0 * x / gen_s : 0.0; };
  std::fprintf(stderr,
               "time: draft %.2f ms (%.1f%%), verify %.2f ms (%.1f%%), other %.2f ms (%.1f%%)\n",
               st.draft_seconds * 1e3, pct(st.draft_seconds), st.verify_seconds * 1e3,
               pct(st.verify_seconds), other * 1e3, pct(other));

  if (o.baseline && n > 0 && output_ok) {  // (not after stdout failed: nobody reads on)
    // Plain decoding: same target, sampler settings, seed and prompt, as many tokens.
    auto plain_seq = s.target.new_sequence(s.ctx, s.limit);
    plain_seq.set_thread_pool(&s.pool);
    arx::sampling_selector<arx::sampler_chain> select(arx::make_sampler(sp, s.tok), sp.seed,
                                                      s.prompt);
    arx::generate_options g;
    g.max_tokens = n;
    g.stop_at_eos = false;
    const auto r = arx::generate(s.target, plain_seq, s.tok, s.prompt, select,
                                 [](std::string_view) {}, g);
    const auto pn = std::int64_t(r.tokens.size());
    const double plain_rate = rate(pn, r.generate_seconds);
    std::fprintf(stderr, "plain decoding: %lld tokens, %.2f ms, %.2f tokens/s\n", (long long)pn,
                 r.generate_seconds * 1e3, plain_rate);
    if (plain_rate > 0 && spec_rate > 0)
      std::fprintf(
          stderr,
          "speed-up over plain decoding: %.2fx (speculative %.2f tok/s, plain %.2f tok/s)\n",
          spec_rate / plain_rate, spec_rate, plain_rate);
    else
      std::fprintf(stderr,
                   "speed-up over plain decoding: not measurable (speculative %.2f tok/s, plain "
                   "%.2f tok/s)\n",
                   spec_rate, plain_rate);
    if (sp.temp <= 0.0f)
      std::fprintf(stderr, "plain greedy output identical: %s\n",
                   r.tokens == res.tokens ? "yes" : "no");
  }
  if (!output_ok) {
    std::fprintf(stderr, "error: writing to stdout failed\n");
    return 1;
  }
  return 0;
}

template <class KV>
int run(const options& o) {
  if (o.demo)
    std::fprintf(stderr, "no -m given: the bundled demo models (examples/models/README.md)\n");
  const auto target = arx::transformer<KV>::load(o.model);
  const auto tok = arx::tokenizer::from_gguf(target.weights().file());
  print_model("target", target.weights());
  std::fprintf(stderr, "  tokenizer: %zu tokens, bos %d, eos %d, add_bos %s\n",
               tok.vocab().size(), tok.vocab().bos(), tok.vocab().eos(),
               tok.vocab().add_bos() ? "yes" : "no");
  std::fprintf(stderr, "arx built for %s\n", arx::simd_target);
  arx::thread_pool pool(o.threads == 0 ? arx::thread_pool::physical_cores() : int(o.threads));
  std::fprintf(stderr, "threads: %d (target and draft)\n", pool.size());

  const auto& cfg = target.config();
  const auto [ctx, limit] = arx_cli::context_size(o.ctx, cfg.n_ctx_train);

  const std::string text = o.have_file ? arx_cli::read_file(o.prompt_file) : o.prompt;
  const auto prompt = tok.encode(text, tok.vocab().add_bos() && !o.no_bos);
  if (prompt.empty())
    throw arx::invalid_argument("the prompt is empty (no text and no BOS token)");

  // Sampling: the seed goes to stderr first, so even a run that fails later can be repeated.
  arx::sampling_params sp = o.sampling;
  sp.seed = arx_cli::choose_seed(o.seed);
  std::fprintf(stderr, "sampler: %s\n", arx::make_sampler(sp, tok).describe().c_str());

  const auto& sparams = o.spec;
  std::string draft_len = "draft length " + std::to_string(sparams.draft_max);
  if (sparams.adaptive)
    draft_len += " (adaptive, at least " + std::to_string(sparams.draft_min) + ")";
  if (sparams.draft_p_min > 0) draft_len += ", draft p-min " + std::to_string(sparams.draft_p_min);

  const setup<KV> s{o, target, tok, pool, ctx, limit, prompt, text, sp};
  if (!o.draft_model.empty()) {
    auto draft = arx::transformer<KV>::load(o.draft_model);
    print_model("draft", draft.weights());
    const std::int64_t cap = std::min(ctx, draft.config().n_ctx_train);
    if (o.tree.branch > 0) {
      std::fprintf(stderr, "drafter: draft model, context %lld, trees of up to %d nodes (%d per "
                   "level, depth <= %d)\n", (long long)cap, sparams.draft_max, o.tree.branch,
                   o.tree.max_depth);
      return decode(s, arx::tree_drafter<KV>(std::move(draft), o.tree, cap, &pool));
    }
    std::fprintf(stderr, "drafter: draft model, context %lld, %s\n", (long long)cap,
                 draft_len.c_str());
    return decode(s, arx::model_drafter<KV>(std::move(draft), cap, &pool));
  }
  if (o.lookup > 0) {
    std::fprintf(stderr, "drafter: prompt lookup, n-grams of %d down to 1 tokens, %s\n", o.lookup,
                 draft_len.c_str());
    return decode(s, arx::lookup_drafter(o.lookup, 1));
  }
  std::string what;
  if (!o.skip_layers.empty()) what = "layers " + join_layers(o.skip_layers);
  if (!o.skip_ffn.empty())
    what +=
        (what.empty() ? "" : " and ") + std::string("the MLP of layers ") + join_layers(o.skip_ffn);
  const std::int64_t cap = std::min(ctx, cfg.n_ctx_train);
  if (o.tree.branch > 0) {
    std::fprintf(stderr, "drafter: self-speculation trees, the target without %s (of %lld "
                 "layers), up to %d nodes (%d per level, depth <= %d)\n", what.c_str(),
                 (long long)cfg.n_layer, sparams.draft_max, o.tree.branch, o.tree.max_depth);
    return decode(s, arx::tree_drafter<KV>(target, o.tree, cap, &pool, o.skip_layers, o.skip_ffn));
  }
  std::fprintf(stderr, "drafter: self-speculation, the target without %s (of %lld layers), %s\n",
               what.c_str(), (long long)cfg.n_layer, draft_len.c_str());
  return decode(s,
                arx::model_drafter<KV>::self_skip(target, o.skip_layers, o.skip_ffn, cap, &pool));
}

}  // namespace

int main(int argc, char** argv) {
#ifdef SIGPIPE
  std::signal(SIGPIPE, SIG_IGN);  // a closed pipe becomes a write error, not a silent death
#endif
  return arx_cli::main<options>(
      "speculative", argc, argv, parse, usage,
      [](const options& o) { return o.kv == "f16" ? run<arx::f16>(o) : run<float>(o); },
      [] {
        std::fflush(stdout);
        if (wrote_stdout) std::fputc('\n', stderr);
      });
}
