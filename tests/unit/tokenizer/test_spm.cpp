// spm_tokenizer, vocab and detokenizer on tiny hand-made vocabularies written in memory.
#include <catch2/catch.hpp>

#include <arx/io/gguf.hpp>
#include <arx/io/gguf_writer.hpp>
#include <arx/tokenizer/spm.hpp>

#include <cstdint>
#include <algorithm>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace gguf = arx::gguf;

namespace {

struct entry {
  std::string text;
  float score;
  std::int32_t type;
};

// A vocab: 0 <unk>, 1 <s>, 2 </s>, then (optionally) the 256 byte tokens <0x00>..<0xFF>, then
// `extra`. `tweak` may change the metadata before the file is built.
gguf::file make_file(const std::vector<entry>& extra, bool bytes = true, bool space_prefix = false,
                     const std::function<void(gguf::writer&)>& tweak = {}) {
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
  std::vector<float> scores = {0, 0, 0};
  std::vector<std::int32_t> types = {2, 3, 3};
  if (bytes) {
    static constexpr char hex[] = "0123456789ABCDEF";
    for (int b = 0; b < 256; ++b) {
      tokens.push_back(std::string("<0x") + hex[b >> 4] + hex[b & 15] + ">");
      scores.push_back(0);
      types.push_back(6);
    }
  }
  for (const auto& e : extra) {
    tokens.push_back(e.text);
    scores.push_back(e.score);
    types.push_back(e.type);
  }
  gguf::writer w;
  w.set("tokenizer.ggml.model", "llama");
  w.set_array("tokenizer.ggml.tokens", tokens);
  w.set_array("tokenizer.ggml.scores", scores);
  w.set_array("tokenizer.ggml.token_type", types);
  w.set("tokenizer.ggml.unknown_token_id", std::uint32_t(0));
  w.set("tokenizer.ggml.bos_token_id", std::uint32_t(1));
  w.set("tokenizer.ggml.eos_token_id", std::uint32_t(2));
  w.set("tokenizer.ggml.add_bos_token", true);
  w.set("tokenizer.ggml.add_space_prefix", space_prefix);
  if (tweak) tweak(w);
  return gguf::file::from_bytes(w.to_bytes(), "vocab.gguf");
}

arx::spm_tokenizer make(const std::vector<entry>& extra, bool bytes = true,
                        bool space_prefix = false) {
  return arx::spm_tokenizer::from_gguf(make_file(extra, bytes, space_prefix));
}

// The texts of `ids`, for readable comparisons.
std::vector<std::string> texts(const arx::spm_tokenizer& t, const std::vector<std::int32_t>& ids) {
  std::vector<std::string> out;
  for (auto id : ids) out.push_back(t.vocab().text(id));
  return out;
}

using strings = std::vector<std::string>;
const std::string sp = "\xe2\x96\x81";  // ▁

}  // namespace

TEST_CASE("vocab reads tokens, types and special ids", "[tokenizer][vocab]") {
  const auto t = make({{"a", -1, 1}, {"b", -2, 1}, {"ab", -0.5f, 1}});
  const auto& v = t.vocab();
  CHECK(v.size() == 3 + 256 + 3);
  CHECK(v.model() == "llama");
  CHECK(v.bos() == 1);
  CHECK(v.eos() == 2);
  CHECK(v.unk() == 0);
  CHECK(v.pad() == -1);
  CHECK(v.add_bos());
  CHECK_FALSE(v.add_eos());
  CHECK_FALSE(v.add_space_prefix());
  CHECK(v.find("ab") == 3 + 256 + 2);
  CHECK_FALSE(v.find("zz").has_value());
  CHECK(v.byte_token(0x41) == 3 + 0x41);
  CHECK(v.token_byte(3 + 0xC3) == std::uint8_t(0xC3));
  CHECK_FALSE(v.token_byte(1).has_value());
  CHECK(v.type(1) == arx::token_type::control);
  CHECK(v.score(3 + 256 + 2) == -0.5f);
}

TEST_CASE("spm merges the pair with the highest score first", "[tokenizer][spm]") {
  // "abc": "ab" and "bc" compete for the b.
  {
    const auto t = make({{"a", 0, 1}, {"b", 0, 1}, {"c", 0, 1}, {"ab", 1, 1}, {"bc", 2, 1}});
    CHECK(texts(t, t.encode("abc", false)) == strings{"a", "bc"});
  }
  {
    const auto t = make({{"a", 0, 1}, {"b", 0, 1}, {"c", 0, 1}, {"ab", 3, 1}, {"bc", 2, 1}});
    CHECK(texts(t, t.encode("abc", false)) == strings{"ab", "c"});
  }
  // Merges chain: "ab" first, then "ab"+"c" is a token even though its score is lower.
  {
    const auto t = make({{"a", 0, 1}, {"b", 0, 1}, {"c", 0, 1}, {"ab", 5, 1}, {"abc", -3, 1}});
    CHECK(texts(t, t.encode("abc", false)) == strings{"abc"});
    CHECK(texts(t, t.encode("abcab", false)) == strings{"abc", "ab"});
  }
  // A token reachable only through a non-token intermediate is never formed.
  {
    const auto t = make({{"a", 0, 1}, {"b", 0, 1}, {"c", 0, 1}, {"abc", 9, 1}});
    CHECK(texts(t, t.encode("abc", false)) == strings{"a", "b", "c"});
  }
}

TEST_CASE("spm breaks score ties by the leftmost pair", "[tokenizer][spm]") {
  const auto t = make({{"a", 0, 1}, {"b", 0, 1}, {"c", 0, 1}, {"ab", 1, 1}, {"bc", 1, 1}});
  CHECK(texts(t, t.encode("abc", false)) == strings{"ab", "c"});
  // "aaaa" with "aa": the leftmost pairs merge first, giving two "aa", then "aaaa" is absent.
  const auto u = make({{"a", 0, 1}, {"aa", 1, 1}});
  CHECK(texts(u, u.encode("aaa", false)) == strings{"aa", "a"});
  CHECK(texts(u, u.encode("aaaa", false)) == strings{"aa", "aa"});
}

TEST_CASE("spm replaces spaces and adds the space prefix", "[tokenizer][spm]") {
  const auto t = make({{sp, 0, 1}, {"a", 0, 1}, {sp + "a", 1, 1}, {"b", 0, 1}}, true, true);
  CHECK(texts(t, t.encode("a a", false)) == strings{sp + "a", sp + "a"});
  CHECK(texts(t, t.encode("a  b", false)) == strings{sp + "a", sp, sp, "b"});
  CHECK(t.encode("", false).empty());
  CHECK(t.encode("", true) == std::vector<std::int32_t>{1});
  CHECK(t.encode("a", true) == std::vector<std::int32_t>{1, *t.vocab().find(sp + "a")});
  const auto u = make({{sp, 0, 1}, {"a", 0, 1}, {sp + "a", 1, 1}}, true, false);
  CHECK(texts(u, u.encode("a a", false)) == strings{"a", sp + "a"});
}

TEST_CASE("spm falls back to byte tokens, then to the unknown token", "[tokenizer][spm]") {
  const auto t = make({{"a", 0, 1}});
  // é = C3 A9, not in the vocab.
  CHECK(t.encode("a\xc3\xa9", false) == std::vector<std::int32_t>{3 + 256, 3 + 0xC3, 3 + 0xA9});
  const auto u = make({{"a", 0, 1}}, false);
  CHECK(u.encode("a\xc3\xa9z", false) == std::vector<std::int32_t>{3, 0, 0, 0});
}

TEST_CASE("spm decode follows the piece rules of llama.cpp", "[tokenizer][spm]") {
  const auto t = make({{sp, 0, 1}, {"a", 0, 1}, {sp + "a", 1, 1}, {"<x>", 0, 4}, {"unused", 0, 5}},
                      true, true);
  const auto a = *t.vocab().find(sp + "a");
  const auto user = *t.vocab().find("<x>");
  const auto unused = *t.vocab().find("unused");
  CHECK(t.piece(a) == " a");
  CHECK(t.piece(1).empty());
  CHECK(t.piece(1, true) == "<s>");
  CHECK(t.piece(0).empty());
  CHECK(t.piece(0, true) == "<unk>");
  CHECK(t.piece(user) == "<x>");
  CHECK(t.piece(unused).empty());
  CHECK(t.piece(3 + 0x41) == "A");
  // One leading space is stripped from the first token only; a BOS in front consumes the strip.
  CHECK(t.decode({a, a}) == "a a");
  CHECK(t.decode({1, a, a}) == " a a");
  CHECK(t.decode({1, a, 2}, true) == "<s> a</s>");
  CHECK(t.decode({3 + 0x20, a}) == " a");  // a byte token's space is stripped too
  CHECK(t.decode({3 + 0xF0, 3 + 0x9F, 3 + 0x98, 3 + 0x80}) == "\xf0\x9f\x98\x80");
  CHECK(t.decode(t.encode("a a", false)) == "a a");
  CHECK(t.decode(std::vector<std::int32_t>{}).empty());
  // Without add_space_prefix nothing is stripped.
  const auto u = make({{sp + "a", 1, 1}});
  CHECK(u.decode({*u.vocab().find(sp + "a")}) == " a");
}

TEST_CASE("detokenizer emits only complete UTF-8", "[tokenizer][spm]") {
  const auto t = make({{sp + "a", 1, 1}, {"b", 0, 1}}, true, true);
  arx::detokenizer d(t);
  // 😀 = F0 9F 98 80 as four byte tokens.
  CHECK(d.push(*t.vocab().find(sp + "a")) == "a");
  CHECK(d.push(3 + 0xF0).empty());
  CHECK(d.pending() == 1);
  CHECK(d.push(3 + 0x9F).empty());
  CHECK(d.push(3 + 0x98).empty());
  CHECK(d.push(3 + 0x80) == "\xf0\x9f\x98\x80");
  CHECK(d.pending() == 0);
  // A lone continuation byte and a broken sequence become U+FFFD, never raw bytes.
  CHECK(d.push(3 + 0x80) == "\xef\xbf\xbd");
  CHECK(d.push(3 + 0xE2).empty());
  CHECK(d.push(*t.vocab().find("b")) == "\xef\xbf\xbd" "b");
  // A character cut off at the end comes out as U+FFFD on flush.
  CHECK(d.push(3 + 0xC3).empty());
  CHECK(d.flush() == "\xef\xbf\xbd");
  // flush restarts the stream: the first token's space is stripped again.
  CHECK(d.push(*t.vocab().find(sp + "a")) == "a");
  CHECK(d.push(*t.vocab().find(sp + "a")) == " a");
  CHECK_THROWS_AS(d.push(100000), arx::invalid_argument);
}

TEST_CASE("spm errors are typed and name the culprit", "[tokenizer][spm]") {
  const auto t = make({{"a", 0, 1}});
  const auto n = std::int32_t(t.vocab().size());
  CHECK_THROWS_AS(t.piece(n), arx::invalid_argument);
  CHECK_THROWS_WITH(t.piece(n), Catch::Contains(std::to_string(n)));
  CHECK_THROWS_AS(t.piece(-1), arx::invalid_argument);
  CHECK_THROWS_AS(t.decode({0, 99999}), arx::invalid_argument);
  CHECK_THROWS_AS(t.encode("a\x80", false), arx::invalid_argument);
  CHECK_THROWS_WITH(t.encode("aa\xc3", false), Catch::Contains("byte 2"));
  CHECK_THROWS_WITH(t.encode("\xed\xa0\x80", false), Catch::Contains("byte 0"));  // surrogate
  CHECK_THROWS_AS(t.encode("\xc0\xaf", false), arx::invalid_argument);            // overlong
}

TEST_CASE("vocab rejects inconsistent metadata", "[tokenizer][vocab]") {
  using W = gguf::writer;
  auto build = [](std::function<void(W&)> tweak, bool bytes = true) {
    return arx::vocab::from_gguf(make_file({{"a", 0, 1}}, bytes, false, std::move(tweak)));
  };
  CHECK_NOTHROW(build({}));
  CHECK_THROWS_AS(build([](W& w) { w.set_array("tokenizer.ggml.scores", {1.0f, 2.0f}); }),
                  arx::format_error);
  CHECK_THROWS_WITH(build([](W& w) { w.set_array("tokenizer.ggml.scores", {1.0f}); }),
                    Catch::Contains("tokenizer.ggml.scores"));
  CHECK_THROWS_WITH(build([](W& w) { w.set_array("tokenizer.ggml.token_type", {1, 1}); }),
                    Catch::Contains("tokenizer.ggml.token_type"));
  CHECK_THROWS_AS(build([](W& w) { w.set("tokenizer.ggml.bos_token_id", std::uint32_t(5000)); }),
                  arx::format_error);
  CHECK_THROWS_WITH(build([](W& w) { w.set("tokenizer.ggml.eos_token_id", std::uint32_t(5000)); }),
                    Catch::Contains("tokenizer.ggml.eos_token_id"));
  CHECK_THROWS_AS(build([](W& w) { w.set("tokenizer.ggml.bos_token_id", "1"); }), arx::key_error);
  CHECK_THROWS_AS(build([](W& w) { w.set_array("tokenizer.ggml.scores", {1, 2}); }),
                  arx::key_error);  // i32 scores
  CHECK_THROWS_AS(build([](W& w) { w.set_array("tokenizer.ggml.tokens", {"a", "", "b"}); }),
                  arx::format_error);
  CHECK_THROWS_AS(build([](W& w) {
                    w.set_array("tokenizer.ggml.tokens", {"a", "\xff", "b"});
                    w.set_array("tokenizer.ggml.scores", {0.f, 0.f, 0.f});
                    w.set_array("tokenizer.ggml.token_type", {1, 1, 1});
                  }),
                  arx::format_error);
  CHECK_THROWS_AS(build([](W& w) {
                    w.set_array("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "zz"});
                    w.set_array("tokenizer.ggml.scores", {0.f, 0.f, 0.f, 0.f});
                    w.set_array("tokenizer.ggml.token_type", {2, 3, 3, 6});  // byte token "zz"
                  }, false),
                  arx::format_error);
  CHECK_THROWS_AS(build([](W& w) {
                    w.set_array("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "zz"});
                    w.set_array("tokenizer.ggml.scores", {0.f, 0.f, 0.f, 0.f});
                    w.set_array("tokenizer.ggml.token_type", {2, 3, 3, 9});  // no such type
                  }, false),
                  arx::format_error);

  // add_bos_token true without a BOS id is broken; absent, the model's default yields.
  CHECK_THROWS_AS(build([](W& w) { w.set("tokenizer.ggml.bos_token_id", std::int32_t(-1)); }),
                  arx::format_error);
  {
    gguf::writer w;
    w.set_array("tokenizer.ggml.tokens", {"a", "b"});
    const auto v = arx::vocab::from_gguf(gguf::file::from_bytes(w.to_bytes()));
    CHECK(v.model() == "llama");
    CHECK_FALSE(v.add_bos());
    CHECK(v.add_space_prefix());
    CHECK(v.byte_token(0x61) == 0);  // a vocab spelling the byte as itself
    CHECK(v.byte_token(0x63) == -1);
  }

  gguf::writer empty;
  empty.set("tokenizer.ggml.model", "llama");
  CHECK_THROWS_AS(arx::vocab::from_gguf(gguf::file::from_bytes(empty.to_bytes())), arx::key_error);
  CHECK_THROWS_AS(arx::spm_tokenizer::from_gguf(make_file({}, true, false, [](W& w) {
                    w.set("tokenizer.ggml.model", "gpt2");
                  })),
                  arx::unsupported_error);
}

TEST_CASE("spm cuts user-defined tokens out of the text", "[tokenizer][spm]") {
  // Like llama.cpp: user-defined tokens match even without special-token parsing, longer first,
  // and the text after one gets the space prefix again; control tokens stay plain text.
  const auto t = make({{sp, 0, 1}, {"a", 0, 1}, {sp + "a", 1, 1}, {"<x>", 0, 4}, {"<xx>", 0, 4}},
                      true, true);
  const auto x = *t.vocab().find("<x>");
  const auto xx = *t.vocab().find("<xx>");
  const auto a = *t.vocab().find(sp + "a");
  CHECK(t.encode("a<x>a", false) == std::vector<std::int32_t>{a, x, a});
  CHECK(t.encode("<xx><x>", false) == std::vector<std::int32_t>{xx, x});
  CHECK(t.encode("<x>", true) == std::vector<std::int32_t>{1, x});
  CHECK(t.decode({a, x, a}) == "a<x> a");
  // "<s>" is a control token: spelled out in text it is bytes, not BOS.
  const auto ids = t.encode("<s>", false);
  CHECK(std::find(ids.begin(), ids.end(), 1) == ids.end());
}
