// arx/tokenizer/spm.hpp — SentencePiece-BPE tokenization as llama.cpp does it for
// `tokenizer.ggml.model == "llama"`, and the matching (streaming) detokenizer.
//
// Encoding:
//   1. Empty text encodes to nothing (plus BOS when asked).
//   2. With add_space_prefix, a space is prepended; then every ' ' becomes "▁" (U+2581).
//   3. The text is split into UTF-8 characters, the initial symbols.
//   4. Among adjacent symbol pairs whose concatenation is a vocab token, the one whose token has
//      the highest score is merged (ties: the leftmost pair); repeat until no pair is a token.
//      A max-heap of candidate pairs over a linked list of symbols makes this O(n log n): a merge
//      only creates candidates with its two new neighbours, and stale heap entries (a side already
//      merged into something else) are recognised by their length and skipped.
//   5. Each final symbol is its token if the vocab has it, else its UTF-8 bytes as `<0xXX>` byte
//      tokens (the unknown token for a byte the vocab cannot spell).
// Input must be valid UTF-8: anything else is an invalid_argument naming the byte offset (llama.cpp
// would silently split on lead bytes; arx refuses rather than guess).
// Control tokens written in the text (e.g. "<s>") are NOT parsed: they are ordinary text. Like
// llama.cpp, user-defined tokens (type 4) ARE cut out of the text before step 2 and emitted whole;
// the text after each gets the space prefix again. (llama.cpp's per-model lstrip/rstrip attributes
// on such tokens are not modelled.)
//
// Decoding (llama.cpp's token_to_piece / detokenize rules):
//   - normal tokens: "▁" -> ' '; byte tokens: their raw byte; user-defined tokens: their text;
//   - control and unknown tokens: nothing, unless `special` is set (then their text); unused and
//     undefined tokens: nothing;
//   - with add_space_prefix, ONE leading space is stripped from the first token of the sequence.
//     A BOS at the front is that first token (it consumes the strip), so llama.cpp turns
//     [BOS, "▁Hello"] into " Hello" but ["▁Hello"] into "Hello": decode(encode(s, false)) == s.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <queue>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "arx/config.hpp"
#include "arx/core/error.hpp"
#include "arx/io/gguf.hpp"
#include "arx/tokenizer/vocab.hpp"

ARX_NAMESPACE_BEGIN

class spm_tokenizer {
 public:
  /// Takes over a vocab; unsupported_error when its model is not "llama".
  explicit spm_tokenizer(arx::vocab v) : vocab_(std::move(v)) {
    if (vocab_.model() != "llama")
      throw unsupported_error("spm_tokenizer: tokenizer.ggml.model is '" +
                              gguf::escape(vocab_.model(), 64) +
                              "', not 'llama' (SentencePiece)");
    for (std::size_t i = 0; i < vocab_.size(); ++i)
      if (vocab_.type(std::int32_t(i)) == token_type::user_defined)
        user_defined_.push_back(std::int32_t(i));
    std::stable_sort(user_defined_.begin(), user_defined_.end(), [&](auto a, auto b) {
      return vocab_.text(a).size() > vocab_.text(b).size();
    });
  }
  static spm_tokenizer from_gguf(const gguf::file& f) { return spm_tokenizer(vocab::from_gguf(f)); }

  const arx::vocab& vocab() const noexcept { return vocab_; }

  /// Token ids of `text`, with the BOS token first when `add_bos` (invalid_argument if the vocab
  /// has none). Pass `vocab().add_bos()` to do what the model expects. No EOS is appended.
  std::vector<std::int32_t> encode(std::string_view text, bool add_bos) const {
    std::vector<std::int32_t> out;
    if (add_bos) {
      if (vocab_.bos() < 0) throw invalid_argument("spm_tokenizer::encode: the vocab has no BOS token");
      out.push_back(vocab_.bos());
    }
    if (text.empty()) return out;
    if (const std::size_t at = utf8::first_invalid(text); at != std::string_view::npos)
      throw invalid_argument("spm_tokenizer::encode: invalid UTF-8 at byte " + std::to_string(at));

    // User-defined tokens are cut out of the text first and emitted as they are (llama.cpp does
    // this even when special tokens are not parsed); each run of text after one (and at the
    // start) gets the space prefix.
    bool after_special = true;
    std::string s;
    for (const auto& part : split_user_defined(text)) {
      if (part.id >= 0) {
        out.push_back(part.id);
        after_special = true;
        continue;
      }
      s.clear();
      s.reserve(part.text.size() * 3 + 3);
      if (vocab_.add_space_prefix() && after_special) s += space;
      for (char c : part.text) {
        if (c == ' ') s += space;
        else s += c;
      }
      merge(s, out);
      after_special = false;
    }
    return out;
  }

  /// The bytes token `id` stands for (see the rules above; no leading-space strip).
  /// invalid_argument naming the id when it is out of range.
  std::string piece(std::int32_t id, bool special = false) const {
    std::string out;
    append_piece(id, special, out);
    return out;
  }

  /// The text of a sequence of ids, as llama.cpp's detokenizer makes it (may hold invalid UTF-8
  /// when the ids split a character; use `detokenizer` for text to show as it arrives).
  std::string decode(std::span<const std::int32_t> ids, bool special = false) const {
    std::string out;
    for (std::size_t i = 0; i < ids.size(); ++i) {
      const std::size_t before = out.size();
      append_piece(ids[i], special, out);
      if (i == 0 && vocab_.add_space_prefix() && out.size() > before && out[before] == ' ')
        out.erase(before, 1);
    }
    return out;
  }
  std::string decode(std::initializer_list<std::int32_t> ids, bool special = false) const {
    return decode(std::span<const std::int32_t>(ids.begin(), ids.size()), special);
  }

 private:
  static constexpr std::string_view space = "\xe2\x96\x81";  // U+2581 LOWER ONE EIGHTH BLOCK

  void append_piece(std::int32_t id, bool special, std::string& out) const {
    vocab_.check(id);
    const std::string& t = vocab_.text(id);
    switch (vocab_.type(id)) {
      case token_type::normal:
        for (std::size_t i = 0; i < t.size();) {
          if (t.compare(i, space.size(), space) == 0) {
            out += ' ';
            i += space.size();
          } else {
            out += t[i++];
          }
        }
        break;
      case token_type::byte: out += char(*vocab_.token_byte(id)); break;
      case token_type::user_defined: out += t; break;
      case token_type::control:
      case token_type::unknown:
        if (special) out += t;
        break;
      default: break;  // unused, undefined: nothing, as in llama.cpp
    }
  }

  struct fragment {
    std::string_view text;  // raw text when id < 0
    std::int32_t id;        // a user-defined token
  };

  // `text` split at every occurrence of a user-defined token's text; longer texts are matched
  // first (equal lengths: lower id first), each left to right.
  std::vector<fragment> split_user_defined(std::string_view text) const {
    std::vector<fragment> parts{{text, -1}};
    for (const std::int32_t u : user_defined_) {
      const std::string& ut = vocab_.text(u);
      std::vector<fragment> next;
      for (const fragment& f : parts) {
        if (f.id >= 0) {
          next.push_back(f);
          continue;
        }
        std::size_t pos = 0;
        for (std::size_t hit; (hit = f.text.find(ut, pos)) != std::string_view::npos;) {
          if (hit > pos) next.push_back({f.text.substr(pos, hit - pos), -1});
          next.push_back({{}, u});
          pos = hit + ut.size();
        }
        if (pos < f.text.size()) next.push_back({f.text.substr(pos), -1});
      }
      parts = std::move(next);
    }
    return parts;
  }

  struct symbol {
    std::uint32_t start, len;  // bytes of the working string; len 0 = merged away
    std::int32_t prev, next;   // neighbours in the list, -1 at the ends
  };
  struct candidate {
    float score;
    std::int32_t left, right;
    std::uint32_t len;  // length of the concatenation when queued (detects stale entries)
    bool operator<(const candidate& o) const noexcept {
      // priority_queue pops the largest: highest score, then the smallest left index.
      return score < o.score || (score == o.score && left > o.left);
    }
  };

  void merge(const std::string& s, std::vector<std::int32_t>& out) const {
    std::vector<symbol> sym;
    sym.reserve(s.size());
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    for (std::size_t i = 0; i < s.size();) {
      std::size_t len = 0;
      utf8::classify(p + i, s.size() - i, len);  // valid: checked by encode
      const auto idx = std::int32_t(sym.size());
      sym.push_back({std::uint32_t(i), std::uint32_t(len), idx - 1,
                     i + len == s.size() ? -1 : idx + 1});
      i += len;
    }

    std::priority_queue<candidate> queue;
    auto try_pair = [&](std::int32_t l, std::int32_t r) {
      if (l < 0 || r < 0) return;
      const auto& a = sym[std::size_t(l)];
      const auto& b = sym[std::size_t(r)];
      const std::uint32_t len = a.len + b.len;  // a and b are adjacent in s
      if (auto id = vocab_.find(std::string_view(s).substr(a.start, len)))
        queue.push({vocab_.score(*id), l, r, len});
    };
    for (std::size_t i = 1; i < sym.size(); ++i) try_pair(std::int32_t(i - 1), std::int32_t(i));

    while (!queue.empty()) {
      const candidate c = queue.top();
      queue.pop();
      auto& a = sym[std::size_t(c.left)];
      auto& b = sym[std::size_t(c.right)];
      if (a.len == 0 || b.len == 0 || a.len + b.len != c.len) continue;  // stale
      a.len += b.len;
      b.len = 0;
      a.next = b.next;
      if (b.next >= 0) sym[std::size_t(b.next)].prev = c.left;
      try_pair(a.prev, c.left);
      try_pair(c.left, a.next);
    }

    for (std::int32_t i = sym.empty() ? -1 : 0; i >= 0; i = sym[std::size_t(i)].next) {
      const auto& x = sym[std::size_t(i)];
      const std::string_view t = std::string_view(s).substr(x.start, x.len);
      if (auto id = vocab_.find(t)) {
        out.push_back(*id);
        continue;
      }
      for (char c : t) {
        std::int32_t id = vocab_.byte_token(std::uint8_t(c));
        if (id < 0) id = vocab_.unk();
        if (id < 0)
          throw invalid_argument("spm_tokenizer::encode: the vocab has neither a byte token for 0x" +
                                 hex_byte(std::uint8_t(c)) + " nor an unknown token");
        out.push_back(id);
      }
    }
  }

  static std::string hex_byte(std::uint8_t b) {
    static constexpr char hex[] = "0123456789ABCDEF";
    return {hex[b >> 4], hex[b & 15]};
  }

  arx::vocab vocab_;
  std::vector<std::int32_t> user_defined_;  // user-defined token ids, longest text first
};

/// Streaming detokenizer: feed ids one at a time, get back only complete UTF-8 characters.
/// Bytes that cannot start or continue a valid sequence come out as U+FFFD (one per maximal
/// invalid subpart, as Unicode recommends), so the output is always valid UTF-8. A character
/// split across byte tokens is held back until its last byte arrives; `flush` ends the stream
/// (a truncated character left over becomes U+FFFD). Applies decode's first-token space strip.
/// Keeps a reference to the tokenizer (spm_tokenizer, bpe_tokenizer or arx::tokenizer), which
/// must outlive it.
class detokenizer {
 public:
  template <class Tokenizer>
    requires(!std::is_same_v<Tokenizer, detokenizer>)
  explicit detokenizer(const Tokenizer& tok, bool special = false)
      : piece_([&tok, special](std::int32_t id) { return tok.piece(id, special); }),
        strip_space_(tok.vocab().add_space_prefix()) {}

  /// Text completed by `id` (possibly empty). invalid_argument for an out-of-range id.
  std::string push(std::int32_t id) {
    const std::size_t before = pending_.size();
    pending_ += piece_(id);
    if (first_) {
      first_ = false;
      if (strip_space_ && pending_.size() > before && pending_[before] == ' ')
        pending_.erase(before, 1);
    }
    return drain(false);
  }
  /// Whatever is still held back (as U+FFFD), and resets the stream.
  std::string flush() {
    std::string out = drain(true);
    first_ = true;
    return out;
  }
  /// Bytes held back waiting for the rest of a character.
  std::size_t pending() const noexcept { return pending_.size(); }

 private:
  std::string drain(bool final) {
    static constexpr std::string_view replacement = "\xef\xbf\xbd";
    std::string out;
    const auto* p = reinterpret_cast<const unsigned char*>(pending_.data());
    std::size_t i = 0;
    while (i < pending_.size()) {
      std::size_t len = 0;
      const auto st = utf8::classify(p + i, pending_.size() - i, len);
      if (st == utf8::status::valid) {
        out.append(pending_, i, len);
      } else if (st == utf8::status::invalid || final) {
        out += replacement;
      } else {
        break;  // incomplete: wait for more bytes
      }
      i += len;
    }
    pending_.erase(0, i);
    return out;
  }

  std::function<std::string(std::int32_t)> piece_;
  bool strip_space_;
  bool first_ = true;
  std::string pending_;
};

ARX_NAMESPACE_END
