// arx/sampling/greedy.hpp — greedy token selection: the id of the largest logit.
//
// Rules (deterministic, independent of SIMD tier):
//   - ties go to the LOWEST id (so the result does not depend on the scan order);
//   - NaN logits are never selected (a row with some NaNs picks among the others);
//   - +inf/-inf are ordinary values (a row of all -inf picks id 0);
//   - an empty row, or one with only NaNs, is an invalid_argument.
// A selector for arx::generate: any callable `token_id(std::span<const float>)` works there.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>

#include "arx/config.hpp"
#include "arx/core/error.hpp"

ARX_NAMESPACE_BEGIN

/// Token ids are int32 everywhere (the same alias as in arx/model/transformer.hpp; redeclaring an
/// alias to the same type is allowed, so the headers can be included in any order).
using token_id = std::int32_t;

struct greedy {
  /// The id of the largest non-NaN logit (lowest id on ties). invalid_argument when `logits` is
  /// empty, all NaN, or longer than the int32 id range.
  token_id operator()(std::span<const float> logits) const {
    if (logits.empty()) throw invalid_argument("greedy: empty logits row");
    if (logits.size() > std::size_t(std::numeric_limits<token_id>::max()) + 1)
      throw invalid_argument("greedy: logits row of " + std::to_string(logits.size()) +
                             " entries exceeds the int32 token id range");
    std::size_t best = logits.size();
    float best_value = 0.0f;
    for (std::size_t i = 0; i < logits.size(); ++i) {
      const float x = logits[i];
      if (std::isnan(x)) continue;
      if (best == logits.size() || x > best_value) {  // strict: the first of equals stays
        best = i;
        best_value = x;
      }
    }
    if (best == logits.size())
      throw invalid_argument("greedy: all " + std::to_string(logits.size()) + " logits are NaN");
    return token_id(best);
  }
};

ARX_NAMESPACE_END
