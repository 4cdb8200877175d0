// Accumulators (Role::accumulate): the monitors' sum(g*g), sum(w*w) and sum((new-w)^2) of
// every example model are summed inside the param's in-place update loop (no extra pass,
// every update still written in place; sum(g*g) in the clipping's loop over g when the
// update needs the global norm first), plans pass check_kernel_plan and the plan
// executor agrees with the interpreter exactly; hand-made graphs for the rules.
#include "frontend/lower.hpp"
#include "passes/fusion.hpp"
#include "passes/monitor_ir.hpp"
#include "runtime/model.hpp"
#include "tests/example_graphs.hpp"
#include "tests/passes/fusion_graphs.hpp"
#include "tests/passes/plan_executor.hpp"
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>

using namespace kiln;
using kiln::testing::Builder;

namespace {


ValueMap random_leaves(const Graph& g, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> nd;
  ValueMap m;
  auto fill = [&](NodeId id, bool label) {
    Tensor t(g[id].dtype, g[id].shape);
    for (double& v : t.data) v = g[id].dtype == DType::i32 || label ? double(rng() % 2) : double(float(0.5 * nd(rng)));
    m[g[id].name] = std::move(t);
  };
  for (NodeId id : g.inputs) fill(id, false);
  for (NodeId id : g.params) fill(id, false);
  for (NodeId id : g.consts) fill(id, false);
  for (NodeId id : g.states) fill(id, false);
  return m;
}

const KernelNode* find_node(const KernelPlan& p, NodeId id) {
  if (p.values[id].kernel < 0) return nullptr;
  for (const KernelNode& kn : p.kernels[size_t(p.values[id].kernel)].nodes)
    if (kn.id == id) return &kn;
  return nullptr;
}

}  // namespace

TEST_CASE("accumulate: the monitors' norms are summed in the in-place update loops", "[fusion][accumulate]") {
  const std::vector<std::filesystem::path> models = kiln::test::example_models();
  REQUIRE(models.size() >= 4);
  int lagged = 0, immediate = 0;  // params with lagged sums, and larger ones, over all examples
  for (const auto& path : models) {
    INFO("example " << path.filename().string());
    Graph g = kiln::test::example_training_graph(path);
    const KernelPlan plain = plan_kernels(g, PlanScope::step);
    MonitorPlan mp = add_monitor_roots(g);
    const KernelPlan p = plan_kernels(g, PlanScope::step);
    INFO(print_kernel_plan(g, p));
    auto problems = check_kernel_plan(g, p);
    for (const std::string& s : problems) INFO(s);
    CHECK(problems.empty());
    // Every update is still written in place (the carried gradients and updates of small
    // params too: no commit kernel), the arena is no larger than without monitors, and the
    // only kernels added are the relus' zero fractions (a mean of the backward pass's mask).
    for (const Update& u : g.updates) CHECK(p.values[u.value].storage == Storage::target);
    CHECK(p.memory.peak_bytes <= plain.memory.peak_bytes);
    CHECK(p.kernels.size() <= plain.kernels.size() + mp.relus.size());
    // Each norm is an accumulator of the kernel writing its param in place; a small param's
    // (lagged: sums of the states carrying the last step's gradient and update) that kernel
    // also writes both states.
    for (const MonitorPlan::Param& par : mp.params) {
      INFO("param " << par.name);
      lagged += par.lagged;
      immediate += !par.lagged;
      for (int metric : {par.grad_sq, par.weight_sq, par.delta_sq}) {
        if (metric < 0) continue;
        NodeId s = g.train.metrics[size_t(metric)].second;
        INFO("metric " << g.train.metrics[size_t(metric)].first);
        const KernelNode* kn = find_node(p, s);
        REQUIRE(kn);
        CHECK(kn->role == Role::accumulate);
        const Kernel& k = p.kernels[size_t(p.values[s].kernel)];
        std::set<std::string> written;
        int accumulators = 0;
        for (const Update& u : k.writes) written.insert(g[u.target].name);
        for (const KernelNode& n : k.nodes) accumulators += n.role == Role::accumulate;
        const bool writes_param = written.count(par.name) > 0;
        if (par.lagged) {
          CHECK(writes_param);
          CHECK(written.count("__monitor__.grad." + par.name) == 1);
          CHECK(written.count("__monitor__.update." + par.name) == 1);
        } else if (metric == par.grad_sq) {
          // With gradient clipping (iris) the update needs the global norm first: sum(g*g)
          // then shares the clipping's own sum(g*g) loop over the gradient instead.
          CHECK((writes_param || accumulators >= 2));
        } else {
          CHECK(writes_param);
        }
      }
    }
    CHECK(testing::compare_with_interpreter(g, p, random_leaves(g, 5)) == "");
  }
  CHECK(lagged > 0);
  CHECK(immediate > 0);
}

TEST_CASE("accumulate: a scalar sum of an elementwise loop value joins its loop", "[fusion][accumulate]") {
  Builder b;
  auto x = b.input("x", {6, 5});
  auto y = b.input("y", {6, 5});
  auto t = b.op(Op::tanh, {b.op(Op::mul, {x, y})});
  b.g.outputs.push_back({"t", t});
  auto s = b.op(Op::sum, {b.op(Op::square, {t})});  // square(t) joins t's loop, sum accumulates it
  auto m = b.op(Op::mean, {b.op(Op::exp, {x})});    // a sibling: reads x like t's loop does
  auto kept = b.op(Op::sum, {b.op(Op::exp, {y})}, [] {
    Attrs a;
    a.axes = {0};
    return a;
  }());  // not a scalar: stays a reduction with a prologue
  for (NodeId r : {s, m, kept}) b.g.outputs.push_back({"r" + std::to_string(r), r});
  KernelPlan p = plan_kernels(b.g, PlanScope::forward);
  INFO(print_kernel_plan(b.g, p));
  CHECK(check_kernel_plan(b.g, p).empty());
  REQUIRE(find_node(p, s));
  CHECK(find_node(p, s)->role == Role::accumulate);
  CHECK(find_node(p, m)->role == Role::accumulate);
  CHECK(p.values[s].kernel == p.values[t].kernel);
  CHECK(p.values[m].kernel == p.values[t].kernel);
  CHECK(find_node(p, kept)->role == Role::anchor);
  CHECK(p.kernels[size_t(p.values[t].kernel)].kind == KernelKind::elementwise);
  ValueMap leaves = random_leaves(b.g, 3);
  CHECK(testing::compare_with_interpreter(b.g, p, leaves) == "");
  // check_kernel_plan catches accumulators that break the rules.
  {
    KernelPlan bad = p;  // an elementwise node as an accumulator
    for (KernelNode& kn : bad.kernels[size_t(bad.values[t].kernel)].nodes)
      if (kn.id == t) kn.role = Role::accumulate;
    CHECK_FALSE(check_kernel_plan(b.g, bad).empty());
  }
  {
    KernelPlan bad = p;  // an accumulator kept in registers
    bad.values[s].storage = Storage::reg;
    auto& outs = bad.kernels[size_t(bad.values[s].kernel)].outputs;
    outs.erase(std::remove(outs.begin(), outs.end(), s), outs.end());
    CHECK_FALSE(check_kernel_plan(b.g, bad).empty());
  }
  // Nothing reads an accumulator inside its kernel: a consumer of s runs in another kernel.
  Builder c;
  auto u = c.input("u", {8});
  auto su = c.op(Op::sum, {c.op(Op::abs, {u})});
  auto z = c.op(Op::add, {c.op(Op::neg, {u}), su});  // reads the total at every element
  c.g.outputs.push_back({"z", z});
  KernelPlan q = plan_kernels(c.g, PlanScope::forward);
  INFO(print_kernel_plan(c.g, q));
  CHECK(check_kernel_plan(c.g, q).empty());
  CHECK(q.values[su].kernel != q.values[z].kernel);
  CHECK(testing::compare_with_interpreter(c.g, q, random_leaves(c.g, 4)) == "");
}
