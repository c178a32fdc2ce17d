// arx/model/arch/phi3.hpp — Phi-3: q, k and v in one matrix (attn_qkv, rows [q; k; v]), gate and
// up in one (ffn_up, rows [gate; up]), NeoX RoPE, sliding-window attention when the file sets
// phi3.attention.sliding_window.
#pragma once

#include "arx/model/architecture.hpp"

ARX_NAMESPACE_BEGIN

inline constexpr architecture phi3_architecture{.name = "phi3",
                                                .rope = ops::rope_layout::neox,
                                                .fused_qkv = true,
                                                .fused_gate_up = true};

ARX_NAMESPACE_END
