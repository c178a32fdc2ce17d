// Mixed-arch link test: both TUs must keep their own arx code (different targets and namespaces)
// and agree on results.
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "tu.hpp"

int main() {
  std::vector<float> x(1000);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(float(i)) * 0.5f;
  const tu_result a = run_sse2_tu(x);
  const tu_result b = run_avx2_tu(x);
  std::printf("sse2 TU: %s (%s) -> %.6f\navx2 TU: %s (%s) -> %.6f\n", a.target.c_str(),
              a.ns.c_str(), double(a.value), b.target.c_str(), b.ns.c_str(), double(b.value));
  int failures = 0;
  if (a.target != "sse2/simd") { std::puts("FAIL: the -march=x86-64 TU does not see sse2"); ++failures; }
  if (b.target != "avx2/simd") { std::puts("FAIL: the -march=x86-64-v3 TU does not see avx2"); ++failures; }
  if (a.ns == b.ns) { std::puts("FAIL: both TUs use the same inline namespace"); ++failures; }
  if (std::abs(a.value - b.value) > 1e-3f * std::abs(a.value)) { std::puts("FAIL: results differ"); ++failures; }
  const std::string c_ns = avx2_avx512f_namespace();
  std::printf("avx2+avx512f TU namespace: %s\n", c_ns.c_str());
  if (c_ns == b.ns || c_ns == a.ns) { std::puts("FAIL: the -mavx512f TU shares a namespace"); ++failures; }
  if (__builtin_cpu_supports("avx512f")) {
    const tu_result c = run_avx2_avx512f_tu(x);
    if (std::abs(c.value - b.value) > 1e-3f * std::abs(b.value)) { std::puts("FAIL: avx512f TU differs"); ++failures; }
  }
  std::puts(failures ? "mixed-arch link: FAILED" : "mixed-arch link: OK");
  return failures ? 1 : 0;
}
