// arx/sampling/penalties.hpp — logit processors that look at what was already said (the token
// history) or at fixed token lists: repetition penalties, n-gram blocking, DRY, logit bias,
// banned tokens and a minimum length.
//
//   penalties{last_n, repeat, frequency, presence}   llama.cpp's repeat/frequency/presence penalty
//   no_repeat_ngram{n}                                HF's no_repeat_ngram_size
//   dry{text_of, n_vocab, multiplier, base, allowed_length, last_n, breakers}   DRY sampler
//   dry{tokenizer, multiplier, ...}                   the same, token texts from tok.piece(id, true)
//   logit_bias{{{id, bias}, ...}}                     logit += bias (-inf bans)
//   banned_tokens{{id, ...}}                          logit = -inf
//   min_length{n, stop_ids}                           stop_ids get -inf while n_generated < n
//
// Every processor validates its parameters at construction (arx::invalid_argument naming the
// parameter and its value) and works in O(history window), not O(vocabulary): while the candidate
// set is still in id order (the usual place for these, first in a chain) it edits the few affected
// tokens through candidates::at_id; otherwise it makes one pass over the (already narrowed)
// candidates with a sorted table of the affected ids. Ids in the history, the bias or the ban list
// that are not in the candidate set (out of the vocabulary, or removed by an earlier processor)
// are ignored.
//
// ---- penalties ----------------------------------------------------------------------------------
// Window: the last `last_n` tokens of ctx.history (-1: all of it, 0: off). For every distinct
// token t of the window with count c(t) > 0, in float like llama.cpp:
//     logit = logit > 0 ? logit / repeat : logit * repeat        (once, whatever c(t) is)
//     logit -= c(t) * frequency + presence
// repeat = 1, frequency = 0 and presence = 0 change nothing (the processor returns at once).
//
// ---- no_repeat_ngram ----------------------------------------------------------------------------
// Bans (-inf) every token t such that (last n-1 tokens of the history, t) already occurs as an
// n-gram in the history. n = 1 bans every token of the history. Uses the whole history, in O(L).
//
// ---- dry ("Don't Repeat Yourself", p-e-w's sampler of text-generation-webui / llama.cpp) -------
// Window w[0..L-1]: the last `last_n` tokens of the history (-1: all). For a candidate token t:
//     match(t) = max over positions j in [1, L-1] with w[j] == t of the longest n such that the
//                n tokens before j equal the last n tokens of the window, w[j-n..j-1] ==
//                w[L-n..L-1] (the two may overlap), with n <= limit,
// i.e. how long a repetition emitting t would extend. `limit` is the number of window tokens
// after the last one that touches a sequence breaker (L when none does): a repetition never runs
// back across a breaker. If match(t) >= allowed_length:
//     logit -= multiplier * base^(match(t) - allowed_length)
// (the penalty is clamped to FLT_MAX and the result to -FLT_MAX: a huge penalty leaves the token
// in the set with probability ~0 rather than banning it or making NaN; a token already at -inf
// stays there).
// Breakers are strings; a token "touches" a breaker when its text overlaps an occurrence of the
// breaker in the concatenated text of the window tokens (so "\n" written as one token, as part of
// ".\n", or a multi-character breaker split over several tokens all count). A candidate whose own
// text contains a whole breaker is never penalized. multiplier = 0 changes nothing.
// Differences from llama.cpp: llama.cpp finds multi-token breakers by tokenizing the rest of the
// breaker string once (only that one tokenization is recognized, at most 20 tokens, breakers cut
// to 40 bytes); arx matches the decoded text itself, so any tokenization counts and nothing is
// truncated. The token texts are read once at construction, from the callable or from a tokenizer
// (tok.piece(id, true): special tokens spelled out, like llama.cpp's detokenize(.., true)); ids
// outside [0, n_vocab) have no text. Like every processor here DRY keeps no history of its own:
// it reads ctx.history (prompt + generated) on each apply, O(window) time.
#pragma once

#include <algorithm>
#include <charconv>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "arx/config.hpp"
#include "arx/core/error.hpp"
#include "arx/sampling/candidates.hpp"
#include "arx/sampling/chain.hpp"

ARX_NAMESPACE_BEGIN

namespace detail_penalties {

/// Shortest decimal form that reads back as the same float ("0.95", "1.1", "-inf").
inline std::string fmt(float v) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}
inline std::string fmt(double v) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

/// "1 token", "3 tokens".
inline std::string count(std::size_t n) {
  return std::to_string(n) + (n == 1 ? " token" : " tokens");
}

/// The last `last_n` tokens of the history (-1: all, 0: none).
inline std::span<const token_id> window(std::span<const token_id> h, std::int64_t last_n) {
  if (last_n < 0 || std::size_t(last_n) >= h.size()) return h;
  return h.subspan(h.size() - std::size_t(last_n));
}

/// out[p] for p in [0, L-2] = length of the longest common suffix of w[0..p] and w[0..L-1]
/// (how many tokens before position p+1 repeat the end of w). O(L): the Z-function of the
/// reversed sequence r[k] = w[L-1-k], since out[p] = Z[L-1-p]. out gets L entries (last unused).
inline void suffix_matches(std::span<const token_id> w, std::vector<std::int64_t>& out) {
  const auto n = std::int64_t(w.size());
  out.assign(w.size(), 0);
  if (n < 2) return;
  const auto r = [&](std::int64_t k) { return w[std::size_t(n - 1 - k)]; };
  // z[k] stored at out[n-1-k]; the box [lo, hi) is the rightmost segment known to equal a prefix.
  std::int64_t lo = 0, hi = 0;
  for (std::int64_t k = 1; k < n; ++k) {
    std::int64_t z = 0;
    if (k < hi) z = std::min(hi - k, out[std::size_t(n - 1 - (k - lo))]);
    while (k + z < n && r(z) == r(k + z)) ++z;
    out[std::size_t(n - 1 - k)] = z;
    if (k + z > hi) {
      lo = k;
      hi = k + z;
    }
  }
}

/// Applies f(candidate&, value) to the candidates whose id is in `table` (sorted by id, distinct
/// ids). O(table) in id order, else one pass over the candidates.
template <class V, class F>
void for_each_listed(candidates& c, const std::vector<std::pair<token_id, V>>& table, F&& f) {
  if (table.empty()) return;
  if (c.id_order()) {
    for (const auto& [id, v] : table)
      if (candidate* x = c.at_id(id)) f(*x, v);
  } else {
    for (auto& x : c) {
      const auto it = std::lower_bound(table.begin(), table.end(), x.id,
                                       [](const auto& e, token_id id) { return e.first < id; });
      if (it != table.end() && it->first == x.id) f(x, it->second);
    }
  }
  c.logits_changed();
}

/// Sorts (id, v) pairs by id and merges equal ids with `merge(acc, v)`.
template <class V, class M>
void sort_unique(std::vector<std::pair<token_id, V>>& t, M&& merge) {
  std::sort(t.begin(), t.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::size_t o = 0;
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (o > 0 && t[o - 1].first == t[i].first)
      t[o - 1].second = merge(t[o - 1].second, t[i].second);
    else
      t[o++] = t[i];
  }
  t.resize(o);
}

constexpr float neg_inf = -std::numeric_limits<float>::infinity();

}  // namespace detail_penalties

// ------------------------------------------------------------------------------------------------
struct penalties {
  int last_n = 64;         ///< window: the last last_n history tokens; -1 all, 0 off
  float repeat = 1.0f;     ///< > 0: positive logits divided by it, others multiplied
  float frequency = 0.0f;  ///< subtracted once per occurrence in the window
  float presence = 0.0f;   ///< subtracted once if the token occurs in the window

  explicit penalties(int last_n_ = 64, float repeat_ = 1.0f, float frequency_ = 0.0f,
                     float presence_ = 0.0f)
      : last_n(last_n_), repeat(repeat_), frequency(frequency_), presence(presence_) {
    using detail_penalties::fmt;
    if (last_n < -1)
      throw invalid_argument("penalties: last_n = " + std::to_string(last_n) +
                             " (must be >= 0, or -1 for the whole history)");
    if (!(repeat > 0.0f) || !std::isfinite(repeat))
      throw invalid_argument("penalties: repeat = " + fmt(repeat) + " (must be finite and > 0)");
    if (!std::isfinite(frequency))
      throw invalid_argument("penalties: frequency = " + fmt(frequency) + " (must be finite)");
    if (!std::isfinite(presence))
      throw invalid_argument("penalties: presence = " + fmt(presence) + " (must be finite)");
  }

  void apply(candidates& c, const sampling_context& ctx) {
    if (last_n == 0 || (repeat == 1.0f && frequency == 0.0f && presence == 0.0f)) return;
    const auto w = detail_penalties::window(ctx.history, last_n);
    if (w.empty()) return;
    counts_.clear();
    for (const token_id t : w) counts_.emplace_back(t, 1);
    detail_penalties::sort_unique(counts_, [](int a, int b) { return a + b; });
    const float rep = repeat, freq = frequency, pres = presence;
    detail_penalties::for_each_listed(c, counts_, [&](candidate& x, int count) {
      x.logit = x.logit > 0.0f ? x.logit / rep : x.logit * rep;
      x.logit -= float(count) * freq + pres;
    });
  }

  std::string name() const {
    using detail_penalties::fmt;
    return "penalties(last_n=" + std::to_string(last_n) + ", repeat=" + fmt(repeat) +
           ", frequency=" + fmt(frequency) + ", presence=" + fmt(presence) + ")";
  }

 private:
  std::vector<std::pair<token_id, int>> counts_;  // scratch: (id, count in window), by id
};

// ------------------------------------------------------------------------------------------------
struct no_repeat_ngram {
  int n;  ///< n-gram size, >= 1

  explicit no_repeat_ngram(int n_) : n(n_) {
    if (n < 1) throw invalid_argument("no_repeat_ngram: n = " + std::to_string(n) + " (must be >= 1)");
  }

  void apply(candidates& c, const sampling_context& ctx) {
    const auto h = ctx.history;
    const auto L = std::int64_t(h.size());
    if (L < n) return;  // no complete n-gram ending before the next token yet
    banned_.clear();
    if (n == 1) {
      for (const token_id t : h) banned_.emplace_back(t, 0);
    } else {
      // position p ends a copy of the last n-1 tokens (p < L-1): the token after it is banned.
      detail_penalties::suffix_matches(h, match_);
      for (std::int64_t p = n - 2; p + 1 < L; ++p)
        if (match_[std::size_t(p)] >= n - 1) banned_.emplace_back(h[std::size_t(p + 1)], 0);
    }
    detail_penalties::sort_unique(banned_, [](char a, char) { return a; });
    detail_penalties::for_each_listed(c, banned_,
                                      [](candidate& x, char) { x.logit = detail_penalties::neg_inf; });
  }

  std::string name() const { return "no_repeat_ngram(" + std::to_string(n) + ")"; }

 private:
  std::vector<std::int64_t> match_;
  std::vector<std::pair<token_id, char>> banned_;
};

// ------------------------------------------------------------------------------------------------
struct dry {
  float multiplier;        ///< >= 0; 0 = off
  float base = 1.75f;      ///< >= 1
  int allowed_length = 2;  ///< >= 0: repetitions up to this long are free
  int last_n = -1;         ///< window: last last_n history tokens; -1 all, 0 off

  static std::vector<std::string> default_breakers() { return {"\n", ":", "\"", "*"}; }

  /// Token texts from `text_of(id)` (anything returning something convertible to std::string)
  /// for id in [0, n_vocab), read once here.
  template <class TextOf>
    requires std::invocable<TextOf&, token_id> &&
             std::convertible_to<std::invoke_result_t<TextOf&, token_id>, std::string>
  dry(TextOf&& text_of, std::size_t vocab_size, float multiplier_, float base_ = 1.75f,
      int allowed_length_ = 2, int last_n_ = -1,
      std::vector<std::string> breakers = default_breakers())
      : multiplier(multiplier_), base(base_), allowed_length(allowed_length_), last_n(last_n_) {
    using detail_penalties::fmt;
    if (!(multiplier >= 0.0f) || !std::isfinite(multiplier))
      throw invalid_argument("dry: multiplier = " + fmt(multiplier) + " (must be finite and >= 0)");
    if (!(base >= 1.0f) || !std::isfinite(base))
      throw invalid_argument("dry: base = " + fmt(base) + " (must be finite and >= 1)");
    if (allowed_length < 0)
      throw invalid_argument("dry: allowed_length = " + std::to_string(allowed_length) +
                             " (must be >= 0)");
    if (last_n < -1)
      throw invalid_argument("dry: last_n = " + std::to_string(last_n) +
                             " (must be >= 0, or -1 for the whole history)");
    if (vocab_size == 0 || vocab_size > std::size_t(std::numeric_limits<token_id>::max()))
      throw invalid_argument("dry: n_vocab = " + std::to_string(vocab_size) +
                             " (must be in [1, 2^31-1])");
    for (std::size_t i = 0; i < breakers.size(); ++i)
      if (breakers[i].empty())
        throw invalid_argument("dry: sequence breaker " + std::to_string(i) + " is empty");
    auto t = std::make_shared<tables>();
    t->breakers = std::move(breakers);
    t->build(text_of, vocab_size);
    tables_ = std::move(t);
  }

  /// Token texts from a tokenizer: tok.piece(id, true) for id in [0, tok.vocab().size()).
  template <class Tokenizer>
    requires requires(const Tokenizer& tok, token_id id) {
      { tok.piece(id, true) } -> std::convertible_to<std::string>;
      { tok.vocab().size() } -> std::convertible_to<std::size_t>;
    }
  dry(const Tokenizer& tok, float multiplier_, float base_ = 1.75f, int allowed_length_ = 2,
      int last_n_ = -1, std::vector<std::string> breakers = default_breakers())
      : dry([&tok](token_id id) { return std::string(tok.piece(id, true)); },
            std::size_t(tok.vocab().size()), multiplier_, base_, allowed_length_, last_n_,
            std::move(breakers)) {}

  const std::vector<std::string>& breakers() const noexcept { return tables_->breakers; }
  std::size_t n_vocab() const noexcept { return tables_->single.size(); }

  /// The penalty table of `history` as (id, match length) pairs sorted by id: every token whose
  /// match(t) >= allowed_length, breakers included (apply() skips those). For tests and tools.
  std::vector<std::pair<token_id, std::int64_t>> matches(std::span<const token_id> history) {
    compute(history);
    return found_;
  }

  void apply(candidates& c, const sampling_context& ctx) {
    if (multiplier == 0.0f || last_n == 0) return;
    compute(ctx.history);
    if (found_.empty()) return;
    const tables& t = *tables_;
    const double flt_max = double(std::numeric_limits<float>::max());
    penalty_.clear();
    for (const auto& [id, len] : found_) {
      if (t.is_single_breaker(id)) continue;
      const double e = double(len - allowed_length);
      const double pen = std::min(double(multiplier) * std::pow(double(base), e), flt_max);
      penalty_.emplace_back(id, pen);
    }
    detail_penalties::for_each_listed(c, penalty_, [&](candidate& x, double pen) {
      if (x.logit == detail_penalties::neg_inf) return;
      x.logit = float(std::max(double(x.logit) - pen, -flt_max));
    });
  }

  std::string name() const {
    using detail_penalties::fmt;
    return "dry(multiplier=" + fmt(multiplier) + ", base=" + fmt(base) +
           ", allowed_length=" + std::to_string(allowed_length) + ", last_n=" +
           std::to_string(last_n) + ")";
  }

 private:
  // Shared, immutable after construction: copies of the processor (sampler_chain clones) are cheap.
  struct tables {
    std::vector<std::string> breakers;
    std::size_t max_len = 0;           // longest breaker, bytes
    std::vector<unsigned char> single;  // [n_vocab]: the token's text contains a whole breaker
    // The token texts the breaker scan needs: a text without any byte that occurs in a breaker
    // can never be part of an occurrence, so it is kept as one `filler` byte (empty stays empty).
    std::string pool;
    std::vector<std::uint32_t> offset;  // [n_vocab + 1]
    char filler = 0;

    template <class TextOf>
    void build(TextOf& text_of, std::size_t n) {
      bool in_breaker[256] = {};
      for (const auto& b : breakers) {
        max_len = std::max(max_len, b.size());
        for (const char ch : b) in_breaker[static_cast<unsigned char>(ch)] = true;
      }
      int f = 0;
      while (f < 256 && in_breaker[f]) ++f;
      const bool can_reduce = f < 256;
      filler = char(f & 0xff);
      single.assign(n, 0);
      offset.assign(n + 1, 0);
      for (std::size_t id = 0; id < n; ++id) {
        const std::string s = text_of(token_id(id));
        bool relevant = !can_reduce;
        for (const char ch : s) relevant = relevant || in_breaker[static_cast<unsigned char>(ch)];
        if (relevant) {
          for (const auto& b : breakers)
            if (s.find(b) != std::string::npos) single[id] = 1;
          pool += s;
        } else if (!s.empty()) {
          pool += filler;
        }
        if (pool.size() > std::numeric_limits<std::uint32_t>::max())
          throw invalid_argument("dry: token texts exceed 4 GiB");
        offset[id + 1] = std::uint32_t(pool.size());
      }
    }
    std::string_view text(token_id id) const noexcept {
      if (id < 0 || std::size_t(id) >= single.size()) return {};
      return std::string_view(pool).substr(offset[std::size_t(id)],
                                           offset[std::size_t(id) + 1] - offset[std::size_t(id)]);
    }
    bool is_single_breaker(token_id id) const noexcept {
      return id >= 0 && std::size_t(id) < single.size() && single[std::size_t(id)] != 0;
    }
  };

  /// Number of tokens at the end of w after the last one whose text overlaps a breaker
  /// occurrence (w.size() when none does). Scans back from the end; each step looks at one token
  /// text plus the first max_len-1 bytes after it.
  std::int64_t breaker_limit(std::span<const token_id> w) {
    const tables& t = *tables_;
    const auto L = std::int64_t(w.size());
    if (t.breakers.empty() || L == 0) return L;
    const std::size_t keep = t.max_len - 1;
    lens_.assign(w.size(), 0);
    std::string tail;  // the first `keep` bytes of the text after token k
    std::string s;
    std::int64_t last_hit = -1;  // largest index of a token overlapping an occurrence
    std::size_t span = 0;        // bytes of tokens k+1 .. last_hit
    for (std::int64_t k = L - 1; k >= 0; --k) {
      // An occurrence starting in token k ends past last_hit only if it is longer than `span`.
      if (last_hit >= 0 && span >= t.max_len) break;
      const std::string_view tk = t.text(w[std::size_t(k)]);
      lens_[std::size_t(k)] = tk.size();
      if (last_hit >= 0) span += tk.size();
      if (tk.empty()) continue;
      s.assign(tk);
      s += tail;
      for (const auto& b : t.breakers) {
        // the last occurrence of b that starts inside token k reaches furthest right
        const std::size_t pos = s.rfind(b, tk.size() - 1);
        if (pos == std::string::npos) continue;
        const std::size_t end = pos + b.size();  // bytes from token k's start
        std::int64_t e = k;
        for (std::size_t acc = tk.size(); acc < end;) acc += lens_[std::size_t(++e)];
        if (e > last_hit) {
          last_hit = e;
          span = 0;
          for (std::int64_t i = k; i <= e; ++i) span += lens_[std::size_t(i)];
        }
      }
      tail.assign(s, 0, std::min(keep, s.size()));
    }
    return last_hit < 0 ? L : L - 1 - last_hit;
  }

  /// found_ = (id, match length) for every token with match >= allowed_length, sorted by id.
  void compute(std::span<const token_id> history) {
    found_.clear();
    if (last_n == 0) return;
    const auto w = detail_penalties::window(history, last_n);
    const auto L = std::int64_t(w.size());
    if (L <= allowed_length || L < 2) return;  // match(t) <= L-1 < allowed_length
    const std::int64_t limit = breaker_limit(w);
    if (limit < allowed_length) return;
    detail_penalties::suffix_matches(w, match_);
    for (std::int64_t p = 0; p + 1 < L; ++p) {
      const std::int64_t len = std::min(match_[std::size_t(p)], limit);
      if (len >= allowed_length) found_.emplace_back(w[std::size_t(p + 1)], len);
    }
    detail_penalties::sort_unique(found_, [](std::int64_t a, std::int64_t b) { return std::max(a, b); });
  }

  std::shared_ptr<const tables> tables_;
  std::vector<std::int64_t> match_;
  std::vector<std::size_t> lens_;
  std::vector<std::pair<token_id, std::int64_t>> found_;
  std::vector<std::pair<token_id, double>> penalty_;
};

// ------------------------------------------------------------------------------------------------
struct logit_bias {
  std::vector<std::pair<token_id, float>> biases;  ///< (id, added to its logit); -inf bans

  explicit logit_bias(std::vector<std::pair<token_id, float>> b) : biases(std::move(b)) {
    using detail_penalties::fmt;
    for (const auto& [id, v] : biases) {
      if (id < 0)
        throw invalid_argument("logit_bias: token id " + std::to_string(id) + " is negative");
      if (std::isnan(v) || v == std::numeric_limits<float>::infinity())
        throw invalid_argument("logit_bias: bias of token " + std::to_string(id) + " is " + fmt(v) +
                               " (must be finite or -inf)");
    }
    table_ = biases;
    detail_penalties::sort_unique(table_, [](float a, float b) { return a + b; });
  }

  void apply(candidates& c, const sampling_context&) {
    detail_penalties::for_each_listed(c, table_, [](candidate& x, float v) { x.logit += v; });
  }

  std::string name() const { return "logit_bias(" + detail_penalties::count(biases.size()) + ")"; }

 private:
  std::vector<std::pair<token_id, float>> table_;  // by id, duplicates summed
};

// ------------------------------------------------------------------------------------------------
struct banned_tokens {
  std::vector<token_id> ids;  ///< never drawn

  explicit banned_tokens(std::vector<token_id> ids_) : ids(std::move(ids_)) {
    for (const token_id id : ids)
      if (id < 0)
        throw invalid_argument("banned_tokens: token id " + std::to_string(id) + " is negative");
    for (const token_id id : ids) table_.emplace_back(id, 0);
    detail_penalties::sort_unique(table_, [](char a, char) { return a; });
  }

  void apply(candidates& c, const sampling_context&) {
    detail_penalties::for_each_listed(c, table_,
                                      [](candidate& x, char) { x.logit = detail_penalties::neg_inf; });
  }

  std::string name() const { return "banned_tokens(" + detail_penalties::count(ids.size()) + ")"; }

 private:
  std::vector<std::pair<token_id, char>> table_;
};

// ------------------------------------------------------------------------------------------------
struct min_length {
  std::int64_t n;                 ///< stop ids are banned while ctx.n_generated < n
  std::vector<token_id> stop_ids;  ///< e.g. {vocab.eos()}

  min_length(std::int64_t n_, std::vector<token_id> stop_ids_)
      : n(n_), stop_ids(std::move(stop_ids_)) {
    if (n < 0) throw invalid_argument("min_length: n = " + std::to_string(n) + " (must be >= 0)");
    if (stop_ids.empty()) throw invalid_argument("min_length: stop_ids is empty");
    for (const token_id id : stop_ids)
      if (id < 0)
        throw invalid_argument("min_length: stop id " + std::to_string(id) + " is negative");
    for (const token_id id : stop_ids) table_.emplace_back(id, 0);
    detail_penalties::sort_unique(table_, [](char a, char) { return a; });
  }

  void apply(candidates& c, const sampling_context& ctx) {
    if (ctx.n_generated >= n) return;
    detail_penalties::for_each_listed(c, table_,
                                      [](candidate& x, char) { x.logit = detail_penalties::neg_inf; });
  }

  std::string name() const { return "min_length(" + std::to_string(n) + ")"; }

 private:
  std::vector<std::pair<token_id, char>> table_;
};

ARX_NAMESPACE_END
