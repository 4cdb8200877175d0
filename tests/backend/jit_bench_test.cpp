// Hidden timing checks of generated code ("[.][jitbench]", "[.][jitbench-threads]", not part
// of the normal run): GEMM GFLOP/s of the micro-kernel at bench-like sizes (one thread, CPU
// time; and on 1, 2, ... threads, wall time) and compile time, with results still checked.
#include "jit_test_util.hpp"
#include "backend/thread_pool.hpp"
#include <fstream>
#include <memory>
#include <thread>
#include <chrono>
#include <ctime>
#include <fmt/format.h>

using namespace kiln;
using namespace kiln::jit_test;

// A product [m,k] @ [k,n] of uniform(-1, 1) leaves, compiled, with its leaves set.
struct Gemm {
  Cases c;
  std::unique_ptr<backend::CompiledGraph> cg;
  std::unique_ptr<backend::HostBuffers> hb;
  Gemm(int64_t m, int64_t k, int64_t n) {
    NodeId a = c.uniform({m, k}, -1, 1), b = c.uniform({k, n}, -1, 1);
    c.out(c.op(Op::matmul, {a, b}));
    std::string err;
    cg = backend::compile_graph(c.g, {}, err);
    REQUIRE(cg);
    hb = std::make_unique<backend::HostBuffers>(*cg);
    REQUIRE(hb->set_leaves(c.leaves, err));
  }
};

static std::string load_average() {
  std::ifstream f("/proc/loadavg");
  std::string s;
  f >> s;
  return s;
}

TEST_CASE("GEMM throughput", "[.][jitbench]") {
  for (auto [m, k, n] : std::vector<std::array<int64_t, 3>>{
           {128, 784, 512}, {128, 512, 512}, {512, 128, 512}, {64, 10, 128}, {256, 1024, 4096}, {4096, 256, 1024}}) {
    Gemm gm(m, k, n);
    auto& cg = gm.cg;
    auto& hb = *gm.hb;
    auto& c = gm.c;
    hb.run(backend::Entry::forward);
    int reps = std::max<int64_t>(3, int64_t(2e9 / double(2 * m * k * n)));
    double t0 = cpu_seconds();
    for (int r = 0; r < reps; ++r) hb.run(backend::Entry::forward);
    double s = (cpu_seconds() - t0) / reps;
    WARN(fmt::format("[{},{}]@[{},{}]: {:.3f} ms, {:.1f} GFLOP/s (compile {:.0f} ms)", m, k, k, n, s * 1e3,
                     2.0 * m * k * n / s * 1e-9, cg->compile_seconds() * 1e3));
    Tensor got = hb.get(cg->find(backend::BufferKind::output, "c0"));
    const auto &A = c.leaves.at("x0").data, &B = c.leaves.at("x1").data;
    double worst = 0;
    for (int64_t i = 0; i < m; i += 37)
      for (int64_t j = 0; j < n; j += 13) {
        double s2 = 0;
        for (int64_t p = 0; p < k; ++p) s2 += A[i * k + p] * B[p * n + j];
        worst = std::max(worst, std::fabs(s2 - got.data[i * n + j]));
      }
    CHECK(worst < 1e-3);
  }
}

TEST_CASE("dump a GEMM's assembly", "[.][jitdump]") {
  Cases c;
  c.out(c.op(Op::matmul, {c.uniform({128, 784}, -1, 1), c.uniform({784, 512}, -1, 1)}));
  c.out(c.op(Op::sigmoid, {c.uniform({64, 128}, -1, 1)}));
  std::string out, err;
  REQUIRE(backend::dump_assembly(c.g, out, err));
  CHECK(out.find("kiln") != std::string::npos);
  std::FILE* f = std::fopen("/tmp/kiln_gemm.s", "w");
  std::fputs(out.c_str(), f);
  std::fclose(f);
  REQUIRE(backend::dump_llvm_ir(c.g, out, err));
  f = std::fopen("/tmp/kiln_gemm.ll", "w");
  std::fputs(out.c_str(), f);
  std::fclose(f);
}

// Parallel GEMMs ("[.][jitbench-threads]"): wall-clock GFLOP/s on 1, 2, ... threads (the
// machine is shared: read the figures with the load average beside them); results are
// checked to be bit-identical to the one-thread run.
TEST_CASE("parallel GEMM throughput", "[.][jitbench-threads]") {
  int max_threads = std::max(2, int(std::thread::hardware_concurrency()));
  for (auto [m, k, n] : std::vector<std::array<int64_t, 3>>{
           {64, 256, 128}, {128, 256, 128}, {128, 784, 512}, {784, 128, 512}, {256, 1024, 4096}, {1024, 256, 4096},
           {256, 4096, 1024}}) {
    Gemm gm(m, k, n);
    auto& cg = gm.cg;
    auto& hb = *gm.hb;
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
