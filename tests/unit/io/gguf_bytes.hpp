// Test helpers for the GGUF reader/writer tests: GGUF bytes assembled by hand, field by field,
// with the offsets of the interesting fields recorded so tests can patch them. Independent of
// arx's writer, so reader tests do not trust the code they test.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string_view>
#include <vector>

namespace gguf_test {

/// Appends little-endian fields to a byte vector.
struct byte_builder {
  std::vector<std::byte> bytes;

  std::size_t size() const { return bytes.size(); }
  byte_builder& raw(const void* p, std::size_t n) {
    const auto* b = static_cast<const std::byte*>(p);
    bytes.insert(bytes.end(), b, b + n);
    return *this;
  }
  template <class T>
  byte_builder& put(T v) {
    return raw(&v, sizeof v);
  }
  byte_builder& u8(std::uint8_t v) { return put(v); }
  byte_builder& u32(std::uint32_t v) { return put(v); }
  byte_builder& u64(std::uint64_t v) { return put(v); }
  byte_builder& str(std::string_view s) {
    u64(s.size());
    return raw(s.data(), s.size());
  }
  byte_builder& pad_to(std::size_t alignment) {
    while (bytes.size() % alignment) bytes.push_back(std::byte{0});
    return *this;
  }
  /// GGUF header: magic, version, tensor count, kv count.
  byte_builder& header(std::uint32_t version, std::uint64_t n_tensors, std::uint64_t n_kv) {
    raw("GGUF", 4);
    u32(version);
    u64(n_tensors);
    return u64(n_kv);
  }
};

/// Overwrites the bytes at `offset` with `v` (little-endian).
template <class T>
void patch(std::vector<std::byte>& bytes, std::size_t offset, T v) {
  std::memcpy(bytes.data() + offset, &v, sizeof v);
}

// GGUF value type ids and ggml type ids, written out here from the GGUF specification rather
// than taken from arx, so the tests check arx's numbering too.
enum : std::uint32_t {
  t_u8 = 0, t_i8 = 1, t_u16 = 2, t_i16 = 3, t_u32 = 4, t_i32 = 5, t_f32 = 6, t_bool = 7,
  t_string = 8, t_array = 9, t_u64 = 10, t_i64 = 11, t_f64 = 12,
};
enum : std::uint32_t { g_f32 = 0, g_f16 = 1, g_q4_0 = 2, g_q8_0 = 8, g_q4_k = 12, g_f64 = 28 };

/// A small valid GGUF v3 file and where its fields are:
///   metadata: general.architecture = "test", general.alignment = u32 32,
///             test.list = i32[3] {1, 2, 3}, test.names = string[2] {"x", "yz"},
///             test.flag = bool true
///   tensors:  "a" F32 shape [2, 4] (file dims {4, 2}) values 0..7 at data offset 0
///             "b" Q8_0 shape [32], one block: d = f16 1.0 (0x3c00), qs = 0..31, at offset 32
/// The file ends exactly where "b" ends (no trailing padding), so every shorter prefix is
/// malformed.
struct small_file {
  std::vector<std::byte> bytes;
  std::size_t version = 0, tensor_count = 0, kv_count = 0;
  std::size_t arch_key = 0, arch_type = 0, arch_value = 0;
  std::size_t align_type = 0, align_value = 0;
  std::size_t list_type = 0, list_elem_type = 0, list_count = 0;
  std::size_t names_count = 0, flag_value = 0;
  struct tensor_fields {
    std::size_t name = 0, n_dims = 0, dims = 0, type = 0, offset = 0;
  } a, b;
  std::size_t data_offset = 0;
};

inline small_file make_small_file() {
  small_file f;
  byte_builder w;
  w.raw("GGUF", 4);
  f.version = w.size();
  w.u32(3);
  f.tensor_count = w.size();
  w.u64(2);
  f.kv_count = w.size();
  w.u64(5);

  f.arch_key = w.size();
  w.str("general.architecture");
  f.arch_type = w.size();
  w.u32(t_string);
  f.arch_value = w.size();
  w.str("test");

  w.str("general.alignment");
  f.align_type = w.size();
  w.u32(t_u32);
  f.align_value = w.size();
  w.u32(32);

  w.str("test.list");
  f.list_type = w.size();
  w.u32(t_array);
  f.list_elem_type = w.size();
  w.u32(t_i32);
  f.list_count = w.size();
  w.u64(3).put(std::int32_t(1)).put(std::int32_t(2)).put(std::int32_t(3));

  w.str("test.names").u32(t_array).u32(t_string);
  f.names_count = w.size();
  w.u64(2).str("x").str("yz");

  w.str("test.flag").u32(t_bool);
  f.flag_value = w.size();
  w.u8(1);

  auto tensor = [&](small_file::tensor_fields& t, std::string_view name,
                    std::initializer_list<std::uint64_t> dims, std::uint32_t type,
                    std::uint64_t offset) {
    t.name = w.size();
    w.str(name);
    t.n_dims = w.size();
    w.u32(std::uint32_t(dims.size()));
    t.dims = w.size();
    for (auto d : dims) w.u64(d);
    t.type = w.size();
    w.u32(type);
    t.offset = w.size();
    w.u64(offset);
  };
  tensor(f.a, "a", {4, 2}, g_f32, 0);
  tensor(f.b, "b", {32}, g_q8_0, 32);
  w.pad_to(32);
  f.data_offset = w.size();
  for (int i = 0; i < 8; ++i) w.put(float(i));
  w.put(std::uint16_t(0x3c00));
  for (int i = 0; i < 32; ++i) w.put(std::int8_t(i));
  f.bytes = std::move(w.bytes);
  return f;
}

}  // namespace gguf_test
