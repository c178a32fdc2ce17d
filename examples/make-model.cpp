// make-model: writes a llama GGUF with random weights and a synthetic SentencePiece vocabulary, for
// benchmarks and loader tests at real model sizes (no download needed).
//
//   make-model --shape tinyllama-1.1b --type q4_0 -o tinyllama-q4_0.gguf
//
// The file is what llama.cpp's converter writes for a llama model: general.* and llama.* metadata,
// a "llama" (SentencePiece) tokenizer, and the tensors token_embd,
// blk.N.{attn_norm, attn_q, attn_k, attn_v, attn_output, ffn_norm, ffn_gate, ffn_up, ffn_down},
// output_norm and output, in that order.
// Every matrix (token_embd and output included) is stored in --type; the norm vectors are F32.
//
// Values (the scheme of tests/unit/model/tiny_llama.hpp): matrices N(0, 1/sqrt(fan_in)) with
// fan_in the row length (n_embd, or n_ff for ffn_down, n_head*head_dim for attn_output), so each
// projection keeps its input's scale; norm vectors 1 + 0.02 * N(0, 1).
// Generator: each tensor has its own stream, seeded with splitmix64(seed ^ fnv1a64(tensor name));
// splitmix64 -> uniform in (0,1) from its top 53 bits -> Box-Muller in double (cos sample first,
// then the sin sample), rounded to f32, then converted/quantized with arx::ops::quantize_row (the
// same bytes as ggml's reference quantizers). The values are filled row by row, row-major. The
// output therefore depends only on the options (and on libm's log/sin/cos, which could differ in
// the last bit between C libraries); the same options give a byte-identical file.
//
// Vocabulary: <unk> (0, type unknown), <s> (1, control), </s> (2, control), <0x00>..<0xFF>
// (3..258, type byte), then "▁", then pieces over the letters a-z by increasing length, each
// with and without the leading "▁" ("▁a", "a", "▁b", ..., "▁aa", "aa", ...) until the
// vocabulary is full. Every piece longer than one letter is the concatenation of two shorter
// pieces, so SentencePiece merging can reach it. Scores: 0 for the special and byte tokens, -i
// for the i-th piece (shorter pieces first, as in real llama vocabularies).
//
// The writer (arx::gguf::writer) keeps every tensor's encoded bytes in memory until the file is
// written (it has no streaming-tensor API), so peak memory is about the file size plus one
// tensor. Measured for tinyllama-1.1b: f32 4.6 GB, q8_0 1.3 GB, q4_0 0.69 GB (f16/bf16 ~2.3 GB).
//
// Progress and timings go to stderr. Exit status: 0 success, 1 error, 2 bad arguments.
#include "cli.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <arx/core/dtype.hpp>
#include <arx/core/error.hpp>
#include <arx/core/half.hpp>
#include <arx/io/gguf_writer.hpp>
#include <arx/ops/quantize.hpp>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace {

bool progress_pending = false;  // a "\r" progress line is on stderr without its newline

struct shape_spec {
  const char* name;
  const char* description;
  std::int64_t n_embd, n_layer, n_head, n_head_kv, n_ff, n_vocab, n_ctx;
  float rope_base, eps;
};

constexpr shape_spec shapes[] = {
    {"tinyllama-1.1b", "TinyLlama 1.1B", 2048, 22, 32, 4, 5632, 32000, 2048, 10000.0f, 1e-5f},
    {"110m", "llama2.c stories110M", 768, 12, 12, 12, 2048, 32000, 1024, 10000.0f, 1e-5f},
    {"42m", "llama2.c stories42M", 512, 8, 8, 8, 1376, 32000, 1024, 10000.0f, 1e-5f},
    {"15m", "llama2.c stories15M", 288, 6, 6, 6, 768, 32000, 256, 10000.0f, 1e-5f},
    {"tiny", "tiny test model", 64, 2, 4, 2, 128, 512, 256, 10000.0f, 1e-5f},
};

struct type_spec {
  const char* name;
  arx::ggml_type type;
  std::uint32_t file_type;  // llama.cpp's LLAMA_FTYPE_* (general.file_type)
};

constexpr type_spec types[] = {
    {"f32", arx::ggml_type::f32, 0},   {"f16", arx::ggml_type::f16, 1},
    {"bf16", arx::ggml_type::bf16, 32}, {"q8_0", arx::ggml_type::q8_0, 7},
    {"q4_0", arx::ggml_type::q4_0, 2},  {"q4_1", arx::ggml_type::q4_1, 3},
    {"q5_0", arx::ggml_type::q5_0, 8},  {"q5_1", arx::ggml_type::q5_1, 9},
    {"q2_k", arx::ggml_type::q2_k, 10}, {"q3_k", arx::ggml_type::q3_k, 11},
    {"q4_k", arx::ggml_type::q4_k, 14}, {"q5_k", arx::ggml_type::q5_k, 16},
    {"q6_k", arx::ggml_type::q6_k, 18},
};

constexpr std::int64_t n_special = 3, n_byte_tokens = 256;
constexpr std::int64_t min_vocab = n_special + n_byte_tokens + 1;  // ... and "▁"

void usage(std::FILE* out) {
  std::fputs(
      "usage: make-model --shape NAME --type TYPE -o FILE [--seed N] [--vocab N] [--ctx N]\n"
      "Writes a llama GGUF with random weights (deterministic in the options) and a synthetic\n"
      "SentencePiece vocabulary that arx and llama.cpp load.\n"
      "  --shape NAME     tinyllama-1.1b (2048 x 22 layers, 32 heads, 4 KV, ffn 5632)\n"
      "                   110m  (768 x 12 layers, 12 heads, ffn 2048; stories110M)\n"
      "                   42m   (512 x 8 layers, 8 heads, ffn 1376; stories42M)\n"
      "                   15m   (288 x 6 layers, 6 heads, ffn 768; stories15M)\n"
      "                   tiny  (64 x 2 layers, 4 heads, 2 KV, ffn 128, vocab 512)\n"
      "  --type TYPE      f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q2_k, q3_k, q4_k, q5_k\n"
      "                   or q6_k: every matrix, token_embd and output included (norm vectors\n"
      "                   are f32; the K-quants need widths that are multiples of 256)\n"
      "  -o, --output FILE  the GGUF file to write (replaced atomically)\n"
      "  --seed N         random seed (default 1)\n"
      "  --vocab N        vocabulary size (default: the shape's; at least 260)\n"
      "  --ctx N          llama.context_length (default: the shape's)\n"
      "  -h, --help       show this text\n"
      "Exit status: 0 success, 1 error (message on stderr), 2 bad arguments.\n",
      out);
}

using arx_cli::usage_error;

struct options {
  const shape_spec* shape = nullptr;
  const type_spec* type = nullptr;
  std::string output;
  std::uint64_t seed = 1;
  std::int64_t vocab = 0;  // 0: the shape's
  std::int64_t ctx = 0;    // 0: the shape's
};

template <class T>
bool parse_number(std::string_view s, T& v) {
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

// Returns false for --help.
bool parse(int argc, char** argv, options& o) {
  auto value = [&](int& i) -> std::string_view {
    if (i + 1 >= argc) throw usage_error{std::string("option ") + argv[i] + " needs a value"};
    return argv[++i];
  };
  auto positive = [&](int& i) {
    const std::string name = argv[i];
    const std::string_view s = value(i);
    std::int64_t v = 0;
    if (!parse_number(s, v) || v <= 0)
      throw usage_error{"option " + name + ": '" + std::string(s) + "' is not a positive integer"};
    return v;
  };
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "-h" || a == "--help") return false;
    if (a == "--shape") {
      const std::string_view s = value(i);
      o.shape = nullptr;
      for (const auto& sh : shapes)
        if (s == sh.name) o.shape = &sh;
      if (!o.shape) throw usage_error{"unknown shape '" + std::string(s) + "'"};
    } else if (a == "--type") {
      const std::string_view s = value(i);
      o.type = nullptr;
      for (const auto& t : types)
        if (s == t.name) o.type = &t;
      if (!o.type) throw usage_error{"unknown type '" + std::string(s) + "'"};
    } else if (a == "-o" || a == "--output") {
      o.output = value(i);
      if (o.output.empty()) throw usage_error{"-o needs a file name"};
    } else if (a == "--seed") {
      const std::string_view s = value(i);
      if (!parse_number(s, o.seed))
        throw usage_error{"option --seed: '" + std::string(s) + "' is not an unsigned integer"};
    } else if (a == "--vocab") {
      o.vocab = positive(i);
    } else if (a == "--ctx") {
      o.ctx = positive(i);
    } else {
      throw usage_error{"unexpected argument '" + std::string(a) + "'"};
    }
  }
  if (!o.shape) throw usage_error{"no shape given (--shape NAME)"};
  if (!o.type) throw usage_error{"no type given (--type TYPE)"};
  if (o.output.empty()) throw usage_error{"no output file given (-o FILE)"};
  if (o.vocab != 0 && o.vocab < min_vocab)
    throw usage_error{"--vocab must be at least " + std::to_string(min_vocab) + ", got " +
                      std::to_string(o.vocab)};
  if (o.vocab > std::int64_t(INT32_MAX) || o.ctx > std::int64_t(UINT32_MAX))
    throw usage_error{"--vocab or --ctx is too large"};
  return true;
}

// ---- deterministic random numbers -------------------------------------------------------------

std::uint64_t splitmix64(std::uint64_t& s) {
  std::uint64_t z = (s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

std::uint64_t fnv1a64(std::string_view s) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (const char c : s) h = (h ^ std::uint8_t(c)) * 0x100000001b3ull;
  return h;
}

/// splitmix64 -> uniform (0, 1) -> Box-Muller normals.
class normal_stream {
 public:
  explicit normal_stream(std::uint64_t seed) : s_(seed) {}
  double uniform() { return (double(splitmix64(s_) >> 11) + 0.5) * 0x1p-53; }
  double next() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double r = std::sqrt(-2.0 * std::log(uniform()));
    const double t = 6.283185307179586 * uniform();
    spare_ = r * std::sin(t);
    has_spare_ = true;
    return r * std::cos(t);
  }

 private:
  std::uint64_t s_;
  double spare_ = 0;
  bool has_spare_ = false;
};

// ---- vocabulary -------------------------------------------------------------------------------

struct vocabulary {
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<std::int32_t> types;  // 1 normal, 2 unknown, 3 control, 6 byte (llama.cpp)
};

vocabulary make_vocabulary(std::int64_t n) {
  vocabulary v;
  v.tokens.reserve(std::size_t(n));
  auto add = [&](std::string piece, float score, std::int32_t type) {
    v.tokens.push_back(std::move(piece));
    v.scores.push_back(score);
    v.types.push_back(type);
  };
  add("<unk>", 0.0f, 2);
  add("<s>", 0.0f, 3);
  add("</s>", 0.0f, 3);
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    add(buf, 0.0f, 6);
  }
  static constexpr std::string_view space = "\xE2\x96\x81";  // U+2581 "▁"
  std::int64_t rank = 0;
  auto piece = [&](std::string s) { add(std::move(s), float(-rank++), 1); };
  piece(std::string(space));
  // Letters a-z, by increasing length; each word with and without the leading "▁".
  std::string word = "a";
  while (std::int64_t(v.tokens.size()) < n) {
    piece(std::string(space) + word);
    if (std::int64_t(v.tokens.size()) < n) piece(word);
    // next word: base-26 increment, growing by one letter after "zz...z"
    std::size_t i = word.size();
    while (i > 0 && word[i - 1] == 'z') word[--i] = 'a';
    if (i == 0) word.insert(word.begin(), 'a');
    else ++word[i - 1];
  }
  return v;
}

// ---- tensors ----------------------------------------------------------------------------------

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

template <class T>
void encode_rows(std::span<const float> x, std::byte* dst) {
  constexpr std::size_t be = arx::dtype_traits<T>::block_elems;
  std::vector<T> blocks(x.size() / be);
  arx::ops::quantize_row<T>(x, blocks);
  std::memcpy(dst, blocks.data(), blocks.size() * sizeof(T));
}

void encode(arx::ggml_type type, std::span<const float> x, std::byte* dst) {
  arx::visit_dtype(
      type,
      [&](auto tag) {
        using T = typename decltype(tag)::type;
        if constexpr (std::is_same_v<T, float>)
          std::memcpy(dst, x.data(), x.size() * sizeof(float));
        else
          encode_rows<T>(x, dst);
      },
      "make-model");
}

struct builder {
  arx::gguf::writer& w;
  std::uint64_t seed;
  std::uint64_t n_params = 0;

  // A tensor of shape {rows, cols} (or {cols} for a vector), generated and encoded in chunks of
  // rows so the f32 staging buffer stays small.
  void add(const std::string& name, std::int64_t rows, std::int64_t cols, bool is_norm,
           arx::ggml_type type) {
    std::uint64_t s = seed ^ fnv1a64(name);
    normal_stream r(splitmix64(s));
    const double sd = is_norm ? 0.02 : 1.0 / std::sqrt(double(cols));
    const double mean = is_norm ? 1.0 : 0.0;
    const std::size_t row_bytes = arx::row_bytes(type, cols);
    std::vector<std::byte> data(std::size_t(rows) * row_bytes);
    const std::int64_t chunk = std::max<std::int64_t>(1, (std::int64_t(1) << 20) / cols);
    std::vector<float> x;
    for (std::int64_t r0 = 0; r0 < rows; r0 += chunk) {
      const std::int64_t n = std::min(chunk, rows - r0);
      x.resize(std::size_t(n * cols));
      for (float& v : x) v = float(mean + sd * r.next());
      encode(type, x, data.data() + std::size_t(r0) * row_bytes);
    }
    const arx::shape_t shape = is_norm ? arx::shape_t{cols} : arx::shape_t{rows, cols};
    w.add_tensor(name, type, shape, data);
    n_params += std::uint64_t(rows * cols);
  }
};

std::string human_bytes(double b) {
  char buf[32];
  if (b >= 1e9) std::snprintf(buf, sizeof buf, "%.2f GB", b / 1e9);
  else if (b >= 1e6) std::snprintf(buf, sizeof buf, "%.1f MB", b / 1e6);
  else std::snprintf(buf, sizeof buf, "%.1f kB", b / 1e3);
  return buf;
}

// The writer reports these too, but only after every tensor has been generated.
void check_output(const std::string& path) {
  struct ::stat st {};
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
    throw arx::io_error(path, "not a regular file");
  const std::size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash + 1);
  if (::access(dir.c_str(), W_OK) != 0)
    throw arx::io_error(path, "directory '" + dir + "' is not writable: " + std::strerror(errno));
}

int run(const options& o) {
  const auto t_start = std::chrono::steady_clock::now();
  const shape_spec& sh = *o.shape;
  const std::int64_t n_vocab = o.vocab ? o.vocab : sh.n_vocab;
  const std::int64_t n_ctx = o.ctx ? o.ctx : sh.n_ctx;
  const std::int64_t head_dim = sh.n_embd / sh.n_head;
  const std::int64_t q_dim = sh.n_head * head_dim, kv_dim = sh.n_head_kv * head_dim;
  const arx::ggml_type mt = o.type->type;
  if (n_vocab < min_vocab)
    throw arx::invalid_argument("vocabulary size " + std::to_string(n_vocab) + " is below " +
                                std::to_string(min_vocab));

  std::fprintf(stderr,
               "make-model: %s (%s), %s, seed %llu\n"
               "  n_embd %lld, %lld layers, n_head %lld (kv %lld), head_dim %lld, n_ff %lld, "
               "vocab %lld, ctx %lld\n",
               sh.name, sh.description, o.type->name, (unsigned long long)o.seed,
               (long long)sh.n_embd, (long long)sh.n_layer, (long long)sh.n_head,
               (long long)sh.n_head_kv, (long long)head_dim, (long long)sh.n_ff,
               (long long)n_vocab, (long long)n_ctx);

  arx::gguf::writer w;
  w.set("general.architecture", "llama");
  w.set("general.name", "arx random " + std::string(sh.name) + " " + o.type->name + " seed " +
                            std::to_string(o.seed));
  w.set("general.file_type", o.type->file_type);
  w.set("llama.context_length", std::uint32_t(n_ctx));
  w.set("llama.embedding_length", std::uint32_t(sh.n_embd));
  w.set("llama.block_count", std::uint32_t(sh.n_layer));
  w.set("llama.feed_forward_length", std::uint32_t(sh.n_ff));
  w.set("llama.attention.head_count", std::uint32_t(sh.n_head));
  w.set("llama.attention.head_count_kv", std::uint32_t(sh.n_head_kv));
  w.set("llama.rope.dimension_count", std::uint32_t(head_dim));
  w.set("llama.attention.layer_norm_rms_epsilon", sh.eps);
  w.set("llama.rope.freq_base", sh.rope_base);
  w.set("llama.vocab_size", std::uint32_t(n_vocab));

  const vocabulary v = make_vocabulary(n_vocab);
  w.set("tokenizer.ggml.model", "llama");
  w.set_array("tokenizer.ggml.tokens", v.tokens);
  w.set_array("tokenizer.ggml.scores", v.scores);
  w.set_array("tokenizer.ggml.token_type", v.types);
  w.set("tokenizer.ggml.bos_token_id", std::uint32_t(1));
  w.set("tokenizer.ggml.eos_token_id", std::uint32_t(2));
  w.set("tokenizer.ggml.unknown_token_id", std::uint32_t(0));
  w.set("tokenizer.ggml.add_bos_token", true);
  w.set("tokenizer.ggml.add_eos_token", false);

  check_output(o.output);  // fail before the generation, not after it
  const bool tty = ::isatty(2) == 1;
  builder b{w, o.seed};
  const auto t_gen = std::chrono::steady_clock::now();
  b.add("token_embd.weight", n_vocab, sh.n_embd, false, mt);
  for (std::int64_t l = 0; l < sh.n_layer; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    b.add(p + "attn_norm.weight", 1, sh.n_embd, true, arx::ggml_type::f32);
    b.add(p + "attn_q.weight", q_dim, sh.n_embd, false, mt);
    b.add(p + "attn_k.weight", kv_dim, sh.n_embd, false, mt);
    b.add(p + "attn_v.weight", kv_dim, sh.n_embd, false, mt);
    b.add(p + "attn_output.weight", sh.n_embd, q_dim, false, mt);
    b.add(p + "ffn_norm.weight", 1, sh.n_embd, true, arx::ggml_type::f32);
    b.add(p + "ffn_gate.weight", sh.n_ff, sh.n_embd, false, mt);
    b.add(p + "ffn_up.weight", sh.n_ff, sh.n_embd, false, mt);
    b.add(p + "ffn_down.weight", sh.n_embd, sh.n_ff, false, mt);
    std::fprintf(stderr, "%s  generated layer %lld/%lld (%.1f s)%s", tty ? "\r" : "",
                 (long long)(l + 1), (long long)sh.n_layer, seconds_since(t_gen), tty ? "" : "\n");
    std::fflush(stderr);
    progress_pending = tty;
  }
  b.add("output_norm.weight", 1, sh.n_embd, true, arx::ggml_type::f32);
  b.add("output.weight", n_vocab, sh.n_embd, false, mt);
  const double gen_s = seconds_since(t_gen);
  progress_pending = false;
  std::fprintf(stderr, "%s  generated %zu tensors, %llu parameters in %.2f s\n",
               tty ? "\r" : "", w.tensor_count(), (unsigned long long)b.n_params, gen_s);

  const std::uint64_t size = w.file_size();
  std::fprintf(stderr, "  writing %s (%s) ...\n", o.output.c_str(),
               human_bytes(double(size)).c_str());
  const auto t_write = std::chrono::steady_clock::now();
  w.write(o.output);
  const double write_s = seconds_since(t_write);
  std::fprintf(stderr, "  wrote %llu bytes in %.2f s (%.0f MB/s); total %.2f s\n",
               (unsigned long long)size, write_s, write_s > 0 ? double(size) / 1e6 / write_s : 0.0,
               seconds_since(t_start));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return arx_cli::main<options>("make-model", argc, argv, parse, usage, run, [] {
    if (progress_pending) std::fputc('\n', stderr);
  });
}
