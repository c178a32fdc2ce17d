// perplexity: the perplexity of a text file under a model, by llama-perplexity's convention
// (arx/eval/perplexity.hpp: chunks of -c tokens, BOS first in each chunk when the vocab adds BOS,
// only the second half of each chunk scored), so the final line can be compared with llama.cpp's.
//
//   perplexity -m model.gguf -f text.txt [-c 512] [-b N] [--chunks N] [-t N] [--kv f32|f16]
//
// stdout: the running estimate after each chunk ("[1]12.3456,[2]11.9876,...") and then
// "Final estimate: PPL = <value> +/- <error>". stderr: the model, token counts and timing.
// Exit codes: 0 done, 1 an error from arx (bad file, text too short, ...), 2 bad arguments.
#include "cli.hpp"

#include <arx/core/error.hpp>
#include <arx/core/half.hpp>
#include <arx/core/thread_pool.hpp>
#include <arx/eval/perplexity.hpp>
#include <arx/model/transformer.hpp>
#include <arx/tokenizer/tokenizer.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

void usage(std::FILE* out) {
  std::fputs(
      "usage: perplexity -m MODEL.gguf -f TEXT.txt [-c N] [-b N] [--chunks N] [-t N]\n"
      "                  [--kv f32|f16]\n"
      "Perplexity of the text by llama-perplexity's convention: the tokens are cut into chunks\n"
      "of N tokens (BOS first in each chunk when the model's vocabulary adds BOS) and the second\n"
      "half of each chunk is scored. Prints the running estimate per chunk and, last,\n"
      "'Final estimate: PPL = <value> +/- <error>'.\n"
      "  -m, --model FILE   GGUF model\n"
      "  -f, --file FILE    the text (its bytes, tokenized once)\n"
      "  -c, --ctx-size N   tokens per chunk (default 512; the text needs at least 2N tokens)\n"
      "  -b, --batch-size N tokens per forward pass (default: N of -c)\n"
      "      --chunks N     score at most N chunks (default: all)\n"
      "  -t, --threads N    threads (default: the hardware's, at most 8)\n"
      "      --kv f32|f16   KV cache element type (default f32)\n"
      "  -h, --help         show this text\n"
      "Exit status: 0 success, 1 error (message on stderr), 2 bad arguments.\n",
      out);
}

using arx_cli::usage_error;

struct options {
  std::string model, file, kv = "f32";
  std::int64_t n_ctx = 512, n_batch = 0, chunks = -1, threads = 0;
};

bool parse(int argc, char** argv, options& o) {
  const arx_cli::option_reader args{argc, argv};
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "-h" || a == "--help") return false;
    if (a == "-m" || a == "--model") o.model = args.value(i);
    else if (a == "-f" || a == "--file") o.file = args.value(i);
    else if (a == "-c" || a == "--ctx-size") o.n_ctx = args.integer(i);
    else if (a == "-b" || a == "--batch-size") o.n_batch = args.integer(i);
    else if (a == "--chunks") o.chunks = args.integer(i);
    else if (a == "-t" || a == "--threads") o.threads = args.integer(i);
    else if (a == "--kv") o.kv = args.value(i);
    else throw usage_error{"unexpected argument '" + std::string(a) + "'"};
  }
  if (o.model.empty()) throw usage_error{"no model given (-m FILE)"};
  if (o.file.empty()) throw usage_error{"no text given (-f FILE)"};
  if (o.n_ctx < 2) throw usage_error{"-c must be at least 2, got " + std::to_string(o.n_ctx)};
  if (o.n_batch < 0) throw usage_error{"-b must be positive, got " + std::to_string(o.n_batch)};
  if (o.chunks == 0) throw usage_error{"--chunks must be positive"};
  if (o.threads < 0 || o.threads > 256)
    throw usage_error{"-t must be in [1, 256], got " + std::to_string(o.threads)};
  if (o.kv != "f32" && o.kv != "f16")
    throw usage_error{"--kv must be f32 or f16, got '" + o.kv + "'"};
  return true;
}

template <class KV>
int run(const options& o) {
  const auto model = arx::transformer<KV>::load(o.model);
  const auto tok = arx::tokenizer::from_gguf(model.weights().file());
  const int threads =
      o.threads > 0 ? int(o.threads)
                    : int(std::min(8u, std::max(1u, std::thread::hardware_concurrency())));
  arx::thread_pool pool(threads);
  const auto t0 = std::chrono::steady_clock::now();
  const auto ids = tok.encode(arx_cli::read_file(o.file), tok.vocab().add_bos());
  const double t_tok = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  arx::perplexity_options po;
  po.n_ctx = o.n_ctx;
  po.n_batch = o.n_batch;
  po.max_chunks = o.chunks;
  po.bos = tok.vocab().add_bos() ? tok.vocab().bos() : -1;
  const std::int64_t n_chunks =
      o.chunks > 0 ? std::min<std::int64_t>(o.chunks, std::int64_t(ids.size()) / o.n_ctx)
                   : std::int64_t(ids.size()) / o.n_ctx;
  std::fprintf(stderr,
               "model: %s (%s, %lld layers, vocab %lld)\narx built for %s, %d threads, KV %s\n"
               "text: %s, %zu tokens (%.2f s to tokenize), %lld chunks of %lld, batch %lld\n",
               o.model.c_str(), model.config().arch.c_str(), (long long)model.config().n_layer,
               (long long)model.config().n_vocab, arx::simd_target, threads, o.kv.c_str(),
               o.file.c_str(), ids.size(), t_tok, (long long)n_chunks, (long long)o.n_ctx,
               (long long)(o.n_batch > 0 ? std::min(o.n_batch, o.n_ctx) : o.n_ctx));
  const auto t1 = std::chrono::steady_clock::now();
  const auto r = arx::perplexity(
      model, ids, po,
      [&](const arx::perplexity_chunk& c) {
        if (c.index == 0)
          std::fprintf(stderr, "%.2f s per chunk, about %.1f s for all\n", c.seconds,
                       c.seconds * double(c.n_chunks));
        std::printf("[%lld]%.4f,", (long long)(c.index + 1), c.running_ppl);
        std::fflush(stdout);
      },
      &pool);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
  std::printf("\nFinal estimate: PPL = %.4f +/- %.5f\n", r.ppl, r.error);
  std::fprintf(stderr, "scored %lld tokens in %.2f s (%.1f tokens/s evaluated)\n",
               (long long)r.scored, s, s > 0 ? double(r.n_chunks * o.n_ctx) / s : 0.0);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return arx_cli::main<options>("perplexity", argc, argv, parse, usage, [](const options& o) {
    return o.kv == "f16" ? run<arx::f16>(o) : run<float>(o);
  }, [] { std::printf("\n"); std::fflush(stdout); });
}
