// arx/core/tensor.hpp — tensors: typed non-owning views, owning tensors, and a view whose element
// type is known only at run time (what a GGUF file hands out).
//
// Conventions (all tensor types):
//   * shape is listed OUTERMOST FIRST, like numpy: a weight matrix is {rows, cols} and row r is
//     contiguous. GGUF lists dims innermost first (ne[0] = cols); the reader reverses them.
//   * rank 0..4. `shape[i]` counts logical VALUES; for block types (Q8_0, Q4_0, ...) the innermost
//     extent must be a multiple of the block size.
//   * strides are in STORAGE UNITS of T (values for float/f16/bf16, blocks for block types), so
//     `data + i*stride[0] + j*stride[1]` addresses element/block (i, j). Views may be strided;
//     owning tensors are always contiguous.
//   * a const view is `tensor_view<const T>`; `tensor_view<T>` converts to it implicitly.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <span>
#include <string>
#include <type_traits>

#include "arx/config.hpp"
#include "arx/core/dtype.hpp"
#include "arx/core/error.hpp"
#include "arx/core/memory.hpp"

ARX_NAMESPACE_BEGIN

inline constexpr int max_rank = 4;

/// Up to four extents, outermost first.
struct shape_t {
  std::array<std::int64_t, max_rank> dims{};
  int rank = 0;

  constexpr shape_t() = default;
  constexpr shape_t(std::initializer_list<std::int64_t> d) {
    if (d.size() > std::size_t(max_rank)) throw shape_error("tensor rank above 4");
    std::int64_t n = 1;
    for (auto v : d) {
      if (v < 0) throw shape_error("negative tensor extent");
      if (v != 0 && n > std::numeric_limits<std::int64_t>::max() / v)
        throw shape_error("tensor element count overflows int64");
      n *= v;
      dims[std::size_t(rank++)] = v;
    }
  }
  constexpr std::int64_t operator[](int i) const { return dims[std::size_t(i)]; }
  constexpr std::int64_t numel() const {
    std::int64_t n = 1;
    for (int i = 0; i < rank; ++i) n *= dims[std::size_t(i)];
    return n;
  }
  friend constexpr bool operator==(const shape_t& a, const shape_t& b) {
    if (a.rank != b.rank) return false;
    for (int i = 0; i < a.rank; ++i)
      if (a.dims[std::size_t(i)] != b.dims[std::size_t(i)]) return false;
    return true;
  }
  std::string str() const {
    std::string s = "[";
    for (int i = 0; i < rank; ++i) s += (i ? ", " : "") + std::to_string(dims[std::size_t(i)]);
    return s + "]";
  }
};

namespace detail {
template <class T>
constexpr std::int64_t block_elems_of() {
  if constexpr (storage_type<T>)
    return dtype_traits<std::remove_const_t<T>>::block_elems;
  else
    return 1;
}
// Contiguous strides (in storage units of T) for `s`.
template <class T>
constexpr std::array<std::int64_t, max_rank> contiguous_strides(const shape_t& s) {
  std::array<std::int64_t, max_rank> st{};
  if (s.rank == 0) return st;
  const auto be = block_elems_of<T>();
  if (s[s.rank - 1] % be != 0)
    throw shape_error("innermost extent " + std::to_string(s[s.rank - 1]) +
                      " is not a multiple of the block size " + std::to_string(be));
  std::int64_t acc = 1;
  for (int i = s.rank - 1; i >= 0; --i) {
    st[std::size_t(i)] = acc;
    acc *= (i == s.rank - 1) ? s[i] / be : s[i];
  }
  return st;
}
template <class T>
constexpr std::int64_t storage_units(const shape_t& s) {
  return s.rank == 0 ? 1 : s.numel() / block_elems_of<T>();
}
}  // namespace detail

/// Non-owning view of tensor data of storage type T (float, f16, bf16, block_q8_0, ...; const for
/// read-only). Copying a view is cheap and never copies data.
template <class T>
class tensor_view {
 public:
  using value_type = T;
  static constexpr std::int64_t block_elems = detail::block_elems_of<T>();

  constexpr tensor_view() = default;
  /// Contiguous view of `s` over `data`.
  constexpr tensor_view(T* data, shape_t s)
      : data_(data), shape_(s), strides_(detail::contiguous_strides<T>(s)) {}
  constexpr tensor_view(T* data, shape_t s, std::array<std::int64_t, max_rank> strides)
      : data_(data), shape_(s), strides_(strides) {}
  /// Converts a mutable view into a const one.
  template <class U>
    requires(std::is_same_v<const U, T> && !std::is_same_v<U, T>)
  constexpr tensor_view(const tensor_view<U>& o)
      : data_(o.data()), shape_(o.shape()), strides_(o.strides()) {}

  constexpr T* data() const noexcept { return data_; }
  constexpr const shape_t& shape() const noexcept { return shape_; }
  constexpr std::int64_t shape(int i) const { return shape_[i]; }
  constexpr const std::array<std::int64_t, max_rank>& strides() const noexcept { return strides_; }
  constexpr std::int64_t stride(int i) const { return strides_[std::size_t(i)]; }
  constexpr int rank() const noexcept { return shape_.rank; }
  constexpr std::int64_t numel() const { return shape_.numel(); }
  constexpr bool empty() const { return numel() == 0; }
  constexpr bool is_contiguous() const {
    return shape_.rank == 0 || strides_ == detail::contiguous_strides<T>(shape_);
  }

  /// Row `i` of a 2-D view {rows, cols} as a span of storage units (the row must be contiguous).
  /// For a weight of block type this is cols / block_elems blocks.
  std::span<T> row(std::int64_t i) const {
    if (rank() != 2) throw shape_error("row() needs a 2-D tensor, got shape " + shape_.str());
    ARX_DASSERT(i >= 0 && i < shape_[0]);
    ARX_DASSERT(strides_[std::size_t(rank() - 1)] == 1);
    return {data_ + i * strides_[0], std::size_t(shape_[rank() - 1] / block_elems)};
  }
  /// Sub-view of the outermost index i (rank drops by one).
  tensor_view slice(std::int64_t i) const {
    ARX_DASSERT(rank() >= 1 && i >= 0 && i < shape_[0]);
    shape_t s;
    std::array<std::int64_t, max_rank> st{};
    s.rank = rank() - 1;
    for (int d = 1; d < rank(); ++d) {
      s.dims[std::size_t(d - 1)] = shape_[d];
      st[std::size_t(d - 1)] = strides_[std::size_t(d)];
    }
    return tensor_view(data_ + i * strides_[0], s, st);
  }
  /// Rows [begin, end) of the outermost dimension.
  tensor_view rows(std::int64_t begin, std::int64_t end) const {
    ARX_DASSERT(rank() >= 1 && 0 <= begin && begin <= end && end <= shape_[0]);
    shape_t s = shape_;
    s.dims[0] = end - begin;
    return tensor_view(data_ + begin * strides_[0], s, strides_);
  }
  /// Element access for scalar types: v(i, j, ...), indices outermost first.
  template <class... I>
    requires(block_elems == 1)
  T& operator()(I... idx) const {
    ARX_DASSERT(sizeof...(I) == std::size_t(rank()));
    std::int64_t off = 0;
    int d = 0;
    ((off += std::int64_t(idx) * strides_[std::size_t(d++)]), ...);
    return data_[off];
  }
  /// All storage units of a contiguous view.
  std::span<T> flat() const {
    ARX_DASSERT(is_contiguous());
    return {data_, std::size_t(detail::storage_units<T>(shape_))};
  }

 private:
  T* data_ = nullptr;
  shape_t shape_{};
  std::array<std::int64_t, max_rank> strides_{};
};

/// Owning, contiguous, 64-byte aligned tensor. Move-only: a deep copy is an explicit `clone()`.
/// Contents are zero-initialised.
template <class T>
class tensor {
 public:
  using value_type = T;
  tensor() = default;
  explicit tensor(shape_t s) : shape_(s), buf_(checked_bytes(s)) {
    if (buf_.size()) std::memset(buf_.data(), 0, buf_.size());
  }
  tensor(tensor&&) noexcept = default;
  tensor& operator=(tensor&&) noexcept = default;
  tensor(const tensor&) = delete;
  tensor& operator=(const tensor&) = delete;

  tensor clone() const {
    tensor t(shape_);
    if (buf_.size()) std::memcpy(t.buf_.data(), buf_.data(), buf_.size());
    return t;
  }

  T* data() noexcept { return reinterpret_cast<T*>(buf_.data()); }
  const T* data() const noexcept { return reinterpret_cast<const T*>(buf_.data()); }
  const shape_t& shape() const noexcept { return shape_; }
  std::int64_t shape(int i) const { return shape_[i]; }
  int rank() const noexcept { return shape_.rank; }
  std::int64_t numel() const { return shape_.numel(); }
  std::size_t nbytes() const noexcept { return buf_.size(); }

  tensor_view<T> view() & noexcept { return {data(), shape_}; }
  tensor_view<const T> view() const& noexcept { return {data(), shape_}; }
  tensor_view<T> view() && = delete;  // a view of a temporary would dangle
  operator tensor_view<T>() & noexcept { return view(); }
  operator tensor_view<const T>() const& noexcept { return view(); }
  operator tensor_view<const T>() && = delete;

  std::span<T> flat() & noexcept { return view().flat(); }
  std::span<const T> flat() const& noexcept { return view().flat(); }
  std::span<T> row(std::int64_t i) & { return view().row(i); }
  std::span<const T> row(std::int64_t i) const& { return view().row(i); }
  template <class... I>
  T& operator()(I... idx) {
    return view()(idx...);
  }
  template <class... I>
  const T& operator()(I... idx) const {
    return view()(idx...);
  }

 private:
  // Bytes for shape `s`, validated: rank, extents, block multiple, and no size_t overflow.
  static std::size_t checked_bytes(const shape_t& s) {
    if (s.rank < 0 || s.rank > max_rank) throw shape_error("tensor rank " + std::to_string(s.rank));
    for (int i = 0; i < s.rank; ++i)
      if (s[i] < 0) throw shape_error("negative extent in tensor shape " + s.str());
    (void)detail::contiguous_strides<T>(s);  // throws unless the innermost extent fits the block
    std::size_t units = 1;
    for (int i = 0; i < s.rank; ++i) {
      const auto d = std::size_t(i == s.rank - 1 ? s[i] / detail::block_elems_of<T>() : s[i]);
      if (d != 0 && units > std::numeric_limits<std::size_t>::max() / sizeof(T) / d)
        throw shape_error("tensor of shape " + s.str() + " does not fit in memory");
      units *= d;
    }
    return units * sizeof(T);
  }

  shape_t shape_{};
  aligned_buffer buf_;
};

/// Read-only, contiguous view whose storage type is a run-time `ggml_type` — what a GGUF file
/// gives for a tensor of any type. `as<T>()` checks the type and returns the typed view.
class any_tensor_view {
 public:
  any_tensor_view() = default;
  any_tensor_view(ggml_type type, const std::byte* data, shape_t s, std::string name = {})
      : type_(type), data_(data), shape_(s), name_(std::move(name)) {}
  template <class T>
  any_tensor_view(tensor_view<T> v, std::string name = {})  // NOLINT: implicit on purpose
      : type_(dtype_traits<std::remove_const_t<T>>::type),
        data_(reinterpret_cast<const std::byte*>(v.data())),
        shape_(v.shape()),
        name_(std::move(name)) {
    if (!v.is_contiguous()) throw shape_error("any_tensor_view needs a contiguous view");
  }

  ggml_type type() const noexcept { return type_; }
  const std::byte* data() const noexcept { return data_; }
  const shape_t& shape() const noexcept { return shape_; }
  std::int64_t shape(int i) const { return shape_[i]; }
  int rank() const noexcept { return shape_.rank; }
  const std::string& name() const noexcept { return name_; }
  /// Bytes occupied (all types, including ones arx cannot compute with).
  std::size_t nbytes() const {
    if (shape_.rank == 0) return row_bytes(type_, 1);
    if (shape_.numel() == 0) return 0;
    return std::size_t(shape_.numel() / shape_[shape_.rank - 1]) *
           row_bytes(type_, shape_[shape_.rank - 1]);
  }

  /// Rows [begin, end) of a matrix, in place (e.g. the q, k and v parts of a fused attn_qkv).
  any_tensor_view rows(std::int64_t begin, std::int64_t end) const {
    if (shape_.rank != 2 || begin < 0 || begin > end || end > shape_[0])
      throw shape_error("tensor '" + name_ + "' " + shape_.str() + ": no rows [" +
                        std::to_string(begin) + ", " + std::to_string(end) + ")");
    return any_tensor_view(type_, data_ + std::size_t(begin) * row_bytes(type_, shape_[1]),
                           shape_t{end - begin, shape_[1]},
                           name_ + "[" + std::to_string(begin) + ":" + std::to_string(end) + "]");
  }

  template <class T>
  tensor_view<const T> as() const {
    if (dtype_traits<T>::type != type_)
      throw unsupported_error("tensor '" + name_ + "' has type " + type_name(type_) + ", not " +
                              type_name(dtype_traits<T>::type));
    if (reinterpret_cast<std::uintptr_t>(data_) % alignof(T) != 0)
      throw shape_error("tensor '" + name_ + "': data is not aligned for " + type_name(type_));
    return {reinterpret_cast<const T*>(data_), shape_};
  }

 private:
  ggml_type type_ = ggml_type::f32;
  const std::byte* data_ = nullptr;
  shape_t shape_{};
  std::string name_;
};

ARX_NAMESPACE_END
