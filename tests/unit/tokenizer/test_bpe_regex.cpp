// The hand-written pre-tokenizers against a regex engine: for the families whose patterns
// llama.cpp runs through std::regex (deepseek-llm, deepseek-coder) and for the gpt2 and llama3
// patterns, the words of thousands of random texts must equal what std::wregex cuts with the
// families' own regular expressions, applied the way llama.cpp applies a list of them (each
// pattern splits every piece of the one before into its matches and the gaps between them).
//
// The regex side sees the text as llama.cpp's fallback does: non-ASCII white space becomes
// U+000B (std::wregex's \s knows only ASCII); for patterns that name \p{L}, \p{N} or \p{P}, every
// non-ASCII code point becomes one stand-in per class (0xD1 number, 0xD2 letter, 0xD3
// punctuation, 0xD0 anything else) and \p{X} becomes a bracket of that stand-in and X's ASCII
// members. The classes come from unicode_tables.hpp (Python's unicodedata); the splitting logic
// is the regex engine's, independent of bpe.hpp's matchers.
#include <catch2/catch.hpp>

#include <arx/io/gguf.hpp>
#include <arx/io/gguf_writer.hpp>
#include <arx/tokenizer/bpe.hpp>
#include <arx/tokenizer/unicode.hpp>

#include "reference/json.hpp"  // (its UTF-8 encoder)

#include <cstdint>
#include <random>
#include <regex>
#include <string>
#include <utility>
#include <vector>

namespace {

struct pattern {
  std::wstring re;
  bool collapsed;  // names a \p{...} class: matched on the class stand-ins
};

// \p{N}, \p{L}, \p{P} as llama.cpp's fallback rewrites them (stand-in, then ASCII members)
#define ARX_N L"\\xD1\\x30-\\x39"
#define ARX_L L"\\xD2\\x41-\\x5A\\x61-\\x7A"
#define ARX_P \
  L"\\xD3\\x21-\\x23\\x25-\\x2A\\x2C-\\x2F\\x3A-\\x3B\\x3F-\\x40\\x5B-\\x5D\\x5F\\x7B\\x7D"

std::vector<pattern> patterns_of(const std::string& pre) {
  const std::wstring cjk = L"[\u4e00-\u9fa5\u0800-\u4e00\uac00-\ud7ff]+";
  if (pre == "deepseek-llm")
    return {
        {L"[\r\n]", false},
        {L"\\s?[A-Za-z\u00b5\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u01ba\u01bc-\u01bf\u01c4-\u0293"
         L"\u0295-\u02af\u0370-\u0373\u0376\u0377\u037b-\u037d\u037f\u0386\u0388-\u038a\u038c"
         L"\u038e-\u03a1\u03a3-\u03f5\u03f7-\u0481\u048a-\u052f\u0531-\u0556\u10a0-\u10c5"
         L"\u13a0-\u13f5\u13f8-\u13fd\u1c90-\u1cba\u1cbd-\u1cbf\u1d00-\u1d2b\u1d6b-\u1d77"
         L"\u1d79-\u1d9a\u1e00-\u1f15\u1f18-\u1f1d\u1f20-\u1f45\u1f48-\u1f4d\u1f50-\u1f57\u1f59"
         L"\u1f5b\u1f5d\u1f5f-\u1f7d\u1f80-\u1fb4\u1fb6-\u1fbc\u1fbe\u1fc2-\u1fc4\u1fc6-\u1fcc"
         L"\u1fd0-\u1fd3\u1fd6-\u1fdb\u1fe0-\u1fec\u1ff2-\u1ff4\u1ff6-\u1ffc\u2102\u2107"
         L"\u210a-\u2113\u2115\u2119-\u211d\u2124\u2126\u2128\u212a-\u212d\u212f-\u2134\u2139"
         L"\u213c-\u213f\u2145-\u2149\u214e\u2183\u2184\u2c00-\u2c7b\u2c7e-\u2ce4\u2ceb-\u2cee"
         L"\u2cf2\u2cf3\ua640-\ua66d\ua680-\ua69b\ua722-\ua76f\ua771-\ua787\ua78b-\ua78e"
         L"\uab70-\uabbf\ufb00-\ufb06\ufb13-\ufb17\uff21-\uff3a\uff41-\uff5a\U00010400-\U0001044f"
         L"\U000104b0-\U000104d3\U000104d8-\U000104fb\U00010c80-\U00010cb2\U00010cc0-\U00010cf2"
         L"\U000118a0-\U000118df\U0001e900-\U0001e943]+",
         false},
        {L"\\s?[!-/:-~\uff01-\uff0f\uff1a-\uff5e\u2018-\u201f\u3000-\u3002]+", false},
        {L"\\s+$", false},
        {cjk, false},
        {L"[" ARX_N L"]+", true},
    };
  if (pre == "deepseek-coder")
    return {{L"[\r\n]", false},
            {L"\\s?[" ARX_L L"]+", true},
            {L"\\s?[" ARX_P L"]+", true},
            {cjk, false},
            {L"[" ARX_N L"]", true}};
  if (pre == "gpt-2")
    return {{L"'s|'t|'re|'ve|'m|'ll|'d| ?[" ARX_L L"]+| ?[" ARX_N L"]+| ?[^\\s" ARX_L ARX_N
             L"]+|\\s+(?!\\S)|\\s+",
             true}};
  // llama-bpe
  return {{L"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n" ARX_L ARX_N
           L"]?[" ARX_L L"]+|[" ARX_N L"]{1,3}| ?[^\\s" ARX_L ARX_N L"]+[\\r\\n]*|\\s*[\\r\\n]+|"
           L"\\s+(?!\\S)|\\s+",
           true}};
}
#undef ARX_N
#undef ARX_L
#undef ARX_P

/// The words of `text` by the patterns, as [begin, end) code point ranges.
std::vector<std::pair<std::size_t, std::size_t>> regex_split(const std::u32string& text,
                                                             const std::vector<pattern>& pats) {
  std::wstring plain, collapsed;
  for (const char32_t c : text) {
    const bool ws = c > 0x7f && arx::unicode::is_space(c);
    plain += wchar_t(ws ? 0x0b : c);
    wchar_t k = wchar_t(c);
    if (c > 0x7f)
      k = ws                            ? 0x0b
          : arx::unicode::is_number(c)  ? 0xd1
          : arx::unicode::is_letter(c)  ? 0xd2
          : arx::unicode::is_punct(c)   ? 0xd3
                                        : 0xd0;
    collapsed += k;
  }
  std::vector<std::pair<std::size_t, std::size_t>> pieces{{0, text.size()}};
  for (const pattern& p : pats) {
    const std::wregex re(p.re);
    const std::wstring& t = p.collapsed ? collapsed : plain;
    std::vector<std::pair<std::size_t, std::size_t>> next;
    for (const auto& [b, e] : pieces) {
      std::size_t done = b;
      for (std::wsregex_iterator it(t.begin() + std::ptrdiff_t(b), t.begin() + std::ptrdiff_t(e),
                                    re),
           end;
           it != end; ++it) {
        const std::size_t at = b + std::size_t(it->position()), len = std::size_t(it->length());
        if (at > done) next.emplace_back(done, at);
        next.emplace_back(at, at + len);
        done = at + len;
      }
      if (done < e) next.emplace_back(done, e);
    }
    pieces = std::move(next);
  }
  return pieces;
}

std::string utf8(const std::u32string& s, std::size_t b, std::size_t e) {
  std::string out;
  for (std::size_t i = b; i < e; ++i) arx_test::json_parser::put_utf8(out, std::uint32_t(s[i]));
  return out;
}

arx::bpe_tokenizer tokenizer_with(const std::string& pre) {
  std::vector<std::string> tokens;  // the 256 characters of the byte alphabet
  for (int b = 0, k = 0; b < 256; ++b) {
    const bool keep = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
    tokens.push_back(utf8(std::u32string(1, keep ? char32_t(b) : char32_t(256 + k++)), 0, 1));
  }
  arx::gguf::writer w;
  w.set("tokenizer.ggml.model", "gpt2");
  w.set("tokenizer.ggml.pre", std::string_view(pre));
  w.set_array("tokenizer.ggml.tokens", tokens);
  w.set_array("tokenizer.ggml.token_type", std::vector<std::int32_t>(tokens.size(), 1));
  w.set_array("tokenizer.ggml.merges", std::vector<std::string>{});
  return arx::bpe_tokenizer::from_gguf(arx::gguf::file::from_bytes(w.to_bytes(), "regex.gguf"));
}

// Code points that sit on the patterns' edges: ASCII of each class, \r \n \t and non-ASCII white
// space, cased and uncased letters, letters outside deepseek-llm's list (Hebrew, Arabic, kana,
// Hangul), CJK, other-script and full-width digits, curly quotes, full-width and CJK
// punctuation, the Kelvin sign, an astral letter, an emoji, a combining accent.
const std::u32string alphabet =
    U"aZq  \t\n\r\n0795.,!=$'_(-sStTdlLrReEvVmM"
    U"\u00e9\u00b5\u03b1\u0416\u05d0\u0627\u0663\u0966\u00bd\u2460\u4e2d\u6587\u3042\uac00"
    U"\u3000\u2003\u00a0\u0085\u1680\u2028\u2019\u201c\u3001\uff01\uff21\uff10\u212a\u0301"
    U"\U00010400\U0001f600\u01bb\u02b0";

}  // namespace

TEST_CASE("bpe pre-tokenizers cut random text as std::wregex does with their patterns",
          "[tokenizer][bpe]") {
  for (const std::string pre : {"deepseek-llm", "deepseek-coder", "gpt-2", "llama-bpe"}) {
    const auto tok = tokenizer_with(pre);
    const auto pats = patterns_of(pre);
    std::mt19937 rng(7);
    std::uniform_int_distribution<std::size_t> len(1, 24), pick(0, alphabet.size() - 1);
    int checked = 0;
    for (int n = 0; n < 3000; ++n) {
      std::u32string text;
      for (std::size_t k = len(rng); k > 0; --k) text += alphabet[pick(rng)];
      std::vector<std::string> want;
      for (const auto& [b, e] : regex_split(text, pats)) want.push_back(utf8(text, b, e));
      const auto got = tok.pre_tokenize(utf8(text, 0, text.size()));
      INFO(pre << ": text " << utf8(text, 0, text.size()));
      REQUIRE(got == want);
      ++checked;
    }
    CHECK(checked == 3000);
  }
}

TEST_CASE("deepseek-llm pre-tokenizer on hand-made text", "[tokenizer][bpe]") {
  using words = std::vector<std::string>;
  const auto tok = tokenizer_with("deepseek-llm");
  // letters with one leading \s; ASCII symbols and punctuation together; digits as one run
  CHECK(tok.pre_tokenize("Hello, world! x=12345") ==
        words{"Hello", ",", " world", "!", " x", "=", "12345"});
  // CJK is not in the letter set: its own run; trailing spaces of a piece split off
  CHECK(tok.pre_tokenize("中文 abc  ") == words{"中文", " abc", "  "});
  // Hebrew letters are no cased letters: they stay in the gap piece
  CHECK(tok.pre_tokenize("\xd7\x90\xd7\x91 a\n") == words{"\xd7\x90\xd7\x91", " a", "\n"});
}
