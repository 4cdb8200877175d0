// Whole training graphs (autodiff + optimizer [+ simplify]) JIT-compiled: one `step` from
// shared states (the interpreter's after 0 and 5 steps) on the JIT and the interpreter
// within the rounding model of the f64 reference; the forward/predict entries; update
// semantics (all old values read before any write).
#include "jit_test_util.hpp"
#include "one_step.hpp"
#include "passes/autodiff.hpp"
#include "passes/optimizer.hpp"
#include "passes/simplify.hpp"
#include <fmt/format.h>

using namespace kiln;
using namespace kiln::jit_test;
using backend::BufferKind;
using backend::Entry;

namespace {

struct Model {
  std::string what;
  Graph g;
  std::function<void(ValueMap&, std::mt19937&)> batch;  // fills the inputs of one step
};

// x [B, F] -> hidden (act) -> out; `head` builds the loss (and metrics/outputs) from logits.
Model mlp(std::string what, int64_t B, int64_t F, int64_t H, int64_t O, Op act, const std::string& optimizer,
          std::function<NodeId(Graph&, NodeId logits)> head, std::function<void(ValueMap&, std::mt19937&)> batch) {
  Model m{std::move(what), {}, std::move(batch)};
  Graph& g = m.g;
  g.model_name = "mlp";
  NodeId x = leaf(g, Op::input, "x", {B, F});
  NodeId w1 = leaf(g, Op::param, "w1", {F, H}, DType::f32, InitKind::glorot_uniform);
  NodeId b1 = leaf(g, Op::param, "b1", {H}, DType::f32, InitKind::zeros);
  NodeId w2 = leaf(g, Op::param, "w2", {H, O}, DType::f32, InitKind::glorot_uniform);
  NodeId b2 = leaf(g, Op::param, "b2", {O}, DType::f32, InitKind::zeros);
  Attrs a;
  if (op_row(act).attrs & kAlpha) a.alpha = 0.1;
  NodeId h = g.make(act, {g.make(Op::add, {g.make(Op::matmul, {x, w1}), b1})}, a);
  NodeId logits = g.make(Op::add, {g.make(Op::matmul, {h, w2}), b2});
  g.train.present = true;
  g.train.minimize = head(g, logits);
  g.train.optimizer.kind = kiln::optimizer_kind(optimizer).value();
  g.train.optimizer.lr = optimizer == "sgd" ? 0.1 : 0.01;
  g.train.optimizer.momentum = optimizer == "sgd" ? 0.9 : 0;
  return m;
}

void fill(ValueMap& v, const std::string& name, Shape s, std::mt19937& rng, double lo, double hi, DType t = DType::f32) {
  Tensor x(t, std::move(s));
  std::uniform_real_distribution<double> d(lo, hi);
  for (double& e : x.data) e = t == DType::i32 ? std::floor(d(rng)) : double(float(d(rng)));
  v[name] = std::move(x);
}

std::vector<Model> models() {
  std::vector<Model> ms;
  ms.push_back(mlp("binary: relu, bce_with_logits, adam", 32, 10, 33, 1, Op::relu, "adam",
                   [](Graph& g, NodeId z) {
                     NodeId y = leaf(g, Op::input, "y", {32, 1});
                     g.outputs.push_back({"prob", g.make(Op::sigmoid, {z})});
                     NodeId acc = g.make(Op::mean, {g.make(Op::eq, {g.make(Op::round, {g.make(Op::sigmoid, {z})}), y})});
                     g.train.metrics.push_back({"accuracy", acc});
                     return g.make(Op::mean, {g.make(Op::bce_with_logits, {z, y})});
                   },
                   [](ValueMap& v, std::mt19937& r) {
                     fill(v, "x", {32, 10}, r, -2, 2);
                     fill(v, "y", {32, 1}, r, 0, 2, DType::i32);
                     v["y"].dtype = DType::f32;
                   }));
  ms.push_back(mlp("classes: tanh, softmax_cross_entropy(i32), sgd momentum", 17, 7, 20, 5, Op::tanh, "sgd",
                   [](Graph& g, NodeId z) {
                     NodeId y = leaf(g, Op::input, "labels", {17}, DType::i32);
                     Attrs ax;
                     ax.axes = {1};
                     g.outputs.push_back({"p", g.make(Op::softmax, {z}, ax)});
                     g.train.metrics.push_back({"accuracy", g.make(Op::mean, {g.make(Op::eq, {g.make(Op::argmax, {z}, ax), y})})});
                     return g.make(Op::mean, {g.make(Op::softmax_cross_entropy, {z, y})});
                   },
                   [](ValueMap& v, std::mt19937& r) {
                     fill(v, "x", {17, 7}, r, -2, 2);
                     fill(v, "labels", {17}, r, 0, 5, DType::i32);
                   }));
  ms.push_back(mlp("regression: gelu, huber, rmsprop", 24, 9, 16, 3, Op::gelu, "rmsprop",
                   [](Graph& g, NodeId z) {
                     NodeId y = leaf(g, Op::input, "y", {24, 3});
                     Attrs a;
                     a.alpha = 1.0;
                     return g.make(Op::sum, {g.make(Op::huber, {z, y}, a)});
                   },
                   [](ValueMap& v, std::mt19937& r) {
                     fill(v, "x", {24, 9}, r, -2, 2);
                     fill(v, "y", {24, 3}, r, -1, 1);
                   }));
  ms.push_back(mlp("one-hot: leaky_relu, log_softmax, adamw", 16, 12, 40, 4, Op::leaky_relu, "adamw",
                   [](Graph& g, NodeId z) {
                     NodeId y = leaf(g, Op::input, "labels", {16}, DType::i32);
                     Attrs n, ax;
                     n.n = 4;
                     ax.axes = {1};
                     NodeId oh = g.make(Op::one_hot, {y}, n);
                     NodeId ls = g.make(Op::log_softmax, {z}, ax);
                     return g.make(Op::neg, {g.make(Op::mean, {g.make(Op::sum, {g.make(Op::mul, {oh, ls})}, ax)})});
                   },
                   [](ValueMap& v, std::mt19937& r) {
                     fill(v, "x", {16, 12}, r, -2, 2);
                     fill(v, "labels", {16}, r, 0, 4, DType::i32);
                   }));
  return ms;
}

}  // namespace

TEST_CASE("JIT training steps: one step from a shared state within the rounding model", "[jit]") {
  for (Model& m : models()) {
    for (bool simplify : {false, true}) {
      INFO(m.what << (simplify ? " (simplified)" : ""));
      Graph g = m.g;
      Diagnostics d;
      Pipeline p;
      p.add(make_autodiff_pass()).add(make_optimizer_pass());
      bool ok = p.run(g, d).ok;
      INFO(d.render_all());
      REQUIRE(ok);
      if (simplify) REQUIRE(make_simplify_pipeline().run(g, d).ok);
      REQUIRE_FALSE(d.has_errors());
      REQUIRE(!g.updates.empty());
      std::string err;
      auto cg = backend::compile_graph(g, {}, err);
      INFO(err);
      REQUIRE(cg);
      WARN(fmt::format("{}{}: {} nodes, compiled in {:.1f} ms (IR {:.1f}, O3 {:.1f}, machine code {:.1f}), arena {} bytes",
                       m.what, simplify ? " (simplified)" : "", g.size(), 1e3 * cg->compile_seconds(),
                       1e3 * cg->ir_seconds(), 1e3 * cg->opt_seconds(), 1e3 * cg->codegen_seconds(), cg->arena_bytes()));
      // One step from shared states: the interpreter's after 0 and 5 steps of its own.
      ValueMap state = initial_values(g, 42);
      std::mt19937 rng(7);
      int done = 0;
      for (int k : {0, 5}) {
        for (; done < k; ++done) {
          m.batch(state, rng);
          REQUIRE(train_step(g, state, Precision::f32, err));
        }
        ValueMap leaves = state;
        m.batch(leaves, rng);
        INFO("state after " << k << " steps");
        OneStep r = check_one_step(g, leaves);
        WARN(fmt::format("{}{}, state {}: worst difference / tolerance JIT {:.3f}, interpreter {:.3f}; JIT params within "
                         "{:.2f} ulp",
                         m.what, simplify ? " (simplified)" : "", k, r.worst_jit, r.worst_interp, r.param_ulps));
      }
    }
  }
}

TEST_CASE("forward and predict entries compute only their roots", "[jit]") {
  Model m = std::move(models()[0]);
  Graph& g = m.g;
  Diagnostics d;
  Pipeline p;
  p.add(make_autodiff_pass()).add(make_optimizer_pass());
  bool ok = p.run(g, d).ok;
  INFO(d.render_all());
  REQUIRE(ok);
  std::string err;
  auto cg = backend::compile_graph(g, {}, err);
  REQUIRE(cg);
  ValueMap v = initial_values(g, 3);
  std::mt19937 rng(1);
  m.batch(v, rng);
  auto ref = evaluate(g, v, Precision::f32, err);
  REQUIRE(ref);
  backend::HostBuffers hb(*cg);
  REQUIRE(hb.set_leaves(v, err));
  ValueMap before;
  hb.get_state(before);
  // predict: only outputs; labels are not read (poisoned here) and params are untouched.
  int y = cg->find(BufferKind::input, "y"), prob = cg->find(BufferKind::output, "prob");
  REQUIRE((y >= 0 && prob >= 0));
  Tensor poison = v.at("y");
  for (double& e : poison.data) e = NAN;
  hb.set(y, poison);
  hb.run(Entry::predict);
  CHECK(worst_err(hb.get(prob), (*ref)[g.outputs[0].second], false) <= 1e-5);
  CHECK(std::isnan(hb.get(cg->find(BufferKind::loss, "loss")).data[0]) == false);  // loss buffer left alone (zero)
  CHECK(hb.get(cg->find(BufferKind::loss, "loss")).data[0] == 0);
  hb.set(y, v.at("y"));
  hb.run(Entry::forward);
  CHECK(rel_err(hb.get(cg->find(BufferKind::loss, "loss")).data[0], (*ref)[*g.train.minimize].data[0], 1e-6) <= 1e-5);
  CHECK(rel_err(hb.get(cg->find(BufferKind::metric, "accuracy")).data[0], (*ref)[g.train.metrics[0].second].data[0], 1e-6) <= 1e-5);
  ValueMap after;
  hb.get_state(after);
  for (auto& [name, t] : before) CHECK(after.at(name).data == t.data);  // forward updates nothing
  // grads are only written by step
  for (size_t i = 0; i < cg->buffers().size(); ++i)
    if (cg->buffers()[i].kind == BufferKind::grad)
      for (double e : hb.get(i).data) CHECK(e == 0);
}

TEST_CASE("updates read every old value before writing", "[jit]") {
  // Two states that swap, a param that takes a state's old value plus one, and a state
  // updated to its own reshaped value: after a step, every target holds what the
  // interpreter's train_step gives.
  Graph g;
  auto st = [&](std::string name, Shape s) {
    Node n{Op::state, DType::f32, std::move(s), {}, {}, {}, std::move(name)};
    NodeId id = g.append(std::move(n));
    g.states.push_back(id);
    return id;
  };
  NodeId a = st("a", {2, 3}), b = st("b", {2, 3}), c = st("c", {6});
  NodeId w = leaf(g, Op::param, "w", {2, 3});
  NodeId x = leaf(g, Op::input, "x", {2, 3});
  NodeId loss = g.make(Op::sum, {g.make(Op::mul, {w, x})});
  g.train.present = true;
  g.train.minimize = loss;
  Attrs r;
  r.shape = {2, 3};
  g.updates = {{a, b}, {b, a}, {w, g.make(Op::add, {a, g.scalar(1.0, DType::f32)})}, {c, g.make(Op::reshape, {g.make(Op::reshape, {c}, r)}, [] {
                                                                                   Attrs q;
                                                                                   q.shape = {6};
                                                                                   return q;
                                                                                 }())}};
  std::string err;
  auto cg = backend::compile_graph(g, {}, err);
  INFO(err);
  REQUIRE(cg);
  ValueMap v;
  std::mt19937 rng(5);
  fill(v, "a", {2, 3}, rng, -1, 1);
  fill(v, "b", {2, 3}, rng, -1, 1);
  fill(v, "c", {6}, rng, -1, 1);
  fill(v, "w", {2, 3}, rng, -1, 1);
  fill(v, "x", {2, 3}, rng, -1, 1);
  backend::HostBuffers hb(*cg);
  REQUIRE(hb.set_leaves(v, err));
  for (int k = 0; k < 3; ++k) {
    double want = 0;
    REQUIRE(train_step(g, v, Precision::f32, err, &want));
    hb.run(Entry::step);
    CHECK(hb.get(cg->find(BufferKind::loss, "loss")).data[0] == Approx(want).epsilon(1e-6));
    ValueMap got;
    hb.get_state(got);
    for (auto& name : {"a", "b", "c", "w"}) {
      INFO("step " << k << " target " << name);
      CHECK(got.at(name).data == v.at(name).data);
    }
  }
}

TEST_CASE("compile errors are messages, not crashes", "[jit]") {
  Graph g;
  Node n{Op::input, DType::f32, {3}, {}, {}, {}, "x"};
  NodeId x = g.append(n);  // not listed in g.inputs
  g.outputs.push_back({"y", g.make(Op::exp, {x})});
  std::string err;
  CHECK(backend::compile_graph(g, {}, err) == nullptr);
  CHECK(err.find("not among the graph's declared") != std::string::npos);
}

TEST_CASE("roots that are leaves, literals, shared or i32", "[jit]") {
  // An output that is a param (its value before the step's update), a literal output, a
  // metric that is the loss node itself, an i32 argmax output, and a grad that is also an
  // output: every root buffer holds what the interpreter's evaluate gives before updates.
  Graph g;
  NodeId x = leaf(g, Op::input, "x", {5, 3});
  NodeId w = leaf(g, Op::param, "w", {3, 2}, DType::f32, InitKind::glorot_uniform);
  NodeId z = g.make(Op::matmul, {x, w});
  NodeId loss = g.make(Op::mean, {g.make(Op::square, {z})});
  g.train.present = true;
  g.train.minimize = loss;
  g.train.optimizer.kind = kiln::OptimizerKind::sgd;
  g.train.optimizer.lr = 0.1;
  Node lit{Op::literal, DType::f32, {2}, {}, {}, {}, ""};
  lit.attrs.init.kind = InitKind::literal;
  lit.attrs.init.data = {1.5, -2};
  NodeId l = g.append(lit);
  Attrs ax;
  ax.axes = {1};
  g.outputs = {{"w_now", w}, {"lit", l}, {"best", g.make(Op::argmax, {z}, ax)}};
  g.train.metrics = {{"loss_again", loss}};
  Diagnostics d;
  Pipeline p;
  p.add(make_autodiff_pass()).add(make_optimizer_pass());
  bool ok = p.run(g, d).ok;
  INFO(d.render_all());
  REQUIRE(ok);
  REQUIRE(!g.grads.empty());
  g.outputs.push_back({"grad_w", g.grads[0].second});
  std::string err;
  auto cg = backend::compile_graph(g, {}, err);
  INFO(err);
  REQUIRE(cg);
  ValueMap v = initial_values(g, 9);
  std::mt19937 rng(2);
  fill(v, "x", {5, 3}, rng, -2, 2);
  auto ref = evaluate(g, v, Precision::f32, err);
  REQUIRE(ref);
  backend::HostBuffers hb(*cg);
  REQUIRE(hb.set_leaves(v, err));
  hb.run(Entry::step);
  for (auto& [name, id] : g.outputs) {
    INFO("output " << name);
    CHECK(worst_err(hb.get(cg->find(BufferKind::output, name)), (*ref)[id], true) <= 1e-6);
  }
  CHECK(hb.get(cg->find(BufferKind::metric, "loss_again")).data == hb.get(cg->find(BufferKind::loss, "loss")).data);
  CHECK(worst_err(hb.get(cg->find(BufferKind::grad, "w")), (*ref)[g.grads[0].second], true) <= 1e-6);
  ValueMap after;
  hb.get_state(after);
  CHECK(after.at("w").data != v.at("w").data);  // the update happened after the outputs were taken
}

TEST_CASE("dumps of the optimised LLVM IR and the host assembly", "[jit]") {
  Graph g;
  NodeId x = leaf(g, Op::input, "x", {4, 8});
  NodeId w = leaf(g, Op::param, "w", {8, 32});
  g.outputs = {{"y", g.make(Op::relu, {g.make(Op::matmul, {x, w})})}};
  std::string ir, assembly, err;
  REQUIRE(backend::dump_llvm_ir(g, ir, err));
  CHECK(ir.find("define void @kiln") != std::string::npos);
  CHECK(ir.find("_step(ptr") != std::string::npos);
  CHECK(ir.find("_matmul_") != std::string::npos);
  CHECK(ir.find("fmuladd") != std::string::npos);
  REQUIRE(backend::dump_assembly(g, assembly, err));
  CHECK(assembly.find("_predict:") != std::string::npos);
  CHECK(assembly.find("vfmadd") != std::string::npos);
}
