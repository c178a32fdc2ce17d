// gguf::file on malformed input: each validation case on a crafted file (the exact exception type,
// the byte offset and what the message names), truncation at every length, absurd counts that must
// fail before allocating, and a seeded byte-mutation fuzz loop that must never crash.
#include <catch2/catch.hpp>

#include <arx/io/gguf.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>

#include <cstring>
#include <initializer_list>
#include <optional>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "unit/io/gguf_bytes.hpp"

namespace gguf = arx::gguf;
using Catch::Contains;
using gguf_test::make_small_file;
using gguf_test::patch;

namespace {

gguf::file read(const std::vector<std::byte>& bytes) {
  return gguf::file::from_bytes(bytes, "hostile.gguf");
}

// The format_error reading `bytes` throws (anything else thrown escapes and fails the test).
std::optional<arx::format_error> format_error_of(const std::vector<std::byte>& bytes) {
  try {
    (void)read(bytes);
  } catch (const arx::format_error& e) {
    return e;
  }
  return std::nullopt;
}

// Reading `bytes` throws a format_error at byte `offset` whose message contains every one of
// `parts` (and the file name).
void check_format_error(const std::vector<std::byte>& bytes, std::uint64_t offset,
                        std::initializer_list<std::string> parts) {
  const auto e = format_error_of(bytes);
  REQUIRE(e.has_value());
  const std::string what = e->what();
  INFO(what);
  CHECK(e->path() == "hostile.gguf");
  CHECK(e->offset() == offset);
  CHECK_THAT(what, Contains("hostile.gguf"));
  for (const auto& p : parts) CHECK_THAT(what, Contains(p));
}

// A file with one metadata key "n" holding arrays nested `depth` deep around one u8.
std::vector<std::byte> nested_arrays(int depth) {
  gguf_test::byte_builder b;
  b.header(3, 0, 1).str("n").u32(gguf_test::t_array);
  for (int d = 1; d < depth; ++d) b.u32(gguf_test::t_array).u64(1);
  b.u32(gguf_test::t_u8).u64(1).u8(42);
  return b.bytes;
}

}  // namespace

TEST_CASE("gguf hostile: the crafted baseline file is valid", "[io][gguf]") {
  const auto sf = make_small_file();
  CHECK_NOTHROW(read(sf.bytes));
}

TEST_CASE("gguf hostile: bad magic", "[io][gguf]") {
  auto bytes = make_small_file().bytes;
  bytes[3] = std::byte{'G'};
  check_format_error(bytes, 0, {"magic", "GGUG"});
  check_format_error(std::vector<std::byte>(64, std::byte{0}), 0, {"magic"});
}

TEST_CASE("gguf hostile: versions other than 2 and 3", "[io][gguf]") {
  const auto sf = make_small_file();
  for (std::uint32_t v : {1u, 4u, 1000u}) {
    auto bytes = sf.bytes;
    patch(bytes, sf.version, v);
    CHECK_THROWS_AS(read(bytes), arx::unsupported_error);
    CHECK_THROWS_WITH(read(bytes), Contains("version " + std::to_string(v)));
  }
  auto bytes = sf.bytes;
  patch(bytes, sf.version, std::uint32_t(0x03000000));  // 3, big-endian
  CHECK_THROWS_AS(read(bytes), arx::unsupported_error);
  CHECK_THROWS_WITH(read(bytes), Contains("big-endian"));
  patch(bytes, sf.version, std::uint32_t(0));
  check_format_error(bytes, sf.version, {"version 0"});
}

TEST_CASE("gguf hostile: a valid file truncated at every length is a format_error", "[io][gguf]") {
  const auto sf = make_small_file();
  for (std::size_t n = 0; n < sf.bytes.size(); ++n) {
    INFO("truncated to " << n << " of " << sf.bytes.size() << " bytes");
    const std::vector<std::byte> cut(sf.bytes.begin(), sf.bytes.begin() + std::ptrdiff_t(n));
    CHECK_THROWS_AS(read(cut), arx::format_error);
  }
  // the last byte of tensor "b" is missing
  const std::vector<std::byte> cut(sf.bytes.begin(), sf.bytes.end() - 1);
  check_format_error(cut, sf.b.offset,
                     {"tensor 'b'", "runs past the end of the file (size " +
                                        std::to_string(sf.bytes.size() - 1) + ")"});
  // inside a field: the error names it and points at its start
  const std::vector<std::byte> mid(sf.bytes.begin(),
                                   sf.bytes.begin() + std::ptrdiff_t(sf.a.n_dims + 2));
  check_format_error(mid, sf.a.n_dims, {"tensor 'a'", "n_dims", "truncated"});
}

TEST_CASE("gguf hostile: string lengths beyond the file", "[io][gguf]") {
  const auto sf = make_small_file();
  for (std::uint64_t len : {std::uint64_t(-1), std::uint64_t(1) << 62, std::uint64_t(100000)}) {
    auto bytes = sf.bytes;
    patch(bytes, sf.arch_key, len);  // the key's length
    check_format_error(bytes, sf.arch_key, {"metadata #0", "key length " + std::to_string(len)});
    bytes = sf.bytes;
    patch(bytes, sf.arch_value, len);  // the value's length
    check_format_error(bytes, sf.arch_value,
                       {"metadata 'general.architecture'", "string value length"});
    bytes = sf.bytes;
    patch(bytes, sf.b.name, len);  // a tensor name's length
    check_format_error(bytes, sf.b.name, {"tensor #1", "name length"});
  }
}

TEST_CASE("gguf hostile: huge counts fail fast, before allocating", "[io][gguf]") {
  const auto sf = make_small_file();
  auto bytes = sf.bytes;
  patch(bytes, sf.tensor_count, std::uint64_t(1) << 60);
  check_format_error(bytes, sf.tensor_count, {"tensor_count 1152921504606846976"});
  patch(bytes, sf.tensor_count, std::uint64_t(-1));
  check_format_error(bytes, sf.tensor_count, {"tensor_count"});

  bytes = sf.bytes;
  patch(bytes, sf.kv_count, std::uint64_t(1) << 63);
  check_format_error(bytes, sf.kv_count, {"kv_count"});
  patch(bytes, sf.kv_count, std::uint64_t(1000));  // plausible but more than the bytes can hold
  check_format_error(bytes, sf.kv_count, {"kv_count 1000"});

  // 2^62 i32 elements: count * 4 overflows 64 bits, so the check must not multiply first
  bytes = sf.bytes;
  patch(bytes, sf.list_count, std::uint64_t(1) << 62);
  check_format_error(bytes, sf.list_count,
                     {"metadata 'test.list'", "array of 4611686018427387904 i32"});
  patch(bytes, sf.list_count, std::uint64_t(-1));
  check_format_error(bytes, sf.list_count, {"array of"});

  bytes = sf.bytes;
  patch(bytes, sf.names_count, std::uint64_t(1) << 61);  // strings take 8 bytes at least
  check_format_error(bytes, sf.names_count, {"metadata 'test.names'", "string elements"});
}

TEST_CASE("gguf hostile: unknown metadata value types", "[io][gguf]") {
  const auto sf = make_small_file();
  auto bytes = sf.bytes;
  patch(bytes, sf.arch_type, std::uint32_t(13));
  check_format_error(bytes, sf.arch_type,
                     {"metadata 'general.architecture'", "unknown value type 13"});
  bytes = sf.bytes;
  patch(bytes, sf.list_elem_type, std::uint32_t(0xffffffff));
  check_format_error(bytes, sf.list_elem_type,
                     {"metadata 'test.list'", "unknown array element type 4294967295"});
}

TEST_CASE("gguf hostile: arrays nest at most max_array_depth deep", "[io][gguf]") {
  const auto ok = read(nested_arrays(gguf::max_array_depth));
  const gguf::value* v = &ok.at("n");
  for (int d = 1; d < gguf::max_array_depth; ++d) {
    REQUIRE(v->items().size() == 1);
    v = &v->items()[0];
  }
  REQUIRE(v->as_array<std::uint8_t>().has_value());
  CHECK((*v->as_array<std::uint8_t>())[0] == 42);

  // header 24 + key (8 + 1) + value type 4: the outermost array starts at byte 37, and each
  // level's element type + count take 12 bytes
  const std::uint64_t deepest = 37 + 12 * std::uint64_t(gguf::max_array_depth);
  check_format_error(nested_arrays(gguf::max_array_depth + 1), deepest,
                     {"metadata 'n'", "nested deeper than 8"});
  CHECK_THROWS_AS(read(nested_arrays(10000)), arx::format_error);
}

TEST_CASE("gguf hostile: invalid general.alignment", "[io][gguf]") {
  const auto sf = make_small_file();
  for (std::uint32_t a : {0u, 3u, 48u, 0xffffffffu}) {
    auto bytes = sf.bytes;
    patch(bytes, sf.align_value, a);
    check_format_error(bytes, sf.align_value,
                       {"general.alignment " + std::to_string(a), "power of two"});
  }
  auto bytes = sf.bytes;
  patch(bytes, sf.align_type, std::uint32_t(gguf_test::t_i32));  // same size, wrong type
  check_format_error(bytes, sf.align_type, {"general.alignment must be a u32", "i32"});
  patch(bytes, sf.align_type, std::uint32_t(gguf_test::t_f32));
  check_format_error(bytes, sf.align_type, {"general.alignment must be a u32", "f32"});

  // a valid alignment the tensors do not follow: "b" sits at data offset 32, not a multiple of 64
  bytes = sf.bytes;
  patch(bytes, sf.align_value, std::uint32_t(64));
  check_format_error(bytes, sf.b.offset,
                     {"tensor 'b'", "offset 32 is not a multiple of the alignment 64"});
}

TEST_CASE("gguf hostile: n_dims outside 1..4", "[io][gguf]") {
  const auto sf = make_small_file();
  for (std::uint32_t n : {0u, 5u, 0xffffffffu}) {
    auto bytes = sf.bytes;
    patch(bytes, sf.a.n_dims, n);
    check_format_error(bytes, sf.a.n_dims, {"tensor 'a'", "n_dims " + std::to_string(n)});
  }
}

TEST_CASE("gguf hostile: zero, negative and overflowing dimensions", "[io][gguf]") {
  const auto sf = make_small_file();
  auto bytes = sf.bytes;
  patch(bytes, sf.a.dims + 8, std::uint64_t(0));
  check_format_error(bytes, sf.a.dims + 8, {"tensor 'a'", "dimension 1 is 0"});

  bytes = sf.bytes;
  patch(bytes, sf.a.dims, std::uint64_t(1) << 63);  // negative as int64
  check_format_error(bytes, sf.a.dims, {"tensor 'a'", "overflows int64"});

  bytes = sf.bytes;
  patch(bytes, sf.a.dims, std::uint64_t(1) << 62);  // 2^62 * 2 = 2^63 > int64 max
  check_format_error(bytes, sf.a.dims + 8, {"tensor 'a'", "overflows int64 at dimension 1"});

  // the element count fits int64 but the byte count (x 4 for F32) does not fit 64 bits
  bytes = sf.bytes;
  patch(bytes, sf.a.dims, std::uint64_t(1) << 61);
  patch(bytes, sf.a.dims + 8, std::uint64_t(2));
  check_format_error(bytes, sf.a.dims, {"tensor 'a'", "overflows 64 bits"});

  // a large but representable shape still has to fit in the file
  bytes = sf.bytes;
  patch(bytes, sf.a.dims, std::uint64_t(1) << 40);
  check_format_error(bytes, sf.a.offset, {"tensor 'a'", "runs past the end of the file"});
}

TEST_CASE("gguf hostile: innermost dimension not a multiple of the block size", "[io][gguf]") {
  const auto sf = make_small_file();
  auto bytes = sf.bytes;
  patch(bytes, sf.b.dims, std::uint64_t(33));
  check_format_error(bytes, sf.b.dims,
                     {"tensor 'b'", "innermost dimension 33", "Q8_0 block size 32"});
}

TEST_CASE("gguf hostile: unknown tensor type ids", "[io][gguf]") {
  const auto sf = make_small_file();
  for (std::uint32_t t : {4u, 5u, 31u, 32u, 33u, 36u, 40u, 1000u, 0xffffffffu}) {
    auto bytes = sf.bytes;
    patch(bytes, sf.a.type, t);
    check_format_error(bytes, sf.a.type,
                       {"tensor 'a'", "unknown tensor type id " + std::to_string(t)});
  }
}

TEST_CASE("gguf hostile: tensor offsets that break alignment, the file end or 64 bits",
          "[io][gguf]") {
  const auto sf = make_small_file();
  auto bytes = sf.bytes;
  patch(bytes, sf.a.offset, std::uint64_t(4));
  check_format_error(bytes, sf.a.offset, {"tensor 'a'", "offset 4", "alignment 32"});

  bytes = sf.bytes;
  patch(bytes, sf.b.offset, std::uint64_t(64));  // 34 bytes from data + 64: past the end
  const auto begin = sf.data_offset + 64;
  check_format_error(bytes, sf.b.offset,
                     {"tensor 'b': data [" + std::to_string(begin) + ", " +
                          std::to_string(begin + 34) + ") runs past the end of the file (size " +
                          std::to_string(sf.bytes.size()) + ")"});

  bytes = sf.bytes;
  patch(bytes, sf.b.offset, std::uint64_t(-32));  // aligned, but data_offset + it wraps
  check_format_error(bytes, sf.b.offset, {"tensor 'b'", "overflows 64 bits"});
}

TEST_CASE("gguf hostile: overlapping tensor data", "[io][gguf]") {
  const auto sf = make_small_file();
  auto bytes = sf.bytes;
  // "b" (34 bytes) at 0 and "a" (32 bytes) at 32: [0, 34) and [32, 64) share two bytes
  patch(bytes, sf.b.offset, std::uint64_t(0));
  patch(bytes, sf.a.offset, std::uint64_t(32));
  const auto d = sf.data_offset;
  check_format_error(bytes, sf.a.offset,
                     {"tensor 'a': data [" + std::to_string(d + 32) + ", " +
                      std::to_string(d + 64) + ") overlaps tensor 'b' [" + std::to_string(d) +
                      ", " + std::to_string(d + 34) + ")"});
}

TEST_CASE("gguf hostile: duplicate tensor names and metadata keys", "[io][gguf]") {
  const auto sf = make_small_file();
  auto bytes = sf.bytes;
  bytes[sf.b.name + 8] = std::byte{'a'};  // rename "b" to "a"
  check_format_error(bytes, sf.b.name, {"duplicate tensor name 'a'"});

  gguf_test::byte_builder b;
  b.header(3, 0, 3).str("k").u32(gguf_test::t_u8).u8(1);
  b.str("other").u32(gguf_test::t_u8).u8(2);
  const std::size_t second = b.size();
  b.str("k").u32(gguf_test::t_string).str("again");
  check_format_error(b.bytes, second, {"duplicate metadata key 'k'"});

  // Several duplicates: the first key (in file order) that repeats an earlier one is reported,
  // whatever the keys sort like.
  gguf_test::byte_builder m;
  m.header(3, 0, 6);
  for (const char* k : {"z", "m", "a"}) m.str(k).u32(gguf_test::t_u8).u8(0);
  const std::size_t first_dup = m.size();
  m.str("m").u32(gguf_test::t_u8).u8(0);
  m.str("a").u32(gguf_test::t_u8).u8(0);
  m.str("z").u32(gguf_test::t_u8).u8(0);
  check_format_error(m.bytes, first_dup, {"duplicate metadata key 'm'"});

  // Many keys colliding in every way but content (same length, same prefix): parsing stays fast
  // (sorted, never hashed) and a single late duplicate is still found.
  gguf_test::byte_builder many;
  const int n = 20000;
  many.header(3, 0, std::uint64_t(n) + 1);
  char key[16];
  for (int i = 0; i < n; ++i) {
    std::snprintf(key, sizeof key, "key.%08d", i);
    many.str(key).u32(gguf_test::t_u8).u8(0);
  }
  const std::size_t late = many.size();
  many.str("key.00012345").u32(gguf_test::t_u8).u8(0);
  check_format_error(many.bytes, late, {"duplicate metadata key 'key.00012345'"});
  many.bytes.resize(late);
  patch(many.bytes, 16, std::uint64_t(n));
  const auto f = read(many.bytes);
  CHECK(f.metadata().size() == std::size_t(n));
  CHECK(f.contains("key.00019999"));
  CHECK_FALSE(f.contains("key.00020000"));
}

TEST_CASE("gguf hostile: huge declared counts in a huge sparse file do not allocate up front",
          "[io][gguf]") {
  // A 1 TiB sparse file (no disk blocks, mapped lazily) whose header declares as many key/value
  // pairs as the size allows, and whose one key holds an array of arrays declaring as many items
  // as the size allows, of which the third is malformed. Reserving from the declared counts would
  // ask for terabytes (bad_alloc, not a format_error); the parser must reserve a small capped
  // amount, grow as it parses, and fail at the bad item.
  const auto path = std::filesystem::temp_directory_path() /
                    ("arx-test-gguf-sparse-" + std::to_string(::getpid()) + ".gguf");
  const std::uint64_t size = std::uint64_t(1) << 40;
  gguf_test::byte_builder b;
  b.header(3, 0, (size - 24) / 13).str("n").u32(gguf_test::t_array).u32(gguf_test::t_array);
  b.u64((size - b.size() - 8) / 12);
  b.u32(gguf_test::t_u8).u64(0);  // two valid empty items
  b.u32(gguf_test::t_u8).u64(0);
  const std::size_t bad = b.size();
  b.u32(77).u64(0);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  REQUIRE(fd >= 0);
  const bool made = ::write(fd, b.bytes.data(), b.bytes.size()) == ssize_t(b.bytes.size()) &&
                    ::ftruncate(fd, off_t(size)) == 0;
  ::close(fd);
  if (!made) {
    std::filesystem::remove(path);
    WARN("cannot make a 1 TiB sparse file in " << path.parent_path() << "; test skipped");
    return;
  }
  const auto start = std::chrono::steady_clock::now();
  try {
    (void)gguf::open(path.string());
    FAIL("the crafted file was accepted");
  } catch (const arx::format_error& e) {
    CHECK(e.offset() == bad);
    CHECK_THAT(std::string(e.what()), Contains("unknown array element type 77"));
  } catch (...) {
    std::filesystem::remove(path);
    throw;
  }
  std::filesystem::remove(path);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
}

TEST_CASE("gguf hostile: bool bytes other than 0 and 1", "[io][gguf]") {
  const auto sf = make_small_file();
  auto bytes = sf.bytes;
  bytes[sf.flag_value] = std::byte{2};
  check_format_error(bytes, sf.flag_value, {"metadata 'test.flag'", "bool byte 2"});

  gguf_test::byte_builder b;
  b.header(3, 0, 1).str("bools").u32(gguf_test::t_array).u32(gguf_test::t_bool).u64(3);
  const std::size_t third = b.size() + 2;
  b.u8(1).u8(0).u8(0x80);
  check_format_error(b.bytes, third, {"metadata 'bools'", "bool byte 128"});
}

TEST_CASE("gguf hostile: tensor data misaligned for its type under a tiny alignment",
          "[io][gguf]") {
  // general.alignment 1 is a power of two (llama.cpp accepts it), but F32 data at an odd address
  // would make typed views misaligned.
  auto build = [](std::uint64_t offset) {
    gguf_test::byte_builder b;
    b.header(3, 1, 1).str("general.alignment").u32(gguf_test::t_u32).u32(1);
    b.str("x").u32(1).u64(2).u32(gguf_test::g_f32);
    const std::size_t offset_field = b.size();
    b.u64(offset);
    const std::size_t data = b.size();
    for (int i = 0; i < 16; ++i) b.u8(0);
    return std::tuple(b.bytes, offset_field, data);
  };
  for (std::uint64_t off = 0; off < 4; ++off) {
    const auto [bytes, offset_field, data] = build(off);
    if ((data + off) % 4 == 0) {
      CHECK(read(bytes).tensor_as<float>("x").shape(0) == 2);
    } else {
      check_format_error(bytes, offset_field, {"tensor 'x'", "not aligned to the 4 bytes"});
    }
  }
}

TEST_CASE("gguf hostile: names from the file are escaped and cut in messages", "[io][gguf]") {
  gguf_test::byte_builder b;
  const std::string name = "evil\n\x1b[31m" + std::string(1000, 'z');
  b.header(3, 0, 1).str(name).u32(77).u8(0);
  const auto e = format_error_of(b.bytes);
  REQUIRE(e);
  const std::string what = e->what();
  CHECK_THAT(what, Contains("evil\\n\\x1b[31m"));
  CHECK_THAT(what, Contains("unknown value type 77"));
  CHECK(what.size() < 400);
}

TEST_CASE("gguf hostile: seeded random byte mutations load or throw arx::error", "[io][gguf]") {
  const auto sf = make_small_file();
  std::mt19937 rng(20250301);
  std::uniform_int_distribution<std::size_t> pos(0, sf.bytes.size() - 1);
  std::uniform_int_distribution<int> byte(0, 255), flips(1, 4), kind(0, 3);
  int loaded = 0, rejected = 0;
  for (int iter = 0; iter < 4000; ++iter) {
    auto bytes = sf.bytes;
    for (int k = flips(rng); k > 0; --k) {
      auto& b = bytes[pos(rng)];
      switch (kind(rng)) {
        case 0: b = std::byte(byte(rng)); break;                  // any value
        case 1: b ^= std::byte(1u << (byte(rng) & 7)); break;     // one bit
        case 2: b = std::byte{0xff}; break;                       // huge counts and lengths
        default: b = std::byte{0}; break;                         // zero dims, empty strings
      }
    }
    if (iter % 8 == 0) bytes.resize(pos(rng));  // sometimes cut as well
    try {
      const auto f = read(bytes);
      // everything a loaded file offers must be usable
      std::size_t sum = 0;
      for (const auto& e : f.metadata()) sum += e.value.to_string().size() + e.key.size();
      for (const auto& t : f.tensors()) {
        const auto v = f.tensor(t.name);
        const auto bytes_of_t = f.tensor_bytes(t);
        for (const auto x : bytes_of_t) sum += std::to_integer<unsigned>(x);
        CHECK(v.nbytes() == t.nbytes);
        CHECK(t.offset + t.nbytes <= f.size());
      }
      CHECK(sum > 0);
      ++loaded;
    } catch (const arx::error&) {
      ++rejected;
    }
  }
  // the loop exercised both outcomes
  CHECK(loaded > 100);
  CHECK(rejected > 100);
}
