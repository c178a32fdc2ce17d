// An independent float64 llama forward pass (Eigen), the oracle of the transformer tests.
//
// Written straight from the math, sharing no code with arx's transformer or its fast kernels:
// metadata is read from the GGUF keys directly, every weight is dequantized to double with the
// scalar reference (arx::ops::ref::dequantize_row for Q8_0/Q4_0, to_f32 for F16/BF16), and the
// whole sequence is evaluated at once in double with exact activations (no Q8_0 rounding of
// activations, no f16 KV cache), starting at position 0:
//
//   x = embd[token]
//   per layer:  h = rmsnorm(x) * attn_norm
//               q, k, v = Wq h, Wk h, Wv h;   RoPE(q, k) at the token's position
//               x += Wo attention(q, k, v)    (causal, GQA, softmax(q.k / sqrt(head_dim));
//                                              with llama.attention.sliding_window = w, token t
//                                              sees positions max(0, t - w + 1) .. t only)
//               h = rmsnorm(x) * ffn_norm
//               x += Wdown (silu(Wgate h) * (Wup h))
//   hidden = rmsnorm(x) * output_norm;  logits = Woutput hidden
//   rmsnorm(x) = x / sqrt(mean(x^2) + eps)
//
// RoPE, normal layout: in each head, the pair (2i, 2i+1) for 2i < n_rot is rotated by the angle
// pos * base^(-2i / n_rot); dimensions from n_rot on are left as they are.
//
// options::q8_0_activations rounds the input rows of every product with a Q8_0/Q4_0 matrix
// through Q8_0 (arx::ops::ref, the scalar reference), as arx and llama.cpp do, so the error left
// is only arithmetic; without it the reference is the exact model on the dequantized weights.
//
// options::var selects a deliberately wrong model, used to show that the tests' tolerances catch
// real bugs of the kind an implementation could have.
#pragma once

// Eigen's AVX-512 product kernels trip GCC 12's -Wmaybe-uninitialized inside the compiler's own
// intrinsic headers (GCC bug 105593); the warning is not about this code.
#if defined(__GNUC__) && !defined(__clang__)
#  pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#  pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <Eigen/Dense>

#include <arx/core/dtype.hpp>
#include <arx/core/half.hpp>
#include <arx/io/gguf.hpp>
#include <arx/ops/quantize.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace reference {

enum class variant {
  exact,
  neox_rope,        // RoPE pairs (i, i + n_rot/2) instead of (2i, 2i+1)
  no_rope,          // positions ignored
  rope_half_freq,   // angle pos * base^(-i / n_rot) instead of base^(-2i / n_rot)
  no_norm_weights,  // RMSNorm without its learned weights (attn/ffn/output norm)
  skip_last_layer,  // the last block is not applied
  gqa_modulo,       // query head h reads KV head h % n_head_kv instead of h / group
  no_causal_mask,   // every token attends to the whole sequence
  no_sqrt_scale,    // scores not scaled by 1/sqrt(head_dim)
};

inline const char* name(variant v) {
  switch (v) {
    case variant::exact: return "exact";
    case variant::neox_rope: return "NeoX RoPE layout";
    case variant::no_rope: return "no RoPE";
    case variant::rope_half_freq: return "RoPE base^(-i/n_rot)";
    case variant::no_norm_weights: return "RMSNorm without weights";
    case variant::skip_last_layer: return "last layer skipped";
    case variant::gqa_modulo: return "KV head h % n_head_kv";
    case variant::no_causal_mask: return "no causal mask";
    case variant::no_sqrt_scale: return "no 1/sqrt(head_dim)";
  }
  return "?";
}

struct output {
  Eigen::MatrixXd logits;  // [n_tokens][n_vocab]
  Eigen::MatrixXd hidden;  // [n_tokens][n_embd]: final RMSNorm output
};

/// A tensor of any supported type as a double matrix [rows][cols] (a vector is one row).
inline Eigen::MatrixXd dequantize(const arx::gguf::file& f, const std::string& name) {
  const arx::any_tensor_view t = f.tensor(name);
  const std::int64_t cols = t.shape(t.rank() - 1);
  const std::int64_t rows = t.shape().numel() / cols;
  const std::size_t rb = arx::row_bytes(t.type(), cols);
  Eigen::MatrixXd m(rows, cols);
  std::vector<float> row(static_cast<std::size_t>(cols));
  for (std::int64_t i = 0; i < rows; ++i) {
    const std::byte* p = t.data() + std::size_t(i) * rb;
    switch (t.type()) {
      case arx::ggml_type::f32:
        for (std::int64_t j = 0; j < cols; ++j) std::memcpy(&row[std::size_t(j)], p + 4 * j, 4);
        break;
      case arx::ggml_type::f16:
        for (std::int64_t j = 0; j < cols; ++j) {
          arx::f16 h;
          std::memcpy(&h, p + 2 * j, 2);
          row[std::size_t(j)] = arx::to_f32(h);
        }
        break;
      case arx::ggml_type::bf16:
        for (std::int64_t j = 0; j < cols; ++j) {
          arx::bf16 h;
          std::memcpy(&h, p + 2 * j, 2);
          row[std::size_t(j)] = arx::to_f32(h);
        }
        break;
      case arx::ggml_type::q8_0: {
        std::vector<arx::block_q8_0> b(std::size_t(cols / arx::qk8_0));
        std::memcpy(b.data(), p, rb);
        arx::ops::ref::dequantize_row<arx::block_q8_0>(b, row);
        break;
      }
      case arx::ggml_type::q4_0: {
        std::vector<arx::block_q4_0> b(std::size_t(cols / arx::qk4_0));
        std::memcpy(b.data(), p, rb);
        arx::ops::ref::dequantize_row<arx::block_q4_0>(b, row);
        break;
      }
      default: throw std::runtime_error("reference: tensor " + name + " has an unsupported type");
    }
    for (std::int64_t j = 0; j < cols; ++j) m(i, j) = double(row[std::size_t(j)]);
  }
  return m;
}

/// Row-wise x / sqrt(mean(x^2) + eps) * w.
inline Eigen::MatrixXd rmsnorm(const Eigen::MatrixXd& x, const Eigen::MatrixXd& w, double eps) {
  Eigen::MatrixXd y(x.rows(), x.cols());
  for (Eigen::Index t = 0; t < x.rows(); ++t) {
    const double ms = x.row(t).squaredNorm() / double(x.cols());
    y.row(t) = x.row(t).cwiseProduct(w.row(0)) / std::sqrt(ms + eps);
  }
  return y;
}

/// Each row of x rounded to float and through Q8_0 (blocks of 32 with one f16 scale) and back:
/// what the activations of a quantized matrix product are in arx and llama.cpp.
inline Eigen::MatrixXd q8_0_round_trip(const Eigen::MatrixXd& x) {
  Eigen::MatrixXd y(x.rows(), x.cols());
  std::vector<float> row(static_cast<std::size_t>(x.cols())), back(row.size());
  std::vector<arx::block_q8_0> b(row.size() / arx::qk8_0);
  for (Eigen::Index t = 0; t < x.rows(); ++t) {
    for (Eigen::Index j = 0; j < x.cols(); ++j) row[std::size_t(j)] = float(x(t, j));
    arx::ops::ref::quantize_row<arx::block_q8_0>(row, b);
    arx::ops::ref::dequantize_row<arx::block_q8_0>(b, back);
    for (Eigen::Index j = 0; j < x.cols(); ++j) y(t, j) = double(back[std::size_t(j)]);
  }
  return y;
}

struct options {
  variant var = variant::exact;
  /// Round the input of every product with a Q8_0/Q4_0 matrix through Q8_0 first (arx's and
  /// llama.cpp's activation quantization), so that only arithmetic differences remain.
  bool q8_0_activations = false;
};

/// The llama forward pass over `tokens` at positions 0..n-1 (see the file comment).
inline output forward(const arx::gguf::file& f, std::span<const std::int32_t> tokens,
                      options opt = {}) {
  const variant var = opt.var;
  const auto u = [&](const char* k) { return std::int64_t(f.get<std::uint32_t>(k)); };
  const std::int64_t n_embd = u("llama.embedding_length"), n_layer = u("llama.block_count"),
                     n_head = u("llama.attention.head_count"),
                     n_head_kv = u("llama.attention.head_count_kv"),
                     n_rot = u("llama.rope.dimension_count");
  const double eps = double(f.get<float>("llama.attention.layer_norm_rms_epsilon"));
  const double base = double(f.get<float>("llama.rope.freq_base"));
  const std::int64_t hd = n_embd / n_head, group = n_head / n_head_kv;
  const std::int64_t window = f.contains("llama.attention.sliding_window")
                                  ? u("llama.attention.sliding_window")
                                  : std::int64_t(tokens.size());
  const auto n = Eigen::Index(tokens.size());
  const std::string out_name =
      f.find_tensor("output.weight") ? "output.weight" : "token_embd.weight";

  // x W^T for the matrix `name` (its activations through Q8_0 when asked and W is quantized).
  const auto matmul = [&](const Eigen::MatrixXd& x, const std::string& name) -> Eigen::MatrixXd {
    const arx::ggml_type t = f.find_tensor(name)->type;
    const bool q = t == arx::ggml_type::q8_0 || t == arx::ggml_type::q4_0;
    return (opt.q8_0_activations && q ? q8_0_round_trip(x) : x) * dequantize(f, name).transpose();
  };
  const auto norm = [&](const Eigen::MatrixXd& x, const std::string& name) {
    const Eigen::MatrixXd w =
        var == variant::no_norm_weights ? Eigen::MatrixXd::Ones(1, x.cols()) : dequantize(f, name);
    return rmsnorm(x, w, eps);
  };

  const Eigen::MatrixXd embd = dequantize(f, "token_embd.weight");
  Eigen::MatrixXd x(n, n_embd);
  for (Eigen::Index t = 0; t < n; ++t) x.row(t) = embd.row(tokens[std::size_t(t)]);

  // RoPE on one [n][heads*hd] matrix, in place.
  const auto rope = [&](Eigen::MatrixXd& m, std::int64_t heads) {
    if (var == variant::no_rope) return;
    const double k = var == variant::rope_half_freq ? 1.0 : 2.0;
    for (Eigen::Index t = 0; t < n; ++t)
      for (std::int64_t h = 0; h < heads; ++h)
        for (std::int64_t i = 0; i < n_rot / 2; ++i) {
          const double theta = double(t) * std::pow(base, -k * double(i) / double(n_rot));
          const std::int64_t a = h * hd + (var == variant::neox_rope ? i : 2 * i);
          const std::int64_t b = a + (var == variant::neox_rope ? n_rot / 2 : 1);
          const double x0 = m(t, a), x1 = m(t, b);
          m(t, a) = x0 * std::cos(theta) - x1 * std::sin(theta);
          m(t, b) = x0 * std::sin(theta) + x1 * std::cos(theta);
        }
  };

  const std::int64_t layers = var == variant::skip_last_layer ? n_layer - 1 : n_layer;
  for (std::int64_t l = 0; l < layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    Eigen::MatrixXd h = norm(x, p + "attn_norm.weight");
    Eigen::MatrixXd q = matmul(h, p + "attn_q.weight");
    Eigen::MatrixXd k = matmul(h, p + "attn_k.weight");
    const Eigen::MatrixXd v = matmul(h, p + "attn_v.weight");
    rope(q, n_head);
    rope(k, n_head_kv);

    Eigen::MatrixXd att = Eigen::MatrixXd::Zero(n, n_head * hd);
    const double scale = var == variant::no_sqrt_scale ? 1.0 : 1.0 / std::sqrt(double(hd));
    for (std::int64_t hh = 0; hh < n_head; ++hh) {
      const std::int64_t kvh = var == variant::gqa_modulo ? hh % n_head_kv : hh / group;
      for (Eigen::Index t = 0; t < n; ++t) {
        const Eigen::Index last = var == variant::no_causal_mask ? n - 1 : t;
        const Eigen::Index first = std::max<Eigen::Index>(0, t - Eigen::Index(window) + 1);
        Eigen::VectorXd s(last + 1 - first);
        for (Eigen::Index j = first; j <= last; ++j)
          s(j - first) =
              scale * q.row(t).segment(hh * hd, hd).dot(k.row(j).segment(kvh * hd, hd));
        s = (s.array() - s.maxCoeff()).exp();
        s /= s.sum();
        for (Eigen::Index j = first; j <= last; ++j)
          att.row(t).segment(hh * hd, hd) += s(j - first) * v.row(j).segment(kvh * hd, hd);
      }
    }
    x += matmul(att, p + "attn_output.weight");

    h = norm(x, p + "ffn_norm.weight");
    const Eigen::MatrixXd g = matmul(h, p + "ffn_gate.weight");
    const Eigen::MatrixXd up = matmul(h, p + "ffn_up.weight");
    const Eigen::MatrixXd act = (g.array() / (1.0 + (-g.array()).exp())) * up.array();
    x += matmul(act, p + "ffn_down.weight");
  }

  output o;
  o.hidden = norm(x, "output_norm.weight");
  o.logits = matmul(o.hidden, out_name);
  return o;
}

}  // namespace reference
