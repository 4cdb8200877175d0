// Fusion and memory planning on random graphs: mixed elementwise ops with broadcasting,
// reductions, matmuls, transposes, reshapes, slices, concats, softmax, cross-entropy with
// i32 labels, one_hot, where, clip, sum_to, and random in-place updates.
// Every plan must pass check_kernel_plan and the executor must reproduce the interpreter.
#include "passes/fusion.hpp"
#include "tests/passes/fusion_graphs.hpp"
#include "tests/passes/plan_executor.hpp"
#include <catch2/catch.hpp>
#include <map>
#include <random>

using namespace kiln;

namespace {

struct RandomGraph {
  std::mt19937_64 rng;
  testing::Builder b;
  std::vector<NodeId> pool;  // float values to build on
  NodeId half = -1, neg_half = -1, labels = -1;

  explicit RandomGraph(uint64_t seed) : rng(seed) {}

  size_t pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); }
  NodeId any() { return pool[pick(pool.size())]; }
  bool coin(double p = 0.5) { return std::bernoulli_distribution(p)(rng); }

  void try_add(Op op, std::vector<NodeId> in, Attrs a = {}) {
    std::string err;
    if (auto id = b.g.add(op, std::move(in), std::move(a), {}, err)) pool.push_back(*id);
  }

  Graph build(int n_ops) {
    half = b.g.scalar(0.5, DType::f64);
    neg_half = b.g.scalar(-0.5, DType::f64);
    labels = b.input("labels", {4}, DType::i32);
    pool = {b.input("x", {4, 3}), b.input("v", {3}), b.input("c", {4, 1}), b.param("p", {4, 3}), b.param("q", {3}), half};
    const Op unary[] = {Op::tanh, Op::sigmoid, Op::sin, Op::neg, Op::abs, Op::square, Op::relu};
    const Op binary[] = {Op::add, Op::sub, Op::mul, Op::maximum};
    for (int i = 0; i < n_ops; ++i) {
      NodeId a = any();
      const Shape& s = b.g[a].shape;
      switch (pick(14)) {
        case 0:
        case 1: try_add(unary[pick(std::size(unary))], {a}); break;
        case 2:
        case 3:
        case 4: try_add(binary[pick(std::size(binary))], {a, any()}); break;
        case 5: {
          if (s.empty()) break;
          Attrs at;
          if (coin()) at.axes = {int64_t(pick(s.size()))};
          at.keepdims = coin();
          try_add(coin() ? Op::sum : coin() ? Op::mean : Op::max, {a}, at);
          break;
        }
        case 6: try_add(Op::matmul, {a, any()}); break;
        case 7:
          if (s.size() == 2) try_add(Op::transpose, {a});
          else if (!s.empty()) {
            Attrs at;
            at.shape = {1, num_elements(s)};
            try_add(Op::reshape, {a}, at);
          }
          break;
        case 8:
          if (!s.empty()) {
            Attrs at;
            at.axes = {int64_t(s.size()) - 1};
            try_add(coin() ? Op::softmax : Op::log_softmax, {a}, at);
          }
          break;
        case 10: try_add(Op::concat, {a, any()}, [] { Attrs c; c.axes = {0}; return c; }()); break;
        case 11: try_add(Op::where, {b.g.make(Op::gt, {a, half}), a, any()}); break;
        case 12:
          if (s == Shape{4, 3}) {
            Attrs oh;
            oh.n = 3;
            try_add(Op::where, {b.g.make(Op::one_hot, {labels}, oh), a, any()});
            try_add(Op::softmax_cross_entropy, {a, labels});
          } else {
            try_add(Op::clip, {a, neg_half, half});
          }
          break;
        case 13:
          if (!s.empty() && s[0] > 1) {
            Attrs sl;
            sl.axes = {0};
            sl.n = 1;
            sl.shape = s;
            sl.shape[0] = s[0] - 1;
            try_add(Op::slice, {a}, sl);
          }
          break;
        case 9: {
          Attrs at;
          if (s == Shape{4, 3}) {
            at.shape = coin() ? Shape{3} : Shape{4, 1};
            try_add(Op::sum_to, {a}, at);
          } else if (s == Shape{3} || s == Shape{4, 1}) {
            at.shape = {4, 3};
            try_add(Op::broadcast_to, {a}, at);
          }
          break;
        }
      }
    }
    // Roots: the last value, a couple of others; updates for p and q from values of their shapes.
    b.g.outputs.push_back({"last", pool.back()});
    for (int k = 0; k < 2; ++k) b.g.outputs.push_back({"o" + std::to_string(k), pool[pick(pool.size())]});
    for (NodeId target : {b.g.params[0], b.g.params[1]}) {
      std::vector<NodeId> same;
      for (NodeId id : pool)
        if (b.g[id].shape == b.g[target].shape && op_row(b.g[id].op).cls != OpClass::leaf) same.push_back(id);
      if (!same.empty() && coin(0.8)) b.g.updates.push_back({target, same[pick(same.size())]});
    }
    return std::move(b.g);
  }
};

}  // namespace

TEST_CASE("fusion: random graphs plan soundly and execute like the interpreter", "[fusion]") {
  int kernels = 0, in_place = 0, committed = 0, fused_nodes = 0;
  std::map<Op, int> ops;  // planned nodes by op
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    Graph g = RandomGraph(seed).build(int(10 + seed % 30));
    for (PlanScope scope : {PlanScope::step, PlanScope::forward}) {
      KernelPlan p = plan_kernels(g, scope);
      auto problems = check_kernel_plan(g, p);
      INFO("seed " << seed << "\n" << print_kernel_plan(g, p));
      for (auto& s : problems) UNSCOPED_INFO(s);
      REQUIRE(problems.empty());
      REQUIRE(testing::plan_is_topological(g, p));
      ValueMap vm = initial_values(g, seed);
      testing::random_inputs(g, vm, seed, 3);  // labels index 3 classes
      REQUIRE(testing::compare_with_interpreter(g, p, vm) == "");
      kernels += int(p.kernels.size());
      for (const Kernel& k : p.kernels) {
        if (k.nodes.size() > 1) fused_nodes += int(k.nodes.size());
        for (const KernelNode& kn : k.nodes) ++ops[g[kn.id].op];
        (k.kind == KernelKind::commit ? committed : in_place) += int(k.writes.size());
      }
    }
  }
  // The generator exercises fusion and both update paths.
  CHECK(fused_nodes > 500);
  CHECK(in_place > 50);
  CHECK(committed > 20);
  CHECK(kernels > 0);
  for (Op op : {Op::matmul, Op::transpose, Op::sum, Op::softmax, Op::softmax_cross_entropy, Op::one_hot, Op::where,
                Op::concat, Op::slice, Op::clip, Op::sum_to, Op::broadcast_to}) {
    INFO(op_name(op));
    CHECK(ops[op] > 5);
  }
}
