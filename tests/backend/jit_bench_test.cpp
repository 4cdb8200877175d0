// Hidden timing checks of generated code ("[.][jitbench]", not part of the normal run):
// GEMM GFLOP/s of the micro-kernel at bench-like sizes, and compile time, with results
// still checked against a plain double-precision product.
#include "jit_test_util.hpp"
#include <chrono>
#include <ctime>
#include <fmt/format.h>

using namespace kiln;
using namespace kiln::jit_test;

// CPU time of this thread: the machine is shared, so wall time overstates.
static double cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

TEST_CASE("GEMM throughput", "[.][jitbench]") {
  for (auto [m, k, n] : std::vector<std::array<int64_t, 3>>{
           {128, 784, 512}, {128, 512, 512}, {512, 128, 512}, {64, 10, 128}, {256, 1024, 4096}, {4096, 256, 1024}}) {
    Cases c;
    NodeId a = c.uniform({m, k}, -1, 1), b = c.uniform({k, n}, -1, 1);
    c.out(c.op(Op::matmul, {a, b}));
    std::string err;
    auto cg = backend::compile_graph(c.g, {}, err);
    REQUIRE(cg);
    backend::HostBuffers hb(*cg);
    REQUIRE(hb.set_leaves(c.leaves, err));
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
