#include "tu_body.inc"
tu_result run_sse2_tu(const std::vector<float>& x) { return run_tu(x); }
