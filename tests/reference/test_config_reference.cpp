// model_config::from_gguf on the reference models: the facts stated in
// shared/reference/README.md, and qwen2 refused until it is implemented.
#include <catch2/catch.hpp>

#include "throws.hpp"

#include <arx/io/gguf.hpp>
#include <arx/model/config.hpp>

#include <string>

#include "reference/reference.hpp"


namespace {

arx::model_config load(const std::string& file) {
  return arx::model_config::from_gguf(
      arx::gguf::open((arx_test::reference_dir() / "models" / file).string()));
}

}  // namespace

TEST_CASE("model_config of stories260K", "[model][config]") {
  const auto c = load("stories260K.gguf");
  CHECK(c.arch == "llama");
  CHECK(c.n_embd == 64);
  CHECK(c.n_layer == 5);
  CHECK(c.n_head == 8);
  CHECK(c.n_head_kv == 4);
  CHECK(c.head_dim == 8);
  CHECK(c.n_ff == 172);
  CHECK(c.n_vocab == 512);
  CHECK(c.n_ctx_train == 512);
  CHECK(c.n_rot == 8);
  CHECK(c.rope_freq_base == 10000.0f);  // absent from the file: the default
  CHECK(c.rms_eps == 1e-5f);
  CHECK_FALSE(c.tied_output);  // output.weight is an explicit copy of token_embd.weight
}

TEST_CASE("model_config of tiny-llama-gqa", "[model][config]") {
  const auto c = load("tiny-llama-gqa.f32.gguf");
  CHECK(c.n_embd == 64);
  CHECK(c.n_layer == 2);
  CHECK(c.n_head == 4);
  CHECK(c.n_head_kv == 2);
  CHECK(c.head_dim == 16);
  CHECK(c.n_ff == 128);
  CHECK(c.n_vocab == 32000);
  CHECK(c.rope_freq_base == 10000.0f);
  CHECK(c.rms_eps == 1e-5f);
  CHECK_FALSE(c.tied_output);
}

TEST_CASE("model_config of every tiny-q weight type", "[model][config]") {
  for (const char* type : {"f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q2_k",
                           "q3_k_m", "q4_k_m", "q5_k_m", "q6_k"}) {
    DYNAMIC_SECTION(type) {
      const auto c = load(std::string("tiny-q.") + type + ".gguf");
      CHECK(c.n_embd == 256);
      CHECK(c.n_layer == 2);
      CHECK(c.n_head == 4);
      CHECK(c.n_head_kv == 2);
      CHECK(c.head_dim == 64);
      CHECK(c.n_ff == 768);
      CHECK(c.n_vocab == 512);
      CHECK(c.rope_freq_base == 10000.0f);
      CHECK(c.rms_eps == 1e-5f);
      CHECK_FALSE(c.tied_output);
    }
  }
}

TEST_CASE("model_config of qwen2, phi3, gemma and gpt2", "[model][config]") {
  {
    const auto c = load("tiny-qwen2.f32.gguf");
    CHECK(c.spec == &arx::qwen2_architecture);
    CHECK(c.tied_output);
    CHECK(c.rope_freq_base == 1e6f);
    CHECK(c.head_dim == 16);
  }
  {
    const auto c = load("tiny-phi3.gguf");
    CHECK(c.spec == &arx::phi3_architecture);
    CHECK(c.n_swa == 2047);
    CHECK(c.n_ff == 512);
  }
  {
    const auto c = load("tiny-gemma.gguf");
    CHECK(c.spec == &arx::gemma_architecture);
    CHECK(c.n_head_kv == 1);
    CHECK(c.head_dim == 64);
  }
  {
    const auto c = load("tiny-gpt2.gguf");
    CHECK(c.spec == &arx::gpt2_architecture);
    CHECK(c.n_ctx_train == 256);
    CHECK(c.rms_eps == Approx(1e-5f));  // from gpt2.attention.layer_norm_epsilon
  }
}
