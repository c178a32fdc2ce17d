// model_config::from_gguf on in-memory GGUF files built with gguf::writer: a valid llama config,
// then each missing key, inconsistent value and wrong tensor shape with its typed exception and a
// message naming the key or tensor (and both shapes).
#include <catch2/catch.hpp>

#include "throws.hpp"

#include <arx/io/gguf_writer.hpp>
#include <arx/model/config.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>


namespace gguf = arx::gguf;
using Catch::Contains;

namespace {

// A small llama: n_embd 16, 2 layers, 4 heads (head_dim 4), 2 KV heads, ffn 24, vocab 10.
struct spec {
  std::map<std::string, std::uint32_t> u32{
      {"llama.embedding_length", 16}, {"llama.block_count", 2},
      {"llama.attention.head_count", 4}, {"llama.attention.head_count_kv", 2},
      {"llama.feed_forward_length", 24}, {"llama.context_length", 128},
      {"llama.rope.dimension_count", 4}};
  std::string arch = "llama";
  bool with_arch = true;
  bool with_eps = true;
  bool with_tokens = true;
  std::optional<float> freq_base = 500000.0f;
  bool untied = true;
  std::map<std::string, arx::shape_t> shape_override;  // tensor name -> stored shape
  std::vector<std::string> omit_tensors;
};

// Zero-filled F32 tensors with the shapes the config implies (GGUF writer: outermost first).
gguf::file build(const spec& s) {
  gguf::writer w;
  if (s.with_arch) w.set("general.architecture", std::string_view(s.arch));
  for (const auto& [k, v] : s.u32) w.set(k, v);
  if (s.with_eps) w.set("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  if (s.freq_base) w.set("llama.rope.freq_base", *s.freq_base);
  if (s.with_tokens) {
    std::vector<std::string> toks;
    for (int i = 0; i < 10; ++i) {
      std::string tok = "t";
      tok += std::to_string(i);
      toks.push_back(tok);
    }
    w.set_array("tokenizer.ggml.tokens", toks);
  }
  arx::model_config c;  // the intended sizes, to enumerate tensors
  c.n_embd = 16, c.n_layer = 2, c.n_head = 4, c.n_head_kv = 2, c.head_dim = 4, c.n_ff = 24;
  c.n_vocab = 10, c.tied_output = !s.untied;
  c.for_each_tensor([&](const std::string& name, arx::shape_t shape) {
    for (const auto& o : s.omit_tensors)
      if (o == name) return;
    if (auto it = s.shape_override.find(name); it != s.shape_override.end()) shape = it->second;
    std::vector<std::byte> bytes(std::size_t(shape.numel()) * sizeof(float));
    w.add_tensor(name, arx::ggml_type::f32, shape, bytes);
  });
  return gguf::file::from_bytes(w.to_bytes(), "test.gguf");
}

}  // namespace

TEST_CASE("model_config parses a valid llama file", "[model][config]") {
  const spec s;
  const auto c = arx::model_config::from_gguf(build(s));
  CHECK(c.arch == "llama");
  CHECK(c.n_embd == 16);
  CHECK(c.n_layer == 2);
  CHECK(c.n_head == 4);
  CHECK(c.n_head_kv == 2);
  CHECK(c.head_dim == 4);
  CHECK(c.n_ff == 24);
  CHECK(c.n_rot == 4);
  CHECK(c.n_ctx_train == 128);
  CHECK(c.n_vocab == 10);
  CHECK(c.rope_freq_base == 500000.0f);
  CHECK(c.rms_eps == 1e-5f);
  CHECK_FALSE(c.tied_output);
}

TEST_CASE("model_config defaults and tied output", "[model][config]") {
  spec s;
  s.u32.erase("llama.attention.head_count_kv");
  s.u32.erase("llama.rope.dimension_count");
  s.freq_base.reset();
  s.untied = false;
  // without head_count_kv every head has its own K/V: attn_k/attn_v are {n_head*head_dim, n_embd}
  s.shape_override["blk.0.attn_k.weight"] = {16, 16};
  s.shape_override["blk.0.attn_v.weight"] = {16, 16};
  s.shape_override["blk.1.attn_k.weight"] = {16, 16};
  s.shape_override["blk.1.attn_v.weight"] = {16, 16};
  const auto c = arx::model_config::from_gguf(build(s));
  CHECK(c.n_head_kv == 4);
  CHECK(c.n_rot == 4);
  CHECK(c.rope_freq_base == 10000.0f);
  CHECK(c.tied_output);
}

TEST_CASE("model_config prefers llama.vocab_size over the token list", "[model][config]") {
  spec s;
  s.u32["llama.vocab_size"] = 12;
  s.shape_override["token_embd.weight"] = {12, 16};
  s.shape_override["output.weight"] = {12, 16};
  CHECK(arx::model_config::from_gguf(build(s)).n_vocab == 12);
}

TEST_CASE("model_config missing keys are key_errors naming the key", "[model][config]") {
  for (const char* key :
       {"llama.embedding_length", "llama.block_count", "llama.attention.head_count",
        "llama.feed_forward_length", "llama.context_length"}) {
    DYNAMIC_SECTION(key) {
      spec s;
      s.u32.erase(key);
      REQUIRE_THROWS_TYPED(arx::model_config::from_gguf(build(s)), arx::key_error,
                             Contains(key) && Contains("test.gguf"));
    }
  }
  SECTION("architecture") {
    spec s;
    s.with_arch = false;
    REQUIRE_THROWS_TYPED(arx::model_config::from_gguf(build(s)), arx::key_error,
                           Contains("general.architecture"));
  }
  SECTION("rms epsilon") {
    spec s;
    s.with_eps = false;
    REQUIRE_THROWS_TYPED(arx::model_config::from_gguf(build(s)), arx::key_error,
                           Contains("llama.attention.layer_norm_rms_epsilon"));
  }
  SECTION("vocabulary size") {
    spec s;
    s.with_tokens = false;
    REQUIRE_THROWS_TYPED(arx::model_config::from_gguf(build(s)), arx::key_error,
                           Contains("tokenizer.ggml.tokens"));
  }
}

TEST_CASE("model_config ill-typed keys are key_errors naming the key", "[model][config]") {
  gguf::writer w;
  w.set("general.architecture", "llama");
  w.set("llama.embedding_length", std::int32_t(-16));  // signed and negative: not a size
  const auto f = gguf::file::from_bytes(w.to_bytes(), "test.gguf");
  REQUIRE_THROWS_TYPED(arx::model_config::from_gguf(f), arx::key_error,
                         Contains("llama.embedding_length"));

  gguf::writer w2;
  w2.set("general.architecture", "llama");
  w2.set("llama.embedding_length", "sixteen");
  REQUIRE_THROWS_TYPED(
      arx::model_config::from_gguf(gguf::file::from_bytes(w2.to_bytes(), "test.gguf")),
      arx::key_error, Contains("llama.embedding_length"));
}

TEST_CASE("model_config inconsistent values are shape_errors naming keys and values",
          "[model][config]") {
  SECTION("head_count does not divide embedding_length") {
    spec s;
    s.u32["llama.attention.head_count"] = 5;
    REQUIRE_THROWS_TYPED(arx::model_config::from_gguf(build(s)), arx::shape_error,
                           Contains("llama.attention.head_count = 5") &&
                               Contains("llama.embedding_length = 16"));
  }
  SECTION("head_count_kv does not divide head_count") {
    spec s;
    s.u32["llama.attention.head_count_kv"] = 3;
    REQUIRE_THROWS_TYPED(arx::model_config::from_gguf(build(s)), arx::shape_error,
                           Contains("llama.attention.head_count_kv = 3") &&
                               Contains("llama.attention.head_count = 4"));
  }
  SECTION("odd rope dimension") {
    spec s;
    s.u32["llama.rope.dimension_count"] = 3;
    REQUIRE_THROWS_TYPED(arx::model_config::from_gguf(build(s)), arx::shape_error,
                           Contains("llama.rope.dimension_count = 3"));
  }
  SECTION("rope dimension above head_dim") {
    spec s;
    s.u32["llama.rope.dimension_count"] = 6;
    REQUIRE_THROWS_TYPED(arx::model_config::from_gguf(build(s)), arx::shape_error,
                           Contains("llama.rope.dimension_count = 6") && Contains("= 4"));
  }
  for (const char* key : {"llama.embedding_length", "llama.block_count",
                          "llama.attention.head_count", "llama.attention.head_count_kv",
                          "llama.feed_forward_length", "llama.context_length"}) {
    DYNAMIC_SECTION("zero " << key) {
      spec s;
      s.u32[key] = 0;
      REQUIRE_THROWS_TYPED(arx::model_config::from_gguf(build(s)), arx::shape_error,
                             Contains(key) && Contains("is 0"));
    }
  }
}

TEST_CASE("model_config wrong tensor shapes are shape_errors naming both shapes",
          "[model][config]") {
  const std::vector<std::pair<std::string, arx::shape_t>> cases = {
      {"token_embd.weight", {10, 17}},          {"output_norm.weight", {15}},
      {"output.weight", {11, 16}},              {"blk.0.attn_norm.weight", {16, 1}},
      {"blk.1.attn_q.weight", {16, 8}},         {"blk.0.attn_k.weight", {16, 16}},
      {"blk.1.attn_v.weight", {4, 16}},         {"blk.0.attn_output.weight", {8, 16}},
      {"blk.1.ffn_norm.weight", {24}},          {"blk.0.ffn_gate.weight", {16, 24}},
      {"blk.1.ffn_up.weight", {24, 8}},         {"blk.1.ffn_down.weight", {24, 16}},
  };
  for (const auto& [name, bad] : cases) {
    DYNAMIC_SECTION(name) {
      spec s;
      s.shape_override[name] = bad;
      // the expected shape, from a valid build
      arx::shape_t want;
      {
        const auto good = build(spec{});
        want = good.find_tensor(name)->shape;
      }
      REQUIRE_THROWS_TYPED(arx::model_config::from_gguf(build(s)), arx::shape_error,
                             Contains("'" + name + "'") && Contains(bad.str()) &&
                                 Contains(want.str()));
    }
  }
}

TEST_CASE("model_config missing tensors are key_errors naming the tensor", "[model][config]") {
  for (const char* name : {"token_embd.weight", "output_norm.weight", "blk.1.ffn_down.weight",
                           "blk.0.attn_q.weight"}) {
    DYNAMIC_SECTION(name) {
      spec s;
      s.omit_tensors.push_back(name);
      REQUIRE_THROWS_TYPED(arx::model_config::from_gguf(build(s)), arx::key_error,
                             Contains(name));
    }
  }
}

TEST_CASE("model_config rejects other architectures", "[model][config]") {
  spec s;
  s.arch = "mamba";
  REQUIRE_THROWS_TYPED(arx::model_config::from_gguf(build(s)), arx::unsupported_error,
                       Contains("'mamba'") && Contains("supported: llama, qwen2, phi3, gemma"));
}
