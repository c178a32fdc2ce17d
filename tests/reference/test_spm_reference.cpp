// The SentencePiece tokenizer against llama.cpp: every case of its llama-spm tokenizer suite, and
// the prompts, pieces and detokenized text of the golden runs of every SentencePiece model.
#include <catch2/catch.hpp>

#include <arx/io/gguf.hpp>
#include <arx/tokenizer/spm.hpp>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "reference/json.hpp"
#include "reference/reference.hpp"

namespace {

std::string read_all(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  REQUIRE(in);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

using arx_test::json;
using arx_test::parse_json;

std::vector<std::int32_t> ids_of(const json& a) {
  std::vector<std::int32_t> out;
  for (const auto& x : a.items) out.push_back(std::int32_t(x.num));
  return out;
}

std::string from_hex(const std::string& h) {
  std::string out;
  for (std::size_t i = 0; i + 1 < h.size(); i += 2)
    out += char(std::stoi(h.substr(i, 2), nullptr, 16));
  return out;
}

std::string show_ids(const std::vector<std::int32_t>& ids) {
  std::ostringstream o;
  for (auto id : ids) o << id << ' ';
  return o.str();
}

// Invalid UTF-8 replaced by U+FFFD per maximal subpart (as Python, which wrote the JSON, does).
std::string sanitized(const std::string& s) {
  std::string out;
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  for (std::size_t i = 0; i < s.size();) {
    std::size_t len = 0;
    if (arx::utf8::classify(p + i, s.size() - i, len) == arx::utf8::status::valid)
      out.append(s, i, len);
    else
      out += "\xef\xbf\xbd";
    i += len;
  }
  return out;
}

}  // namespace

TEST_CASE("spm tokenizer passes the llama-spm suite of llama.cpp", "[tokenizer][spm][reference]") {
  const auto dir = arx_test::reference_dir() / "vocab";
  const auto tok =
      arx::spm_tokenizer::from_gguf(arx::gguf::open((dir / "ggml-vocab-llama-spm.gguf").string()));
  CHECK(tok.vocab().size() == 32000);

  const auto suite = arx_test::read_vocab_suite("ggml-vocab-llama-spm.gguf");
  const auto& cases = suite.cases;
  const auto& expected = suite.expected;
  REQUIRE(cases.size() == 46);
  REQUIRE(expected.size() == cases.size());

  std::size_t passed = 0;
  for (std::size_t k = 0; k < cases.size(); ++k) {
    const auto got = tok.encode(cases[k], false);
    INFO("case " << k << " \"" << arx::gguf::escape(cases[k], 200) << "\"\n got      "
                 << show_ids(got) << "\n expected " << show_ids(expected[k]));
    CHECK(got == expected[k]);
    passed += got == expected[k];
    // SentencePiece round trip: without BOS the leading space prefix is stripped again.
    CHECK(tok.decode(got) == cases[k]);
  }
  WARN("llama-spm suite: " << passed << "/" << cases.size() << " cases agree with llama.cpp");
  CHECK(passed == cases.size());
}

TEST_CASE("spm tokenizer reproduces the golden prompts", "[tokenizer][spm][reference]") {
  const auto root = arx_test::reference_dir();
  std::map<std::string, std::unique_ptr<arx::spm_tokenizer>> tokenizers;
  std::size_t checked = 0, passed = 0, skipped = 0;
  for (const auto& d : std::filesystem::directory_iterator(root / "golden")) {
    if (!d.is_directory() || d.path().filename() == "prompts") continue;
    const std::string model_name = d.path().filename().string();
    const auto model_path = root / "models" / (model_name + ".gguf");
    const auto alt_path = root / "models" / (model_name + ".f32.gguf");
    const auto path = std::filesystem::exists(model_path) ? model_path : alt_path;
    REQUIRE(std::filesystem::exists(path));
    const auto file = arx::gguf::open(path.string());
    if (file.get_or("tokenizer.ggml.model", "llama") != std::string_view("llama")) {
      ++skipped;  // byte-level BPE, not this tokenizer
      continue;
    }
    const arx::spm_tokenizer tok = arx::spm_tokenizer::from_gguf(file);
    for (const auto& js : arx_test::reference_files("golden/" + model_name, ".json")) {
      const json g = parse_json(read_all(js));
      INFO(js.string());
      const std::string prompt = g["prompt"].str;
      const bool add_bos = g["tokenize"]["add_special"].num != 0 && tok.vocab().add_bos();
      CHECK(add_bos == (g["tokenize"]["vocab_add_bos"].num != 0));
      const auto want = ids_of(g["prompt_ids"]);
      const auto got = tok.encode(prompt, add_bos);
      INFO("got " << show_ids(got) << " expected " << show_ids(want));
      bool ok = got == want;
      CHECK(got == want);

      // Every piece, byte for byte (llama.cpp printed them with special tokens rendered).
      const auto greedy = ids_of(g["greedy_ids"]);
      for (std::size_t i = 0; i < want.size(); ++i) {
        const bool same = tok.piece(want[i], true) == from_hex(g["prompt_pieces_hex"].items[i].str);
        CHECK(same);
        ok = ok && same;
      }
      for (std::size_t i = 0; i < greedy.size(); ++i) {
        const bool same = tok.piece(greedy[i], true) == from_hex(g["greedy_pieces_hex"].items[i].str);
        CHECK(same);
        ok = ok && same;
      }

      // llama.cpp's detokenization of prompt + generation (BOS consumes the space strip, so it
      // starts with " " + prompt); the JSON holds it with invalid UTF-8 as U+FFFD.
      std::vector<std::int32_t> all = want;
      all.insert(all.end(), greedy.begin(), greedy.end());
      const std::string full = tok.decode(all);
      CHECK(sanitized(full) == g["full_detokenized"].str);
      ok = ok && sanitized(full) == g["full_detokenized"].str;
      const std::string prompt_text = tok.decode(want);
      const std::string expect_prompt = (tok.vocab().add_space_prefix() ? " " : "") + prompt;
      if (g["full_detokenized"].str.rfind(expect_prompt, 0) == 0) {
        CHECK(prompt_text == expect_prompt);
        ok = ok && prompt_text == expect_prompt;
      }

      // The streaming detokenizer yields the same text, valid UTF-8 at every step.
      arx::detokenizer stream(tok);
      std::string streamed;
      for (auto id : all) {
        const std::string part = stream.push(id);
        CHECK(arx::utf8::first_invalid(part) == std::string_view::npos);
        streamed += part;
      }
      streamed += stream.flush();
      CHECK(streamed == sanitized(full));
      ok = ok && streamed == sanitized(full);

      ++checked;
      passed += ok;
    }
  }
  WARN("golden prompts: " << passed << "/" << checked << " agree with llama.cpp (" << skipped
                          << " BPE model folders skipped)");
  CHECK(checked > 0);
  CHECK(passed == checked);
}
