// arx/tokenizer/bpe.hpp — byte-level BPE (GPT-2 style, `tokenizer.ggml.model = "gpt2"`): GPT-2,
// Llama 3, Qwen2/2.5, StarCoder, Phi-2, SmolLM and other vocabularies, from GGUF metadata.
//
// Encoding, as llama.cpp does it:
//   1. special tokens are cut out of the text first: user-defined tokens always, control tokens
//      (<|endoftext|>, <|im_start|>, ...) only with parse_special; longer ones first;
//   2. the pre-tokenizer named by `tokenizer.ggml.pre` splits each remaining run into words
//      (hand-written matchers of the families' regular expressions, no std::regex):
//        gpt2       's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//        llama3     (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
//                   ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//        qwen2      llama3 with single digits (\p{N} instead of \p{N}{1,3})
//        starcoder  every digit alone (\p{N}), then gpt2 on the rest
//        default    runs of [\p{P}$+<=>^~|], then gpt2, then \p{N}+, then [0-9]{3}, each pattern
//                   splitting the pieces of the one before (matches and the gaps between them)
//        falcon     runs of [\p{P}$+<=>^~|`], then gpt2, then [0-9]{3}
//        deepseek-coder  [\r\n], \s?\p{L}+, \s?\p{P}+, runs of U+4E00-U+9FA5, U+0800-U+4E00
//                   and U+AC00-U+D7FF, then \p{N}
//        deepseek-llm    [\r\n], \s?[cased letters]+ (the list of ranges in its tokenizer: Latin,
//                   Greek, Cyrillic, Armenian, Georgian, Cherokee, ... but no CJK or Arabic),
//                   \s?[ASCII punctuation and symbols, their full-width forms, U+2018-U+201F,
//                   U+3001-U+3002]+, \s+$ (the trailing white space of each piece), the CJK runs
//                   of deepseek-coder, then \p{N}+
//                   As llama.cpp runs these with std::wregex on text whose non-ASCII white space
//                   became U+000B, no white space belongs to the letter, punctuation or CJK sets.
//   3. each word's bytes become the GPT-2 byte alphabet (printable bytes stand for themselves,
//      the others for U+0100 + k), and adjacent symbols are merged by `tokenizer.ggml.merges`
//      rank (lowest first, leftmost on ties) until no listed pair is left; llama3 first takes a
//      word that is a token as it is;
//   4. each final symbol is its token.
// Decoding maps each token's characters back to bytes; control tokens print only with `special`.
//
// Pre-tokenizer names (tokenizer.ggml.pre) and the family they select:
//   gpt2:      gpt-2, phi-2, gpt-neox, mpt, olmo, jais, roberta-bpe, gigachat, jina-es, jina-de,
//              jina-v1-en, jina-v2-es, jina-v2-de, jina-v2-code
//   llama3:    llama3, llama-v3, llama-bpe, falcon3, dbrx, smaug-bpe, chatglm-bpe
//   qwen2:     qwen2, deepseek-r1-qwen, stablelm2
//   starcoder: starcoder, refact, command-r, smollm, codeshell, exaone, minerva-7b
//   default, falcon, deepseek-coder, deepseek-llm: those names
// Any other name (or none) is an unsupported_error naming it: a wrong pre-tokenizer would give
// plausible but wrong ids. Merges naming a token the vocabulary lacks are a format_error.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <queue>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "arx/config.hpp"
#include "arx/core/error.hpp"
#include "arx/io/gguf.hpp"
#include "arx/tokenizer/unicode.hpp"
#include "arx/tokenizer/vocab.hpp"

ARX_NAMESPACE_BEGIN

/// The pre-tokenizer families arx implements (see the file comment for the names of each).
enum class bpe_pre {
  gpt2,
  llama3,
  qwen2,
  starcoder,
  default_,
  falcon,
  deepseek_coder,
  deepseek_llm
};

/// The family of a `tokenizer.ggml.pre` name, or nullopt when arx does not implement it.
inline std::optional<bpe_pre> bpe_pre_for(std::string_view name) {
  static constexpr std::pair<std::string_view, bpe_pre> names[] = {
      {"gpt-2", bpe_pre::gpt2},          {"phi-2", bpe_pre::gpt2},
      {"gpt-neox", bpe_pre::gpt2},       {"mpt", bpe_pre::gpt2},
      {"olmo", bpe_pre::gpt2},           {"jais", bpe_pre::gpt2},
      {"roberta-bpe", bpe_pre::gpt2},    {"gigachat", bpe_pre::gpt2},
      {"jina-es", bpe_pre::gpt2},        {"jina-de", bpe_pre::gpt2},
      {"jina-v1-en", bpe_pre::gpt2},     {"jina-v2-es", bpe_pre::gpt2},
      {"jina-v2-de", bpe_pre::gpt2},     {"jina-v2-code", bpe_pre::gpt2},
      {"llama3", bpe_pre::llama3},       {"llama-v3", bpe_pre::llama3},
      {"llama-bpe", bpe_pre::llama3},    {"falcon3", bpe_pre::llama3},
      {"dbrx", bpe_pre::llama3},         {"smaug-bpe", bpe_pre::llama3},
      {"chatglm-bpe", bpe_pre::llama3},  {"qwen2", bpe_pre::qwen2},
      {"deepseek-r1-qwen", bpe_pre::qwen2}, {"stablelm2", bpe_pre::qwen2},
      {"starcoder", bpe_pre::starcoder}, {"refact", bpe_pre::starcoder},
      {"command-r", bpe_pre::starcoder}, {"smollm", bpe_pre::starcoder},
      {"codeshell", bpe_pre::starcoder}, {"exaone", bpe_pre::starcoder},
      {"minerva-7b", bpe_pre::starcoder}, {"default", bpe_pre::default_},
      {"falcon", bpe_pre::falcon},       {"deepseek-coder", bpe_pre::deepseek_coder},
      {"deepseek-llm", bpe_pre::deepseek_llm},
  };
  for (const auto& [n, p] : names)
    if (n == name) return p;
  return std::nullopt;
}

namespace detail {

/// Splits code points [b, e) into words by one pre-tokenizer pattern; calls out(b, e) per word.
class bpe_splitter {
 public:
  explicit bpe_splitter(std::span<const unicode::code_point> c) : c_(c) {}

  template <class Out>
  void gpt2(std::size_t b, std::size_t e, Out&& out) const {
    for (std::size_t i = b; i < e;) {
      std::size_t j = contraction(i, e, false);
      if (j == i) j = run_after_space(i, e, [&](char32_t x) { return letter(x); });
      if (j == i) j = run_after_space(i, e, [&](char32_t x) { return number(x); });
      if (j == i) j = run_after_space(i, e, [&](char32_t x) { return other(x); });
      if (j == i) j = spaces(i, e);
      if (j == i) j = i + 1;
      out(i, j);
      i = j;
    }
  }

  /// llama3 (max_digits 3) and qwen2 (max_digits 1).
  template <class Out>
  void llama3(std::size_t b, std::size_t e, std::size_t max_digits, Out&& out) const {
    for (std::size_t i = b; i < e;) {
      std::size_t j = contraction(i, e, true);
      if (j == i) {  // [^\r\n\p{L}\p{N}]?\p{L}+
        std::size_t k = i;
        if (!letter(cp(k)) && !number(cp(k)) && !newline(cp(k)) && k + 1 < e && letter(cp(k + 1)))
          ++k;
        if (letter(cp(k))) j = extend(k, e, [&](char32_t x) { return letter(x); });
      }
      if (j == i && number(cp(i))) {  // \p{N}{1,max}
        j = i;
        while (j < e && j - i < max_digits && number(cp(j))) ++j;
      }
      if (j == i) {  // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
        j = run_after_space(i, e, [&](char32_t x) { return other(x); });
        if (j != i) j = extend(j, e, [&](char32_t x) { return newline(x); });
      }
      if (j == i && space(cp(i))) {  // \s*[\r\n]+: up to the run's last newline
        const std::size_t k = extend(i, e, [&](char32_t x) { return space(x); });
        for (std::size_t m = k; m > i; --m)
          if (newline(cp(m - 1))) {
            j = m;
            break;
          }
      }
      if (j == i) j = spaces(i, e);
      if (j == i) j = i + 1;
      out(i, j);
      i = j;
    }
  }

  /// Every \p{N} alone, the text between them as one piece each.
  template <class Out>
  void digits(std::size_t b, std::size_t e, Out&& out) const {
    matches(b, e, [&](std::size_t i, std::size_t) { return number(cp(i)) ? i + 1 : i; }, out);
  }

  /// A regular-expression split: at each position the match m(i, e) (its end, or i for none);
  /// matches and the gaps between them become pieces, in order.
  template <class Match, class Out>
  void matches(std::size_t b, std::size_t e, Match m, Out&& out) const {
    std::size_t gap = b;
    for (std::size_t i = b; i < e;) {
      const std::size_t j = m(i, e);
      if (j == i) {
        ++i;
        continue;
      }
      if (gap < i) out(gap, i);
      out(i, j);
      i = gap = j;
    }
    if (gap < e) out(gap, e);
  }

  // Matchers for matches(): runs of a class, an optional \s before a run, [0-9]{3}, [\r\n].
  template <class Pred>
  auto run_of(Pred p) const {
    return [this, p](std::size_t i, std::size_t e) { return p(cp(i)) ? extend(i, e, p) : i; };
  }
  template <class Pred>
  auto space_then_run(Pred p) const {
    return [this, p](std::size_t i, std::size_t e) {
      const std::size_t k = space(cp(i)) && i + 1 < e && p(cp(i + 1)) ? i + 1 : i;
      return p(cp(k)) ? extend(k, e, p) : i;
    };
  }
  auto three_digits() const {
    return [this](std::size_t i, std::size_t e) {
      const auto d = [&](std::size_t k) { return k < e && cp(k) >= '0' && cp(k) <= '9'; };
      return d(i) && d(i + 1) && d(i + 2) ? i + 3 : i;
    };
  }
  auto one_newline() const {
    return [this](std::size_t i, std::size_t) { return newline(cp(i)) ? i + 1 : i; };
  }
  /// [\p{P}$+<=>^~|] (and ` with `backtick`).
  static bool punct_or_symbol(char32_t x, bool backtick) {
    return unicode::is_punct(x) || x == '$' || x == '+' || x == '<' || x == '=' || x == '>' ||
           x == '^' || x == '~' || x == '|' || (backtick && x == '`');
  }
  /// Every \s at the end of [b, e) as one piece, the rest before it as another (\s+$).
  template <class Out>
  void trailing_space(std::size_t b, std::size_t e, Out&& out) const {
    std::size_t k = e;
    while (k > b && space(cp(k - 1))) --k;
    if (b < k) out(b, k);
    if (k < e) out(k, e);
  }
  /// [U+4E00-U+9FA5 U+0800-U+4E00 U+AC00-U+D7FF] less white space (U+1680, U+2000-U+200A, ...,
  /// U+3000 lie in the middle range; llama.cpp's matcher sees them as U+000B).
  static bool cjk(char32_t x) {
    return ((x >= 0x4e00 && x <= 0x9fa5) || (x >= 0x0800 && x <= 0x4e00) ||
            (x >= 0xac00 && x <= 0xd7ff)) &&
           !unicode::is_space(x);
  }
  /// deepseek-llm's letter set: the cased letters its tokenizer lists, range by range.
  static bool deepseek_letter(char32_t x) {
    static constexpr std::uint32_t r[][2] = {
        {0x41, 0x5A},       {0x61, 0x7A},       {0xB5, 0xB5},       {0xC0, 0xD6},
        {0xD8, 0xF6},       {0xF8, 0x1BA},      {0x1BC, 0x1BF},     {0x1C4, 0x293},
        {0x295, 0x2AF},     {0x370, 0x373},     {0x376, 0x377},     {0x37B, 0x37D},
        {0x37F, 0x37F},     {0x386, 0x386},     {0x388, 0x38A},     {0x38C, 0x38C},
        {0x38E, 0x3A1},     {0x3A3, 0x3F5},     {0x3F7, 0x481},     {0x48A, 0x52F},
        {0x531, 0x556},     {0x10A0, 0x10C5},   {0x13A0, 0x13F5},   {0x13F8, 0x13FD},
        {0x1C90, 0x1CBA},   {0x1CBD, 0x1CBF},   {0x1D00, 0x1D2B},   {0x1D6B, 0x1D77},
        {0x1D79, 0x1D9A},   {0x1E00, 0x1F15},   {0x1F18, 0x1F1D},   {0x1F20, 0x1F45},
        {0x1F48, 0x1F4D},   {0x1F50, 0x1F57},   {0x1F59, 0x1F59},   {0x1F5B, 0x1F5B},
        {0x1F5D, 0x1F5D},   {0x1F5F, 0x1F7D},   {0x1F80, 0x1FB4},   {0x1FB6, 0x1FBC},
        {0x1FBE, 0x1FBE},   {0x1FC2, 0x1FC4},   {0x1FC6, 0x1FCC},   {0x1FD0, 0x1FD3},
        {0x1FD6, 0x1FDB},   {0x1FE0, 0x1FEC},   {0x1FF2, 0x1FF4},   {0x1FF6, 0x1FFC},
        {0x2102, 0x2102},   {0x2107, 0x2107},   {0x210A, 0x2113},   {0x2115, 0x2115},
        {0x2119, 0x211D},   {0x2124, 0x2124},   {0x2126, 0x2126},   {0x2128, 0x2128},
        {0x212A, 0x212D},   {0x212F, 0x2134},   {0x2139, 0x2139},   {0x213C, 0x213F},
        {0x2145, 0x2149},   {0x214E, 0x214E},   {0x2183, 0x2184},   {0x2C00, 0x2C7B},
        {0x2C7E, 0x2CE4},   {0x2CEB, 0x2CEE},   {0x2CF2, 0x2CF3},   {0xA640, 0xA66D},
        {0xA680, 0xA69B},   {0xA722, 0xA76F},   {0xA771, 0xA787},   {0xA78B, 0xA78E},
        {0xAB70, 0xABBF},   {0xFB00, 0xFB06},   {0xFB13, 0xFB17},   {0xFF21, 0xFF3A},
        {0xFF41, 0xFF5A},   {0x10400, 0x1044F}, {0x104B0, 0x104D3}, {0x104D8, 0x104FB},
        {0x10C80, 0x10CB2}, {0x10CC0, 0x10CF2}, {0x118A0, 0x118DF}, {0x1E900, 0x1E943},
    };
    return unicode::detail::in_ranges(r, x);
  }
  /// deepseek-llm's punctuation set: [!-/:-~], U+FF01-U+FF0F, U+FF1A-U+FF5E, U+2018-U+201F,
  /// U+3001-U+3002 (its U+3000 is white space).
  static bool deepseek_punct(char32_t x) {
    return (x >= 0x21 && x <= 0x2f) || (x >= 0x3a && x <= 0x7e) || (x >= 0x2018 && x <= 0x201f) ||
           (x >= 0x3001 && x <= 0x3002) || (x >= 0xff01 && x <= 0xff0f) ||
           (x >= 0xff1a && x <= 0xff5e);
  }
  static bool punct(char32_t x) { return unicode::is_punct(x); }

 private:
  char32_t cp(std::size_t i) const { return c_[i].cp; }
  static bool letter(char32_t x) { return unicode::is_letter(x); }
  static bool number(char32_t x) { return unicode::is_number(x); }
  static bool space(char32_t x) { return unicode::is_space(x); }
  static bool other(char32_t x) { return !letter(x) && !number(x) && !space(x); }
  static bool newline(char32_t x) { return x == '\r' || x == '\n'; }

  template <class Pred>
  std::size_t extend(std::size_t i, std::size_t e, Pred p) const {
    while (i < e && p(cp(i))) ++i;
    return i;
  }
  /// ' ?X+': an optional U+0020 and a run of X; returns i when there is none.
  template <class Pred>
  std::size_t run_after_space(std::size_t i, std::size_t e, Pred p) const {
    std::size_t k = i;
    if (cp(k) == ' ' && k + 1 < e && p(cp(k + 1))) ++k;
    return p(cp(k)) ? extend(k, e, p) : i;
  }
  /// 's 't 're 've 'm 'll 'd (ASCII case-insensitive when `fold`).
  std::size_t contraction(std::size_t i, std::size_t e, bool fold) const {
    if (cp(i) != '\'' || i + 1 >= e) return i;
    const auto low = [&](std::size_t k) -> char32_t {
      const char32_t x = cp(k);
      return fold && x >= 'A' && x <= 'Z' ? x + 32 : x;
    };
    const char32_t a = low(i + 1);
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return i + 2;
    if (i + 2 < e) {
      const char32_t b = low(i + 2);
      if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return i + 3;
    }
    return i;
  }
  /// \s+(?!\S)|\s+: a space run, less its last space when a non-space follows and it is longer
  /// than one.
  std::size_t spaces(std::size_t i, std::size_t e) const {
    if (!space(cp(i))) return i;
    const std::size_t k = extend(i, e, [&](char32_t x) { return space(x); });
    return k < e && k - i > 1 ? k - 1 : k;
  }

  std::span<const unicode::code_point> c_;
};

}  // namespace detail

class bpe_tokenizer {
 public:
  /// Takes over a vocab ("gpt2" model), its merges ("left right", rank = index) and the
  /// pre-tokenizer family. format_error when a merge is malformed or names an unknown token.
  bpe_tokenizer(arx::vocab v, std::span<const std::string_view> merges, bpe_pre pre,
                const std::string& where = "bpe_tokenizer")
      : vocab_(std::move(v)), pre_(pre) {
    if (vocab_.model() != "gpt2")
      throw unsupported_error(where + ": tokenizer.ggml.model is '" +
                              gguf::escape(vocab_.model(), 64) + "', not 'gpt2' (byte-level BPE)");
    for (int b = 0, k = 0; b < 256; ++b) {
      const bool keep = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
      const char32_t cp = keep ? char32_t(b) : char32_t(256 + k++);
      byte_text_[std::size_t(b)] = utf8_of(cp);
      if (cp < char_byte_.size()) char_byte_[cp] = std::int16_t(b);
    }
    ranks_.reserve(merges.size() * 2);
    for (std::size_t r = 0; r < merges.size(); ++r) {
      const std::string_view m = merges[r];
      const std::size_t sp = m.find(' ', 1);
      if (sp == std::string_view::npos || sp + 1 >= m.size())
        throw format_error(where, 0,
                           "tokenizer.ggml.merges entry " + std::to_string(r) + " " +
                               gguf::detail::quote(m, 64) + " is not two symbols");
      for (const std::string_view part : {m.substr(0, sp), m.substr(sp + 1)})
        if (!vocab_.find(part))
          throw format_error(where, 0,
                             "tokenizer.ggml.merges entry " + std::to_string(r) + " " +
                                 gguf::detail::quote(m, 64) + " names " +
                                 gguf::detail::quote(part, 64) + ", which is not a token");
      ranks_.emplace(std::string(m), int(r));  // a repeated pair keeps its first (lowest) rank
    }
    for (std::size_t i = 0; i < vocab_.size(); ++i) {
      const token_type t = vocab_.type(std::int32_t(i));
      if (t == token_type::user_defined || t == token_type::control)
        special_.push_back(std::int32_t(i));
    }
    std::stable_sort(special_.begin(), special_.end(), [&](auto a, auto b) {
      return vocab_.text(a).size() > vocab_.text(b).size();
    });
  }

  /// Reads vocab, merges and pre-tokenizer from a GGUF file (see the file comment for errors).
  static bpe_tokenizer from_gguf(const gguf::file& f) {
    arx::vocab v = vocab::from_gguf(f);
    const std::string pre(f.get_or<std::string_view>("tokenizer.ggml.pre", ""));
    const auto family = bpe_pre_for(pre);
    if (!family)
      throw unsupported_error(f.path() + ": tokenizer.ggml.pre '" + gguf::escape(pre, 64) +
                              "' is not a pre-tokenizer arx implements (it does gpt-2, "
                              "llama-bpe, qwen2, starcoder and their aliases, default, falcon, "
                              "deepseek-coder and deepseek-llm)");
    const auto merges = f.get_array<std::string_view>("tokenizer.ggml.merges");
    return bpe_tokenizer(std::move(v), merges, *family, f.path());
  }

  const arx::vocab& vocab() const noexcept { return vocab_; }
  bpe_pre pre_tokenizer() const noexcept { return pre_; }

  /// Token ids of `text` (valid UTF-8, else invalid_argument), BOS first when `add_bos`; control
  /// tokens in the text are recognised only with `parse_special`.
  std::vector<std::int32_t> encode(std::string_view text, bool add_bos,
                                   bool parse_special = false) const {
    std::vector<std::int32_t> out;
    if (add_bos) {
      if (vocab_.bos() < 0)
        throw invalid_argument("bpe_tokenizer::encode: the vocab has no BOS token");
      out.push_back(vocab_.bos());
    }
    if (text.empty()) return out;
    if (const std::size_t at = utf8::first_invalid(text); at != std::string_view::npos)
      throw invalid_argument("bpe_tokenizer::encode: invalid UTF-8 at byte " + std::to_string(at));
    for (const auto& [part, id] : split_special(text, parse_special)) {
      if (id >= 0) out.push_back(id);
      else encode_run(part, out);
    }
    return out;
  }

  /// The words the pre-tokenizer cuts `text` into (valid UTF-8, else invalid_argument), before
  /// any merge; special tokens are not looked for.
  std::vector<std::string> pre_tokenize(std::string_view text) const {
    if (const std::size_t at = utf8::first_invalid(text); at != std::string_view::npos)
      throw invalid_argument("bpe_tokenizer::pre_tokenize: invalid UTF-8 at byte " +
                             std::to_string(at));
    std::vector<std::string> out;
    for_each_word(text, [&](std::string_view w) { out.emplace_back(w); });
    return out;
  }

  /// The bytes token `id` stands for; control tokens give "" unless `special`.
  std::string piece(std::int32_t id, bool special = false) const {
    const std::string& t = vocab_.text(id);  // (checks the id)
    const token_type ty = vocab_.type(id);
    if (ty == token_type::control) return special ? t : std::string();
    if (ty == token_type::user_defined || ty == token_type::unknown) return t;
    std::string out;
    for (const auto& c : unicode::decode(t)) {
      if (c.cp < char_byte_.size() && char_byte_[c.cp] >= 0) out += char(char_byte_[c.cp]);
      else out.append(t, c.at, c.len);  // not of the byte alphabet: as it is
    }
    return out;
  }
  std::string decode(std::span<const std::int32_t> ids, bool special = false) const {
    std::string out;
    for (const std::int32_t id : ids) out += piece(id, special);
    return out;
  }
  std::string decode(std::initializer_list<std::int32_t> ids, bool special = false) const {
    return decode(std::span<const std::int32_t>(ids.begin(), ids.size()), special);
  }

 private:
  static std::string utf8_of(char32_t cp) {
    std::string s;
    if (cp < 0x80) {
      s += char(cp);
    } else {  // < 0x800 here: the byte alphabet ends at U+0143
      s += char(0xc0 | (cp >> 6));
      s += char(0x80 | (cp & 0x3f));
    }
    return s;
  }

  /// The text cut at special tokens: (text, -1) runs and ("", id) tokens, in order.
  std::vector<std::pair<std::string_view, std::int32_t>> split_special(std::string_view text,
                                                                       bool parse_special) const {
    std::vector<std::pair<std::string_view, std::int32_t>> parts{{text, -1}};
    for (const std::int32_t id : special_) {
      if (!parse_special && vocab_.type(id) == token_type::control) continue;
      const std::string& s = vocab_.text(id);
      std::vector<std::pair<std::string_view, std::int32_t>> next;
      for (const auto& [p, pid] : parts) {
        if (pid >= 0) {
          next.emplace_back(p, pid);
          continue;
        }
        std::size_t from = 0;
        for (std::size_t at = p.find(s); at != std::string_view::npos; at = p.find(s, from)) {
          if (at > from) next.emplace_back(p.substr(from, at - from), -1);
          next.emplace_back(std::string_view(), id);
          from = at + s.size();
        }
        if (from < p.size()) next.emplace_back(p.substr(from), -1);
      }
      parts = std::move(next);
    }
    return parts;
  }

  void encode_run(std::string_view text, std::vector<std::int32_t>& out) const {
    for_each_word(text, [&](std::string_view w) { encode_word(w, out); });
  }

  /// Calls fn(word) for the pre-tokenizer's words of `text` (valid UTF-8), in order.
  template <class Fn>
  void for_each_word(std::string_view text, Fn&& fn) const {
    const auto cps = unicode::decode(text);
    const detail::bpe_splitter split(cps);
    const auto word = [&](std::size_t b, std::size_t e) {
      const std::size_t from = cps[b].at, to = cps[e - 1].at + cps[e - 1].len;
      fn(text.substr(from, to - from));
    };
    switch (pre_) {
      case bpe_pre::gpt2: split.gpt2(0, cps.size(), word); break;
      case bpe_pre::llama3: split.llama3(0, cps.size(), 3, word); break;
      case bpe_pre::qwen2: split.llama3(0, cps.size(), 1, word); break;
      case bpe_pre::starcoder:
        split.digits(0, cps.size(), [&](std::size_t b, std::size_t e) { split.gpt2(b, e, word); });
        break;
      case bpe_pre::default_:
      case bpe_pre::falcon: {
        const bool falcon = pre_ == bpe_pre::falcon;
        const auto punct = split.run_of([falcon](char32_t x) {
          return detail::bpe_splitter::punct_or_symbol(x, falcon);
        });
        const auto numbers = split.run_of([](char32_t x) { return unicode::is_number(x); });
        const auto last = [&](std::size_t b, std::size_t e) {
          split.matches(b, e, split.three_digits(), word);
        };
        split.matches(0, cps.size(), punct, [&](std::size_t b, std::size_t e) {
          split.gpt2(b, e, [&](std::size_t b2, std::size_t e2) {
            if (falcon) last(b2, e2);
            else split.matches(b2, e2, numbers, last);
          });
        });
        break;
      }
      case bpe_pre::deepseek_coder: {
        const auto letters = split.space_then_run([](char32_t x) { return unicode::is_letter(x); });
        const auto puncts = split.space_then_run(&detail::bpe_splitter::punct);
        const auto cjk = split.run_of(&detail::bpe_splitter::cjk);
        split.matches(0, cps.size(), split.one_newline(), [&](std::size_t b, std::size_t e) {
          split.matches(b, e, letters, [&](std::size_t b2, std::size_t e2) {
            split.matches(b2, e2, puncts, [&](std::size_t b3, std::size_t e3) {
              split.matches(b3, e3, cjk,
                            [&](std::size_t b4, std::size_t e4) { split.digits(b4, e4, word); });
            });
          });
        });
        break;
      }
      case bpe_pre::deepseek_llm: {
        using S = detail::bpe_splitter;
        const auto letters = split.space_then_run(&S::deepseek_letter);
        const auto puncts = split.space_then_run(&S::deepseek_punct);
        const auto cjk = split.run_of(&S::cjk);
        const auto numbers = split.run_of([](char32_t x) { return unicode::is_number(x); });
        split.matches(0, cps.size(), split.one_newline(), [&](std::size_t b, std::size_t e) {
          split.matches(b, e, letters, [&](std::size_t b2, std::size_t e2) {
            split.matches(b2, e2, puncts, [&](std::size_t b3, std::size_t e3) {
              split.trailing_space(b3, e3, [&](std::size_t b4, std::size_t e4) {
                split.matches(b4, e4, cjk, [&](std::size_t b5, std::size_t e5) {
                  split.matches(b5, e5, numbers, word);
                });
              });
            });
          });
        });
        break;
      }
    }
  }

  /// One pre-token's bytes -> tokens by ranked merges.
  void encode_word(std::string_view bytes, std::vector<std::int32_t>& out) const {
    std::string s;  // the word in the byte alphabet; symbol k starts at start[k]
    for (const char b : bytes) s += byte_text_[static_cast<unsigned char>(b)];
    if (pre_ == bpe_pre::llama3)
      if (auto id = vocab_.find(s)) {  // (llama.cpp's ignore_merges for Llama 3)
        out.push_back(*id);
        return;
      }
    struct symbol {
      std::size_t at, len;
      std::ptrdiff_t prev, next;
    };
    std::vector<symbol> sym;
    for (std::size_t i = 0, k = 0; i < s.size(); ++k) {
      const std::size_t len = static_cast<unsigned char>(s[i]) < 0x80 ? 1 : 2;
      sym.push_back({i, len, std::ptrdiff_t(k) - 1, std::ptrdiff_t(k) + 1});
      i += len;
    }
    sym.back().next = -1;
    struct pair_rank {
      int rank;
      std::ptrdiff_t left;
      std::size_t left_len, right_len;
      bool operator<(const pair_rank& o) const {  // priority_queue: the top is the largest
        return rank != o.rank ? rank > o.rank : left > o.left;
      }
    };
    std::priority_queue<pair_rank> queue;
    std::string key;
    const auto consider = [&](std::ptrdiff_t l) {
      if (l < 0 || sym[std::size_t(l)].next < 0) return;
      const symbol& a = sym[std::size_t(l)];
      const symbol& b = sym[std::size_t(a.next)];
      key.assign(s, a.at, a.len);
      key += ' ';
      key.append(s, b.at, b.len);
      if (const auto it = ranks_.find(key); it != ranks_.end())
        queue.push({it->second, l, a.len, b.len});
    };
    for (std::size_t k = 0; k + 1 < sym.size(); ++k) consider(std::ptrdiff_t(k));
    while (!queue.empty()) {
      const pair_rank top = queue.top();
      queue.pop();
      symbol& a = sym[std::size_t(top.left)];
      // stale entries: a side has merged since (lengths changed) or was merged away
      if (a.len != top.left_len || a.next < 0) continue;
      symbol& b = sym[std::size_t(a.next)];
      if (b.len != top.right_len) continue;
      a.len += b.len;
      b.len = 0;
      a.next = b.next;
      if (b.next >= 0) sym[std::size_t(b.next)].prev = top.left;
      consider(a.prev);
      consider(top.left);
    }
    for (std::ptrdiff_t k = 0; k >= 0; k = sym[std::size_t(k)].next) {
      const std::string_view piece(s.data() + sym[std::size_t(k)].at, sym[std::size_t(k)].len);
      if (auto id = vocab_.find(piece)) {
        out.push_back(*id);
        continue;
      }
      // a symbol the vocab lacks: its characters one by one (every byte has its token)
      for (std::size_t i = 0; i < piece.size();) {
        const std::size_t len = static_cast<unsigned char>(piece[i]) < 0x80 ? 1 : 2;
        const auto id = vocab_.find(piece.substr(i, len));
        if (!id)
          throw format_error("bpe_tokenizer", 0,
                             "the vocab has no token for the byte character " +
                                 gguf::detail::quote(piece.substr(i, len), 8));
        out.push_back(*id);
        i += len;
      }
    }
  }

  arx::vocab vocab_;
  bpe_pre pre_;
  std::array<std::string, 256> byte_text_;  // byte -> its character (UTF-8)
  std::array<std::int16_t, 324> char_byte_ = [] {
    std::array<std::int16_t, 324> a{};
    a.fill(-1);
    return a;
  }();
  std::unordered_map<std::string, int> ranks_;  // "left right" -> merge rank
  std::vector<std::int32_t> special_;           // user-defined and control, longest first
};

ARX_NAMESPACE_END
