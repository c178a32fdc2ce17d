// arx/core/memory.hpp — aligned heap buffers and read-only memory-mapped files.
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <string>
#include <utility>

#include "arx/config.hpp"
#include "arx/core/error.hpp"

#if defined(__unix__) || defined(__APPLE__)
#  include <fcntl.h>
#  include <sys/mman.h>
#  include <sys/stat.h>
#  include <unistd.h>
#else
#  error "arx: mapped_file needs POSIX mmap"
#endif

ARX_NAMESPACE_BEGIN

/// Alignment of every buffer arx allocates: one cache line, and one AVX-512 register.
inline constexpr std::size_t buffer_alignment = 64;

/// An owning, uninitialised, 64-byte aligned block of bytes. Move-only.
class aligned_buffer {
 public:
  aligned_buffer() = default;
  explicit aligned_buffer(std::size_t bytes) : size_(bytes) {
    if (bytes == 0) return;
    // No object may exceed PTRDIFF_MAX bytes; refusing here also keeps sanitizer runtimes (which
    // abort on such sizes instead of throwing) out of the way.
    if (bytes > std::size_t(PTRDIFF_MAX)) {
      size_ = 0;
      throw memory_error("cannot allocate " + std::to_string(bytes) + " bytes (above PTRDIFF_MAX)");
    }
    try {
      data_ = static_cast<std::byte*>(::operator new(bytes, std::align_val_t{buffer_alignment}));
    } catch (const std::bad_alloc&) {
      size_ = 0;
      throw memory_error("cannot allocate " + std::to_string(bytes) + " bytes");
    }
  }
  aligned_buffer(aligned_buffer&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  aligned_buffer& operator=(aligned_buffer&& o) noexcept {
    if (this != &o) {
      release();
      data_ = std::exchange(o.data_, nullptr);
      size_ = std::exchange(o.size_, 0);
    }
    return *this;
  }
  aligned_buffer(const aligned_buffer&) = delete;
  aligned_buffer& operator=(const aligned_buffer&) = delete;
  ~aligned_buffer() { release(); }

  std::byte* data() noexcept { return data_; }
  const std::byte* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }

 private:
  void release() noexcept {
    if (data_) ::operator delete(data_, std::align_val_t{buffer_alignment});
    data_ = nullptr;
  }
  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

/// A whole file mapped read-only into memory (zero-copy access to weights). Move-only; the
/// mapping lives as long as this object, so views into it must not outlive it.
class mapped_file {
 public:
  mapped_file() = default;
  explicit mapped_file(std::string path) : path_(std::move(path)) {
    // O_NONBLOCK: opening a FIFO (or some devices) read-only would otherwise block until a
    // writer appears; with it the open returns at once and the S_ISREG check below rejects the
    // file. It changes nothing for regular files, whose reads and mappings never block.
    const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) throw io_error(path_, std::string("cannot open: ") + std::strerror(errno));
    struct ::stat st {};
    if (::fstat(fd, &st) != 0) {
      const int e = errno;
      ::close(fd);
      throw io_error(path_, std::string("cannot stat: ") + std::strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
      ::close(fd);
      throw io_error(path_, "not a regular file");
    }
    size_ = std::size_t(st.st_size);
    if (size_ != 0) {
      void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) {
        const int e = errno;
        ::close(fd);
        throw io_error(path_, std::string("cannot mmap: ") + std::strerror(e));
      }
      data_ = static_cast<const std::byte*>(p);
    }
    ::close(fd);  // the mapping keeps the file alive
  }
  mapped_file(mapped_file&& o) noexcept
      : path_(std::move(o.path_)),
        data_(std::exchange(o.data_, nullptr)),
        size_(std::exchange(o.size_, 0)) {}
  mapped_file& operator=(mapped_file&& o) noexcept {
    if (this != &o) {
      unmap();
      path_ = std::move(o.path_);
      data_ = std::exchange(o.data_, nullptr);
      size_ = std::exchange(o.size_, 0);
    }
    return *this;
  }
  mapped_file(const mapped_file&) = delete;
  mapped_file& operator=(const mapped_file&) = delete;
  ~mapped_file() { unmap(); }

  const std::byte* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  const std::string& path() const noexcept { return path_; }

 private:
  void unmap() noexcept {
    if (data_) ::munmap(const_cast<std::byte*>(data_), size_);
    data_ = nullptr;
  }
  std::string path_;
  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

ARX_NAMESPACE_END
