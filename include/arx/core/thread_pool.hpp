// arx/core/thread_pool.hpp — persistent worker threads for splitting one kernel call.
//
//   arx::thread_pool pool(4);                 // the calling thread + 3 workers
//   pool.run([&](int t, int n) { ... });      // f(0, n) on the caller, f(1..n-1, n) on workers
//
// run() returns when every thread has finished its part. Kernels split work by output rows or
// heads with split(), so each output is computed by exactly one thread with the same
// instructions as without the pool: results are bit-identical for every thread count.
//
// Workers spin (up to spin_time, 200 µs) on a shared generation counter (a decode step issues
// hundreds of short jobs) and then sleep on it (C++20 atomic wait), so an idle pool costs no
// CPU. run() is thread-safe: concurrent callers are serialized. A pool of size 1 runs f(0, 1)
// inline.
// Exceptions thrown by f on any thread are rethrown by run() (the first one; the others are
// dropped) after all threads have finished.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <fstream>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#if defined(__linux__)
#  include <sched.h>
#endif

#include "arx/config.hpp"
#include "arx/core/error.hpp"

ARX_NAMESPACE_BEGIN

class thread_pool {
 public:
  /// n_threads >= 1 threads in total, the caller included (invalid_argument otherwise).
  explicit thread_pool(int n_threads = 1) : n_(n_threads) {
    if (n_threads < 1 || n_threads > 1024)
      throw invalid_argument("thread_pool: " + std::to_string(n_threads) +
                             " threads; must be in [1, 1024]");
    workers_.reserve(std::size_t(n_threads - 1));
    for (int t = 1; t < n_threads; ++t) workers_.emplace_back([this, t] { work(t); });
  }
  ~thread_pool() {
    stop_.store(true, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
    generation_.notify_all();
    for (auto& w : workers_) w.join();
  }
  thread_pool(const thread_pool&) = delete;
  thread_pool& operator=(const thread_pool&) = delete;

  int size() const noexcept { return n_; }

  /// Calls f(t, size()) for t in [0, size()), t = 0 on the calling thread; returns when all
  /// are done.
  template <class F>
  void run(F&& f) {
    if (n_ == 1) {
      f(0, 1);
      return;
    }
    std::lock_guard<std::mutex> lock(run_mutex_);
    job_ = [&f](int t, int n) { f(t, n); };
    error_ = nullptr;
    pending_.store(n_ - 1, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
    generation_.notify_all();
    call(0);
    spinner spin;
    while (pending_.load(std::memory_order_acquire) != 0) {
      if (spin.tired()) {
        const int left = pending_.load(std::memory_order_acquire);
        if (left != 0) pending_.wait(left, std::memory_order_acquire);
      }
    }
    job_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

  /// The part [begin, end) of `count` items that thread t of n handles: contiguous, in order,
  /// sizes differing by at most `grain` (ranges start at multiples of grain, except none).
  static std::pair<std::int64_t, std::int64_t> split(std::int64_t count, int t, int n,
                                                     std::int64_t grain = 1) {
    const std::int64_t units = (count + grain - 1) / grain;
    const std::int64_t b = units * t / n * grain, e = units * (t + 1) / n * grain;
    return {b < count ? b : count, e < count ? e : count};
  }

  /// Logical CPUs available (at least 1).
  static int hardware_threads() noexcept {
    const unsigned h = std::thread::hardware_concurrency();
    return h == 0 ? 1 : int(h);
  }

  /// Physical cores this process may run on (at least 1): on Linux the distinct cores
  /// (/sys/devices/system/cpu/cpuN/topology/core_cpus_list, i.e. SMT siblings counted once)
  /// among the CPUs of the affinity mask; elsewhere, or when the topology cannot be read,
  /// hardware_threads(). The default thread count of the examples and benchmarks: a decode step
  /// is bandwidth-bound and a second hardware thread on a core only adds synchronisation.
  static int physical_cores() noexcept {
#if defined(__linux__)
    try {
      cpu_set_t set;
      CPU_ZERO(&set);
      if (sched_getaffinity(0, sizeof set, &set) != 0) return hardware_threads();
      std::set<std::string> cores;
      for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
        if (!CPU_ISSET(cpu, &set)) continue;
        const std::string dir = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
        std::string id;
        for (const char* name : {"core_cpus_list", "thread_siblings_list"}) {
          std::ifstream in(dir + name);
          if (in && std::getline(in, id) && !id.empty()) break;
          id.clear();
        }
        if (id.empty()) return hardware_threads();
        cores.insert(id);
      }
      return cores.empty() ? hardware_threads() : int(cores.size());
    } catch (...) {
      return hardware_threads();
    }
#else
    return hardware_threads();
#endif
  }

 private:
  /// How long a thread spins for the next job (workers) or for the last worker (the caller)
  /// before it sleeps. Between the jobs of a decode step there are only microseconds of serial
  /// work, while waking a sleeping thread costs tens of microseconds (more under a hypervisor);
  /// measured on TinyLlama-1.1B decode with 2 threads, a spin of 16k polls (microseconds) left
  /// ~6% of the time in the scheduler.
  static constexpr auto spin_time = std::chrono::microseconds(200);

  // Busy-wait budget: checks the clock every 64 polls, pausing the core between polls.
  class spinner {
   public:
    bool tired() noexcept {
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
      if (++polls_ % 64 != 0) return false;
      const auto now = std::chrono::steady_clock::now();
      if (polls_ == 64) start_ = now;
      return now - start_ > spin_time;
    }

   private:
    std::uint64_t polls_ = 0;
    std::chrono::steady_clock::time_point start_{};
  };

  void call(int t) {
    try {
      job_(t, n_);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex_);
      if (!error_) error_ = std::current_exception();
    }
  }

  void work(int t) {
    std::uint64_t seen = 0;
    for (;;) {
      std::uint64_t g = generation_.load(std::memory_order_acquire);
      for (spinner spin; g == seen;) {
        if (spin.tired()) generation_.wait(seen, std::memory_order_acquire);
        g = generation_.load(std::memory_order_acquire);
      }
      seen = g;
      if (stop_.load(std::memory_order_relaxed)) return;
      call(t);
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) pending_.notify_one();
    }
  }

  int n_;
  std::vector<std::thread> workers_;
  std::function<void(int, int)> job_;
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  std::mutex run_mutex_, error_mutex_;
  std::exception_ptr error_;
};

ARX_NAMESPACE_END
