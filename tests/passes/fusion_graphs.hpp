// Representative graphs for the fusion and memory-plan tests: an MLP trained with Adam,
// a softmax cross-entropy classifier with SGD, and a reduction with an elementwise prologue.
#pragma once
#include "ir/interpreter.hpp"
#include "passes/autodiff.hpp"
#include "passes/optimizer.hpp"
#include "passes/simplify.hpp"
#include "tests/ir/graph_builder.hpp"
#include <random>

namespace kiln::testing {

// Runs autodiff, the optimizer pass and the simplify pipeline; false on any error.
inline bool train_passes(Graph& g) {
  Diagnostics d;
  Pipeline p;
  p.add(make_autodiff_pass()).add(make_optimizer_pass());
  if (!p.run(g, d).ok) return false;
  return make_simplify_pipeline().run(g, d).ok && !d.has_errors();
}

inline Init glorot() {
  Init i;
  i.kind = InitKind::glorot_uniform;
  return i;
}

// x[8,4] -> relu(x@w1 + b1) [8,16] -> @w2 + b2 [8,1]; loss = mean(squared_error(pred, y));
// Adam; output "pred".
inline Graph mlp_adam() {
  Builder b;
  auto x = b.input("x", {8, 4});
  auto y = b.input("y", {8, 1});
  auto w1 = b.leaf(Op::param, "w1", {4, 16}, DType::f64, glorot());
  auto b1 = b.leaf(Op::param, "b1", {16}, DType::f64);
  auto w2 = b.leaf(Op::param, "w2", {16, 1}, DType::f64, glorot());
  auto b2 = b.leaf(Op::param, "b2", {1}, DType::f64);
  auto h = b.op(Op::relu, {b.op(Op::add, {b.op(Op::matmul, {x, w1}, {}, {3, 5, 3, 20}), b1}, {}, {3, 5, 3, 25})}, {},
                {3, 1, 3, 30});
  b.g[h].name = "h";
  auto pred = b.op(Op::add, {b.op(Op::matmul, {h, w2}, {}, {4, 8, 4, 14}), b2}, {}, {4, 8, 4, 19});
  b.g[pred].name = "pred";
  auto loss = b.op(Op::mean, {b.op(Op::squared_error, {pred, y}, {}, {5, 10, 5, 30})}, {}, {5, 5, 5, 31});
  b.g.model_name = "mlp";
  b.g.file = "mlp.model";
  b.g.outputs.push_back({"pred", pred});
  b.g.train.present = true;
  b.g.train.minimize = loss;
  b.g.train.optimizer.kind = kiln::OptimizerKind::adam;
  b.g.train.optimizer.lr = 0.01;
  return std::move(b.g);
}

// x[6,3], labels i32[6] -> tanh(x@w1 + b1) [6,5] -> @w2 + b2 [6,4] logits;
// loss = mean(softmax_cross_entropy(logits, labels)); SGD with momentum; metric
// "acc" = mean(eq(argmax(logits), labels)) computed in f64 through where.
inline Graph classifier_sgd() {
  Builder b;
  auto x = b.input("x", {6, 3});
  auto labels = b.input("labels", {6}, DType::i32);
  auto w1 = b.leaf(Op::param, "w1", {3, 5}, DType::f64, glorot());
  auto b1 = b.leaf(Op::param, "b1", {5}, DType::f64);
  auto w2 = b.leaf(Op::param, "w2", {5, 4}, DType::f64, glorot());
  auto b2 = b.leaf(Op::param, "b2", {4}, DType::f64);
  auto h = b.op(Op::tanh, {b.op(Op::add, {b.op(Op::matmul, {x, w1}), b1})}, {}, {2, 1, 2, 20});
  auto logits = b.op(Op::add, {b.op(Op::matmul, {h, w2}), b2}, {}, {3, 1, 3, 20});
  b.g[logits].name = "logits";
  auto loss = b.op(Op::mean, {b.op(Op::softmax_cross_entropy, {logits, labels}, {}, {4, 1, 4, 30})});
  Attrs ax = Builder::axes({1});
  auto correct = b.op(Op::eq, {b.op(Op::argmax, {logits}, ax), labels});
  auto acc = b.op(Op::mean, {correct});
  b.g.model_name = "classifier";
  b.g.file = "classifier.model";
  b.g.outputs.push_back({"probs", b.op(Op::softmax, {logits}, ax)});
  b.g.train.present = true;
  b.g.train.minimize = loss;
  b.g.train.metrics.push_back({"acc", acc});
  b.g.train.optimizer.kind = kiln::OptimizerKind::sgd;
  b.g.train.optimizer.momentum = 0.9;
  b.g.train.optimizer.lr = 0.1;
  return std::move(b.g);
}

// A graph without training: out = sum(square(x - y)) and a scaled copy r = sqrt(out) * 0.5.
inline Graph reduction_prologue() {
  Builder b;
  auto x = b.input("x", {5, 7});
  auto y = b.input("y", {5, 7});
  auto s = b.op(Op::sum, {b.op(Op::square, {b.op(Op::sub, {x, y})})});
  auto r = b.op(Op::mul, {b.op(Op::sqrt, {s}), b.g.scalar(0.5, DType::f64)});
  b.g.outputs.push_back({"r", r});
  return std::move(b.g);
}

// Seeded random values for every input (i32 inputs: classes in [0, classes)).
inline void random_inputs(const Graph& g, ValueMap& vm, uint64_t seed, int64_t classes = 4) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-1, 1);
  std::uniform_int_distribution<int64_t> c(0, classes - 1);
  for (NodeId id : g.inputs) {
    const Node& n = g[id];
    Tensor t(n.dtype, n.shape);
    for (double& v : t.data) v = n.dtype == DType::i32 ? double(c(rng)) : u(rng);
    vm[n.name] = std::move(t);
  }
}

}  // namespace kiln::testing
