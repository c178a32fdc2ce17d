// The byte-level BPE tokenizer against llama.cpp: every case of its gpt-2 tokenizer suite (ids
// and the round trip back to the text), the golden prompts of the BPE models (tiny-qwen2-bpe with
// the qwen2 pre-tokenizer, tiny-gpt2 with gpt-2's), and the typed errors for a pre-tokenizer arx
// does not implement and for merges that name unknown tokens.
#include <catch2/catch.hpp>

#include "throws.hpp"

#include <arx/io/gguf.hpp>
#include <arx/io/gguf_writer.hpp>
#include <arx/tokenizer/tokenizer.hpp>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "reference/json.hpp"
#include "reference/reference.hpp"

namespace {

std::string show_ids(const std::vector<std::int32_t>& ids) {
  std::ostringstream o;
  for (auto id : ids) o << id << ' ';
  return o.str();
}

/// The vocab file's metadata (no tensors) with `key` written by set(writer) instead.
template <class Set>
arx::gguf::file edited(const arx::gguf::file& f, std::string_view key, Set set) {
  arx::gguf::writer w;
  for (const auto& e : f.metadata()) {
    if (e.key == key)
      set(w);
    else
      w.set(e.key, e.value);
  }
  return arx::gguf::file::from_bytes(w.to_bytes(), "edited.gguf");
}

}  // namespace

TEST_CASE("bpe tokenizer passes the gpt-2 suite of llama.cpp", "[tokenizer][bpe][reference]") {
  const auto path = arx_test::reference_dir() / "vocab" / "ggml-vocab-gpt-2.gguf";
  const auto tok = arx::tokenizer::from_gguf(arx::gguf::open(path.string()));
  REQUIRE(tok.is_bpe());
  CHECK(tok.vocab().size() == 50257);
  CHECK_FALSE(tok.vocab().add_bos());
  const auto suite = arx_test::read_vocab_suite("ggml-vocab-gpt-2.gguf");
  REQUIRE(suite.cases.size() == 46);
  REQUIRE(suite.expected.size() == suite.cases.size());
  std::size_t passed = 0;
  for (std::size_t k = 0; k < suite.cases.size(); ++k) {
    const auto got = tok.encode(suite.cases[k], false);
    INFO("case " << k << " \"" << arx::gguf::escape(suite.cases[k], 200) << "\"\n got      "
                 << show_ids(got) << "\n expected " << show_ids(suite.expected[k]));
    CHECK(got == suite.expected[k]);
    passed += got == suite.expected[k];
    CHECK(tok.decode(got) == suite.cases[k]);  // byte-level: the round trip is exact
  }
  WARN("gpt-2 suite: " << passed << "/" << suite.cases.size() << " cases agree with llama.cpp");
  CHECK(passed == suite.cases.size());
}

TEST_CASE("bpe tokenizer reproduces the golden prompts of the BPE models",
          "[tokenizer][bpe][reference]") {
  const auto root = arx_test::reference_dir();
  std::size_t checked = 0;
  for (const auto& [model, file] : {std::pair{"tiny-qwen2-bpe", "tiny-qwen2-bpe.f32.gguf"},
                                    std::pair{"tiny-gpt2", "tiny-gpt2.gguf"}}) {
    const auto f = arx::gguf::open((root / "models" / file).string());
    const auto tok = arx::tokenizer::from_gguf(f);
    REQUIRE(tok.is_bpe());
    for (const auto& js : arx_test::reference_files(std::string("golden/") + model, ".json")) {
      std::ifstream in(js, std::ios::binary);
      const std::string text((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
      const auto g = arx_test::parse_json(text);
      std::vector<std::int32_t> want;
      for (const auto& x : g["prompt_ids"].items) want.push_back(std::int32_t(x.num));
      std::ifstream pin(root / "golden" / "prompts" / (js.stem().string() + ".txt"),
                        std::ios::binary);
      const std::string prompt((std::istreambuf_iterator<char>(pin)),
                               std::istreambuf_iterator<char>());
      CHECK(tok.vocab().add_bos() == (g["tokenize"]["vocab_add_bos"].num != 0));
      const auto got = tok.encode(prompt, tok.vocab().add_bos());
      INFO(model << "/" << js.stem().string() << ": got " << show_ids(got) << ", golden "
                 << show_ids(want));
      CHECK(got == want);
      ++checked;
    }
  }
  CHECK(checked >= 2);
}

TEST_CASE("bpe tokenizer: special tokens only with parse_special", "[tokenizer][bpe][reference]") {
  const auto path = arx_test::reference_dir() / "vocab" / "ggml-vocab-gpt-2.gguf";
  const auto tok = arx::bpe_tokenizer::from_gguf(arx::gguf::open(path.string()));
  const auto eot = tok.vocab().find("<|endoftext|>");
  REQUIRE(eot);
  const auto plain = tok.encode("Hello<|endoftext|>", false);
  const auto parsed = tok.encode("Hello<|endoftext|>", false, true);
  CHECK(plain.size() > 2);
  CHECK(parsed == std::vector<std::int32_t>{15496, *eot});
  CHECK(tok.piece(*eot).empty());
  CHECK(tok.piece(*eot, true) == "<|endoftext|>");
}

TEST_CASE("bpe tokenizer refuses what it cannot tokenize correctly",
          "[tokenizer][bpe][reference]") {
  const auto f = arx::gguf::open(
      (arx_test::reference_dir() / "vocab" / "ggml-vocab-gpt-2.gguf").string());
  {
    const auto g = edited(f, "tokenizer.ggml.pre",
                          [](auto& w) { w.set("tokenizer.ggml.pre", "deepseek-v3"); });
    REQUIRE_THROWS_TYPED(arx::tokenizer::from_gguf(g), arx::unsupported_error,
                         Catch::Contains("deepseek-v3") && Catch::Contains("edited.gguf"));
  }
  {
    const auto g = edited(f, "tokenizer.ggml.merges", [](auto& w) {
      w.set_array("tokenizer.ggml.merges", std::vector<std::string_view>{"h e", "Ġ nosuchtoken"});
    });
    REQUIRE_THROWS_TYPED(arx::tokenizer::from_gguf(g), arx::format_error,
                         Catch::Contains("merges entry 1") && Catch::Contains("nosuchtoken"));
  }
  {
    const auto g =
        edited(f, "tokenizer.ggml.model", [](auto& w) { w.set("tokenizer.ggml.model", "bert"); });
    REQUIRE_THROWS_TYPED(arx::tokenizer::from_gguf(g), arx::unsupported_error,
                         Catch::Contains("'bert'"));
  }
}
