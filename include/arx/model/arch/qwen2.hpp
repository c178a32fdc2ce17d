// arx/model/arch/qwen2.hpp — Qwen2 / Qwen2.5: biases on the q, k and v projections, NeoX RoPE
// (theta 1e6 in the released models, read from qwen2.rope.freq_base), often tied embeddings.
#pragma once

#include "arx/model/architecture.hpp"

ARX_NAMESPACE_BEGIN

inline constexpr architecture qwen2_architecture{
    .name = "qwen2", .rope = ops::rope_layout::neox, .qkv_bias = true};

ARX_NAMESPACE_END
