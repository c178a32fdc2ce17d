// arx/decoding/speculative_sampling.hpp — the exact acceptance step of speculative sampling
// (Leviathan, Kalman & Matias; Chen et al.; ../shared/ALGORITHMS.md §1, steps 3–4).
//
//   arx::speculative_verdict v = arx::verify_draft(p, q, drafted, g);
//   // emit drafted[0 .. v.accepted), then v.next
//
// A round drafts γ tokens x_1..x_γ, each *sampled* from the draft's processed distribution q_i
// (after the same logit processors as the target's, and q_i must be the vector x_i was drawn
// from), then runs the target once over them, giving p_1..p_{γ+1}. verify_draft accepts x_i left to
// right while u_i · q_i(x_i) < p_i(x_i) (u_i uniform in [0, 1), i.e. with probability
// min(1, p_i(x_i) / q_i(x_i))); at the first rejection it draws the next token from the residual
// norm(max(0, p_i − q_i)), and when all γ are accepted it draws a bonus token from p_{γ+1}. The
// emitted tokens are then distributed exactly as plain sampling from the target, whatever q is.
// With one-hot p and q (greedy target and drafter) it reduces to "accept while the drafted token
// is the target's argmax, then emit the target's argmax": speculative greedy == plain greedy.
//
// Shapes: p: [γ + 1][n_vocab], q: [γ][n_vocab], drafted: [γ] (γ >= 0; γ = 0 just draws from p_1).
// Both are dense probability rows (sampler_chain::distribution / chain::distribution give them).
// Draws: one g.uniform() per examined draft token, then one for the residual or bonus draw, which
// takes the first id whose cumulative probability (in id order, double sums) exceeds u · total.
// Errors (arx::invalid_argument, nothing drawn): mismatched shapes, a drafted id outside
// [0, n_vocab), a row with a negative or non-finite entry or a sum outside 1 ± 1e-3, and a drafted
// token with q_i(x_i) = 0 (it cannot have been sampled from q_i: the classic way to break
// exactness is to draft the argmax or to pass the distribution before truncation).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "arx/config.hpp"
#include "arx/core/error.hpp"
#include "arx/core/tensor.hpp"
#include "arx/sampling/candidates.hpp"
#include "arx/sampling/rng.hpp"

ARX_NAMESPACE_BEGIN

/// The outcome of one verification: emit drafted[0, accepted) and then `next`.
struct speculative_verdict {
  std::int64_t accepted = 0;  ///< drafted tokens accepted (0..γ)
  token_id next = -1;         ///< the token after them: residual draw, or the bonus when all pass
  bool bonus = false;         ///< true when all γ were accepted and `next` came from p_{γ+1}
};

namespace detail {

inline void check_distribution(std::span<const float> row, const char* what, std::int64_t i) {
  double sum = 0.0;
  for (std::size_t v = 0; v < row.size(); ++v) {
    const float x = row[v];
    if (!(x >= 0.0f) || std::isinf(x))
      throw invalid_argument(std::string("verify_draft: ") + what + " row " + std::to_string(i) +
                             " has entry " + std::to_string(x) + " at token " +
                             std::to_string(v) + " (probabilities must be finite and >= 0)");
    sum += double(x);
  }
  if (std::fabs(sum - 1.0) > 1e-3)
    throw invalid_argument(std::string("verify_draft: ") + what + " row " + std::to_string(i) +
                           " sums to " + std::to_string(sum) + ", not 1");
}

/// Draws from weights w(v) >= 0 (v in id order) with total `total` > 0: the first id whose
/// cumulative weight exceeds u · total (the last id with weight > 0 if rounding leaves it short).
template <class Weight>
token_id draw_weighted(std::size_t n, const Weight& w, double total, rng& g) {
  const double target = g.uniform() * total;
  double cum = 0.0;
  token_id last = -1;
  for (std::size_t v = 0; v < n; ++v) {
    const double x = w(v);
    if (x <= 0.0) continue;
    cum += x;
    last = token_id(v);
    if (target < cum) return last;
  }
  return last;
}

}  // namespace detail

/// Draws a token from the dense distribution p (see the file comment for the draw).
inline token_id draw_from(std::span<const float> p, rng& g) {
  double total = 0.0;
  for (float x : p) total += double(x);
  if (!(total > 0.0)) throw invalid_argument("draw_from: the distribution has no mass");
  return detail::draw_weighted(p.size(), [&](std::size_t v) { return double(p[v]); }, total, g);
}

/// One speculative round's verification. p: [γ + 1][n_vocab] target rows, q: [γ][n_vocab] draft
/// rows, drafted: [γ]. See the file comment.
inline speculative_verdict verify_draft(tensor_view<const float> p, tensor_view<const float> q,
                                        std::span<const token_id> drafted, rng& g) {
  const auto gamma = std::int64_t(drafted.size());
  if (p.rank() != 2 || q.rank() != 2 || p.shape(0) != gamma + 1 || q.shape(0) != gamma ||
      (gamma > 0 && q.shape(1) != p.shape(1)) || p.shape(1) <= 0)
    throw invalid_argument("verify_draft: " + std::to_string(gamma) +
                           " drafted tokens need p [" + std::to_string(gamma + 1) +
                           ", n_vocab] and q [" + std::to_string(gamma) + ", n_vocab], got p " +
                           p.shape().str() + " and q " + q.shape().str());
  const std::int64_t n_vocab = p.shape(1);
  for (std::int64_t i = 0; i <= gamma; ++i) detail::check_distribution(p.row(i), "p", i);
  for (std::int64_t i = 0; i < gamma; ++i) {
    detail::check_distribution(q.row(i), "q", i);
    const token_id x = drafted[std::size_t(i)];
    if (x < 0 || x >= n_vocab)
      throw invalid_argument("verify_draft: drafted token " + std::to_string(x) + " at " +
                             std::to_string(i) + " is outside [0, " + std::to_string(n_vocab) +
                             ")");
    if (!(q(i, x) > 0.0f))
      throw invalid_argument("verify_draft: drafted token " + std::to_string(x) + " at " +
                             std::to_string(i) +
                             " has probability 0 under q: it was not sampled from q");
  }

  speculative_verdict v;
  for (std::int64_t i = 0; i < gamma; ++i) {
    const token_id x = drafted[std::size_t(i)];
    if (g.uniform() * double(q(i, x)) < double(p(i, x))) {
      ++v.accepted;
      continue;
    }
    // Rejected: p_i(x) < q_i(x), so the residual max(0, p_i - q_i) has mass elsewhere.
    const auto pi = p.row(i), qi = q.row(i);
    const auto residual = [&](std::size_t t) {
      const double r = double(pi[t]) - double(qi[t]);
      return r > 0.0 ? r : 0.0;
    };
    double total = 0.0;
    for (std::size_t t = 0; t < std::size_t(n_vocab); ++t) total += residual(t);
    // total == 0 is only reachable through rounding (p_i == q_i accepts surely); p_i is then the
    // residual's limit.
    v.next = total > 0.0 ? detail::draw_weighted(std::size_t(n_vocab), residual, total, g)
                         : draw_from(pi, g);
    return v;
  }
  v.bonus = true;
  v.next = draw_from(p.row(gamma), g);
  return v;
}

ARX_NAMESPACE_END
