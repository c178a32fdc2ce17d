// arx/tokenizer/vocab.hpp — a tokenizer vocabulary read from GGUF metadata (`tokenizer.ggml.*`).
//
// Keys read (llama.cpp's names):
//   tokenizer.ggml.model              string, e.g. "llama" (SentencePiece) or "gpt2" (byte BPE)
//   tokenizer.ggml.tokens             array of strings: token id -> text (required)
//   tokenizer.ggml.scores             array of f32, one per token (optional, default 0)
//   tokenizer.ggml.token_type         array of i32, one per token (optional, default normal)
//   tokenizer.ggml.{bos,eos,unknown,padding}_token_id   integers (optional, -1 when absent)
//   tokenizer.ggml.add_bos_token / add_eos_token / add_space_prefix   bools (add_bos_token
//                                     defaults to true for "llama" and for "gpt2" with the
//                                     Llama 3 pre-tokenizer, tokenizer.ggml.pre = llama-bpe ...)
//
// Everything is validated when the vocab is built: array lengths agree, special ids are in range,
// token texts are non-empty valid UTF-8, byte tokens spell `<0xXX>`. Errors are format_error
// (carrying the value's byte offset) or key_error (absent or mistyped key), both naming the key.
// The vocab copies what it needs, so it does not keep the gguf::file alive.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "arx/config.hpp"
#include "arx/core/error.hpp"
#include "arx/io/gguf.hpp"

ARX_NAMESPACE_BEGIN

/// Token types as numbered in `tokenizer.ggml.token_type`.
enum class token_type : std::int32_t {
  undefined = 0,
  normal = 1,
  unknown = 2,
  control = 3,
  user_defined = 4,
  unused = 5,
  byte = 6,
};

namespace utf8 {

/// Result of looking at the UTF-8 sequence starting at some byte.
enum class status { valid, incomplete, invalid };

/// Classifies the sequence starting at s[0] (n > 0 bytes available). `len` receives the length of
/// a valid sequence, the bytes seen so far for an incomplete one (a valid prefix cut by the end),
/// or the length of the maximal invalid subpart (always >= 1) to replace with one U+FFFD.
/// Strict: no overlong forms, no surrogates, nothing above U+10FFFF.
inline status classify(const unsigned char* s, std::size_t n, std::size_t& len) noexcept {
  const unsigned char c = s[0];
  len = 1;
  if (c < 0x80) return status::valid;
  std::size_t need = 0;
  unsigned char lo = 0x80, hi = 0xbf;  // allowed range of the second byte
  if (c >= 0xc2 && c <= 0xdf) {
    need = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    need = 3;
    if (c == 0xe0) lo = 0xa0;
    if (c == 0xed) hi = 0x9f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    need = 4;
    if (c == 0xf0) lo = 0x90;
    if (c == 0xf4) hi = 0x8f;
  } else {
    return status::invalid;
  }
  for (std::size_t i = 1; i < need; ++i) {
    if (i >= n) {
      len = i;
      return status::incomplete;
    }
    const unsigned char b = s[i];
    const bool ok = i == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xbf);
    if (!ok) {
      len = i;
      return status::invalid;
    }
  }
  len = need;
  return status::valid;
}

/// Byte offset of the first invalid or truncated sequence in `s`, or npos when all is valid.
inline std::size_t first_invalid(std::string_view s) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  for (std::size_t i = 0; i < s.size();) {
    std::size_t len = 0;
    if (classify(p + i, s.size() - i, len) != status::valid) return i;
    i += len;
  }
  return std::string_view::npos;
}

}  // namespace utf8

class vocab {
 public:
  /// Reads and validates the vocabulary of `f`. key_error when `tokenizer.ggml.tokens` is absent
  /// or any key has the wrong type; format_error for inconsistent values.
  static vocab from_gguf(const gguf::file& f) {
    vocab v;
    v.model_ = std::string(f.get_or("tokenizer.ggml.model", "llama"));

    const auto tokens = f.get_array<std::string_view>("tokenizer.ggml.tokens");
    const gguf::value& tokens_value = f.at("tokenizer.ggml.tokens");
    const std::size_t n = tokens.size();
    if (n == 0 || n > std::size_t(INT32_MAX))
      bad(f, "tokenizer.ggml.tokens", tokens_value,
          "holds " + std::to_string(n) + " tokens (must be 1.." + std::to_string(INT32_MAX) + ")");
    v.tokens_.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      const std::string_view t = tokens[i];
      if (t.empty()) bad(f, "tokenizer.ggml.tokens", tokens_value, "token " + std::to_string(i) + " is empty");
      if (const std::size_t at = utf8::first_invalid(t); at != std::string_view::npos)
        bad(f, "tokenizer.ggml.tokens", tokens_value,
            "token " + std::to_string(i) + " " + gguf::detail::quote(t, 64) +
                " is not valid UTF-8 (byte " + std::to_string(at) + ")");
      v.tokens_.emplace_back(t);
    }

    v.scores_.assign(n, 0.0f);
    if (f.contains("tokenizer.ggml.scores")) {
      const auto s = f.get_array<float>("tokenizer.ggml.scores");
      if (s.size() != n)
        bad(f, "tokenizer.ggml.scores", f.at("tokenizer.ggml.scores"),
            "has " + std::to_string(s.size()) + " entries for " + std::to_string(n) + " tokens");
      std::copy(s.begin(), s.end(), v.scores_.begin());
    }

    v.types_.assign(n, token_type::normal);
    if (f.contains("tokenizer.ggml.token_type")) {
      const auto& tv = f.at("tokenizer.ggml.token_type");
      const auto t = f.get_array<std::int32_t>("tokenizer.ggml.token_type");
      if (t.size() != n)
        bad(f, "tokenizer.ggml.token_type", tv,
            "has " + std::to_string(t.size()) + " entries for " + std::to_string(n) + " tokens");
      for (std::size_t i = 0; i < n; ++i) {
        if (t[i] < 0 || t[i] > 6)
          bad(f, "tokenizer.ggml.token_type", tv,
              "token " + std::to_string(i) + " has unknown type " + std::to_string(t[i]));
        v.types_[i] = token_type(t[i]);
      }
    }

    v.bos_ = special_id(f, "tokenizer.ggml.bos_token_id", n);
    v.eos_ = special_id(f, "tokenizer.ggml.eos_token_id", n);
    v.unk_ = special_id(f, "tokenizer.ggml.unknown_token_id", n);
    v.pad_ = special_id(f, "tokenizer.ggml.padding_token_id", n);
    // BOS by default: SentencePiece vocabs, and the Llama 3 BPE pre-tokenizer (as llama.cpp)
    const std::string_view pre = f.get_or<std::string_view>("tokenizer.ggml.pre", "");
    const bool llama3_bpe = v.model_ == "gpt2" && (pre == "llama3" || pre == "llama-v3" ||
                                                   pre == "llama-bpe" || pre == "falcon3");
    v.add_bos_ = f.get_or<bool>("tokenizer.ggml.add_bos_token", v.model_ == "llama" || llama3_bpe);
    v.add_eos_ = f.get_or<bool>("tokenizer.ggml.add_eos_token", false);
    v.add_space_prefix_ = f.get_or<bool>("tokenizer.ggml.add_space_prefix", v.model_ == "llama");
    if (v.add_bos_ && v.bos_ < 0 && !f.contains("tokenizer.ggml.add_bos_token"))
      v.add_bos_ = false;  // only the model's default asked for it
    if (v.add_bos_ && v.bos_ < 0)
      throw format_error(f.path(), f.at("tokenizer.ggml.add_bos_token").offset(),
                         "tokenizer.ggml.add_bos_token is true but there is no "
                         "tokenizer.ggml.bos_token_id");

    // Sorted index for text -> id. Equal texts: the highest id wins, as in llama.cpp's map.
    v.by_text_.resize(n);
    for (std::size_t i = 0; i < n; ++i) v.by_text_[i] = std::int32_t(i);
    std::stable_sort(v.by_text_.begin(), v.by_text_.end(), [&](std::int32_t a, std::int32_t b) {
      return v.tokens_[std::size_t(a)] < v.tokens_[std::size_t(b)];
    });

    // Byte tokens: type `byte` must spell <0xXX>; the table maps each byte to its token.
    v.byte_token_.fill(-1);
    v.token_byte_.assign(n, -1);
    for (std::size_t i = 0; i < n; ++i) {
      if (v.types_[i] != token_type::byte) continue;
      const int b = parse_byte_text(v.tokens_[i]);
      if (b < 0)
        bad(f, "tokenizer.ggml.tokens", tokens_value,
            "byte token " + std::to_string(i) + " " + gguf::detail::quote(v.tokens_[i], 64) +
                " does not spell <0xXX>");
      v.token_byte_[i] = std::int16_t(b);
    }
    for (int b = 0; b < 256; ++b) {
      static constexpr char hex[] = "0123456789ABCDEF";
      const char text[6] = {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>'};
      if (auto id = v.find(std::string_view(text, 6))) {
        v.byte_token_[std::size_t(b)] = *id;
      } else if (const char c = char(b); auto id1 = v.find(std::string_view(&c, 1))) {
        v.byte_token_[std::size_t(b)] = *id1;  // a vocab spelling bytes as themselves
      }
    }
    return v;
  }

  std::size_t size() const noexcept { return tokens_.size(); }
  /// `tokenizer.ggml.model` ("llama" when absent).
  const std::string& model() const noexcept { return model_; }

  /// invalid_argument naming `id` when it is not a token id of this vocab.
  void check(std::int32_t id) const {
    if (id < 0 || std::size_t(id) >= tokens_.size())
      throw invalid_argument("token id " + std::to_string(id) + " is out of range [0, " +
                             std::to_string(tokens_.size()) + ")");
  }
  /// The token's text as stored (SentencePiece spaces still "▁", byte tokens as "<0xXX>").
  const std::string& text(std::int32_t id) const { return check(id), tokens_[std::size_t(id)]; }
  float score(std::int32_t id) const { return check(id), scores_[std::size_t(id)]; }
  token_type type(std::int32_t id) const { return check(id), types_[std::size_t(id)]; }

  /// The id whose text is exactly `text` (the highest such id if several), or nullopt. O(log n).
  std::optional<std::int32_t> find(std::string_view text) const noexcept {
    // upper_bound then step back: the last of the equal texts, i.e. the highest id.
    auto it = std::upper_bound(by_text_.begin(), by_text_.end(), text,
                               [&](std::string_view t, std::int32_t id) {
                                 return t < std::string_view(tokens_[std::size_t(id)]);
                               });
    if (it == by_text_.begin()) return std::nullopt;
    --it;
    if (tokens_[std::size_t(*it)] != text) return std::nullopt;
    return *it;
  }

  /// The token for raw byte `b` (`<0xXX>`, else a one-byte token spelling it), or -1.
  std::int32_t byte_token(std::uint8_t b) const noexcept { return byte_token_[b]; }
  /// The byte a token of type `byte` stands for, or nullopt for other tokens.
  std::optional<std::uint8_t> token_byte(std::int32_t id) const {
    check(id);
    const int b = token_byte_[std::size_t(id)];
    return b < 0 ? std::nullopt : std::optional<std::uint8_t>(std::uint8_t(b));
  }

  /// Special ids; -1 when the vocab has none.
  std::int32_t bos() const noexcept { return bos_; }
  std::int32_t eos() const noexcept { return eos_; }
  std::int32_t unk() const noexcept { return unk_; }
  std::int32_t pad() const noexcept { return pad_; }
  bool add_bos() const noexcept { return add_bos_; }
  bool add_eos() const noexcept { return add_eos_; }
  bool add_space_prefix() const noexcept { return add_space_prefix_; }

 private:
  [[noreturn]] static void bad(const gguf::file& f, std::string_view key, const gguf::value& v,
                               const std::string& what) {
    throw format_error(f.path(), v.offset(), "metadata '" + std::string(key) + "' " + what);
  }

  static std::int32_t special_id(const gguf::file& f, std::string_view key, std::size_t n) {
    if (!f.contains(key)) return -1;
    const std::int64_t id = f.get<std::int64_t>(key);
    // llama.cpp writes -1 (as u32 0xffffffff, or i32 -1) for "none" in a few converters.
    if (id == -1 || id == std::int64_t(0xffffffffu)) return -1;
    if (id < 0 || std::uint64_t(id) >= n)
      bad(f, key, f.at(key),
          "is " + std::to_string(id) + ", not a token id (vocab size " + std::to_string(n) + ")");
    return std::int32_t(id);
  }

  // The byte "<0xXX>" spells (hex digits of either case), or -1.
  static int parse_byte_text(std::string_view t) noexcept {
    if (t.size() != 6 || t.substr(0, 3) != "<0x" || t[5] != '>') return -1;
    int v = 0;
    for (int i = 3; i < 5; ++i) {
      const char c = t[std::size_t(i)];
      int d = -1;
      if (c >= '0' && c <= '9') d = c - '0';
      else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
      else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
      if (d < 0) return -1;
      v = v * 16 + d;
    }
    return v;
  }

  std::string model_;
  std::vector<std::string> tokens_;
  std::vector<float> scores_;
  std::vector<token_type> types_;
  std::vector<std::int32_t> by_text_;        // ids sorted by text (stable: equal texts by id)
  std::array<std::int32_t, 256> byte_token_{};
  std::vector<std::int16_t> token_byte_;     // byte of each byte token, -1 for the others
  std::int32_t bos_ = -1, eos_ = -1, unk_ = -1, pad_ = -1;
  bool add_bos_ = false, add_eos_ = false, add_space_prefix_ = true;
};

ARX_NAMESPACE_END
