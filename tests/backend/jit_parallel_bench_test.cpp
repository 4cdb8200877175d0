// Hidden timing of parallel GEMMs ("[.][jitbench-threads]", not part of the normal run):
// wall-clock GFLOP/s of bench-sized products on 1, 2, ... threads (the machine is shared:
// read the figures with the load average printed beside them). Results are checked to be
// bit-identical to the one-thread run.
#include "jit_test_util.hpp"
#include "runtime/thread_pool.hpp"
#include <chrono>
#include <cstdlib>
#include <fmt/format.h>
#include <fstream>
#include <thread>

using namespace kiln;
using namespace kiln::jit_test;

static std::string load_average() {
  std::ifstream f("/proc/loadavg");
  std::string s;
  f >> s;
  return s;
}

TEST_CASE("parallel GEMM throughput", "[.][jitbench-threads]") {
  int max_threads = std::max(2, int(std::thread::hardware_concurrency()));
  for (auto [m, k, n] : std::vector<std::array<int64_t, 3>>{
           {64, 256, 128}, {128, 256, 128}, {128, 784, 512}, {784, 128, 512}, {256, 1024, 4096}, {1024, 256, 4096},
           {256, 4096, 1024}}) {
    Cases c;
    NodeId a = c.uniform({m, k}, -1, 1), b = c.uniform({k, n}, -1, 1);
    c.out(c.op(Op::matmul, {a, b}));
    std::string err;
    auto cg = backend::compile_graph(c.g, {}, err);
    REQUIRE(cg);
    backend::HostBuffers hb(*cg);
    REQUIRE(hb.set_leaves(c.leaves, err));
    int out = cg->find(backend::BufferKind::output, "c0");
    std::vector<float> first;
    for (int threads = 1; threads <= max_threads; ++threads) {
      ThreadPool pool(threads);
      ThreadPool::Scope scope(&pool);
      hb.run(backend::Entry::forward);
      int reps = std::max<int64_t>(5, int64_t(4e9 / double(2 * m * k * n)));
      double best = 1e30;
      for (int round = 0; round < 3; ++round) {
        auto t0 = std::chrono::steady_clock::now();
        for (int r = 0; r < reps; ++r) hb.run(backend::Entry::forward);
        best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / reps);
      }
      auto* p = static_cast<float*>(hb.data(size_t(out)));
      std::vector<float> got(p, p + m * n);
      if (threads == 1) first = got;
      CHECK(got == first);
      WARN(fmt::format("[{},{}]@[{},{}] {} threads: {:.3f} ms, {:.1f} GFLOP/s (load {})", m, k, k, n, threads,
                       best * 1e3, 2.0 * m * k * n / best * 1e-9, load_average()));
    }
  }
}
