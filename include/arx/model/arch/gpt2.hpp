// arx/model/arch/gpt2.hpp — GPT-2: learned absolute positions (position_embd, no RoPE, so the
// context is at most its rows), LayerNorm with biases, one attn_qkv with a bias, biases on every
// projection, a plain GELU MLP (no gate).
#pragma once

#include "arx/model/architecture.hpp"

ARX_NAMESPACE_BEGIN

inline constexpr architecture gpt2_architecture{.name = "gpt2",
                                                .qkv_bias = true,
                                                .fused_qkv = true,
                                                .gate = mlp_gate::gelu,
                                                .norm = norm_kind::layer,
                                                .gated_mlp = false,
                                                .linear_bias = true,
                                                .learned_positions = true};

ARX_NAMESPACE_END
