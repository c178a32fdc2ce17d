// arx/decoding/speculative_tree.hpp — exact verification of a draft TREE (SpecInfer's recursive
// rejection sampling; ../shared/ALGORITHMS.md §2).
//
//   arx::tree_verdict v = arx::verify_tree(p, q, tokens, parents, g);
//   // emit tokens[v.path[0]], tokens[v.path[1]], ..., then v.next
//
// The tree: m drafted nodes in topological order; node i holds tokens[i] and hangs below
// parents[i] (< i), or below the root (-1) — the position right after the history. Each node's
// token must have been drawn from q[i], the draft's distribution at its parent, independently of
// its siblings (sampled with replacement, or chosen deterministically with q[i] one-hot at it).
// p: [m + 1][n_vocab] target rows: row 0 at the root, row i + 1 after node i (one tree forward).
//
// Walk from the root. At a node with target distribution r (p's row at first), try its children
// in index order: accept child c with probability min(1, r(x_c) / q_c(x_c)) and move to it;
// after a rejection r becomes norm(max(0, r − q_c)) and the next child is tried against it. If
// every child is rejected the next token is drawn from the last r; at a node without children
// (a leaf reached by acceptances, or the root of an empty tree) it is drawn from its p row (a
// bonus). Each step is the one-draft acceptance test against what is left of r, so by induction
// over the children the emitted token at every node is distributed exactly as r, and the output
// as plain sampling from the target. With one-hot p (greedy) the walk follows the child that is
// the target's argmax and otherwise emits the argmax: plain greedy decoding.
//
// Draws: one g.uniform() per tried child, one for the final draw (first id whose cumulative
// weight, in id order, exceeds u · total). Errors (arx::invalid_argument, nothing drawn): shapes,
// a parent outside [-1, i), an id outside [0, n_vocab), a row that is not a distribution
// (entries finite and >= 0, sum 1 ± 1e-3), a token with q = 0.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "arx/config.hpp"
#include "arx/core/error.hpp"
#include "arx/core/tensor.hpp"
#include "arx/decoding/speculative_sampling.hpp"
#include "arx/sampling/rng.hpp"

ARX_NAMESPACE_BEGIN

/// The outcome of verifying a tree: emit tokens[path[0]], tokens[path[1]], ..., then `next`.
struct tree_verdict {
  std::vector<std::int64_t> path;  ///< accepted nodes, root's child first
  token_id next = -1;              ///< the token after them
  bool bonus = false;              ///< next came from the p row of a node without children
};

inline tree_verdict verify_tree(tensor_view<const float> p, tensor_view<const float> q,
                                std::span<const token_id> tokens,
                                std::span<const std::int32_t> parents, rng& g) {
  const auto m = std::int64_t(tokens.size());
  if (std::int64_t(parents.size()) != m || p.rank() != 2 || q.rank() != 2 ||
      p.shape(0) != m + 1 || q.shape(0) != m || (m > 0 && q.shape(1) != p.shape(1)) ||
      p.shape(1) <= 0)
    throw invalid_argument("verify_tree: " + std::to_string(m) + " nodes with " +
                           std::to_string(parents.size()) + " parents need p [" +
                           std::to_string(m + 1) + ", n_vocab] and q [" + std::to_string(m) +
                           ", n_vocab], got p " + p.shape().str() + " and q " + q.shape().str());
  const std::int64_t n_vocab = p.shape(1);
  for (std::int64_t i = 0; i <= m; ++i) detail::check_distribution(p.row(i), "p", i);
  for (std::int64_t i = 0; i < m; ++i) {
    detail::check_distribution(q.row(i), "q", i);
    const token_id x = tokens[std::size_t(i)];
    if (parents[std::size_t(i)] < -1 || parents[std::size_t(i)] >= i)
      throw invalid_argument("verify_tree: node " + std::to_string(i) + " has parent " +
                             std::to_string(parents[std::size_t(i)]) + ", outside [-1, " +
                             std::to_string(i) + ")");
    if (x < 0 || x >= n_vocab)
      throw invalid_argument("verify_tree: node " + std::to_string(i) + " holds token " +
                             std::to_string(x) + ", outside [0, " + std::to_string(n_vocab) + ")");
    if (!(q(i, x) > 0.0f))
      throw invalid_argument("verify_tree: node " + std::to_string(i) + "'s token " +
                             std::to_string(x) + " has probability 0 under its q row");
  }

  tree_verdict v;
  std::vector<double> r(static_cast<std::size_t>(n_vocab));
  std::int64_t node = -1;
  for (;;) {
    const auto pr = p.row(node + 1);
    for (std::size_t t = 0; t < r.size(); ++t) r[t] = double(pr[t]);
    double total = 1.0;  // r sums to `total` (kept unnormalised)
    bool moved = false, tried = false;
    for (std::int64_t c = node + 1; c < m && !moved; ++c) {
      if (parents[std::size_t(c)] != node) continue;
      tried = true;
      const token_id x = tokens[std::size_t(c)];
      const auto qc = q.row(c);
      if (g.uniform() * double(qc[std::size_t(x)]) * total < r[std::size_t(x)]) {
        v.path.push_back(c);
        node = c;
        moved = true;
        break;
      }
      // rejected: r <- max(0, r / total - q_c), unnormalised
      double next_total = 0.0;
      std::vector<double> next(r.size());
      for (std::size_t t = 0; t < r.size(); ++t) {
        const double d = r[t] / total - double(qc[t]);
        next[t] = d > 0.0 ? d : 0.0;
        next_total += next[t];
      }
      // next_total == 0 only through rounding (r == q_c accepts surely): keep r as its limit
      if (next_total > 0.0) {
        r.swap(next);
        total = next_total;
      }
    }
    if (moved) continue;
    v.bonus = !tried;
    v.next = detail::draw_weighted(r.size(), [&](std::size_t t) { return r[t]; }, total, g);
    return v;
  }
}

ARX_NAMESPACE_END
