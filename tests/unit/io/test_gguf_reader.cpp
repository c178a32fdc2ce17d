// gguf::file: reading hand-assembled files, typed metadata access and its widening rules, arrays,
// and round trips through gguf::writer of every value type and of tensors of every type.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <arx/io/gguf.hpp>
#include <arx/io/gguf_writer.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "unit/io/gguf_bytes.hpp"

namespace gguf = arx::gguf;
using Catch::Contains;
using gguf_test::make_small_file;

namespace {

gguf::file read(const std::vector<std::byte>& bytes) {
  return gguf::file::from_bytes(bytes, "test.gguf");
}

std::uint32_t id(gguf::value_type t) { return std::uint32_t(t); }

}  // namespace

TEST_CASE("gguf reader: hand-assembled file gives its header, metadata and tensors", "[io][gguf]") {
  const auto sf = make_small_file();
  const auto f = read(sf.bytes);
  CHECK(f.path() == "test.gguf");
  CHECK(f.version() == 3);
  CHECK(f.alignment() == 32);
  CHECK(f.data_offset() == sf.data_offset);
  CHECK(f.size() == sf.bytes.size());

  REQUIRE(f.metadata().size() == 5);
  const char* keys[] = {"general.architecture", "general.alignment", "test.list", "test.names",
                        "test.flag"};
  for (std::size_t i = 0; i < 5; ++i) CHECK(f.metadata()[i].key == keys[i]);
  CHECK(id(f.at("general.architecture").type()) == gguf_test::t_string);
  CHECK(f.at("general.architecture").offset() == sf.arch_value);
  CHECK(f.get<std::string_view>("general.architecture") == "test");
  CHECK(f.get<std::string>("general.architecture") == "test");
  CHECK(f.get<std::uint32_t>("general.alignment") == 32);
  CHECK(f.get<bool>("test.flag") == true);

  const auto list = f.get_array<std::int32_t>("test.list");
  REQUIRE(list.size() == 3);
  CHECK(list[0] == 1);
  CHECK(list[1] == 2);
  CHECK(list[2] == 3);
  CHECK(id(f.at("test.list").array_type()) == gguf_test::t_i32);
  const auto names = f.get_array<std::string_view>("test.names");
  REQUIRE(names.size() == 2);
  CHECK(names[0] == "x");
  CHECK(names[1] == "yz");

  REQUIRE(f.tensors().size() == 2);
  const auto& a = f.tensors()[0];
  CHECK(a.name == "a");
  CHECK(std::uint32_t(a.type) == gguf_test::g_f32);
  CHECK(a.shape == arx::shape_t{2, 4});  // file dims {4, 2}, innermost first
  CHECK(a.offset == sf.data_offset);
  CHECK(a.nbytes == 32);
  const auto* b = f.find_tensor("b");
  REQUIRE(b != nullptr);
  CHECK(std::uint32_t(b->type) == gguf_test::g_q8_0);
  CHECK(b->shape == arx::shape_t{32});
  CHECK(b->offset == sf.data_offset + 32);
  CHECK(b->nbytes == 34);

  const auto av = f.tensor_as<float>("a");  // [2, 4] holding 0..7 row-major
  CHECK(av(0, 0) == 0.0f);
  CHECK(av(1, 2) == 6.0f);
  CHECK(av.row(1)[3] == 7.0f);
  const auto bv = f.tensor_as<arx::block_q8_0>("b");
  REQUIRE(bv.flat().size() == 1);
  CHECK(bv.flat()[0].d.bits == 0x3c00);
  CHECK(bv.flat()[0].qs[31] == 31);
  CHECK(f.tensor("b").nbytes() == 34);
  CHECK(f.tensor_bytes(*b).data() == f.bytes().data() + sf.data_offset + 32);
}

TEST_CASE("gguf reader: missing keys and tensors are key_errors naming them", "[io][gguf]") {
  const auto f = read(make_small_file().bytes);
  CHECK_FALSE(f.contains("no.such.key"));
  CHECK(f.find("no.such.key") == nullptr);
  CHECK_THROWS_AS(f.get<std::uint32_t>("no.such.key"), arx::key_error);
  CHECK_THROWS_WITH(f.get<std::uint32_t>("no.such.key"), Contains("'no.such.key'"));
  CHECK_THROWS_WITH(f.get_array<float>("no.such.key"), Contains("'no.such.key'"));
  CHECK(f.find_tensor("zz") == nullptr);
  CHECK_THROWS_AS(f.tensor("zz"), arx::key_error);
  CHECK_THROWS_WITH(f.tensor_as<float>("zz"), Contains("'zz'"));
  // the right name, the wrong element type
  CHECK_THROWS_AS(f.tensor_as<arx::f16>("a"), arx::unsupported_error);
  CHECK_THROWS_WITH(f.tensor_as<arx::f16>("a"), Contains("'a'") && Contains("F32"));
  // every error names the file
  CHECK_THROWS_WITH(f.tensor("zz"), Contains("test.gguf: tensor 'zz' not found"));
  CHECK_THROWS_WITH(f.tensor_as<float>("zz"), Contains("test.gguf: tensor 'zz' not found"));
  CHECK_THROWS_WITH(f.tensor_as<arx::f16>("a"), Contains("test.gguf: tensor 'a' has type F32"));
  CHECK_THROWS_WITH(f.get<float>("no.such.key"), Contains("test.gguf: "));
}

TEST_CASE("gguf reader: lookups in many keys and tensors, in any insertion order", "[io][gguf]") {
  // Keys sharing long prefixes and inserted shuffled: the sorted index must find every one and
  // nothing else.
  std::vector<std::string> keys;
  for (int i = 0; i < 500; ++i) keys.push_back("blk." + std::to_string(i) + ".k");
  std::shuffle(keys.begin(), keys.end(), std::mt19937(7));
  gguf::writer w;
  for (std::size_t i = 0; i < keys.size(); ++i) w.set(keys[i], std::uint32_t(i));
  arx::tensor<float> x({1});
  for (std::size_t i = 0; i < 100; ++i) w.add_tensor(keys[i] + ".w", x);
  const auto f = read(w.to_bytes());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    INFO(keys[i]);
    REQUIRE(f.contains(keys[i]));
    CHECK(f.get<std::uint32_t>(keys[i]) == i);
    CHECK(f.metadata()[i].key == keys[i]);  // file order is kept
  }
  for (std::size_t i = 0; i < 100; ++i) {
    const auto* t = f.find_tensor(keys[i] + ".w");
    REQUIRE(t != nullptr);
    CHECK(t == &f.tensors()[i]);
  }
  CHECK_FALSE(f.contains("blk."));
  CHECK_FALSE(f.contains("blk.1.k2"));
  CHECK_FALSE(f.contains(""));
  CHECK(f.find_tensor("blk.0.k") == nullptr);
  CHECK(f.find_tensor("zzz") == nullptr);
  const auto empty = read(gguf::writer().to_bytes());
  CHECK_FALSE(empty.contains("a"));
  CHECK(empty.find_tensor("a") == nullptr);
}

TEST_CASE("gguf reader: get_or falls back only when the key is absent", "[io][gguf]") {
  const auto f = read(make_small_file().bytes);
  CHECK(f.get_or<std::uint32_t>("general.alignment", 7) == 32);
  CHECK(f.get_or<std::uint32_t>("missing", 7) == 7);
  CHECK(f.get_or("missing", "fallback") == std::string_view("fallback"));
  CHECK(f.get_or("general.architecture", "fallback") == std::string_view("test"));
  CHECK(f.get_or("missing", 1.25f) == 1.25f);
  // present with a type that cannot be read as the fallback's type: an error, not the fallback
  CHECK_THROWS_AS(f.get_or("general.architecture", 3), arx::key_error);
  CHECK_THROWS_AS(f.get_or<std::int32_t>("general.alignment", 3), arx::key_error);
}

TEST_CASE("gguf reader: every value type round-trips through the writer", "[io][gguf]") {
  gguf::writer w;
  w.set("u8", std::uint8_t(200));
  w.set("i8", std::int8_t(-100));
  w.set("u16", std::uint16_t(60000));
  w.set("i16", std::int16_t(-30000));
  w.set("u32", std::uint32_t(4000000000u));
  w.set("i32", std::int32_t(-2000000000));
  w.set("f32", 1.5f);
  w.set("bool", true);
  w.set("bool.false", false);
  w.set("string", "h\xc3\xa9llo");
  w.set("string.nul", std::string("a\0b", 3));
  w.set("string.empty", "");
  w.set("u64", std::uint64_t(9223372036854775813ull));
  w.set("i64", std::int64_t(-4611686018427387904ll));
  w.set("f64", -0.125);
  w.set_array("a.u8", std::vector<std::uint8_t>{0, 255, 7});
  w.set_array("a.i8", std::vector<std::int8_t>{-128, 127});
  w.set_array("a.u16", std::vector<std::uint16_t>{65535, 1});
  w.set_array("a.i16", std::vector<std::int16_t>{-32768, 32767});
  w.set_array("a.u32", std::vector<std::uint32_t>{4294967295u, 0});
  w.set_array("a.i32", {-1, 2, -3});
  w.set_array("a.f32", {0.5f, -2.0f, std::numeric_limits<float>::infinity()});
  w.set_array("a.bool", std::vector<bool>{true, false, true});
  w.set_array("a.u64", std::vector<std::uint64_t>{18446744073709551615ull});
  w.set_array("a.i64", std::vector<std::int64_t>{-9223372036854775807ll - 1});
  w.set_array("a.f64", {1e300, -1e-300});
  w.set_array("a.string", {"first", "", "third"});
  w.set_array("a.empty", std::vector<float>{});
  w.set_array("a.empty_strings", std::vector<std::string>{});

  const auto f = read(w.to_bytes());
  REQUIRE(f.metadata().size() == 29);

  const std::pair<const char*, std::uint32_t> types[] = {
      {"u8", gguf_test::t_u8},       {"i8", gguf_test::t_i8},     {"u16", gguf_test::t_u16},
      {"i16", gguf_test::t_i16},     {"u32", gguf_test::t_u32},   {"i32", gguf_test::t_i32},
      {"f32", gguf_test::t_f32},     {"bool", gguf_test::t_bool}, {"string", gguf_test::t_string},
      {"u64", gguf_test::t_u64},     {"i64", gguf_test::t_i64},   {"f64", gguf_test::t_f64},
      {"a.u8", gguf_test::t_array}};
  for (const auto& [key, type] : types) {
    INFO(key);
    CHECK(id(f.at(key).type()) == type);
  }
  CHECK(f.get<std::uint8_t>("u8") == 200);
  CHECK(f.get<std::int8_t>("i8") == -100);
  CHECK(f.get<std::uint16_t>("u16") == 60000);
  CHECK(f.get<std::int16_t>("i16") == -30000);
  CHECK(f.get<std::uint32_t>("u32") == 4000000000u);
  CHECK(f.get<std::int32_t>("i32") == -2000000000);
  CHECK(f.get<float>("f32") == 1.5f);
  CHECK(f.get<bool>("bool") == true);
  CHECK(f.get<bool>("bool.false") == false);
  CHECK(f.get<std::string_view>("string") == "h\xc3\xa9llo");
  CHECK(f.get<std::string>("string.nul") == std::string("a\0b", 3));
  CHECK(f.get<std::string_view>("string.empty").empty());
  CHECK(f.get<std::uint64_t>("u64") == 9223372036854775813ull);
  CHECK(f.get<std::int64_t>("i64") == -4611686018427387904ll);
  CHECK(f.get<double>("f64") == -0.125);

  auto eq = [](auto span, std::initializer_list<typename decltype(span)::value_type> want) {
    return std::vector(span.begin(), span.end()) == std::vector(want);
  };
  CHECK(eq(f.get_array<std::uint8_t>("a.u8"), {0, 255, 7}));
  CHECK(eq(f.get_array<std::int8_t>("a.i8"), {-128, 127}));
  CHECK(eq(f.get_array<std::uint16_t>("a.u16"), {65535, 1}));
  CHECK(eq(f.get_array<std::int16_t>("a.i16"), {-32768, 32767}));
  CHECK(eq(f.get_array<std::uint32_t>("a.u32"), {4294967295u, 0}));
  CHECK(eq(f.get_array<std::int32_t>("a.i32"), {-1, 2, -3}));
  CHECK(eq(f.get_array<float>("a.f32"), {0.5f, -2.0f, std::numeric_limits<float>::infinity()}));
  CHECK(eq(f.get_array<bool>("a.bool"), {true, false, true}));
  CHECK(eq(f.get_array<std::uint64_t>("a.u64"), {18446744073709551615ull}));
  CHECK(eq(f.get_array<std::int64_t>("a.i64"), {-9223372036854775807ll - 1}));
  CHECK(eq(f.get_array<double>("a.f64"), {1e300, -1e-300}));
  CHECK(eq(f.get_array<std::string_view>("a.string"), {"first", "", "third"}));
  CHECK(f.get_array<float>("a.empty").empty());
  CHECK(f.get_array<std::string_view>("a.empty_strings").empty());
  CHECK(id(f.at("a.empty_strings").array_type()) == gguf_test::t_string);
  CHECK(f.at("a.string").size() == 3);
}

TEST_CASE("gguf reader: integers widen losslessly, never narrow or drop the sign", "[io][gguf]") {
  gguf::writer w;
  w.set("u8", std::uint8_t(255));
  w.set("i8", std::int8_t(-5));
  w.set("u32", std::uint32_t(4000000000u));
  w.set("i32", std::int32_t(-7));
  w.set("u64", std::uint64_t(1));
  w.set("i64", std::int64_t(1));
  w.set("f32", 0.1f);
  w.set("f64", 0.1);
  w.set("bool", true);
  w.set("str", "12");
  w.set_array("arr", {1, 2});
  const auto f = read(w.to_bytes());

  CHECK(f.get<std::uint16_t>("u8") == 255);
  CHECK(f.get<std::uint64_t>("u8") == 255);
  CHECK(f.get<std::int16_t>("u8") == 255);  // unsigned into a wider signed type
  CHECK_THROWS_AS(f.get<std::int8_t>("u8"), arx::key_error);

  CHECK(f.get<std::int64_t>("i8") == -5);
  CHECK(f.get<std::int16_t>("i8") == -5);
  CHECK_THROWS_AS(f.get<std::uint8_t>("i8"), arx::key_error);
  CHECK_THROWS_AS(f.get<std::uint64_t>("i8"), arx::key_error);

  CHECK(f.get<std::uint64_t>("u32") == 4000000000u);
  CHECK(f.get<std::int64_t>("u32") == 4000000000);
  CHECK_THROWS_AS(f.get<std::int32_t>("u32"), arx::key_error);
  CHECK_THROWS_AS(f.get<std::uint16_t>("u32"), arx::key_error);
  CHECK_THROWS_WITH(f.get<std::int32_t>("u32"),
                    Contains("'u32'") && Contains("is u32") && Contains("as i32"));

  CHECK(f.get<std::int64_t>("i32") == -7);
  CHECK_THROWS_AS(f.get<std::uint32_t>("i32"), arx::key_error);
  CHECK_THROWS_AS(f.get<std::uint64_t>("i32"), arx::key_error);
  CHECK_THROWS_AS(f.get<std::int16_t>("i32"), arx::key_error);

  // 64-bit values fit only their own type, whatever the stored value
  CHECK_THROWS_AS(f.get<std::int64_t>("u64"), arx::key_error);
  CHECK_THROWS_AS(f.get<std::uint32_t>("u64"), arx::key_error);
  CHECK_THROWS_AS(f.get<std::uint64_t>("i64"), arx::key_error);

  CHECK(f.get<double>("f32") == double(0.1f));
  CHECK_THROWS_AS(f.get<float>("f64"), arx::key_error);
  CHECK_THROWS_AS(f.get<std::int32_t>("f32"), arx::key_error);
  CHECK_THROWS_AS(f.get<float>("i32"), arx::key_error);
  CHECK_THROWS_AS(f.get<double>("u8"), arx::key_error);

  CHECK_THROWS_AS(f.get<std::uint8_t>("bool"), arx::key_error);
  CHECK_THROWS_AS(f.get<bool>("u8"), arx::key_error);
  CHECK_THROWS_AS(f.get<std::int32_t>("str"), arx::key_error);
  CHECK_THROWS_AS(f.get<std::string>("u8"), arx::key_error);
  CHECK_THROWS_AS(f.get<std::int32_t>("arr"), arx::key_error);
  CHECK_THROWS_WITH(f.get<std::int32_t>("arr"), Contains("an array of i32"));

  // arrays are zero-copy spans, so their element type must match exactly
  CHECK(f.get_array<std::int32_t>("arr").size() == 2);
  CHECK_THROWS_AS(f.get_array<std::int64_t>("arr"), arx::key_error);
  CHECK_THROWS_AS(f.get_array<std::uint32_t>("arr"), arx::key_error);
  CHECK_THROWS_AS(f.get_array<std::string_view>("arr"), arx::key_error);
  CHECK_THROWS_AS(f.get_array<std::int32_t>("i32"), arx::key_error);
}

TEST_CASE("gguf reader: numeric arrays at misaligned file offsets still give aligned spans",
          "[io][gguf]") {
  // A string of length n before the array shifts the array's bytes by n: for some n they are
  // misaligned for float and double in the file.
  bool saw_misaligned = false;
  for (int n = 0; n < 8; ++n) {
    gguf::writer w;
    w.set("s", std::string(std::size_t(n), 'x'));
    w.set_array("f", {1.5f, -2.0f, 3.25f});
    w.set_array("d", {0.5, -8.0});
    const auto f = read(w.to_bytes());
    // elements start after the element type (4 bytes) and count (8 bytes)
    const auto* f_elems = f.bytes().data() + f.at("f").offset() + 12;
    const auto* d_elems = f.bytes().data() + f.at("d").offset() + 12;
    saw_misaligned |= reinterpret_cast<std::uintptr_t>(f_elems) % alignof(float) != 0 ||
                      reinterpret_cast<std::uintptr_t>(d_elems) % alignof(double) != 0;
    const auto fs = f.get_array<float>("f");
    const auto ds = f.get_array<double>("d");
    CHECK(reinterpret_cast<std::uintptr_t>(fs.data()) % alignof(float) == 0);
    CHECK(reinterpret_cast<std::uintptr_t>(ds.data()) % alignof(double) == 0);
    REQUIRE(fs.size() == 3);
    CHECK(fs[0] == 1.5f);
    CHECK(fs[1] == -2.0f);
    CHECK(fs[2] == 3.25f);
    REQUIRE(ds.size() == 2);
    CHECK(ds[0] == 0.5);
    CHECK(ds[1] == -8.0);
  }
  CHECK(saw_misaligned);
}

TEMPLATE_LIST_TEST_CASE("gguf reader: tensors of every compute type round-trip through the writer",
                        "[io][gguf]", arx::compute_types) {
  using T = TestType;
  constexpr std::int64_t be = arx::dtype_traits<T>::block_elems;
  arx::tensor<T> t({3, 2 * be});  // 3 rows of 2 storage units each
  auto* raw = reinterpret_cast<unsigned char*>(t.data());
  for (std::size_t i = 0; i < t.nbytes(); ++i) raw[i] = static_cast<unsigned char>(i * 37 + 11);

  gguf::writer w;
  w.add_tensor("t", t);
  w.add_tensor("row1", t.view().slice(1));  // a tensor_view<T> of shape {2 * be}
  const auto f = read(w.to_bytes());

  const auto* info = f.find_tensor("t");
  REQUIRE(info != nullptr);
  CHECK(info->type == arx::dtype_traits<T>::type);
  CHECK(info->shape == arx::shape_t{3, 2 * be});
  CHECK(info->nbytes == 3 * 2 * sizeof(T));
  CHECK(info->offset % 32 == 0);
  const auto v = f.tensor_as<T>("t");
  CHECK(v.shape() == t.shape());
  CHECK(std::memcmp(v.data(), t.data(), t.nbytes()) == 0);
  CHECK(reinterpret_cast<std::uintptr_t>(v.data()) % alignof(T) == 0);

  const auto r = f.tensor_as<T>("row1");
  CHECK(r.shape() == arx::shape_t{2 * be});
  CHECK(std::memcmp(r.data(), raw + 2 * sizeof(T), 2 * sizeof(T)) == 0);

  if constexpr (std::is_same_v<T, float>)
    CHECK_THROWS_AS(f.tensor_as<arx::f16>("t"), arx::unsupported_error);
  else
    CHECK_THROWS_AS(f.tensor_as<float>("t"), arx::unsupported_error);
}

TEST_CASE("gguf reader: every GGUF tensor type, K-quants and IQ types included, reads as raw bytes",
          "[io][gguf]") {
  // id, values per block, bytes per block: the GGUF/ggml type table, written out independently.
  struct row {
    std::uint32_t id, block_elems, block_bytes;
  };
  const row table[] = {{0, 1, 4},      {1, 1, 2},      {2, 32, 18},    {3, 32, 20},
                       {6, 32, 22},    {7, 32, 24},    {8, 32, 34},    {9, 32, 36},
                       {10, 256, 84},  {11, 256, 110}, {12, 256, 144}, {13, 256, 176},
                       {14, 256, 210}, {15, 256, 292}, {16, 256, 66},  {17, 256, 74},
                       {18, 256, 98},  {19, 256, 50},  {20, 32, 18},   {21, 256, 110},
                       {22, 256, 82},  {23, 256, 136}, {24, 1, 1},     {25, 1, 2},
                       {26, 1, 4},     {27, 1, 8},     {28, 1, 8},     {29, 256, 56},
                       {30, 1, 2},     {34, 256, 54},  {35, 256, 66},  {39, 32, 17}};
  gguf::writer w;
  std::vector<std::vector<std::byte>> data;
  for (const auto& r : table) {
    // shape [2, 2 blocks]: 4 blocks in all
    std::vector<std::byte> bytes(4 * r.block_bytes);
    for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = std::byte((i * 7 + r.id) & 0xff);
    std::string name = "t";  // built by append: "t" + to_string trips a GCC 12 -Wrestrict bug
    name += std::to_string(r.id);
    w.add_tensor(name, arx::ggml_type(r.id),
                 arx::shape_t{2, 2 * std::int64_t(r.block_elems)}, bytes);
    data.push_back(std::move(bytes));
  }
  const auto f = read(w.to_bytes());
  REQUIRE(f.tensors().size() == std::size(table));
  for (std::size_t k = 0; k < std::size(table); ++k) {
    const auto& r = table[k];
    INFO("type id " << r.id);
    const auto& t = f.tensors()[k];
    CHECK(std::uint32_t(t.type) == r.id);
    CHECK(t.shape == arx::shape_t{2, 2 * std::int64_t(r.block_elems)});
    CHECK(t.nbytes == 4 * r.block_bytes);
    CHECK(t.offset % 32 == 0);
    const auto view = f.tensor(t.name);
    CHECK(view.nbytes() == 4 * r.block_bytes);
    CHECK(view.name() == t.name);
    CHECK(std::memcmp(view.data(), data[k].data(), data[k].size()) == 0);
  }
  // a K-quant is readable raw but has no typed view
  CHECK_THROWS_AS(f.tensor_as<arx::block_q8_0>("t12"), arx::unsupported_error);
}

TEST_CASE("gguf reader: general.alignment 64 places the data section and tensors on 64",
          "[io][gguf]") {
  gguf::writer w(64);
  arx::tensor<float> x({3});  // 12 bytes: the next tensor must skip to the next multiple of 64
  w.add_tensor("x", x);
  w.add_tensor("y", x);
  const auto f = read(w.to_bytes());
  CHECK(f.alignment() == 64);
  CHECK(f.get<std::uint32_t>("general.alignment") == 64);
  CHECK(f.data_offset() % 64 == 0);
  CHECK(f.tensors()[0].offset == f.data_offset());
  CHECK(f.tensors()[1].offset == f.data_offset() + 64);
}

TEST_CASE("gguf reader: version 2 files are read like version 3", "[io][gguf]") {
  auto sf = make_small_file();
  gguf_test::patch(sf.bytes, sf.version, std::uint32_t(2));
  const auto f = read(sf.bytes);
  CHECK(f.version() == 2);
  CHECK(f.tensor_as<float>("a")(1, 3) == 7.0f);
}

TEST_CASE("gguf reader: open() maps a file from disk, io_error when it cannot", "[io][gguf]") {
  const auto sf = make_small_file();
  const auto path = std::filesystem::temp_directory_path() /
                    ("arx-test-gguf-reader-" + std::to_string(::getpid()) + ".gguf");
  {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(sf.bytes.data()), std::streamsize(sf.bytes.size()));
  }
  {
    const auto f = gguf::open(path.string());
    CHECK(f.path() == path.string());
    CHECK(f.get<std::string_view>("general.architecture") == "test");
    CHECK(f.tensor_as<float>("a")(1, 2) == 6.0f);
    CHECK(reinterpret_cast<std::uintptr_t>(f.tensor("b").data()) % 32 == 0);
  }
  std::filesystem::remove(path);
  CHECK_THROWS_AS(gguf::open(path.string()), arx::io_error);
  CHECK_THROWS_AS(gguf::open(std::filesystem::temp_directory_path().string()), arx::io_error);
}

TEST_CASE("gguf reader: open() refuses a FIFO and a directory at once, without blocking",
          "[io][gguf]") {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("arx-test-gguf-fifo-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto fifo = dir / "pipe.gguf";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  // A read-only open of a FIFO with no writer blocks forever unless O_NONBLOCK is used; a
  // regression shows as this test timing out.
  CHECK_THROWS_AS(gguf::open(fifo.string()), arx::io_error);
  CHECK_THROWS_WITH(gguf::open(fifo.string()), Contains("not a regular file"));
  CHECK_THROWS_AS(gguf::open(dir.string()), arx::io_error);
  CHECK_THROWS_WITH(gguf::open(dir.string()), Contains(dir.string()));
  std::filesystem::remove_all(dir);
}

TEST_CASE("gguf reader: a moved file keeps every view valid and leaves the source empty",
          "[io][gguf]") {
  auto f = read(make_small_file().bytes);
  const auto arch = f.get<std::string_view>("general.architecture");
  const auto names = f.get_array<std::string_view>("test.names");
  const auto a = f.tensor_as<float>("a");
  gguf::file g = std::move(f);
  CHECK(arch == "test");
  CHECK(names[1] == "yz");
  CHECK(a(1, 2) == 6.0f);
  CHECK(g.get<std::string_view>("general.architecture") == "test");
  CHECK(g.tensor_as<float>("a").data() == a.data());
  CHECK(f.metadata().empty());  // NOLINT: moved-from is empty by contract
  CHECK(f.tensors().empty());
  CHECK(f.size() == 0);
  CHECK_FALSE(f.contains("general.architecture"));
}

TEST_CASE("gguf reader: values print as text for dumps, arrays abbreviated", "[io][gguf]") {
  gguf::writer w;
  std::vector<std::int32_t> many(20);
  for (int i = 0; i < 20; ++i) many[std::size_t(i)] = i;
  w.set_array("many", many);
  w.set_array("strs", {"x", "yz"});
  w.set("quote", "a\"b\n\x01");
  w.set("f32", 1.5f);
  w.set("neg", std::int16_t(-3));
  w.set("flag", false);
  w.set_array("none", std::vector<std::uint8_t>{});
  const auto f = read(w.to_bytes());
  CHECK(f.at("many").to_string(3) == "[0, 1, 2, ... (20 total)]");
  CHECK(f.at("many").to_string(std::size_t(-1)).size() > 50);
  CHECK(f.at("strs").to_string() == "[\"x\", \"yz\"]");
  CHECK(f.at("quote").to_string() == "\"a\\\"b\\n\\x01\"");
  CHECK(f.at("f32").to_string() == "1.5");
  CHECK(f.at("neg").to_string() == "-3");
  CHECK(f.at("flag").to_string() == "false");
  CHECK(f.at("none").to_string() == "[]");
}

TEST_CASE("gguf reader: escape() makes names from a file safe to print", "[io][gguf]") {
  CHECK(gguf::escape("blk.0.attn_q.weight") == "blk.0.attn_q.weight");
  CHECK(gguf::escape("a\x1b[31mb\n\x7f\xff\\\"") == "a\\x1b[31mb\\n\\x7f\\xff\\\\\\\"");
  CHECK(gguf::escape(std::string_view("\0z", 2)) == "\\x00z");
  CHECK(gguf::escape("abcdef", 3) == "abc...");
}
