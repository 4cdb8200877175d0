// Every example model (examples/*.model): parsed, lowered, made into its training graph
// (autodiff + optimizer + simplify) and JIT-compiled; its kernels are its plans' kernels,
// and one step from shared states agrees with the f64 reference within the rounding model
// on the JIT and the interpreter; a 20-step smoke test on the non-chaotic diabetes model.
#include "frontend/lower.hpp"
#include "jit_test_util.hpp"
#include "one_step.hpp"
#include "passes/fusion.hpp"
#include "passes/monitor_ir.hpp"
#include "runtime/model.hpp"
#include "tests/example_graphs.hpp"
#include <algorithm>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

using namespace kiln;
using namespace kiln::jit_test;
using backend::BufferKind;
using kiln::test::example_models;

namespace {

// A random batch for the example's inputs: class indices (or one-hot targets' classes) for
// labels, N(0,1) rounded to f32 for features.
struct BatchMaker {
  const Graph& g;
  std::vector<InputSpec> specs;
  std::vector<std::pair<size_t, int64_t>> classes;
  std::vector<std::string> labels;
  explicit BatchMaker(const Graph& graph) : g(graph) {
    std::string err;
    auto s = input_specs(g, err);
    INFO(err);
    REQUIRE(s);
    specs = *s;
    classes = label_classes(g, specs);
    labels = inputs_not_needed_by_outputs(g);
  }
  ValueMap make(std::mt19937& rng) const {
    ValueMap batch;
    for (size_t i = 0; i < specs.size(); ++i) {
      const InputSpec& s = specs[i];
      Tensor t(s.dtype, g[g.inputs[i]].shape);
      bool label = std::find(labels.begin(), labels.end(), s.name) != labels.end();
      int64_t n_classes = 2;
      for (auto& [k, c] : classes)
        if (k == i) n_classes = c;
      std::uniform_int_distribution<int64_t> cls(0, n_classes - 1);
      std::normal_distribution<double> nd;
      for (double& v : t.data) v = s.dtype == DType::i32 || label ? double(cls(rng)) : double(float(nd(rng)));
      batch[s.name] = std::move(t);
    }
    return batch;
  }
};

}  // namespace

// The code is the plan: each entry calls, in order, one LLVM function per kernel of its
// kernel plan (what `kiln dump --stage=fused` prints): the step entry's functions are named
// by their kernel index and kind; forward and predict call their own (named by their
// entry and index) or, where the code is the same, one an earlier entry generated. There
// is no other kernel function, and the arena is the largest of the plans' peaks.
TEST_CASE("every example's LLVM kernels are its kernel plans' kernels", "[jit]") {
  const std::vector<std::filesystem::path> models = example_models();
  REQUIRE(models.size() >= 4);
  for (const auto& path : models) {
    INFO("example " << path.filename().string());
    Graph g = kiln::test::example_training_graph(path);
    std::string err;
    backend::CompileOptions opt;
    opt.keep_ir = true;
    auto cg = backend::compile_graph(g, opt, err);
    INFO(err);
    REQUIRE(cg);
    const std::string& ir = cg->llvm_ir();
    std::set<std::string> defined, called;
    std::regex def(R"(define [^@]*@(kiln\d+_(step|forward|predict)_k\d+_[a-z_]+)\()");
    for (auto it = std::sregex_iterator(ir.begin(), ir.end(), def); it != std::sregex_iterator(); ++it)
      defined.insert((*it)[1].str());
    int64_t peak = 0;
    for (PlanScope s : {PlanScope::step, PlanScope::forward, PlanScope::predict}) {
      const std::string scope = s == PlanScope::step ? "step" : s == PlanScope::forward ? "forward" : "predict";
      KernelPlan plan = backend::codegen_plan(g, s);
      CHECK(check_kernel_plan(g, plan).empty());
      peak = std::max(peak, plan.memory.peak_bytes);
      // The entry's body: its kernel calls in order.
      std::smatch m;
      std::regex entry_def("define void @kiln\\d+_" + scope + "\\(");
      REQUIRE(std::regex_search(ir, m, entry_def));
      size_t begin = size_t(m.position(0)), end = ir.find("\n}\n", begin);
      std::string body = ir.substr(begin, end - begin);
      std::regex call(R"(call [^@]*@(kiln\d+_(step|forward|predict)_k(\d+)_([a-z_]+))\()");
      std::vector<std::smatch> calls;
      for (auto it = std::sregex_iterator(body.begin(), body.end(), call); it != std::sregex_iterator(); ++it)
        calls.push_back(*it);
      INFO(scope);
      REQUIRE(calls.size() == plan.kernels.size());
      for (size_t k = 0; k < plan.kernels.size(); ++k) {
        const Kernel& K = plan.kernels[k];
        std::string op = K.anchor >= 0 ? std::string(op_name(g[K.anchor].op))
                         : K.nodes.empty() ? "" : std::string(op_name(g[K.nodes.back().id].op));
        std::string want = std::string(kernel_kind_name(K.kind)) + (op.empty() ? "" : "_" + op);
        INFO(scope << " kernel " << k << " calls " << calls[k][1].str());
        CHECK(calls[k][4].str() == want);
        if (calls[k][2].str() == scope) CHECK(std::stoul(calls[k][3].str()) == k);  // its own function
        if (s == PlanScope::step) CHECK(calls[k][2].str() == "step");
        called.insert(calls[k][1].str());
      }
    }
    CHECK(called == defined);  // no function without a plan kernel calling it
    CHECK(cg->arena_bytes() == peak);
  }
}

// One step from a shared state (the interpreter's after k steps on random batches): the
// loss, gradients, params and states of the JIT (with the host's vector width and with
// AVX2's 8 lanes) and of the interpreter within the rounding model's tolerance of the f64
// reference (tests/rounding_model.hpp). A free-running comparison of many steps is chaotic
// (a weight whose gradient lands near Adam's eps, a relu gate that opens in one run and not
// the other): rounding differences grow into visible ones, whatever the tolerance.
TEST_CASE("every example: one step from a shared state, the JIT and the interpreter within the rounding model", "[jit]") {
  const std::vector<std::filesystem::path> models = example_models();
  REQUIRE(models.size() >= 4);
  for (const auto& path : models) {
    INFO("example " << path.filename().string());
    Graph g = kiln::test::example_training_graph(path);
    BatchMaker batches(g);
    std::string err;
    auto cg = backend::compile_graph(g, {}, err);
    INFO(err);
    REQUIRE(cg);
    CHECK(cg->arena_bytes() <= cg->unshared_arena_bytes());
    ValueMap state = initial_values(g, 42);
    std::mt19937 rng(11);
    int done = 0;
    double worst_jit = 0, worst_interp = 0, ulps = 0;
    for (int k : {0, 3, 10}) {
      for (; done < k; ++done) {  // the interpreter's own training up to step k
        for (auto& [name, v] : batches.make(rng)) state[name] = std::move(v);
        REQUIRE(train_step(g, state, Precision::f32, err));
      }
      ValueMap leaves = state;
      for (auto& [name, v] : batches.make(rng)) leaves[name] = std::move(v);
      for (int lanes : {0, 8}) {
        INFO("state after " << k << " steps, " << (lanes ? "8 lanes" : "the host's lanes"));
        OneStep r = check_one_step(g, leaves, lanes);
        worst_jit = std::max(worst_jit, r.worst_jit);
        worst_interp = std::max(worst_interp, r.worst_interp);
        ulps = std::max(ulps, r.param_ulps);
      }
    }
    WARN(fmt::format("{}: one step from states 0, 3, 10: worst difference / tolerance JIT {:.3f}, interpreter {:.3f}; "
                     "JIT params within {:.2f} ulp (of each param's largest magnitude) of the f64 reference",
                     path.filename().string(), worst_jit, worst_interp, ulps));
  }
}

// The multi-step smoke test, on the one example that is not chaotic (diabetes: a linear
// model, SGD): 20 free-running steps of the JIT beside the interpreter, each step's loss
// and the final params within 10 times the interpreter's own f32-vs-f64 spread so far
// (at least 10 times the one-step tolerance of the first loss).
TEST_CASE("diabetes: 20 free-running steps within 10x the interpreter's f32-vs-f64 spread", "[jit]") {
  std::filesystem::path path = std::string(KILN_SOURCE_DIR) + "/examples/diabetes.model";
  Graph g = kiln::test::example_training_graph(path);
  BatchMaker batches(g);
  std::string err;
  auto cg = backend::compile_graph(g, {}, err);
  REQUIRE(cg);
  ValueMap i32 = initial_values(g, 42), i64 = i32, leaves = i32;
  std::mt19937 rng(11);
  backend::HostBuffers hb(*cg);
  const int loss_buf = cg->find(BufferKind::loss, "loss");
  double spread = 0, floor = 0, worst = 0;
  for (int step = 0; step < 20; ++step) {
    ValueMap batch = batches.make(rng);
    for (auto& [k, v] : batch) i32[k] = i64[k] = leaves[k] = v;
    if (step == 0) {
      auto model = kiln::test::rounding_model(g, leaves, err);
      REQUIRE(model);
      floor = model->tolerance(*g.train.minimize, 0) / std::fabs(model->value[size_t(*g.train.minimize)].data[0]);
      REQUIRE(hb.set_leaves(leaves, err));
    } else {
      for (auto& [k, v] : batch) hb.set(size_t(cg->find(BufferKind::input, k)), v);
    }
    double l32 = 0, l64 = 0;
    REQUIRE(train_step(g, i32, Precision::f32, err, &l32));
    REQUIRE(train_step(g, i64, Precision::f64, err, &l64));
    hb.run(backend::Entry::step);
    const double got = hb.get(size_t(loss_buf)).data[0];
    spread = std::max(spread, rel_err(l32, l64, 0));
    const double tol = 10 * std::max(spread, floor);
    INFO("step " << step << ": JIT loss " << got << ", interpreter " << l32 << " (f64 " << l64 << "), tolerance " << tol);
    CHECK(rel_err(got, l32, 0) <= tol);
    worst = std::max(worst, rel_err(got, l32, 0) / tol);
  }
  ValueMap after;
  hb.get_state(after);
  for (NodeId pid : g.params) {
    INFO("param " << g[pid].name);
    const double param_spread = worst_err(i32.at(g[pid].name), i64.at(g[pid].name), true);
    CHECK(worst_err(after.at(g[pid].name), i32.at(g[pid].name), true) <= 10 * std::max(param_spread, floor));
  }
  WARN(fmt::format("diabetes, 20 steps: the JIT's loss within {:.3f} of its tolerance (f32-vs-f64 spread {:.2e})", worst,
                   spread));
}

// With the run-time monitors' roots (passes/monitor_ir: sum(g*g), sum(w*w), sum((new-w)^2)
// as accumulators of the in-place update loops, relu zero fractions): every metric of a
// step agrees with the interpreter's to 1e-5 relative, and the params after it are those
// of the same step compiled without monitors.
TEST_CASE("every example with monitors: the JIT's metrics agree with the interpreter", "[jit][accumulate]") {
  const std::vector<std::filesystem::path> models = example_models();
  REQUIRE(models.size() >= 4);
  for (const auto& path : models) {
    INFO("example " << path.filename().string());
    Graph g = kiln::test::example_training_graph(path);
    const Graph plain = g;
    MonitorPlan mp = add_monitor_roots(g);
    REQUIRE_FALSE(mp.empty());
    BatchMaker batches(g);
    std::string err;
    auto cg = backend::compile_graph(g, {}, err), cg0 = backend::compile_graph(plain, {}, err);
    INFO(err);
    REQUIRE(cg);
    REQUIRE(cg0);
    ValueMap leaves = initial_values(g, 7);
    std::mt19937 rng(3);
    for (auto& [k, v] : batches.make(rng)) leaves[k] = std::move(v);
    auto ref = evaluate(g, leaves, Precision::f32, err);
    REQUIRE(ref);
    backend::HostBuffers hb(*cg);
    REQUIRE(hb.set_leaves(leaves, err));
    hb.run(backend::Entry::step);
    int monitors = 0;
    for (auto& [name, id] : g.train.metrics) {
      INFO("metric " << name);
      int b = cg->find(BufferKind::metric, name);
      REQUIRE(b >= 0);
      double got = hb.get(size_t(b)).data[0], want = (*ref)[id].data[0];
      CHECK(rel_err(got, want, 1e-6) <= 1e-5);
      monitors += name.rfind(kMonitorPrefix, 0) == 0;
    }
    CHECK(monitors >= 3);
    // The monitors change nothing else: the same step without them gives the same params, bit for bit.
    backend::HostBuffers hb0(*cg0);
    REQUIRE(hb0.set_leaves(leaves, err));
    hb0.run(backend::Entry::step);
    ValueMap got = leaves, got0 = leaves;
    hb.get_state(got);
    hb0.get_state(got0);
    for (NodeId pid : g.params) {
      INFO("param " << g[pid].name);
      CHECK(worst_err(got.at(g[pid].name), got0.at(g[pid].name), false) == 0);
    }
  }
}
