// Plain greedy decoding, the reference of the search-strategy tests: the prompt in one forward,
// then one single-token forward per token, argmax with ties to the lower id.
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

/// n tokens (fewer when the context fills up) after `prompt`.
template <class KV>
std::vector<arx::token_id> plain_greedy(const arx::transformer<KV>& m,
                                        const std::vector<arx::token_id>& prompt, std::size_t n,
                                        std::int64_t capacity = 0,
                                        arx::thread_pool* pool = nullptr) {
  auto seq = m.new_sequence(capacity);
  seq.set_thread_pool(pool);
  std::vector<arx::token_id> out;
  auto r = m.forward(seq, prompt);
  for (;;) {
    out.push_back(argmax(r.logits.row(0)));
    if (out.size() == n || seq.size() == seq.capacity()) return out;
    r = m.forward(seq, std::span(&out.back(), 1));
  }
}

}  // namespace arx_test
