// A small random llama model built in memory as a GGUF file, for the transformer tests.
//
//   tiny::params p;                  // n_embd 64, 2 layers, 4 heads, 2 KV heads, ffn 128, vocab 96
//   p.type = arx::ggml_type::q8_0;   // every weight matrix (token_embd and output included)
//   arx::gguf::file f = tiny::build(p);
//
// Values: norm vectors 1 + 0.1*N(0,1); matrices N(0, 1/sqrt(fan_in)) (fan_in = n_embd, or n_ff
// for ffn_down, q_dim for attn_output), so every projection keeps its input's scale and the logits
// have a standard deviation of order 1 (well-conditioned: small relative errors stay small).
// The generator is our own (splitmix64 + Box-Muller), so the model is the same with every C++
// standard library.
//
// For the error tests the builder can also break the file: omit a tensor, store one with another
// shape or type (random bytes of the right size for types arx cannot compute with), or name
// another architecture.
#pragma once

#include <arx/core/dtype.hpp>
#include <arx/core/half.hpp>
#include <arx/core/tensor.hpp>
#include <arx/io/gguf.hpp>
#include <arx/io/gguf_writer.hpp>
#include <arx/ops/quantize.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace tiny {

struct params {
  std::int64_t n_embd = 64;
  std::int64_t n_layer = 2;
  std::int64_t n_head = 4;
  std::int64_t n_head_kv = 2;
  std::int64_t n_ff = 128;
  std::int64_t n_vocab = 96;
  std::int64_t n_ctx = 64;
  std::int64_t n_rot = 0;  // 0: head_dim (llama.rope.dimension_count = n_embd / n_head)
  float rope_base = 10000.0f;
  float eps = 1e-5f;
  bool tied = false;  // true: no output.weight (logits use token_embd.weight)
  std::int64_t n_swa = 0;  // > 0: llama.attention.sliding_window
  std::uint64_t seed = 1;
  arx::ggml_type type = arx::ggml_type::f32;       // every weight matrix
  arx::ggml_type norm_type = arx::ggml_type::f32;  // the norm vectors (f32, f16 or bf16)

  // ---- deliberate breakage, for the error tests ----
  std::string arch = "llama";
  std::set<std::string> omit;                           // tensors left out
  std::map<std::string, arx::shape_t> shape_override;   // tensor -> stored shape
  std::map<std::string, arx::ggml_type> type_override;  // tensor -> stored type
};

/// Deterministic normal samples: splitmix64 -> uniform (0,1) -> Box-Muller.
class rng {
 public:
  explicit rng(std::uint64_t seed) : s_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (s_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  double uniform() { return (double(next() >> 11) + 0.5) * 0x1p-53; }  // (0, 1)
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double r = std::sqrt(-2.0 * std::log(uniform())), t = 6.283185307179586 * uniform();
    spare_ = r * std::sin(t);
    has_spare_ = true;
    return r * std::cos(t);
  }

 private:
  std::uint64_t s_;
  double spare_ = 0;
  bool has_spare_ = false;
};

/// `x` (row-major, rows of shape's innermost extent) stored as `type`: the bytes GGUF holds.
/// Types arx has no kernel for get random bytes of the right size (they are only loaded, to be
/// refused).
inline std::vector<std::byte> encode(std::span<const float> x, const arx::shape_t& shape,
                                     arx::ggml_type type, rng& r) {
  const std::int64_t cols = shape[shape.rank - 1];
  const std::int64_t rows = shape.numel() / cols;
  const std::size_t row_bytes = arx::row_bytes(type, cols);
  std::vector<std::byte> out(std::size_t(rows) * row_bytes);
  for (std::int64_t i = 0; i < rows; ++i) {
    const std::span<const float> src = x.subspan(std::size_t(i * cols), std::size_t(cols));
    std::byte* dst = out.data() + std::size_t(i) * row_bytes;
    switch (type) {
      case arx::ggml_type::f32: std::memcpy(dst, src.data(), row_bytes); break;
      case arx::ggml_type::f16:
        for (std::int64_t j = 0; j < cols; ++j) {
          const arx::f16 h = arx::to_f16(src[std::size_t(j)]);
          std::memcpy(dst + 2 * j, &h, 2);
        }
        break;
      case arx::ggml_type::bf16:
        for (std::int64_t j = 0; j < cols; ++j) {
          const arx::bf16 h = arx::to_bf16(src[std::size_t(j)]);
          std::memcpy(dst + 2 * j, &h, 2);
        }
        break;
      case arx::ggml_type::q8_0: {
        std::vector<arx::block_q8_0> b(std::size_t(cols / arx::qk8_0));
        arx::ops::quantize_row<arx::block_q8_0>(src, b);
        std::memcpy(dst, b.data(), row_bytes);
        break;
      }
      case arx::ggml_type::q4_0: {
        std::vector<arx::block_q4_0> b(std::size_t(cols / arx::qk4_0));
        arx::ops::quantize_row<arx::block_q4_0>(src, b);
        std::memcpy(dst, b.data(), row_bytes);
        break;
      }
      default:
        for (std::size_t k = 0; k < row_bytes; ++k) dst[k] = std::byte(r.next() & 0x7f);
        break;
    }
  }
  return out;
}

/// Builds the GGUF file described by `p` (see the file comment).
inline arx::gguf::file build(const params& p) {
  arx::gguf::writer w;
  w.set("general.architecture", std::string_view(p.arch));
  const std::string a = p.arch + ".";
  const std::int64_t head_dim = p.n_embd / p.n_head;
  w.set(a + "embedding_length", std::uint32_t(p.n_embd));
  w.set(a + "block_count", std::uint32_t(p.n_layer));
  w.set(a + "attention.head_count", std::uint32_t(p.n_head));
  w.set(a + "attention.head_count_kv", std::uint32_t(p.n_head_kv));
  w.set(a + "feed_forward_length", std::uint32_t(p.n_ff));
  w.set(a + "context_length", std::uint32_t(p.n_ctx));
  w.set(a + "rope.dimension_count", std::uint32_t(p.n_rot ? p.n_rot : head_dim));
  w.set(a + "attention.layer_norm_rms_epsilon", p.eps);
  w.set(a + "rope.freq_base", p.rope_base);
  if (p.n_swa > 0) w.set(a + "attention.sliding_window", std::uint32_t(p.n_swa));
  std::vector<std::string> toks;
  for (std::int64_t i = 0; i < p.n_vocab; ++i) toks.push_back("<t" + std::to_string(i) + ">");
  w.set_array("tokenizer.ggml.tokens", toks);

  rng r(p.seed);
  auto add = [&](const std::string& name, arx::shape_t shape, bool is_norm) {
    if (p.omit.count(name)) return;
    if (auto it = p.shape_override.find(name); it != p.shape_override.end()) shape = it->second;
    arx::ggml_type type = is_norm ? p.norm_type : p.type;
    if (auto it = p.type_override.find(name); it != p.type_override.end()) type = it->second;
    const std::int64_t fan_in = shape[shape.rank - 1];
    const double sd = is_norm ? 0.1 : 1.0 / std::sqrt(double(fan_in));
    std::vector<float> x(std::size_t(shape.numel()));
    for (float& v : x) v = float((is_norm ? 1.0 : 0.0) + sd * r.normal());
    w.add_tensor(name, type, shape, encode(x, shape, type, r));
  };

  const std::int64_t q_dim = p.n_head * head_dim, kv_dim = p.n_head_kv * head_dim;
  add("token_embd.weight", {p.n_vocab, p.n_embd}, false);
  add("output_norm.weight", {p.n_embd}, true);
  if (!p.tied) add("output.weight", {p.n_vocab, p.n_embd}, false);
  for (std::int64_t l = 0; l < p.n_layer; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    add(b + "attn_norm.weight", {p.n_embd}, true);
    add(b + "attn_q.weight", {q_dim, p.n_embd}, false);
    add(b + "attn_k.weight", {kv_dim, p.n_embd}, false);
    add(b + "attn_v.weight", {kv_dim, p.n_embd}, false);
    add(b + "attn_output.weight", {p.n_embd, q_dim}, false);
    add(b + "ffn_norm.weight", {p.n_embd}, true);
    add(b + "ffn_gate.weight", {p.n_ff, p.n_embd}, false);
    add(b + "ffn_up.weight", {p.n_ff, p.n_embd}, false);
    add(b + "ffn_down.weight", {p.n_embd, p.n_ff}, false);
  }
  return arx::gguf::file::from_bytes(w.to_bytes(), "tiny.gguf");
}

/// `n` token ids in [0, n_vocab), deterministic in `seed`.
inline std::vector<std::int32_t> tokens(std::size_t n, std::int64_t n_vocab, std::uint64_t seed) {
  rng r(seed ^ 0x5eedull);
  std::vector<std::int32_t> t(n);
  for (auto& id : t) id = std::int32_t(r.next() % std::uint64_t(n_vocab));
  return t;
}

}  // namespace tiny
