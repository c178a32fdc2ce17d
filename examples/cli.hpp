// examples/cli.hpp — what arx's command-line programs (examples/*, arx-bench) share: the exit
// codes and where messages go.
//
//   0  success, or --help (usage on stdout)
//   2  bad arguments: "<program>: <why>" and the usage on stderr (parse threw usage_error)
//   1  an error while running (arx::error, I/O, ...): "error: <message>" on stderr
#pragma once

#include <cstdint>
#include <cstdio>
#include <exception>
#include <fstream>
#include <string>

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

/// Peak resident memory of this process in bytes (VmHWM of /proc/self/status), or 0 where that
/// is unavailable. Pages of a memory-mapped model count once they are touched.
inline std::uint64_t peak_resident_bytes() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;  // "... kB"
  return 0;
}

}  // namespace arx_cli
