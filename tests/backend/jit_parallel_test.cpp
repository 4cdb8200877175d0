// Parallel kernels ("[jit][threads]"): GEMMs above the parallel threshold (ragged edges,
// transposed operands, unpacked B, fused epilogues, f32 and f64, narrower vector units)
// give bit-identical results on 1, 2 and 3 threads and agree with the interpreter; and a
// whole training run is bit-identical for every thread count.
#include "jit_test_util.hpp"
#include "passes/fusion.hpp"
#include "backend/thread_pool.hpp"
#include "tests/runtime/train_util.hpp"
#include "runtime/trainer.hpp"
#include "tests/runtime/test_util.hpp"
#include <cstring>

using namespace kiln;
using namespace kiln::jit_test;

namespace {

// Products large enough to run in parallel, every one with ragged M and N edges.
void big_products(Cases& c) {
  NodeId x = c.uniform({67, 300}, -1, 1), w = c.uniform({300, 173}, -1, 1);
  c.out(c.op(Op::matmul, {x, w}));                                                  // k blocks of 256 + 44
  c.out(c.op(Op::matmul, {c.op(Op::transpose, {c.uniform({300, 67}, -1, 1)}), w}));  // A read as A^T
  c.out(c.op(Op::matmul, {x, c.op(Op::transpose, {c.uniform({173, 300}, -1, 1)})}));  // B read as B^T
  c.out(c.op(Op::matmul, {c.uniform({9, 600}, -1, 1), c.uniform({600, 450}, -1, 1)}));  // M < 16: B not packed
  // An epilogue fused into the product: relu(x @ w + b), b broadcast along rows.
  NodeId y = c.op(Op::matmul, {c.uniform({70, 130}, -1, 1), c.uniform({130, 300}, -1, 1)});
  c.out(c.op(Op::relu, {c.op(Op::add, {y, c.uniform({300}, -1, 1)})}));
}

// Every output's bytes after a forward run, on `pool` (nullptr: no pool).
std::vector<std::vector<unsigned char>> run_outputs(const backend::CompiledGraph& cg, const Cases& c, ThreadPool* pool) {
  backend::HostBuffers hb(cg);
  std::string err;
  REQUIRE(hb.set_leaves(c.leaves, err));
  {
    ThreadPool::Scope scope(pool);
    hb.run(backend::Entry::forward);
  }
  std::vector<std::vector<unsigned char>> out;
  for (auto& [name, id] : c.g.outputs) {
    int b = cg.find(backend::BufferKind::output, name);
    REQUIRE(b >= 0);
    auto* p = static_cast<unsigned char*>(hb.data(size_t(b)));
    out.emplace_back(p, p + cg.buffers()[size_t(b)].bytes());
  }
  return out;
}

void check_parallel_gemms(DType ft, int lanes, double tol) {
  Cases c;
  c.ft = ft;
  big_products(c);
  std::string err;
  backend::CompileOptions opt;
  opt.keep_ir = true;
  opt.lanes = lanes;
  auto cg = backend::compile_graph(c.g, opt, err);
  INFO(err);
  REQUIRE(cg);
  // Every product is a parallel kernel (a call of kiln_parallel each in each of the
  // three entries), the epilogue's among them.
  size_t calls = 0;
  for (size_t at = 0; (at = cg->llvm_ir().find("call void @kiln_parallel", at)) != std::string::npos; ++at) ++calls;
  CHECK(calls == 3 * 5);
  // The relu(x@w+b) product runs its epilogue in the split GEMM kernel.
  bool epilogue = false;
  for (const Kernel& k : plan_kernels(c.g).kernels)
    for (const KernelNode& kn : k.nodes)
      epilogue = epilogue || (k.kind == KernelKind::matmul && kn.role == Role::epilogue && c.g[kn.id].op == Op::relu);
  CHECK(epilogue);

  auto serial = run_outputs(*cg, c, nullptr);
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    for (int rep = 0; rep < 6; ++rep) {
      auto got = run_outputs(*cg, c, &pool);
      for (size_t o = 0; o < got.size(); ++o) {
        INFO(dtype_name(ft) << ", lanes " << lanes << ", " << threads << " threads, output " << o);
        CHECK(got[o] == serial[o]);
      }
    }
    if (threads > 1) CHECK(pool.parallel_jobs() >= 5);
  }

  auto ref = evaluate(c.g, c.leaves, ft == DType::f64 ? Precision::f64 : Precision::f32, err);
  REQUIRE(ref);
  ThreadPool pool(2);
  backend::HostBuffers hb(*cg);
  REQUIRE(hb.set_leaves(c.leaves, err));
  ThreadPool::Scope scope(&pool);
  hb.run(backend::Entry::forward);
  for (auto& [name, id] : c.g.outputs) {
    INFO(dtype_name(ft) << ", lanes " << lanes << ", output " << name);
    CHECK(worst_err(hb.get(size_t(cg->find(backend::BufferKind::output, name))), (*ref)[id], true) <= tol);
  }
}

}  // namespace

TEST_CASE("parallel GEMMs are bit-identical on 1, 2 and 3 threads and agree with the interpreter", "[jit][threads]") {
  check_parallel_gemms(DType::f32, 0, 1e-5);
  check_parallel_gemms(DType::f64, 0, 1e-12);
  check_parallel_gemms(DType::f32, 8, 1e-5);
}

TEST_CASE("small products stay serial", "[jit][threads]") {
  Cases c;
  c.out(c.op(Op::matmul, {c.uniform({64, 64}, -1, 1), c.uniform({64, 64}, -1, 1)}));  // 0.5 MFLOP
  c.out(c.op(Op::matmul, {c.uniform({4000, 600}, -1, 1), c.uniform({600, 1}, -1, 1)}));  // matrix-vector
  std::string err;
  backend::CompileOptions opt;
  opt.keep_ir = true;
  auto cg = backend::compile_graph(c.g, opt, err);
  REQUIRE(cg);
  CHECK(cg->llvm_ir().find("kiln_parallel") == std::string::npos);
}

namespace {

// digits.model with a wide hidden layer: its products (64 x 64 x 1024) run in parallel.
const char* const kWideDigits = R"(model wide_digits
dim batch = 64
input x : f32[batch, 64] normalize
input labels : i32[batch]
param w1 : f32[64, 1024] = he_normal
param b1 : f32[1024] = zeros
param w2 : f32[1024, 10] = glorot_uniform
param b2 : f32[10] = zeros
h = relu(x @ w1 + b1)
logits = h @ w2 + b2
loss = mean(softmax_cross_entropy(logits, labels))
train {
  minimize loss
  optimizer = adam(lr = 0.002)
  epochs = 1
  seed = 3
}
)";

std::optional<TrainResult> train_wide(const std::string& engine, int threads, const std::string& save = "") {
  SourceFile src("wide_digits.model", kWideDigits);
  Diagnostics d(&src);
  test::RunOptions o;
  o.data = {std::string(KILN_SOURCE_DIR) + "/examples/data/digits.csv"};
  o.engine.kind = engine;
  o.engine.threads = threads;
  o.save = save;
  RunError err;
  auto r = train_source(src, o.compile, o, d, err);
  INFO(d.render_all() << err.message);
  REQUIRE(r);
  return r;
}

}  // namespace

TEST_CASE("a training run is bit-identical for every thread count", "[jit][threads][train]") {
  test::TempDir tmp;
  auto pool2 = ThreadPool::shared(2);  // the pool the 2-thread run's engines share
  uint64_t jobs_before = pool2->parallel_jobs();
  auto one = train_wide("jit", 1, tmp.file("t1.safetensors"));
  auto two = train_wide("jit", 2, tmp.file("t2.safetensors"));
  CHECK(pool2->parallel_jobs() > jobs_before);
  auto three = train_wide("jit", 3, tmp.file("t3.safetensors"));
  REQUIRE(one->step_losses.size() > 20);
  for (auto* r : {&two, &three}) {
    REQUIRE((*r)->step_losses.size() == one->step_losses.size());
    CHECK(std::memcmp((*r)->step_losses.data(), one->step_losses.data(), one->step_losses.size() * sizeof(double)) == 0);
  }
  std::string bytes = test::get_file(tmp.file("t1.safetensors"));
  CHECK(bytes.size() > 64 * 1024 * 4);
  CHECK(test::get_file(tmp.file("t2.safetensors")) == bytes);
  CHECK(test::get_file(tmp.file("t3.safetensors")) == bytes);
  // The interpreter computes the first step's loss (before any update) to f32 rounding.
  auto interp = train_wide("interp", 1);
  CHECK(rel_err(one->step_losses[0], interp->step_losses[0], 1e-6) <= 1e-5);
}
