// Shared by the gemv and gemm tests: Eigen (the double-precision oracle) and the weight shape type.
#pragma once

// Eigen's AVX-512 product kernels trip GCC 12's -Wmaybe-uninitialized inside the compiler's own
// intrinsic headers (GCC bug 105593); the warning is not about this code.
#if defined(__GNUC__) && !defined(__clang__)
#  pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#  pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <Eigen/Dense>

#include <cstddef>

namespace ops_test {

/// A weight matrix shape: W is [rows][cols].
struct shape {
  std::size_t rows, cols;
};

}  // namespace ops_test
