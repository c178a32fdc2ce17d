// bandwidth.hpp — single-thread streaming read bandwidth of this machine, measured in-process, so
// the memory-bound kernels can be reported as a fraction of what one core can read from DRAM.
//
// The reference is the best of several read loops over a 1 GiB buffer (far beyond any cache):
// the widest vector loads the build has, four independent accumulators, and software prefetch at
// a few distances (on Zen 4/5 the hardware prefetcher alone leaves bandwidth on the table once
// a loop does any work, and a plain loop still ties with the best prefetching one). Each variant
// runs several passes; the best pass counts.
#pragma once

#include <arx/config.hpp>
#include <arx/core/memory.hpp>
#include <arx/simd/arch.hpp>
#include <arx/simd/x86.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>

ARX_DIAG_PUSH
namespace arx_bench {

inline constexpr std::size_t bandwidth_buffer_bytes = std::size_t(1) << 30;
/// Prefetch distances tried (bytes ahead; 0 = hardware prefetch only).
inline constexpr std::size_t read_prefetch_distances[] = {0, 4096, 8192, 16384};

/// Sums [p, p + bytes) as 64-bit words (bytes: a multiple of 256; p: 64-byte aligned), reading
/// 256 bytes per step with the widest loads of the build; prefetches `ahead` bytes ahead.
inline std::uint64_t read_sum(const std::byte* p, std::size_t bytes, std::size_t ahead) {
  const auto pf = [&](std::size_t i) {
#if ARX_SIMD && defined(ARX_HAS_SSE2)
    if (ahead) {
      const char* q = reinterpret_cast<const char*>(p) + i + ahead;
      for (int l = 0; l < 4; ++l) _mm_prefetch(q + 64 * l, _MM_HINT_T0);
    }
#else
    (void)i;
#endif
  };
#if ARX_SIMD && defined(ARX_HAS_AVX512)
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
  for (std::size_t i = 0; i < bytes; i += 256) {
    pf(i);
    a0 = _mm512_add_epi64(a0, _mm512_load_si512(p + i));
    a1 = _mm512_add_epi64(a1, _mm512_load_si512(p + i + 64));
    a2 = _mm512_add_epi64(a2, _mm512_load_si512(p + i + 128));
    a3 = _mm512_add_epi64(a3, _mm512_load_si512(p + i + 192));
  }
  const __m512i sum = _mm512_add_epi64(_mm512_add_epi64(a0, a1), _mm512_add_epi64(a2, a3));
  return std::uint64_t(_mm512_reduce_add_epi64(sum));
#elif ARX_SIMD && defined(ARX_HAS_AVX2)
  __m256i a[8];
  for (auto& v : a) v = _mm256_setzero_si256();
  for (std::size_t i = 0; i < bytes; i += 256) {
    pf(i);
    for (int k = 0; k < 8; ++k)
      a[k] = _mm256_add_epi64(a[k], _mm256_load_si256((const __m256i*)(p + i + 32 * k)));
  }
  alignas(32) std::uint64_t lanes[4];
  for (int k = 1; k < 8; ++k) a[0] = _mm256_add_epi64(a[0], a[k]);
  _mm256_store_si256((__m256i*)lanes, a[0]);
  return lanes[0] + lanes[1] + lanes[2] + lanes[3];
#elif ARX_SIMD && defined(ARX_HAS_SSE2)
  __m128i a[8];
  for (auto& v : a) v = _mm_setzero_si128();
  for (std::size_t i = 0; i < bytes; i += 256) {
    pf(i);
    for (int k = 0; k < 16; ++k)
      a[k % 8] = _mm_add_epi64(a[k % 8], _mm_load_si128((const __m128i*)(p + i + 16 * k)));
  }
  alignas(16) std::uint64_t lanes[2];
  for (int k = 1; k < 8; ++k) a[0] = _mm_add_epi64(a[0], a[k]);
  _mm_store_si128((__m128i*)lanes, a[0]);
  return lanes[0] + lanes[1];
#else
  (void)pf;
  std::uint64_t s[4] = {};
  for (std::size_t i = 0; i < bytes; i += 32)
    for (int k = 0; k < 4; ++k) {
      std::uint64_t v;
      std::memcpy(&v, p + i + 8 * k, 8);
      s[k] += v;
    }
  return s[0] + s[1] + s[2] + s[3];
#endif
}

/// A 1 GiB buffer, written once so every page is really backed.
inline const arx::aligned_buffer& bandwidth_buffer() {
  static const arx::aligned_buffer buf = [] {
    arx::aligned_buffer b(bandwidth_buffer_bytes);
    std::memset(b.data(), 1, b.size());
    return b;
  }();
  return buf;
}

/// GB/s (1e9 bytes) of the best of `passes` passes of the read loop with prefetch `ahead`.
inline double read_bandwidth_gbps(std::size_t ahead, int passes = 4) {
  const auto& buf = bandwidth_buffer();
  double best = 0;
  volatile std::uint64_t sink = 0;
  for (int pass = 0; pass < passes; ++pass) {
    const auto t0 = std::chrono::steady_clock::now();
    sink = sink + read_sum(buf.data(), buf.size(), ahead);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, double(buf.size()) / s / 1e9);
  }
  return best;
}

/// The machine's single-thread streaming read bandwidth in GB/s: best over all variants,
/// measured on first use and then kept.
inline double machine_read_gbps() {
  static const double gbps = [] {
    double best = 0;
    for (std::size_t ahead : read_prefetch_distances)
      best = std::max(best, read_bandwidth_gbps(ahead));
    return best;
  }();
  return gbps;
}

}  // namespace arx_bench
ARX_DIAG_POP
