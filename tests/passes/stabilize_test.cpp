// Stabilize pass tests ("[stabilize]"): each unstable form is rewritten into its stable
// equivalent (same value where both are finite), reported as a note, and a model whose
// hand-written cross-entropy goes NaN on saturated sigmoids trains finitely once rewritten.
#include "frontend/lower.hpp"
#include "ir/interpreter.hpp"
#include "ir/printer.hpp"
#include "passes/autodiff.hpp"
#include "passes/optimizer.hpp"
#include "passes/stabilize.hpp"
#include "tests/passes/diag_test_util.hpp"
#include <cmath>
#include <random>

using namespace kiln;

namespace {

struct Compiled {
  std::unique_ptr<SourceFile> file;
  std::unique_ptr<Diagnostics> diags;
  Graph g;
};

Compiled compile(const std::string& text) {
  Compiled c;
  c.file = std::make_unique<SourceFile>("s.model", text);
  c.diags = std::make_unique<Diagnostics>(c.file.get());
  auto g = compile_source(*c.file, *c.diags);
  INFO(c.diags->render_all());
  REQUIRE(g);
  c.g = std::move(*g);
  return c;
}

std::string model(const std::string& body, int classes = 1) {
  std::string k = std::to_string(classes);
  return "input x : f32[batch, 4]\ninput y : f32[batch, " + k + "]\nparam w : f32[4, " + k +
         "] = glorot_uniform\nparam b : f32[" + k + "] = zeros\nz = x @ w + b\n" + body +
         "\ntrain { minimize loss; optimizer = sgd(lr = 0.1) }\n";
}

size_t count_op(const Graph& g, Op op) {
  size_t n = 0;
  for (auto& node : g.nodes) n += node.op == op;
  return n;
}

// Leaves for a batch of 32: params from their initialisers, x scaled by `scale`, y in {0, 1}
// (one-hot rows when y has several columns).
ValueMap leaves_for(const Graph& g, double scale, uint64_t seed = 3) {
  ValueMap v = initial_values(g, seed);
  std::mt19937 rng(seed);
  std::normal_distribution<double> nd(0, 1);
  for (NodeId id : g.inputs) {
    const Node& n = g[id];
    Tensor t(n.dtype, n.shape);
    int64_t cols = n.shape.size() == 2 ? n.shape[1] : 1;
    for (size_t i = 0; i < t.size(); ++i) {
      if (n.name == "x") t.data[i] = scale * nd(rng);
      else t.data[i] = cols == 1 ? double(i % 2) : double(int64_t(i) % cols == (int64_t(i) / cols) % cols);
    }
    v[n.name] = t;
  }
  // Large weights saturate the sigmoid as well.
  for (NodeId id : g.params)
    for (double& d : v[g[id].name].data) d *= scale;
  return v;
}

double loss_value(const Graph& g, const ValueMap& leaves, Precision p) {
  std::string err;
  auto vals = evaluate(g, leaves, p, err);
  INFO(err);
  REQUIRE(vals);
  return (*vals)[*g.train.minimize].data[0];
}

}  // namespace

TEST_CASE("each unstable form is rewritten to its stable equivalent with the same value", "[stabilize]") {
  struct Case {
    std::string name, body;
    Op expect;
    std::vector<Op> gone;
    std::string note;
    int classes = 1;
  };
  const std::vector<Case> cases = {
      {"log(sigmoid)", "loss = -mean(log(sigmoid(z)))", Op::log_sigmoid, {Op::log, Op::sigmoid},
       "rewrote log(sigmoid(z)) as log_sigmoid(z)"},
      {"log(1 - sigmoid)", "p = sigmoid(z)\nloss = -mean(log(1 - p))", Op::log_sigmoid, {Op::log, Op::sigmoid},
       "rewrote log(1 - p) as log_sigmoid(-z)"},
      {"log(softmax)", "loss = -mean(sum(y * log(softmax(z, axis=1)), axis=1))", Op::log_softmax, {Op::log, Op::softmax},
       "rewrote log(softmax(z, axis=1)) as log_softmax(z)", 3},
      {"hand-written bce", "p = sigmoid(z)\nloss = -mean(y * log(p) + (1 - y) * log(1 - p))", Op::bce_with_logits,
       {Op::log, Op::sigmoid}, "rewrote y * log(p) + (1 - y) * log(1 - p) as -bce_with_logits(z, y)"},
      {"negated hand-written bce", "p = sigmoid(z)\nloss = mean(-y * log(p) - (1 - y) * log(1 - p))", Op::bce_with_logits,
       {Op::log, Op::sigmoid}, "rewrote -y * log(p) - (1 - y) * log(1 - p) as bce_with_logits(z, y)"},
      {"bce(sigmoid)", "loss = mean(bce(sigmoid(z), y))", Op::bce_with_logits, {Op::bce, Op::sigmoid},
       "rewrote bce(sigmoid(z), y) as bce_with_logits(z, y)"},
      {"hand-written softmax", "e = exp(z)\nloss = mean(sum(square(e / sum(e, axis=1, keepdims=true) - y), axis=1))",
       Op::softmax, {Op::exp, Op::div}, "rewrote e / sum(e, axis=1, keepdims=true) as softmax(z)", 3},
      {"log of a hand-written softmax", "e = exp(z)\nloss = -mean(sum(y * log(e / sum(e, axis=1, keepdims=true)), axis=1))",
       Op::log_softmax, {Op::exp, Op::div, Op::log, Op::softmax}, "rewrote e / sum(e, axis=1, keepdims=true) as softmax(z)", 3},
  };
  for (auto& k : cases) {
    SECTION(k.name) {
      Compiled c = compile(model(k.body, k.classes));
      Graph original = c.g;
      CHECK(stabilize(c.g, *c.diags));
      INFO(print_ir_text(c.g));
      CHECK(verify_graph(c.g).empty());
      CHECK(count_op(c.g, k.expect) >= 1);
      for (Op op : k.gone) CHECK(count_op(c.g, op) == 0);
      REQUIRE_FALSE(c.diags->all().empty());
      CHECK(c.diags->all()[0].severity == Severity::note);
      CHECK(c.diags->all()[0].message == k.note);
      // The rewrite is exact: same loss on unsaturated inputs (f64).
      ValueMap v = leaves_for(original, 0.5);
      CHECK(loss_value(c.g, v, Precision::f64) == Approx(loss_value(original, v, Precision::f64)).epsilon(1e-9));
      // A second run finds nothing more.
      Diagnostics again;
      CHECK_FALSE(stabilize(c.g, again));
    }
  }
}

TEST_CASE("stabilize leaves stable and look-alike forms alone", "[stabilize]") {
  const std::vector<std::string> bodies = {
      "loss = mean(bce_with_logits(z, y))",
      "loss = -mean(log(sigmoid(z) + 1e-6))",
      "loss = -mean(log(2 - sigmoid(z)))",             // not 1 - sigmoid
      "p = sigmoid(z)\nloss = -mean(y * log(p + 1e-7) + (1 - y) * log(1 - p + 1e-7))",  // guarded
      "loss = mean(exp(z) / sum(exp(2 * z)))",         // different exponents
      "loss = mean(squared_error(z, y))",
  };
  for (auto& body : bodies) {
    SECTION(body) {
      Compiled c = compile(model(body));
      std::string before = print_ir_text(c.g);
      CHECK_FALSE(stabilize(c.g, *c.diags));
      CHECK(print_ir_text(c.g) == before);
      CHECK(c.diags->all().empty());
    }
  }
}

TEST_CASE("a hand-written cross-entropy on saturated sigmoids trains without NaN once rewritten", "[stabilize]") {
  std::string text = diagtest::read_source("examples/broken/sigmoid_stack.model");
  Compiled c = compile(text);
  Graph original = c.g;
  REQUIRE(stabilize(c.g, *c.diags));
  ValueMap v = leaves_for(original, 40.0);  // large inputs and weights: every sigmoid saturates
  // The forward loss in f32: the original is NaN or inf, the rewritten one finite.
  double bad = loss_value(original, v, Precision::f32);
  CHECK_FALSE(std::isfinite(bad));
  double good = loss_value(c.g, v, Precision::f32);
  CHECK(std::isfinite(good));
  // Training: a few steps of the full graph (autodiff and optimizer update) in f32.
  auto train = [&](Graph g, ValueMap leaves, std::vector<double>& losses) {
    Diagnostics d;
    REQUIRE(differentiate(g, d));
    REQUIRE(add_optimizer(g, d).changed);
    ValueMap init = initial_values(g, 3);
    for (NodeId s : g.states) leaves[g[s].name] = init[g[s].name];
    for (int step = 0; step < 5; ++step) {
      double loss = 0;
      std::string err;
      REQUIRE(train_step(g, leaves, Precision::f32, err, &loss));
      losses.push_back(loss);
    }
    return leaves;
  };
  std::vector<double> lb, lg;
  ValueMap after_bad = train(original, v, lb);
  ValueMap after_good = train(c.g, v, lg);
  CHECK_FALSE(std::isfinite(lb[0]));
  for (double l : lg) CHECK(std::isfinite(l));
  for (NodeId p : c.g.params)
    for (double x : after_good[c.g[p].name].data) CHECK(std::isfinite(x));
  // The original's parameters are poisoned by the NaN gradient.
  bool poisoned = false;
  for (NodeId p : original.params)
    for (double x : after_bad[original[p].name].data) poisoned = poisoned || !std::isfinite(x);
  CHECK(poisoned);
}

TEST_CASE("the stabilize pass runs in a pipeline and can stay quiet", "[stabilize]") {
  Compiled c = compile(model("loss = -mean(log(sigmoid(z)))"));
  Pipeline p;
  p.add(make_stabilize_pass(StabilizeOptions{false}));
  std::vector<PassStat> stats;
  REQUIRE(p.run(c.g, *c.diags, &stats).ok);
  REQUIRE(stats.size() == 1);
  CHECK(stats[0].name == "stabilize");
  CHECK(stats[0].changed);
  CHECK(c.diags->all().empty());
  CHECK(count_op(c.g, Op::log_sigmoid) == 1);
}
