// arx/model/arch/gemma.hpp — Gemma (1): embeddings scaled by sqrt(n_embd), GeGLU MLP, NeoX RoPE,
// head size from gemma.attention.key_length (256 in the 2B/7B models, not n_embd / n_head), tied
// embeddings. GGUF stores the RMSNorm weights as the multiplier (1 + w of the checkpoint).
#pragma once

#include "arx/model/architecture.hpp"

ARX_NAMESPACE_BEGIN

inline constexpr architecture gemma_architecture{.name = "gemma",
                                                 .rope = ops::rope_layout::neox,
                                                 .gate = mlp_gate::gelu,
                                                 .scale_embeddings = true};

ARX_NAMESPACE_END
