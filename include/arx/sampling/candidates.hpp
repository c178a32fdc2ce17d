// arx/sampling/candidates.hpp — the working set a sampler chain narrows down: (token id, logit)
// pairs, and after softmax() their probabilities.
//
// A chain starts from every token of the vocabulary in id order (assign), then each processor
// edits logits (temperature, penalties, bias) or removes candidates (top-k, top-p, ...). The
// draw is from softmax of the survivors' logits. Order:
//   * after assign(): id order, index == id (processors adjusting a few ids use at_id());
//   * processors that need the largest first call sort() or top(k) — top(k) selects partially
//     (no full sort of a 150k vocabulary), then sorts only those k;
//   * sorted() says whether the set is ordered by logit, largest first, ties by lower id.
// Logits: NaN and +inf are rejected by assign (invalid_argument naming the id); -inf means
// "never" (probability 0) and such candidates are dropped by softmax().
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "arx/config.hpp"
#include "arx/core/error.hpp"

ARX_NAMESPACE_BEGIN

using token_id = std::int32_t;

struct candidate {
  token_id id;
  float logit;
  float p;  // probability, valid after candidates::softmax() until the next edit
};

class candidates {
 public:
  /// Every token, in id order, with its logit. invalid_argument for an empty span, a NaN or +inf
  /// logit (naming the id), or when every logit is -inf.
  void assign(std::span<const float> logits) {
    if (logits.empty()) throw invalid_argument("sampler: empty logits");
    if (logits.size() > std::size_t(std::numeric_limits<token_id>::max()))
      throw invalid_argument("sampler: " + std::to_string(logits.size()) +
                             " logits exceed the token id range");
    items_.resize(logits.size());
    bool any_finite = false;
    for (std::size_t i = 0; i < logits.size(); ++i) {
      const float l = logits[i];
      if (std::isnan(l) || l == std::numeric_limits<float>::infinity())
        throw invalid_argument("sampler: logit of token " + std::to_string(i) + " is " +
                               (std::isnan(l) ? "NaN" : "+inf"));
      any_finite |= l > -std::numeric_limits<float>::infinity();
      items_[i] = {token_id(i), l, 0.0f};
    }
    if (!any_finite) throw invalid_argument("sampler: every logit is -inf");
    vocab_ = logits.size();
    id_order_ = true;
    sorted_ = false;
    has_p_ = false;
  }

  std::size_t size() const noexcept { return items_.size(); }
  bool empty() const noexcept { return items_.empty(); }
  /// Vocabulary size of the last assign() (ids are in [0, vocab_size())).
  std::size_t vocab_size() const noexcept { return vocab_; }
  candidate& operator[](std::size_t i) noexcept { return items_[i]; }
  const candidate& operator[](std::size_t i) const noexcept { return items_[i]; }
  std::span<candidate> items() noexcept { return items_; }
  std::span<const candidate> items() const noexcept { return items_; }
  auto begin() noexcept { return items_.begin(); }
  auto end() noexcept { return items_.end(); }
  auto begin() const noexcept { return items_.begin(); }
  auto end() const noexcept { return items_.end(); }

  /// True while the set is every token in id order (index == id).
  bool id_order() const noexcept { return id_order_; }
  /// True when ordered by logit, largest first, ties by lower id.
  bool sorted() const noexcept { return sorted_; }
  /// True when p holds softmax of the current logits.
  bool has_probs() const noexcept { return has_p_; }

  /// The candidate of token `id`, or nullptr when it is no longer in the set. O(1) in id order,
  /// else a linear scan.
  candidate* at_id(token_id id) noexcept {
    if (id_order_) return id >= 0 && std::size_t(id) < items_.size() ? &items_[std::size_t(id)] : nullptr;
    for (auto& c : items_)
      if (c.id == id) return &c;
    return nullptr;
  }

  /// Call after changing logits in place (keeps the membership, forgets order and p).
  void logits_changed() noexcept {
    sorted_ = false;
    has_p_ = false;
  }

  /// Orders the whole set by logit, largest first (ties: lower id first).
  void sort() {
    if (sorted_) return;
    std::sort(items_.begin(), items_.end(), [](const candidate& a, const candidate& b) { return greater(a, b); });
    sorted_ = true;
    id_order_ = false;
  }

  /// Keeps the k largest (ties: lower id), sorted. k >= size() sorts everything. Partial
  /// selection: for k <= size()/64 one pass keeping the k best in a heap (most candidates are
  /// rejected by one comparison with the heap's worst), else nth_element; then k log k to sort.
  void top(std::size_t k) {
    if (k >= items_.size()) return sort();
    if (!sorted_ && k <= items_.size() / 64) {
      // one pass keeping the k best in a heap whose front is the worst of them
      auto gt = [](const candidate& a, const candidate& b) { return greater(a, b); };
      heap_.assign(items_.begin(), items_.begin() + std::ptrdiff_t(k));
      std::make_heap(heap_.begin(), heap_.end(), gt);
      for (std::size_t i = k; i < items_.size(); ++i) {
        if (!greater(items_[i], heap_.front())) continue;
        std::pop_heap(heap_.begin(), heap_.end(), gt);
        heap_.back() = items_[i];
        std::push_heap(heap_.begin(), heap_.end(), gt);
      }
      std::sort_heap(heap_.begin(), heap_.end(), gt);
      items_.assign(heap_.begin(), heap_.end());
    } else if (!sorted_) {
      std::nth_element(items_.begin(), items_.begin() + std::ptrdiff_t(k), items_.end(), [](const candidate& a, const candidate& b) { return greater(a, b); });
      items_.resize(k);
      std::sort(items_.begin(), items_.end(), [](const candidate& a, const candidate& b) { return greater(a, b); });
    } else {
      items_.resize(k);
    }
    sorted_ = true;
    id_order_ = false;
    has_p_ = false;
  }

  /// Keeps the first n candidates (in the current order).
  void keep_first(std::size_t n) {
    if (n >= items_.size()) return;
    items_.resize(n);
    id_order_ = false;
    has_p_ = false;
  }

  /// Removes the candidates for which pred(c) is true, keeping the order of the others.
  template <class Pred>
  void remove_if(Pred pred) {
    const auto it = std::remove_if(items_.begin(), items_.end(), pred);
    if (it == items_.end()) return;
    items_.erase(it, items_.end());
    id_order_ = false;
    has_p_ = false;
  }

  /// p = softmax(logit) over the set, after dropping -inf candidates. invalid_argument when no
  /// candidate is left (a chain that removed everything).
  void softmax() {
    if (has_p_) return;
    remove_if([](const candidate& c) { return c.logit == -std::numeric_limits<float>::infinity(); });
    if (items_.empty()) throw invalid_argument("sampler: no candidate token is left");
    float m = items_[0].logit;
    if (!sorted_)
      for (const auto& c : items_) m = std::max(m, c.logit);
    double sum = 0.0;
    for (auto& c : items_) {
      c.p = std::exp(c.logit - m);
      sum += c.p;
    }
    const double inv = 1.0 / sum;
    for (auto& c : items_) c.p = float(c.p * inv);
    has_p_ = true;
  }

  /// The full distribution: out[id] = p of `id` (0 for removed ids). out: [vocab_size()].
  void probabilities(std::span<float> out) {
    if (out.size() != vocab_)
      throw invalid_argument("sampler: probability vector has " + std::to_string(out.size()) +
                             " entries, the vocabulary " + std::to_string(vocab_));
    softmax();
    std::fill(out.begin(), out.end(), 0.0f);
    for (const auto& c : items_) out[std::size_t(c.id)] = c.p;
  }

  /// Ordering used by sort() and top(): larger logit first, ties by lower id.
  static bool greater(const candidate& a, const candidate& b) noexcept {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
  }

 private:
  std::vector<candidate> items_;
  std::vector<candidate> heap_;
  std::size_t vocab_ = 0;
  bool id_order_ = false, sorted_ = false, has_p_ = false;
};

ARX_NAMESPACE_END
