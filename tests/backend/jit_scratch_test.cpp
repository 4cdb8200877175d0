// Kernel scratch ("[scratch]"): the plan records each kernel's scratch layout (Kernel::scratch:
// the op's own region, the anchor's value without a home, the commit's copies; laid out by
// backend::codegen_plan) and the generated code uses exactly that layout. Every plan's
// scratch is moved (regions reversed, gaps between them, each kernel's scratch in bytes of
// its own after the arena's peak) through CompileOptions::adjust_plan: the code must follow,
// writing every region and nothing else of its scratch, with results bit-identical to the
// unmoved plan's.
#include "jit_test_util.hpp"
#include "passes/fusion.hpp"
#include "passes/memory_plan.hpp"
#include "tests/example_graphs.hpp"
#include <cstring>

using namespace kiln;
using namespace kiln::jit_test;
using backend::BufferKind;
using backend::Entry;

namespace {

constexpr unsigned char kUntouched = 0xA5;

// Moves the plan's scratch: per kernel, its regions in reverse order, a 64-byte gap before
// each and after the last; then each kernel's scratch in bytes of its own, after the
// arena's peak (so that nothing but its kernel ever writes there).
void move_scratch(const Graph& g, KernelPlan& plan) {
  for (Kernel& k : plan.kernels) {
    if (k.scratch.empty()) continue;
    int64_t at = kArenaAlign;
    for (auto r = k.scratch.rbegin(); r != k.scratch.rend(); ++r) {
      r->offset = at;
      at += r->bytes + kArenaAlign;
    }
    std::reverse(k.scratch.begin(), k.scratch.end());  // (offset order)
    k.scratch_bytes = at;
  }
  plan_memory(g, plan);
  for (size_t i = 0; i < plan.kernels.size(); ++i) {
    Kernel& k = plan.kernels[i];
    if (k.scratch_bytes == 0) continue;
    k.scratch_offset = plan.memory.peak_bytes;
    for (ArenaSlot& s : plan.memory.slots)
      if (s.node < 0 && s.first == int(i)) s.offset = k.scratch_offset;
    plan.memory.peak_bytes += k.scratch_bytes;
  }
}

// Random values for every leaf (class 0 for i32 inputs).
ValueMap random_leaves(const Graph& g, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> d(-1, 1);
  ValueMap v;
  for (const auto* list : {&g.inputs, &g.params, &g.consts, &g.states})
    for (NodeId id : *list) {
      Tensor t(g[id].dtype, g[id].shape);
      for (double& e : t.data) e = g[id].dtype == DType::i32 ? 0.0 : double(float(d(rng)));
      v[g[id].name] = std::move(t);
    }
  return v;
}

struct Seen {
  int op = 0, anchor = 0, copy = 0;
};

// One step of g with its plans as codegen_plan makes them and with their scratch moved:
// every buffer bit-identical; in the moved step plan, every scratch region written and
// every other byte of a kernel's scratch untouched.
void check_code_follows_scratch_layout(const Graph& g, Seen& seen) {
  std::string err;
  auto cg0 = backend::compile_graph(g, {}, err);
  INFO(err);
  REQUIRE(cg0);
  std::optional<KernelPlan> step;
  backend::CompileOptions moved;
  moved.adjust_plan = [&](Entry e, KernelPlan& plan) {
    move_scratch(g, plan);
    for (const std::string& p : check_kernel_plan(g, plan)) UNSCOPED_INFO(p);
    CHECK(check_kernel_plan(g, plan).empty());
    if (e == Entry::step) step = plan;
  };
  auto cg1 = backend::compile_graph(g, moved, err);
  REQUIRE(cg1);
  REQUIRE(step);
  const ValueMap leaves = random_leaves(g, 3);
  backend::HostBuffers h0(*cg0), h1(*cg1);
  REQUIRE(h0.set_leaves(leaves, err));
  REQUIRE(h1.set_leaves(leaves, err));
  const size_t n = cg1->buffers().size();
  auto* arena = static_cast<unsigned char*>(h1.data(n));
  std::memset(arena, kUntouched, size_t(cg1->arena_bytes()));
  h0.run(Entry::step);
  h1.run(Entry::step);
  for (size_t i = 0; i < n; ++i) {
    INFO("buffer " << cg1->buffers()[i].name);
    CHECK(std::memcmp(h0.data(i), h1.data(i), size_t(cg1->buffers()[i].bytes())) == 0);
  }
  for (size_t ki = 0; ki < step->kernels.size(); ++ki) {
    const Kernel& k = step->kernels[ki];
    if (k.scratch_bytes == 0) continue;
    INFO("kernel " << ki << " " << kernel_kind_name(k.kind) << ", scratch @" << k.scratch_offset << " " << k.scratch_bytes << "B");
    std::vector<char> in_region(size_t(k.scratch_bytes), 0);
    for (const ScratchRegion& r : k.scratch) {
      INFO(scratch_use_name(r.use) << " region @+" << r.offset << " " << r.bytes << "B");
      bool written = false;
      for (int64_t b = r.offset; b < r.offset + r.bytes; ++b) {
        in_region[size_t(b)] = 1;
        written = written || arena[k.scratch_offset + b] != kUntouched;
      }
      CHECK(written);
      seen.op += r.use == ScratchUse::op;
      seen.anchor += r.use == ScratchUse::anchor;
      seen.copy += r.use == ScratchUse::copy;
    }
    int64_t stray = 0;
    for (int64_t b = 0; b < k.scratch_bytes; ++b) stray += !in_region[size_t(b)] && arena[k.scratch_offset + b] != kUntouched;
    CHECK(stray == 0);
  }
}

}  // namespace

TEST_CASE("the code uses the kernel plan's scratch layout", "[jit][scratch]") {
  Seen seen;
  SECTION("an op region and the anchor's region: softmax and logsumexp with epilogues, a packed GEMM") {
    Cases c;
    NodeId x = c.uniform({8, 10}, -2, 2);
    Attrs a0 = axes({0});
    c.out(c.op(Op::mul, {c.op(Op::softmax, {x}, a0), c.lit({}, {3})}));  // softmax itself in registers
    c.out(c.op(Op::add, {c.op(Op::logsumexp, {x}, axes({1})), c.lit({}, {1})}));
    NodeId w = c.uniform({10, 40}, -1, 1), y = c.uniform({32, 10}, -1, 1);
    c.out(c.op(Op::relu, {c.op(Op::matmul, {y, w})}));  // 32 rows: B packed
    KernelPlan plan = backend::codegen_plan(c.g, PlanScope::step);
    int with_both = 0;
    for (const Kernel& k : plan.kernels)
      with_both += k.scratch.size() == 2 && k.scratch[0].use == ScratchUse::op && k.scratch[1].use == ScratchUse::anchor &&
                   k.scratch[1].offset == k.scratch[0].bytes && k.scratch_bytes == k.scratch[1].offset + k.scratch[1].bytes;
    CHECK(with_both == 2);
    check_code_follows_scratch_layout(c.g, seen);
    CHECK(seen.op == 3);
    CHECK(seen.anchor == 2);
  }
  SECTION("the commit's copies: two states that swap") {
    Graph g;
    auto state = [&](std::string name) {
      Node n{Op::state, DType::f32, {4, 5}, {}, {}, {}, std::move(name)};
      NodeId id = g.append(std::move(n));
      g.states.push_back(id);
      return id;
    };
    NodeId a = state("a"), b = state("b");
    NodeId w = leaf(g, Op::param, "w", {4, 5}), x = leaf(g, Op::input, "x", {4, 5});
    g.train.present = true;
    g.train.minimize = g.make(Op::sum, {g.make(Op::mul, {w, x})});
    g.updates = {{a, b}, {b, a}, {w, g.make(Op::add, {w, a})}};
    KernelPlan plan = backend::codegen_plan(g, PlanScope::step);
    REQUIRE(plan.kernels.back().kind == KernelKind::commit);
    CHECK(plan.kernels.back().scratch.size() == 2);
    check_code_follows_scratch_layout(g, seen);
    CHECK(seen.copy == 2);
  }
  SECTION("every example's training step") {
    for (const auto& path : kiln::test::example_models()) {
      INFO("example " << path.filename().string());
      check_code_follows_scratch_layout(kiln::test::example_training_graph(path), seen);
    }
    CHECK(seen.op + seen.anchor > 0);
  }
}
