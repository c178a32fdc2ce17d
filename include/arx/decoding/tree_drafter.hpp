// arx/decoding/tree_drafter.hpp — a drafter that proposes a TREE of tokens from a draft model
// (or from the target with layers skipped), chosen to maximise the expected accepted length as
// in OPT-Tree, for speculative_decoder (speculative.hpp) to verify in one target forward.
//
//   arx::tree_drafter<> d(arx::transformer<>::load("small.gguf"), {.branch = 4, .max_depth = 6});
//   arx::speculative_decoder dec(target, sampler, std::move(d), {.draft_max = 12});  // 12 nodes
//
// Each proposal grows a tree of at most γ nodes below the history's last token. A node's score is
// the product of the draft's probabilities (softmax of its logits) along its branch — its estimate
// of the chance that the target accepts the whole branch — so the sum of the scores estimates the
// expected accepted length, and taking the highest-scoring candidates first maximises it (a child
// never scores above its parent, so the chosen set is always a tree). Level by level: one tree
// forward of the draft over the root and every node so far gives the distribution at each node of
// the newest level; its `branch` most likely tokens become candidates; then the best remaining
// candidates (at most `branch` per level, of any earlier level too) join the tree. It stops at γ
// nodes, at max_depth, when the best candidate scores below draft_p_min, or when a level would add
// less than min_gain to the expected accepted length (OPT-Tree's δ; 0 by default).
// The choice is deterministic, so each node's q row is one-hot at its token, which keeps the
// verification exact (verify_tree) for any sampler; with a greedy target the output is plain
// greedy decoding.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "arx/config.hpp"
#include "arx/core/error.hpp"
#include "arx/core/thread_pool.hpp"
#include "arx/decoding/speculative.hpp"
#include "arx/model/transformer.hpp"

ARX_NAMESPACE_BEGIN

/// How a tree_drafter grows its trees.
struct tree_shape {
  int branch = 4;         ///< candidates per expanded node, and nodes added per level
  int max_depth = 8;      ///< the deepest node's depth (1 = children of the root only)
  double min_gain = 0.0;  ///< stop when a level would add less than this to the expected
                          ///< accepted length (the sum of its nodes' scores; OPT-Tree's δ)
};

template <class KV = float>
class tree_drafter {
 public:
  /// capacity 0: the draft model's training context. skip_layers / skip_ffn: self-speculation
  /// (pass the target itself), as for model_drafter.
  explicit tree_drafter(transformer<KV> model, tree_shape shape = {}, std::int64_t capacity = 0,
                        thread_pool* pool = nullptr, std::vector<std::int64_t> skip_layers = {},
                        std::vector<std::int64_t> skip_ffn = {})
      : model_(std::move(model)), shape_(shape), seq_(model_.new_sequence(capacity)),
        skip_layers_(std::move(skip_layers)), skip_ffn_(std::move(skip_ffn)) {
    if (shape_.branch < 1 || shape_.max_depth < 1)
      throw invalid_argument("tree_drafter: branch " + std::to_string(shape_.branch) +
                             " and max_depth " + std::to_string(shape_.max_depth) +
                             " must both be >= 1");
    detail::check_skips(model_.config().n_layer, skip_layers_, skip_ffn_, "tree_drafter");
    seq_.set_thread_pool(pool);
  }

  void check_target(const llama_weights& target) const {
    check_same_vocabulary(target, model_.weights());
  }

  void propose(std::span<const token_id> history, int gamma, const draft_sampler& s, rng&,
               draft_block& out) {
    out.clear();
    const auto h = std::int64_t(history.size());
    if (gamma <= 0 || h == 0) return;
    // the root sits at position h - 1, nodes at h - 1 + n; all must fit the draft's context
    gamma = int(std::min<std::int64_t>(gamma, seq_.capacity() - h));
    if (gamma <= 0) return;
    // The sequence keeps the history's common prefix, at most h - 1 tokens (the root is
    // re-evaluated with every level's tree).
    std::int64_t keep = 0;
    while (keep < std::int64_t(held_.size()) && keep < h - 1 &&
           held_[std::size_t(keep)] == history[std::size_t(keep)])
      ++keep;
    seq_.truncate(keep);
    forward_request req{rows::none, rows::none, skip_layers_, skip_ffn_};
    if (keep < h - 1)
      (void)model_.forward(seq_, history.subspan(std::size_t(keep), std::size_t(h - 1 - keep)),
                           req);
    const std::int64_t pos = h - 1;

    struct candidate {
      double score;
      std::int32_t parent;  // node index, -1 = root
      token_id token;
    };
    std::vector<candidate> pool;
    std::vector<double> score;             // per node
    std::vector<std::int32_t> frontier = {-1};
    std::vector<token_id> batch;
    std::vector<std::int32_t> parents;
    work_.resize(std::size_t(s.n_vocab));
    for (int depth = 1; depth <= shape_.max_depth && !frontier.empty(); ++depth) {
      // the draft's distributions at the newest level
      batch.assign(1, history.back());
      batch.insert(batch.end(), out.tokens.begin(), out.tokens.end());
      parents.assign(1, -1);
      for (const std::int32_t p : out.parents) parents.push_back(p + 1);
      req.logits = rows::all;
      req.tree_parents = parents;
      const auto r = model_.forward(seq_, batch, pos, req);
      for (const std::int32_t f : frontier) {
        softmax_row(r.logits.row(f + 1));
        const double base = f < 0 ? 1.0 : score[std::size_t(f)];
        for (int k = 0; k < shape_.branch; ++k) {
          const auto best = std::max_element(work_.begin(), work_.end());
          if (*best <= 0.0f) break;
          pool.push_back({base * double(*best), f, token_id(best - work_.begin())});
          *best = -1.0f;  // taken
        }
      }
      // the best candidates join the tree (at most `branch` per level)
      std::stable_sort(pool.begin(), pool.end(),
                       [](const candidate& a, const candidate& b) { return a.score > b.score; });
      frontier.clear();
      std::size_t taken = 0;
      std::size_t level = 0;  // candidates this level would take, and their expected gain
      double gain = 0.0;
      while (level < pool.size() && int(level) < shape_.branch &&
             std::int64_t(out.tokens.size() + level) < gamma &&
             pool[level].score >= double(s.p_min))
        gain += pool[level++].score;
      if (gain < shape_.min_gain) break;
      while (taken < level) {
        const candidate& c = pool[taken++];
        // children of a node added at this level are not candidates yet, so a parent always
        // precedes its children and its depth is below max_depth
        frontier.push_back(std::int32_t(out.tokens.size()));
        out.tokens.push_back(c.token);
        out.parents.push_back(c.parent);
        score.push_back(c.score);
        out.q.resize(out.q.size() + std::size_t(s.n_vocab), 0.0f);
        out.q[out.q.size() - std::size_t(s.n_vocab) + std::size_t(c.token)] = 1.0f;
      }
      pool.erase(pool.begin(), pool.begin() + std::ptrdiff_t(taken));
      if (std::int64_t(out.tokens.size()) >= gamma) break;
    }
    // the root's row is a valid chain position; the tree rows after it are not kept
    seq_.truncate(std::min(seq_.size(), h));
    held_.assign(history.begin(), history.begin() + seq_.size());
  }

 private:
  // work_ = softmax of the draft's raw logits (the scores; the target's processors do not apply:
  // a greedy sampler would leave one candidate per node)
  void softmax_row(std::span<const float> logits) {
    const float mx = *std::max_element(logits.begin(), logits.end());
    double sum = 0.0;
    for (std::size_t i = 0; i < logits.size(); ++i) {
      work_[i] = std::exp(logits[i] - mx);
      sum += double(work_[i]);
    }
    const float inv = float(1.0 / sum);
    for (float& x : work_) x *= inv;
  }

  transformer<KV> model_;
  tree_shape shape_;
  sequence<KV> seq_;
  std::vector<std::int64_t> skip_layers_, skip_ffn_;
  std::vector<token_id> held_;
  std::vector<float> work_;
};

ARX_NAMESPACE_END
