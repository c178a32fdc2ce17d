// The GGUF reader on the llama.cpp-made files of the reference folder: every file opens, facts
// stated independently in the folder's README hold, and every model survives a rewrite through
// gguf::writer with identical metadata and tensor bytes.
#include <catch2/catch.hpp>

#include <arx/io/gguf.hpp>
#include <arx/io/gguf_writer.hpp>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "reference/reference.hpp"

namespace gguf = arx::gguf;

namespace {

std::string model(const std::string& name) {
  return (arx_test::reference_dir() / "models" / name).string();
}
std::string vocab(const std::string& name) {
  return (arx_test::reference_dir() / "vocab" / name).string();
}

// Metadata equal in order, keys, types and values (compared as raw bytes and strings).
void check_same_metadata(const gguf::file& a, const gguf::file& b) {
  REQUIRE(a.metadata().size() == b.metadata().size());
  for (std::size_t i = 0; i < a.metadata().size(); ++i) {
    const auto& x = a.metadata()[i];
    const auto& y = b.metadata()[i];
    INFO("metadata #" << i << " '" << std::string(x.key) << "'");
    REQUIRE(x.key == y.key);
    REQUIRE(x.value.type() == y.value.type());
    REQUIRE(x.value.array_type() == y.value.array_type());
    REQUIRE(x.value.size() == y.value.size());
    const auto xb = x.value.bytes(), yb = y.value.bytes();  // empty for string arrays
    CHECK(std::equal(xb.begin(), xb.end(), yb.begin(), yb.end()));
    if (auto xs = x.value.as_array<std::string_view>()) {
      const auto ys = *y.value.as_array<std::string_view>();
      CHECK(std::equal(xs->begin(), xs->end(), ys.begin(), ys.end()));
    }
  }
}

void check_same_tensors(const gguf::file& a, const gguf::file& b) {
  REQUIRE(a.tensors().size() == b.tensors().size());
  for (std::size_t i = 0; i < a.tensors().size(); ++i) {
    const auto& x = a.tensors()[i];
    const auto& y = b.tensors()[i];
    INFO("tensor '" << x.name << "'");
    REQUIRE(x.name == y.name);
    CHECK(x.type == y.type);
    CHECK(x.shape == y.shape);
    REQUIRE(x.nbytes == y.nbytes);
    CHECK(std::memcmp(a.tensor_bytes(x).data(), b.tensor_bytes(y).data(), x.nbytes) == 0);
  }
}

}  // namespace

TEST_CASE("gguf reference: every .gguf under models/ and vocab/ opens", "[io][gguf]") {
  auto files = arx_test::reference_files("models", ".gguf");
  const auto vocabs = arx_test::reference_files("vocab", ".gguf");
  files.insert(files.end(), vocabs.begin(), vocabs.end());
  REQUIRE(files.size() >= 20);  // the README lists 20 models and 2 vocabularies
  for (const auto& path : files) {
    INFO(path.string());
    const auto f = gguf::open(path.string());
    CHECK(f.version() == 3);
    CHECK(f.contains("general.architecture"));
    CHECK(f.contains("tokenizer.ggml.tokens"));
    for (const auto& t : f.tensors()) CHECK(f.tensor(t).nbytes() == t.nbytes);
  }
}

TEST_CASE("gguf reference: stories260K holds the facts its README states", "[io][gguf]") {
  const auto f = gguf::open(model("stories260K.gguf"));
  CHECK(f.get<std::string_view>("general.architecture") == "llama");
  CHECK(f.get<std::uint32_t>("llama.embedding_length") == 64);
  CHECK(f.get<std::uint32_t>("llama.block_count") == 5);
  CHECK(f.get<std::uint32_t>("llama.attention.head_count") == 8);
  CHECK(f.get<std::uint32_t>("llama.attention.head_count_kv") == 4);
  CHECK(f.get<std::uint32_t>("llama.feed_forward_length") == 172);
  CHECK(f.get<std::uint32_t>("llama.context_length") == 512);
  CHECK(f.get<std::string_view>("tokenizer.ggml.model") == "llama");
  CHECK(f.get_array<std::string_view>("tokenizer.ggml.tokens").size() == 512);
  CHECK(f.get_array<float>("tokenizer.ggml.scores").size() == 512);
  for (const auto& t : f.tensors()) CHECK(t.type == arx::ggml_type::f32);
  const auto emb = f.tensor_as<float>("token_embd.weight");
  CHECK(emb.shape() == arx::shape_t{512, 64});
  // output.weight is an explicit copy of token_embd.weight
  const auto out = f.tensor_as<float>("output.weight");
  REQUIRE(out.shape() == emb.shape());
  CHECK(std::memcmp(out.data(), emb.data(), 512 * 64 * sizeof(float)) == 0);
  CHECK(f.find_tensor("blk.4.ffn_down.weight") != nullptr);
  CHECK(f.find_tensor("blk.5.ffn_down.weight") == nullptr);
  CHECK(f.tensor("blk.0.ffn_gate.weight").shape() == arx::shape_t{172, 64});
}

TEST_CASE("gguf reference: tiny-q files carry the weight types their README names",
          "[io][gguf]") {
  {
    const auto f = gguf::open(model("tiny-q.q8_0.gguf"));
    CHECK(f.get<std::uint32_t>("llama.embedding_length") == 256);
    for (const auto& t : f.tensors()) {
      INFO(t.name);
      const bool norm = t.name.find("norm") != std::string::npos;
      CHECK(t.type == (norm ? arx::ggml_type::f32 : arx::ggml_type::q8_0));
    }
    // [512, 256] in Q8_0: 512 rows of 8 blocks of 34 bytes
    CHECK(f.find_tensor("token_embd.weight")->nbytes == 512 * 8 * 34);
    CHECK(f.tensor_as<arx::block_q8_0>("blk.0.attn_q.weight").shape() ==
          arx::shape_t{256, 256});
  }
  {
    const auto f = gguf::open(model("tiny-q.q4_k_m.gguf"));
    bool q4k = false, q6k = false;
    for (const auto& t : f.tensors()) {
      q4k |= t.type == arx::ggml_type::q4_k;
      q6k |= t.type == arx::ggml_type::q6_k;
      if (t.name.find("norm") != std::string::npos) CHECK(t.type == arx::ggml_type::f32);
    }
    CHECK(q4k);
    CHECK(q6k);
    for (const char* name : {"output.weight", "blk.1.attn_v.weight", "blk.1.ffn_down.weight"}) {
      INFO(name);
      CHECK(f.find_tensor(name)->type == arx::ggml_type::q6_k);
    }
    // K-quants: 256 values per block, Q4_K 144 bytes, Q6_K 210 bytes per block
    CHECK(f.find_tensor("token_embd.weight")->nbytes == 512 * 144);
    CHECK(f.find_tensor("output.weight")->nbytes == 512 * 210);
    CHECK(f.tensor("token_embd.weight").nbytes() == 512 * 144);
    CHECK_THROWS_AS(f.tensor_as<arx::block_q8_0>("token_embd.weight"), arx::unsupported_error);
  }
}

TEST_CASE("gguf reference: tiny-gpt2 stores F16 embeddings, vocabularies their sizes",
          "[io][gguf]") {
  const auto g = gguf::open(model("tiny-gpt2.gguf"));
  CHECK(g.get<std::string_view>("general.architecture") == "gpt2");
  CHECK(g.find_tensor("token_embd.weight")->type == arx::ggml_type::f16);
  CHECK(g.find_tensor("output.weight")->type == arx::ggml_type::f16);
  CHECK(g.tensor_as<arx::f16>("token_embd.weight").shape() == arx::shape_t{50257, 64});
  CHECK(g.get_array<std::string_view>("tokenizer.ggml.tokens").size() == 50257);

  const auto bpe = gguf::open(model("tiny-qwen2-bpe.f32.gguf"));
  CHECK(bpe.get<std::string_view>("tokenizer.ggml.pre") == "qwen2");
  CHECK(bpe.get_array<std::string_view>("tokenizer.ggml.tokens").size() == 50257);
  CHECK(gguf::open(model("tiny-qwen2.f32.gguf")).find_tensor("output.weight") == nullptr);

  const auto spm = gguf::open(vocab("ggml-vocab-llama-spm.gguf"));
  CHECK(spm.get<std::string_view>("tokenizer.ggml.model") == "llama");
  CHECK(spm.get_array<std::string_view>("tokenizer.ggml.tokens").size() == 32000);
  CHECK(spm.tensors().empty());
  const auto gpt2 = gguf::open(vocab("ggml-vocab-gpt-2.gguf"));
  CHECK(gpt2.get<std::string_view>("tokenizer.ggml.model") == "gpt2");
  CHECK(gpt2.get_array<std::string_view>("tokenizer.ggml.tokens").size() == 50257);
}

TEST_CASE("gguf reference: every model rewritten through the writer reads back identically",
          "[io][gguf]") {
  const auto files = arx_test::reference_files("models", ".gguf");
  REQUIRE(!files.empty());
  for (const auto& path : files) {
    INFO(path.string());
    const auto original = gguf::open(path.string());
    gguf::writer w(original.alignment());
    for (const auto& e : original.metadata()) w.set(e.key, e.value);
    for (const auto& t : original.tensors()) w.add_tensor(original.tensor(t));
    const auto bytes = w.to_bytes();
    const auto copy = gguf::file::from_bytes(bytes, path.string() + " (rewritten)");
    CHECK(copy.alignment() == original.alignment());
    check_same_metadata(original, copy);
    check_same_tensors(original, copy);
    // llama.cpp lays files out as the writer does (metadata, directory, tensors each padded to
    // the alignment), so the rewrite is the same file byte for byte
    CHECK(bytes.size() == original.size());
    CHECK((bytes.size() == original.size() &&
           std::memcmp(bytes.data(), original.bytes().data(), bytes.size()) == 0));
  }
}
