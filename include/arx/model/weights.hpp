// arx/model/weights.hpp — the weights of a decoder (any architecture of
// model/architectures.hpp): zero-copy views into a GGUF file, validated once, immutable
// afterwards.
//
// One llama_weights object can serve any number of sequences (threads included): nothing in it
// changes after load. It owns the gguf::file, whose memory mapping the matrix views point into,
// so the views live exactly as long as the object; share it with std::shared_ptr.
//
// Matrices stay in the file's type (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, K-quants —
// mixed freely per tensor) and are never copied. The norm vectors and biases are converted to
// f32 once, whatever their stored type. Errors at load, all naming the tensor or key:
//   * everything model_config::from_gguf throws (missing key or tensor, wrong shape, architecture)
//   * a matrix whose type has no kernel                               -> arx::unsupported_error
//   * a norm vector that is not F32, F16 or BF16                      -> arx::unsupported_error
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "arx/config.hpp"
#include "arx/core/dtype.hpp"
#include "arx/core/error.hpp"
#include "arx/core/tensor.hpp"
#include "arx/io/gguf.hpp"
#include "arx/model/config.hpp"
#include "arx/ops/convert.hpp"
#include "arx/ops/quantize.hpp"

ARX_NAMESPACE_BEGIN

/// The tensors of one transformer block. Matrix shapes are {n_out, n_in}. Fused file tensors
/// (Phi-3's attn_qkv and [gate; up] ffn_up) appear here as row ranges of the file's tensor.
struct layer_weights {
  std::vector<float> attn_norm;      // [n_embd]
  std::vector<float> attn_norm_b;    // [n_embd], LayerNorm architectures only
  any_tensor_view wq;                // {n_head * head_dim, n_embd}
  any_tensor_view wk;                // {n_head_kv * head_dim, n_embd}
  any_tensor_view wv;                // {n_head_kv * head_dim, n_embd}
  std::vector<float> bq, bk, bv;     // [n_head * head_dim], [n_head_kv * head_dim] x2; empty
                                     // unless the architecture has qkv biases (Qwen2, GPT-2)
  any_tensor_view wo;                // {n_embd, n_head * head_dim}
  std::vector<float> bo;             // [n_embd], with linear biases only (GPT-2)
  std::vector<float> ffn_norm;       // [n_embd]
  std::vector<float> ffn_norm_b;     // [n_embd], LayerNorm architectures only
  any_tensor_view w_gate;            // {n_ff, n_embd}; empty without a gate (GPT-2)
  any_tensor_view w_up;              // {n_ff, n_embd}
  std::vector<float> b_up;           // [n_ff], with linear biases only
  any_tensor_view w_down;            // {n_embd, n_ff}
  std::vector<float> b_down;         // [n_embd], with linear biases only
};

namespace detail {

/// Row `r` of a matrix of any compute type, as floats (dequantized). out: [cols]
inline void row_to_f32(const any_tensor_view& m, std::int64_t r, std::span<float> out) {
  visit_dtype(
      m.type(),
      [&](auto tag) {
        using T = typename decltype(tag)::type;
        const std::span<const T> row = m.template as<T>().row(r);
        if constexpr (std::is_same_v<T, float> || std::is_same_v<T, f16> ||
                      std::is_same_v<T, bf16>)
          ops::convert(row, out);
        else
          ops::dequantize_row(row, out);
      },
      m.name());
}

}  // namespace detail

class llama_weights {
  struct token {};  // keeps the constructor for make_shared only

 public:
  /// Maps and validates the GGUF file at `path`.
  static std::shared_ptr<const llama_weights> load(const std::string& path) {
    return from_file(gguf::open(path));
  }
  /// Takes ownership of an opened file (also in-memory ones from gguf::file::from_bytes).
  static std::shared_ptr<const llama_weights> from_file(gguf::file f) {
    return std::make_shared<const llama_weights>(token{}, std::move(f));
  }

  llama_weights(token, gguf::file f) : file_(std::move(f)), config_(model_config::from_gguf(file_)) {
    token_embd_ = matrix("token_embd.weight");
    if (config_.spec->learned_positions) position_embd_ = matrix("position_embd.weight");
    output_ = config_.tied_output ? token_embd_ : matrix("output.weight");
    output_norm_ = vector("output_norm.weight");
    const bool layer_norm = config_.spec->norm == norm_kind::layer;
    if (layer_norm) output_norm_b_ = vector("output_norm.bias");
    layers_.reserve(std::size_t(config_.n_layer));
    for (std::int64_t l = 0; l < config_.n_layer; ++l) {
      const std::string p = "blk." + std::to_string(l) + ".";
      const architecture& a = *config_.spec;
      const std::int64_t q_dim = config_.n_head * config_.head_dim,
                         kv_dim = config_.n_head_kv * config_.head_dim, n_ff = config_.n_ff;
      layer_weights w;
      w.attn_norm = vector(p + "attn_norm.weight");
      if (layer_norm) w.attn_norm_b = vector(p + "attn_norm.bias");
      if (a.fused_qkv) {
        const any_tensor_view qkv = matrix(p + "attn_qkv.weight");  // rows [q; k; v]
        w.wq = qkv.rows(0, q_dim);
        w.wk = qkv.rows(q_dim, q_dim + kv_dim);
        w.wv = qkv.rows(q_dim + kv_dim, q_dim + 2 * kv_dim);
        if (a.qkv_bias) {
          const std::vector<float> b = vector(p + "attn_qkv.bias");  // [q; k; v]
          w.bq.assign(b.begin(), b.begin() + q_dim);
          w.bk.assign(b.begin() + q_dim, b.begin() + q_dim + kv_dim);
          w.bv.assign(b.begin() + q_dim + kv_dim, b.end());
        }
      } else {
        w.wq = matrix(p + "attn_q.weight");
        w.wk = matrix(p + "attn_k.weight");
        w.wv = matrix(p + "attn_v.weight");
        if (a.qkv_bias) {
          w.bq = vector(p + "attn_q.bias");
          w.bk = vector(p + "attn_k.bias");
          w.bv = vector(p + "attn_v.bias");
        }
      }
      w.wo = matrix(p + "attn_output.weight");
      if (a.linear_bias) w.bo = vector(p + "attn_output.bias");
      w.ffn_norm = vector(p + "ffn_norm.weight");
      if (layer_norm) w.ffn_norm_b = vector(p + "ffn_norm.bias");
      if (a.linear_bias) {
        w.b_up = vector(p + "ffn_up.bias");
        w.b_down = vector(p + "ffn_down.bias");
      }
      if (!a.gated_mlp) {
        w.w_up = matrix(p + "ffn_up.weight");
      } else if (a.fused_gate_up) {
        const any_tensor_view gate_up = matrix(p + "ffn_up.weight");  // rows [gate; up]
        w.w_gate = gate_up.rows(0, n_ff);
        w.w_up = gate_up.rows(n_ff, 2 * n_ff);
      } else {
        w.w_gate = matrix(p + "ffn_gate.weight");
        w.w_up = matrix(p + "ffn_up.weight");
      }
      w.w_down = matrix(p + "ffn_down.weight");
      layers_.push_back(std::move(w));
    }
  }

  llama_weights(const llama_weights&) = delete;
  llama_weights& operator=(const llama_weights&) = delete;

  const model_config& config() const noexcept { return config_; }
  const gguf::file& file() const noexcept { return file_; }
  const any_tensor_view& token_embd() const noexcept { return token_embd_; }  // {n_vocab, n_embd}
  const any_tensor_view& output() const noexcept { return output_; }  // {n_vocab, n_embd}
  std::span<const float> output_norm() const noexcept { return output_norm_; }  // [n_embd]
  /// [n_embd] with LayerNorm (GPT-2), else empty.
  std::span<const float> output_norm_bias() const noexcept { return output_norm_b_; }
  /// {n_ctx_train, n_embd} with learned positions (GPT-2), else an empty view.
  const any_tensor_view& position_embd() const noexcept { return position_embd_; }
  const layer_weights& layer(std::int64_t i) const {
    if (i < 0 || i >= config_.n_layer)
      throw invalid_argument("llama_weights::layer(" + std::to_string(i) + "): the model has " +
                             std::to_string(config_.n_layer) + " layers");
    return layers_[std::size_t(i)];
  }

  /// Embedding of `id` as floats (dequantized). out: [n_embd]. invalid_argument when id is not
  /// in [0, n_vocab) or out has another length.
  void embed(std::int32_t id, std::span<float> out) const {
    if (id < 0 || id >= config_.n_vocab)
      throw invalid_argument("llama_weights::embed: token id " + std::to_string(id) +
                             " is outside [0, " + std::to_string(config_.n_vocab) + ")");
    if (std::int64_t(out.size()) != config_.n_embd)
      throw shape_error("llama_weights::embed: out has " + std::to_string(out.size()) +
                        " values, n_embd is " + std::to_string(config_.n_embd));
    detail::row_to_f32(token_embd_, id, out);
  }

 private:
  // A matrix view; its type must have kernels (checked here, so forward never hits it).
  any_tensor_view matrix(const std::string& name) const {
    any_tensor_view v = file_.tensor(name);
    visit_dtype(v.type(), [](auto) {}, file_.path() + ": tensor '" + name + "'");
    return v;
  }

  std::vector<float> vector(const std::string& name) const {
    const any_tensor_view v = file_.tensor(name);
    std::vector<float> out(std::size_t(v.shape().numel()));
    const auto t = v.type();
    if (t == ggml_type::f32)
      ops::convert(std::span<const float>(v.as<float>().flat()), std::span<float>(out));
    else if (t == ggml_type::f16)
      ops::convert(std::span<const f16>(v.as<f16>().flat()), std::span<float>(out));
    else if (t == ggml_type::bf16)
      ops::convert(std::span<const bf16>(v.as<bf16>().flat()), std::span<float>(out));
    else
      throw unsupported_error(file_.path() + ": tensor '" + name + "' has type " + type_name(t) +
                              "; norm weights and biases must be F32, F16 or BF16");
    return out;
  }

  gguf::file file_;
  model_config config_;
  any_tensor_view token_embd_, output_;
  std::vector<float> output_norm_, output_norm_b_;
  any_tensor_view position_embd_;
  std::vector<layer_weights> layers_;
};

ARX_NAMESPACE_END
