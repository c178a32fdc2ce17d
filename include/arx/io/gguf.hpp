// arx/io/gguf.hpp — reads GGUF files (versions 2 and 3): metadata and zero-copy tensor views.
//
// Layout of a GGUF file (all integers little-endian):
//   header      "GGUF", u32 version, u64 tensor_count, u64 kv_count
//   metadata    kv_count × { string key, u32 value_type, value }
//   tensor info tensor_count × { string name, u32 n_dims, u64 ne[n_dims] (innermost first),
//                                u32 ggml_type, u64 offset (relative to the data section) }
//   padding     up to a multiple of `general.alignment` (default 32): the data section starts here
//   data        each tensor's bytes at data_offset + offset
//   string = u64 byte length + bytes (no terminator); array = u32 element type, u64 count, items.
//
// `gguf::open` maps the file and validates ALL of it before returning: every length, count, type
// id, shape and data range is checked against the bytes that are really there. Everything
// afterwards (metadata, tensor views) is lookups.
//
// Cost of hostile input: counts in the file are bounded by the bytes that remain, and no
// container is sized from a declared count alone: reservations are capped at `max_reserve`
// entries, and containers grow only as entries are actually parsed. Each parsed entry costs a
// fixed amount of bookkeeping for the minimum bytes it occupies in the file: about 104 bytes per
// 13-byte metadata pair, 80 per 12-byte nested array, 16 per 8-byte string element, ~130 per
// 32-byte tensor record, plus at most one aligned copy of each numeric array's bytes. With vector
// growth at most doubling that, the parser's memory stays below about 20 bytes per byte of file,
// plus at most ~3 MiB of capped reservations for entries a lying count announced but the file
// never delivered (one per open array level and per table). Its time is O(n log n) in the number
// of entries: duplicates are found by sorting, and lookups binary-search a sorted index, so no
// crafted set of keys can degrade them (file data is never hashed).
//
// The file must not be truncated or modified on disk while it is open: the mapping is shared
// with the page cache, so a truncation makes later accesses fault (SIGBUS) and a modification
// changes the bytes under already-validated views. The OS offers no way to guard against this;
// writers should replace a file by renaming a new one over it (as gguf::writer::write does),
// which leaves existing mappings of the old file intact.
//
// A file without tensors may end right after its tensor directory, so data_offset() can exceed
// size() then (llama.cpp's vocab-only files do this).
//
// Lifetime: every view the file hands out (string_views, spans, tensor views) points into the
// mapping and stays valid while the `gguf::file` object (or whatever it was moved into) lives.
#pragma once

#include <algorithm>
#include <bit>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "arx/config.hpp"
#include "arx/core/dtype.hpp"
#include "arx/core/error.hpp"
#include "arx/core/memory.hpp"
#include "arx/core/tensor.hpp"

ARX_NAMESPACE_BEGIN
namespace gguf {

// The file's integers are read with memcpy in host order; arx only targets little-endian hosts.
static_assert(std::endian::native == std::endian::little,
              "arx's GGUF reader assumes a little-endian host");

/// Alignment of the data section and of every tensor when `general.alignment` is absent.
inline constexpr std::uint32_t default_alignment = 32;
/// Most entries the parser reserves room for up front, whatever count the file declares; beyond
/// this, containers grow as entries are actually parsed (so a lying count cannot allocate).
inline constexpr std::size_t max_reserve = 4096;
/// How deep arrays of arrays may nest (an array of scalars has depth 1). GGUF writers never nest;
/// the bound keeps a hostile file from driving the parser's recursion arbitrarily deep.
inline constexpr int max_array_depth = 8;

/// Metadata value types, numbered as in the file.
enum class value_type : std::uint32_t {
  u8 = 0, i8 = 1, u16 = 2, i16 = 3, u32 = 4, i32 = 5, f32 = 6, boolean = 7,
  string = 8, array = 9, u64 = 10, i64 = 11, f64 = 12,
};

/// Short name of a value type ("u32", "string", ...); "?" for ids GGUF does not define.
constexpr std::string_view value_type_name(value_type t) noexcept {
  switch (t) {
    case value_type::u8: return "u8";
    case value_type::i8: return "i8";
    case value_type::u16: return "u16";
    case value_type::i16: return "i16";
    case value_type::u32: return "u32";
    case value_type::i32: return "i32";
    case value_type::f32: return "f32";
    case value_type::boolean: return "bool";
    case value_type::string: return "string";
    case value_type::array: return "array";
    case value_type::u64: return "u64";
    case value_type::i64: return "i64";
    case value_type::f64: return "f64";
  }
  return "?";
}

/// Bytes of one scalar of type `t`; 0 for string, array and unknown ids.
constexpr std::size_t scalar_size(value_type t) noexcept {
  switch (t) {
    case value_type::u8: case value_type::i8: case value_type::boolean: return 1;
    case value_type::u16: case value_type::i16: return 2;
    case value_type::u32: case value_type::i32: case value_type::f32: return 4;
    case value_type::u64: case value_type::i64: case value_type::f64: return 8;
    default: return 0;
  }
}

/// The C++ types that map onto a GGUF scalar: bool, float, double, and the integer types of 1, 2,
/// 4 or 8 bytes (character types excluded: `char` has no fixed signedness and reads as text).
template <class T>
concept scalar =
    std::is_same_v<T, bool> || std::is_same_v<T, float> || std::is_same_v<T, double> ||
    (std::is_integral_v<T> && !std::is_same_v<T, char> && !std::is_same_v<T, wchar_t> &&
     !std::is_same_v<T, char8_t> && !std::is_same_v<T, char16_t> &&
     !std::is_same_v<T, char32_t> &&
     (sizeof(T) == 1 || sizeof(T) == 2 || sizeof(T) == 4 || sizeof(T) == 8));

/// The GGUF type a C++ scalar is stored as.
template <scalar T>
constexpr value_type value_type_of() noexcept {
  if constexpr (std::is_same_v<T, bool>) return value_type::boolean;
  else if constexpr (std::is_same_v<T, float>) return value_type::f32;
  else if constexpr (std::is_same_v<T, double>) return value_type::f64;
  else if constexpr (sizeof(T) == 1) return std::is_signed_v<T> ? value_type::i8 : value_type::u8;
  else if constexpr (sizeof(T) == 2) return std::is_signed_v<T> ? value_type::i16 : value_type::u16;
  else if constexpr (sizeof(T) == 4) return std::is_signed_v<T> ? value_type::i32 : value_type::u32;
  else return std::is_signed_v<T> ? value_type::i64 : value_type::u64;
}

/// True when every value a `stored` scalar can hold is exactly representable as T: the same type,
/// a wider integer of the same signedness, an unsigned into a strictly wider signed integer, or
/// f32 into double. Narrowing, signed into unsigned, and integer/float/bool mixing are refused, so
/// whether a read succeeds depends on the file's declared type, never on the particular value.
template <scalar T>
constexpr bool reads_losslessly(value_type stored) noexcept {
  if constexpr (std::is_same_v<T, bool>) {
    return stored == value_type::boolean;
  } else if constexpr (std::is_floating_point_v<T>) {
    return stored == value_type::f32 || (stored == value_type::f64 && sizeof(T) >= 8);
  } else {
    bool is_signed = false;
    switch (stored) {
      case value_type::i8: case value_type::i16: case value_type::i32: case value_type::i64:
        is_signed = true;
        break;
      case value_type::u8: case value_type::u16: case value_type::u32: case value_type::u64:
        break;
      default: return false;
    }
    const std::size_t size = scalar_size(stored);
    if (is_signed == std::is_signed_v<T>) return sizeof(T) >= size;
    return !is_signed && sizeof(T) > size;  // unsigned into signed needs one more bit
  }
}

namespace detail {

template <class T>
T load(const std::byte* p) noexcept {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

/// Reads the scalar of type `t` at p converted to T (the caller checked reads_losslessly).
template <scalar T>
T load_as(value_type t, const std::byte* p) noexcept {
  switch (t) {
    case value_type::u8: return T(load<std::uint8_t>(p));
    case value_type::i8: return T(load<std::int8_t>(p));
    case value_type::u16: return T(load<std::uint16_t>(p));
    case value_type::i16: return T(load<std::int16_t>(p));
    case value_type::u32: return T(load<std::uint32_t>(p));
    case value_type::i32: return T(load<std::int32_t>(p));
    case value_type::u64: return T(load<std::uint64_t>(p));
    case value_type::i64: return T(load<std::int64_t>(p));
    case value_type::f32: return T(load<float>(p));
    case value_type::f64: return T(load<double>(p));
    case value_type::boolean: return T(load<std::uint8_t>(p) != 0);
    default: return T{};
  }
}

template <class T>
constexpr std::string_view cpp_type_name() noexcept {
  if constexpr (std::is_same_v<T, std::string_view> || std::is_same_v<T, std::string>)
    return "string";
  else
    return value_type_name(value_type_of<T>());
}

/// `s` with control bytes, quotes, backslashes and bytes >= 0x7f escaped, cut after `max_bytes`
/// bytes (marked with "..."). Used for names from a file, which may be anything.
inline std::string escape(std::string_view s, std::size_t max_bytes = std::size_t(-1)) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  const std::size_t n = std::min(s.size(), max_bytes);
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += char(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c >= 0x7f) {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += char(c);
    }
  }
  if (n < s.size()) out += "...";
  return out;
}

/// `s` escaped and in double quotes.
inline std::string quote(std::string_view s, std::size_t max_bytes = std::size_t(-1)) {
  return '"' + escape(s, max_bytes) + '"';
}

/// A key or tensor name from a file as shown in error messages: escaped and at most 200 bytes.
inline std::string shown(std::string_view name) { return escape(name, 200); }

template <class F>
std::string number_text(F v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

/// Index of the position of `key` in the entries sorted by key (`order` holds entry indices
/// sorted by `key_of`), or npos.
template <class KeyOf>
std::size_t sorted_find(const std::vector<std::size_t>& order, std::string_view key,
                        KeyOf key_of) {
  const auto it = std::lower_bound(order.begin(), order.end(), key,
                                   [&](std::size_t i, std::string_view k) { return key_of(i) < k; });
  return it != order.end() && key_of(*it) == key ? *it : std::size_t(-1);
}

/// Entry indices 0..n-1 sorted by key (ties in index order), so equal keys are adjacent and
/// the second of a pair is the later one in the file.
template <class KeyOf>
std::vector<std::size_t> sorted_order(std::size_t n, KeyOf key_of) {
  std::vector<std::size_t> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    const std::string_view ka = key_of(a), kb = key_of(b);
    return ka < kb || (ka == kb && a < b);
  });
  return order;
}

/// The smallest index that repeats an earlier entry's key (the first duplicate in file order),
/// or npos; `order` as from sorted_order.
template <class KeyOf>
std::size_t first_duplicate(const std::vector<std::size_t>& order, KeyOf key_of) {
  std::size_t first = std::size_t(-1);
  for (std::size_t k = 1; k < order.size(); ++k)
    if (key_of(order[k]) == key_of(order[k - 1])) first = std::min(first, order[k]);
  return first;
}

}  // namespace detail

/// `s` made safe to print on a terminal: control bytes and bytes >= 0x7f as \xNN, newlines as
/// \n, quotes and backslashes backslash-escaped; cut after `max_bytes` bytes (marked "...").
/// Use it for keys, tensor names and strings from a file, which may hold anything.
inline std::string escape(std::string_view s, std::size_t max_bytes = std::size_t(-1)) {
  return detail::escape(s, max_bytes);
}

class file;

/// One metadata value: a scalar, a string, or an array (of scalars, strings or arrays). It points
/// into its `gguf::file`, which must outlive it.
class value {
 public:
  value_type type() const noexcept { return type_; }
  bool is_array() const noexcept { return type_ == value_type::array; }
  /// Element type of an array (meaningless otherwise).
  value_type array_type() const noexcept { return elem_; }
  /// Elements of an array, bytes of a string, 1 for a scalar.
  std::uint64_t size() const noexcept { return count_; }
  /// Byte offset in the file where this value's encoding starts (after its type field).
  std::uint64_t offset() const noexcept { return offset_; }

  /// The scalar or string as T (a `scalar`, std::string_view or std::string); nullopt when the
  /// stored type cannot be read as T without possible loss (see `reads_losslessly`).
  template <class T>
  std::optional<T> as() const {
    if constexpr (std::is_same_v<T, std::string_view> || std::is_same_v<T, std::string>) {
      if (type_ != value_type::string) return std::nullopt;
      return T(reinterpret_cast<const char*>(data_), std::size_t(count_));
    } else {
      static_assert(scalar<T>, "value::as<T>: T must be a GGUF scalar type or a string type");
      if (!reads_losslessly<T>(type_)) return std::nullopt;
      return detail::load_as<T>(type_, data_);
    }
  }

  /// Elements of an array whose element type is exactly T's (`value_type_of<T>`), or of a string
  /// array for T = std::string_view; nullopt for anything else. Never copies: numeric elements are
  /// viewed in place (or in an aligned copy the reader made at open time when the file's bytes
  /// were not aligned for T), string elements point into the file.
  template <class T>
  std::optional<std::span<const T>> as_array() const {
    if (type_ != value_type::array) return std::nullopt;
    if constexpr (std::is_same_v<T, std::string_view>) {
      if (elem_ != value_type::string) return std::nullopt;
      return std::span<const std::string_view>(strings_);
    } else {
      static_assert(scalar<T>, "value::as_array<T>: T must be a GGUF scalar type or string_view");
      if (elem_ != value_type_of<T>()) return std::nullopt;
      return std::span<const T>(reinterpret_cast<const T*>(data_), std::size_t(count_));
    }
  }

  /// The element arrays of an array of arrays (empty otherwise).
  std::span<const value> items() const noexcept { return items_; }

  /// Raw little-endian payload: the bytes of a scalar, the characters of a string, the packed
  /// elements of a numeric array; empty for arrays of strings or arrays.
  std::span<const std::byte> bytes() const noexcept {
    if (type_ == value_type::string) return {data_, std::size_t(count_)};
    if (type_ == value_type::array)
      return scalar_size(elem_) ? std::span<const std::byte>(data_, count_ * scalar_size(elem_))
                                : std::span<const std::byte>();
    return {data_, scalar_size(type_)};
  }

  /// Human-readable text: numbers, true/false, quoted escaped strings (cut after 256 bytes when
  /// `max_items` is limited), arrays as "[a, b, ...]" showing at most `max_items` elements.
  std::string to_string(std::size_t max_items = 8) const {
    const bool abbreviate = max_items != std::size_t(-1);
    if (type_ == value_type::string)
      return detail::quote(*as<std::string_view>(), abbreviate ? 256 : std::size_t(-1));
    if (type_ != value_type::array) return scalar_text(type_, data_);
    std::string s = "[";
    const std::uint64_t shown = std::min<std::uint64_t>(count_, max_items);
    for (std::uint64_t i = 0; i < shown; ++i) {
      if (i) s += ", ";
      if (elem_ == value_type::string)
        s += detail::quote(strings_[i], abbreviate ? 64 : std::size_t(-1));
      else if (elem_ == value_type::array)
        s += items_[i].to_string(max_items);
      else
        s += scalar_text(elem_, data_ + i * scalar_size(elem_));
    }
    if (shown < count_) s += (shown ? ", ... (" : "... (") + std::to_string(count_) + " total)";
    return s + "]";
  }

 private:
  friend class file;
  value() = default;  // only the parser makes values, so every value points at real bytes

  static std::string scalar_text(value_type t, const std::byte* p) {
    switch (t) {
      case value_type::boolean: return detail::load<std::uint8_t>(p) ? "true" : "false";
      case value_type::f32: return detail::number_text(detail::load<float>(p));
      case value_type::f64: return detail::number_text(detail::load<double>(p));
      case value_type::u8: case value_type::u16: case value_type::u32: case value_type::u64:
        return std::to_string(detail::load_as<std::uint64_t>(t, p));
      default: return std::to_string(detail::load_as<std::int64_t>(t, p));
    }
  }

  value_type type_ = value_type::u8;
  value_type elem_ = value_type::u8;
  std::uint64_t count_ = 0;
  std::uint64_t offset_ = 0;
  const std::byte* data_ = nullptr;
  std::vector<std::string_view> strings_;  // elements of a string array
  std::vector<value> items_;               // elements of an array of arrays
};

/// One metadata key and its value, in file order.
struct metadata_entry {
  std::string_view key;
  gguf::value value;
};

/// Where one tensor's data is and how to interpret it.
struct tensor_info {
  std::string name;
  ggml_type type = ggml_type::f32;
  shape_t shape;             // outermost first: the file's ne[] reversed
  std::uint64_t offset = 0;  // absolute byte offset of the data in the file
  std::size_t nbytes = 0;    // bytes of data
};

/// A validated GGUF file: its metadata and zero-copy views of its tensors. Move-only.
class file {
 public:
  /// An empty object holding no file (no metadata, no tensors).
  file() = default;
  /// Moving keeps every view valid (they point into the mapping, which does not move) and leaves
  /// `o` empty.
  file(file&& o) noexcept { *this = std::move(o); }
  file& operator=(file&& o) noexcept {
    if (this != &o) {
      map_ = std::move(o.map_);
      owned_ = std::move(o.owned_);
      data_ = std::exchange(o.data_, nullptr);
      size_ = std::exchange(o.size_, 0);
      path_ = std::move(o.path_);
      version_ = std::exchange(o.version_, 0);
      alignment_ = std::exchange(o.alignment_, default_alignment);
      data_offset_ = std::exchange(o.data_offset_, 0);
      meta_ = std::exchange(o.meta_, {});
      meta_index_ = std::exchange(o.meta_index_, {});
      tensors_ = std::exchange(o.tensors_, {});
      tensor_index_ = std::exchange(o.tensor_index_, {});
      aligned_arrays_ = std::exchange(o.aligned_arrays_, {});
    }
    return *this;
  }
  file(const file&) = delete;
  file& operator=(const file&) = delete;

  /// Parses and validates bytes held in memory; `name` stands for the path in error messages.
  /// The bytes are copied into a 64-byte aligned buffer so tensor views are aligned exactly as
  /// they are in a memory-mapped file.
  static file from_bytes(std::span<const std::byte> bytes, std::string name = "<memory>") {
    file f;
    f.path_ = std::move(name);
    f.owned_ = aligned_buffer(bytes.size());
    if (!bytes.empty()) std::memcpy(f.owned_.data(), bytes.data(), bytes.size());
    f.data_ = f.owned_.data();
    f.size_ = bytes.size();
    f.parse();
    return f;
  }

  /// Maps `path` read-only and validates it. Throws io_error, format_error, unsupported_error.
  friend file open(const std::string& path);

  const std::string& path() const noexcept { return path_; }
  std::uint32_t version() const noexcept { return version_; }
  std::uint32_t alignment() const noexcept { return alignment_; }
  /// Byte offset where the data section starts (tensor offsets in the file are relative to it).
  std::uint64_t data_offset() const noexcept { return data_offset_; }
  /// Size of the whole file in bytes.
  std::uint64_t size() const noexcept { return size_; }
  /// The whole file.
  std::span<const std::byte> bytes() const noexcept { return {data_, std::size_t(size_)}; }

  // ---- metadata ----------------------------------------------------------------------------

  /// Every key/value pair in file order.
  std::span<const metadata_entry> metadata() const noexcept { return meta_; }
  bool contains(std::string_view key) const { return find(key) != nullptr; }
  /// The value stored under `key`, or null. O(log n).
  const value* find(std::string_view key) const {
    const std::size_t i = detail::sorted_find(meta_index_, key, meta_key());
    return i == std::size_t(-1) ? nullptr : &meta_[i].value;
  }
  /// The value stored under `key`; key_error when absent.
  const value& at(std::string_view key) const {
    if (const value* v = find(key)) return *v;
    throw key_error(path_ + ": metadata key '" + std::string(key) + "' not found");
  }

  /// The scalar or string under `key` as T (a `scalar`, std::string_view or std::string).
  /// key_error naming the key when it is absent or its type cannot be read as T without possible
  /// loss: a u32 reads as uint32_t, uint64_t or int64_t, but not as int32_t or int16_t.
  template <class T>
  T get(std::string_view key) const {
    const value& v = at(key);
    if (auto r = v.as<T>()) return *std::move(r);
    throw key_error(path_ + ": metadata '" + std::string(key) + "' is " + describe(v) +
                    ", which cannot be read as " + std::string(detail::cpp_type_name<T>()) +
                    " without possible loss");
  }
  /// Like get<T>, but `fallback` when the key is absent (a present key of an unreadable type is
  /// still a key_error: a wrong type is a broken file, not a missing setting).
  template <class T>
  T get_or(std::string_view key, T fallback) const {
    return contains(key) ? get<T>(key) : std::move(fallback);
  }
  /// String overload, so that get_or(key, "text") reads a string rather than a const char*.
  std::string_view get_or(std::string_view key, const char* fallback) const {
    return get_or<std::string_view>(key, std::string_view(fallback));
  }

  /// The array under `key` as a span of T: T's GGUF type must equal the element type exactly
  /// (std::string_view for arrays of strings). Zero-copy. key_error when absent or mismatched.
  template <class T>
  std::span<const T> get_array(std::string_view key) const {
    const value& v = at(key);
    if (auto r = v.as_array<T>()) return *r;
    throw key_error(path_ + ": metadata '" + std::string(key) + "' is " + describe(v) +
                    ", not an array of " + std::string(detail::cpp_type_name<T>()));
  }

  // ---- tensors -----------------------------------------------------------------------------

  /// Every tensor, in the order of the file's tensor directory.
  std::span<const tensor_info> tensors() const noexcept { return tensors_; }
  /// The tensor named `name`, or null. O(log n).
  const tensor_info* find_tensor(std::string_view name) const {
    const std::size_t i = detail::sorted_find(tensor_index_, name, tensor_name());
    return i == std::size_t(-1) ? nullptr : &tensors_[i];
  }
  /// Zero-copy view of a tensor of any type (K-quants and IQ types included). `t` must be one of
  /// this file's tensors().
  any_tensor_view tensor(const tensor_info& t) const {
    return any_tensor_view(t.type, data_ + t.offset, t.shape, t.name);
  }
  /// Zero-copy view of the tensor `name`; key_error when there is none.
  any_tensor_view tensor(std::string_view name) const { return tensor(require_tensor(name)); }
  /// Typed zero-copy view, e.g. tensor_as<block_q8_0>("blk.0.attn_q.weight"); key_error when
  /// absent, unsupported_error when the tensor has another type (both naming the file).
  template <class T>
  tensor_view<const T> tensor_as(std::string_view name) const {
    const tensor_info& t = require_tensor(name);
    if (dtype_traits<T>::type != t.type)
      throw unsupported_error(path_ + ": tensor '" + detail::shown(t.name) + "' has type " +
                              type_name(t.type) + ", not " + type_name(dtype_traits<T>::type));
    return tensor(t).template as<T>();  // the parser checked the data's alignment
  }
  /// The raw bytes of a tensor's data.
  std::span<const std::byte> tensor_bytes(const tensor_info& t) const noexcept {
    return {data_ + t.offset, t.nbytes};
  }

 private:
  class parser;

  const tensor_info& require_tensor(std::string_view name) const {
    if (const tensor_info* t = find_tensor(name)) return *t;
    throw key_error(path_ + ": tensor '" + detail::shown(name) + "' not found");
  }
  // Key of the i-th metadata entry / name of the i-th tensor, for the sorted indices.
  struct meta_key_of {
    const file* f;
    std::string_view operator()(std::size_t i) const noexcept { return f->meta_[i].key; }
  };
  struct tensor_name_of {
    const file* f;
    std::string_view operator()(std::size_t i) const noexcept { return f->tensors_[i].name; }
  };
  meta_key_of meta_key() const noexcept { return {this}; }
  tensor_name_of tensor_name() const noexcept { return {this}; }
  static std::string describe(const value& v) {
    if (!v.is_array()) return std::string(value_type_name(v.type()));
    return "an array of " + std::string(value_type_name(v.array_type()));
  }

  void parse();

  mapped_file map_;      // the mapping, when opened from a path
  aligned_buffer owned_; // the bytes, when made from memory
  const std::byte* data_ = nullptr;
  std::uint64_t size_ = 0;
  std::string path_;
  std::uint32_t version_ = 0;
  std::uint32_t alignment_ = default_alignment;
  std::uint64_t data_offset_ = 0;
  std::vector<metadata_entry> meta_;
  // Indices into meta_ / tensors_ sorted by key / name, for binary search. Sorting rather than
  // hashing keeps a file full of colliding keys from making lookups or parsing quadratic.
  std::vector<std::size_t> meta_index_;
  std::vector<tensor_info> tensors_;
  std::vector<std::size_t> tensor_index_;
  // Aligned copies of numeric metadata arrays whose bytes sit misaligned in the file (e.g. the
  // f32 token scores after a string array), so that as_array<float>() is a valid span.
  std::vector<std::unique_ptr<std::uint64_t[]>> aligned_arrays_;
};

/// Validating parser. Every read goes through `need`, which compares against the bytes left, and
/// every error names the field being read and the byte offset where it starts.
class file::parser {
 public:
  explicit parser(file& f) : f_(f), base_(f.data_), size_(f.size_) {}

  void run() {
    read_header();
    for (std::uint64_t i = 0; i < kv_count_; ++i) read_kv(i);
    index_metadata();
    read_tensor_infos();
    place_tensors();
  }

 private:
  // Smallest possible encodings, used to bound counts before reserving anything.
  static constexpr std::uint64_t min_kv_bytes = 8 + 4 + 1;               // key len, type, u8
  static constexpr std::uint64_t min_tensor_info_bytes = 8 + 4 + 8 + 4 + 8;  // name len, 1 dim
  static constexpr std::uint64_t header_bytes = 4 + 4 + 8 + 8;

  // Per-tensor facts kept between reading the directory and checking data ranges.
  struct tensor_fields {
    std::uint64_t name_field;    // where the tensor's name is in the file
    std::uint64_t offset_field;  // where the tensor's offset field is in the file
    std::uint64_t relative;      // offset as written (relative to the data section)
  };

  std::uint64_t remaining() const noexcept { return size_ - pos_; }

  [[noreturn]] void fail(std::uint64_t at, const std::string& what) const {
    throw format_error(f_.path_, at, what);
  }
  std::string where() const {
    std::string s = context_;
    if (index_ != no_index) s += " element " + std::to_string(index_);
    return s.empty() ? s : s + ": ";
  }
  void need(std::uint64_t n, const char* field) const {
    if (n > remaining())
      fail(pos_, where() + "truncated: " + field + " needs " + std::to_string(n) +
                     " bytes but only " + std::to_string(remaining()) +
                     " remain (file size " + std::to_string(size_) + ")");
  }
  const std::byte* take(std::uint64_t n, const char* field) {
    need(n, field);
    const std::byte* p = base_ + pos_;
    pos_ += n;
    return p;
  }
  template <class T>
  T read(const char* field) {
    return detail::load<T>(take(sizeof(T), field));
  }
  std::string_view read_string(const char* field) {
    const std::uint64_t at = pos_;
    const auto n = read<std::uint64_t>(field);
    if (n > remaining())
      fail(at, where() + field + " length " + std::to_string(n) + " exceeds the " +
                   std::to_string(remaining()) + " bytes left in the file (size " +
                   std::to_string(size_) + ")");
    return {reinterpret_cast<const char*>(take(n, field)), std::size_t(n)};
  }

  void read_header() {
    context_ = "header";
    const std::byte* m = take(4, "magic");
    if (std::memcmp(m, "GGUF", 4) != 0)
      fail(0, "bad magic " + detail::quote({reinterpret_cast<const char*>(m), 4}) +
                  ": not a GGUF file (expected \"GGUF\")");
    const auto version = read<std::uint32_t>("version");
    if (version == 0) fail(4, "invalid GGUF version 0");
    if (version != 2 && version != 3) {
      const std::uint32_t swapped_version = __builtin_bswap32(version);
      const bool swapped = swapped_version == 2 || swapped_version == 3;
      throw unsupported_error(f_.path_ + ": at byte 4: GGUF version " + std::to_string(version) +
                              (swapped ? " (a big-endian file)" : "") +
                              " is not supported; arx reads versions 2 and 3");
    }
    f_.version_ = version;
    const auto tensor_count = read<std::uint64_t>("tensor_count");
    kv_count_ = read<std::uint64_t>("kv_count");
    // Bound both counts by what the rest of the file could hold, so a hostile count fails here
    // instead of in a huge reserve() or a long loop.
    if (kv_count_ > remaining() / min_kv_bytes)
      fail(16, "kv_count " + std::to_string(kv_count_) + " cannot fit: the " +
                   std::to_string(remaining()) + " bytes after the header hold at most " +
                   std::to_string(remaining() / min_kv_bytes) +
                   " key/value pairs (truncated file or corrupt count)");
    if (tensor_count > remaining() / min_tensor_info_bytes)
      fail(8, "tensor_count " + std::to_string(tensor_count) + " cannot fit: the " +
                  std::to_string(remaining()) + " bytes after the header hold at most " +
                  std::to_string(remaining() / min_tensor_info_bytes) +
                  " tensor records (truncated file or corrupt count)");
    tensor_count_ = tensor_count;
    f_.meta_.reserve(capped(kv_count_));
    key_offsets_.reserve(capped(kv_count_));
  }

  // Room to reserve for `count` entries the file declares: never more than max_reserve, so the
  // memory used follows the entries actually parsed, not the count.
  static std::size_t capped(std::uint64_t count) noexcept {
    return std::size_t(std::min<std::uint64_t>(count, max_reserve));
  }

  // After all metadata: sorts the keys into the lookup index and rejects duplicates, naming the
  // first key (in file order) that repeats an earlier one.
  void index_metadata() {
    index_ = no_index;
    auto order = detail::sorted_order(f_.meta_.size(), f_.meta_key());
    const std::size_t dup = detail::first_duplicate(order, f_.meta_key());
    if (dup != std::size_t(-1))
      fail(key_offsets_[dup], "duplicate metadata key '" + detail::shown(f_.meta_[dup].key) + "'");
    f_.meta_index_ = std::move(order);
  }

  void read_kv(std::uint64_t i) {
    context_ = "metadata #" + std::to_string(i);
    index_ = no_index;
    const std::uint64_t key_at = pos_;
    const std::string_view key = read_string("key");
    context_ = "metadata '" + detail::shown(key) + "'";
    const std::uint64_t type_at = pos_;
    const auto raw_type = read<std::uint32_t>("value type");
    if (!known_type(raw_type))
      fail(type_at, where() + "unknown value type " + std::to_string(raw_type));
    value v = read_value(value_type(raw_type), 0);
    if (key == "general.alignment") check_alignment(v, type_at);
    f_.meta_.push_back({key, std::move(v)});
    key_offsets_.push_back(key_at);
  }

  static bool known_type(std::uint32_t t) noexcept { return t <= 12; }
  static std::uint64_t min_encoded_size(value_type t) noexcept {
    if (t == value_type::string) return 8;
    if (t == value_type::array) return 4 + 8;
    return scalar_size(t);
  }

  value read_value(value_type t, int depth) {
    value v;
    v.type_ = t;
    v.offset_ = pos_;
    if (t == value_type::string) {
      const std::string_view s = read_string("string value");
      v.data_ = reinterpret_cast<const std::byte*>(s.data());
      v.count_ = s.size();
    } else if (t == value_type::array) {
      read_array(v, depth + 1);
    } else {
      v.data_ = take(scalar_size(t), "value");
      v.count_ = 1;
      if (t == value_type::boolean) check_bools(v.data_, 1, v.offset_);
    }
    return v;
  }

  // A bool byte other than 0 or 1 is malformed; rejecting it keeps span<const bool> views valid.
  void check_bools(const std::byte* p, std::uint64_t n, std::uint64_t at) const {
    for (std::uint64_t i = 0; i < n; ++i)
      if (std::to_integer<unsigned>(p[i]) > 1)
        fail(at + i, where() + "bool byte " + std::to_string(std::to_integer<unsigned>(p[i])) +
                         " is neither 0 nor 1");
  }

  void read_array(value& v, int depth) {
    const std::uint64_t at = pos_;
    if (depth > max_array_depth)
      fail(at, where() + "arrays nested deeper than " + std::to_string(max_array_depth) +
                   " levels");
    const auto raw_elem = read<std::uint32_t>("array element type");
    if (!known_type(raw_elem))
      fail(at, where() + "unknown array element type " + std::to_string(raw_elem));
    const auto elem = value_type(raw_elem);
    const std::uint64_t count_at = pos_;
    const auto count = read<std::uint64_t>("array count");
    const std::uint64_t min = min_encoded_size(elem);
    if (count > remaining() / min)
      fail(count_at, where() + "array of " + std::to_string(count) + " " +
                         std::string(value_type_name(elem)) + " elements needs at least " +
                         std::to_string(min) + " bytes each, but only " +
                         std::to_string(remaining()) + " bytes remain");
    v.elem_ = elem;
    v.count_ = count;
    v.offset_ = at;
    v.data_ = base_ + pos_;
    const std::uint64_t outer_index = index_;
    if (elem == value_type::string) {
      v.strings_.reserve(capped(count));
      for (std::uint64_t i = 0; i < count; ++i) {
        index_ = i;
        v.strings_.push_back(read_string("string"));
      }
    } else if (elem == value_type::array) {
      v.items_.reserve(capped(count));
      for (std::uint64_t i = 0; i < count; ++i) {
        index_ = i;
        value item;
        item.type_ = value_type::array;
        read_array(item, depth + 1);
        v.items_.push_back(std::move(item));
      }
    } else {
      const std::uint64_t size = scalar_size(elem);
      const std::byte* p = take(count * size, "array elements");  // count*size <= remaining
      if (elem == value_type::boolean) check_bools(p, count, pos_ - count);
      v.data_ = aligned_for(p, count * size, size);
    }
    index_ = outer_index;
  }

  // Numeric arrays follow variable-length strings, so they may sit at any address; copy those
  // that are misaligned for their element type (once, here) so typed spans over them are valid.
  const std::byte* aligned_for(const std::byte* p, std::uint64_t bytes, std::uint64_t align) {
    if (bytes == 0 || reinterpret_cast<std::uintptr_t>(p) % align == 0) return p;
    auto copy = std::make_unique<std::uint64_t[]>(std::size_t((bytes + 7) / 8));
    std::memcpy(copy.get(), p, std::size_t(bytes));
    const auto* q = reinterpret_cast<const std::byte*>(copy.get());
    f_.aligned_arrays_.push_back(std::move(copy));
    return q;
  }

  void check_alignment(const value& v, std::uint64_t type_at) {
    if (v.type() != value_type::u32)
      fail(type_at, "general.alignment must be a u32, found " +
                        std::string(value_type_name(v.type())));
    const auto a = *v.as<std::uint32_t>();
    if (!std::has_single_bit(a))
      fail(v.offset(), "general.alignment " + std::to_string(a) +
                           " is not a non-zero power of two");
    f_.alignment_ = a;
  }

  void read_tensor_infos() {
    index_ = no_index;
    f_.tensors_.reserve(capped(tensor_count_));
    fields_.reserve(capped(tensor_count_));
    for (std::uint64_t i = 0; i < tensor_count_; ++i) read_tensor_info(i);
    auto order = detail::sorted_order(f_.tensors_.size(), f_.tensor_name());
    const std::size_t dup = detail::first_duplicate(order, f_.tensor_name());
    if (dup != std::size_t(-1))
      fail(fields_[dup].name_field,
           "duplicate tensor name '" + detail::shown(f_.tensors_[dup].name) + "'");
    f_.tensor_index_ = std::move(order);
    // The data section starts at the next multiple of the alignment after the directory.
    const std::uint64_t a = f_.alignment_;
    f_.data_offset_ = pos_ + (a - pos_ % a) % a;  // pos_ <= size_, so no overflow
  }

  void read_tensor_info(std::uint64_t i) {
    context_ = "tensor #" + std::to_string(i);
    const std::uint64_t name_at = pos_;
    const std::string_view name = read_string("name");
    context_ = "tensor '" + detail::shown(name) + "'";

    const std::uint64_t ndims_at = pos_;
    const auto n_dims = read<std::uint32_t>("n_dims");
    if (n_dims == 0 || n_dims > std::uint32_t(max_rank))
      fail(ndims_at, where() + "n_dims " + std::to_string(n_dims) + " is not in 1.." +
                         std::to_string(max_rank));

    const std::uint64_t dims_at = pos_;
    shape_t shape;
    shape.rank = int(n_dims);
    std::int64_t numel = 1;
    for (std::uint32_t d = 0; d < n_dims; ++d) {
      const std::uint64_t at = pos_;
      const auto ne = read<std::uint64_t>("dimension");
      if (ne == 0) fail(at, where() + "dimension " + std::to_string(d) + " is 0");
      if (ne > std::uint64_t(std::numeric_limits<std::int64_t>::max()) ||
          __builtin_mul_overflow(numel, std::int64_t(ne), &numel))
        fail(at, where() + "element count overflows int64 at dimension " + std::to_string(d) +
                     " (" + std::to_string(ne) + ")");
      shape.dims[std::size_t(n_dims - 1 - d)] = std::int64_t(ne);  // innermost first in the file
    }

    const std::uint64_t type_at = pos_;
    const auto type_id = read<std::uint32_t>("type");
    const auto facts = type_info(type_id);
    if (!facts) fail(type_at, where() + "unknown tensor type id " + std::to_string(type_id));
    const std::int64_t inner = shape[shape.rank - 1];
    if (inner % facts->block_elems != 0)
      fail(dims_at, where() + "innermost dimension " + std::to_string(inner) +
                        " is not a multiple of the " + std::string(facts->name) +
                        " block size " + std::to_string(facts->block_elems));
    std::uint64_t nbytes = 0;
    if (__builtin_mul_overflow(std::uint64_t(numel / facts->block_elems),
                               std::uint64_t(facts->block_bytes), &nbytes) ||
        nbytes > std::numeric_limits<std::size_t>::max())
      fail(dims_at, where() + "data size of " + shape.str() + " " + std::string(facts->name) +
                        " overflows 64 bits");

    const std::uint64_t offset_at = pos_;
    const auto offset = read<std::uint64_t>("offset");
    if (offset % f_.alignment_ != 0)
      fail(offset_at, where() + "offset " + std::to_string(offset) +
                          " is not a multiple of the alignment " + std::to_string(f_.alignment_));

    f_.tensors_.push_back(
        {std::string(name), ggml_type(type_id), shape, offset, std::size_t(nbytes)});
    fields_.push_back({name_at, offset_at, offset});
  }

  // Turns relative offsets into absolute ones and checks every data range: inside the file,
  // aligned for the element type, and not overlapping another tensor.
  void place_tensors() {
    auto& ts = f_.tensors_;
    for (std::size_t i = 0; i < ts.size(); ++i) {
      auto& t = ts[i];
      context_ = "tensor '" + detail::shown(t.name) + "'";
      const std::uint64_t at = fields_[i].offset_field;
      std::uint64_t begin = 0, end = 0;
      if (__builtin_add_overflow(f_.data_offset_, fields_[i].relative, &begin) ||
          __builtin_add_overflow(begin, std::uint64_t(t.nbytes), &end))
        fail(at, where() + "data offset " + std::to_string(fields_[i].relative) + " + " +
                     std::to_string(t.nbytes) + " bytes overflows 64 bits");
      if (end > size_)
        fail(at, where() + "data [" + std::to_string(begin) + ", " + std::to_string(end) +
                     ") runs past the end of the file (size " + std::to_string(size_) + ")");
      // Only reachable with a general.alignment below 8, which the GGUF spec forbids but
      // llama.cpp accepts: typed views must not be misaligned.
      const auto facts = *type_info(std::uint32_t(t.type));
      const std::uint64_t natural =
          std::min<std::uint64_t>(8, std::uint64_t(1) << std::countr_zero(facts.block_bytes));
      if (begin % natural != 0)
        fail(at, where() + "data at byte " + std::to_string(begin) + " is not aligned to the " +
                     std::to_string(natural) + " bytes " + std::string(facts.name) +
                     " data needs (general.alignment " + std::to_string(f_.alignment_) + ")");
      t.offset = begin;
    }
    std::vector<std::size_t> order(ts.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(),
              [&](std::size_t a, std::size_t b) { return ts[a].offset < ts[b].offset; });
    for (std::size_t k = 1; k < order.size(); ++k) {
      const auto& prev = ts[order[k - 1]];
      const auto& cur = ts[order[k]];
      if (cur.offset < prev.offset + prev.nbytes)
        fail(fields_[order[k]].offset_field,
             "tensor '" + detail::shown(cur.name) + "': data [" + std::to_string(cur.offset) +
                 ", " + std::to_string(cur.offset + cur.nbytes) + ") overlaps tensor '" +
                 detail::shown(prev.name) +
                 "' [" + std::to_string(prev.offset) + ", " +
                 std::to_string(prev.offset + prev.nbytes) + ")");
    }
  }

  static constexpr std::uint64_t no_index = std::uint64_t(-1);

  file& f_;
  const std::byte* base_;
  std::uint64_t size_;
  std::uint64_t pos_ = 0;
  std::uint64_t kv_count_ = 0;
  std::uint64_t tensor_count_ = 0;
  std::string context_;             // what is being read, for error messages
  std::uint64_t index_ = no_index;  // array element being read, for error messages
  std::vector<tensor_fields> fields_;
  std::vector<std::uint64_t> key_offsets_;  // where each metadata key is in the file
};

inline void file::parse() { parser(*this).run(); }

/// Maps `path` read-only and validates all of it; see `file`.
inline file open(const std::string& path) {
  file f;
  f.map_ = mapped_file(path);
  f.path_ = path;
  f.data_ = f.map_.data();
  f.size_ = f.map_.size();
  f.parse();
  return f;
}

}  // namespace gguf
ARX_NAMESPACE_END
