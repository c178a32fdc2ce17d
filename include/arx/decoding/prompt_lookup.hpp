// arx/decoding/prompt_lookup.hpp — a drafter that needs no model: prompt lookup (n-gram matching).
//
//   arx::prompt_lookup d{/*max_ngram=*/3, /*min_ngram=*/1};
//   std::vector<arx::token_id> draft = d.draft(history, /*gamma=*/5);
//
// The sequence so far (prompt + generated) often repeats itself: code, quoted documents, lists.
// draft() takes the last n tokens of `history` (n = max_ngram down to min_ngram, longest first),
// finds their most recent earlier occurrence, and proposes the (up to gamma) tokens that followed
// it. No occurrence for any n → an empty draft (the decoder then takes a plain step).
//
// The draft is deterministic, i.e. its q is one-hot at each proposed token, which keeps
// speculative sampling exact (../shared/ALGORITHMS.md §1; verify_draft with one-hot q rows).
// Cost: O(history · max_ngram) per call, scanning backwards.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "arx/config.hpp"
#include "arx/core/error.hpp"
#include "arx/sampling/candidates.hpp"

ARX_NAMESPACE_BEGIN

class prompt_lookup {
 public:
  /// 1 <= min_ngram <= max_ngram (invalid_argument otherwise).
  explicit prompt_lookup(int max_ngram = 3, int min_ngram = 1)
      : max_(max_ngram), min_(min_ngram) {
    if (min_ngram < 1 || max_ngram < min_ngram)
      throw invalid_argument("prompt_lookup: n-gram sizes must satisfy 1 <= min (" +
                             std::to_string(min_ngram) + ") <= max (" +
                             std::to_string(max_ngram) + ")");
  }

  int max_ngram() const noexcept { return max_; }
  int min_ngram() const noexcept { return min_; }

  /// Up to gamma tokens that followed the most recent earlier occurrence of the history's
  /// longest matching suffix (see the file comment). gamma < 0 → invalid_argument.
  std::vector<token_id> draft(std::span<const token_id> history, int gamma) const {
    if (gamma < 0)
      throw invalid_argument("prompt_lookup::draft: gamma " + std::to_string(gamma) +
                             " is negative");
    std::vector<token_id> out;
    const std::size_t size = history.size();
    if (gamma == 0) return out;
    for (int n = max_; n >= min_; --n) {
      const std::size_t len = std::size_t(n);
      if (size <= len) continue;
      const std::span<const token_id> key = history.subspan(size - len);
      // Occurrences starting at i < size - len (so at least one token follows), latest first.
      for (std::size_t i = size - len; i-- > 0;) {
        bool match = true;
        for (std::size_t k = 0; k < len && match; ++k) match = history[i + k] == key[k];
        if (!match) continue;
        for (std::size_t j = i + len; j < size && out.size() < std::size_t(gamma); ++j)
          out.push_back(history[j]);
        return out;
      }
    }
    return out;
  }

 private:
  int max_, min_;
};

ARX_NAMESPACE_END
