// arx/model/kv_cache.hpp — per-sequence key/value storage for attention.
//
// A kv_cache belongs to one sequence and is owned by the caller (the weights are shared and
// immutable); the model reads and writes it during a forward pass.
//
// Layout: one 64-byte aligned allocation holding
//   K: [n_layer][capacity][n_head_kv][head_dim]   then
//   V: [n_layer][capacity][n_head_kv][head_dim]
// Why position-major inside a layer: the K and V projections of one token produce exactly one
// row of n_head_kv * head_dim values, so writing a token is one contiguous copy per layer; the
// rows [0, size) of a layer form one contiguous block (a plain tensor view, no gather); and
// rollback (speculative decoding, contrastive search) only changes `size()`, never moves data.
// Attention for one head reads its head_dim-wide slice of each row with a stride of
// n_head_kv * head_dim elements.
//
// Positions [0, size) are valid. Writing does not change size: the model writes the rows of a
// batch (possibly beyond size), then commits them with advance(n). truncate(n) forgets positions
// [n, size). Storing as f16 halves the memory; rows are converted from float on write.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <type_traits>

#include "arx/config.hpp"
#include "arx/core/error.hpp"
#include "arx/core/half.hpp"
#include "arx/core/memory.hpp"
#include "arx/core/tensor.hpp"
#include "arx/model/config.hpp"

ARX_NAMESPACE_BEGIN

/// Whether a kv_cache built from a model_config may hold more positions than the model was
/// trained for (RoPE extrapolation beyond n_ctx_train usually degrades output).
enum class context_limit { training, unlimited };

template <class T>
class kv_cache {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, f16>,
                "kv_cache stores float or arx::f16");

 public:
  /// Room for `capacity` positions of `n_layer` layers. All four must be positive
  /// (invalid_argument otherwise). Contents are uninitialised; size() is 0.
  kv_cache(std::int64_t n_layer, std::int64_t n_head_kv, std::int64_t head_dim,
           std::int64_t capacity)
      : n_layer_(n_layer), n_head_kv_(n_head_kv), head_dim_(head_dim), capacity_(capacity) {
    if (n_layer <= 0 || n_head_kv <= 0 || head_dim <= 0 || capacity <= 0)
      throw invalid_argument("kv_cache: n_layer = " + std::to_string(n_layer) +
                             ", n_head_kv = " + std::to_string(n_head_kv) +
                             ", head_dim = " + std::to_string(head_dim) +
                             ", capacity = " + std::to_string(capacity) + ": all must be positive");
    // Overflow check of 2 * n_layer * capacity * row_size * sizeof(T) before allocating.
    const std::int64_t limit = std::int64_t(PTRDIFF_MAX) / std::int64_t(sizeof(T)) / 2;
    std::int64_t n = row_size();
    for (std::int64_t f : {n_layer, capacity}) {
      if (n > limit / f)
        throw memory_error("kv_cache: " + std::to_string(n_layer) + " layers x " +
                           std::to_string(capacity) + " positions x " + std::to_string(row_size()) +
                           " values is too large");
      n *= f;
    }
    buf_ = aligned_buffer(std::size_t(2 * n) * sizeof(T));
  }

  /// Sized for `config` (n_layer, n_head_kv, head_dim). capacity > n_ctx_train is an
  /// invalid_argument unless `limit` is context_limit::unlimited.
  kv_cache(const model_config& config, std::int64_t capacity,
           context_limit limit = context_limit::training)
      : kv_cache(checked(config, capacity, limit), config.n_head_kv, config.head_dim, capacity) {}

  kv_cache(kv_cache&&) noexcept = default;
  kv_cache& operator=(kv_cache&&) noexcept = default;
  kv_cache(const kv_cache&) = delete;  // a deep copy is explicit: clone()
  kv_cache& operator=(const kv_cache&) = delete;

  /// Deep copy (e.g. to fork a sequence): same sizes, positions [from, size) copied (the rows
  /// below `from` are left unwritten: a sequence sharing its prefix does not hold them).
  /// from outside [0, size] -> invalid_argument.
  kv_cache clone(std::int64_t from = 0) const {
    if (from < 0 || from > size_)
      throw invalid_argument("kv_cache::clone: from " + std::to_string(from) + " outside [0, " +
                             std::to_string(size_) + "]");
    kv_cache c(n_layer_, n_head_kv_, head_dim_, capacity_);
    c.size_ = size_;
    const std::int64_t skip = from * row_size();  // values per layer not copied
    const std::size_t used = std::size_t((size_ - from) * row_size()) * sizeof(T);
    for (std::int64_t l = 0; l < n_layer_; ++l) {
      if (used == 0) break;
      std::memcpy(c.k_ptr(l) + skip, k_ptr(l) + skip, used);
      std::memcpy(c.v_ptr(l) + skip, v_ptr(l) + skip, used);
    }
    return c;
  }

  std::int64_t size() const noexcept { return size_; }          // valid positions
  std::int64_t capacity() const noexcept { return capacity_; }  // positions that fit
  std::int64_t n_layer() const noexcept { return n_layer_; }
  std::int64_t n_head_kv() const noexcept { return n_head_kv_; }
  std::int64_t head_dim() const noexcept { return head_dim_; }
  /// Values per position per layer (one of K or V): n_head_kv * head_dim.
  std::int64_t row_size() const noexcept { return n_head_kv_ * head_dim_; }
  /// Bytes of the one allocation.
  std::size_t bytes() const noexcept { return buf_.size(); }

  /// Keys of `layer`, positions [0, size): {size, n_head_kv, head_dim}.
  tensor_view<const T> k(std::int64_t layer) const { return k(layer, size_); }
  /// Values of `layer`, positions [0, size): {size, n_head_kv, head_dim}.
  tensor_view<const T> v(std::int64_t layer) const { return v(layer, size_); }
  /// Keys of `layer`, positions [0, end): {end, n_head_kv, head_dim}. For a forward pass that has
  /// written a batch's rows [size, end) but not yet advance()d. end in [0, capacity]
  /// (invalid_argument otherwise); rows never written hold unspecified values.
  tensor_view<const T> k(std::int64_t layer, std::int64_t end) const {
    return view(k_ptr(check_layer(layer)), check_end(end));
  }
  /// Values of `layer`, positions [0, end): {end, n_head_kv, head_dim}. As k(layer, end).
  tensor_view<const T> v(std::int64_t layer, std::int64_t end) const {
    return view(v_ptr(check_layer(layer)), check_end(end));
  }

  /// Stores n = k_rows.size() / row_size() consecutive positions [pos, pos + n) of `layer`,
  /// converting from float. k_rows, v_rows: [n][n_head_kv * head_dim]. Does not change size()
  /// (commit with advance()). invalid_argument when the rows do not fit in capacity, when the
  /// spans differ in length or are not whole rows, or when pos > size() (a gap would leave
  /// unwritten positions inside [0, size)).
  void write(std::int64_t layer, std::int64_t pos, std::span<const float> k_rows,
             std::span<const float> v_rows) {
    check_layer(layer);
    const std::int64_t rs = row_size();
    if (k_rows.size() != v_rows.size() || std::int64_t(k_rows.size()) % rs != 0)
      throw invalid_argument("kv_cache::write: " + std::to_string(k_rows.size()) + " K and " +
                             std::to_string(v_rows.size()) +
                             " V values; both must be the same whole number of rows of " +
                             std::to_string(rs));
    const std::int64_t n = std::int64_t(k_rows.size()) / rs;
    if (pos < 0 || pos > size_ || pos + n > capacity_)
      throw invalid_argument("kv_cache::write: positions [" + std::to_string(pos) + ", " +
                             std::to_string(pos + n) + ") with size " + std::to_string(size_) +
                             " and capacity " + std::to_string(capacity_) +
                             " (the first position must be in [0, size])");
    store(k_ptr(layer) + pos * rs, k_rows);
    store(v_ptr(layer) + pos * rs, v_rows);
  }

  /// Where this cache's rows live, for another sequence to read them in place
  /// (sequence::share_prefix). Valid as long as the allocation lives: moving the kv_cache keeps
  /// it valid, destroying it does not.
  struct storage_ref {
    const T* data = nullptr;
    std::int64_t n_layer = 0, capacity = 0, n_head_kv = 0, head_dim = 0;
    /// Keys of layer l, positions [0, end): {end, n_head_kv, head_dim}.
    tensor_view<const T> k(std::int64_t l, std::int64_t end) const {
      return tensor_view<const T>(data + l * capacity * n_head_kv * head_dim,
                                  shape_t{end, n_head_kv, head_dim});
    }
    /// Values of layer l, positions [0, end): {end, n_head_kv, head_dim}.
    tensor_view<const T> v(std::int64_t l, std::int64_t end) const {
      return tensor_view<const T>(data + (n_layer + l) * capacity * n_head_kv * head_dim,
                                  shape_t{end, n_head_kv, head_dim});
    }
  };
  storage_ref storage() const noexcept {
    return {base(), n_layer_, capacity_, n_head_kv_, head_dim_};
  }

  /// Commits n more positions: size() += n. invalid_argument when n < 0 or size() + n > capacity().
  void advance(std::int64_t n) {
    if (n < 0 || n > capacity_ - size_)
      throw invalid_argument("kv_cache::advance(" + std::to_string(n) + ") with size " +
                             std::to_string(size_) + " and capacity " + std::to_string(capacity_));
    size_ += n;
  }

  /// Rolls back to the first n positions. invalid_argument when n < 0 or n > size().
  void truncate(std::int64_t n) {
    if (n < 0 || n > size_)
      throw invalid_argument("kv_cache::truncate(" + std::to_string(n) + ") with size " +
                             std::to_string(size_));
    size_ = n;
  }

  /// Keeps positions [0, pos) and then the rows at `rows` (ascending, each in [pos, size)), moved
  /// down to positions pos, pos + 1, ... in every layer; size() becomes pos + rows.size(). This is
  /// how a verified tree branch (speculative decoding) becomes the sequence's continuation.
  /// invalid_argument, before anything moves, when pos is outside [0, size] or the rows are not
  /// ascending within [pos, size).
  void keep_rows(std::int64_t pos, std::span<const std::int64_t> rows) {
    if (pos < 0 || pos > size_)
      throw invalid_argument("kv_cache::keep_rows: position " + std::to_string(pos) +
                             " outside [0, " + std::to_string(size_) + "]");
    std::int64_t prev = pos - 1;
    for (const std::int64_t r : rows) {
      if (r <= prev || r >= size_)
        throw invalid_argument("kv_cache::keep_rows: row " + std::to_string(r) +
                               " is not ascending within [" + std::to_string(pos) + ", " +
                               std::to_string(size_) + ")");
      prev = r;
    }
    const std::int64_t rs = row_size();
    for (std::int64_t l = 0; l < n_layer_; ++l)
      for (std::size_t i = 0; i < rows.size(); ++i) {
        const std::int64_t from = rows[i], to = pos + std::int64_t(i);
        if (from == to) continue;  // rows[i] >= to, so a move never overwrites a later source
        std::memcpy(k_ptr(l) + to * rs, k_ptr(l) + from * rs, std::size_t(rs) * sizeof(T));
        std::memcpy(v_ptr(l) + to * rs, v_ptr(l) + from * rs, std::size_t(rs) * sizeof(T));
      }
    size_ = pos + std::int64_t(rows.size());
  }

  /// Forgets every position.
  void clear() noexcept { size_ = 0; }

 private:
  static std::int64_t checked(const model_config& c, std::int64_t capacity, context_limit limit) {
    if (limit == context_limit::training && capacity > c.n_ctx_train)
      throw invalid_argument("kv_cache: capacity " + std::to_string(capacity) +
                             " exceeds the training context " + std::to_string(c.n_ctx_train) +
                             " (pass context_limit::unlimited to allow it)");
    return c.n_layer;
  }

  std::int64_t check_layer(std::int64_t layer) const {
    if (layer < 0 || layer >= n_layer_)
      throw invalid_argument("kv_cache: layer " + std::to_string(layer) + " out of range [0, " +
                             std::to_string(n_layer_) + ")");
    return layer;
  }

  // Start of layer l's K (or V) block: capacity * row_size elements.
  T* k_ptr(std::int64_t l) const { return base() + l * capacity_ * row_size(); }
  T* v_ptr(std::int64_t l) const { return base() + (n_layer_ + l) * capacity_ * row_size(); }
  T* base() const { return reinterpret_cast<T*>(const_cast<std::byte*>(buf_.data())); }

  std::int64_t check_end(std::int64_t end) const {
    if (end < 0 || end > capacity_)
      throw invalid_argument("kv_cache: end position " + std::to_string(end) +
                             " out of range [0, " + std::to_string(capacity_) + "]");
    return end;
  }

  tensor_view<const T> view(const T* p, std::int64_t end) const {
    // {end, n_head_kv, head_dim}
    return tensor_view<const T>(p, shape_t{end, n_head_kv_, head_dim_});
  }

  static void store(T* dst, std::span<const float> src) {
    if constexpr (std::is_same_v<T, float>) {
      if (!src.empty()) std::memcpy(dst, src.data(), src.size() * sizeof(float));
    } else {
      for (std::size_t i = 0; i < src.size(); ++i) dst[i] = to_f16(src[i]);
    }
  }

  std::int64_t n_layer_ = 0, n_head_kv_ = 0, head_dim_ = 0, capacity_ = 0;
  std::int64_t size_ = 0;
  aligned_buffer buf_;  // K then V, see the file comment
};

ARX_NAMESPACE_END
