// gguf::writer: byte-exact output against a hand-assembled file, the C++ -> GGUF type mapping,
// key replacement and order, alignment, validation errors, copying from a reader, and write().
#include <catch2/catch.hpp>

#include <arx/io/gguf.hpp>
#include <arx/io/gguf_writer.hpp>

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "unit/io/gguf_bytes.hpp"

namespace gguf = arx::gguf;
using Catch::Contains;

namespace {

gguf::file read(const std::vector<std::byte>& bytes) {
  return gguf::file::from_bytes(bytes, "written.gguf");
}

std::vector<std::byte> bytes_of(const void* p, std::size_t n) {
  const auto* b = static_cast<const std::byte*>(p);
  return {b, b + n};
}

// The contents of gguf_test::make_small_file(), built with the writer.
gguf::writer small_file_writer() {
  gguf::writer w;
  w.set("general.architecture", "test");
  w.set("general.alignment", std::uint32_t(32));  // explicit, so it is written
  w.set_array("test.list", {std::int32_t(1), std::int32_t(2), std::int32_t(3)});
  w.set_array("test.names", {"x", "yz"});
  w.set("test.flag", true);
  float a[8];
  for (int i = 0; i < 8; ++i) a[i] = float(i);
  w.add_tensor("a", arx::ggml_type::f32, {2, 4}, bytes_of(a, sizeof a));
  arx::block_q8_0 b{};
  b.d.bits = 0x3c00;
  for (int i = 0; i < 32; ++i) b.qs[i] = std::int8_t(i);
  w.add_tensor("b", arx::ggml_type::q8_0, {32}, bytes_of(&b, sizeof b));
  return w;
}

}  // namespace

TEST_CASE("gguf writer: output is byte-identical to the hand-assembled file", "[io][gguf]") {
  const auto want = gguf_test::make_small_file();
  const auto w = small_file_writer();
  const auto got = w.to_bytes();
  // The hand-assembled file stops where "b" ends; the writer also pads the last tensor to the
  // alignment, as llama.cpp's writer does: 34 bytes of "b" become 64.
  REQUIRE(got.size() == want.data_offset + 32 + 64);
  CHECK(w.file_size() == got.size());
  CHECK(std::equal(want.bytes.begin(), want.bytes.end(), got.begin()));
  CHECK(std::all_of(got.begin() + std::ptrdiff_t(want.bytes.size()), got.end(),
                    [](std::byte x) { return x == std::byte{0}; }));
}

TEST_CASE("gguf writer: C++ scalar types choose the GGUF value type", "[io][gguf]") {
  gguf::writer w;
  w.set("int", 5);
  w.set("unsigned", 5u);
  w.set("long long", 5ll);
  w.set("unsigned long long", 5ull);
  w.set("short", short(5));
  w.set("signed char", static_cast<signed char>(5));
  w.set("unsigned char", static_cast<unsigned char>(5));
  w.set("float", 5.0f);
  w.set("double", 5.0);
  w.set("bool", true);
  w.set("literal", "five");  // a string, not a bool
  w.set("std::string", std::string("five"));
  const auto f = read(w.to_bytes());
  const std::pair<const char*, std::uint32_t> want[] = {
      {"int", gguf_test::t_i32},           {"unsigned", gguf_test::t_u32},
      {"long long", gguf_test::t_i64},     {"unsigned long long", gguf_test::t_u64},
      {"short", gguf_test::t_i16},         {"signed char", gguf_test::t_i8},
      {"unsigned char", gguf_test::t_u8},  {"float", gguf_test::t_f32},
      {"double", gguf_test::t_f64},        {"bool", gguf_test::t_bool},
      {"literal", gguf_test::t_string},    {"std::string", gguf_test::t_string}};
  for (const auto& [key, type] : want) {
    INFO(key);
    CHECK(std::uint32_t(f.at(key).type()) == type);
  }
  CHECK(f.get<std::string_view>("literal") == "five");
}

TEST_CASE("gguf writer: setting a key again replaces its value and keeps its place", "[io][gguf]") {
  gguf::writer w;
  w.set("first", 1);
  w.set("second", "two");
  w.set("third", 3.0f);
  w.set("second", std::uint64_t(22));  // another type is fine: it is a new value
  w.set_array("first", {"one"});
  CHECK(w.metadata_count() == 3);
  CHECK(w.contains("second"));
  CHECK_FALSE(w.contains("fourth"));
  const auto f = read(w.to_bytes());
  REQUIRE(f.metadata().size() == 3);
  CHECK(f.metadata()[0].key == "first");
  CHECK(f.metadata()[1].key == "second");
  CHECK(f.metadata()[2].key == "third");
  CHECK(f.get_array<std::string_view>("first")[0] == "one");
  CHECK(f.get<std::uint64_t>("second") == 22);
  CHECK_THROWS_AS(w.set("", 1), arx::invalid_argument);
}

TEST_CASE("gguf writer: alignment is honoured and recorded only when it is not 32", "[io][gguf]") {
  arx::tensor<float> x({5});  // 20 bytes
  {
    gguf::writer w;
    w.add_tensor("x", x);
    const auto f = read(w.to_bytes());
    CHECK_FALSE(f.contains("general.alignment"));
    CHECK(f.alignment() == 32);
    CHECK(f.size() == f.data_offset() + 32);
  }
  {
    gguf::writer w(128);
    w.set("k", 1);
    w.add_tensor("x", x);
    w.add_tensor("y", x);
    const auto f = read(w.to_bytes());
    CHECK(f.metadata()[0].key == "general.alignment");
    CHECK(f.get<std::uint32_t>("general.alignment") == 128);
    CHECK(f.data_offset() % 128 == 0);
    CHECK(f.tensors()[1].offset == f.data_offset() + 128);
    CHECK(f.size() == f.data_offset() + 256);
  }
  {
    gguf::writer w;
    w.set("general.alignment", std::uint32_t(64));  // through set(): same as set_alignment
    CHECK(w.alignment() == 64);
    w.set_alignment(32);  // already recorded: the key follows the value
    CHECK(read(w.to_bytes()).get<std::uint32_t>("general.alignment") == 32);
  }
  gguf::writer w;
  CHECK_THROWS_AS(gguf::writer(0), arx::invalid_argument);
  CHECK_THROWS_AS(gguf::writer(48), arx::invalid_argument);
  CHECK_THROWS_AS(gguf::writer(4), arx::invalid_argument);  // the GGUF spec wants multiples of 8
  // bounded, so padding can never silently grow the file by gigabytes
  CHECK(gguf::writer(gguf::max_writer_alignment).alignment() == gguf::max_writer_alignment);
  CHECK_THROWS_AS(gguf::writer(gguf::max_writer_alignment * 2), arx::invalid_argument);
  CHECK_THROWS_AS(gguf::writer(0x80000000u), arx::invalid_argument);
  CHECK_THROWS_AS(w.set("general.alignment", std::uint32_t(1) << 20), arx::invalid_argument);
  CHECK_THROWS_AS(w.set_alignment(std::uint32_t(1) << 31), arx::invalid_argument);
  CHECK_THROWS_AS(w.set("general.alignment", 64), arx::invalid_argument);  // i32, not u32
  CHECK_THROWS_AS(w.set("general.alignment", std::uint64_t(64)), arx::invalid_argument);
  CHECK_THROWS_AS(w.set("general.alignment", "64"), arx::invalid_argument);
  CHECK_THROWS_AS(w.set_array("general.alignment", {64u}), arx::invalid_argument);
  CHECK(w.alignment() == 32);
}

TEST_CASE("gguf writer: tensors are validated when added", "[io][gguf]") {
  gguf::writer w;
  const std::vector<std::byte> eight(8);
  w.add_tensor("ok", arx::ggml_type::f32, {2}, eight);
  CHECK(w.tensor_count() == 1);

  CHECK_THROWS_AS(w.add_tensor("ok", arx::ggml_type::f32, {2}, eight), arx::invalid_argument);
  CHECK_THROWS_WITH(w.add_tensor("ok", arx::ggml_type::f32, {2}, eight), Contains("duplicate"));
  CHECK_THROWS_AS(w.add_tensor("", arx::ggml_type::f32, {2}, eight), arx::invalid_argument);
  CHECK_THROWS_AS(w.add_tensor(std::string(64, 'n'), arx::ggml_type::f32, {2}, eight),
                  arx::invalid_argument);
  w.add_tensor(std::string(63, 'n'), arx::ggml_type::f32, {2}, eight);  // the longest allowed

  // byte count against shape and type
  CHECK_THROWS_AS(w.add_tensor("short", arx::ggml_type::f32, {3}, eight), arx::shape_error);
  CHECK_THROWS_WITH(w.add_tensor("short", arx::ggml_type::f32, {3}, eight),
                    Contains("'short'") && Contains("8 bytes given") && Contains("needs 12"));
  CHECK_THROWS_AS(w.add_tensor("f16", arx::ggml_type::f16, {2}, eight), arx::shape_error);
  const std::vector<std::byte> one_q8_block(34);
  w.add_tensor("q8", arx::ggml_type::q8_0, {32}, one_q8_block);
  CHECK_THROWS_AS(w.add_tensor("q8b", arx::ggml_type::q8_0, {16}, one_q8_block),
                  arx::shape_error);  // innermost extent not a multiple of 32
  CHECK_THROWS_WITH(w.add_tensor("q8b", arx::ggml_type::q8_0, {16}, one_q8_block),
                    Contains("block size 32"));

  // shapes the format cannot hold
  CHECK_THROWS_AS(w.add_tensor("r0", arx::ggml_type::f32, arx::shape_t{}, eight),
                  arx::shape_error);
  CHECK_THROWS_AS(w.add_tensor("zero", arx::ggml_type::f32, {0, 2}, {}), arx::shape_error);
  // an element count beyond int64 is refused already when the shape is built
  CHECK_THROWS_AS(w.add_tensor("huge", arx::ggml_type::f32, {1ll << 40, 1ll << 40}, eight),
                  arx::shape_error);

  // type ids GGUF does not define
  CHECK_THROWS_AS(w.add_tensor("t4", arx::ggml_type(4), {2}, eight), arx::invalid_argument);
  CHECK_THROWS_AS(w.add_tensor("t1000", arx::ggml_type(1000), {2}, eight),
                  arx::invalid_argument);

  CHECK(w.tensor_count() == 3);  // failed adds left nothing behind
  const auto f = read(w.to_bytes());
  CHECK(f.tensors().size() == 3);
}

TEST_CASE("gguf writer: copies a read file's metadata and tensors, K-quants included",
          "[io][gguf]") {
  gguf::writer src(64);
  src.set("name", "copy me");
  src.set("count", std::uint32_t(7));
  src.set("flag", true);
  src.set_array("scores", {0.25f, -1.0f});
  src.set_array("tokens", {"a", "bc", ""});
  std::vector<std::byte> k(2 * 210);  // two Q6_K blocks
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = std::byte(i % 251);
  src.add_tensor("k", arx::ggml_type::q6_k, {2, 256}, k);
  const auto a = read(src.to_bytes());

  gguf::writer copy(a.alignment());
  for (const auto& e : a.metadata()) copy.set(e.key, e.value);
  for (const auto& t : a.tensors()) copy.add_tensor(a.tensor(t));
  const auto bytes = copy.to_bytes();
  // same content, same layout conventions: the same file
  CHECK(bytes == std::vector<std::byte>(a.bytes().begin(), a.bytes().end()));
  const auto b = read(bytes);
  CHECK(b.get<std::string_view>("name") == "copy me");
  CHECK(b.get_array<std::string_view>("tokens").size() == 3);
  CHECK(b.tensors()[0].nbytes == 420);
  CHECK(std::memcmp(b.tensor("k").data(), k.data(), k.size()) == 0);
}

TEST_CASE("gguf writer: arrays of arrays are refused, llama.cpp cannot read them", "[io][gguf]") {
  gguf_test::byte_builder bb;
  bb.header(3, 0, 1).str("nested").u32(gguf_test::t_array).u32(gguf_test::t_array).u64(1);
  bb.u32(gguf_test::t_u8).u64(1).u8(9);
  const auto f = read(bb.bytes);
  REQUIRE(f.at("nested").items().size() == 1);
  gguf::writer w;
  CHECK_THROWS_AS(w.set("nested", f.at("nested")), arx::unsupported_error);
  CHECK(w.metadata_count() == 0);
}

TEST_CASE("gguf writer: write() puts the same bytes on disk, io_error when it cannot",
          "[io][gguf]") {
  const auto w = small_file_writer();
  const auto dir = std::filesystem::temp_directory_path();
  const auto path = dir / ("arx-test-gguf-writer-" + std::to_string(::getpid()) + ".gguf");
  w.write(path.string());
  {
    std::ifstream in(path, std::ios::binary);
    const std::vector<char> disk{std::istreambuf_iterator<char>(in), {}};
    const auto mem = w.to_bytes();
    REQUIRE(disk.size() == mem.size());
    CHECK(std::memcmp(disk.data(), mem.data(), mem.size()) == 0);
    const auto f = gguf::open(path.string());
    CHECK(f.tensor_as<float>("a")(1, 1) == 5.0f);
  }
  std::filesystem::remove(path);
  // a directory that does not exist: io_error naming the path
  const auto missing = (dir / "arx-no-such-dir" / "x.gguf").string();
  CHECK_THROWS_AS(w.write(missing), arx::io_error);
  CHECK_THROWS_WITH(w.write(missing), Contains(missing));
  // a path that exists but is not a regular file is refused, never renamed over
  CHECK_THROWS_AS(w.write(dir.string()), arx::io_error);
  if (std::filesystem::exists("/dev/full")) {
    CHECK_THROWS_WITH(w.write("/dev/full"), Contains("not a regular file"));
    CHECK(std::filesystem::is_character_file("/dev/full"));
  } else {
    WARN("/dev/full is missing: its case is skipped (the other failure cases still ran)");
  }
}

namespace {

// A fresh empty directory for one test, removed with everything in it at scope exit.
struct temp_dir {
  std::filesystem::path path;
  explicit temp_dir(const std::string& tag)
      : path(std::filesystem::temp_directory_path() /
             ("arx-test-" + tag + "-" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~temp_dir() { std::filesystem::remove_all(path); }
  std::size_t entries() const {
    return std::size_t(std::distance(std::filesystem::directory_iterator(path), {}));
  }
};

std::vector<char> slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

}  // namespace

TEST_CASE("gguf writer: write() over a file that is open and mapped leaves the old mapping intact",
          "[io][gguf]") {
  const temp_dir dir("gguf-rewrite");
  const auto path = (dir.path / "model.gguf").string();
  small_file_writer().write(path);
  ::chmod(path.c_str(), 0640);
  const auto old = gguf::open(path);  // maps the file
  const auto old_a = old.tensor_as<float>("a");

  // Rewrite the same path with different, smaller contents while `old` maps it. Truncating in
  // place would make every access to `old` fault (SIGBUS); replacing by rename does not.
  gguf::writer w;
  w.set("general.architecture", "other");
  arx::tensor<float> x({3});
  for (int i = 0; i < 3; ++i) x.data()[i] = float(10 + i);
  w.add_tensor("x", x);
  w.write(path);

  CHECK(old.get<std::string_view>("general.architecture") == "test");
  CHECK(old_a(1, 3) == 7.0f);
  CHECK(old.tensor_as<float>("a")(0, 0) == 0.0f);
  const auto now = gguf::open(path);
  CHECK(now.get<std::string_view>("general.architecture") == "other");
  CHECK(now.tensor_as<float>("x")(2) == 12.0f);
  CHECK_FALSE(now.contains("test.list"));
  const auto disk = slurp(path);
  const auto mem = w.to_bytes();
  REQUIRE(disk.size() == mem.size());
  CHECK(std::memcmp(disk.data(), mem.data(), mem.size()) == 0);
  struct ::stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0640);  // the replaced file's permissions are kept
  CHECK(dir.entries() == 1);           // no temporary file left behind
}

TEST_CASE("gguf writer: write() through a symlink replaces the file it points to", "[io][gguf]") {
  const temp_dir dir("gguf-symlink");
  const auto real = dir.path / "real.gguf";
  const auto link = dir.path / "link.gguf";
  gguf::writer first;
  first.set("v", 1);
  first.write(real.string());
  std::filesystem::create_symlink(real.filename(), link);
  gguf::writer second;
  second.set("v", 2);
  second.write(link.string());
  CHECK(std::filesystem::is_symlink(link));
  CHECK(gguf::open(real.string()).get<std::int32_t>("v") == 2);
  CHECK(gguf::open(link.string()).get<std::int32_t>("v") == 2);
  CHECK(dir.entries() == 2);
}

TEST_CASE("gguf writer: a failed write() throws io_error, keeps the old file and cleans up",
          "[io][gguf]") {
  const temp_dir dir("gguf-fail");
  const auto path = (dir.path / "model.gguf").string();
  gguf::writer small;
  small.set("v", 1);
  small.write(path);
  const auto before = slurp(path);

  // Failure injection that needs no special device: a file size limit makes write() fail with
  // EFBIG once the temporary file reaches it (SIGXFSZ ignored so the process survives).
  gguf::writer big;
  big.add_tensor("t", arx::tensor<float>({64 * 1024}));  // 256 KiB of data
  struct ::rlimit old_limit {};
  REQUIRE(::getrlimit(RLIMIT_FSIZE, &old_limit) == 0);
  auto* old_handler = ::signal(SIGXFSZ, SIG_IGN);
  struct ::rlimit limit = old_limit;
  limit.rlim_cur = 64 * 1024;
  REQUIRE(::setrlimit(RLIMIT_FSIZE, &limit) == 0);
  std::string what;
  try {
    big.write(path);
  } catch (const arx::io_error& e) {
    what = e.what();
  }
  ::setrlimit(RLIMIT_FSIZE, &old_limit);
  ::signal(SIGXFSZ, old_handler);
  INFO(what);
  CHECK_THAT(what, Contains(path) && Contains("write failed"));
  CHECK(slurp(path) == before);  // the target was never touched
  CHECK(dir.entries() == 1);     // and the temporary file is gone
  CHECK(gguf::open(path).get<std::int32_t>("v") == 1);
}
