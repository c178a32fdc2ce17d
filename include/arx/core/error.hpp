// arx/core/error.hpp — the typed exceptions arx throws.
//
// Every error names what went wrong and where (file, byte offset, tensor or key name, shapes).
// Library code never ends the process on bad input: it throws one of these.
//
//   arx::error                    base of everything arx throws (derives std::runtime_error)
//   ├─ arx::io_error              the OS refused: open, stat, mmap failed (carries the path)
//   ├─ arx::format_error          a file's bytes are malformed (carries path and byte offset)
//   ├─ arx::unsupported_error     well-formed but not supported (e.g. a weight type with no kernel)
//   ├─ arx::shape_error           tensor shapes that do not fit together
//   ├─ arx::invalid_argument      a caller's argument is out of its domain
//   │  └─ arx::context_error      tokens that do not fit in a sequence's context
//   ├─ arx::memory_error          an allocation of the stated size failed
//   └─ arx::key_error             a named thing (metadata key, tensor) is absent or has another type
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

#include "arx/config.hpp"

ARX_NAMESPACE_BEGIN

class error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class io_error : public error {
 public:
  io_error(std::string path, const std::string& what)
      : error(path + ": " + what), path_(std::move(path)) {}
  const std::string& path() const noexcept { return path_; }

 private:
  std::string path_;
};

/// Malformed bytes. `offset()` is the byte offset in the file where the bad field starts.
class format_error : public error {
 public:
  format_error(std::string path, std::uint64_t offset, const std::string& what)
      : error(path + ": at byte " + std::to_string(offset) + ": " + what),
        path_(std::move(path)),
        offset_(offset) {}
  const std::string& path() const noexcept { return path_; }
  std::uint64_t offset() const noexcept { return offset_; }

 private:
  std::string path_;
  std::uint64_t offset_;
};

class unsupported_error : public error {
 public:
  using error::error;
};

class shape_error : public error {
 public:
  using error::error;
};

class invalid_argument : public error {
 public:
  using error::error;
};

/// A batch of tokens does not fit in the sequence's context (prompt longer than the context,
/// generation past its end). A kind of invalid_argument: the call changed nothing.
class context_error : public invalid_argument {
 public:
  using invalid_argument::invalid_argument;
};

class memory_error : public error {
 public:
  using error::error;
};

class key_error : public error {
 public:
  using error::error;
};

ARX_NAMESPACE_END
