// Contrastive search by its definition, slowly (ALGORITHMS.md §3): every step runs a fresh
// forward of the whole text (the context's hidden states and p) and one fresh forward of
// text + v per candidate v — no KV sharing, no reuse, cosines in double. The independent
// reference of arx::contrastive_search in the unit and reference tests.
#pragma once

#include <arx/model/transformer.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <span>
#include <vector>

namespace contrastive_slow {

using tokens_t = std::vector<arx::token_id>;

inline double cosine(std::span<const float> a, std::span<const float> b) {
  double ab = 0, aa = 0, bb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    ab += double(a[i]) * double(b[i]);
    aa += double(a[i]) * double(a[i]);
    bb += double(b[i]) * double(b[i]);
  }
  return aa > 0 && bb > 0 ? ab / std::sqrt(aa * bb) : 0.0;
}

/// n tokens after `prompt`; `off_top` counts the steps whose winner was not the most probable.
template <class KV>
tokens_t run(const arx::transformer<KV>& m, const tokens_t& prompt, int k, double alpha,
             std::size_t n, int& off_top) {
  tokens_t text = prompt, out;
  const std::int64_t d = m.config().n_embd;
  while (out.size() < n) {
    auto s = m.new_sequence();
    const auto r = m.forward(s, text, arx::forward_request{arx::rows::last, arx::rows::all});
    std::vector<std::vector<float>> ctx;
    for (std::int64_t j = 0; j < r.hidden.shape(0); ++j) {
      const auto h = r.hidden.row(j);
      ctx.emplace_back(h.begin(), h.end());
    }
    const auto logits = r.logits.row(0);
    const double mx = *std::max_element(logits.begin(), logits.end());
    std::vector<double> p(logits.size());
    double sum = 0;
    for (std::size_t i = 0; i < p.size(); ++i) sum += p[i] = std::exp(double(logits[i]) - mx);
    for (double& x : p) x /= sum;
    tokens_t ids(p.size());
    std::iota(ids.begin(), ids.end(), 0);
    std::stable_sort(ids.begin(), ids.end(), [&](auto a, auto b) { return p[a] > p[b]; });
    arx::token_id best = -1;
    double best_score = -1e300;
    for (int c = 0; c < k; ++c) {
      tokens_t t2 = text;
      t2.push_back(ids[std::size_t(c)]);
      auto s2 = m.new_sequence();
      const auto r2 = m.forward(s2, t2, arx::forward_request{arx::rows::last, arx::rows::last});
      const auto hv = r2.hidden.row(0);
      REQUIRE(std::int64_t(hv.size()) == d);
      double cmax = -1e300;
      for (const auto& h : ctx) cmax = std::max(cmax, cosine(hv, h));
      const double score = (1 - alpha) * p[std::size_t(ids[std::size_t(c)])] - alpha * cmax;
      if (score > best_score) {
        best_score = score;
        best = ids[std::size_t(c)];
      }
    }
    if (best != ids[0]) ++off_top;
    out.push_back(best);
    text.push_back(best);
  }
  return out;
}

}  // namespace contrastive_slow
