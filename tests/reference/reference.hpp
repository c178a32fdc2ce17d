// Helpers shared by the reference tests: where ../shared/reference is, and file listing.
#pragma once

#include <algorithm>
#include <cstdlib>
#include <filesystem>
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

}  // namespace arx_test
