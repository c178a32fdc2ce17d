// Shared body of the two translation units of the mixed-arch link test: each reports the SIMD
// target arx was compiled for in that TU and runs a few kernels on the same input.
#pragma once

#include <string>
#include <vector>

struct tu_result {
  std::string target;  // arx::simd_target as seen by the TU
  std::string ns;      // the inline namespace's mangled-name witness
  float value;         // a kernel result on a fixed input
};

tu_result run_sse2_tu(const std::vector<float>& x);
tu_result run_avx2_tu(const std::vector<float>& x);
tu_result run_avx2_avx512f_tu(const std::vector<float>& x);
const char* avx2_avx512f_namespace();  // runs no AVX-512 code
