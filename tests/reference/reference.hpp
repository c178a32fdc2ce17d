// Helpers shared by the reference tests: where ../shared/reference is, and file listing.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

namespace arx_test {

inline std::filesystem::path reference_dir() {
  if (const char* env = std::getenv("ARX_REFERENCE_DIR"); env && *env) return env;
  return ARX_REFERENCE_DIR;
}

/// Every file under reference_dir()/sub with the given extension, sorted.
inline std::vector<std::filesystem::path> reference_files(const std::string& sub,
                                                          const std::string& ext) {
  std::vector<std::filesystem::path> out;
  const auto dir = reference_dir() / sub;
  if (!std::filesystem::is_directory(dir)) return out;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ext) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

/// Every directory directly under reference_dir()/sub, sorted.
inline std::vector<std::filesystem::path> reference_subdirs(const std::string& sub) {
  std::vector<std::filesystem::path> out;
  const auto dir = reference_dir() / sub;
  if (!std::filesystem::is_directory(dir)) return out;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.is_directory()) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

/// One of llama.cpp's tokenizer suites in vocab/: `<name>.inp` holds the texts separated by
/// "\n__ggml_vocab_test__\n" (the file ends with one), `<name>.out` one line of ids per text.
/// Empty when the files are missing.
struct vocab_suite {
  std::vector<std::string> cases;
  std::vector<std::vector<std::int32_t>> expected;
};
inline vocab_suite read_vocab_suite(const std::string& name) {
  const auto dir = reference_dir() / "vocab";
  const auto read_all = [](const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  };
  vocab_suite s;
  const std::string inp = read_all(dir / (name + ".inp")), sep = "\n__ggml_vocab_test__\n";
  for (std::size_t pos = 0; pos < inp.size();) {
    const std::size_t next = inp.find(sep, pos);
    if (next == std::string::npos) {
      s.cases.push_back(inp.substr(pos));
      break;
    }
    s.cases.push_back(inp.substr(pos, next - pos));
    pos = next + sep.size();
  }
  std::istringstream out(read_all(dir / (name + ".out")));
  for (std::string line; std::getline(out, line);) {
    std::istringstream ls(line);
    std::vector<std::int32_t> ids;
    for (std::int32_t id; ls >> id;) ids.push_back(id);
    s.expected.push_back(ids);
  }
  return s;
}

}  // namespace arx_test
