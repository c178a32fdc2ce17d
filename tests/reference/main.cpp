// Catch2 main for the reference tests: they read llama.cpp's outputs from ARX_REFERENCE_DIR.
// Absent folder: exit 77 (ctest reports the test as skipped, with this message) — unless the
// environment has CI=true, where the folder is always provided and its absence is a failure.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "reference/reference.hpp"

int main(int argc, char** argv) {
  bool listing = false;
  for (int i = 1; i < argc; ++i)
    if (std::strncmp(argv[i], "--list", 6) == 0) listing = true;
  if (!listing && !std::filesystem::is_directory(arx_test::reference_dir())) {
    const char* ci = std::getenv("CI");
    if (ci && std::strcmp(ci, "true") == 0) {
      std::cerr << "FAILED: reference folder " << arx_test::reference_dir()
                << " is missing, and CI=true requires it\n";
      return 1;
    }
    std::cerr << "SKIPPED: reference folder " << arx_test::reference_dir()
              << " not found (configure with -DARX_REFERENCE_DIR=...)\n";
    return 77;
  }
  return Catch::Session().run(argc, argv);
}
