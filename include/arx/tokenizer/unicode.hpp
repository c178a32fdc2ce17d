// arx/tokenizer/unicode.hpp — what the byte-level BPE pre-tokenizers need to know about code
// points: UTF-8 decoding with byte offsets, and the classes the pre-tokenizer patterns name
// (\p{L} letters, \p{N} numbers, \p{P} punctuation, \s white space).
//
//   unicode::decode(text)   -> code points with the byte offset and length of each
//   unicode::is_letter(cp), is_number(cp), is_punct(cp), is_space(cp)
//
// Letters, numbers and punctuation are the general categories L*, N* and P* (unicode_tables.hpp,
// generated from Python's unicodedata by the script at the end of this comment); white space is
// Unicode's White_Space property, as regex engines take \s. The text must be valid UTF-8
// (callers check it first).
//
// Generator of unicode_tables.hpp (python3; prints the two tables' rows):
//   import unicodedata as u
//   def ranges(cat):
//       out, start = [], None
//       for c in range(0x110000):
//           ok = u.category(chr(c)).startswith(cat)
//           if ok and start is None: start = c
//           if not ok and start is not None: out.append((start, c - 1)); start = None
//       return out
//   for name, cat in (("letter_ranges", "L"), ("number_ranges", "N"), ("punctuation_ranges", "P")):
//       print(name, ", ".join("{0x%X, 0x%X}" % r for r in ranges(cat)))
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "arx/config.hpp"
#include "arx/tokenizer/unicode_tables.hpp"

ARX_NAMESPACE_BEGIN
namespace unicode {

/// One code point of a text: its value and where its bytes are.
struct code_point {
  char32_t cp;
  std::uint32_t at;   // byte offset in the text
  std::uint32_t len;  // 1..4 bytes
};

/// The code points of valid UTF-8 `text`, in order.
inline std::vector<code_point> decode(std::string_view text) {
  std::vector<code_point> out;
  out.reserve(text.size());
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  std::size_t i = 0;
  while (i < text.size()) {
    const unsigned char c = p[i];
    std::uint32_t len = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
    if (i + len > text.size()) len = std::uint32_t(text.size() - i);  // (invalid input only)
    char32_t cp = len == 1 ? c : len == 2 ? (c & 0x1f) : len == 3 ? (c & 0x0f) : (c & 0x07);
    for (std::uint32_t k = 1; k < len; ++k) cp = (cp << 6) | (p[i + k] & 0x3f);
    out.push_back({cp, std::uint32_t(i), len});
    i += len;
  }
  return out;
}

namespace detail {
template <std::size_t N>
constexpr bool in_ranges(const std::uint32_t (&r)[N][2], char32_t cp) noexcept {
  std::size_t lo = 0, hi = N;  // first range whose end >= cp
  while (lo < hi) {
    const std::size_t mid = (lo + hi) / 2;
    if (r[mid][1] < cp) lo = mid + 1;
    else hi = mid;
  }
  return lo < N && r[lo][0] <= cp;
}
}  // namespace detail

constexpr bool is_letter(char32_t cp) noexcept {
  if (cp < 0x80) return (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z';
  return detail::in_ranges(letter_ranges, cp);
}
constexpr bool is_number(char32_t cp) noexcept {
  if (cp < 0x80) return cp >= '0' && cp <= '9';
  return detail::in_ranges(number_ranges, cp);
}
constexpr bool is_punct(char32_t cp) noexcept { return detail::in_ranges(punctuation_ranges, cp); }
constexpr bool is_space(char32_t cp) noexcept {
  return (cp >= 0x09 && cp <= 0x0d) || cp == 0x20 || cp == 0x85 || cp == 0xa0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 || cp == 0x202f ||
         cp == 0x205f || cp == 0x3000;
}

}  // namespace unicode
ARX_NAMESPACE_END
