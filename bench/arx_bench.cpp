// arx-bench: end-to-end prompt-processing and generation speed, modelled on llama.cpp's llama-bench.
//
//   arx-bench -m model.gguf                                  # pp512 and tg128, all threads, 5 reps
//   arx-bench -m a.gguf -m b.gguf -t 1,2 -p 64 -n 32 -r 3 -o md
//   arx-bench -m a.gguf -p 0 -n 128 -o json                  # generation only
//
// For every model × thread count × prompt length / generation length, like llama-bench:
//   * ppP: one batched forward() of P tokens on an empty sequence (logits of the last row only, as
//     llama-bench's decode of the prompt), timed; tokens/s = P / time.
//   * tgN: N single-token forward()s on an empty sequence, each asking for the last row's logits;
//     the first token is BOS (if the model adds one), the others random ids, as in llama-bench
//     (random rather than the argmax of the logits, so the rate is the model's, not the sampler's;
//     the ids are drawn before the timer starts). tokens/s = N / time.
//   * verifyN (-v N): the cost of checking N drafted tokens (speculative decoding, contrastive
//     search): after 64 context tokens, 16 forward()s of the same N tokens at position 64 (logits
//     of every row; each call replaces the previous call's rows), then 16 single-token forward()s
//     at position 64; tokens/s = 16 N / time of the N-token calls, and the extra column "call /
//     1-token call" is the ratio of the two calls' mean times (ideal: 1, the weights are read once
//     per call either way).
//   Each test starts with one untimed warm-up (the whole prompt for pp, 4 tokens for tg), which
//   also faults in the mmapped weights and grows the sequence's scratch buffers; then it is
//   repeated -r times, the sequence emptied (clear()) before each repetition. Random ids come from
//   arx::rng with a fixed seed, so every run evaluates the same tokens.
//   Reported: mean ± sample standard deviation of the per-repetition tokens/s (llama-bench's
//   avg_ts / stddev_ts).
//
// For tg also the achieved weight bandwidth: GB/s = (bytes of the weights one decode step reads) ×
// tokens/s, the bytes being every matrix the forward pass multiplies by — per layer attn_q/k/v/
// output and ffn_gate/up/down, plus output.weight (token_embd when the output is tied). token_embd
// is otherwise left out (one row per token is read), and so are the norm vectors and the KV cache
// (so it is a lower bound on the traffic: over tg128 the f32 cache's average read per token is
// ~0.5% of the weights for TinyLlama-1.1B (GQA), ~2% for a 110M model without GQA).
// "% of bw" relates it to the streaming read bandwidth measured in this process with the same
// number of threads (bench/kernels/bandwidth.hpp's read loops, the 1 GiB buffer split over the
// same arx::thread_pool; best of 4 prefetch variants × 4 passes), so it reads as "how close decode
// is to the memory-bound limit".
//
// stdout: the results only (md: a table like llama-bench's followed by one line with the SIMD
// target, the measured bandwidths and the load average at start and end; csv: a header and one row
// per test; json: an array of records with llama-bench's field names plus arx's: simd_target,
// weight_bytes_per_token, gbps, bw_gbps, bw_pct — null for pp). stderr: progress. Exit status:
// 0 success, 1 error from arx (unreadable or unsupported file, ...), 2 bad arguments.
#include "cli.hpp"

#include <arx/core/error.hpp>
#include <arx/core/half.hpp>
#include <arx/core/thread_pool.hpp>
#include <arx/io/gguf.hpp>
#include <arx/model/transformer.hpp>
#include <arx/sampling/rng.hpp>

#include "kernels/bandwidth.hpp"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <exception>
#include <map>
#include <memory>
#include <numeric>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace {

void usage(std::FILE* out) {
  std::fputs(
      "usage: arx-bench -m MODEL.gguf [-m MODEL2.gguf ...] [options]\n"
      "Prompt processing (ppP: one batched forward of P tokens) and generation (tgN: N\n"
      "single-token forwards) speed for every model x thread count, like llama-bench.\n"
      "Lists are comma-separated; -m and -t may also be repeated.\n"
      "  -m, --model FILE[,FILE]   GGUF model(s) (llama, qwen2, phi3, gemma, gpt2)\n"
      "  -t, --threads N[,N]       thread counts (default: physical cores)\n"
      "  -p, --n-prompt N[,N]      prompt lengths (default 512; 0 skips the pp test)\n"
      "  -n, --n-gen N[,N]         generation lengths (default 128; 0 skips the tg test)\n"
      "  -v, --verify N[,N]        verify tests (verifyN): 16 forwards of N tokens, all rows'\n"
      "                            logits, at position 64, against 16 1-token forwards there\n"
      "                            (default: none); reports the time ratio of the two calls\n"
      "  -r, --repetitions N       repetitions of every test (default 5)\n"
      "      --kv f32|f16          KV cache element type (default f32)\n"
      "  -o, --output md|csv|json  output format on stdout (default md)\n"
      "  -h, --help                show this text\n"
      "Token ids are BOS then random ids (fixed seed), as llama-bench's. tg rows also give\n"
      "the weight bandwidth achieved (matrix bytes read per token x tokens/s) and its share\n"
      "of the streaming read bandwidth measured in-process with the same thread count.\n"
      "Exit status: 0 success, 1 error (message on stderr), 2 bad arguments.\n",
      out);
}

using arx_cli::usage_error;

struct options {
  std::vector<std::string> models;
  std::vector<int> threads;
  std::vector<int> n_prompt{512};
  std::vector<int> n_gen{128};
  std::vector<int> n_verify;  // verify tests: batches of N drafted tokens (none by default)
  int reps = 5;
  std::string kv = "f32";
  std::string output = "md";
};

std::vector<std::string> split(std::string_view s) {
  std::vector<std::string> out;
  for (;;) {
    const auto c = s.find(',');
    out.emplace_back(s.substr(0, c));
    if (c == std::string_view::npos) return out;
    s.remove_prefix(c + 1);
  }
}

int parse_int(std::string_view opt, std::string_view s, int lo, int hi) {
  int v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty())
    throw usage_error{"option " + std::string(opt) + ": '" + std::string(s) + "' is not an integer"};
  if (v < lo || v > hi)
    throw usage_error{"option " + std::string(opt) + ": " + std::to_string(v) + " is outside [" +
                      std::to_string(lo) + ", " + std::to_string(hi) + "]"};
  return v;
}

// Returns false for --help.
bool parse(int argc, char** argv, options& o) {
  auto value = [&](int& i) -> std::string_view {
    if (i + 1 >= argc) throw usage_error{std::string("option ") + argv[i] + " needs a value"};
    return argv[++i];
  };
  auto ints = [&](int& i, int lo, int hi) {
    const std::string opt = argv[i];
    std::vector<int> v;
    for (const auto& s : split(value(i))) v.push_back(parse_int(opt, s, lo, hi));
    return v;
  };
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "-h" || a == "--help") return false;
    if (a == "-m" || a == "--model") {
      for (auto& s : split(value(i))) {
        if (s.empty()) throw usage_error{"option -m: empty file name"};
        o.models.push_back(std::move(s));
      }
    } else if (a == "-t" || a == "--threads") {
      for (int t : ints(i, 1, 1024)) o.threads.push_back(t);
    } else if (a == "-p" || a == "--n-prompt") {
      o.n_prompt = ints(i, 0, 1 << 20);
    } else if (a == "-n" || a == "--n-gen") {
      o.n_gen = ints(i, 0, 1 << 20);
    } else if (a == "-v" || a == "--verify") {
      o.n_verify = ints(i, 0, 64);
    } else if (a == "-r" || a == "--repetitions") {
      o.reps = parse_int(a, value(i), 1, 1 << 20);
    } else if (a == "--kv") {
      o.kv = value(i);
      if (o.kv != "f32" && o.kv != "f16") throw usage_error{"--kv must be f32 or f16, got '" + o.kv + "'"};
    } else if (a == "-o" || a == "--output") {
      o.output = value(i);
      if (o.output != "md" && o.output != "csv" && o.output != "json")
        throw usage_error{"-o must be md, csv or json, got '" + o.output + "'"};
    } else {
      throw usage_error{"unexpected argument '" + std::string(a) + "'"};
    }
  }
  if (o.models.empty()) throw usage_error{"no model given (-m FILE)"};
  if (o.threads.empty()) o.threads.push_back(arx::thread_pool::physical_cores());
  const auto nonzero = [](const std::vector<int>& v) {
    return std::any_of(v.begin(), v.end(), [](int x) { return x > 0; });
  };
  if (!nonzero(o.n_prompt) && !nonzero(o.n_gen) && !nonzero(o.n_verify))
    throw usage_error{"nothing to run: every -p, -n and -v is 0"};
  return true;
}

// ---- statistics (llama-bench's: mean, sample standard deviation) ------------------------------

double mean(const std::vector<double>& v) {
  return v.empty() ? 0.0 : std::accumulate(v.begin(), v.end(), 0.0) / double(v.size());
}
double stdev(const std::vector<double>& v) {
  if (v.size() <= 1) return 0.0;
  const double m = mean(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / double(v.size() - 1));
}

// ---- streaming read bandwidth with n threads --------------------------------------------------

/// GB/s of reading bandwidth_buffer() once, split over the pool's threads in contiguous 256-byte
/// aligned parts (the best over the prefetch variants and passes of bandwidth.hpp). With a pool
/// of 1 this is arx_bench::machine_read_gbps()'s measurement.
double pool_read_gbps(arx::thread_pool& pool, int passes = 4) {
  const auto& buf = arx_bench::bandwidth_buffer();
  const std::int64_t chunks = std::int64_t(buf.size() / 256);
  std::vector<std::uint64_t> sums(std::size_t(pool.size()));
  volatile std::uint64_t sink = 0;
  double best = 0;
  for (std::size_t ahead : arx_bench::read_prefetch_distances)
    for (int pass = 0; pass < passes; ++pass) {
      const auto t0 = std::chrono::steady_clock::now();
      pool.run([&](int t, int n) {
        const auto [b, e] = arx::thread_pool::split(chunks, t, n);
        sums[std::size_t(t)] =
            arx_bench::read_sum(buf.data() + b * 256, std::size_t(e - b) * 256, ahead);
      });
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      for (auto x : sums) sink = sink + x;
      best = std::max(best, double(buf.size()) / s / 1e9);
    }
  return best;
}

// ---- model facts ------------------------------------------------------------------------------

struct model_info {
  std::string filename;     // as given
  std::string type;         // llama-bench's model_type style: "llama 1.1B Q4_0"
  std::uint64_t size = 0;   // bytes of all tensors (llama_model_size)
  std::uint64_t n_params = 0;  // elements of all tensors (llama_model_n_params)
  std::uint64_t tg_bytes = 0;  // weight bytes one decode step reads (see the file comment)
  std::int64_t n_vocab = 0, n_ctx_train = 0;
  arx::token_id bos = -1;   // -1: the model adds no BOS
};

// An integer metadata value of any integer type, or -1 when absent or not an integer (these keys
// only label the output, so a missing or odd one is not an error).
std::int64_t meta_int(const arx::gguf::file& f, std::string_view key) {
  if (const auto* v = f.find(key)) {
    if (auto x = v->as<std::int64_t>()) return *x;
    if (auto x = v->as<std::uint64_t>()) return std::int64_t(*x);
  }
  return -1;
}

// llama.cpp's llama_ftype names for general.file_type.
std::string ftype_name(const arx::gguf::file& f, const arx::llama_weights& w) {
  {
    switch (meta_int(f, "general.file_type")) {
      case 0: return "all F32";
      case 1: return "F16";
      case 2: return "Q4_0";
      case 3: return "Q4_1";
      case 7: return "Q8_0";
      case 8: return "Q5_0";
      case 9: return "Q5_1";
      case 10: return "Q2_K - Medium";
      case 11: return "Q3_K - Small";
      case 12: return "Q3_K - Medium";
      case 13: return "Q3_K - Large";
      case 14: return "Q4_K - Small";
      case 15: return "Q4_K - Medium";
      case 16: return "Q5_K - Small";
      case 17: return "Q5_K - Medium";
      case 18: return "Q6_K";
      case 32: return "BF16";
      default: break;
    }
  }
  return arx::type_name(w.layer(0).w_down.type());  // the type of the bulk of the weights
}

std::string size_label(const arx::gguf::file& f, std::uint64_t n_params) {
  if (const auto* v = f.find("general.size_label"))
    if (auto s = v->as<std::string>(); s && !s->empty()) return *s;
  char buf[32];
  if (n_params < 1000000ULL)
    std::snprintf(buf, sizeof buf, "%.0fK", double(n_params) / 1e3);
  else if (n_params < 1000000000ULL)
    std::snprintf(buf, sizeof buf, "%.0fM", double(n_params) / 1e6);
  else
    std::snprintf(buf, sizeof buf, "%.1fB", double(n_params) / 1e9);
  return buf;
}

model_info describe(const std::string& path, const arx::llama_weights& w) {
  const auto& f = w.file();
  const auto& c = w.config();
  model_info m;
  m.filename = path;
  for (const auto& t : f.tensors()) {
    m.size += t.nbytes;
    m.n_params += std::uint64_t(t.shape.numel());
  }
  std::uint64_t b = w.output().nbytes();
  for (std::int64_t l = 0; l < c.n_layer; ++l) {
    const auto& L = w.layer(l);
    for (const auto* t : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down})
      if (t->rank() == 2) b += t->nbytes();  // (no w_gate without a gated MLP)
  }
  m.tg_bytes = b;
  m.type = c.arch + " " + size_label(f, m.n_params) + " " + ftype_name(f, w);
  m.n_vocab = c.n_vocab;
  m.n_ctx_train = c.n_ctx_train;
  bool add_bos = true;  // llama.cpp's default for SentencePiece vocabularies
  if (const auto* v = f.find("tokenizer.ggml.add_bos_token"))
    if (auto x = v->as<bool>()) add_bos = *x;
  const std::int64_t bos = meta_int(f, "tokenizer.ggml.bos_token_id");
  if (add_bos && bos >= 0 && bos < c.n_vocab) m.bos = arx::token_id(bos);
  return m;
}

// ---- one test ---------------------------------------------------------------------------------

/// Verify tests: calls per repetition, and the context already in the cache when they run.
constexpr int verify_calls = 16;
constexpr int verify_depth = 64;

struct result {
  const model_info* model = nullptr;
  int threads = 0;
  int n_prompt = 0, n_gen = 0;
  int n_verify = 0;               // verify test: tokens per call (n_prompt, n_gen are 0)
  std::vector<double> step_ns;    // verify test: per repetition, the 1-token calls
  std::string kv;
  std::string time;               // RFC 3339, when the test started
  std::vector<double> ns;         // per repetition
  double bw_gbps = 0;             // streaming read bandwidth with `threads` threads
  int tokens() const { return n_prompt + n_gen + n_verify * verify_calls; }
  std::vector<double> ts() const {
    std::vector<double> v;
    for (double x : ns) v.push_back(1e9 * tokens() / x);
    return v;
  }
  double avg_ts() const { return mean(ts()); }
  double sd_ts() const { return stdev(ts()); }
  bool is_tg() const { return n_gen > 0; }
  bool is_verify() const { return n_verify > 0; }
  /// Forward calls per second: each reads the weights once.
  double calls_per_s() const { return is_verify() ? avg_ts() / n_verify : avg_ts(); }
  bool has_bw() const { return is_tg() || is_verify(); }
  double gbps() const { return has_bw() ? double(model->tg_bytes) * calls_per_s() / 1e9 : 0.0; }
  double bw_pct() const { return has_bw() && bw_gbps > 0 ? 100.0 * gbps() / bw_gbps : 0.0; }
  /// Verify test: time of one N-token call over one 1-token call at the same position.
  double step_ratio() const { return is_verify() ? mean(ns) / mean(step_ns) : 0.0; }
};

std::vector<arx::token_id> random_tokens(const model_info& m, int n, std::uint64_t seed) {
  arx::rng g(seed);
  std::vector<arx::token_id> t(static_cast<std::size_t>(n));
  for (auto& x : t) x = arx::token_id(g.next() % std::uint64_t(m.n_vocab));
  if (n > 0 && m.bos >= 0) t[0] = m.bos;
  return t;
}

// "1.23 0.98 0.75" (1, 5, 15 minutes), or "?" where unavailable: the machine's other load
// matters for every number here.
std::string load_average() {
  double l[3];
  if (getloadavg(l, 3) != 3) return "?";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f %.2f %.2f", l[0], l[1], l[2]);
  return buf;
}

std::string now_rfc3339() {
  char buf[64];
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%FT%TZ", &tm);
  return buf;
}

/// Verify test: after verify_depth context tokens, verify_calls forwards of N tokens at that
/// position (every row's logits, as a speculative verifier needs; each call replaces the last
/// one's N cache rows) against verify_calls 1-token forwards at the same position.
template <class KV>
void run_verify(const arx::transformer<KV>& model, arx::thread_pool& pool, result& r, int reps,
                int index, int count) {
  using clock = std::chrono::steady_clock;
  const model_info& m = *r.model;
  const int n = r.n_verify;
  auto seq = model.new_sequence(verify_depth + n, arx::context_limit::unlimited);
  seq.set_thread_pool(&pool);
  const auto ids = random_tokens(m, verify_depth + n, 0x5eed1000u + std::uint64_t(n));
  const std::span<const arx::token_id> all(ids);
  const auto context = all.first(verify_depth), batch = all.subspan(verify_depth);
  const auto calls = [&](std::span<const arx::token_id> b, arx::rows rows) {
    const auto t0 = clock::now();
    for (int c = 0; c < verify_calls; ++c)
      (void)model.forward(seq, b, verify_depth, arx::forward_request{rows});
    return std::chrono::duration<double, std::nano>(clock::now() - t0).count();
  };
  std::fprintf(stderr, "arx-bench: test %d/%d: %s, %d thread%s, verify%d: warm-up\n", index,
               count, m.filename.c_str(), r.threads, r.threads == 1 ? "" : "s", n);
  r.time = now_rfc3339();
  (void)model.forward(seq, context);
  (void)calls(batch, arx::rows::all);
  (void)calls(batch.first(1), arx::rows::last);
  for (int rep = 0; rep < reps; ++rep) {
    std::fprintf(stderr, "arx-bench: test %d/%d: verify%d run %d/%d\n", index, count, n,
                 rep + 1, reps);
    r.ns.push_back(calls(batch, arx::rows::all));
    r.step_ns.push_back(calls(batch.first(1), arx::rows::last));
  }
}

template <class KV>
void run_test(const arx::transformer<KV>& model, arx::thread_pool& pool, result& r, int reps,
              int index, int count) {
  using clock = std::chrono::steady_clock;
  const model_info& m = *r.model;
  if (r.is_verify()) return run_verify(model, pool, r, reps, index, count);
  const int n = r.is_tg() ? r.n_gen : r.n_prompt;
  const int warm = r.is_tg() ? std::min(n, 4) : n;
  const std::int64_t cap = std::max(n, warm);
  if (cap > m.n_ctx_train)
    std::fprintf(stderr, "arx-bench: note: %lld positions exceed the training context %lld (timed "
                 "anyway)\n", (long long)cap, (long long)m.n_ctx_train);
  auto seq = model.new_sequence(cap, cap > m.n_ctx_train ? arx::context_limit::unlimited
                                                         : arx::context_limit::training);
  seq.set_thread_pool(&pool);
  const auto ids = random_tokens(m, n, 0x5eed0000u + std::uint64_t(n));
  const std::span<const arx::token_id> all(ids);
  const char* what = r.is_tg() ? "tg" : "pp";
  const auto step = [&](std::span<const arx::token_id> batch) {
    if (r.is_tg())
      for (std::size_t i = 0; i < batch.size(); ++i) (void)model.forward(seq, batch.subspan(i, 1));
    else
      (void)model.forward(seq, batch);
  };
  std::fprintf(stderr, "arx-bench: test %d/%d: %s, %d thread%s, %s%d: warm-up\n", index, count,
               m.filename.c_str(), r.threads, r.threads == 1 ? "" : "s", what, n);
  r.time = now_rfc3339();
  step(all.first(std::size_t(warm)));
  for (int rep = 0; rep < reps; ++rep) {
    seq.clear();
    std::fprintf(stderr, "arx-bench: test %d/%d: %s%d run %d/%d\n", index, count, what, n, rep + 1,
                 reps);
    const auto t0 = clock::now();
    step(all);
    r.ns.push_back(std::chrono::duration<double, std::nano>(clock::now() - t0).count());
  }
}

// ---- output -----------------------------------------------------------------------------------

// s += sep + item, without the separator before the first item.
void append(std::string& s, std::string_view sep, const std::string& item) {
  if (!s.empty()) s += sep;
  s += item;
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string human_size(std::uint64_t b) {
  return b < (1ULL << 30) ? fmt("%.2f MiB", double(b) / 1024.0 / 1024.0)
                          : fmt("%.2f GiB", double(b) / 1024.0 / 1024.0 / 1024.0);
}
std::string human_params(std::uint64_t n) {
  return n < 1000000000ULL ? fmt("%.2f M", double(n) / 1e6) : fmt("%.2f B", double(n) / 1e9);
}
std::string test_name(const result& r) {
  if (r.is_verify()) return "verify" + std::to_string(r.n_verify);
  return r.is_tg() ? "tg" + std::to_string(r.n_gen) : "pp" + std::to_string(r.n_prompt);
}
std::string basename(const std::string& p) {
  const auto s = p.find_last_of('/');
  return s == std::string::npos ? p : p.substr(s + 1);
}

// Display width of a UTF-8 string (code points; the table has no wide characters).
int width(const std::string& s) {
  int w = 0;
  for (unsigned char c : s) w += (c & 0xC0) != 0x80;
  return w;
}

void print_markdown(const std::vector<result>& rs, const options& o,
                    const std::map<int, double>& bw, const std::string& load_start,
                    const std::string& load_end) {
  const bool show_kv = o.kv != "f32";
  const bool show_step = std::any_of(rs.begin(), rs.end(), [](const result& r) {
    return r.is_verify();
  });
  std::vector<std::string> head{"model", "size", "params", "type", "threads"};
  if (show_kv) head.push_back("kv");
  for (const char* h : {"test", "t/s", "GB/s", "% of bw"}) head.emplace_back(h);
  if (show_step) head.emplace_back("call / 1-token call");
  std::vector<bool> left{true, false, false, true, false};
  if (show_kv) left.push_back(true);
  for (bool b : {true, false, false, false}) left.push_back(b);
  if (show_step) left.push_back(false);
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : rs) {
    std::vector<std::string> row{basename(r.model->filename), human_size(r.model->size),
                                 human_params(r.model->n_params), r.model->type,
                                 std::to_string(r.threads)};
    if (show_kv) row.push_back(r.kv);
    row.push_back(test_name(r));
    row.push_back(fmt("%.2f", r.avg_ts()) + " ± " + fmt("%.2f", r.sd_ts()));
    row.push_back(r.has_bw() ? fmt("%.2f", r.gbps()) : "");
    row.push_back(r.has_bw() && r.bw_gbps > 0 ? fmt("%.1f", r.bw_pct()) : "");
    if (show_step) row.push_back(r.is_verify() ? fmt("%.3f", r.step_ratio()) : "");
    rows.push_back(std::move(row));
  }
  std::vector<int> w(head.size());
  for (std::size_t i = 0; i < head.size(); ++i) {
    w[i] = std::max(width(head[i]), 6);
    for (const auto& row : rows) w[i] = std::max(w[i], width(row[i]));
  }
  const auto line = [&](const std::vector<std::string>& cells) {
    std::string s = "|";
    for (std::size_t i = 0; i < cells.size(); ++i) {
      const std::string pad(std::size_t(w[i] - width(cells[i])), ' ');
      s += ' ';  // appended piecewise: "lit" + string&& trips GCC 12's -Wrestrict (bug 105651)
      s += left[i] ? cells[i] + pad : pad + cells[i];
      s += " |";
    }
    std::printf("%s\n", s.c_str());
  };
  line(head);
  std::string sep = "|";
  for (std::size_t i = 0; i < head.size(); ++i)
    sep += " " + std::string(std::size_t(w[i] - 1), '-') + (left[i] ? "-" : ":") + " |";
  std::printf("%s\n", sep.c_str());
  for (const auto& row : rows) line(row);
  std::string bws;
  for (const auto& [t, g] : bw)
    append(bws, ", ", std::to_string(t) + (t == 1 ? " thread " : " threads ") + fmt("%.1f", g) +
                          " GB/s");
  std::printf("\narx built for %s; streaming read bandwidth (in-process): %s; load average %s "
              "at start, %s at end\n",
              arx::simd_target, bws.c_str(), load_start.c_str(), load_end.c_str());
}

// Record fields: llama-bench's names where they exist, then arx's.
struct field {
  std::string name;
  std::string value;
  enum kind { str, num, boolean } k;
};

std::vector<field> fields(const result& r) {
  const auto& m = *r.model;
  const auto u = [](auto v) { return std::to_string(v); };
  const auto f6 = [](double v) { return fmt("%.6f", v); };
  const double avg_ns = mean(r.ns), sd_ns = stdev(r.ns);
  return {
      {"backends", "CPU", field::str},
      {"model_filename", m.filename, field::str},
      {"model_type", m.type, field::str},
      {"model_size", u(m.size), field::num},
      {"model_n_params", u(m.n_params), field::num},
      {"n_threads", u(r.threads), field::num},
      {"type_k", r.kv, field::str},
      {"type_v", r.kv, field::str},
      {"use_mmap", "1", field::boolean},
      {"n_prompt", u(r.n_prompt), field::num},
      {"n_gen", u(r.n_gen), field::num},
      {"n_verify", u(r.n_verify), field::num},
      {"test_time", r.time, field::str},
      {"avg_ns", u(std::uint64_t(std::llround(avg_ns))), field::num},
      {"stddev_ns", u(std::uint64_t(std::llround(sd_ns))), field::num},
      {"avg_ts", f6(r.avg_ts()), field::num},
      {"stddev_ts", f6(r.sd_ts()), field::num},
      {"simd_target", arx::simd_target, field::str},
      {"weight_bytes_per_token", r.has_bw() ? u(m.tg_bytes) : "", field::num},
      {"gbps", r.has_bw() ? f6(r.gbps()) : "", field::num},
      {"bw_gbps", f6(r.bw_gbps), field::num},
      {"bw_pct", r.has_bw() ? f6(r.bw_pct()) : "", field::num},
      {"verify_step_ratio", r.is_verify() ? f6(r.step_ratio()) : "", field::num},
  };
}

std::string csv_escape(const std::string& s) {
  std::string e = "\"";
  for (char c : s) {
    if (c == '"') e += '"';
    e += c;
  }
  return e + "\"";
}

std::string json_escape(const std::string& s) {
  std::string e;
  for (unsigned char c : s) {
    if (c == '"') e += "\\\"";
    else if (c == '\\') e += "\\\\";
    else if (c < 0x20) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", unsigned(c));
      e += b;
    } else {
      e += char(c);
    }
  }
  return e;
}

void print_csv(const std::vector<result>& rs) {
  if (rs.empty()) return;
  std::string h;
  for (const auto& f : fields(rs[0])) append(h, ",", f.name);
  std::printf("%s\n", h.c_str());
  for (const auto& r : rs) {
    std::string l;
    for (const auto& f : fields(r)) append(l, ",", csv_escape(f.value));
    std::printf("%s\n", l.c_str());
  }
}

void print_json(const std::vector<result>& rs) {
  std::printf("[");
  for (std::size_t i = 0; i < rs.size(); ++i) {
    std::printf("%s\n  {\n", i ? "," : "");
    for (const auto& f : fields(rs[i])) {
      std::string v;
      if (f.k == field::str) {
        v = '"';
        v += json_escape(f.value);
        v += '"';
      }
      else if (f.k == field::boolean) v = f.value == "0" ? "false" : "true";
      else v = f.value.empty() ? "null" : f.value;
      std::printf("    \"%s\": %s,\n", f.name.c_str(), v.c_str());
    }
    std::string ns, ts;
    for (double x : rs[i].ns) append(ns, ", ", std::to_string(std::uint64_t(std::llround(x))));
    for (double x : rs[i].ts()) append(ts, ", ", fmt("%.6f", x));
    std::printf("    \"samples_ns\": [ %s ],\n    \"samples_ts\": [ %s ]\n  }", ns.c_str(), ts.c_str());
  }
  std::printf("\n]\n");
}

// ---- driver -----------------------------------------------------------------------------------

template <class KV>
int run(const options& o) {
  const std::string load_start = load_average();
  std::fprintf(stderr,
               "arx-bench: arx built for %s, %d hardware threads on %d physical cores, load "
               "average %s\n",
               arx::simd_target, arx::thread_pool::hardware_threads(),
               arx::thread_pool::physical_cores(), load_start.c_str());
  int count = 0;
  for (int p : o.n_prompt) count += p > 0;
  for (int n : o.n_gen) count += n > 0;
  for (int v : o.n_verify) count += v > 0;
  count *= int(o.models.size() * o.threads.size());

  // Every model is mapped and validated first, so a bad file fails before any measuring.
  std::vector<arx::transformer<KV>> models;
  std::vector<std::unique_ptr<model_info>> infos;
  for (const auto& path : o.models) {
    models.push_back(arx::transformer<KV>::load(path));
    infos.push_back(std::make_unique<model_info>(describe(path, models.back().weights())));
    const model_info& m = *infos.back();
    std::fprintf(stderr, "arx-bench: %s: %s, %s, %s params, %.2f MiB of weights read per token\n",
                 path.c_str(), m.type.c_str(), human_size(m.size).c_str(),
                 human_params(m.n_params).c_str(), double(m.tg_bytes) / 1024.0 / 1024.0);
  }

  // Bandwidth per thread count, measured once, before the benchmarks.
  std::map<int, double> bw;
  std::map<int, std::unique_ptr<arx::thread_pool>> pools;
  for (int t : o.threads) {
    if (pools.count(t)) continue;
    pools[t] = std::make_unique<arx::thread_pool>(t);
    std::fprintf(stderr, "arx-bench: measuring streaming read bandwidth, %d thread%s ...", t,
                 t == 1 ? "" : "s");
    bw[t] = pool_read_gbps(*pools[t]);
    std::fprintf(stderr, " %.1f GB/s\n", bw[t]);
  }

  std::vector<result> results;
  int index = 0;
  for (std::size_t mi = 0; mi < models.size(); ++mi) {
    const auto& model = models[mi];
    const model_info& m = *infos[mi];
    for (int t : o.threads) {
      auto& pool = *pools[t];
      const auto one = [&](int p, int n, int v) {
        result r;
        r.model = &m;
        r.threads = t;
        r.n_prompt = p;
        r.n_gen = n;
        r.n_verify = v;
        r.kv = o.kv;
        r.bw_gbps = bw[t];
        run_test(model, pool, r, o.reps, ++index, count);
        std::fprintf(stderr, "arx-bench: %s, %d thread%s: %.2f ± %.2f t/s", test_name(r).c_str(),
                     t, t == 1 ? "" : "s", r.avg_ts(), r.sd_ts());
        if (v) std::fprintf(stderr, ", %.3f x the time of a 1-token call", r.step_ratio());
        std::fprintf(stderr, "\n");
        results.push_back(std::move(r));
      };
      for (int p : o.n_prompt)
        if (p > 0) one(p, 0, 0);
      for (int n : o.n_gen)
        if (n > 0) one(0, n, 0);
      for (int v : o.n_verify)
        if (v > 0) one(0, 0, v);
    }
  }
  const std::string load_end = load_average();
  std::fprintf(stderr, "arx-bench: load average %s\n", load_end.c_str());
  if (o.output == "md") print_markdown(results, o, bw, load_start, load_end);
  else if (o.output == "csv") print_csv(results);
  else print_json(results);
  std::fflush(stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return arx_cli::main<options>("arx-bench", argc, argv, parse, usage, [](const options& o) {
    return o.kv == "f16" ? run<arx::f16>(o) : run<float>(o);
  });
}
