// The bundled demo models of examples/models (kjv-target.gguf and kjv-draft.gguf), checked
// against what the training side wrote in NAME.report (export.py, PyTorch + SentencePiece):
//   * each file loads with the shape its report gives;
//   * arx tokenizes heldout.txt as SentencePiece did (token count, first ids);
//   * arx's held-out perplexity (llama-perplexity's convention, -c 256) is within 1% of PyTorch's;
//   * greedy generation is deterministic: the same tokens twice, with 1 or 2 threads, and
//     whether the prompt goes in one batch or token by token;
//   * speculative greedy with the draft equals plain greedy, and the pair agrees often enough
//     for speculation to pay (acceptance rate).
#include <catch2/catch.hpp>

#include "unit/decoding/plain_greedy.hpp"

#include <arx/core/thread_pool.hpp>
#include <arx/decoding/speculative.hpp>
#include <arx/eval/perplexity.hpp>
#include <arx/model/transformer.hpp>
#include <arx/sampling/chain.hpp>
#include <arx/sampling/truncation.hpp>
#include <arx/tokenizer/tokenizer.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace {

using model_t = arx::transformer<float>;
const std::string dir = ARX_DEMO_MODEL_DIR;

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// NAME.report: "key = value" lines ('#' starts a comment line).
std::map<std::string, std::string> report(const std::string& name) {
  std::map<std::string, std::string> r;
  std::istringstream in(read_text(dir + "/" + name + ".report"));
  for (std::string line; std::getline(in, line);) {
    const auto eq = line.find(" = ");
    if (line.empty() || line[0] == '#' || eq == std::string::npos) continue;
    r[line.substr(0, eq)] = line.substr(eq + 3);
  }
  return r;
}

std::int64_t as_int(const std::map<std::string, std::string>& r, const std::string& key) {
  INFO("report key " << key);
  REQUIRE(r.count(key) == 1);
  return std::stoll(r.at(key));
}

std::vector<std::int32_t> as_ids(const std::string& s) {
  std::vector<std::int32_t> ids;
  std::istringstream in(s);
  for (std::int32_t id; in >> id;) ids.push_back(id);
  return ids;
}

}  // namespace

TEST_CASE("demo models load, tokenize and score held-out text as their training did",
          "[models]") {
  const std::string held = read_text(dir + "/heldout.txt");
  for (const std::string name : {"kjv-target", "kjv-draft"}) {
    INFO(name);
    const auto r = report(name);
    const auto m = model_t::load(dir + "/" + name + ".gguf");
    const auto& c = m.config();
    CHECK(c.n_embd == as_int(r, "dim"));
    CHECK(c.n_layer == as_int(r, "layers"));
    CHECK(c.n_head == as_int(r, "heads"));
    CHECK(c.n_head_kv == as_int(r, "kv_heads"));
    CHECK(c.n_ff == as_int(r, "ffn"));
    CHECK(c.n_vocab == as_int(r, "vocab"));
    CHECK(c.n_ctx_train == as_int(r, "ctx"));

    const auto tok = arx::tokenizer::from_gguf(m.weights().file());
    const auto ids = tok.encode(held, true);
    CHECK(std::int64_t(ids.size()) == as_int(r, "heldout_tokens"));
    const auto first = as_ids(r.at("heldout_first_ids"));
    REQUIRE(first.size() <= ids.size());
    CHECK(std::vector<std::int32_t>(ids.begin(), ids.begin() + std::ptrdiff_t(first.size())) ==
          first);

    arx::thread_pool pool(2);
    arx::perplexity_options o;
    o.n_ctx = as_int(r, "heldout_n_ctx");
    o.bos = tok.vocab().bos();
    const auto p = arx::perplexity(m, ids, o, {}, &pool);
    const double expect = std::stod(r.at("heldout_ppl"));
    INFO("arx " << p.ppl << " over " << p.n_chunks << " chunks, PyTorch " << expect);
    CHECK(p.n_chunks == as_int(r, "heldout_chunks"));
    CHECK(std::abs(p.ppl - expect) <= 0.01 * expect);
  }
}

TEST_CASE("demo models: greedy generation is deterministic", "[models]") {
  const auto m = model_t::load(dir + "/kjv-target.gguf");
  const auto tok = arx::tokenizer::from_gguf(m.weights().file());
  const auto prompt = tok.encode("And God said unto Moses,", true);
  arx::thread_pool one(1), two(2);
  const auto a = arx_test::plain_greedy(m, prompt, 48, 0, &one);
  CHECK(arx_test::plain_greedy(m, prompt, 48, 0, &one) == a);
  CHECK(arx_test::plain_greedy(m, prompt, 48, 0, &two) == a);
  // the prompt token by token instead of one batch
  auto seq = m.new_sequence();
  seq.set_thread_pool(&two);
  arx::forward_result r;
  for (const auto t : prompt) r = m.forward(seq, std::span(&t, 1));
  std::vector<arx::token_id> b;
  while (b.size() < a.size()) {
    b.push_back(arx_test::argmax(r.logits.row(0)));
    r = m.forward(seq, std::span(&b.back(), 1));
  }
  CHECK(b == a);
  const std::string text = tok.decode(a);
  INFO(text);
  CHECK(text.size() > 48);  // words, not byte pieces or control tokens
}

TEST_CASE("demo pair: speculative greedy equals plain greedy", "[models]") {
  const auto target = model_t::load(dir + "/kjv-target.gguf");
  const auto draft = model_t::load(dir + "/kjv-draft.gguf");
  const auto tok = arx::tokenizer::from_gguf(target.weights().file());
  const auto prompt = tok.encode("In the beginning", true);
  arx::thread_pool pool(2);
  const auto plain = arx_test::plain_greedy(target, prompt, 64, 0, &pool);
  arx::sampler_chain greedy;
  greedy.add(arx::temperature{0.0f});
  for (const int gamma : {1, 4, 8}) {
    INFO("gamma " << gamma);
    arx::speculative_params sp;
    sp.draft_max = gamma;
    sp.draft_min = std::min(sp.draft_min, gamma);
    arx::speculative_decoder dec(target, greedy, arx::model_drafter<>(draft, 0, &pool), sp, 1);
    auto seq = target.new_sequence();
    seq.set_thread_pool(&pool);
    const auto res = dec.generate(seq, prompt, 64, [](arx::token_id) {});
    CHECK(res.tokens == plain);
    INFO("acceptance " << dec.stats().acceptance_rate());
    CHECK(dec.stats().acceptance_rate() > 0.3);
  }
}
