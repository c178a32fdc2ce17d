// The byte-level BPE tokenizer on hand-made inputs: the word splits of each pre-tokenizer family
// (expected pieces worked out by hand from the families' regular expressions, file comment of
// bpe.hpp), merge order by rank on a synthetic vocabulary, the byte alphabet round trip, and the
// typed errors. The reference tests run llama.cpp's gpt-2 suite and the BPE golden models.
#include <catch2/catch.hpp>

#include "throws.hpp"

#include <arx/io/gguf.hpp>
#include <arx/io/gguf_writer.hpp>
#include <arx/tokenizer/bpe.hpp>
#include <arx/tokenizer/tokenizer.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace {

using words = std::vector<std::string>;

/// A "gpt2" vocabulary: the 256 characters of the byte alphabet (ids 0-255 in byte order), then
/// `extra` tokens (the last one a control token when it starts with '<'); merges as given.
arx::gguf::file bpe_file(const std::vector<std::string>& extra,
                         const std::vector<std::string>& merges, const std::string& pre = "gpt-2") {
  std::vector<std::string> tokens;
  for (int b = 0, k = 0; b < 256; ++b) {
    const bool keep = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
    const char32_t cp = keep ? char32_t(b) : char32_t(256 + k++);
    std::string s;
    if (cp < 0x80) {
      s += char(cp);
    } else {
      s += char(0xc0 | (cp >> 6));
      s += char(0x80 | (cp & 0x3f));
    }
    tokens.push_back(s);
  }
  tokens.insert(tokens.end(), extra.begin(), extra.end());
  std::vector<std::int32_t> types(tokens.size(), 1);
  if (!extra.empty() && extra.back().front() == '<') types.back() = 3;  // a control token last
  arx::gguf::writer w;
  w.set("tokenizer.ggml.model", "gpt2");
  w.set("tokenizer.ggml.pre", std::string_view(pre));
  w.set_array("tokenizer.ggml.tokens", tokens);
  w.set_array("tokenizer.ggml.token_type", types);
  w.set_array("tokenizer.ggml.merges", merges);
  return arx::gguf::file::from_bytes(w.to_bytes(), "bpe-test.gguf");
}

std::vector<std::string> split(std::string_view pre, std::string_view text) {
  return arx::bpe_tokenizer::from_gguf(bpe_file({}, {}, std::string(pre))).pre_tokenize(text);
}

}  // namespace

TEST_CASE("bpe pre-tokenizers split words as their patterns say", "[tokenizer][bpe]") {
  CHECK(split("gpt-2", "Hello world") == words{"Hello", " world"});
  CHECK(split("gpt-2", "  Hello") == words{" ", " Hello"});
  CHECK(split("gpt-2", "I've 123abc!!") == words{"I", "'ve", " 123", "abc", "!!"});
  CHECK(split("gpt-2", "a \n b") == words{"a", " \n", " b"});
  CHECK(split("gpt-2", "I'M") == words{"I", "'", "M"});  // case-sensitive contractions
  CHECK(split("gpt-2", "x  ") == words{"x", "  "});      // trailing spaces stay together
  CHECK(split("gpt-2", "Führer über") == words{"Führer", " über"});
  CHECK(split("gpt-2", "٣٤ x") == words{"٣٤", " x"});  // Arabic-Indic digits are \p{N}

  const words l3{"Hello", " ", "123", "456", "7", " world", "'s", "\n\n", " ", " x"};
  CHECK(split("llama-bpe", "Hello 1234567 world's\n\n  x") == l3);
  CHECK(split("llama-bpe", "I'M") == words{"I", "'M"});  // case-insensitive
  CHECK(split("llama-bpe", "(hi) ...\r\nok") == words{"(hi", ")", " ...\r\n", "ok"});
  CHECK(split("qwen2", "x 2024") == words{"x", " ", "2", "0", "2", "4"});
  CHECK(split("starcoder", "ab12 c") == words{"ab", "1", "2", " c"});
  CHECK(split("starcoder", "v2.0") == words{"v", "2", ".", "0"});
  // default: [\p{P}$+<=>^~|]+ first, then gpt2, \p{N}+, [0-9]{3} within each piece
  CHECK(split("default", "a+=b 12345!") == words{"a", "+=", "b", " ", "123", "45", "!"});
  CHECK(split("default", "x, y") == words{"x", ",", " y"});
  // falcon: the same punctuation class with `, then gpt2, then [0-9]{3} (no \p{N}+ step)
  CHECK(split("falcon", "`a` 12345") == words{"`", "a", "`", " ", "123", "45"});
  // deepseek-coder: [\r\n], \s?\p{L}+ (CJK ideographs are letters too: "\t中文" first), \s?\p{P}+
  // ('=' is a math symbol, not \p{P}), CJK runs (which split "\t中文" again), \p{N}
  CHECK(split("deepseek-coder", "int x=42;\n\t中文") ==
        words{"int", " x", "=", "4", "2", ";", "\n", "\t", "中文"});
  CHECK(split("deepseek-coder", "2x ..a") == words{"2", "x", " ..", "a"});
}

TEST_CASE("bpe merges the lowest-ranked pair first", "[tokenizer][bpe]") {
  // ids: byte characters 0-255 (byte order), then 256 "ab", 257 "bc", 258 "abc", 259 the control
  const std::vector<std::string> extra{"ab", "bc", "abc", "<|end|>"};
  {
    const auto t = arx::bpe_tokenizer::from_gguf(bpe_file(extra, {"a b", "ab c", "b c"}));
    CHECK(t.encode("abc", false) == std::vector<std::int32_t>{258});
    CHECK(t.encode("cab", false) == std::vector<std::int32_t>{'c', 256});
    CHECK(t.encode("abcabc", false) == std::vector<std::int32_t>{258, 258});
  }
  {  // "b c" ranked first: abc -> a + bc, and there is no "a bc" merge
    const auto t = arx::bpe_tokenizer::from_gguf(bpe_file(extra, {"b c", "a b", "ab c"}));
    CHECK(t.encode("abc", false) == std::vector<std::int32_t>{'a', 257});
    CHECK(t.encode("bab", false) == std::vector<std::int32_t>{'b', 256});
  }
  {  // bytes outside the printable range go through the byte alphabet and back
    const auto t = arx::bpe_tokenizer::from_gguf(bpe_file(extra, {"a b"}));
    const std::string text = "a\x01\xc3\xa9 \n";
    const auto ids = t.encode(text, false);
    // ids 0-255 are the byte characters in byte order: 'a', 0x01, the two bytes of "é", ' ', '\n'
    CHECK(ids == std::vector<std::int32_t>{'a', 1, 0xc3, 0xa9, ' ', '\n'});
    CHECK(t.decode(ids) == text);
    CHECK(t.encode("x<|end|>", false, true) == std::vector<std::int32_t>{'x', 259});
    CHECK(t.encode("x<|end|>", false).size() == 8);  // not parsed: its 7 characters
    CHECK(t.piece(259).empty());
    CHECK(t.piece(259, true) == "<|end|>");
  }
}

TEST_CASE("bpe tokenizer errors", "[tokenizer][bpe]") {
  const std::vector<std::string> extra{"ab"};
  REQUIRE_THROWS_TYPED(arx::bpe_tokenizer::from_gguf(bpe_file(extra, {"a b", "ab zz"})),
                       arx::format_error, Catch::Contains("merges entry 1"));
  REQUIRE_THROWS_TYPED(arx::bpe_tokenizer::from_gguf(bpe_file(extra, {"ab"})), arx::format_error,
                       Catch::Contains("not two symbols"));
  REQUIRE_THROWS_TYPED(arx::tokenizer::from_gguf(bpe_file(extra, {}, "deepseek-v3")),
                       arx::unsupported_error, Catch::Contains("'deepseek-v3'"));
  REQUIRE_THROWS_TYPED(arx::tokenizer::from_gguf(bpe_file(extra, {}, "")),
                       arx::unsupported_error, Catch::Contains("tokenizer.ggml.pre ''"));
  const auto t = arx::tokenizer::from_gguf(bpe_file(extra, {"a b"}));
  CHECK_THROWS_AS(t.encode("a\xff", false), arx::invalid_argument);
  CHECK_THROWS_AS(t.encode("a", true), arx::invalid_argument);  // no BOS in this vocab
  CHECK_THROWS_AS(t.piece(999), arx::invalid_argument);
}
