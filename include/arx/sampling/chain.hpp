// arx/sampling/chain.hpp — composing logit processors into a sampler.
//
// A processor edits the candidate set (arx/sampling/candidates.hpp): it changes logits
// (temperature, penalties, bias) and/or removes candidates (top-k, top-p, ...). A sampler runs
// processors in order and draws from softmax of what is left:
//
//   struct my_processor {
//     void apply(arx::candidates& c, const arx::sampling_context& ctx);      // required
//     void accept(arx::token_id id, const arx::candidates& final);            // optional: state
//     std::string name() const;                                              // optional
//   };
//
// accept() is called after every draw with the chosen id and the final candidates (with p), for
// processors that keep state (Mirostat's target surprise, ...). Plug in your own type the same way.
//
//   arx::chain s(arx::top_k{40}, arx::top_p{0.95f}, arx::temperature{0.8f});  // compile time
//   arx::sampler_chain r; r.add(arx::top_k{40}); r.add(arx::temperature{0.8f}); // run time
//   arx::rng g(seed);
//   arx::token_id t = s.sample(logits, ctx, g);
//   s.distribution(logits, ctx, p);   // the exact probability vector sample() draws from
//
// The draw: softmax over the surviving candidates in their current order (see candidates), then
// one u = g.uniform() and the first candidate whose cumulative probability exceeds u (the last one
// if rounding leaves the sum below u). So for a fixed seed the tokens depend only on the logits
// and the chain: the same on every run, machine and thread count. A set left with one candidate
// still consumes its u, so the random sequence does not depend on how peaked the logits are.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "arx/config.hpp"
#include "arx/core/error.hpp"
#include "arx/sampling/candidates.hpp"
#include "arx/sampling/rng.hpp"

ARX_NAMESPACE_BEGIN

/// What processors may look at besides the logits.
struct sampling_context {
  std::span<const token_id> history;  ///< the sequence so far (prompt + generated), oldest first
  std::int64_t n_generated = 0;       ///< how many of those were generated (not prompt)
};

template <class P>
concept logit_processor = requires(P& p, candidates& c, const sampling_context& ctx) {
  p.apply(c, ctx);
};

namespace detail {
template <class P>
void accept_if_any(P& p, token_id id, const candidates& c) {
  if constexpr (requires { p.accept(id, c); }) p.accept(id, c);
}
template <class P>
inline constexpr bool has_accept = requires(P& p, token_id id, const candidates& c) {
  p.accept(id, c);
};
template <class P>
std::string name_of(const P& p) {
  if constexpr (requires { p.name(); })
    return std::string(p.name());
  else
    return "custom";
}

/// The draw described in the file comment. c must have probabilities.
inline token_id draw(const candidates& c, rng& g) {
  const double u = g.uniform();
  double cum = 0.0;
  for (const auto& x : c) {
    cum += double(x.p);
    if (u < cum) return x.id;
  }
  return c[c.size() - 1].id;
}
}  // namespace detail

/// A sampler whose processors are fixed at compile time: no virtual calls.
template <logit_processor... Ps>
class chain {
 public:
  chain() = default;
  explicit chain(Ps... ps)
    requires(sizeof...(Ps) > 0)
      : ps_(std::move(ps)...) {}

  /// Runs the processors on `logits`; the returned set has probabilities (valid until the next
  /// call on this chain).
  const candidates& process(std::span<const float> logits, const sampling_context& ctx = {}) {
    c_.assign(logits);
    std::apply([&](auto&... p) { (p.apply(c_, ctx), ...); }, ps_);
    c_.softmax();
    return c_;
  }

  /// The probability vector sample() would draw from. p: [n_vocab]
  void distribution(std::span<const float> logits, const sampling_context& ctx,
                    std::span<float> p) {
    process(logits, ctx);
    c_.probabilities(p);
  }

  /// Draws a token and lets stateful processors see it.
  token_id sample(std::span<const float> logits, const sampling_context& ctx, rng& g) {
    process(logits, ctx);
    const token_id id = detail::draw(c_, g);
    std::apply([&](auto&... p) { (detail::accept_if_any(p, id, c_), ...); }, ps_);
    return id;
  }

  /// True when a processor keeps state between draws (has accept(), e.g. Mirostat): its
  /// distribution then depends on the draws made so far, not only on the logits and history.
  static constexpr bool stateful() noexcept { return (detail::has_accept<Ps> || ...); }
  /// The processors, e.g. std::get<0>(s.processors()).
  std::tuple<Ps...>& processors() noexcept { return ps_; }

 private:
  std::tuple<Ps...> ps_;
  candidates c_;
};

/// A sampler assembled at run time (CLIs, configuration files): type-erased processors.
class sampler_chain {
  struct base {
    virtual ~base() = default;
    virtual void apply(candidates& c, const sampling_context& ctx) = 0;
    virtual void accept(token_id id, const candidates& c) = 0;
    virtual std::string name() const = 0;
    virtual bool stateful() const = 0;
    virtual std::unique_ptr<base> clone() const = 0;
  };
  template <class P>
  struct holder final : base {
    P p;
    explicit holder(P q) : p(std::move(q)) {}
    void apply(candidates& c, const sampling_context& ctx) override { p.apply(c, ctx); }
    void accept(token_id id, const candidates& c) override { detail::accept_if_any(p, id, c); }
    std::string name() const override { return detail::name_of(p); }
    bool stateful() const override { return detail::has_accept<P>; }
    std::unique_ptr<base> clone() const override { return std::make_unique<holder>(p); }
  };

 public:
  sampler_chain() = default;
  sampler_chain(sampler_chain&&) noexcept = default;
  sampler_chain& operator=(sampler_chain&&) noexcept = default;
  sampler_chain(const sampler_chain& o) {
    for (const auto& p : o.ps_) ps_.push_back(p->clone());
  }
  sampler_chain& operator=(const sampler_chain& o) {
    if (this != &o) *this = sampler_chain(o);
    return *this;
  }

  /// Appends a processor (runs after the ones already added).
  template <logit_processor P>
  sampler_chain& add(P p) {
    ps_.push_back(std::make_unique<holder<std::decay_t<P>>>(std::move(p)));
    return *this;
  }

  std::size_t size() const noexcept { return ps_.size(); }
  /// The processors' names in order, e.g. "top_k(40) -> top_p(0.95) -> temperature(0.8)".
  std::string describe() const {
    std::string s;
    for (const auto& p : ps_) s += (s.empty() ? "" : " -> ") + p->name();
    return s.empty() ? "softmax" : s;
  }

  /// True when a processor keeps state between draws (see chain::stateful).
  bool stateful() const {
    for (const auto& p : ps_)
      if (p->stateful()) return true;
    return false;
  }
  const candidates& process(std::span<const float> logits, const sampling_context& ctx = {}) {
    c_.assign(logits);
    for (auto& p : ps_) p->apply(c_, ctx);
    c_.softmax();
    return c_;
  }
  void distribution(std::span<const float> logits, const sampling_context& ctx,
                    std::span<float> p) {
    process(logits, ctx);
    c_.probabilities(p);
  }
  token_id sample(std::span<const float> logits, const sampling_context& ctx, rng& g) {
    process(logits, ctx);
    const token_id id = detail::draw(c_, g);
    for (auto& p : ps_) p->accept(id, c_);
    return id;
  }

 private:
  std::vector<std::unique_ptr<base>> ps_;
  candidates c_;
};

/// Adapts a sampler (chain<...> or sampler_chain) to arx::generate's `select(logits)`: keeps the
/// RNG and the token history (the prompt, then every token it selects).
template <class Sampler>
class sampling_selector {
 public:
  sampling_selector(Sampler s, std::uint64_t seed, std::span<const token_id> prompt = {})
      : s_(std::move(s)), g_(seed), history_(prompt.begin(), prompt.end()),
        n_prompt_(std::int64_t(prompt.size())) {}

  token_id operator()(std::span<const float> logits) {
    const sampling_context ctx{history_, std::int64_t(history_.size()) - n_prompt_};
    const token_id id = s_.sample(logits, ctx, g_);
    history_.push_back(id);
    return id;
  }

  Sampler& sampler() noexcept { return s_; }
  const std::vector<token_id>& history() const noexcept { return history_; }

 private:
  Sampler s_;
  rng g_;
  std::vector<token_id> history_;
  std::int64_t n_prompt_ = 0;
};

ARX_NAMESPACE_END
