// logits: evaluates a prompt in one batched forward and writes the logits of every position.
//
//   logits -m model.gguf -f prompt.txt -o out.bin [--kv f32|f16]
//
// out.bin: float32 little-endian, [n_prompt][n_vocab] row-major (row i = the logits after
// prompt token i). The prompt is tokenized with BOS when the vocab asks for it (add_bos), the
// way llama.cpp evaluates a prompt. n_prompt, n_vocab and the timing go to stderr.
// Exit codes: 0 done, 1 an error from arx (bad file, ...), 2 bad arguments.
#include "cli.hpp"

#include <arx/core/error.hpp>
#include <arx/core/half.hpp>
#include <arx/io/gguf.hpp>
#include <arx/model/transformer.hpp>
#include <arx/tokenizer/tokenizer.hpp>

#include <bit>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

void usage(std::FILE* out) {
  std::fputs(
      "usage: logits -m MODEL.gguf (-f FILE | -p TEXT) -o OUT.bin [--kv f32|f16] [--no-bos]\n"
      "Evaluates the prompt in one forward pass and writes the logits of every prompt position\n"
      "to OUT.bin as float32 little-endian, [n_prompt][n_vocab] row-major.\n"
      "  -m, --model FILE   GGUF model (llama, qwen2, phi3, gemma, gpt2; SPM or BPE vocab)\n"
      "  -f, --file FILE    the prompt is FILE's bytes, exactly as they are\n"
      "  -p, --prompt TEXT  the prompt text\n"
      "  -o, --output FILE  where to write the logits\n"
      "      --kv f32|f16   KV cache element type (default f32)\n"
      "      --no-bos       do not add the BOS token even if the model asks for it\n"
      "  -h, --help         show this text\n"
      "Exit status: 0 success, 1 error (message on stderr), 2 bad arguments.\n",
      out);
}

using arx_cli::usage_error;

struct options {
  std::string model, prompt, file, output, kv = "f32";
  bool have_prompt = false, have_file = false, no_bos = false;
};

bool parse(int argc, char** argv, options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) throw usage_error{"option " + std::string(a) + " needs a value"};
      return argv[++i];
    };
    if (a == "-h" || a == "--help") return false;
    if (a == "-m" || a == "--model") o.model = value();
    else if (a == "-f" || a == "--file") o.file = value(), o.have_file = true;
    else if (a == "-p" || a == "--prompt") o.prompt = value(), o.have_prompt = true;
    else if (a == "-o" || a == "--output") o.output = value();
    else if (a == "--kv") o.kv = value();
    else if (a == "--no-bos") o.no_bos = true;
    else throw usage_error{"unexpected argument '" + std::string(a) + "'"};
  }
  if (o.model.empty()) throw usage_error{"no model given (-m FILE)"};
  if (o.have_prompt == o.have_file) throw usage_error{"give the prompt with either -p or -f"};
  if (o.output.empty()) throw usage_error{"no output file given (-o FILE)"};
  if (o.kv != "f32" && o.kv != "f16") throw usage_error{"--kv must be f32 or f16, got '" + o.kv + "'"};
  return true;
}

template <class KV>
void run(const options& o) {
  const auto model = arx::transformer<KV>::load(o.model);
  const auto tok = arx::tokenizer::from_gguf(model.weights().file());
  std::fprintf(stderr, "arx built for %s\n", arx::simd_target);
  const std::string text = o.have_file ? arx_cli::read_file(o.file) : o.prompt;
  const auto ids = tok.encode(text, tok.vocab().add_bos() && !o.no_bos);
  if (ids.empty()) throw arx::invalid_argument("the prompt is empty (and no BOS is added)");
  const auto n = std::int64_t(ids.size());
  const std::int64_t n_vocab = model.config().n_vocab;

  auto seq = model.new_sequence(n);  // exactly the prompt (> n_ctx_train: invalid_argument)
  const auto t0 = std::chrono::steady_clock::now();
  const auto r = model.forward(seq, ids, arx::forward_request{arx::rows::all, arx::rows::none});
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (r.logits.shape(0) != n || r.logits.shape(1) != n_vocab)
    throw arx::shape_error("forward returned logits of shape " + r.logits.shape().str() +
                           ", expected [" + std::to_string(n) + ", " + std::to_string(n_vocab) +
                           "]");

  std::vector<float> buf(std::size_t(n * n_vocab));
  for (std::int64_t i = 0; i < n; ++i) {
    const auto row = r.logits.row(i);
    std::memcpy(buf.data() + i * n_vocab, row.data(), row.size() * sizeof(float));
  }
  if constexpr (std::endian::native == std::endian::big) {
    for (float& f : buf) {
      const auto u = std::bit_cast<std::uint32_t>(f);
      f = std::bit_cast<float>((u >> 24) | ((u >> 8) & 0xff00u) | ((u << 8) & 0xff0000u) | (u << 24));
    }
  }
  std::FILE* f = std::fopen(o.output.c_str(), "wb");
  if (!f) throw arx::io_error(o.output, std::strerror(errno));
  const bool ok = std::fwrite(buf.data(), sizeof(float), buf.size(), f) == buf.size();
  if (std::fclose(f) != 0 || !ok) throw arx::io_error(o.output, "write failed");

  std::fprintf(stderr, "n_prompt %lld, n_vocab %lld: %zu bytes written to %s\n", (long long)n,
               (long long)n_vocab, buf.size() * sizeof(float), o.output.c_str());
  if (s > 0)
    std::fprintf(stderr, "prompt: %lld tokens, %.2f ms, %.2f tokens/s\n", (long long)n, s * 1e3,
                 double(n) / s);
}

}  // namespace

int main(int argc, char** argv) {
  return arx_cli::main<options>("logits", argc, argv, parse, usage, [](const options& o) {
    if (o.kv == "f16")
      run<arx::f16>(o);
    else
      run<float>(o);
    return 0;
  });
}
