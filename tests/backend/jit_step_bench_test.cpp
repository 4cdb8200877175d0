// Hidden timing of whole training steps ("[.][jitbench]"): the bench's MLPs through
// autodiff + Adam, JIT step time (single thread), with the loss checked to be finite and
// falling.
#include "jit_test_util.hpp"
#include "passes/autodiff.hpp"
#include "passes/optimizer.hpp"
#include "passes/simplify.hpp"
#include <chrono>
#include <ctime>
#include <cstdlib>
#include <fmt/format.h>

using namespace kiln;
using namespace kiln::jit_test;

namespace {

// An MLP with layer widths `w`, activation `act`, and loss: bce_with_logits (1 output),
// softmax_cross_entropy with i32 labels (several outputs), or MSE when `mse`.
Graph mlp(std::vector<int64_t> w, int64_t batch, Op act, bool mse) {
  Graph g;
  NodeId h = leaf(g, Op::input, "x", {batch, w[0]});
  for (size_t l = 0; l + 1 < w.size(); ++l) {
    NodeId wt = leaf(g, Op::param, fmt::format("w{}", l), {w[l], w[l + 1]}, DType::f32, InitKind::glorot_uniform);
    NodeId b = leaf(g, Op::param, fmt::format("b{}", l), {w[l + 1]}, DType::f32, InitKind::zeros);
    h = g.make(Op::add, {g.make(Op::matmul, {h, wt}), b});
    if (l + 2 < w.size()) h = g.make(act, {h});
  }
  NodeId loss;
  if (mse) loss = g.make(Op::mean, {g.make(Op::squared_error, {h, leaf(g, Op::input, "y", {batch, w.back()})})});
  else if (w.back() == 1) loss = g.make(Op::mean, {g.make(Op::bce_with_logits, {h, leaf(g, Op::input, "y", {batch, 1})})});
  else {
    Node n{Op::input, DType::i32, {batch}, {}, {}, {}, "y"};
    NodeId y = g.append(n);
    g.inputs.push_back(y);
    loss = g.make(Op::mean, {g.make(Op::softmax_cross_entropy, {h, y})});
  }
  g.train.present = true;
  g.train.minimize = loss;
  g.train.optimizer.kind = kiln::OptimizerKind::adam;
  g.train.optimizer.lr = 1e-3;
  return g;
}

}  // namespace

TEST_CASE("training step time", "[.][jitbench]") {
  struct B { const char* what; Graph g; };
  std::vector<B> bs;
  bs.push_back({"linreg 10->1 b32 (adam)", mlp({10, 1}, 32, Op::relu, true)});
  bs.push_back({"mlp 10-128-64-1 sigmoid b64", mlp({10, 128, 64, 1}, 64, Op::sigmoid, false)});
  bs.push_back({"mlp 784-512-512-10 relu b128", mlp({784, 512, 512, 10}, 128, Op::relu, false)});
  const char* only = std::getenv("KILN_BENCH_ONLY");  // a substring of the model's description
  for (auto& [what, g0] : bs) {
    if (only && std::string_view(what).find(only) == std::string_view::npos) continue;
    Graph g = g0;
    Diagnostics d;
    Pipeline p;
    p.add(make_autodiff_pass()).add(make_optimizer_pass());
    REQUIRE(p.run(g, d).ok);
    REQUIRE(make_simplify_pipeline().run(g, d).ok);
    std::string err;
    double c0 = cpu_seconds();
    auto cg = backend::compile_graph(g, {}, err);
    double compile_cpu = cpu_seconds() - c0;
    INFO(err);
    REQUIRE(cg);
    ValueMap v = initial_values(g, 1);
    std::mt19937 rng(3);
    for (NodeId in : g.inputs) {
      Tensor t(g[in].dtype, g[in].shape);
      std::uniform_int_distribution<int> cls(0, int(g[in].dtype == DType::i32 ? 9 : 1));
      std::normal_distribution<double> nd;
      for (double& e : t.data) e = g[in].name == "y" ? cls(rng) : float(nd(rng));
      v[g[in].name] = t;
    }
    backend::HostBuffers hb(*cg);
    REQUIRE(hb.set_leaves(v, err));
    int lb = cg->find(backend::BufferKind::loss, "loss");
    hb.run(backend::Entry::step);
    double first = hb.get(lb).data[0];
    int reps = 0;
    double t0 = cpu_seconds(), el = 0;
    while (el < 0.5) {
      hb.run(backend::Entry::step);
      ++reps;
      el = cpu_seconds() - t0;
    }
    double last = hb.get(lb).data[0];
    WARN(fmt::format("{}: {} nodes, {:.1f} us/step (thread CPU time), compile {:.0f} ms ({:.0f} ms CPU: IR {:.0f}, O3 {:.0f}, machine code {:.0f} wall), loss {:.4f} -> {:.4f}", what, g.size(),
                     el / reps * 1e6, cg->compile_seconds() * 1e3, compile_cpu * 1e3, cg->ir_seconds() * 1e3,
                     cg->opt_seconds() * 1e3, cg->codegen_seconds() * 1e3, first, last));
    CHECK(std::isfinite(last));
    CHECK(last < first);
  }
}
