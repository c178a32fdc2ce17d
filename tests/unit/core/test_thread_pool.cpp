// thread_pool: every thread index runs once per run(), split() partitions exactly, exceptions
// come back to the caller, concurrent callers are serialized, and bad sizes are typed errors.
#include <catch2/catch.hpp>

#include "throws.hpp"

#include <arx/core/thread_pool.hpp>

#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

TEST_CASE("thread_pool runs every thread index once per run", "[core][threads]") {
  for (int n : {1, 2, 3, 5}) {
    arx::thread_pool pool(n);
    CHECK(pool.size() == n);
    for (int round = 0; round < 200; ++round) {
      std::vector<std::atomic<int>> hits(static_cast<std::size_t>(n));
      std::atomic<int> total{0};
      pool.run([&](int t, int nt) {
        REQUIRE(nt == n);
        hits[std::size_t(t)].fetch_add(1);
        total.fetch_add(1);
      });
      for (auto& h : hits) REQUIRE(h.load() == 1);
      REQUIRE(total.load() == n);
    }
  }
}

TEST_CASE("thread_pool::split partitions a range exactly, in order", "[core][threads]") {
  for (std::int64_t count : {0, 1, 7, 16, 100, 1000, 4097})
    for (int n : {1, 2, 3, 8})
      for (std::int64_t grain : {1, 16}) {
        std::int64_t next = 0;
        for (int t = 0; t < n; ++t) {
          const auto [b, e] = arx::thread_pool::split(count, t, n, grain);
          REQUIRE(b == next);
          REQUIRE(e >= b);
          if (b < count) REQUIRE(b % grain == 0);
          next = e;
        }
        REQUIRE(next == count);
      }
}

TEST_CASE("thread_pool rethrows a worker's exception after all threads finish",
          "[core][threads]") {
  arx::thread_pool pool(3);
  std::atomic<int> done{0};
  REQUIRE_THROWS_TYPED(pool.run([&](int t, int) {
                         if (t == 2) throw arx::invalid_argument("worker 2 failed");
                         done.fetch_add(1);
                       }),
                       arx::invalid_argument, Catch::Contains("worker 2 failed"));
  CHECK(done.load() == 4);  // REQUIRE_THROWS_TYPED evaluates the run twice; 2 threads finish each
  // The pool still works afterwards.
  std::atomic<int> after{0};
  pool.run([&](int, int) { after.fetch_add(1); });
  CHECK(after.load() == 3);
}

TEST_CASE("thread_pool serializes concurrent callers", "[core][threads]") {
  arx::thread_pool pool(2);
  std::atomic<int> inside{0}, max_inside{0}, runs{0};
  const auto caller = [&] {
    for (int i = 0; i < 300; ++i)
      pool.run([&](int t, int) {
        if (t != 0) return;
        const int now = inside.fetch_add(1) + 1;
        int m = max_inside.load();
        while (now > m && !max_inside.compare_exchange_weak(m, now)) {
        }
        runs.fetch_add(1);
        inside.fetch_sub(1);
      });
  };
  std::thread a(caller), b(caller);
  a.join();
  b.join();
  CHECK(runs.load() == 600);
  CHECK(max_inside.load() == 1);
}

TEST_CASE("thread_pool rejects bad sizes", "[core][threads]") {
  REQUIRE_THROWS_TYPED(arx::thread_pool(0), arx::invalid_argument, Catch::Contains("0 threads"));
  REQUIRE_THROWS_TYPED(arx::thread_pool(-3), arx::invalid_argument, Catch::Contains("-3 threads"));
  CHECK(arx::thread_pool::hardware_threads() >= 1);
}

TEST_CASE("physical_cores counts each core once, within the hardware threads", "[core][threads]") {
  const int cores = arx::thread_pool::physical_cores();
  CHECK(cores >= 1);
  CHECK(cores <= arx::thread_pool::hardware_threads());
#if defined(__linux__)
  // Only the CPUs this process may use count: pinned to one CPU, one core.
  cpu_set_t all, one;
  REQUIRE(sched_getaffinity(0, sizeof all, &all) == 0);
  int first = 0;
  while (!CPU_ISSET(first, &all)) ++first;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  REQUIRE(sched_setaffinity(0, sizeof one, &one) == 0);
  const int pinned = arx::thread_pool::physical_cores();
  REQUIRE(sched_setaffinity(0, sizeof all, &all) == 0);
  CHECK(pinned == 1);
#endif
}
