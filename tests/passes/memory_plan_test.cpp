// Memory planning: assign_offsets on hand-made and random live ranges (brute-force overlap
// checks), the arena of real plans (every needed node covered exactly once, no two live
// slots overlapping, reuse), and the plan checker catching corrupted plans.
#include "passes/fusion.hpp"
#include "passes/memory_plan.hpp"
#include "tests/passes/fusion_graphs.hpp"
#include "tests/passes/plan_executor.hpp"
#include <catch2/catch.hpp>
#include <random>

using namespace kiln;
using kiln::testing::Builder;

namespace {

int64_t rounded(int64_t b) { return (b + kArenaAlign - 1) / kArenaAlign * kArenaAlign; }

// Brute force: values live at the same time never share a byte.
bool disjoint_when_live(const std::vector<LiveValue>& v, const std::vector<int64_t>& off) {
  for (size_t i = 0; i < v.size(); ++i)
    for (size_t j = 0; j < i; ++j) {
      bool live = v[i].first <= v[j].last && v[j].first <= v[i].last;
      bool overlap = off[i] < off[j] + v[j].bytes && off[j] < off[i] + v[i].bytes;
      if (live && overlap) return false;
    }
  return true;
}

// A deeper MLP: 3 hidden layers, batch 32, Adam.
Graph deep_mlp() {
  Builder b;
  auto x = b.input("x", {32, 10});
  auto y = b.input("y", {32, 1});
  NodeId h = x;
  int64_t width = 10;
  int layer = 0;
  for (int64_t next : {64, 64, 32, 1}) {
    auto w = b.leaf(Op::param, "w" + std::to_string(layer), {width, next}, DType::f64, testing::glorot());
    auto bias = b.leaf(Op::param, "b" + std::to_string(layer), {next}, DType::f64);
    h = b.op(Op::add, {b.op(Op::matmul, {h, w}), bias});
    if (next != 1) h = b.op(Op::sigmoid, {h});
    width = next;
    ++layer;
  }
  auto loss = b.op(Op::mean, {b.op(Op::bce_with_logits, {h, y})});
  b.g.outputs.push_back({"logit", h});
  b.g.train.present = true;
  b.g.train.minimize = loss;
  b.g.train.optimizer.kind = kiln::OptimizerKind::adam;
  return std::move(b.g);
}

}  // namespace

TEST_CASE("memplan: assign_offsets reuses memory of dead values, 64-byte aligned", "[memplan]") {
  // 200 bytes live over [1,2]; 100 over [0,1]; 64 over [2,3]; 10 over [4,4].
  std::vector<LiveValue> v = {{100, 0, 1}, {64, 2, 3}, {200, 1, 2}, {10, 4, 4}};
  int64_t peak = 0;
  auto off = assign_offsets(v, peak);
  // Largest first: 200 -> 0; 100 overlaps it in time -> 256; 64 overlaps the 200 but not
  // the 100 -> 256; 10 is alone -> 0.
  CHECK(off == std::vector<int64_t>{256, 256, 0, 0});
  CHECK(peak == 384);
  for (int64_t o : off) CHECK(o % kArenaAlign == 0);
  CHECK(disjoint_when_live(v, off));
}

TEST_CASE("memplan: assign_offsets takes the smallest gap that fits", "[memplan]") {
  // Three long-lived values with two holes between them after the short ones die:
  // a 128-byte hole at 256 and a 64-byte hole at 512.
  std::vector<LiveValue> v = {
      {256, 0, 9},  // A @0
      {192, 0, 1},  // short; placed before the gaps exist
      {256, 0, 9},  // B
      {128, 0, 9},  // C
  };
  int64_t peak = 0;
  auto off = assign_offsets(v, peak);
  CHECK(disjoint_when_live(v, off));
  // Now a 64-byte value live after the short one died goes into the best gap: the 192
  // bytes freed by the short value (the only gap), not the end.
  v.push_back({64, 5, 6});
  auto off2 = assign_offsets(v, peak);
  CHECK(disjoint_when_live(v, off2));
  CHECK(off2[4] == off2[1]);  // reuses the short value's bytes
  CHECK(peak == 256 + 256 + 192 + 128);
  // Best fit: X (128 B) and Y (64 B) die at once, leaving a 128-byte gap at 0 and a
  // 64-byte gap at 192 between the long-lived L1 and L2; a later 64-byte value takes the
  // 64-byte gap (first fit would take offset 0).
  std::vector<LiveValue> w = {{128, 0, 0}, {64, 0, 9}, {64, 0, 0}, {64, 0, 9}};
  auto offw = assign_offsets(w, peak);
  CHECK(offw == std::vector<int64_t>{0, 128, 192, 256});
  w.push_back({64, 5, 5});
  auto offw2 = assign_offsets(w, peak);
  CHECK(offw2[4] == 192);
  CHECK(peak == 320);
}

TEST_CASE("memplan: random live ranges never overlap while live", "[memplan]") {
  std::mt19937_64 rng(99);
  for (int round = 0; round < 50; ++round) {
    std::vector<LiveValue> v;
    int n = std::uniform_int_distribution<int>(1, 80)(rng);
    for (int i = 0; i < n; ++i) {
      int a = std::uniform_int_distribution<int>(0, 40)(rng);
      int len = std::uniform_int_distribution<int>(0, 10)(rng);
      v.push_back({std::uniform_int_distribution<int64_t>(1, 5000)(rng), a, a + len});
    }
    int64_t peak = 0;
    auto off = assign_offsets(v, peak);
    REQUIRE(disjoint_when_live(v, off));
    int64_t sum = 0, max_live = 0, max_end = 0;
    for (size_t i = 0; i < v.size(); ++i) {
      sum += rounded(v[i].bytes);
      max_end = std::max(max_end, off[i] + rounded(v[i].bytes));
      CHECK(off[i] % kArenaAlign == 0);
    }
    for (int t = 0; t <= 50; ++t) {
      int64_t live = 0;
      for (auto& x : v)
        if (x.first <= t && t <= x.last) live += rounded(x.bytes);
      max_live = std::max(max_live, live);
    }
    CHECK(peak == max_end);
    CHECK(peak >= max_live);  // no placement can beat the largest simultaneous set
    CHECK(peak <= sum);
  }
}

TEST_CASE("memplan: plans cover every needed node once and never overlap live slots", "[memplan]") {
  for (Graph g : {testing::mlp_adam(), testing::classifier_sgd(), deep_mlp()}) {
    REQUIRE(testing::train_passes(g));
    KernelPlan p = plan_kernels(g);
    INFO(print_kernel_plan(g, p));
    REQUIRE(check_kernel_plan(g, p).empty());
    // Needed: the ancestors of every root and update value (computed here independently).
    std::vector<char> needed(g.size(), 0);
    for (NodeId r : g.roots()) needed[r] = 1;
    for (NodeId i = NodeId(g.size()) - 1; i >= 0; --i)
      if (needed[i])
        for (NodeId o : g[i].in) needed[o] = 1;
    std::vector<int> computed(g.size(), 0);
    for (const Kernel& k : p.kernels)
      for (const KernelNode& kn : k.nodes) ++computed[kn.id];
    for (NodeId i = 0; i < NodeId(g.size()); ++i) {
      bool leaf = op_row(g[i].op).cls == OpClass::leaf;
      bool view = p.values[i].storage == Storage::view;
      INFO("node %" << i);
      CHECK(computed[i] == (needed[i] && !leaf && !view ? 1 : 0));
      if (view) CHECK(g[i].op == Op::reshape);
    }
    // Brute force over slots: live ranges from the kernels' inputs, no overlap when live.
    const auto& s = p.memory.slots;
    for (const ArenaSlot& a : s) {
      int last = a.first;
      for (size_t k = 0; k < p.kernels.size(); ++k)
        for (NodeId o : p.kernels[k].inputs)
          if (p.values[o].base == a.node) last = std::max(last, int(k));
      CHECK(a.last == last);
      CHECK(a.bytes == num_elements(g[a.node].shape) * element_bytes(g[a.node].dtype));
    }
    for (size_t i = 0; i < s.size(); ++i)
      for (size_t j = 0; j < i; ++j) {
        bool live = s[i].first <= s[j].last && s[j].first <= s[i].last;
        bool overlap = s[i].offset < s[j].offset + s[j].bytes && s[j].offset < s[i].offset + s[i].bytes;
        CHECK_FALSE((live && overlap));
      }
    CHECK(p.memory.peak_bytes <= p.memory.unshared_bytes);
    ValueMap vm = initial_values(g, 8);
    testing::random_inputs(g, vm, 8);
    CHECK(testing::compare_with_interpreter(g, p, vm) == "");
  }
}

TEST_CASE("memplan: the deep MLP reuses arena memory", "[memplan]") {
  Graph g = deep_mlp();
  REQUIRE(testing::train_passes(g));
  KernelPlan p = plan_kernels(g);
  CHECK(p.memory.slots.size() > 6);
  CHECK(p.memory.peak_bytes < p.memory.unshared_bytes * 3 / 4);
  // Forward-only plans keep only what the forward pass passes between kernels.
  KernelPlan f = plan_kernels(g, PlanScope::predict);
  CHECK(f.memory.peak_bytes < p.memory.peak_bytes);
  REQUIRE(check_kernel_plan(g, f).empty());
}

TEST_CASE("memplan: kernel scratch lives during its kernel only", "[memplan]") {
  Graph g = deep_mlp();
  REQUIRE(testing::train_passes(g));
  KernelPlan p = plan_kernels(g);
  int64_t before = p.memory.peak_bytes;
  int with_scratch = 0;
  for (Kernel& k : p.kernels)
    if (k.kind == KernelKind::matmul) {
      k.scratch_bytes = 4096;
      ++with_scratch;
    }
  plan_memory(g, p);
  REQUIRE(check_kernel_plan(g, p).empty());
  int scratch_slots = 0;
  for (const Kernel& k : p.kernels) {
    CHECK((k.scratch_offset >= 0) == (k.scratch_bytes > 0));
    if (k.scratch_offset >= 0) CHECK(k.scratch_offset % kArenaAlign == 0);
  }
  for (const ArenaSlot& s : p.memory.slots) scratch_slots += s.node < 0;
  CHECK(scratch_slots == with_scratch);
  CHECK(p.memory.peak_bytes >= before);
  CHECK(p.memory.peak_bytes < before + with_scratch * 4096);  // scratch slots share memory
  // The executor overwrites each kernel's scratch before running it: results must not change.
  ValueMap vm = initial_values(g, 12);
  testing::random_inputs(g, vm, 12);
  CHECK(testing::compare_with_interpreter(g, p, vm) == "");
  CHECK(print_kernel_plan(g, p).find("scratch: arena @") != std::string::npos);
  // A scratch slot moved onto a live value is caught.
  KernelPlan bad = p;
  for (Kernel& k : bad.kernels)
    if (k.scratch_bytes > 0 && !k.inputs.empty() && bad.values[k.inputs[0]].storage == Storage::arena) {
      k.scratch_offset = bad.values[k.inputs[0]].offset;
      for (ArenaSlot& s : bad.memory.slots)
        if (s.node < 0 && s.first == int(&k - bad.kernels.data())) s.offset = k.scratch_offset;
      break;
    }
  CHECK_FALSE(check_kernel_plan(g, bad).empty());
  CHECK(testing::compare_with_interpreter(g, bad, vm) != "");
}

TEST_CASE("memplan: the checker and the executor catch corrupted plans", "[memplan]") {
  Graph g = testing::mlp_adam();
  REQUIRE(testing::train_passes(g));
  const KernelPlan good = plan_kernels(g);
  REQUIRE(check_kernel_plan(g, good).empty());
  ValueMap vm = initial_values(g, 4);
  testing::random_inputs(g, vm, 4);
  REQUIRE(testing::compare_with_interpreter(g, good, vm) == "");

  SECTION("two live slots at one offset") {
    KernelPlan bad = good;
    auto& s = bad.memory.slots;
    size_t a = 0, b = 1;  // the first two slots (z1 and h of layer 1) are live together
    REQUIRE(s[a].first <= s[b].last);
    s[b].offset = s[a].offset;
    bad.values[s[b].node].offset = s[a].offset;
    CHECK_FALSE(check_kernel_plan(g, bad).empty());
    CHECK(testing::compare_with_interpreter(g, bad, vm) != "");
  }
  SECTION("a node missing from its kernel") {
    KernelPlan bad = good;
    bad.kernels[0].nodes.pop_back();
    CHECK_FALSE(check_kernel_plan(g, bad).empty());
    CHECK(testing::compare_with_interpreter(g, bad, vm) != "");
  }
  SECTION("kernels out of dependency order") {
    KernelPlan bad = good;
    std::swap(bad.kernels[0], bad.kernels[1]);
    CHECK_FALSE(check_kernel_plan(g, bad).empty());
    CHECK(testing::compare_with_interpreter(g, bad, vm) != "");
  }
  SECTION("a register value read by another kernel") {
    KernelPlan bad = good;
    NodeId h = -1;
    for (NodeId i = 0; i < NodeId(g.size()); ++i)
      if (g[i].op == Op::relu) h = i;
    bad.values[h].storage = Storage::reg;
    CHECK_FALSE(check_kernel_plan(g, bad).empty());
    CHECK(testing::compare_with_interpreter(g, bad, vm) != "");
  }
  SECTION("an in-place update before a reader of the old value") {
    KernelPlan bad = good;
    // Move the w1 update kernel in front of the first kernel (which reads w1).
    size_t k = 0;
    while (k < bad.kernels.size() && (bad.kernels[k].writes.empty() || g[bad.kernels[k].writes.back().target].name != "w1")) ++k;
    REQUIRE(k < bad.kernels.size());
    Kernel upd = bad.kernels[k];
    bad.kernels.erase(bad.kernels.begin() + long(k));
    bad.kernels.insert(bad.kernels.begin(), upd);
    CHECK_FALSE(check_kernel_plan(g, bad).empty());
  }
}
