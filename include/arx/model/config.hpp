// arx/model/config.hpp — the hyperparameters of a decoder (llama, qwen2, phi3, gemma, gpt2:
// model/architectures.hpp), read from GGUF metadata and checked against the file's tensor
// directory.
//
// `model_config::from_gguf(file)` does all validation up front, so code that later builds weight
// views and KV caches from a config can trust every size in it:
//   * a missing key, or one whose stored type cannot be read losslessly  -> arx::key_error (names
//     the key)
//   * values that do not fit together (n_head not dividing n_embd, ...)  -> arx::shape_error
//     (names the keys and their values)
//   * a missing tensor                                                    -> arx::key_error
//   * a tensor with another shape than the config implies                -> arx::shape_error (names
//     the tensor, the expected and the stored shape)
//   * an architecture arx does not run (model/architectures.hpp)          -> arx::unsupported_error
//
// Shapes are outermost first (GGUF's ne[] reversed): a weight that maps n_in -> n_out is
// {n_out, n_in}, i.e. one row per output.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "arx/config.hpp"
#include "arx/core/error.hpp"
#include "arx/core/tensor.hpp"
#include "arx/io/gguf.hpp"
#include "arx/model/architectures.hpp"

ARX_NAMESPACE_BEGIN

struct model_config {
  std::string arch;                  // general.architecture ("llama", "qwen2", ...)
  const architecture* spec = &llama_architecture;  // what the architecture does differently
  std::int64_t n_embd = 0;           // width of the residual stream
  std::int64_t n_layer = 0;          // number of transformer blocks
  std::int64_t n_head = 0;           // query heads
  std::int64_t n_head_kv = 0;        // key/value heads (GQA: n_head / n_head_kv queries share one)
  std::int64_t head_dim = 0;         // <arch>.attention.key_length, else n_embd / n_head
  std::int64_t n_ff = 0;             // hidden width of the SwiGLU MLP
  std::int64_t n_rot = 0;            // leading dims of a head that RoPE rotates (even, <= head_dim)
  std::int64_t n_ctx_train = 0;      // context length the model was trained with
  std::int64_t n_vocab = 0;          // rows of token_embd / output
  float rope_freq_base = 10000.0f;   // RoPE theta
  float rms_eps = 1e-5f;             // epsilon inside the norm (RMSNorm or LayerNorm)
  bool tied_output = false;          // true: logits use token_embd.weight (no output.weight)
  std::int64_t n_swa = 0;            // sliding window: a token sees the n_swa latest positions
                                     // (itself included); 0 = the whole context

  /// Reads and validates the config of a model (see the file comment for the errors).
  static model_config from_gguf(const gguf::file& f);

  /// The tensor names and shapes this config implies, e.g. to check a file or build one in tests.
  /// `fn(name, shape)` is called for every tensor, output.weight only when !tied_output.
  template <class F>
  void for_each_tensor(F&& fn) const {
    const bool layer_norm = spec->norm == norm_kind::layer, bias = spec->linear_bias;
    fn(std::string("token_embd.weight"), shape_t{n_vocab, n_embd});  // {n_vocab, n_embd}
    if (spec->learned_positions)
      fn(std::string("position_embd.weight"), shape_t{n_ctx_train, n_embd});  // {n_ctx, n_embd}
    fn(std::string("output_norm.weight"), shape_t{n_embd});          // {n_embd}
    if (layer_norm) fn(std::string("output_norm.bias"), shape_t{n_embd});
    if (!tied_output) fn(std::string("output.weight"), shape_t{n_vocab, n_embd});
    const std::int64_t q_dim = n_head * head_dim;      // all query heads side by side
    const std::int64_t kv_dim = n_head_kv * head_dim;  // all key (or value) heads side by side
    for (std::int64_t l = 0; l < n_layer; ++l) {
      const std::string p = "blk." + std::to_string(l) + ".";
      fn(p + "attn_norm.weight", shape_t{n_embd});           // {n_embd}
      if (layer_norm) fn(p + "attn_norm.bias", shape_t{n_embd});
      if (spec->fused_qkv) {
        fn(p + "attn_qkv.weight", shape_t{q_dim + 2 * kv_dim, n_embd});  // rows [q; k; v]
        if (spec->qkv_bias) fn(p + "attn_qkv.bias", shape_t{q_dim + 2 * kv_dim});
      } else {
        fn(p + "attn_q.weight", shape_t{q_dim, n_embd});     // {n_head*head_dim, n_embd}
        fn(p + "attn_k.weight", shape_t{kv_dim, n_embd});    // {n_head_kv*head_dim, n_embd}
        fn(p + "attn_v.weight", shape_t{kv_dim, n_embd});    // {n_head_kv*head_dim, n_embd}
      }
      if (spec->qkv_bias && !spec->fused_qkv) {
        fn(p + "attn_q.bias", shape_t{q_dim});               // {n_head*head_dim}
        fn(p + "attn_k.bias", shape_t{kv_dim});              // {n_head_kv*head_dim}
        fn(p + "attn_v.bias", shape_t{kv_dim});              // {n_head_kv*head_dim}
      }
      fn(p + "attn_output.weight", shape_t{n_embd, q_dim});  // {n_embd, n_head*head_dim}
      if (bias) fn(p + "attn_output.bias", shape_t{n_embd});
      fn(p + "ffn_norm.weight", shape_t{n_embd});            // {n_embd}
      if (layer_norm) fn(p + "ffn_norm.bias", shape_t{n_embd});
      if (!spec->gated_mlp) {
        fn(p + "ffn_up.weight", shape_t{n_ff, n_embd});      // {n_ff, n_embd}
        if (bias) fn(p + "ffn_up.bias", shape_t{n_ff});
      } else if (spec->fused_gate_up) {
        fn(p + "ffn_up.weight", shape_t{2 * n_ff, n_embd});  // rows [gate; up]
      } else {
        fn(p + "ffn_gate.weight", shape_t{n_ff, n_embd});    // {n_ff, n_embd}
        fn(p + "ffn_up.weight", shape_t{n_ff, n_embd});      // {n_ff, n_embd}
      }
      fn(p + "ffn_down.weight", shape_t{n_embd, n_ff});      // {n_embd, n_ff}
      if (bias) fn(p + "ffn_down.bias", shape_t{n_embd});
    }
  }
};

namespace detail {

// A positive size stored as any unsigned or signed integer type that fits uint32 (llama.cpp
// writes u32). Zero is a shape_error naming the key.
inline std::int64_t read_size(const gguf::file& f, const std::string& key) {
  const std::uint32_t v = f.get<std::uint32_t>(key);
  if (v == 0) throw shape_error(f.path() + ": metadata '" + key + "' is 0; it must be positive");
  return std::int64_t(v);
}

inline std::string kv(const std::string& key, std::int64_t v) {
  return key + " = " + std::to_string(v);
}

}  // namespace detail

inline model_config model_config::from_gguf(const gguf::file& f) {
  model_config c;
  c.arch = std::string(f.get<std::string_view>("general.architecture"));
  c.spec = find_architecture(c.arch);
  if (!c.spec)
    throw unsupported_error(f.path() + ": architecture '" + gguf::detail::shown(c.arch) +
                            "' is not supported (supported: " + known_architecture_names() + ")");
  const std::string a = c.arch + ".";
  const std::string k_embd = a + "embedding_length", k_layer = a + "block_count",
                    k_head = a + "attention.head_count", k_head_kv = a + "attention.head_count_kv",
                    k_ff = a + "feed_forward_length", k_rot = a + "rope.dimension_count",
                    k_ctx = a + "context_length", k_vocab = a + "vocab_size",
                    k_tokens = "tokenizer.ggml.tokens";

  c.n_embd = detail::read_size(f, k_embd);
  c.n_layer = detail::read_size(f, k_layer);
  c.n_head = detail::read_size(f, k_head);
  c.n_head_kv = f.contains(k_head_kv) ? detail::read_size(f, k_head_kv) : c.n_head;
  c.n_ff = detail::read_size(f, k_ff);
  c.n_ctx_train = detail::read_size(f, k_ctx);
  c.rope_freq_base = f.get_or<float>(a + "rope.freq_base", 10000.0f);
  const std::string k_eps = a + (c.spec->norm == norm_kind::layer
                                     ? "attention.layer_norm_epsilon"
                                     : "attention.layer_norm_rms_epsilon");
  c.rms_eps = f.get<float>(k_eps);

  // The head size: explicit (attention.key_length, Gemma), else n_embd / n_head.
  const std::string k_key = a + "attention.key_length", k_value = a + "attention.value_length";
  if (f.contains(k_key)) {
    c.head_dim = detail::read_size(f, k_key);
    if (f.contains(k_value) && detail::read_size(f, k_value) != c.head_dim)
      throw unsupported_error(f.path() + ": " + detail::kv(k_value, detail::read_size(f, k_value)) +
                              " differs from " + detail::kv(k_key, c.head_dim) +
                              "; arx needs one head size for keys and values");
  } else {
    if (c.n_embd % c.n_head != 0)
      throw shape_error(f.path() + ": " + detail::kv(k_head, c.n_head) + " does not divide " +
                        detail::kv(k_embd, c.n_embd));
    c.head_dim = c.n_embd / c.n_head;
  }
  const std::string k_swa = a + "attention.sliding_window";
  c.n_swa = f.contains(k_swa) ? detail::read_size(f, k_swa) : 0;
  if (c.n_head % c.n_head_kv != 0)
    throw shape_error(f.path() + ": " + detail::kv(k_head_kv, c.n_head_kv) + " does not divide " +
                      detail::kv(k_head, c.n_head));
  c.n_rot = f.contains(k_rot) ? detail::read_size(f, k_rot) : c.head_dim;
  if (c.n_rot % 2 != 0 || c.n_rot > c.head_dim)
    throw shape_error(f.path() + ": " + detail::kv(k_rot, c.n_rot) +
                      " must be even and at most head_dim = " +
                      (f.contains(k_key) ? detail::kv(k_key, c.head_dim)
                                         : detail::kv(k_embd, c.n_embd) + " / " +
                                               detail::kv(k_head, c.n_head) + " = " +
                                               std::to_string(c.head_dim)));
  if (!(c.rms_eps > 0.0f))
    throw shape_error(f.path() + ": metadata '" + k_eps + "' is " + std::to_string(c.rms_eps) +
                      "; it must be positive");

  // The vocabulary size: explicit when the converter recorded it, else the tokenizer's length.
  if (f.contains(k_vocab)) {
    c.n_vocab = detail::read_size(f, k_vocab);
  } else {
    c.n_vocab = std::int64_t(f.get_array<std::string_view>(k_tokens).size());
    if (c.n_vocab == 0) throw shape_error(f.path() + ": metadata '" + k_tokens + "' is empty");
  }

  c.tied_output = f.find_tensor("output.weight") == nullptr;

  c.for_each_tensor([&](const std::string& name, const shape_t& want) {
    const gguf::tensor_info* t = f.find_tensor(name);
    if (!t) throw key_error(f.path() + ": tensor '" + name + "' not found");
    if (!(t->shape == want))
      throw shape_error(f.path() + ": tensor '" + name + "' has shape " + t->shape.str() +
                        ", expected " + want.str() + " from the metadata");
  });
  return c;
}

ARX_NAMESPACE_END
