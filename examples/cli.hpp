// examples/cli.hpp — what arx's command-line programs (examples/*, arx-bench) share: the exit
// codes and where messages go, reading option values, llama.cpp's sampling flags, reading a
// prompt file.
//
//   0  success, or --help (usage on stdout)
//   2  bad arguments: "<program>: <why>" and the usage on stderr (parse threw usage_error)
//   1  an error while running (arx::error, I/O, ...): "error: <message>" on stderr
#pragma once

#include <arx/core/error.hpp>
#include <arx/model/kv_cache.hpp>
#include <arx/sampling/params.hpp>

#include <cerrno>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>

namespace arx_cli {

/// Thrown by a program's parse() for a bad command line.
struct usage_error {
  std::string what;
};

/// Runs a program: parse(argc, argv, o) fills o and returns false for --help; usage(FILE*)
/// prints the usage; run(o) returns the exit code. before_error() runs before an error message
/// is printed (e.g. to end a progress line).
template <class Options, class Parse, class Usage, class Run, class BeforeError>
int main(const char* program, int argc, char** argv, Parse parse, Usage usage, Run run,
         BeforeError before_error) {
  Options o;
  try {
    if (!parse(argc, argv, o)) {
      usage(stdout);
      return 0;
    }
  } catch (const usage_error& e) {
    std::fprintf(stderr, "%s: %s\n", program, e.what.c_str());
    usage(stderr);
    return 2;
  }
  try {
    return run(o);
  } catch (const std::exception& e) {
    before_error();
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}

template <class Options, class Parse, class Usage, class Run>
int main(const char* program, int argc, char** argv, Parse parse, Usage usage, Run run) {
  return main<Options>(program, argc, argv, parse, usage, run, [] {});
}

/// Option values of argv, each read as its option's value (the next argument) or a usage_error
/// naming the option: `args.integer(i)` advances i past the value.
struct option_reader {
  int argc;
  char** argv;

  const char* value(int& i) const {
    if (i + 1 >= argc) throw usage_error{std::string("option ") + argv[i] + " needs a value"};
    return argv[++i];
  }
  std::int64_t integer(int& i) const {
    const char* name = argv[i];
    const char* s = value(i);
    std::int64_t v = 0;
    const char* end = s + std::strlen(s);
    const auto [p, ec] = std::from_chars(s, end, v);
    if (ec != std::errc() || p != end || p == s)
      throw usage_error{std::string("option ") + name + ": '" + s + "' is not an integer"};
    return v;
  }
  float real(int& i) const {
    const char* name = argv[i];
    const char* s = value(i);
    float v = 0;
    const char* end = s + std::strlen(s);
    const auto [p, ec] = std::from_chars(s, end, v);
    if (ec != std::errc() || p != end || p == s || !std::isfinite(v))
      throw usage_error{std::string("option ") + name + ": '" + s + "' is not a finite number"};
    return v;
  }
  std::int32_t int32(int& i) const {
    const char* name = argv[i];
    const std::int64_t v = integer(i);
    if (v < INT32_MIN || v > INT32_MAX)
      throw usage_error{std::string("option ") + name + ": " + std::to_string(v) +
                        " is out of range"};
    return std::int32_t(v);
  }
};

/// The usage lines of the sampling flags every generating program shares (after --temp).
inline constexpr const char* sampling_usage =
      "      --top-k N          top-k (default 40, 0 = off)\n"
      "      --top-p N          top-p / nucleus (default 0.95, 1.0 = off)\n"
      "      --min-p N          min-p (default 0.05, 0.0 = off)\n"
      "      --typical N        locally typical sampling, p (default 1.0 = off)\n"
      "      --top-nsigma N     top-n-sigma (default -1 = off)\n"
      "      --xtc-probability N  XTC probability (default 0.0 = off)\n"
      "      --xtc-threshold N  XTC threshold (default 0.1; > 0.5 = off)\n"
      "      --repeat-last-n N  tokens the penalties look back over (default 64, 0 = off,\n"
      "                         -1 = the whole context)\n"
      "      --repeat-penalty N repeat penalty (default 1.0 = off)\n"
      "      --frequency-penalty N  frequency penalty (default 0.0 = off)\n"
      "      --presence-penalty N   presence penalty (default 0.0 = off)\n"
      "      --dry-multiplier N DRY multiplier (default 0.0 = off)\n"
      "      --dry-base N       DRY base (default 1.75)\n"
      "      --dry-allowed-length N  DRY allowed length (default 2)\n"
      "      --dry-penalty-last-n N  DRY look-back (default -1 = the whole context, 0 = off)\n"
      "      --dry-sequence-breaker S  DRY sequence breaker (repeatable; replaces the\n"
      "                         defaults \\n : \" *; \"none\" for no breakers)\n";

/// llama.cpp's sampling flags (sampling_usage lists most of them). Reads argv[i] (and its value)
/// into sp and returns true if it is one; `breakers_set` remembers that the default DRY breakers
/// were replaced by the first --dry-sequence-breaker.
inline bool sampling_flag(const option_reader& args, int& i, arx::sampling_params& sp,
                          bool& breakers_set) {
  const std::string_view a = args.argv[i];
  if (a == "--temp") sp.temp = args.real(i);
  else if (a == "--top-k") sp.top_k = args.int32(i);
  else if (a == "--top-p") sp.top_p = args.real(i);
  else if (a == "--min-p") sp.min_p = args.real(i);
  else if (a == "--typical") sp.typical = args.real(i);
  else if (a == "--top-nsigma") sp.top_n_sigma = args.real(i);
  else if (a == "--xtc-probability") sp.xtc_probability = args.real(i);
  else if (a == "--xtc-threshold") sp.xtc_threshold = args.real(i);
  else if (a == "--repeat-last-n") sp.repeat_last_n = args.int32(i);
  else if (a == "--repeat-penalty") sp.repeat_penalty = args.real(i);
  else if (a == "--frequency-penalty") sp.frequency_penalty = args.real(i);
  else if (a == "--presence-penalty") sp.presence_penalty = args.real(i);
  else if (a == "--dry-multiplier") sp.dry_multiplier = args.real(i);
  else if (a == "--dry-base") sp.dry_base = args.real(i);
  else if (a == "--dry-allowed-length") sp.dry_allowed_length = args.int32(i);
  else if (a == "--dry-penalty-last-n") sp.dry_penalty_last_n = args.int32(i);
  else if (a == "--dry-sequence-breaker") {
    const std::string b = args.value(i);
    if (!std::exchange(breakers_set, true)) sp.dry_sequence_breakers.clear();
    if (b != "none") sp.dry_sequence_breakers.push_back(b);
  } else if (a == "--mirostat") sp.mirostat = args.int32(i);
  else if (a == "--mirostat-lr") sp.mirostat_eta = args.real(i);
  else if (a == "--mirostat-ent") sp.mirostat_tau = args.real(i);
  else if (a == "--samplers" || a == "--sampling-seq" || a == "--sampler-seq")
    sp.samplers = args.value(i);
  else return false;
  return true;
}

/// Checks every sampling value before a model is loaded: builds the chain once (DRY with
/// stand-in token texts; programs build the real chain with the tokenizer later).
inline void check_sampling(const arx::sampling_params& sp) {
  try {
    (void)arx::make_sampler(sp, [](arx::token_id) { return std::string(); }, 1);
  } catch (const arx::invalid_argument& e) {
    throw usage_error{std::string("bad sampling option: ") + e.what()};
  }
}

/// The context size of a run: `requested` (0: the model's training context), and whether it
/// may exceed the training context (with a warning on stderr when it does).
inline std::pair<std::int64_t, arx::context_limit> context_size(std::int64_t requested,
                                                                std::int64_t n_ctx_train) {
  const std::int64_t ctx = requested == 0 ? n_ctx_train : requested;
  if (ctx <= n_ctx_train) return {ctx, arx::context_limit::training};
  std::fprintf(stderr,
               "warning: context %lld is larger than the training context %lld; output past "
               "it may degrade\n",
               (long long)ctx, (long long)n_ctx_train);
  return {ctx, arx::context_limit::unlimited};
}

/// The sampling seed: `seed` when >= 0, else a random one; printed on stderr first, so even a
/// run that fails later can be repeated.
inline std::uint64_t choose_seed(std::int64_t seed) {
  if (seed >= 0) {
    std::fprintf(stderr, "seed: %llu\n", (unsigned long long)seed);
    return std::uint64_t(seed);
  }
  std::random_device rd;
  const std::uint64_t s = (std::uint64_t(rd()) << 32 | rd()) & 0x7fffffffffffffffULL;  // int64
  std::fprintf(stderr, "seed: %llu (random; --seed %llu repeats this run)\n",
               (unsigned long long)s, (unsigned long long)s);
  return s;
}

/// The bytes of a file (a prompt given with -f), or arx::io_error naming it.
inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw arx::io_error(path, std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw arx::io_error(path, "read failed");
  return ss.str();
}

/// The folder of the bundled demo models (examples/models): ARX_DEMO_MODELS in the environment
/// when set, else the source folder the examples were built from (ARX_DEMO_MODEL_DIR).
inline std::string demo_model_dir() {
  if (const char* env = std::getenv("ARX_DEMO_MODELS"); env != nullptr && *env != '\0') return env;
#ifdef ARX_DEMO_MODEL_DIR
  return ARX_DEMO_MODEL_DIR;
#else
  return "examples/models";
#endif
}

/// The path of a bundled demo model (e.g. "kjv-target.gguf"), used when no -m is given; a
/// usage_error saying where it looked when the file is not there.
inline std::string demo_model(const std::string& file) {
  const std::string path = demo_model_dir() + "/" + file;
  if (!std::ifstream(path)) {
    throw usage_error{"no model given (-m FILE), and the bundled demo model " + path +
                      " is not there (set ARX_DEMO_MODELS to the folder that holds it)"};
  }
  return path;
}

/// Peak resident memory of this process in bytes (VmHWM of /proc/self/status), or 0 where that
/// is unavailable. Pages of a memory-mapped model count once they are touched.
inline std::uint64_t peak_resident_bytes() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;  // "... kB"
  return 0;
}

}  // namespace arx_cli
