// arx/model/arch/llama.hpp — Llama 1/2/3, TinyLlama, SmolLM, Mistral (with
// llama.attention.sliding_window): the reference layout every other architecture differs from.
#pragma once

#include "arx/model/architecture.hpp"

ARX_NAMESPACE_BEGIN

inline constexpr architecture llama_architecture{.name = "llama"};

ARX_NAMESPACE_END
