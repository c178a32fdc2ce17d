// Plain greedy decoding, the reference of the search-strategy tests: the prompt in one forward,
// then one single-token forward per token, argmax with ties to the lower id; and the same loop
// with any token selector (momentum decoding).
#pragma once

#include <arx/core/thread_pool.hpp>
#include <arx/model/transformer.hpp>

#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

namespace arx_test {

inline arx::token_id argmax(std::span<const float> row) {
  return arx::token_id(std::max_element(row.begin(), row.end()) - row.begin());  // first max
}

/// n tokens (fewer when the context fills up) after `prompt`, each chosen by select(logits row)
/// (which may keep state), one single-token forward per token.
template <class KV, class Select>
std::vector<arx::token_id> decode_with(const arx::transformer<KV>& m,
                                       const std::vector<arx::token_id>& prompt, std::size_t n,
                                       Select&& select, std::int64_t capacity = 0,
                                       arx::thread_pool* pool = nullptr) {
  auto seq = m.new_sequence(capacity);
  seq.set_thread_pool(pool);
  std::vector<arx::token_id> out;
  auto r = m.forward(seq, prompt);
  for (;;) {
    out.push_back(select(r.logits.row(0)));
    if (out.size() == n || seq.size() == seq.capacity()) return out;
    r = m.forward(seq, std::span(&out.back(), 1));
  }
}

/// Plain greedy decoding: decode_with argmax.
template <class KV>
std::vector<arx::token_id> plain_greedy(const arx::transformer<KV>& m,
                                        const std::vector<arx::token_id>& prompt, std::size_t n,
                                        std::int64_t capacity = 0,
                                        arx::thread_pool* pool = nullptr) {
  return decode_with(m, prompt, n, argmax, capacity, pool);
}

}  // namespace arx_test
