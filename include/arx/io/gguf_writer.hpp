// arx/io/gguf_writer.hpp — builds GGUF v3 files: metadata of every value type, then tensors.
//
// Output layout (what llama.cpp's own writer produces): header, metadata in insertion order,
// tensor directory in insertion order, zero padding to the alignment, then each tensor's bytes
// followed by zero padding to the alignment, so tensor offsets are consecutive multiples of it.
// Everything is validated when added, with typed errors, so `to_bytes()` / `write()` cannot produce
// a file that arx's reader (or llama.cpp's) would refuse.
//
//   gguf::writer w;
//   w.set("general.architecture", "llama");
//   w.set("llama.block_count", std::uint32_t(2));
//   w.set_array("tokenizer.ggml.tokens", std::vector<std::string>{"<unk>", "<s>"});
//   w.add_tensor("token_embd.weight", embeddings.view());   // tensor<float> {n_vocab, n_embd}
//   w.write("model.gguf");
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <ranges>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "arx/config.hpp"
#include "arx/core/dtype.hpp"
#include "arx/core/error.hpp"
#include "arx/core/tensor.hpp"
#include "arx/io/gguf.hpp"

ARX_NAMESPACE_BEGIN
namespace gguf {

/// Longest tensor name llama.cpp accepts (its GGML_MAX_NAME is 64 including the terminator).
inline constexpr std::size_t max_tensor_name_bytes = 63;

/// Largest alignment the writer accepts (64 KiB, the largest common page size). Every tensor is
/// padded to the alignment, so the bound caps the padding at 64 KiB per tensor; the reader still
/// accepts any power of two, as llama.cpp does.
inline constexpr std::uint32_t max_writer_alignment = 65536;

/// Collects metadata and tensors, then writes them as one GGUF v3 file. Tensor bytes are copied
/// when added, so sources need not outlive the writer.
class writer {
 public:
  /// `alignment` of the data section and of every tensor: a power of two from 8 (the GGUF spec
  /// asks for a multiple of 8) to max_writer_alignment. A value other than 32 is recorded as
  /// `general.alignment`.
  explicit writer(std::uint32_t alignment = default_alignment) { set_alignment(alignment); }

  /// Changes the alignment (see the constructor); invalid_argument when it is not allowed.
  /// `general.alignment` is recorded when the alignment is not 32 or the key is already set.
  void set_alignment(std::uint32_t alignment) {
    apply_alignment(alignment, alignment != default_alignment || contains(alignment_key));
  }
  std::uint32_t alignment() const noexcept { return alignment_; }

  // ---- metadata: insertion order is kept; setting a key again replaces its value in place ----

  /// A scalar: bool, float (f32), double (f64), or an integer of 1/2/4/8 bytes whose size and
  /// signedness choose the GGUF type (std::uint32_t -> u32, int -> i32, ...).
  /// `general.alignment` must be a std::uint32_t; it sets the alignment (and is always written).
  template <scalar T>
  void set(std::string_view key, T v) {
    if (key == alignment_key) {
      if constexpr (value_type_of<T>() == value_type::u32)
        return apply_alignment(std::uint32_t(v), true);
      else
        throw invalid_argument("metadata 'general.alignment' must be a u32, not " +
                               std::string(value_type_name(value_type_of<T>())));
    }
    put(key, scalar_bytes(v));
  }
  /// A string (a literal, std::string or std::string_view).
  void set(std::string_view key, std::string_view s) {
    reject_alignment_key(key, value_type::string);
    std::vector<std::byte> b;
    append_u32(b, std::uint32_t(value_type::string));
    append_string(b, s);
    put(key, std::move(b));
  }
  /// A copy of a value read from a GGUF file. Arrays of arrays are refused (unsupported_error):
  /// llama.cpp cannot read them.
  void set(std::string_view key, const value& v) {
    if (v.type() == value_type::string) return set(key, *v.as<std::string_view>());
    if (!v.is_array()) {
      if (key == alignment_key) {
        if (v.type() != value_type::u32)
          throw invalid_argument("metadata 'general.alignment' must be a u32, not " +
                                 std::string(value_type_name(v.type())));
        return apply_alignment(*v.as<std::uint32_t>(), true);
      }
      std::vector<std::byte> b;
      append_u32(b, std::uint32_t(v.type()));
      append(b, v.bytes());
      return put(key, std::move(b));
    }
    if (v.array_type() == value_type::string)
      return set_array(key, *v.as_array<std::string_view>());
    if (v.array_type() == value_type::array)
      throw unsupported_error("metadata '" + std::string(key) +
                              "': arrays of arrays cannot be written (llama.cpp cannot read them)");
    reject_alignment_key(key, value_type::array);
    std::vector<std::byte> b;
    append_u32(b, std::uint32_t(value_type::array));
    append_u32(b, std::uint32_t(v.array_type()));
    append_u64(b, v.size());
    append(b, v.bytes());
    put(key, std::move(b));
  }

  /// An array from any range of scalars (all one type) or of strings (std::string, string_view,
  /// const char*). E.g. set_array("llama.scores", std::vector<float>{...}).
  template <std::ranges::input_range R>
  void set_array(std::string_view key, const R& values) {
    using E = std::remove_cvref_t<std::ranges::range_value_t<R>>;
    reject_alignment_key(key, value_type::array);
    std::vector<std::byte> b;
    append_u32(b, std::uint32_t(value_type::array));
    if constexpr (scalar<E>) {
      append_u32(b, std::uint32_t(value_type_of<E>()));
      const std::size_t count_at = b.size();
      append_u64(b, 0);
      std::uint64_t n = 0;
      for (const E& x : values) {
        append_scalar(b, x);
        ++n;
      }
      std::memcpy(b.data() + count_at, &n, sizeof n);
    } else {
      static_assert(std::is_convertible_v<const E&, std::string_view>,
                    "set_array: elements must be GGUF scalars or strings");
      append_u32(b, std::uint32_t(value_type::string));
      const std::size_t count_at = b.size();
      append_u64(b, 0);
      std::uint64_t n = 0;
      for (const E& x : values) {
        append_string(b, std::string_view(x));
        ++n;
      }
      std::memcpy(b.data() + count_at, &n, sizeof n);
    }
    put(key, std::move(b));
  }
  /// set_array("k", {1.0f, 2.0f}) and set_array("k", {"a", "b"}).
  template <class T>
  void set_array(std::string_view key, std::initializer_list<T> values) {
    set_array(key, std::span<const T>(values.begin(), values.size()));
  }

  bool contains(std::string_view key) const { return kv_index_.count(std::string(key)) != 0; }
  std::size_t metadata_count() const noexcept { return kv_.size(); }

  // ---- tensors ------------------------------------------------------------------------------

  /// A tensor from raw bytes: `shape` outermost first (e.g. {rows, cols}), `data` exactly the
  /// bytes `type` needs for it (for block types, rows of cols / block_elems blocks). Errors:
  /// invalid_argument (empty, too long or duplicate name, unknown type id), shape_error (rank not
  /// 1..4, an extent < 1, innermost extent not a multiple of the block size, wrong byte count).
  void add_tensor(std::string_view name, ggml_type type, const shape_t& shape,
                  std::span<const std::byte> data) {
    check_tensor_name(name);
    const std::size_t nbytes = tensor_bytes(name, type, shape);
    if (data.size() != nbytes)
      throw shape_error("tensor '" + std::string(name) + "': " + std::to_string(data.size()) +
                        " bytes given, " + type_name(type) + " " + shape.str() + " needs " +
                        std::to_string(nbytes));
    tensors_.push_back({std::string(name), type, shape, {data.begin(), data.end()}});
    tensor_names_.insert(tensors_.back().name);
  }
  /// A tensor from a view of any type (e.g. a tensor of another GGUF file, or a tensor_view<T>).
  void add_tensor(std::string_view name, const any_tensor_view& v) {
    check_tensor_name(name);
    const std::size_t nbytes = tensor_bytes(name, v.type(), v.shape());
    add_tensor(name, v.type(), v.shape(), {v.data(), nbytes});
  }
  /// A tensor from a view that carries its name (as gguf::file::tensor() returns).
  void add_tensor(const any_tensor_view& v) { add_tensor(v.name(), v); }
  /// A tensor from an owning tensor of a type arx computes with.
  template <class T>
  void add_tensor(std::string_view name, const arx::tensor<T>& t) {
    add_tensor(name, any_tensor_view(t.view()));
  }
  std::size_t tensor_count() const noexcept { return tensors_.size(); }

  // ---- output -------------------------------------------------------------------------------

  /// Size in bytes of the file to_bytes() / write() produce.
  std::uint64_t file_size() const {
    std::uint64_t n = padded(directory().size());
    for (const auto& t : tensors_) n += padded(t.data.size());
    return n;
  }
  /// The whole file in memory.
  std::vector<std::byte> to_bytes() const {
    std::vector<std::byte> out = directory();
    out.reserve(std::size_t(file_size()));
    out.resize(std::size_t(padded(out.size())), std::byte{0});
    for (const auto& t : tensors_) {
      append(out, t.data);
      out.resize(std::size_t(padded(out.size())), std::byte{0});
    }
    return out;
  }
  /// Writes the file to `path`, streaming tensor data. The bytes go to a new temporary file in the
  /// same directory, which is flushed to disk and then renamed over `path`: readers never see a
  /// partial file, and a file that is currently mapped (e.g. opened with gguf::open, even the one
  /// being rewritten) keeps its old contents intact. When `path` is a symlink, the file it points
  /// to is replaced; an existing target keeps its permission bits (not its owner or hard links).
  /// Needs write permission on the directory. io_error naming `path` when the OS fails or `path`
  /// exists but is not a regular file; the temporary file is removed then and `path` untouched.
  void write(const std::string& path) const {
    const std::vector<std::byte> dir = directory();
    output out(path);
    static constexpr std::byte zeros[4096] = {};
    std::uint64_t written = 0;
    auto emit = [&](const std::byte* p, std::size_t n) {
      out.write(p, n);
      written += n;
    };
    auto pad = [&] {
      for (std::uint64_t n = padded(written) - written; n;) {
        const std::size_t k = std::size_t(std::min<std::uint64_t>(n, sizeof zeros));
        emit(zeros, k);
        n -= k;
      }
    };
    emit(dir.data(), dir.size());
    pad();
    for (const auto& t : tensors_) {
      emit(t.data.data(), t.data.size());
      pad();
    }
    out.commit();
  }

 private:
  static constexpr std::string_view alignment_key = "general.alignment";

  // A temporary file beside the target that becomes the target on commit(); until then, the
  // destructor closes and removes it, so every failure path cleans up.
  class output {
   public:
    explicit output(const std::string& path) : path_(path), target_(path) {
      struct ::stat st {};
      bool exists = false;
      if (::stat(path.c_str(), &st) == 0) {
        exists = true;
        if (!S_ISREG(st.st_mode))
          throw io_error(path, "not a regular file (the writer only creates or replaces files)");
        struct ::stat lst {};
        if (::lstat(path.c_str(), &lst) == 0 && S_ISLNK(lst.st_mode)) {
          char* real = ::realpath(path.c_str(), nullptr);  // replace the file, keep the link
          if (!real) fail("cannot resolve symlink");
          target_ = real;
          std::free(real);
        }
      } else if (errno != ENOENT) {
        fail("cannot stat");
      }
      const std::size_t slash = target_.rfind('/');
      const std::string dir = slash == std::string::npos ? "" : target_.substr(0, slash + 1);
      static std::atomic<unsigned> counter{0};
      for (int attempt = 0;; ++attempt) {
        temp_ = dir + ".arx-write-" + std::to_string(::getpid()) + "-" +
                std::to_string(counter.fetch_add(1)) + ".tmp";
        fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd_ >= 0) break;
        if (errno != EEXIST || attempt == 100) {
          temp_.clear();
          fail("cannot create a temporary file in its directory");
        }
      }
      if (exists && ::fchmod(fd_, st.st_mode & 07777) != 0) {
        const int e = errno;
        discard();  // a throwing constructor runs no destructor
        errno = e;
        fail("cannot set permissions");
      }
    }
    output(const output&) = delete;
    output& operator=(const output&) = delete;
    ~output() { discard(); }

    void write(const std::byte* p, std::size_t n) {
      while (n) {
        const ::ssize_t k = ::write(fd_, p, std::min<std::size_t>(n, std::size_t(1) << 30));
        if (k < 0) {
          if (errno == EINTR) continue;
          fail("write failed");
        }
        p += k;
        n -= std::size_t(k);
      }
    }

    void commit() {
      if (::fsync(fd_) != 0) fail("cannot flush to disk");
      const int fd = std::exchange(fd_, -1);
      if (::close(fd) != 0) fail("close failed");
      if (::rename(temp_.c_str(), target_.c_str()) != 0) fail("cannot rename the temporary file");
      temp_.clear();  // it is the target now
    }

   private:
    void discard() noexcept {
      if (fd_ >= 0) ::close(std::exchange(fd_, -1));
      if (!temp_.empty()) ::unlink(temp_.c_str());
      temp_.clear();
    }
    [[noreturn]] void fail(const char* what) const {
      const int e = errno;
      throw io_error(path_, std::string(what) + ": " + std::strerror(e) +
                                (temp_.empty() ? "" : " (temporary file " + temp_ + ")"));
    }

    std::string path_;    // as given, for messages
    std::string target_;  // the file to replace (path_ with a final symlink resolved)
    std::string temp_;    // the temporary file, while it exists
    int fd_ = -1;
  };

  struct entry {
    std::string key;
    std::vector<std::byte> encoded;  // u32 value type + value
  };
  struct pending_tensor {
    std::string name;
    ggml_type type;
    shape_t shape;
    std::vector<std::byte> data;
  };

  static void append(std::vector<std::byte>& b, std::span<const std::byte> s) {
    // resize + memcpy rather than insert: GCC 12 warns falsely (-Wstringop-overflow) on the
    // inlined insert of small constant sizes
    const std::size_t at = b.size();
    b.resize(at + s.size());
    if (!s.empty()) std::memcpy(b.data() + at, s.data(), s.size());
  }
  static void append_raw(std::vector<std::byte>& b, const void* p, std::size_t n) {
    append(b, {static_cast<const std::byte*>(p), n});
  }
  static void append_u32(std::vector<std::byte>& b, std::uint32_t v) { append_raw(b, &v, 4); }
  static void append_u64(std::vector<std::byte>& b, std::uint64_t v) { append_raw(b, &v, 8); }
  static void append_string(std::vector<std::byte>& b, std::string_view s) {
    append_u64(b, s.size());
    append_raw(b, s.data(), s.size());
  }
  template <scalar T>
  static void append_scalar(std::vector<std::byte>& b, T v) {
    if constexpr (std::is_same_v<T, bool>) {
      const std::uint8_t byte = v ? 1 : 0;  // GGUF bools are one byte, 0 or 1
      append_raw(b, &byte, 1);
    } else {
      append_raw(b, &v, sizeof v);
    }
  }
  template <scalar T>
  static std::vector<std::byte> scalar_bytes(T v) {
    std::vector<std::byte> b;
    append_u32(b, std::uint32_t(value_type_of<T>()));
    append_scalar(b, v);
    return b;
  }

  void apply_alignment(std::uint32_t alignment, bool record) {
    if (!std::has_single_bit(alignment) || alignment < 8 || alignment > max_writer_alignment)
      throw invalid_argument("GGUF alignment " + std::to_string(alignment) +
                             " is not a power of two from 8 to " +
                             std::to_string(max_writer_alignment));
    alignment_ = alignment;
    if (record) put(alignment_key, scalar_bytes(alignment));
  }

  static void reject_alignment_key(std::string_view key, value_type t) {
    if (key == alignment_key)
      throw invalid_argument("metadata 'general.alignment' must be a u32, not " +
                             std::string(t == value_type::array ? "an array"
                                                                 : value_type_name(t)));
  }

  void put(std::string_view key, std::vector<std::byte> encoded) {
    if (key.empty()) throw invalid_argument("metadata key is empty");
    std::string k(key);
    if (auto it = kv_index_.find(k); it != kv_index_.end()) {
      kv_[it->second].encoded = std::move(encoded);
      return;
    }
    kv_index_.emplace(k, kv_.size());
    kv_.push_back({std::move(k), std::move(encoded)});
  }

  void check_tensor_name(std::string_view name) const {
    if (name.empty()) throw invalid_argument("tensor name is empty");
    if (name.size() > max_tensor_name_bytes)
      throw invalid_argument("tensor name '" + std::string(name) + "' is " +
                             std::to_string(name.size()) + " bytes; llama.cpp allows at most " +
                             std::to_string(max_tensor_name_bytes));
    if (tensor_names_.count(std::string(name)))
      throw invalid_argument("duplicate tensor name '" + std::string(name) + "'");
  }

  // Bytes a tensor of `type` and `shape` occupies; throws when the pair cannot be written.
  static std::size_t tensor_bytes(std::string_view name, ggml_type type, const shape_t& shape) {
    const auto facts = type_info(std::uint32_t(type));
    if (!facts)
      throw invalid_argument("tensor '" + std::string(name) + "': unknown ggml type id " +
                             std::to_string(std::uint32_t(type)));
    if (shape.rank < 1 || shape.rank > max_rank)
      throw shape_error("tensor '" + std::string(name) + "': rank " + std::to_string(shape.rank) +
                        " is not in 1..4");
    std::int64_t numel = 1;
    for (int i = 0; i < shape.rank; ++i) {
      if (shape[i] < 1)
        throw shape_error("tensor '" + std::string(name) + "': extent " + std::to_string(i) +
                          " of " + shape.str() + " is not positive");
      if (__builtin_mul_overflow(numel, shape[i], &numel))
        throw shape_error("tensor '" + std::string(name) + "': " + shape.str() +
                          " has more elements than int64 holds");
    }
    const std::int64_t inner = shape[shape.rank - 1];
    if (inner % facts->block_elems != 0)
      throw shape_error("tensor '" + std::string(name) + "': innermost extent " +
                        std::to_string(inner) + " is not a multiple of the " +
                        std::string(facts->name) + " block size " +
                        std::to_string(facts->block_elems));
    std::uint64_t nbytes = 0;
    if (__builtin_mul_overflow(std::uint64_t(numel / facts->block_elems),
                               std::uint64_t(facts->block_bytes), &nbytes) ||
        nbytes > std::numeric_limits<std::size_t>::max())
      throw shape_error("tensor '" + std::string(name) + "': " + shape.str() +
                        " is too large to store");
    return std::size_t(nbytes);
  }

  std::uint64_t padded(std::uint64_t n) const {
    return n + (alignment_ - n % alignment_) % alignment_;
  }

  // Header, metadata and tensor directory (everything before the data section's padding).
  std::vector<std::byte> directory() const {
    std::vector<std::byte> b;
    append_raw(b, "GGUF", 4);
    append_u32(b, 3);
    append_u64(b, tensors_.size());
    append_u64(b, kv_.size());
    for (const auto& e : kv_) {
      append_string(b, e.key);
      append(b, e.encoded);
    }
    std::uint64_t offset = 0;  // relative to the data section
    for (const auto& t : tensors_) {
      append_string(b, t.name);
      append_u32(b, std::uint32_t(t.shape.rank));
      for (int d = t.shape.rank - 1; d >= 0; --d)  // the file lists dims innermost first
        append_u64(b, std::uint64_t(t.shape[d]));
      append_u32(b, std::uint32_t(t.type));
      append_u64(b, offset);
      offset += padded(t.data.size());
    }
    return b;
  }

  std::uint32_t alignment_ = default_alignment;
  std::vector<entry> kv_;
  std::unordered_map<std::string, std::size_t> kv_index_;
  std::vector<pending_tensor> tensors_;
  std::unordered_set<std::string> tensor_names_;
};

}  // namespace gguf
ARX_NAMESPACE_END
