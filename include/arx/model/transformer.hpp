// arx/model/transformer.hpp — the decoder (llama, qwen2, phi3, gemma, gpt2): shared
// immutable weights, per-sequence state owned by the caller, one forward entry point for a batch
// of tokens.
//
//   auto model = arx::transformer<float>::load("model.gguf");    // KV cache element: float or f16
//   auto seq = model.new_sequence();                              // context = training context
//   auto out = model.forward(seq, prompt_ids);                    // one batch (matrix-matrix)
//   out.logits.row(0)                                             // [n_vocab] after the last token
//   out = model.forward(seq, std::span(&next, 1));                // one more position
//
// The SIMD tier is fixed at compile time (see arx/config.hpp); the KV element type is the template
// parameter. A transformer is a cheap handle (a shared_ptr to the weights): copy it, use it from
// many threads at once, each with its own sequence.
//
// Data flow of forward() for a batch of n tokens at positions [pos, pos + n), per layer l
// (the architecture's variations, model/architecture.hpp, in brackets):
//   x      [n][n_embd]      residual stream, starts as the token embeddings [· sqrt(n_embd)]
//                           [+ learned position embeddings, and then no RoPE]
//   xn     [n][n_embd]      rms_norm(x) * attn_norm  [layer_norm(x) * attn_norm + its bias]
//   q      [n][n_head][head_dim] = xn · Wqᵀ,  k, v [n][n_head_kv][head_dim] = xn · Wkᵀ, xn · Wvᵀ
//          [+ bq, bk, bv]   [Wq, Wk, Wv: row ranges of one fused attn_qkv]
//   RoPE on q and k (pairs (2i, 2i+1) [or NeoX halves], angle (pos + t) · base^(−2i / n_rot));
//          k, v → KV cache
//   att    [n][n_head][head_dim]  causal attention of token t over cache positions [0, pos + t]
//          [only the last n_swa of them with a sliding window]
//   x     += att · Woᵀ [+ bo]
//   xn     = rms_norm(x) * ffn_norm;   x += (silu [gelu](xn · Wgateᵀ) ⊙ (xn · Wupᵀ)) · Wdownᵀ
//          [Wgate, Wup: row ranges of one fused ffn_up] [no gate: gelu(xn · Wupᵀ + b) · Wdownᵀ + b]
// then hidden = rms_norm(x) * output_norm and logits = hidden · Woutputᵀ for the rows asked for.
//
// Every matrix product is ops::gemm, which is batch-invariant: a token's logits are bit-identical
// whether the prompt is evaluated as one batch or token by token. Q8_0 and Q4_0 matrices multiply
// Q8_0-quantized activations (as llama.cpp does); F32/F16/BF16 and the other block types (decoded
// to f32 on the fly) use f32 activations.
//
// Attention per token and KV head g: the G = n_head / n_head_kv query heads that share g score
// the p + 1 cached keys in one ops::gemm (each key row is loaded once for the G heads; the
// kernel is batch-invariant, so a head's scores do not depend on G), one f32 softmax per head,
// then the weighted sum of values — time and memory linear in the context, no [n][n] mask.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "arx/config.hpp"
#include "arx/core/error.hpp"
#include "arx/core/half.hpp"
#include "arx/core/memory.hpp"
#include "arx/core/tensor.hpp"
#include "arx/core/thread_pool.hpp"
#include "arx/model/config.hpp"
#include "arx/model/kv_cache.hpp"
#include "arx/model/weights.hpp"
#include "arx/ops/activation.hpp"
#include "arx/ops/convert.hpp"
#include "arx/ops/dot.hpp"
#include "arx/ops/elementwise.hpp"
#include "arx/ops/gemm.hpp"
#include "arx/ops/norm.hpp"
#include "arx/ops/rope.hpp"
#include "arx/ops/softmax.hpp"

ARX_NAMESPACE_BEGIN

using token_id = std::int32_t;

/// Which rows of a batch an output is wanted for.
enum class rows {
  none,  ///< no row
  last,  ///< the last token of the batch (next-token prediction)
  all,   ///< every token of the batch (scoring a prompt, speculative verification)
};

/// What forward() should return besides updating the KV cache.
struct forward_request {
  rows logits = rows::last;  ///< rows of logits
  rows hidden = rows::none;  ///< rows of the final-norm hidden state (contrastive search)
  /// Layers left out, for self-speculative drafting (ALGORITHMS.md §8): `skip_layers` lose both
  /// blocks, `skip_ffn` their MLP block only; the residual stream passes them unchanged. A skipped
  /// attention block writes no KV, so run a sequence with the same sets every time (a draft
  /// sequence apart from the full model's). Ids outside [0, n_layer) -> invalid_argument.
  std::span<const std::int64_t> skip_layers{};
  std::span<const std::int64_t> skip_ffn{};
  /// A tree of tokens instead of a chain (speculative draft trees): tree_parents[t] is the batch
  /// index of token t's parent (< t), or -1 for a token that follows the cached prefix directly.
  /// Token t sits at RoPE position pos + depth(t) and attends to the cached positions [0, pos)
  /// and to its ancestors in the batch (itself included), in depth order — exactly the keys and
  /// the order of a chain forward of that branch, so a branch's logits equal the chain's. Its KV
  /// rows are stored at batch order (pos + t); afterwards keep only one branch with
  /// sequence::keep_rows (or truncate) before appending more. Empty: the usual causal chain.
  /// Size != n or a parent outside [-1, t) -> invalid_argument.
  std::span<const std::int32_t> tree_parents{};
};

/// Views into the sequence's buffers, valid until the next forward() on that sequence.
struct forward_result {
  tensor_view<const float> logits;  // {n_rows, n_vocab}; n_rows = 0, 1 or n per the request
  tensor_view<const float> hidden;  // {n_rows, n_embd}: rms_norm(x) * output_norm
};

template <class KV>
class transformer;
template <class KV>
class sequence;

/// One sequence's share of a forward over several sequences (transformer::forward_batch).
template <class KV = float>
struct batch_entry {
  sequence<KV>* seq = nullptr;
  std::span<const token_id> tokens;  ///< appended at pos
  std::int64_t pos = -1;             ///< -1: seq->size(); else in [0, seq->size()] (rollback)
};

/// The state of one sequence: its KV cache and the scratch buffers of forward(). Owned by the
/// caller; a transformer never keeps a reference to it. Move-only; clone() forks it.
template <class KV = float>
class sequence {
 public:
  sequence(sequence&&) noexcept = default;
  sequence& operator=(sequence&&) noexcept = default;

  std::int64_t size() const noexcept { return cache_.size(); }          // positions held
  std::int64_t capacity() const noexcept { return cache_.capacity(); }  // context size
  /// Rolls back to the first n positions (invalid_argument when n is not in [0, size()]).
  void truncate(std::int64_t n) {
    cache_.truncate(n);
    if (n < prefix_) prefix_ = n;
  }
  /// Keeps positions [0, pos) followed by the rows `rows` (ascending, in [pos, size())), moved
  /// down: after a tree forward (forward_request::tree_parents), the verified branch's rows
  /// become positions pos, pos + 1, ... (see kv_cache::keep_rows).
  /// pos below shared_prefix() -> invalid_argument (those rows are the base's).
  void keep_rows(std::int64_t pos, std::span<const std::int64_t> rows) {
    if (pos < prefix_)
      throw invalid_argument("sequence::keep_rows: position " + std::to_string(pos) +
                             " is inside the shared prefix of " + std::to_string(prefix_));
    cache_.keep_rows(pos, rows);
  }
  /// Forgets every position (and the shared prefix).
  void clear() noexcept {
    cache_.clear();
    prefix_ = 0;
    base_ = {};
  }
  /// Deep copy of the cache (scratch is not copied; it is regrown on demand). A sequence sharing
  /// a prefix copies only its own rows; the copy shares the same prefix (a cheap fork: beams).
  sequence clone() const {
    sequence c(cache_.clone(prefix_));
    c.pool_ = pool_;
    c.base_ = base_;
    c.prefix_ = prefix_;
    return c;
  }

  /// Shares a prefix instead of copying it: this sequence's positions [0, n) become `base`'s
  /// positions [0, n), read in place from base's cache by every later forward (bit-identical to
  /// holding them); size() becomes n, and what this sequence appends goes to its own cache. Its
  /// own rows [0, n) are never written, so they take no resident memory. base must be another
  /// sequence of the same model that holds its rows [0, n) itself (it may share a shorter prefix
  /// of its own; then that is the one shared), must outlive this sequence's use of them and
  /// must not change them meanwhile (growing or moving it is fine). truncate() below n shrinks
  /// the shared part; cache() is this sequence's own cache (rows below shared_prefix()
  /// unspecified).
  /// n outside [0, min(base.size(), capacity())], base == this, or base of another shape ->
  /// invalid_argument.
  void share_prefix(const sequence& base, std::int64_t n) {
    if (&base == this) throw invalid_argument("sequence::share_prefix: a sequence with itself");
    if (n < 0 || n > base.size() || n > capacity())
      throw invalid_argument("sequence::share_prefix: " + std::to_string(n) +
                             " positions; the base holds " + std::to_string(base.size()) +
                             " and this sequence fits " + std::to_string(capacity()));
    const kv_cache<KV>& b = base.cache_;
    if (b.n_layer() != cache_.n_layer() || b.row_size() != cache_.row_size())
      throw invalid_argument("sequence::share_prefix: the base is a sequence of another model");
    typename kv_cache<KV>::storage_ref owner = b.storage();
    if (n <= base.prefix_) {
      owner = base.base_;  // those rows are the base's own base's
    } else if (base.prefix_ > 0) {
      throw invalid_argument("sequence::share_prefix: " + std::to_string(n) +
                             " positions, but the base holds only its rows from " +
                             std::to_string(base.prefix_) + " on itself");
    }
    cache_.clear();
    cache_.advance(n);
    base_ = n > 0 ? owner : typename kv_cache<KV>::storage_ref{};
    prefix_ = n;
  }
  /// Positions read from another sequence (share_prefix), 0 when none.
  std::int64_t shared_prefix() const noexcept { return prefix_; }
  const kv_cache<KV>& cache() const noexcept { return cache_; }

  /// Threads for this sequence's forward passes (nullptr or a pool of 1: the calling thread
  /// only). The pool is not owned and must outlive its use; results do not depend on it (every
  /// output is computed by one thread, in the same order, whatever the thread count).
  void set_thread_pool(thread_pool* pool) noexcept { pool_ = pool; }
  thread_pool* get_thread_pool() const noexcept { return pool_; }

 private:
  friend class transformer<KV>;
  explicit sequence(kv_cache<KV> c) : cache_(std::move(c)) {}

  // Scratch of forward(), grown to the largest batch seen (see transformer's file comment).
  struct scratch {
    std::int64_t tokens = 0;  // batch size the buffers hold
    std::vector<float> x, xn, q, k, v, att, tmp, gate, up;  // [tokens][width]
    std::vector<float> cos, sin;                           // [tokens][n_rot / 2]
    std::vector<float> scores;                             // [threads][G][capacity]
    std::vector<float> v_row;                              // [threads][head_dim] (f16 as float)
    std::vector<float> hidden, logits;                     // [rows][n_embd], [rows][n_vocab]
    aligned_buffer quant;                                  // quantized activations for gemm
  };

  kv_cache<KV> cache_;
  scratch s_;
  thread_pool* pool_ = nullptr;
  typename kv_cache<KV>::storage_ref base_;  // holds positions [0, prefix_) (share_prefix)
  std::int64_t prefix_ = 0;
};

template <class KV = float>
class transformer {
  /// Attention of a batch is split over threads from this many multiply-adds on (below, waking
  /// the workers costs more than it saves).
  static constexpr std::size_t min_parallel_attention = std::size_t(1) << 13;
  static_assert(std::is_same_v<KV, float> || std::is_same_v<KV, f16>,
                "the KV cache stores float or arx::f16");

 public:
  using kv_type = KV;
  using sequence_type = sequence<KV>;

  explicit transformer(std::shared_ptr<const llama_weights> w) : w_(std::move(w)) {
    if (!w_) throw invalid_argument("transformer: null weights");
  }
  /// Maps and validates a GGUF file (see llama_weights for the errors).
  static transformer load(const std::string& path) { return transformer(llama_weights::load(path)); }

  const model_config& config() const noexcept { return w_->config(); }
  const llama_weights& weights() const noexcept { return *w_; }
  std::shared_ptr<const llama_weights> shared_weights() const noexcept { return w_; }

  /// A new, empty sequence. capacity 0 means the training context (n_ctx_train); a capacity
  /// above it needs context_limit::unlimited (invalid_argument otherwise).
  sequence<KV> new_sequence(std::int64_t capacity = 0,
                            context_limit limit = context_limit::training) const {
    if (capacity < 0)
      throw invalid_argument("transformer::new_sequence: capacity " + std::to_string(capacity) +
                             " is negative");
    if (capacity == 0) capacity = config().n_ctx_train;
    if (config().spec->learned_positions && capacity > config().n_ctx_train)
      throw invalid_argument("transformer::new_sequence: capacity " + std::to_string(capacity) +
                             " is beyond the " + std::to_string(config().n_ctx_train) +
                             " positions " + config().arch + " has learned embeddings for");
    return sequence<KV>(kv_cache<KV>(config(), capacity, limit));
  }

  /// Appends `tokens` at positions [seq.size(), seq.size() + n).
  forward_result forward(sequence<KV>& seq, std::span<const token_id> tokens,
                         forward_request req = {}) const {
    return forward(seq, tokens, seq.size(), req);
  }

  /// Evaluates `tokens` at positions [pos, pos + n) as one batch and commits them to the cache.
  /// pos must be in [0, seq.size()]; pos < seq.size() first rolls the cache back to pos.
  /// Errors, thrown before anything changes: empty batch, pos out of range, token id outside
  /// [0, n_vocab) -> invalid_argument; pos + n > capacity -> context_error.
  forward_result forward(sequence<KV>& seq, std::span<const token_id> tokens, std::int64_t pos,
                         forward_request req = {}) const {
    if (pos < 0) check_batch(seq, tokens, pos);  // throws (batch_entry reads -1 as "append")
    const batch_entry<KV> one{&seq, tokens, pos};
    return forward_batch(std::span(&one, 1), req);
  }

  /// Several sequences in one forward: their tokens share every weight load (one gemm over all
  /// of them), each attends to its own cache. Entry i appends its tokens at its pos as forward()
  /// would (rolling its sequence back first). Rows of the result, entries in order: rows::all —
  /// every token; rows::last — each entry's last token. The result lives in the first entry's
  /// sequence (valid until its next forward), which also lends its thread pool. Results are
  /// bit-identical to separate forwards (gemm is batch-invariant). Errors, thrown before anything
  /// changes: forward()'s for any entry, no entries, a sequence given twice, tree_parents with
  /// more than one entry, and different logits and hidden row requests (both not none) with more
  /// than one entry -> invalid_argument / context_error.
  forward_result forward_batch(std::span<const batch_entry<KV>> parts,
                               forward_request req = {}) const {
    const model_config& c = config();
    if (parts.empty()) throw invalid_argument("transformer::forward_batch: no entries");
    const auto n_parts = std::int64_t(parts.size());
    std::vector<std::int64_t> start(static_cast<std::size_t>(n_parts) + 1, 0),
        at(static_cast<std::size_t>(n_parts));
    for (std::int64_t i = 0; i < n_parts; ++i) {
      const batch_entry<KV>& e = parts[std::size_t(i)];
      if (!e.seq)
        throw invalid_argument("transformer::forward_batch: entry " + std::to_string(i) +
                               " has no sequence");
      for (std::int64_t j = 0; j < i; ++j)
        if (parts[std::size_t(j)].seq == e.seq)
          throw invalid_argument("transformer::forward_batch: entries " + std::to_string(j) +
                                 " and " + std::to_string(i) + " name the same sequence");
      at[std::size_t(i)] = e.pos < 0 ? e.seq->size() : e.pos;
      check_batch(*e.seq, e.tokens, at[std::size_t(i)]);
      start[std::size_t(i) + 1] = start[std::size_t(i)] + std::int64_t(e.tokens.size());
    }
    if (n_parts > 1 && !req.tree_parents.empty())
      throw invalid_argument("transformer::forward_batch: tree_parents needs a single entry");
    if (n_parts > 1 && req.logits != rows::none && req.hidden != rows::none &&
        req.logits != req.hidden)
      throw invalid_argument("transformer::forward_batch: with several entries, logits and "
                             "hidden must ask for the same rows (or one of them for none)");
    // skip[l]: bit 0 = attention block skipped, bit 1 = MLP block skipped
    std::vector<unsigned char> skip(std::size_t(c.n_layer), 0);
    const auto mark = [&](std::span<const std::int64_t> ids, unsigned char bits, const char* what) {
      for (const std::int64_t l : ids) {
        if (l < 0 || l >= c.n_layer)
          throw invalid_argument(std::string("transformer::forward: ") + what + " names layer " +
                                 std::to_string(l) + ", the model has layers [0, " +
                                 std::to_string(c.n_layer) + ")");
        skip[std::size_t(l)] |= bits;
      }
    };
    mark(req.skip_layers, 3, "skip_layers");
    mark(req.skip_ffn, 2, "skip_ffn");
    const std::int64_t n = start.back();
    // Per token: its entry and its position; for a tree, its branch's cache rows (root first).
    std::vector<std::int64_t> part_of(static_cast<std::size_t>(n)),
        posn(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n_parts; ++i)
      for (std::int64_t t = start[std::size_t(i)]; t < start[std::size_t(i) + 1]; ++t) {
        part_of[std::size_t(t)] = i;
        posn[std::size_t(t)] = at[std::size_t(i)] + t - start[std::size_t(i)];
      }
    const bool tree = !req.tree_parents.empty();
    std::vector<std::int64_t> branch, branch_at;
    if (tree) {
      const std::int64_t pos = at[0];
      if (std::int64_t(req.tree_parents.size()) != n)
        throw invalid_argument("transformer::forward: tree_parents has " +
                               std::to_string(req.tree_parents.size()) + " entries for " +
                               std::to_string(n) + " tokens");
      std::vector<std::int64_t> depth(static_cast<std::size_t>(n));
      branch_at.resize(std::size_t(n) + 1);
      for (std::int64_t t = 0; t < n; ++t) {
        const std::int32_t par = req.tree_parents[std::size_t(t)];
        if (par < -1 || par >= t)
          throw invalid_argument("transformer::forward: tree_parents[" + std::to_string(t) +
                                 "] = " + std::to_string(par) + " is outside [-1, " +
                                 std::to_string(t) + ")");
        depth[std::size_t(t)] = par < 0 ? 0 : depth[std::size_t(par)] + 1;
        posn[std::size_t(t)] = pos + depth[std::size_t(t)];
        branch_at[std::size_t(t)] = std::int64_t(branch.size());
        branch.resize(branch.size() + std::size_t(depth[std::size_t(t)]) + 1);
        for (std::int64_t a = t, i = depth[std::size_t(t)]; a >= 0;
             a = req.tree_parents[std::size_t(a)], --i)
          branch[std::size_t(branch_at[std::size_t(t)] + i)] = pos + a;
      }
      branch_at[std::size_t(n)] = std::int64_t(branch.size());
    }
    std::int64_t max_capacity = 0, max_end = 0;
    for (std::int64_t i = 0; i < n_parts; ++i) {
      sequence<KV>& sq = *parts[std::size_t(i)].seq;
      if (at[std::size_t(i)] < sq.size()) sq.truncate(at[std::size_t(i)]);
      max_capacity = std::max(max_capacity, sq.capacity());
      max_end =
          std::max(max_end, at[std::size_t(i)] + start[std::size_t(i) + 1] - start[std::size_t(i)]);
    }
    auto& s = parts[0].seq->s_;
    thread_pool* pool = parts[0].seq->pool_;
    const int n_threads = pool ? pool->size() : 1;
    reserve(s, n, max_capacity, n_threads);

    const std::int64_t q_dim = c.n_head * c.head_dim, kv_dim = c.n_head_kv * c.head_dim;
    const auto x = mat(s.x, n, c.n_embd), xn = mat(s.xn, n, c.n_embd), tmp = mat(s.tmp, n, c.n_embd);
    const auto q = mat(s.q, n, q_dim), k = mat(s.k, n, kv_dim), v = mat(s.v, n, kv_dim);
    const auto att = mat(s.att, n, q_dim);
    const auto gate = mat(s.gate, n, c.n_ff), up = mat(s.up, n, c.n_ff);
    const std::span<std::byte> quant(s.quant.data(), s.quant.size());

    const architecture& arch = *c.spec;
    for (std::int64_t i = 0; i < n_parts; ++i)
      for (std::int64_t t = start[std::size_t(i)]; t < start[std::size_t(i) + 1]; ++t)
        w_->embed(parts[std::size_t(i)].tokens[std::size_t(t - start[std::size_t(i)])], x.row(t));
    if (arch.scale_embeddings) ops::scale(x.flat(), std::sqrt(float(c.n_embd)));
    if (arch.learned_positions)  // x += position_embd[pos] (tmp holds the rows meanwhile)
      for (std::int64_t t = 0; t < n; ++t) {
        detail::row_to_f32(w_->position_embd(), posn[std::size_t(t)], tmp.row(t));
        ops::add(x.row(t), tmp.row(t));
      }
    const std::size_t half = std::size_t(c.n_rot / 2);
    const ops::rope_params rp{int(c.n_rot), c.rope_freq_base, 1.0f, arch.rope};
    if (!arch.learned_positions)
      for (std::int64_t t = 0; t < n; ++t)
        ops::rope_sincos(posn[std::size_t(t)], rp,
                         std::span(s.cos).subspan(std::size_t(t) * half, half),
                         std::span(s.sin).subspan(std::size_t(t) * half, half));
    // The architecture's norm: RMSNorm, or LayerNorm with its bias.
    const auto norm = [&](tensor_view<const float> in, std::span<const float> w,
                          std::span<const float> b, tensor_view<float> out) {
      if (arch.norm == norm_kind::layer)
        ops::layer_norm(in, w, b, c.rms_eps, out);
      else
        ops::rms_norm(in, w, c.rms_eps, out);
    };
    const auto add_bias = [n](tensor_view<float> m, std::span<const float> b) {
      if (!b.empty())
        for (std::int64_t t = 0; t < n; ++t) ops::add(m.row(t), b);
    };

    for (std::int64_t l = 0; l < c.n_layer; ++l) {
      const layer_weights& L = w_->layer(l);
      if (skip[std::size_t(l)] & 1) continue;  // (a skipped layer's MLP is skipped too)
      // Attention block.
      norm(x, L.attn_norm, L.attn_norm_b, xn);
      ops::gemm(L.wq, xn, q, quant, pool);
      ops::gemm(L.wk, xn, k, quant, pool);
      ops::gemm(L.wv, xn, v, quant, pool);
      add_bias(q, L.bq);
      add_bias(k, L.bk);
      add_bias(v, L.bv);
      for (std::int64_t t = 0; t < n && !arch.learned_positions; ++t) {
        const auto cs = std::span<const float>(s.cos).subspan(std::size_t(t) * half, half);
        const auto sn = std::span<const float>(s.sin).subspan(std::size_t(t) * half, half);
        ops::rope_apply(heads(q.row(t), c.n_head), cs, sn, rp.layout);
        ops::rope_apply(heads(k.row(t), c.n_head_kv), cs, sn, rp.layout);
      }
      for (std::int64_t i = 0; i < n_parts; ++i) {
        const std::int64_t b = start[std::size_t(i)], e = start[std::size_t(i) + 1];
        parts[std::size_t(i)].seq->cache_.write(l, at[std::size_t(i)], k.rows(b, e).flat(),
                                                v.rows(b, e).flat());
      }
      // Attention: every (token, KV head) pair is independent; split them over the threads.
      const auto attend_range = [&](int th, int nth) {
        const auto [b, e] = thread_pool::split(n * c.n_head_kv, th, nth);
        for (std::int64_t i = b; i < e; ++i) {
          const std::int64_t t = i / c.n_head_kv;
          const sequence<KV>& sq = *parts[std::size_t(part_of[std::size_t(t)])].seq;
          const std::int64_t p = posn[std::size_t(t)];
          if (tree)  // (the window limits the prefix; a branch is always seen whole)
            attend(sq, s, th, l, std::min(window_begin(p), at[0]), at[0], i % c.n_head_kv,
                   q.row(t), att.row(t),
                   std::span<const std::int64_t>(branch).subspan(
                       std::size_t(branch_at[std::size_t(t)]),
                       std::size_t(branch_at[std::size_t(t) + 1] - branch_at[std::size_t(t)])));
          else
            attend(sq, s, th, l, window_begin(p), p + 1, i % c.n_head_kv, q.row(t), att.row(t));
        }
      };
      const std::size_t work = std::size_t(n * c.n_head * max_end * c.head_dim);
      if (n_threads > 1 && work >= min_parallel_attention)
        pool->run(attend_range);
      else
        attend_range(0, 1);
      ops::gemm(L.wo, att, tmp, quant, pool);
      add_bias(tmp, L.bo);
      ops::add(x.flat(), tmp.flat());
      if (skip[std::size_t(l)] & 2) continue;
      // MLP block.
      norm(x, L.ffn_norm, L.ffn_norm_b, xn);
      ops::gemm(L.w_up, xn, up, quant, pool);
      add_bias(up, L.b_up);
      if (!arch.gated_mlp) {  // down(act(up(x)))
        if (arch.gate == mlp_gate::gelu) ops::gelu(up.flat());
        else ops::silu(up.flat());
        ops::gemm(L.w_down, up, tmp, quant, pool);
      } else {
        ops::gemm(L.w_gate, xn, gate, quant, pool);
        if (arch.gate == mlp_gate::gelu)
          ops::geglu(gate.flat(), up.flat(), gate.flat());
        else
          ops::swiglu(gate.flat(), up.flat(), gate.flat());
        ops::gemm(L.w_down, gate, tmp, quant, pool);
      }
      add_bias(tmp, L.b_down);
      ops::add(x.flat(), tmp.flat());
    }
    for (std::int64_t i = 0; i < n_parts; ++i)
      parts[std::size_t(i)].seq->cache_.advance(start[std::size_t(i) + 1] - start[std::size_t(i)]);

    // Output rows: the final norm of the rows either output needs, then the logits. One entry:
    // rows::last is its last row. Several: each entry's last row, gathered into tmp.
    const rows want = std::max(req.logits, req.hidden);  // none < last < all
    forward_result r;
    if (want == rows::none) return r;
    tensor_view<const float> src = x;
    if (want == rows::last) {
      if (n_parts == 1) {
        src = x.rows(n - 1, n);
      } else {
        for (std::int64_t i = 0; i < n_parts; ++i)
          std::copy_n(x.row(start[std::size_t(i) + 1] - 1).data(), c.n_embd, tmp.row(i).data());
        src = tmp.rows(0, n_parts);
      }
    }
    const std::int64_t n_out = src.shape(0);
    grow(s.hidden, n_out * c.n_embd);
    const auto hidden = mat(s.hidden, n_out, c.n_embd);
    norm(src, w_->output_norm(), w_->output_norm_bias(), hidden);
    // (with one entry, a rows::last output beside a rows::all one is the last of those rows)
    const auto pick = [&](rows which, tensor_view<const float> all) {
      if (which == rows::none) return tensor_view<const float>(all.data(), shape_t{0, all.shape(1)});
      if (which == rows::last && want == rows::all) return all.rows(n_out - 1, n_out);
      return all;
    };
    if (req.logits != rows::none) {
      const std::int64_t nl = req.logits == want ? n_out : 1;
      grow(s.logits, nl * c.n_vocab);
      const auto logits = mat(s.logits, nl, c.n_vocab);
      ops::gemm(w_->output(), tensor_view<const float>(hidden.rows(n_out - nl, n_out)), logits,
                quant, pool);
      r.logits = logits;
    } else {
      r.logits = tensor_view<const float>(s.logits.data(), shape_t{0, c.n_vocab});
    }
    r.hidden = pick(req.hidden, hidden);
    return r;
  }

 private:
  void check_batch(const sequence<KV>& seq, std::span<const token_id> tokens,
                   std::int64_t pos) const {
    if (tokens.empty()) throw invalid_argument("transformer::forward: empty batch of tokens");
    if (pos < 0 || pos > seq.size())
      throw invalid_argument("transformer::forward: position " + std::to_string(pos) +
                             " is outside [0, " + std::to_string(seq.size()) +
                             "] (the sequence holds " + std::to_string(seq.size()) +
                             " positions)");
    const std::int64_t n_vocab = config().n_vocab;
    for (std::size_t i = 0; i < tokens.size(); ++i)
      if (tokens[i] < 0 || tokens[i] >= n_vocab)
        throw invalid_argument("transformer::forward: token id " + std::to_string(tokens[i]) +
                               " at batch index " + std::to_string(i) + " is outside [0, " +
                               std::to_string(n_vocab) + ")");
    const std::int64_t n = std::int64_t(tokens.size());
    if (n > seq.capacity() - pos)
      throw context_error("transformer::forward: " + std::to_string(n) + " tokens at position " +
                          std::to_string(pos) + " need a context of " + std::to_string(pos + n) +
                          ", the sequence's context is " + std::to_string(seq.capacity()));
  }

  static void grow(std::vector<float>& b, std::int64_t n) {
    if (std::int64_t(b.size()) < n) b.resize(std::size_t(n));
  }

  // Sizes every scratch buffer for a batch of n tokens.
  void reserve(typename sequence<KV>::scratch& s, std::int64_t n, std::int64_t capacity,
               int n_threads) const {
    const model_config& c = config();
    if (s.tokens < n) {
      const std::int64_t q_dim = c.n_head * c.head_dim, kv_dim = c.n_head_kv * c.head_dim;
      for (auto* b : {&s.x, &s.xn, &s.tmp}) grow(*b, n * c.n_embd);
      for (auto* b : {&s.q, &s.att}) grow(*b, n * q_dim);
      for (auto* b : {&s.k, &s.v}) grow(*b, n * kv_dim);
      for (auto* b : {&s.gate, &s.up}) grow(*b, n * c.n_ff);
      for (auto* b : {&s.cos, &s.sin}) grow(*b, n * (c.n_rot / 2));
      std::size_t qb = 0;
      const auto need = [&](const any_tensor_view& m) {
        qb = std::max(qb, ops::gemm_scratch_bytes(m.type(), n, m.shape(1)));
      };
      need(w_->output());
      for (std::int64_t l = 0; l < c.n_layer; ++l) {
        const layer_weights& L = w_->layer(l);
        for (const any_tensor_view* m : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down})
          need(*m);
      }
      if (s.quant.size() < qb) s.quant = aligned_buffer(qb);
      s.tokens = n;
    }
    grow(s.scores, capacity * (c.n_head / c.n_head_kv) * n_threads);
    grow(s.v_row, c.head_dim * n_threads);
  }

  // A [rows][cols] view of the front of a scratch buffer.
  static tensor_view<float> mat(std::vector<float>& b, std::int64_t rows, std::int64_t cols) {
    return tensor_view<float>(b.data(), shape_t{rows, cols});
  }
  // One token's row of heads side by side as {n_heads, head_dim}.
  tensor_view<float> heads(std::span<float> row, std::int64_t n_heads) const {
    return tensor_view<float>(row.data(), shape_t{n_heads, config().head_dim});
  }

  // Attention of the query heads that share KV head g, for one token, over cache positions
  // [begin, end) of layer l and then the cache rows `extra` (a tree branch), with thread th's
  // scratch. (begin > 0: a sliding window.)
  //   q: [n_head][head_dim] (RoPE applied);  out: [n_head][head_dim]
  void attend(const sequence<KV>& seq, typename sequence<KV>::scratch& s, int th, std::int64_t l,
              std::int64_t begin, std::int64_t end, std::int64_t g, std::span<const float> q,
              std::span<float> out, std::span<const std::int64_t> extra = {}) const {
    const model_config& c = config();
    const std::int64_t hd = c.head_dim, group = c.n_head / c.n_head_kv, cap = seq.capacity();
    const std::int64_t n_prefix = end - begin, n_keys = n_prefix + std::int64_t(extra.size());
    const std::int64_t rows = extra.empty() ? end : extra.back() + 1;
    const tensor_view<const KV> keys = seq.cache_.k(l, rows);    // {rows, n_head_kv, head_dim}
    const tensor_view<const KV> values = seq.cache_.v(l, rows);  // {rows, n_head_kv, head_dim}
    // Rows [0, shared) are another sequence's (sequence::share_prefix), read in place.
    const std::int64_t shared = std::min(seq.prefix_, end);
    const tensor_view<const KV> base_keys =  // {shared, n_head_kv, head_dim}
        shared > 0 ? seq.base_.k(l, shared) : keys;
    const tensor_view<const KV> base_values = shared > 0 ? seq.base_.v(l, shared) : values;
    // K of head g from row r on: {count, head_dim}, rows n_head_kv * head_dim apart.
    const auto k_g = [&](const tensor_view<const KV>& from, std::int64_t r, std::int64_t count) {
      return tensor_view<const KV>(&from(r, g, 0), shape_t{count, hd}, {from.stride(0), 1, 0, 0});
    };
    // The group's queries: {group, head_dim}, consecutive in q.
    const tensor_view<const float> q_g(q.data() + g * group * hd, shape_t{group, hd});
    // Scores: {group, n_keys} in this thread's [group][capacity] block, column j for cache row
    // begin + j (then the extra rows). gemm is batch-invariant, so a key's score is the same
    // whether it is scored with others or alone.
    float* sp = s.scores.data() + std::size_t(th * group * cap);
    const tensor_view<float> scores(sp, shape_t{group, n_keys}, {cap, 1, 0, 0});
    const std::int64_t own = std::max(begin, shared);  // first row read from this sequence
    if (own > begin)
      ops::gemm(k_g(base_keys, begin, own - begin), q_g,
                tensor_view<float>(sp, shape_t{group, own - begin}, {cap, 1, 0, 0}));
    if (end > own)
      ops::gemm(k_g(keys, own, end - own), q_g,
                tensor_view<float>(sp + (own - begin), shape_t{group, end - own}, {cap, 1, 0, 0}));
    for (std::size_t i = 0; i < extra.size(); ++i)
      ops::gemm(k_g(keys, extra[i], 1), q_g,
                tensor_view<float>(sp + n_prefix + std::int64_t(i), shape_t{group, 1},
                                   {cap, 1, 0, 0}));
    const float scale = 1.0f / std::sqrt(float(hd));
    for (std::int64_t h = 0; h < group; ++h) ops::softmax(scores.row(h), scale);
    // out_h = sum_j p[h][j] V[j, g], each value row read once for the group.
    float* op = out.data() + g * group * hd;
    std::fill(op, op + group * hd, 0.0f);
    const std::span<float> v_row(s.v_row.data() + std::size_t(th * hd), std::size_t(hd));
    for (std::int64_t j = 0; j < n_keys; ++j) {
      const std::int64_t r = j < n_prefix ? begin + j : extra[std::size_t(j - n_prefix)];
      const KV* v = r < shared ? &base_values(r, g, 0) : &values(r, g, 0);
      std::span<const float> vr;
      if constexpr (std::is_same_v<KV, float>) {
        vr = std::span<const float>(v, std::size_t(hd));
      } else {
        ops::convert(std::span<const KV>(v, std::size_t(hd)), v_row);
        vr = v_row;
      }
      for (std::int64_t h = 0; h < group; ++h)
        ops::axpy(scores(h, j), vr, std::span<float>(op + h * hd, std::size_t(hd)));
    }
  }

  /// First cache position a token at `pos` attends to: pos - n_swa + 1 with a sliding window.
  std::int64_t window_begin(std::int64_t pos) const noexcept {
    const std::int64_t w = config().n_swa;
    return w > 0 && pos + 1 > w ? pos + 1 - w : 0;
  }

  std::shared_ptr<const llama_weights> w_;
};

ARX_NAMESPACE_END
