// arx/sampling/params.hpp — llama.cpp's sampling settings and the sampler chain they stand for.
//
//   arx::sampling_params sp;            // llama.cpp's defaults: top_k 40, top_p 0.95, min_p 0.05,
//   sp.temp = 0.7f;                     // temp 0.8, ...; names follow llama.cpp's CLI flags
//   arx::sampler_chain s = arx::make_sampler(sp);       // (pass the tokenizer when DRY is on)
//   std::puts(s.describe().c_str());    // "top_k(40) -> top_p(0.95) -> min_p(0.05) -> temperature(0.7)"
//   arx::sampling_selector sel(std::move(s), sp.seed, prompt);   // a selector for arx::generate
//
// The chain (llama.cpp's common_sampler_init):
//   1. logit_bias, when sp.logit_bias is not empty;
//   2. the samplers named by sp.samplers, in that order (llama.cpp's default
//      "penalties;dry;top_n_sigma;top_k;typ_p;top_p;min_p;xtc;temperature"), each skipped when its
//      settings make it a no-op:
//        penalties    repeat_last_n == 0, or repeat_penalty == 1 and frequency and presence == 0
//        dry          dry_multiplier == 0 or dry_penalty_last_n == 0
//        top_n_sigma  top_n_sigma < 0 (-1 = off)
//        top_k        top_k == 0
//        typ_p        typical == 1
//        top_p        top_p == 1
//        min_p        min_p == 0
//        xtc          xtc_probability == 0 or xtc_threshold > 0.5
//        temperature  temp == 1
//   then the draw (softmax of what is left, one uniform from the selector's arx::rng).
// Special modes:
//   temp <= 0   greedy: only the logit modifiers of the order (penalties, dry) and logit_bias are
//               kept, then temperature(0), which keeps the single most probable token (ties:
//               lowest id). (llama.cpp also runs the truncation samplers first, which for typical
//               or XTC can make "temp 0" not the argmax; arx's temp 0 always is.)
//   mirostat 1/2   replaces the truncation samplers (as in llama.cpp): logit_bias, the logit
//               modifiers of the order (penalties, dry), temperature, then mirostat_v1 (m = 100)
//               or mirostat_v2 with mirostat_tau and mirostat_eta.
// Values outside a sampler's domain are not "off": they throw arx::invalid_argument from that
// sampler's constructor (e.g. top_p 1.5, top_k -1, repeat_penalty 0, top_n_sigma 0).
// min_keep (llama.cpp's "0 = disabled") is passed to top_p, min_p, typical and xtc as
// max(min_keep, 1).
//
// Order strings (parse_samplers): names separated by ';' or ',' ("top_k;top_p;temperature",
// "k;p;t"), or one word of llama.cpp's letters ("kypmxt", as --sampling-seq). Names: llama.cpp's
// canonical ones (penalties, dry, top_n_sigma, top_k, typ_p, top_p, min_p, xtc, temperature) and
// its alternatives (top-k, top-p, nucleus, typical-p, typical, typ-p, typ, min-p, temp, plus
// top-n-sigma); letters: e penalties, d dry, s top_n_sigma, k top_k, y typ_p, p top_p, m min_p,
// x xtc, t temperature. A word that is a name is a name ("temp" is temperature, not t-e-m-p).
// Surrounding spaces are ignored; an empty string is an empty order (just the draw); an empty
// element or an unknown name or letter is an invalid_argument naming it.
//
// Seeds: sp.seed seeds the selector's draw (the caller passes it to sampling_selector) and, mixed
// so the two streams are unrelated, XTC's own arx::rng. The library never picks a seed at random
// (the generate example does when --seed is absent, and prints it).
//
// DRY needs every token's text: make_sampler(sp, tokenizer) or make_sampler(sp, text_fn, n_vocab)
// (text_fn: std::string(token_id)). make_sampler(sp) alone throws invalid_argument when DRY is
// enabled.
#pragma once

#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "arx/config.hpp"
#include "arx/core/error.hpp"
#include "arx/sampling/candidates.hpp"
#include "arx/sampling/chain.hpp"
#include "arx/sampling/mirostat.hpp"
#include "arx/sampling/penalties.hpp"
#include "arx/sampling/rng.hpp"
#include "arx/sampling/truncation.hpp"
#include "arx/tokenizer/tokenizer.hpp"

ARX_NAMESPACE_BEGIN

/// The samplers an order string can name.
enum class sampler_type { penalties, dry, top_n_sigma, top_k, typical, top_p, min_p, xtc, temperature };

/// llama.cpp's canonical name: "penalties", "dry", "top_n_sigma", "top_k", "typ_p", "top_p",
/// "min_p", "xtc", "temperature".
constexpr const char* to_string(sampler_type t) noexcept {
  switch (t) {
    case sampler_type::penalties: return "penalties";
    case sampler_type::dry: return "dry";
    case sampler_type::top_n_sigma: return "top_n_sigma";
    case sampler_type::top_k: return "top_k";
    case sampler_type::typical: return "typ_p";
    case sampler_type::top_p: return "top_p";
    case sampler_type::min_p: return "min_p";
    case sampler_type::xtc: return "xtc";
    case sampler_type::temperature: return "temperature";
  }
  return "unknown";
}

/// llama.cpp's letter: e d s k y p m x t.
constexpr char to_letter(sampler_type t) noexcept {
  switch (t) {
    case sampler_type::penalties: return 'e';
    case sampler_type::dry: return 'd';
    case sampler_type::top_n_sigma: return 's';
    case sampler_type::top_k: return 'k';
    case sampler_type::typical: return 'y';
    case sampler_type::top_p: return 'p';
    case sampler_type::min_p: return 'm';
    case sampler_type::xtc: return 'x';
    case sampler_type::temperature: return 't';
  }
  return '?';
}

namespace detail {

inline constexpr std::pair<std::string_view, sampler_type> sampler_names[] = {
    {"penalties", sampler_type::penalties},     {"dry", sampler_type::dry},
    {"top_n_sigma", sampler_type::top_n_sigma}, {"top-n-sigma", sampler_type::top_n_sigma},
    {"top_k", sampler_type::top_k},             {"top-k", sampler_type::top_k},
    {"typ_p", sampler_type::typical},           {"typical-p", sampler_type::typical},
    {"typical", sampler_type::typical},         {"typ-p", sampler_type::typical},
    {"typ", sampler_type::typical},             {"top_p", sampler_type::top_p},
    {"top-p", sampler_type::top_p},             {"nucleus", sampler_type::top_p},
    {"min_p", sampler_type::min_p},             {"min-p", sampler_type::min_p},
    {"xtc", sampler_type::xtc},                 {"temperature", sampler_type::temperature},
    {"temp", sampler_type::temperature},
};

inline bool sampler_from_name(std::string_view s, sampler_type& out) {
  for (const auto& [n, t] : sampler_names)
    if (n == s) return out = t, true;
  return false;
}

inline bool sampler_from_letter(char c, sampler_type& out) {
  for (auto t : {sampler_type::penalties, sampler_type::dry, sampler_type::top_n_sigma,
                 sampler_type::top_k, sampler_type::typical, sampler_type::top_p,
                 sampler_type::min_p, sampler_type::xtc, sampler_type::temperature})
    if (to_letter(t) == c) return out = t, true;
  return false;
}

inline std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

inline std::string params_num(float v) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

/// A seed for a sampler's own rng, unrelated to the draw's stream from the same seed.
inline std::uint64_t derived_seed(std::uint64_t seed, std::uint64_t salt) {
  rng g(seed ^ salt);
  return g.next();
}

}  // namespace detail

/// Parses an order string (see the file comment). invalid_argument naming the bad element.
inline std::vector<sampler_type> parse_samplers(std::string_view order) {
  const auto bad = [&](std::string_view what, std::string_view elem) {
    return invalid_argument(
        "sampler order '" + std::string(order) + "': " + std::string(what) + " '" +
        std::string(elem) +
        "' (names: penalties, dry, top_n_sigma, top_k, typ_p, top_p, min_p, xtc, temperature, "
        "separated by ';'; or letters of edskypmxt)");
  };
  std::vector<sampler_type> out;
  const std::string_view all = detail::trim(order);
  if (all.empty()) return out;
  const bool list = all.find_first_of(";,") != std::string_view::npos;
  sampler_type t{};
  if (!list) {
    if (detail::sampler_from_name(all, t)) return {t};
    for (char c : all) {
      if (!detail::sampler_from_letter(c, t)) throw bad("unknown sampler", all);
      out.push_back(t);
    }
    return out;
  }
  std::size_t start = 0;
  for (;;) {
    const std::size_t end = all.find_first_of(";,", start);
    const std::string_view elem =
        detail::trim(all.substr(start, end == std::string_view::npos ? all.npos : end - start));
    if (elem.empty()) throw bad("empty sampler name at offset", std::to_string(start));
    if (detail::sampler_from_name(elem, t) ||
        (elem.size() == 1 && detail::sampler_from_letter(elem[0], t)))
      out.push_back(t);
    else
      throw bad("unknown sampler", elem);
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return out;
}

/// The canonical order string of `types` ("top_k;top_p;temperature").
inline std::string samplers_to_string(const std::vector<sampler_type>& types) {
  std::string s;
  for (auto t : types) s += (s.empty() ? "" : ";") + std::string(to_string(t));
  return s;
}

/// llama.cpp's sampling settings (common_params_sampling), named after its command-line flags.
struct sampling_params {
  std::uint64_t seed = 0;          ///< -s/--seed: the draw's rng (and XTC's, mixed)
  float temp = 0.8f;               ///< --temp; <= 0: greedy
  std::int32_t top_k = 40;         ///< --top-k; 0 = off
  float top_p = 0.95f;             ///< --top-p; 1 = off
  float min_p = 0.05f;             ///< --min-p; 0 = off
  float typical = 1.0f;            ///< --typical (llama.cpp typ_p); 1 = off
  std::int32_t repeat_last_n = 64; ///< --repeat-last-n; 0 = off, -1 = the whole history
  float repeat_penalty = 1.0f;     ///< --repeat-penalty; 1 = off
  float frequency_penalty = 0.0f;  ///< --frequency-penalty; 0 = off
  float presence_penalty = 0.0f;   ///< --presence-penalty; 0 = off
  float top_n_sigma = -1.0f;       ///< --top-nsigma; < 0 = off
  float xtc_probability = 0.0f;    ///< --xtc-probability; 0 = off
  float xtc_threshold = 0.1f;      ///< --xtc-threshold; > 0.5 = off
  float dry_multiplier = 0.0f;     ///< --dry-multiplier; 0 = off
  float dry_base = 1.75f;          ///< --dry-base
  std::int32_t dry_allowed_length = 2;   ///< --dry-allowed-length
  std::int32_t dry_penalty_last_n = -1;  ///< --dry-penalty-last-n; 0 = off, -1 = whole history
  std::vector<std::string> dry_sequence_breakers = {"\n", ":", "\"", "*"};
  int mirostat = 0;                ///< --mirostat: 0 off, 1 Mirostat, 2 Mirostat 2.0
  float mirostat_tau = 5.0f;       ///< --mirostat-ent
  float mirostat_eta = 0.1f;       ///< --mirostat-lr
  std::int32_t min_keep = 0;       ///< --min-keep; 0 = 1
  std::vector<std::pair<token_id, float>> logit_bias;  ///< -l/--logit-bias (-inf bans)
  /// --samplers: the order (see parse_samplers).
  std::string samplers = "penalties;dry;top_n_sigma;top_k;typ_p;top_p;min_p;xtc;temperature";
};

/// std::string(token_id): a token's text, for DRY.
using token_text_fn = std::function<std::string(token_id)>;

namespace detail {

template <class MakeDry>
sampler_chain build_sampler(const sampling_params& sp, MakeDry&& make_dry) {
  if (std::isnan(sp.temp)) throw invalid_argument("sampling_params: temp is NaN");
  if (sp.mirostat < 0 || sp.mirostat > 2)
    throw invalid_argument("sampling_params: mirostat must be 0, 1 or 2, got " +
                           std::to_string(sp.mirostat));
  if (sp.min_keep < 0)
    throw invalid_argument("sampling_params: min_keep must be >= 0, got " +
                           std::to_string(sp.min_keep));
  const auto order = parse_samplers(sp.samplers);
  const std::size_t min_keep = sp.min_keep > 0 ? std::size_t(sp.min_keep) : 1;
  const bool greedy = sp.temp <= 0.0f;
  const bool truncate = !greedy && sp.mirostat == 0;

  sampler_chain s;
  if (!sp.logit_bias.empty()) s.add(logit_bias{sp.logit_bias});
  for (const sampler_type t : order) {
    switch (t) {
      case sampler_type::penalties:
        if (sp.repeat_last_n != 0 &&
            (sp.repeat_penalty != 1.0f || sp.frequency_penalty != 0.0f ||
             sp.presence_penalty != 0.0f))
          s.add(penalties{sp.repeat_last_n, sp.repeat_penalty, sp.frequency_penalty,
                          sp.presence_penalty});
        break;
      case sampler_type::dry:
        if (sp.dry_multiplier != 0.0f && sp.dry_penalty_last_n != 0) s.add(make_dry());
        break;
      case sampler_type::top_n_sigma:
        if (truncate && !(sp.top_n_sigma < 0.0f)) s.add(top_n_sigma{sp.top_n_sigma});
        break;
      case sampler_type::top_k:
        if (truncate && sp.top_k != 0) s.add(top_k{sp.top_k});
        break;
      case sampler_type::typical:
        if (truncate && sp.typical != 1.0f) s.add(typical{sp.typical, min_keep});
        break;
      case sampler_type::top_p:
        if (truncate && sp.top_p != 1.0f) s.add(top_p{sp.top_p, min_keep});
        break;
      case sampler_type::min_p:
        if (truncate && sp.min_p != 0.0f) s.add(min_p{sp.min_p, min_keep});
        break;
      case sampler_type::xtc:
        if (truncate && sp.xtc_probability != 0.0f && !(sp.xtc_threshold > 0.5f))
          s.add(xtc{sp.xtc_probability, sp.xtc_threshold,
                    derived_seed(sp.seed, 0x7874635f73656564ULL /* "xtc_seed" */), min_keep});
        break;
      case sampler_type::temperature:
        if (truncate && sp.temp != 1.0f) s.add(temperature{sp.temp});
        break;
    }
  }
  if (greedy) {
    s.add(temperature{0.0f});
  } else if (sp.mirostat != 0) {
    if (sp.temp != 1.0f) s.add(temperature{sp.temp});
    if (sp.mirostat == 1)
      s.add(mirostat_v1{sp.mirostat_tau, sp.mirostat_eta, 100});
    else
      s.add(mirostat_v2{sp.mirostat_tau, sp.mirostat_eta});
  }
  return s;
}

}  // namespace detail

/// The sampler chain of `sp` (see the file comment). invalid_argument for a bad order string,
/// a parameter outside its sampler's domain, or DRY enabled (it needs the token texts: use an
/// overload below).
inline sampler_chain make_sampler(const sampling_params& sp) {
  return detail::build_sampler(sp, [&]() -> dry {
    throw invalid_argument(
        "make_sampler: DRY (dry_multiplier " + detail::params_num(sp.dry_multiplier) +
        ") needs the token texts: pass the tokenizer or a token_text_fn");
  });
}

/// The same, with DRY reading token texts from `tok` (spm_tokenizer, bpe_tokenizer or
/// arx::tokenizer; kept by reference only while building).
template <class Tokenizer>
  requires requires(const Tokenizer& t) { t.vocab(); }
sampler_chain make_sampler(const sampling_params& sp, const Tokenizer& tok) {
  return detail::build_sampler(sp, [&] {
    return dry(tok, sp.dry_multiplier, sp.dry_base, sp.dry_allowed_length, sp.dry_penalty_last_n,
               sp.dry_sequence_breakers);
  });
}

/// The same, with DRY reading token texts from `text(id)` for ids in [0, n_vocab).
inline sampler_chain make_sampler(const sampling_params& sp, const token_text_fn& text,
                                  std::size_t n_vocab) {
  return detail::build_sampler(sp, [&] {
    return dry(text, n_vocab, sp.dry_multiplier, sp.dry_base, sp.dry_allowed_length,
               sp.dry_penalty_last_n, sp.dry_sequence_breakers);
  });
}

ARX_NAMESPACE_END
