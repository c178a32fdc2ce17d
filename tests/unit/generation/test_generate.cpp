// arx::generate on a fake model (deterministic "next token" table) with a tiny SentencePiece
// vocab built in memory, and arx::greedy; then on the real transformer (tiny random llama).
#include <catch2/catch.hpp>

#include "unit/model/tiny_llama.hpp"
#include "throws.hpp"

#include <arx/core/error.hpp>
#include <arx/core/tensor.hpp>
#include <arx/generation/generate.hpp>
#include <arx/io/gguf.hpp>
#include <arx/io/gguf_writer.hpp>
#include <arx/model/transformer.hpp>
#include <arx/model/weights.hpp>
#include <arx/sampling/greedy.hpp>
#include <arx/tokenizer/spm.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gguf = arx::gguf;
using arx::token_id;
using Catch::Matchers::Contains;

namespace {

const std::string sp = "\xe2\x96\x81";  // ▁

// Vocab: 0 <unk>, 1 <s>, 2 </s>, 3..258 the byte tokens <0x00>..<0xFF>, then the words below.
constexpr token_id unk = 0, bos = 1, eos = 2;
constexpr token_id byte0 = 3;
constexpr token_id w_hello = 259, w_world = 260, w_comma = 261, w_s = 262, w_top = 263,
                   w_bang = 264, w_the = 265, w_end = 266;
constexpr std::int64_t n_vocab = 267;
token_id byte_tok(int b) { return byte0 + b; }

arx::spm_tokenizer make_tokenizer() {
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
  std::vector<std::int32_t> types = {2, 3, 3};
  static constexpr char hex[] = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b) {
    tokens.push_back(std::string("<0x") + hex[b >> 4] + hex[b & 15] + ">");
    types.push_back(6);
  }
  for (std::string t : {sp + "Hello", sp + "world", std::string(","), sp + "S", std::string("TOP"),
                        std::string("!"), sp + "the", std::string("END")}) {
    tokens.push_back(t);
    types.push_back(1);
  }
  std::vector<float> scores(tokens.size(), 0.0f);
  gguf::writer w;
  w.set("tokenizer.ggml.model", "llama");
  w.set_array("tokenizer.ggml.tokens", tokens);
  w.set_array("tokenizer.ggml.scores", scores);
  w.set_array("tokenizer.ggml.token_type", types);
  w.set("tokenizer.ggml.unknown_token_id", std::uint32_t(unk));
  w.set("tokenizer.ggml.bos_token_id", std::uint32_t(bos));
  w.set("tokenizer.ggml.eos_token_id", std::uint32_t(eos));
  w.set("tokenizer.ggml.add_bos_token", true);
  w.set("tokenizer.ggml.add_space_prefix", true);
  auto tok = arx::spm_tokenizer::from_gguf(gguf::file::from_bytes(w.to_bytes(), "vocab.gguf"));
  REQUIRE(tok.vocab().size() == std::size_t(n_vocab));
  return tok;
}

// A fake model with the transformer interface: the logits after token t put 1.0 on next[t]
// (0 elsewhere), so greedy follows the table. Records every forward's batch size.
struct fake_sequence {
  explicit fake_sequence(std::int64_t capacity = 64) : cap(capacity) {}
  std::int64_t cap;
  std::vector<token_id> tokens;  // the "KV cache"
  std::vector<float> logits;     // scratch, like the real sequence's buffers
  std::int64_t size() const { return std::int64_t(tokens.size()); }
  std::int64_t capacity() const { return cap; }
};

struct fake_result {
  arx::tensor_view<const float> logits;
};

struct fake_model {
  using sequence_type = fake_sequence;
  std::map<token_id, token_id> next;  // absent: the model prefers `fallback`
  token_id fallback = eos;
  mutable std::vector<std::size_t> batches;  // batch size of each forward call

  fake_result forward(fake_sequence& s, std::span<const token_id> toks) const {
    if (toks.empty()) throw arx::invalid_argument("fake forward: empty batch");
    if (s.size() + std::int64_t(toks.size()) > s.cap)
      throw arx::context_error("fake forward: " + std::to_string(toks.size()) +
                               " tokens do not fit: " + std::to_string(s.size()) + " of " +
                               std::to_string(s.cap) + " used");
    for (auto t : toks)
      if (t < 0 || t >= n_vocab) throw arx::invalid_argument("fake forward: bad id");
    batches.push_back(toks.size());
    s.tokens.insert(s.tokens.end(), toks.begin(), toks.end());
    const auto it = next.find(toks.back());
    s.logits.assign(std::size_t(n_vocab), 0.0f);
    s.logits[std::size_t(it == next.end() ? fallback : it->second)] = 1.0f;
    return {arx::tensor_view<const float>(s.logits.data(), arx::shape_t{1, n_vocab})};
  }
};

// Collects the streamed chunks.
struct collector {
  std::vector<std::string> chunks;
  void operator()(std::string_view s) { chunks.emplace_back(s); }
  std::string joined() const {
    std::string out;
    for (const auto& c : chunks) out += c;
    return out;
  }
};

using ids = std::vector<token_id>;

arx::generate_options opts(std::int64_t max_tokens, std::vector<std::string> stops = {},
                           bool stop_at_eos = true) {
  arx::generate_options o;
  o.max_tokens = max_tokens;
  o.stop_at_eos = stop_at_eos;
  o.stop_strings = std::move(stops);
  return o;
}

const arx::spm_tokenizer& tokenizer() {
  static const arx::spm_tokenizer t = make_tokenizer();
  return t;
}

}  // namespace

TEST_CASE("greedy picks the largest logit, lowest id on ties, never NaN", "[generate][greedy]") {
  const arx::greedy g;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  CHECK(g(std::vector<float>{0.5f, 2.0f, -1.0f}) == 1);
  CHECK(g(std::vector<float>{3.0f}) == 0);
  CHECK(g(std::vector<float>{1.0f, 7.0f, 7.0f, 2.0f, 7.0f}) == 1);  // ties: lowest id
  CHECK(g(std::vector<float>{7.0f, 7.0f}) == 0);
  CHECK(g(std::vector<float>{nan, 1.0f, 2.0f}) == 2);                // NaN first is skipped
  CHECK(g(std::vector<float>{1.0f, nan, 0.5f}) == 0);                // NaN never wins
  CHECK(g(std::vector<float>{nan, -5.0f, nan}) == 1);
  CHECK(g(std::vector<float>{-inf, -inf, -inf}) == 0);
  CHECK(g(std::vector<float>{1.0f, inf, inf}) == 1);
  CHECK(g(std::vector<float>{-3.0f, -2.0f, -2.5f}) == 1);            // all negative
  REQUIRE_THROWS_TYPED(g(std::span<const float>{}), arx::invalid_argument, Contains("empty"));
  REQUIRE_THROWS_TYPED(g(std::vector<float>{nan, nan}), arx::invalid_argument, Contains("NaN"));
}

TEST_CASE("generate stops at EOS; the prompt is one forward, then one token per step",
          "[generate]") {
  const auto& tok = tokenizer();
  fake_model m;
  m.next = {{w_hello, w_world}, {w_world, w_comma}, {w_comma, eos}};
  fake_sequence seq;
  collector out;
  const ids prompt = {bos, w_hello};
  const auto r = arx::generate(m, seq, tok, std::span<const token_id>(prompt), arx::greedy{},
                               out, opts(10));
  CHECK(r.reason == arx::stop_reason::eos);
  CHECK(r.tokens == ids{w_world, w_comma, eos});  // EOS is the last token
  CHECK(r.text == " world,");                     // continuation: the leading space is kept
  CHECK(out.joined() == r.text);
  CHECK(r.n_prompt == 2);
  CHECK(m.batches == std::vector<std::size_t>{2, 1, 1});
  CHECK(seq.tokens == ids{bos, w_hello, w_world, w_comma});  // the last token is not evaluated
  CHECK(r.prompt_seconds >= 0);
  CHECK(r.generate_seconds >= 0);
  CHECK(std::string(arx::to_string(r.reason)) == "eos");
  for (const auto& c : out.chunks) CHECK_FALSE(c.empty());
}

TEST_CASE("generate keeps going past EOS when stop_at_eos is false", "[generate]") {
  const auto& tok = tokenizer();
  fake_model m;
  m.next = {{w_hello, eos}, {eos, w_world}, {w_world, eos}};
  fake_sequence seq;
  collector out;
  const ids prompt = {w_hello};
  const auto r = arx::generate(m, seq, tok, std::span<const token_id>(prompt), arx::greedy{}, out,
                               opts(4, {}, false));
  CHECK(r.reason == arx::stop_reason::max_tokens);
  CHECK(r.tokens == ids{eos, w_world, eos, w_world});
  CHECK(r.text == " world world");  // EOS has no text
  CHECK(out.joined() == r.text);
}

TEST_CASE("generate stops after max_tokens and rejects bad arguments", "[generate]") {
  const auto& tok = tokenizer();
  fake_model m;
  m.next = {{w_hello, w_world}, {w_world, w_hello}};
  const ids prompt = {bos, w_hello};
  const std::span<const token_id> p(prompt);
  for (std::int64_t n : {1, 2, 5}) {
    fake_sequence seq;
    collector out;
    m.batches.clear();
    const auto r = arx::generate(m, seq, tok, p, arx::greedy{}, out, opts(n));
    CHECK(r.reason == arx::stop_reason::max_tokens);
    CHECK(std::int64_t(r.tokens.size()) == n);
    CHECK(std::int64_t(m.batches.size()) == n);  // prefill + n - 1 single-token forwards
    CHECK(seq.size() == 2 + n - 1);
    CHECK(out.joined() == r.text);
  }
  {
    fake_sequence seq;
    collector out;
    const auto r = arx::generate(m, seq, tok, p, arx::greedy{}, out, opts(5));
    CHECK(r.text == " world Hello world Hello world");
  }
  fake_sequence seq;
  collector out;
  for (std::int64_t n : {0, -1})
    REQUIRE_THROWS_TYPED(arx::generate(m, seq, tok, p, arx::greedy{}, out, opts(n)),
                         arx::invalid_argument, Contains("max_tokens"));
  REQUIRE_THROWS_TYPED(arx::generate(m, seq, tok, std::span<const token_id>{}, arx::greedy{}, out),
                       arx::invalid_argument, Contains("empty prompt"));
  REQUIRE_THROWS_TYPED(arx::generate(m, seq, tok, p, arx::greedy{}, out, opts(64, {""})),
                       arx::invalid_argument, Contains("stop string 0 is empty"));
  REQUIRE_THROWS_TYPED(
      arx::generate(m, seq, tok, p, arx::greedy{}, out, opts(64, {"ok", "\xff"})),
      arx::invalid_argument, Contains("stop string 1 is not valid UTF-8"));
  CHECK(seq.size() == 0);  // nothing was evaluated
  CHECK(out.chunks.empty());
}

TEST_CASE("generate cuts the text at a stop string split across tokens", "[generate]") {
  const auto& tok = tokenizer();
  fake_model m;
  // " world S" + "TOP" + "!" ...
  m.next = {{w_hello, w_world}, {w_world, w_s}, {w_s, w_top}, {w_top, w_bang}, {w_bang, w_the}};
  const ids prompt = {bos, w_hello};
  fake_sequence seq;
  collector out;
  const auto r = arx::generate(m, seq, tok, std::span<const token_id>(prompt), arx::greedy{}, out,
                               opts(20, {"STOP"}));
  CHECK(r.reason == arx::stop_reason::stop_string);
  CHECK(r.tokens == ids{w_world, w_s, w_top});  // the token completing it is in tokens
  CHECK(r.text == " world ");
  CHECK(out.joined() == r.text);
  // "S" was held back when it arrived (it could start "STOP"), the space before it was not.
  CHECK(out.chunks == std::vector<std::string>{" world", " "});
}

TEST_CASE("generate: stop string inside one token, earliest of several wins", "[generate]") {
  const auto& tok = tokenizer();
  fake_model m;
  m.next = {{w_hello, w_world}, {w_world, w_comma}, {w_comma, w_the}, {w_the, eos}};
  const ids prompt = {w_hello};
  {
    fake_sequence seq;
    collector out;
    const auto r = arx::generate(m, seq, tok, std::span<const token_id>(prompt), arx::greedy{},
                                 out, opts(64, {"orl"}));
    CHECK(r.reason == arx::stop_reason::stop_string);
    CHECK(r.text == " w");
    CHECK(r.tokens == ids{w_world});
    CHECK(out.joined() == r.text);
  }
  {
    fake_sequence seq;
    collector out;
    const auto r = arx::generate(m, seq, tok, std::span<const token_id>(prompt), arx::greedy{},
                                 out, opts(64, {"the", ", t", "d,"}));
    CHECK(r.reason == arx::stop_reason::stop_string);
    CHECK(r.text == " worl");  // "d," completes first (at the comma) and starts earliest
    CHECK(r.tokens == ids{w_world, w_comma});
    CHECK(out.joined() == r.text);
  }
}

TEST_CASE("generate flushes held-back text when a stop string never completes", "[generate]") {
  const auto& tok = tokenizer();
  fake_model m;
  m.next = {{w_hello, w_world}, {w_world, w_s}, {w_s, eos}};
  const ids prompt = {bos, w_hello};
  SECTION("ended by EOS") {
    fake_sequence seq;
    collector out;
    const auto r = arx::generate(m, seq, tok, std::span<const token_id>(prompt), arx::greedy{},
                                 out, opts(64, {"STOP"}));
    CHECK(r.reason == arx::stop_reason::eos);
    CHECK(r.text == " world S");
    CHECK(out.chunks == std::vector<std::string>{" world", " ", "S"});
  }
  SECTION("ended by max_tokens") {
    fake_sequence seq;
    collector out;
    const auto r = arx::generate(m, seq, tok, std::span<const token_id>(prompt), arx::greedy{},
                                 out, opts(2, {"STOP", " S!"}));
    CHECK(r.reason == arx::stop_reason::max_tokens);
    CHECK(r.text == " world S");
    CHECK(out.chunks == std::vector<std::string>{" world", " S"});
  }
}

TEST_CASE("generate stops when on_text returns false", "[generate]") {
  const auto& tok = tokenizer();
  fake_model m;
  m.next = {{w_hello, w_world}, {w_world, w_hello}};
  const ids prompt = {bos, w_hello};
  fake_sequence seq;
  std::vector<std::string> chunks;
  auto on_text = [&](std::string_view s) {
    chunks.emplace_back(s);
    return chunks.size() < 3;  // cancel at the third chunk
  };
  const auto r = arx::generate(m, seq, tok, std::span<const token_id>(prompt), arx::greedy{},
                               on_text, opts(50));
  CHECK(r.reason == arx::stop_reason::cancelled);
  CHECK(r.tokens.size() == 3);
  CHECK(chunks.size() == 3);  // nothing after the cancel
  CHECK(r.text == " world Hello world");
  CHECK(seq.size() == 2 + 2);
}

TEST_CASE("generate stops with context_full when the sequence is full", "[generate]") {
  const auto& tok = tokenizer();
  fake_model m;
  m.next = {{w_hello, w_world}, {w_world, w_hello}};
  const ids prompt = {bos, w_hello, w_world};
  {
    fake_sequence seq(5);
    collector out;
    const auto r = arx::generate(m, seq, tok, std::span<const token_id>(prompt), arx::greedy{},
                                 out, opts(50));
    CHECK(r.reason == arx::stop_reason::context_full);
    CHECK(r.tokens == ids{w_hello, w_world, w_hello});  // capacity - prompt + 1
    CHECK(seq.size() == 5);
    CHECK(r.text == " Hello world Hello");  // the last token's text is still emitted
    CHECK(out.joined() == r.text);
  }
  {
    fake_sequence seq(3);  // the prompt fills it exactly: one token from the prefill
    collector out;
    const auto r = arx::generate(m, seq, tok, std::span<const token_id>(prompt), arx::greedy{},
                                 out, opts(50));
    CHECK(r.reason == arx::stop_reason::context_full);
    CHECK(r.tokens == ids{w_hello});
  }
  {
    fake_sequence seq(5);  // max_tokens reached at the same time: max_tokens reported
    collector out;
    const auto r = arx::generate(m, seq, tok, std::span<const token_id>(prompt), arx::greedy{},
                                 out, opts(3));
    CHECK(r.reason == arx::stop_reason::max_tokens);
  }
  {
    fake_sequence seq(2);  // the prompt does not fit: the forward's error
    collector out;
    REQUIRE_THROWS_AS(arx::generate(m, seq, tok, std::span<const token_id>(prompt),
                                    arx::greedy{}, out),
                      arx::context_error);
    CHECK(out.chunks.empty());
  }
}

TEST_CASE("generate never splits a UTF-8 character across chunks", "[generate]") {
  const auto& tok = tokenizer();
  fake_model m;
  const ids prompt = {bos, w_hello};
  SECTION("two byte tokens form é") {
    m.next = {{w_hello, byte_tok(0xC3)}, {byte_tok(0xC3), byte_tok(0xA9)},
              {byte_tok(0xA9), w_bang}, {w_bang, eos}};
    fake_sequence seq;
    collector out;
    const auto r = arx::generate(m, seq, tok, std::span<const token_id>(prompt), arx::greedy{},
                                 out);
    CHECK(r.reason == arx::stop_reason::eos);
    CHECK(r.text == "\xc3\xa9!");
    CHECK(out.chunks == std::vector<std::string>{"\xc3\xa9", "!"});
  }
  SECTION("four byte tokens form U+1F600, with a stop string on that character") {
    m.next = {{w_hello, w_world}, {w_world, byte_tok(0xF0)}, {byte_tok(0xF0), byte_tok(0x9F)},
              {byte_tok(0x9F), byte_tok(0x98)}, {byte_tok(0x98), byte_tok(0x80)},
              {byte_tok(0x80), w_end}};
    fake_sequence seq;
    collector out;
    const auto r = arx::generate(m, seq, tok, std::span<const token_id>(prompt), arx::greedy{},
                                 out, opts(64, {"\xf0\x9f\x98\x80" "E"}));
    CHECK(r.reason == arx::stop_reason::stop_string);
    CHECK(r.text == " world");
    CHECK(out.joined() == r.text);
  }
  SECTION("a character cut by EOS becomes U+FFFD at the flush") {
    m.next = {{w_hello, w_world}, {w_world, byte_tok(0xE2)}, {byte_tok(0xE2), byte_tok(0x82)},
              {byte_tok(0x82), eos}};
    fake_sequence seq;
    collector out;
    const auto r = arx::generate(m, seq, tok, std::span<const token_id>(prompt), arx::greedy{},
                                 out);
    CHECK(r.reason == arx::stop_reason::eos);
    CHECK(r.text == " world\xef\xbf\xbd");
    CHECK(out.chunks == std::vector<std::string>{" world", "\xef\xbf\xbd"});
  }
  SECTION("random byte streams: every chunk is valid UTF-8, chunks join to the text") {
    // A table mixing byte tokens (lead and continuation bytes) and words.
    std::uint32_t state = 12345;
    auto rnd = [&] { return state = state * 1664525u + 1013904223u; };
    for (int trial = 0; trial < 50; ++trial) {
      m.next.clear();
      for (token_id t = 0; t < n_vocab; ++t) {
        const std::uint32_t x = rnd() >> 8;
        m.next[t] = x % 3 == 0 ? w_world + token_id(x % 7) : byte_tok(int(x % 256));
      }
      m.next[eos] = w_the;
      fake_sequence seq;
      collector out;
      const auto r = arx::generate(m, seq, tok, std::span<const token_id>(prompt), arx::greedy{},
                                   out, opts(40, {}, false));
      for (const auto& c : out.chunks) CHECK(arx::utf8::first_invalid(c) == std::string::npos);
      CHECK(out.joined() == r.text);
      CHECK(r.tokens.size() == 40);
    }
  }
}

TEST_CASE("generate takes stateful selectors by reference and void or bool on_text",
          "[generate]") {
  const auto& tok = tokenizer();
  fake_model m;
  const ids prompt = {bos};
  // A selector ignoring the logits: Hello, world, Hello, world, ...
  struct alternating {
    int calls = 0;
    std::size_t width = 0;
    token_id operator()(std::span<const float> row) {
      width = row.size();
      return ++calls % 2 ? w_hello : w_world;
    }
  } sel;
  fake_sequence seq;
  std::string streamed;
  const auto r = arx::generate(m, seq, tok, std::span<const token_id>(prompt), sel,
                               [&](std::string_view s) -> bool {
                                 streamed += s;
                                 return true;
                               },
                               opts(4));
  CHECK(sel.calls == 4);  // the caller's object was used, not a copy
  CHECK(sel.width == std::size_t(n_vocab));
  CHECK(r.tokens == ids{w_hello, w_world, w_hello, w_world});
  CHECK(streamed == " Hello world Hello world");
  CHECK(r.text == streamed);
}

TEST_CASE("generate continues a sequence that already holds tokens", "[generate]") {
  const auto& tok = tokenizer();
  fake_model m;
  m.next = {{w_hello, w_world}, {w_world, eos}};
  fake_sequence seq;
  seq.tokens = {bos, w_the};
  collector out;
  const ids prompt = {w_hello};
  const auto r = arx::generate(m, seq, tok, std::span<const token_id>(prompt), arx::greedy{}, out);
  CHECK(r.text == " world");
  CHECK(seq.tokens == ids{bos, w_the, w_hello, w_world});
  CHECK(m.batches == std::vector<std::size_t>{1, 1});
}

TEST_CASE("generate propagates a selector's bad id as invalid_argument", "[generate]") {
  const auto& tok = tokenizer();
  fake_model m;
  fake_sequence seq;
  collector out;
  const ids prompt = {bos};
  REQUIRE_THROWS_TYPED(arx::generate(m, seq, tok, std::span<const token_id>(prompt),
                                     [](std::span<const float>) { return token_id(n_vocab); },
                                     out),
                       arx::invalid_argument, Contains("267"));
  // prompt ids are checked before anything is evaluated
  const ids bad = {bos, token_id(-3)};
  REQUIRE_THROWS_AS(arx::generate(m, seq, tok, std::span<const token_id>(bad), arx::greedy{}, out),
                    arx::invalid_argument);
}

// ---- with the real transformer (a tiny random llama from tests/unit/model/tiny_llama.hpp) ----

namespace {

template <class KV>
arx::transformer<KV> tiny_model(std::int64_t n_ctx) {
  tiny::params p;
  p.n_vocab = n_vocab;  // the test vocab's size, so the tokenizer above fits the model
  p.n_ctx = n_ctx;
  return arx::transformer<KV>(arx::llama_weights::from_file(tiny::build(p)));
}

// Greedy by hand: forward the prompt, then argmax (first maximum) and one forward per token.
template <class KV>
ids greedy_by_hand(const arx::transformer<KV>& model, const ids& prompt, int n) {
  auto seq = model.new_sequence();
  ids out;
  auto r = model.forward(seq, prompt);
  for (int i = 0; i < n; ++i) {
    const auto row = r.logits.row(r.logits.shape(0) - 1);
    out.push_back(token_id(std::max_element(row.begin(), row.end()) - row.begin()));
    if (i + 1 < n) r = model.forward(seq, std::span<const token_id>(&out.back(), 1));
  }
  return out;
}

}  // namespace

TEMPLATE_TEST_CASE("generate drives arx::transformer like a hand-written greedy loop",
                   "[generate][transformer]", float, arx::f16) {
  const auto& tok = tokenizer();
  const auto model = tiny_model<TestType>(32);
  const ids prompt = {bos, w_hello, w_world};
  const ids expected = greedy_by_hand(model, prompt, 12);

  auto seq = model.new_sequence();
  collector out;
  const auto r = arx::generate(model, seq, tok, prompt, arx::greedy{}, out, opts(12, {}, false));
  CHECK(r.reason == arx::stop_reason::max_tokens);
  CHECK(r.tokens == expected);
  CHECK(seq.size() == 3 + 12 - 1);
  CHECK(out.joined() == r.text);
  CHECK(arx::utf8::first_invalid(r.text) == std::string::npos);

  // A small context: it fills up (not an error) ...
  auto small = model.new_sequence(8);
  const auto f = arx::generate(model, small, tok, prompt, arx::greedy{}, out, opts(50, {}, false));
  CHECK(f.reason == arx::stop_reason::context_full);
  CHECK(f.tokens.size() == 8 - 3 + 1);
  CHECK(small.size() == 8);
  CHECK(f.tokens == ids(expected.begin(), expected.begin() + 6));
  // ... but a prompt longer than the context is the forward's context_error.
  auto tiny_ctx = model.new_sequence(2);
  REQUIRE_THROWS_AS(arx::generate(model, tiny_ctx, tok, prompt, arx::greedy{}, out),
                    arx::context_error);
  CHECK(tiny_ctx.size() == 0);
}
