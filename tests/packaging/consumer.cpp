// A consumer of arx: includes everything and uses a tensor; prints the SIMD target it got.
#include <arx/arx.hpp>

#include <cstdio>

int main() {
  arx::tensor<float> t({2, 3});
  t(1, 2) = 5.0f;
  arx::tensor_view<const float> v = t;
  std::printf("arx %d.%d.%d consumer, SIMD target %s, t(1,2) = %g\n", ARX_VERSION_MAJOR,
              ARX_VERSION_MINOR, ARX_VERSION_PATCH, arx::simd_target, double(v(1, 2)));
  return v(1, 2) == 5.0f ? 0 : 1;
}
