// The golden cases of one reference model (golden/<model>/*.json): prompt ids and llama.cpp's
// greedy continuation ids, for the tests that compare whole generations.
#pragma once

#include <arx/generation/generate.hpp>  // token_id

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "json.hpp"
#include "reference.hpp"

namespace arx_test {

struct golden_case {
  std::string file;
  std::vector<arx::token_id> prompt, greedy;  // prompt_ids, greedy_ids
};

inline std::vector<arx::token_id> json_ids(const json& a) {
  std::vector<arx::token_id> out;
  for (const auto& x : a.items) out.push_back(arx::token_id(x.num));
  return out;
}

/// Every case of golden/<model>, sorted by file name (empty when the folder is absent).
inline std::vector<golden_case> golden_cases(const std::string& model) {
  std::vector<golden_case> out;
  for (const auto& f : reference_files("golden/" + model, ".json")) {
    std::ifstream in(f, std::ios::binary);
    const json g = parse_json(
        std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()));
    out.push_back({f.string(), json_ids(g["prompt_ids"]), json_ids(g["greedy_ids"])});
  }
  return out;
}

}  // namespace arx_test
