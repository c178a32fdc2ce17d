// arx/model/architecture.hpp — what distinguishes one decoder-only architecture of the Llama
// family from another, as data. The transformer and its weights read this description; an
// architecture is one small file in model/arch/ that fills it in, plus one line in
// model/architectures.hpp. Everything not listed here is shared: pre-norm blocks, causal
// attention with grouped KV heads, an MLP, a final norm and an output matrix (or the token
// embeddings, when the file has no output.weight).
#pragma once

#include <string_view>

#include "arx/config.hpp"
#include "arx/ops/rope.hpp"

ARX_NAMESPACE_BEGIN

/// The MLP's nonlinearity: down(act(gate(x)) ⊙ up(x)), or down(act(up(x))) without a gate.
enum class mlp_gate {
  silu,  ///< SwiGLU (Llama, Qwen2, Phi-3)
  gelu,  ///< GeGLU / GELU with the tanh form of GELU (Gemma, GPT-2)
};

/// The normalisation before each block and at the end.
enum class norm_kind {
  rms,    ///< RMSNorm with a weight (<arch>.attention.layer_norm_rms_epsilon)
  layer,  ///< LayerNorm with a weight and a bias (<arch>.attention.layer_norm_epsilon)
};

struct architecture {
  std::string_view name;                          ///< general.architecture
  ops::rope_layout rope = ops::rope_layout::normal;  ///< pairs (2i, 2i+1), or NeoX halves
  bool qkv_bias = false;        ///< blk.N.attn_{q,k,v}.bias added after the projections
  bool fused_qkv = false;       ///< one blk.N.attn_qkv.weight, rows [q; k; v]
  bool fused_gate_up = false;   ///< blk.N.ffn_up.weight holds rows [gate; up], no ffn_gate
  mlp_gate gate = mlp_gate::silu;
  bool scale_embeddings = false;  ///< the token embeddings are multiplied by sqrt(n_embd)
  norm_kind norm = norm_kind::rms;
  bool gated_mlp = true;          ///< false: down(act(up(x))), no ffn_gate
  bool linear_bias = false;       ///< biases on attn_qkv/q/k/v, attn_output, ffn_up, ffn_down
  bool learned_positions = false;  ///< position_embd.weight added to the embeddings; no RoPE
};

ARX_NAMESPACE_END
