// arx/model/architectures.hpp — every architecture arx runs, by general.architecture name.
// Adding one: a file in model/arch/ describing it (see architecture.hpp) and a line below.
#pragma once

#include <string>
#include <string_view>

#include "arx/config.hpp"
#include "arx/model/arch/gemma.hpp"
#include "arx/model/arch/gpt2.hpp"
#include "arx/model/arch/llama.hpp"
#include "arx/model/arch/phi3.hpp"
#include "arx/model/arch/qwen2.hpp"
#include "arx/model/architecture.hpp"

ARX_NAMESPACE_BEGIN

inline constexpr const architecture* known_architectures[] = {
    &llama_architecture,
    &qwen2_architecture,
    &phi3_architecture,
    &gemma_architecture,
    &gpt2_architecture,
};

/// The description of `name`, or nullptr when arx does not run it.
constexpr const architecture* find_architecture(std::string_view name) noexcept {
  for (const architecture* a : known_architectures)
    if (a->name == name) return a;
  return nullptr;
}

/// "llama, qwen2, phi3, gemma, gpt2" — for error messages.
inline std::string known_architecture_names() {
  std::string s;
  for (const architecture* a : known_architectures) {
    if (!s.empty()) s += ", ";
    s += a->name;
  }
  return s;
}

ARX_NAMESPACE_END
