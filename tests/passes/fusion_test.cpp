// Fusion: exact kernel groupings of representative graphs (an MLP with Adam, a softmax
// cross-entropy classifier with SGD momentum, a reduction with prologue and epilogue), the
// individual rules (shapes, broadcasting loads, multiple consumers, cycles, update
// hazards), scopes, and the dump format; every plan is run by the test executor and must
// agree exactly with the interpreter.
#include "ir/printer.hpp"
#include "passes/fusion.hpp"
#include "tests/passes/fusion_graphs.hpp"
#include "tests/passes/plan_executor.hpp"
#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <optional>
#include <cstdio>
#include <cstdlib>
#include <unistd.h>

using namespace kiln;
using kiln::testing::Builder;

namespace {

// One line per kernel: "kind [shape]: op op ...", each op marked by its role:
// '*' anchor, '<' prologue, '>' epilogue, '^' folded operand transpose, '+' accumulate,
// nothing for body.
std::vector<std::string> signature(const Graph& g, const KernelPlan& p) {
  std::vector<std::string> out;
  for (const Kernel& k : p.kernels) {
    std::string s = fmt::format("{} [{}]:", kernel_kind_name(k.kind), fmt::join(k.shape, ","));
    for (const KernelNode& kn : k.nodes) {
      static constexpr const char* mark[] = {"", "^", "<", "*", ">", "+"};
      s += fmt::format(" {}{}", op_name(g[kn.id].op), mark[static_cast<int>(kn.role)]);
    }
    for (const Update& u : k.writes) s += fmt::format(" !{}", g[u.target].name);
    out.push_back(s);
  }
  return out;
}

int kernel_of_named(const Graph& g, const KernelPlan& p, const std::string& name) {
  for (NodeId i = 0; i < NodeId(g.size()); ++i)
    if (g[i].name == name && op_row(g[i].op).cls != OpClass::leaf) return p.values[i].kernel;
  return -2;
}

NodeId find_op(const Graph& g, Op op, int nth = 0) {
  for (NodeId i = 0; i < NodeId(g.size()); ++i)
    if (g[i].op == op && nth-- == 0) return i;
  return -1;
}

void require_sound(const Graph& g, const KernelPlan& p, const ValueMap& leaves) {
  auto problems = check_kernel_plan(g, p);
  INFO(print_kernel_plan(g, p));
  CHECK(testing::plan_is_topological(g, p));
  for (auto& s : problems) UNSCOPED_INFO(s);
  REQUIRE(problems.empty());
  CHECK(testing::compare_with_interpreter(g, p, leaves) == "");
}

ValueMap values_for(const Graph& g, uint64_t seed) {
  ValueMap vm = initial_values(g, seed);
  testing::random_inputs(g, vm, seed + 1);
  return vm;
}

}  // namespace

TEST_CASE("fusion: MLP forward, backward and Adam", "[fusion]") {
  Graph g = testing::mlp_adam();
  REQUIRE(testing::train_passes(g));
  KernelPlan p = plan_kernels(g);
  std::vector<std::string> want = {
      "matmul [8,16]: matmul* add> relu>",  // forward layer 1: bias and activation in the epilogue
      "matmul [8,1]: matmul* add> broadcast_to> mul> sub> mul> mul>",  // layer 2 + the loss gradient
      "elementwise [8,1]: squared_error mean+",  // the loss: a loop accumulating its mean
      "reduction [1]: sum_to*",              // db2
      "matmul [8,16]: transpose^ matmul* gt> mul>",  // dh = g W2^T times relu'(z): derivative in the epilogue
      "matmul [16,1]: transpose^ matmul*",   // dW2
      "reduction [16]: sum_to*",             // db1
      "matmul [4,16]: transpose^ matmul*",   // dW1
      "update []: add mul expm1 neg mul expm1 neg !step",  // the step counter and Adam's bias corrections
      "update [4,16]: mul mul add square mul mul add div div sqrt add mul div sub !w1.m !w1.v !w1",
      "update [16]: mul mul add square mul mul add div div sqrt add mul div sub !b1.m !b1.v !b1",
      "update [16,1]: mul mul add square mul mul add div div sqrt add mul div sub !w2.m !w2.v !w2",
      "update [1]: mul mul add square mul mul add div div sqrt add mul div sub !b2.m !b2.v !b2",
  };
  CHECK(signature(g, p) == want);
  // What is materialised: the pre-activation (for relu's derivative), h (for dW2), the
  // loss gradient and dh; everything else stays in registers or goes to root buffers.
  std::vector<NodeId> arena;
  for (const ArenaSlot& s : p.memory.slots) arena.push_back(s.node);
  NodeId z1 = find_op(g, Op::add, 0), h = find_op(g, Op::relu), gt = find_op(g, Op::gt);
  CHECK(p.values[z1].storage == Storage::arena);
  CHECK(p.values[h].storage == Storage::arena);
  CHECK(p.values[gt].storage == Storage::reg);
  CHECK(p.values[*g.train.minimize].storage == Storage::root);
  CHECK(p.values[g.outputs[0].second].storage == Storage::root);
  for (auto [param, grad] : g.grads) CHECK(p.values[grad].storage == Storage::root);
  // Every update is written in place by its own update kernel, after the last reader.
  for (const Update& u : g.updates) {
    CHECK(p.values[u.value].storage == Storage::target);
    CHECK(p.values[u.value].target == u.target);
  }
  CHECK(kernel_of_named(g, p, "h") == 0);
  require_sound(g, p, values_for(g, 5));
}

TEST_CASE("fusion: softmax cross-entropy classifier with SGD momentum", "[fusion]") {
  Graph g = testing::classifier_sgd();
  REQUIRE(testing::train_passes(g));
  KernelPlan p = plan_kernels(g);
  std::vector<std::string> want = {
      "matmul [6,5]: matmul* add> tanh>",
      "matmul [6,4]: matmul* add>",
      "row [6]: softmax_cross_entropy*",
      "reduction []: mean*",
      "reduction [6]: argmax*",
      "elementwise [6]: eq mean+",  // accuracy: a loop over the comparison accumulating its mean
      "elementwise [6]: broadcast_to mul",
      "row [6,4]: softmax* one_hot> where> sub> mul>",  // probs and the loss gradient in one row kernel
      "reduction [4]: sum_to*",
      "matmul [6,5]: transpose^ matmul* square> sub> mul>",  // tanh' = 1 - h^2 in the epilogue
      "matmul [5,4]: transpose^ matmul*",
      "reduction [5]: sum_to*",
      "matmul [3,5]: transpose^ matmul*",
      "update []: eq",
      "update [3,5]: mul add where mul sub !w1.momentum !w1",
      "update [5]: mul add where mul sub !b1.momentum !b1",
      "update [5,4]: mul add where mul sub !w2.momentum !w2",
      "update [4]: mul add where mul sub !b2.momentum !b2",
      "update []: add !step",
  };
  CHECK(signature(g, p) == want);
  // The loss gradient's reshape is a view of the [6] scaling vector: no copy.
  NodeId rs = find_op(g, Op::reshape);
  REQUIRE(rs >= 0);
  CHECK(p.values[rs].storage == Storage::view);
  CHECK(p.values[p.values[rs].base].storage == Storage::arena);
  // The step counter is written last: every kernel reading the old step runs before.
  CHECK(p.kernels.back().writes.size() == 1);
  CHECK(g[p.kernels.back().writes[0].target].name == "step");
  require_sound(g, p, values_for(g, 9));
}

TEST_CASE("fusion: a reduction with an elementwise prologue and epilogue is one kernel", "[fusion]") {
  Graph g = testing::reduction_prologue();
  KernelPlan p = plan_kernels(g);
  CHECK(signature(g, p) == std::vector<std::string>{"reduction []: sub< square< sum* sqrt> mul>"});
  CHECK(p.memory.slots.empty());
  CHECK(p.memory.peak_bytes == 0);
  CHECK(p.kernels[0].outputs == std::vector<NodeId>{g.outputs[0].second});
  require_sound(g, p, values_for(g, 2));
}

TEST_CASE("fusion: elementwise chains, broadcast loads and shape boundaries", "[fusion]") {
  Builder b;
  auto x = b.input("x", {4, 3});
  auto bias = b.input("bias", {3});
  auto v = b.input("v", {3});
  auto y = b.op(Op::tanh, {b.op(Op::add, {x, bias})});  // [4,3]: bias is a broadcast load
  auto u = b.op(Op::exp, {b.op(Op::neg, {v})});          // [3]: its own loop
  auto z = b.op(Op::mul, {y, u});                        // [4,3] reads u broadcast
  b.g.outputs.push_back({"z", z});
  KernelPlan p = plan_kernels(b.g);
  CHECK(signature(b.g, p) == std::vector<std::string>{"elementwise [3]: neg exp", "elementwise [4,3]: add tanh mul"});
  CHECK(p.values[u].storage == Storage::arena);  // read by another loop shape
  CHECK(p.values[y].storage == Storage::reg);
  CHECK(p.kernels[1].inputs == std::vector<NodeId>{x, bias, u});
  require_sound(b.g, p, values_for(b.g, 1));
}

TEST_CASE("fusion: a value with several consumers is computed once", "[fusion]") {
  Builder b;
  auto x = b.input("x", {5});
  auto e = b.op(Op::exp, {x});
  auto s = b.op(Op::sum, {e});
  auto twice = b.op(Op::mul, {e, b.g.scalar(2.0, DType::f64)});
  b.g.outputs.push_back({"s", s});
  b.g.outputs.push_back({"twice", twice});
  KernelPlan p = plan_kernels(b.g);
  // exp feeds the sum and a second output of its shape: one loop computing exp once (in
  // registers, never stored), accumulating the sum and storing the second output.
  CHECK(signature(b.g, p) == std::vector<std::string>{"elementwise [5]: exp sum+ mul"});
  CHECK(p.values[e].storage == Storage::reg);
  CHECK(p.values[twice].storage == Storage::root);
  require_sound(b.g, p, values_for(b.g, 3));

  // A consumer of a different shape forces materialisation.
  Builder c;
  auto x2 = c.input("x", {5});
  auto e2 = c.op(Op::exp, {x2});
  auto col = c.op(Op::mul, {c.input("m", {3, 5}), e2});
  c.g.outputs.push_back({"s", c.op(Op::sum, {e2})});
  c.g.outputs.push_back({"col", col});
  KernelPlan q = plan_kernels(c.g);
  CHECK(q.values[e2].storage == Storage::arena);
  CHECK(q.values[e2].kernel != q.values[col].kernel);
  require_sound(c.g, q, values_for(c.g, 4));
}

TEST_CASE("fusion: merges never create a cycle between kernels", "[fusion]") {
  // a -> transpose -> c and a -> c: fusing c with a would need the transpose inside the loop.
  Builder b;
  auto x = b.input("x", {3, 3});
  auto a = b.op(Op::add, {x, b.g.scalar(1.0, DType::f64)});
  auto t = b.op(Op::transpose, {a});
  auto c = b.op(Op::mul, {t, a});
  b.g.outputs.push_back({"c", c});
  KernelPlan p = plan_kernels(b.g);
  CHECK(signature(b.g, p) == std::vector<std::string>{"elementwise [3,3]: add", "shape [3,3]: transpose*", "elementwise [3,3]: mul"});
  require_sound(b.g, p, values_for(b.g, 5));

  // a feeds a reduction and a consumer of the reduction: a's loop accumulates the sum, the
  // consumer (same shape as a, but reading the finished sum) is a separate loop.
  Builder d;
  auto x2 = d.input("x", {4});
  auto a2 = d.op(Op::add, {x2, d.g.scalar(1.0, DType::f64)});
  auto s2 = d.op(Op::sum, {a2});
  auto c2 = d.op(Op::mul, {a2, s2});
  d.g.outputs.push_back({"c", c2});
  KernelPlan q = plan_kernels(d.g);
  CHECK(signature(d.g, q) == std::vector<std::string>{"elementwise [4]: add sum+", "elementwise [4]: mul"});
  CHECK(q.values[a2].storage == Storage::arena);
  require_sound(d.g, q, values_for(d.g, 6));
}

TEST_CASE("fusion: logsumexp takes no prologue, row kernels take epilogues", "[fusion]") {
  Builder b;
  auto x = b.input("x", {4, 6});
  auto sq = b.op(Op::square, {x});
  auto lse = b.op(Op::logsumexp, {sq}, Builder::axes({1}));
  auto ls = b.op(Op::log_softmax, {x}, Builder::axes({1}));
  auto out = b.op(Op::mul, {ls, b.g.scalar(-1.0, DType::f64)});
  b.g.outputs.push_back({"lse", lse});
  b.g.outputs.push_back({"nll", out});
  KernelPlan p = plan_kernels(b.g);
  CHECK(signature(b.g, p) ==
        std::vector<std::string>{"elementwise [4,6]: square", "reduction [4]: logsumexp*", "row [4,6]: log_softmax* mul>"});
  require_sound(b.g, p, values_for(b.g, 7));
}

TEST_CASE("fusion: update hazards: swaps, prologue reads and readers of old values", "[fusion]") {
  SECTION("a swap of two params goes through the commit kernel as a parallel assignment") {
    Builder b;
    auto p1 = b.param("p1", {3});
    auto p2 = b.param("p2", {3});
    b.g.outputs.push_back({"s", b.op(Op::add, {p1, p2})});
    b.g.updates.push_back({p1, p2});
    b.g.updates.push_back({p2, p1});
    KernelPlan p = plan_kernels(b.g);
    REQUIRE(p.kernels.size() == 2);
    CHECK(p.kernels[1].kind == KernelKind::commit);
    CHECK(p.kernels[1].writes.size() == 2);
    ValueMap vm = values_for(b.g, 1);
    vm["p1"].data = {1, 2, 3};
    vm["p2"].data = {4, 5, 6};
    require_sound(b.g, p, vm);
    auto run = testing::PlanExecutor(b.g, p).run(vm);
    CHECK(run.leaves["p1"].data == std::vector<double>{4, 5, 6});
    CHECK(run.leaves["p2"].data == std::vector<double>{1, 2, 3});
  }
  SECTION("one value written to two targets, and a root value, go through the commit") {
    Builder b;
    auto p1 = b.param("p1", {3});
    auto p2 = b.param("p2", {3});
    auto p3 = b.param("p3", {3});
    auto v = b.op(Op::tanh, {b.op(Op::add, {p1, p2})});
    auto r = b.op(Op::mul, {p3, b.g.scalar(3.0, DType::f64)});
    b.g.outputs.push_back({"r", r});
    b.g.updates.push_back({p1, v});
    b.g.updates.push_back({p2, v});
    b.g.updates.push_back({p3, r});
    KernelPlan p = plan_kernels(b.g);
    CHECK(p.values[v].storage == Storage::arena);
    CHECK(p.values[r].storage == Storage::root);
    REQUIRE(p.kernels.back().kind == KernelKind::commit);
    CHECK(p.kernels.back().writes.size() == 3);
    require_sound(b.g, p, values_for(b.g, 5));
  }
  SECTION("an update whose kernel reads the target in a reduction prologue is committed") {
    Builder b;
    auto w = b.param("w", {1, 3});
    auto v = b.op(Op::sum, {b.op(Op::mul, {w, w})}, Builder::axes({0}, true));  // [1,3], prologue reads w
    b.g.updates.push_back({w, v});
    KernelPlan p = plan_kernels(b.g);
    CHECK(signature(b.g, p) == std::vector<std::string>{"reduction [1,3]: mul< sum*", "commit []: !w"});
    CHECK(p.values[v].storage == Storage::arena);
    require_sound(b.g, p, values_for(b.g, 2));
  }
  SECTION("a kernel reading a param's old value runs before the param's in-place update") {
    Builder b;
    auto w = b.param("w", {4});
    auto q = b.param("q", {4});
    auto nw = b.op(Op::mul, {w, b.g.scalar(0.5, DType::f64)});          // w <- w/2, in place
    auto sw = b.op(Op::max, {b.op(Op::exp, {w})});                       // reads old w (no accumulator)
    auto nq = b.op(Op::add, {q, b.op(Op::broadcast_to, {sw}, [] { Attrs a; a.shape = {4}; return a; }())});
    b.g.updates.push_back({w, nw});
    b.g.updates.push_back({q, nq});
    KernelPlan p = plan_kernels(b.g);
    CHECK(p.values[nw].storage == Storage::target);
    CHECK(p.values[nq].storage == Storage::target);
    CHECK(p.values[sw].kernel < p.values[nw].kernel);
    require_sound(b.g, p, values_for(b.g, 3));
  }
  SECTION("two updates reading each other's targets cannot both be in place") {
    Builder b;
    auto a = b.param("a", {2});
    auto c = b.param("c", {2});
    auto x = b.input("x", {2});
    // a <- a + sum(c), c <- c + sum(a): each update kernel would have to run before the other.
    auto sum_to = [&](NodeId n) {
      Attrs at;
      at.shape = {2};
      return b.op(Op::broadcast_to, {b.op(Op::sum, {b.op(Op::mul, {n, x})})}, at);
    };
    auto na = b.op(Op::add, {a, sum_to(c)});
    auto nc = b.op(Op::add, {c, sum_to(a)});
    b.g.updates.push_back({a, na});
    b.g.updates.push_back({c, nc});
    KernelPlan p = plan_kernels(b.g);
    require_sound(b.g, p, values_for(b.g, 4));
  }
}

TEST_CASE("fusion: forward and predict scopes plan only what their roots need", "[fusion]") {
  Graph g = testing::classifier_sgd();
  REQUIRE(testing::train_passes(g));
  KernelPlan fwd = plan_kernels(g, PlanScope::forward);
  CHECK(signature(g, fwd) == std::vector<std::string>{
                                 "matmul [6,5]: matmul* add> tanh>",
                                 "matmul [6,4]: matmul* add>",
                                 "row [6]: softmax_cross_entropy*",
                                 "reduction []: mean*",
                                 "reduction [6]: argmax*",
                                 "elementwise [6]: eq mean+",
                                 "row [6,4]: softmax*",
                             });
  require_sound(g, fwd, values_for(g, 10));
  KernelPlan pred = plan_kernels(g, PlanScope::predict);
  CHECK(signature(g, pred) == std::vector<std::string>{"matmul [6,5]: matmul* add> tanh>", "matmul [6,4]: matmul* add>",
                                                       "row [6,4]: softmax*"});
  for (NodeId in : g.inputs)
    if (g[in].name == "labels") CHECK(pred.values[in].storage == Storage::none);
  require_sound(g, pred, values_for(g, 11));
}

TEST_CASE("fusion: several training steps through the plan match the interpreter", "[fusion]") {
  for (Graph g : {testing::mlp_adam(), testing::classifier_sgd()}) {
    REQUIRE(testing::train_passes(g));
    KernelPlan p = plan_kernels(g);
    REQUIRE(check_kernel_plan(g, p).empty());
    ValueMap ref = values_for(g, 21), mine = ref;
    for (int step = 0; step < 4; ++step) {
      std::string err;
      REQUIRE(train_step(g, ref, Precision::f64, err));
      mine = testing::PlanExecutor(g, p).run(mine).leaves;
      for (auto& [name, t] : ref) CHECK(mine.at(name).data == t.data);
    }
  }
}

TEST_CASE("fusion: the dump format", "[fusion]") {
  Builder b;
  auto x = b.input("x", {2, 3});
  auto y = b.op(Op::exp, {x}, {}, {2, 5, 2, 11});
  b.g[y].name = "e";
  auto s = b.op(Op::sum, {y}, Builder::axes({1}), {3, 5, 3, 12});
  auto t = b.op(Op::transpose, {y});
  b.g.file = "tiny.model";
  b.g.model_name = "tiny";
  b.g.outputs.push_back({"s", s});
  b.g.outputs.push_back({"t", t});
  KernelPlan p = plan_kernels(b.g);
  std::string want =
      "fused tiny (step): 2 kernels; 0 nodes in registers, 1 in the arena, 2 in root buffers, 0 written in place; "
      "1 leaves, 0 literals, 0 views\n"
      "arena: 1 slots, peak 64 bytes, 64 bytes without reuse\n"
      "\n"
      "kernel 0 reduction f64[2] (anchor %2 sum)\n"
      "  %1 exp \"e\"   f64[2,3] prologue arena @0 48B tiny.model:2:5\n"
      "  %2 sum       f64[2]   anchor   root 16B     tiny.model:3:5\n"
      "  reads: %0 input x\n"
      "\n"
      "kernel 1 shape f64[3,2] (anchor %3 transpose)\n"
      "  %3 transpose f64[3,2] anchor   root 48B\n"
      "  reads: %1 from k0 (arena @0 48B)\n"
      "\n"
      "arena layout:\n"
      "  @0              48B  %1     f64[2,3]     k0..k1\n";
  CHECK(print_kernel_plan(b.g, p) == want);
  Graph g = testing::mlp_adam();
  REQUIRE(testing::train_passes(g));
  std::string dump = print_kernel_plan(g, plan_kernels(g));
  CHECK(dump.find("kernel 4 matmul f64[8,16] (anchor %23 matmul)") != std::string::npos);
  NodeId w1_new = -1;
  for (const Update& u : g.updates)
    if (g[u.target].name == "w1") w1_new = u.value;
  CHECK(dump.find("writes: param w1 (%2) <- %" + std::to_string(w1_new) + "\n") != std::string::npos);
  CHECK(dump.find("relu \"h\"") != std::string::npos);
  CHECK(dump.find("mlp.model:3:1") != std::string::npos);
}

TEST_CASE("fusion: every optimizer's update is written in place, one kernel per param", "[fusion]") {
  struct Config {
    std::string kind;
    double momentum = 0, weight_decay = 0;
    bool nesterov = false;
    std::optional<double> clip;
    std::string schedule = "constant";
  };
  std::vector<Config> configs = {{"sgd"},
                                 {"sgd", 0.9, 0, true},
                                 {"adam", 0, 0.01},
                                 {"adamw", 0, 0.01, false, 1.0},
                                 {"rmsprop", 0, 0, false, std::nullopt, "cosine"},
                                 {"adagrad", 0, 0.1, false, 0.5, "step_decay"}};
  for (const Config& c : configs) {
    Graph g = testing::mlp_adam();
    g.train.optimizer.kind = kiln::optimizer_kind(c.kind).value();
    g.train.optimizer.momentum = c.momentum;
    g.train.optimizer.nesterov = c.nesterov;
    g.train.optimizer.weight_decay = c.weight_decay;
    g.train.clip_norm = c.clip;
    g.train.schedule.kind = kiln::schedule_kind(c.schedule).value();
    g.train.schedule.total = 100;
    g.train.schedule.every = 3;
    g.train.schedule.rate = 0.5;
    REQUIRE(testing::train_passes(g));
    KernelPlan p = plan_kernels(g);
    INFO(c.kind << "\n" << print_kernel_plan(g, p));
    for (const Update& u : g.updates) CHECK(p.values[u.value].storage == Storage::target);
    CHECK(p.kernels.back().kind != KernelKind::commit);
    // One update kernel writes each param; it also writes that param's states.
    for (NodeId param : g.params) {
      int writers = 0;
      for (const Kernel& k : p.kernels)
        for (const Update& u : k.writes)
          if (u.target == param) {
            ++writers;
            CHECK(k.kind == KernelKind::update);
            for (const Update& w : k.writes)
              if (w.target != param) CHECK(g[w.target].name.rfind(g[param].name + ".", 0) == 0);
          }
      CHECK(writers == 1);
    }
    require_sound(g, p, values_for(g, 13));
  }
}

TEST_CASE("fusion: the JSON form parses and agrees with the plan", "[fusion]") {
  Graph g = testing::classifier_sgd();
  REQUIRE(testing::train_passes(g));
  KernelPlan p = plan_kernels(g);
  for (Node& n : g.nodes)
    if (n.name == "logits") n.name = "lo\"g\\its";  // escaping
  std::string json = print_kernel_plan_json(g, p);
  if (std::system("python3 -c pass > /dev/null 2>&1") != 0) {
    WARN("python3 not found: the JSON form is not checked by a parser");
    return;
  }
  std::string path = fmt::format("/tmp/kiln_fusion_plan_{}.json", ::getpid());
  std::string out_path = path + ".out";
  {
    std::FILE* f = std::fopen(path.c_str(), "w");
    REQUIRE(f);
    std::fputs(json.c_str(), f);
    std::fclose(f);
  }
  // The parser summarises: kernels, nodes in kernels, register nodes, writes, arena slots,
  // peak, and the first node's name.
  std::string cmd = fmt::format(
      "python3 -c \"import json,sys; d=json.load(open(sys.argv[1])); k=d['kernels']; "
      "n=[x for y in k for x in y['nodes']]; "
      "print(len(k), len(n), sum(x['storage']=='reg' for x in n), sum(len(y['writes']) for y in k), "
      "len(d['memory']['slots']), d['memory']['peak_bytes'], d['scope'], "
      "[v for v in d['values'] if v['id']==0][0]['storage'], '|'.join(x['name'] for x in n if x['name']))\" {} > {}",
      path, out_path);
  REQUIRE(std::system(cmd.c_str()) == 0);
  std::string got;
  {
    std::FILE* f = std::fopen(out_path.c_str(), "r");
    REQUIRE(f);
    char buf[512];
    while (std::fgets(buf, sizeof buf, f)) got += buf;
    std::fclose(f);
  }
  std::remove(path.c_str());
  std::remove(out_path.c_str());
  size_t nodes = 0, regs = 0, writes = 0;
  for (const Kernel& k : p.kernels) {
    nodes += k.nodes.size();
    writes += k.writes.size();
    for (const KernelNode& kn : k.nodes) regs += p.values[kn.id].storage == Storage::reg;
  }
  std::string names;
  for (const Kernel& k : p.kernels)
    for (const KernelNode& kn : k.nodes)
      if (!g[kn.id].name.empty()) names += (names.empty() ? "" : "|") + g[kn.id].name;
  CHECK(names == "lo\"g\\its");
  CHECK(got == fmt::format("{} {} {} {} {} {} step leaf {}\n", p.kernels.size(), nodes, regs, writes,
                           p.memory.slots.size(), p.memory.peak_bytes, names));
}
