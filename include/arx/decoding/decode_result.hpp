// arx/decoding/decode_result.hpp — what the search strategies of decoding/ (contrastive, Jacobi,
// beam; momentum runs inside arx::generate) return, and the callback convention they share.
//
// Every strategy's generate(seq, prompt, max_tokens, on_token, eos) evaluates `prompt` after what
// `seq` holds, emits up to max_tokens tokens and calls on_token(id) for each as soon as it is
// final (on_token may return void, or something convertible to bool: false = cancel). eos < 0:
// never stop at EOS; otherwise an emitted EOS is the last token and ends the call.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <functional>
#include <type_traits>
#include <vector>

#include "arx/config.hpp"
#include "arx/core/error.hpp"
#include "arx/generation/generate.hpp"  // stop_reason, token_id

ARX_NAMESPACE_BEGIN

struct decode_stats {
  std::int64_t n_prompt = 0;        ///< tokens evaluated by the prefill
  std::int64_t forwards = 0;        ///< model forward calls after the prefill
  std::int64_t forward_tokens = 0;  ///< tokens those calls evaluated (batch rows summed)
  double prompt_seconds = 0;        ///< the prefill
  double decode_seconds = 0;        ///< everything after it

  /// Emitted tokens per forward call after the prefill (0 when there was none).
  double tokens_per_forward(std::int64_t emitted) const noexcept {
    return forwards > 0 ? double(emitted) / double(forwards) : 0.0;
  }
};

struct decode_result {
  std::vector<token_id> tokens;  ///< emitted tokens (an EOS that stopped the call is the last)
  stop_reason reason = stop_reason::max_tokens;  ///< eos, max_tokens, cancelled or context_full
  decode_stats stats;
};

namespace detail {

using decode_clock = std::chrono::steady_clock;

/// Seconds from t to now.
inline double seconds_since(decode_clock::time_point t) {
  return std::chrono::duration<double>(decode_clock::now() - t).count();
}

/// What every strategy's generate() checks first: a prompt, and max_tokens > 0
/// (invalid_argument naming `who`).
inline void check_decode_call(const char* who, std::size_t prompt_size, std::int64_t max_tokens) {
  if (prompt_size == 0) throw invalid_argument(std::string(who) + ": empty prompt");
  if (max_tokens <= 0)
    throw invalid_argument(std::string(who) + ": max_tokens " + std::to_string(max_tokens) +
                           " must be > 0");
}

/// Calls on_token(id); true unless it returned something false.
template <class F>
bool call_on_token(F& f, token_id id) {
  if constexpr (std::is_void_v<std::invoke_result_t<F&, token_id>>) {
    std::invoke(f, id);
    return true;
  } else {
    return static_cast<bool>(std::invoke(f, id));
  }
}

}  // namespace detail

ARX_NAMESPACE_END
