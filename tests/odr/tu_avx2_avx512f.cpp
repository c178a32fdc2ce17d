#include "tu_body.inc"
tu_result run_avx2_avx512f_tu(const std::vector<float>& x) { return run_tu(x); }
const char* avx2_avx512f_namespace() { return typeid(arx::shape_t).name(); }
