// The JIT compiles passes/fusion's kernel plan: random graphs of elementwise chains
// (broadcasting, shared subexpressions, comparisons, where/clip, i32-free) cut by
// reductions and matmuls, with an in-place update, run fused and compared with the
// interpreter (forward and step) and, exactly, with the unfused JIT (one kernel per node);
// matmul epilogues, reduction prologues and in-place updates as planned.
#include "jit_test_util.hpp"
#include "passes/fusion.hpp"
#include <fmt/format.h>

using namespace kiln;
using namespace kiln::jit_test;

namespace {

// The kernel of node v in plan p (asserting it has one).
const Kernel& kernel_of(const KernelPlan& p, NodeId v) {
  REQUIRE(p.values[v].kernel >= 0);
  return p.kernels[size_t(p.values[v].kernel)];
}
Role role_in(const Kernel& k, NodeId v) {
  for (const KernelNode& kn : k.nodes)
    if (kn.id == v) return kn.role;
  FAIL("node %" << v << " is not in the kernel");
  return Role::body;
}
int count_role(const Kernel& k, Role r) {
  return int(std::count_if(k.nodes.begin(), k.nodes.end(), [&](const KernelNode& kn) { return kn.role == r; }));
}

struct RandomChains {
  Cases c;
  std::vector<NodeId> pool;
  NodeId param = -1;

  size_t pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(c.rng); }
  NodeId any() { return pool[pick(pool.size())]; }
  NodeId recent() { return pool[pool.size() - 1 - pick(std::min<size_t>(pool.size(), 4))]; }

  void add(Op op, std::vector<NodeId> in, Attrs a = {}) {
    std::string err;
    if (auto id = c.g.add(op, std::move(in), std::move(a), {}, err)) pool.push_back(*id);
  }

  explicit RandomChains(uint64_t seed, int n_ops) {
    c.rng.seed(uint32_t(seed));
    Node pn{Op::param, DType::f32, {5, 7}, {}, {}, {}, "p"};
    param = c.g.append(pn);
    c.g.params.push_back(param);
    Tensor pv(DType::f32, {5, 7});
    std::uniform_real_distribution<double> d(-1, 1);
    for (double& e : pv.data) e = float(d(c.rng));
    c.leaves["p"] = pv;
    pool = {c.uniform({5, 7}, -1, 1), c.uniform({7}, -1, 1), c.uniform({5, 1}, -1, 1), param,
            c.lit({}, {0.5}), c.lit({7}, {0.1, -0.2, 0.3, -0.4, 0.5, -0.6, 0.7})};
    const Op unary[] = {Op::tanh, Op::sigmoid, Op::neg, Op::abs, Op::relu, Op::square, Op::softplus};
    const Op binary[] = {Op::add, Op::sub, Op::mul, Op::maximum, Op::minimum};
    for (int i = 0; i < n_ops; ++i) {
      NodeId a = recent();
      switch (pick(10)) {
        case 0: case 1: case 2: add(unary[pick(std::size(unary))], {a}); break;
        case 3: case 4: case 5: add(binary[pick(std::size(binary))], {a, any()}); break;
        case 6: add(Op::where, {c.op(Op::gt, {a, pool[4]}), a, any()}); break;
        case 7: add(Op::clip, {a, c.lit({}, {-0.8}), c.lit({}, {0.9})}); break;
        case 8:
          if (c.g[a].shape.size() == 2) add(Op::sum, {a}, axes({1}, true));
          break;
        case 9:
          if (c.g[a].shape == Shape{5, 7}) add(Op::matmul, {a, c.uniform({7, 7}, -0.5, 0.5)});
          break;
      }
    }
    c.out(pool.back());
    c.out(pool[pick(pool.size())]);
    std::vector<NodeId> same;
    for (NodeId id : pool)
      if (c.g[id].shape == Shape{5, 7} && id != param && op_row(c.g[id].op).cls != OpClass::leaf) same.push_back(id);
    if (!same.empty())  // an SGD-like step: reads the param, so the target is needed
      c.g.updates.push_back({param, c.op(Op::sub, {param, c.op(Op::mul, {c.lit({}, {0.1}), same[pick(same.size())]})})});
  }
};

// The graph compiled with fusion (first) and without (second); the test fails if either fails.
std::pair<std::unique_ptr<backend::CompiledGraph>, std::unique_ptr<backend::CompiledGraph>> compile_fused_and_unfused(
    const Graph& g) {
  std::string err;
  auto cg = backend::compile_graph(g, {}, err);
  INFO(err);
  REQUIRE(cg);
  backend::CompileOptions plain;
  plain.fuse = false;
  auto cg0 = backend::compile_graph(g, plain, err);
  REQUIRE(cg0);
  return {std::move(cg), std::move(cg0)};
}

// The forward entry compiled with and without fusion: every output agrees with the
// interpreter to 1e-5 and the two are bit-identical (fusion changes no result).
void check_outputs_fused_and_unfused(const Cases& c) {
  std::string err;
  auto [cg, cg0] = compile_fused_and_unfused(c.g);
  auto ref = evaluate(c.g, c.leaves, Precision::f32, err);
  REQUIRE(ref);
  backend::HostBuffers hb(*cg), hb0(*cg0);
  REQUIRE(hb.set_leaves(c.leaves, err));
  REQUIRE(hb0.set_leaves(c.leaves, err));
  hb.run(backend::Entry::forward);
  hb0.run(backend::Entry::forward);
  for (auto& [name, id] : c.g.outputs) {
    size_t b = size_t(cg->find(backend::BufferKind::output, name));
    INFO("output " << name);
    CHECK(worst_err(hb.get(b), (*ref)[id], true) <= 1e-5);
    CHECK(worst_err(hb.get(b), hb0.get(b), false) == 0);
  }
}

}  // namespace

TEST_CASE("fused elementwise chains agree with the interpreter on random graphs", "[jit][fusion-jit]") {
  int fused = 0, graphs = 0, anchored = 0, stored = 0, prologues = 0;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    RandomChains r(seed, int(12 + seed % 25));
    Graph& g = r.c.g;
    INFO("seed " << seed);
    std::string err;
    KernelPlan plan = backend::codegen_plan(g, PlanScope::step);
    CHECK(check_kernel_plan(g, plan).empty());
    auto roots = g.roots();
    for (const Kernel& k : plan.kernels) {
      if (k.nodes.size() > 1) fused += int(k.nodes.size());
      anchored += k.kind == KernelKind::matmul && count_role(k, Role::epilogue) > 0;
      prologues += count_role(k, Role::prologue) > 0;
      if (k.nodes.size() > 1)
        for (NodeId v : k.outputs)  // read by a later kernel
          stored += plan.values[v].storage == Storage::arena && std::find(roots.begin(), roots.end(), v) == roots.end();
    }
    auto [cg, cg0] = compile_fused_and_unfused(g);
    ++graphs;
    auto ref = evaluate(g, r.c.leaves, Precision::f32, err);
    REQUIRE(ref);
    backend::HostBuffers hb(*cg), hb0(*cg0);
    REQUIRE(hb.set_leaves(r.c.leaves, err));
    REQUIRE(hb0.set_leaves(r.c.leaves, err));
    hb.run(backend::Entry::step);
    hb0.run(backend::Entry::step);
    for (auto& [name, id] : g.outputs) {
      int b = cg->find(backend::BufferKind::output, name);
      REQUIRE(b >= 0);
      INFO("output " << name << " = %" << id << " " << op_name(g[id].op));
      CHECK(worst_err(hb.get(b), (*ref)[id], true) <= 1e-5);
      CHECK(worst_err(hb.get(b), hb0.get(b), false) == 0);  // fusion changes no result
    }
    ValueMap want = r.c.leaves, got = r.c.leaves, got0 = r.c.leaves;
    REQUIRE(train_step(g, want, Precision::f32, err));
    hb.get_state(got);
    hb0.get_state(got0);
    CHECK(worst_err(got["p"], want["p"], true) <= 1e-5);
    CHECK(worst_err(got["p"], got0["p"], false) == 0);
  }
  CHECK(graphs == 40);
  CHECK(fused > 100);  // the generator exercises fusion and matmul epilogues
  CHECK(anchored > 5);
  CHECK(stored > 5);
  CHECK(prologues > 3);
}

TEST_CASE("an elementwise chain is one kernel and needs no arena", "[jit][fusion-jit]") {
  Cases c;
  NodeId x = c.uniform({37, 53}, -2, 2), y = c.uniform({53}, -2, 2);
  NodeId h = c.op(Op::mul, {x, y});
  NodeId s = c.op(Op::sigmoid, {h});
  h = c.op(Op::add, {c.op(Op::mul, {s, h}), c.op(Op::tanh, {s})});  // s read twice in the chain
  h = c.op(Op::sub, {h, c.op(Op::square, {x})});
  c.out(h);
  std::string err;
  KernelPlan plan = backend::codegen_plan(c.g, PlanScope::predict);
  REQUIRE(plan.kernels.size() == 1);
  CHECK(plan.kernels[0].nodes.size() == 7);
  CHECK(plan.memory.peak_bytes == 0);
  auto cg = backend::compile_graph(c.g, {}, err);
  REQUIRE(cg);
  auto ref = evaluate(c.g, c.leaves, Precision::f32, err);
  REQUIRE(ref);
  backend::HostBuffers hb(*cg);
  REQUIRE(hb.set_leaves(c.leaves, err));
  hb.run(backend::Entry::predict);
  CHECK(worst_err(hb.get(size_t(cg->find(backend::BufferKind::output, "c0"))), (*ref)[h], true) <= 1e-5);
}

// relu(x @ w + b) and its tanh-derivative form, with K below, at and across the GEMM's
// k block (256): the epilogue must run once, on the final tiles. Fused == unfused exactly.
TEST_CASE("matmul epilogues run on the final output tiles", "[jit][fusion-jit]") {
  for (int64_t K : {7, 256, 512, 600}) {
    Cases c;
    const int64_t M = 37, N = 45;
    NodeId x = c.uniform({M, K}, -1, 1), w = c.uniform({K, N}, -0.2, 0.2), bias = c.uniform({N}, -1, 1);
    NodeId g = c.uniform({M, N}, -1, 1);
    NodeId z = c.op(Op::add, {c.op(Op::matmul, {x, w}), bias});
    NodeId h = c.op(Op::relu, {z});  // matmul, bias add and relu: one kernel that stores z and h
    c.out(h);
    c.out(c.op(Op::mul, {c.op(Op::gt, {z, c.lit({}, {0})}), g}));  // z read again later (a backward mask)
    NodeId t = c.op(Op::tanh, {c.op(Op::matmul, {x, w})});
    c.out(c.op(Op::mul, {g, c.op(Op::sub, {c.lit({}, {1}), c.op(Op::mul, {t, t})})}));  // dtanh * incoming grad
    INFO("K " << K);
    std::string err;
    KernelPlan plan = backend::codegen_plan(c.g, PlanScope::forward);
    CHECK(check_kernel_plan(c.g, plan).empty());
    int anchored = 0;
    for (const Kernel& k : plan.kernels) anchored += k.kind == KernelKind::matmul && count_role(k, Role::epilogue) > 0;
    CHECK(anchored == 2);
    const Kernel& kz = kernel_of(plan, z);
    CHECK(kz.kind == KernelKind::matmul);
    CHECK(role_in(kz, z) == Role::epilogue);
    CHECK(role_in(kz, h) == Role::epilogue);
    CHECK(plan.values[h].storage == Storage::root);
    check_outputs_fused_and_unfused(c);
  }
}

// Fusion folds a transpose into a matmul only when the product is its one consumer, and
// records it (Kernel::folded_transpose); the backend reads B^T in place and packs it, so
// reserves the packed panels' scratch, exactly when the plan folded it (a product of fewer
// than 16 rows packs nothing else). It used to decide the scratch by looking at the graph
// (a 2-D transpose operand, folded or not), and reserved it for a materialised transpose.
TEST_CASE("the backend follows the plan's transpose folds", "[jit][fusion-jit]") {
  for (bool shared : {false, true}) {
    Cases c;
    const int64_t M = 4, K = 24, N = 40;
    NodeId x = c.uniform({M, K}, -1, 1), w = c.uniform({N, K}, -1, 1);
    NodeId t = c.op(Op::transpose, {w});  // [K, N]
    NodeId y = c.op(Op::matmul, {x, t});
    c.out(y);
    if (shared) c.out(c.op(Op::mul, {t, c.lit({}, {2})}));  // a second consumer: t is materialised
    INFO((shared ? "a shared transpose" : "a transpose read by the product alone"));
    for (bool fuse : {true, false}) {
      KernelPlan plan = backend::codegen_plan(c.g, PlanScope::forward, fuse);
      REQUIRE(check_kernel_plan(c.g, plan).empty());
      const Kernel& k = kernel_of(plan, y);
      const bool folded = fuse && !shared;
      CHECK(k.folded_transpose[0] == false);
      CHECK(k.folded_transpose[1] == folded);
      CHECK((plan.values[t].kernel == plan.values[y].kernel) == folded);
      CHECK((k.scratch_bytes > 0) == folded);
    }
    check_outputs_fused_and_unfused(c);
  }
}

// A momentum update: m' = 0.9 m + g and p' = p - 0.1 m' are one loop that stores both
// (m' is an update value and an operand of p'), reading p, m and g once and writing m'
// and p' in place into m and p.
TEST_CASE("an optimizer update that stores several values is one loop", "[jit][fusion-jit]") {
  Cases c;
  auto param = [&](std::string name) {
    Node n{Op::param, DType::f32, {33, 19}, {}, {}, {}, name};
    NodeId id = c.g.append(n);
    c.g.params.push_back(id);
    Tensor t(DType::f32, {33, 19});
    std::uniform_real_distribution<double> d(-1, 1);
    for (double& e : t.data) e = float(d(c.rng));
    c.leaves[name] = t;
    return id;
  };
  NodeId p = param("p"), m = param("m"), grad = c.uniform({33, 19}, -1, 1);
  NodeId m2 = c.op(Op::add, {c.op(Op::mul, {c.lit({}, {0.9}), m}), grad});
  NodeId p2 = c.op(Op::sub, {p, c.op(Op::mul, {c.lit({}, {0.1}), m2})});
  c.g.updates = {{m, m2}, {p, p2}};
  std::string err;
  KernelPlan plan = backend::codegen_plan(c.g, PlanScope::step);
  CHECK(check_kernel_plan(c.g, plan).empty());
  REQUIRE(plan.kernels.size() == 1);
  CHECK(plan.kernels[0].kind == KernelKind::update);
  // Nothing reads m or p after the loop: both are written in place, nothing in the arena.
  CHECK(plan.values[m2].storage == Storage::target);
  CHECK(plan.values[p2].storage == Storage::target);
  CHECK(plan.memory.peak_bytes == 0);
  auto [cg, cg0] = compile_fused_and_unfused(c.g);
  ValueMap want = c.leaves, got = c.leaves, got0 = c.leaves;
  for (int step = 0; step < 3; ++step) REQUIRE(train_step(c.g, want, Precision::f32, err));
  backend::HostBuffers hb(*cg), hb0(*cg0);
  REQUIRE(hb.set_leaves(c.leaves, err));
  REQUIRE(hb0.set_leaves(c.leaves, err));
  for (int step = 0; step < 3; ++step) {
    hb.run(backend::Entry::step);
    hb0.run(backend::Entry::step);
  }
  hb.get_state(got);
  hb0.get_state(got0);
  for (const char* name : {"p", "m"}) {
    INFO(name);
    CHECK(worst_err(got[name], want[name], false) <= 1e-5);
    CHECK(worst_err(got[name], got0[name], false) == 0);
  }
}

// mean(squared_error(h, y)) and sum_to(dz * mask) over rows: the elementwise input of each
// reduction is computed as the reduction reads it, never stored (the scalar mean as an
// accumulator of the loop over squared_error); logsumexp takes no prologue (it reads its
// input twice), so its input is stored. Fused == unfused exactly (pinned summation order).
TEST_CASE("reduction prologues are computed as the reduction reads", "[jit][fusion-jit]") {
  Cases c;
  NodeId h = c.uniform({29, 13}, -1, 1), y = c.uniform({29, 13}, -1, 1), dz = c.uniform({29, 13}, -1, 1);
  NodeId loss = c.op(Op::mean, {c.op(Op::squared_error, {h, y})});
  Attrs to;
  to.shape = {13};
  NodeId db = c.op(Op::sum_to, {c.op(Op::mul, {dz, c.op(Op::gt, {h, c.lit({}, {0})})})}, to);
  NodeId lse = c.op(Op::logsumexp, {c.op(Op::mul, {h, c.lit({}, {3})})}, axes({1}));
  for (NodeId r : {loss, db, lse}) c.out(r);
  std::string err;
  KernelPlan plan = backend::codegen_plan(c.g, PlanScope::forward);
  CHECK(check_kernel_plan(c.g, plan).empty());
  {
    const Kernel& k = kernel_of(plan, db);
    CHECK(k.anchor == db);
    CHECK(role_in(k, c.g[db].in[0]) == Role::prologue);
    CHECK(plan.values[c.g[db].in[0]].storage == Storage::reg);
  }
  {  // a scalar mean: a loop over squared_error accumulating it (vectorised: 377 elements)
    const Kernel& k = kernel_of(plan, loss);
    CHECK(k.kind == KernelKind::elementwise);
    CHECK(role_in(k, loss) == Role::accumulate);
    CHECK(plan.values[c.g[loss].in[0]].storage == Storage::reg);
  }
  CHECK(plan.values[c.g[lse].in[0]].storage == Storage::arena);
  // logsumexp's input and per-row scratch: no other [29, 13] value
  CHECK(plan.memory.peak_bytes <= (29 * 13 * 4 + 63) / 64 * 64 + 29 * 4 * 2 + 128);
  check_outputs_fused_and_unfused(c);
}

// An update value read by another kernel (sum(p2)) is not written in place: it is stored
// and the commit kernel writes it; sum(p), reading the old p, runs before.
TEST_CASE("in-place updates only when nothing reads the old value later", "[jit][fusion-jit]") {
  Cases c;
  Node pn{Op::param, DType::f32, {6, 9}, {}, {}, {}, "p"};
  NodeId p = c.g.append(pn);
  c.g.params.push_back(p);
  Tensor pv(DType::f32, {6, 9});
  for (size_t i = 0; i < pv.data.size(); ++i) pv.data[i] = float(0.1 * double(i) - 2);
  c.leaves["p"] = pv;
  NodeId x = c.uniform({6, 9}, -1, 1);
  NodeId p2 = c.op(Op::sub, {p, c.op(Op::mul, {c.lit({}, {0.5}), x})});
  NodeId late = c.op(Op::add, {c.op(Op::sum, {p2}), c.op(Op::sum, {p})});  // sum(p) reads p after p2's kernel
  c.out(late);
  c.g.updates = {{p, p2}};
  std::string err;
  KernelPlan plan = backend::codegen_plan(c.g, PlanScope::step);
  CHECK(check_kernel_plan(c.g, plan).empty());
  CHECK(plan.values[p2].storage == Storage::arena);
  REQUIRE(!plan.kernels.empty());
  CHECK(plan.kernels.back().kind == KernelKind::commit);
  auto cg = backend::compile_graph(c.g, {}, err);
  REQUIRE(cg);
  ValueMap want = c.leaves, got = c.leaves;
  auto ref = evaluate(c.g, c.leaves, Precision::f32, err);
  REQUIRE(ref);
  REQUIRE(train_step(c.g, want, Precision::f32, err));
  backend::HostBuffers hb(*cg);
  REQUIRE(hb.set_leaves(c.leaves, err));
  hb.run(backend::Entry::step);
  hb.get_state(got);
  CHECK(worst_err(got["p"], want["p"], false) <= 1e-6);
  CHECK(worst_err(hb.get(size_t(cg->find(backend::BufferKind::output, "c0"))), (*ref)[late], true) <= 1e-5);
}
