// Simplification passes: each algebraic rule, rules that must not fire, CSE, constant
// folding, DCE, the fixed-point pipeline, and value preservation on random inputs.
#include "ir/interpreter.hpp"
#include "ir/printer.hpp"
#include "passes/autodiff.hpp"
#include "passes/optimizer.hpp"
#include "passes/simplify.hpp"
#include <catch2/catch.hpp>
#include <random>

using namespace kiln;

namespace {

NodeId leaf(Graph& g, Op op, std::string name, Shape shape, DType t = DType::f64) {
  Node n{op, t, std::move(shape), {}, {}, {}, std::move(name)};
  if (op == Op::param || op == Op::const_) n.attrs.init.kind = InitKind::zeros;
  NodeId id = g.append(std::move(n));
  if (op == Op::param) g.params.push_back(id);
  if (op == Op::input) g.inputs.push_back(id);
  if (op == Op::const_) g.consts.push_back(id);
  return id;
}

NodeId literal(Graph& g, std::vector<double> data, Shape shape, DType t = DType::f64) {
  Node n{Op::literal, t, std::move(shape), {}, {}, {}, {}};
  n.attrs.init.kind = InitKind::literal;
  n.attrs.init.data = std::move(data);
  return g.append(std::move(n));
}

Attrs shape_attr(Shape s) {
  Attrs a;
  a.shape = std::move(s);
  return a;
}

NodeId out(const Graph& g, size_t k = 0) { return g.outputs.at(k).second; }

bool run(std::unique_ptr<Pass> p, Graph& g) {
  Diagnostics d;
  PassResult r = p->run(g, d);
  CHECK(r.ok);
  CHECK_FALSE(d.has_errors());
  CHECK(verify_graph(g).empty());
  return r.changed;
}

size_t count_op(const Graph& g, Op op) {
  size_t c = 0;
  for (auto& n : g.nodes) c += n.op == op;
  return c;
}

std::vector<double> lit_data(const Graph& g, NodeId id) {
  std::vector<double> v;
  REQUIRE(literal_values(g[id], v));
  return v;
}

}  // namespace

TEST_CASE("each algebraic rule replaces its pattern by the simpler form", "[simplify]") {
  Graph g;
  NodeId x = leaf(g, Op::input, "x", {3});
  NodeId m = leaf(g, Op::input, "m", {2, 3});
  NodeId one = literal(g, {1, 1, 1}, {3}), zero = g.scalar(0.0, DType::f64), neg_zero = g.scalar(-0.0, DType::f64);
  NodeId one_s = g.scalar(1.0, DType::f64);
  std::vector<std::pair<std::string, NodeId>> cases = {
      {"x*1", g.make(Op::mul, {x, one})},
      {"1*x", g.make(Op::mul, {one_s, x})},
      {"x+0", g.make(Op::add, {x, zero})},
      {"0+x", g.make(Op::add, {neg_zero, x})},
      {"x-0", g.make(Op::sub, {x, zero})},
      {"x/1", g.make(Op::div, {x, one})},
      {"neg(neg(x))", g.make(Op::neg, {g.make(Op::neg, {x})})},
      {"sum_to(x, x.shape)", g.make(Op::sum_to, {x}, shape_attr({3}))},
      {"broadcast_to(x, x.shape)", g.make(Op::broadcast_to, {x}, shape_attr({3}))},
      {"reshape(x, x.shape)", g.make(Op::reshape, {x}, shape_attr({3}))},
      {"nested: (x*1)+0", g.make(Op::add, {g.make(Op::mul, {x, one}), zero})},
  };
  NodeId tt = g.make(Op::transpose, {g.make(Op::transpose, {m})});
  for (auto& [name, id] : cases) g.outputs.push_back({name, id});
  g.outputs.push_back({"tt", tt});
  REQUIRE(run(make_algebraic_pass(), g));
  for (size_t k = 0; k + 1 < g.outputs.size(); ++k) {
    INFO(g.outputs[k].first);
    CHECK(g[out(g, k)].op == Op::input);
    CHECK(g[out(g, k)].name == "x");
  }
  CHECK(g[g.outputs.back().second].name == "m");
  // A second run has nothing left to do; DCE then removes the rewritten nodes.
  CHECK_FALSE(run(make_algebraic_pass(), g));
  CHECK(run(make_dce_pass(), g));
  CHECK(g.size() == 2);
}

TEST_CASE("reshape of reshape and sum of a broadcast scalar", "[simplify]") {
  Graph g;
  NodeId m = leaf(g, Op::input, "m", {2, 3});
  NodeId s = leaf(g, Op::input, "s", {});
  g.outputs.push_back({"rr", g.make(Op::reshape, {g.make(Op::reshape, {m}, shape_attr({6}))}, shape_attr({3, 2}))});
  NodeId b = g.make(Op::broadcast_to, {s}, shape_attr({4, 5}));
  g.outputs.push_back({"all", g.make(Op::sum, {b})});
  Attrs ax;
  ax.axes = {1};
  g.outputs.push_back({"rows", g.make(Op::sum, {b}, ax)});
  REQUIRE(run(make_algebraic_pass(), g));
  REQUIRE(run(make_dce_pass(), g));
  const Node& rr = g[out(g, 0)];
  CHECK(rr.op == Op::reshape);
  CHECK(rr.shape == Shape{3, 2});
  CHECK(g[rr.in[0]].name == "m");
  const Node& all = g[out(g, 1)];
  REQUIRE(all.op == Op::mul);
  CHECK(g[all.in[0]].name == "s");
  CHECK(lit_data(g, all.in[1]) == std::vector<double>{20});
  // Summing one axis: s * 5 broadcast back to the node's shape [4].
  const Node& rows = g[out(g, 2)];
  REQUIRE(rows.op == Op::broadcast_to);
  CHECK(rows.shape == Shape{4});
  REQUIRE(g[rows.in[0]].op == Op::mul);
  CHECK(lit_data(g, g[rows.in[0]].in[1]) == std::vector<double>{5});
  CHECK(count_op(g, Op::sum) == 0);
}

TEST_CASE("a broadcast_to operand of a binary op is absorbed only when the shape is kept", "[simplify]") {
  Graph g;
  NodeId m = leaf(g, Op::input, "m", {2, 3});
  NodeId s = leaf(g, Op::input, "s", {});
  NodeId v = leaf(g, Op::input, "v", {3}), u = leaf(g, Op::input, "u", {3});
  g.outputs.push_back({"left", g.make(Op::mul, {g.make(Op::broadcast_to, {s}, shape_attr({2, 3})), m})});
  g.outputs.push_back({"right", g.make(Op::div, {m, g.make(Op::broadcast_to, {v}, shape_attr({2, 3}))})});
  // add(v, u) alone would be [3], not [2,3]: the broadcast must stay.
  g.outputs.push_back({"kept", g.make(Op::add, {g.make(Op::broadcast_to, {v}, shape_attr({2, 3})), u})});
  REQUIRE(run(make_algebraic_pass(), g));
  REQUIRE(run(make_dce_pass(), g));
  const Node& left = g[out(g, 0)];
  CHECK(left.op == Op::mul);
  CHECK(left.shape == Shape{2, 3});
  CHECK(left.in == std::vector<NodeId>{s, m});
  const Node& right = g[out(g, 1)];
  CHECK(right.op == Op::div);
  CHECK(right.in == std::vector<NodeId>{m, v});
  const Node& kept = g[out(g, 2)];
  CHECK(kept.op == Op::add);
  CHECK(g[kept.in[0]].op == Op::broadcast_to);
  CHECK(count_op(g, Op::broadcast_to) == 1);
}

TEST_CASE("algebraic rules keep shapes, NaN and Inf behaviour", "[simplify]") {
  Graph g;
  NodeId x = leaf(g, Op::input, "x", {3});
  NodeId m = leaf(g, Op::input, "m", {2, 3});
  // x * ones[2,3] has shape [2,3]: the rule fires with a broadcast_to, never drops the shape.
  g.outputs.push_back({"wide", g.make(Op::mul, {x, literal(g, std::vector<double>(6, 1.0), {2, 3})})});
  // These must not change: a real reshape, a real sum_to, x*0, x-x, x*[1,2,1], x+1.
  std::vector<NodeId> kept = {
      g.make(Op::reshape, {m}, shape_attr({6})),
      g.make(Op::sum_to, {m}, shape_attr({3})),
      g.make(Op::mul, {x, g.scalar(0.0, DType::f64)}),
      g.make(Op::sub, {x, x}),
      g.make(Op::mul, {x, literal(g, {1, 2, 1}, {3})}),
      g.make(Op::add, {x, g.scalar(1.0, DType::f64)}),
      g.make(Op::sub, {g.scalar(0.0, DType::f64), x}),
  };
  for (NodeId k : kept) g.outputs.push_back({"k", k});
  REQUIRE(run(make_algebraic_pass(), g));
  const Node& wide = g[out(g, 0)];
  CHECK(wide.op == Op::broadcast_to);
  CHECK(wide.shape == Shape{2, 3});
  CHECK(g[wide.in[0]].name == "x");
  std::vector<Op> ops = {Op::reshape, Op::sum_to, Op::mul, Op::sub, Op::mul, Op::add, Op::sub};
  for (size_t k = 0; k < ops.size(); ++k) CHECK(g[out(g, k + 1)].op == ops[k]);
  CHECK_FALSE(run(make_algebraic_pass(), g));
}

TEST_CASE("CSE merges duplicates but never distinct declarations", "[simplify]") {
  Graph g;
  NodeId p = leaf(g, Op::param, "p", {3}), q = leaf(g, Op::param, "q", {3});
  NodeId a = g.make(Op::exp, {p}), b = g.make(Op::exp, {p});
  NodeId c = g.make(Op::exp, {q});
  NodeId l1 = g.scalar(2.0, DType::f64), l2 = g.scalar(2.0, DType::f64), l3 = g.scalar(3.0, DType::f64);
  NodeId s1 = g.make(Op::mul, {a, l1}), s2 = g.make(Op::mul, {b, l2}), s3 = g.make(Op::mul, {b, l3});
  Attrs ax0, ax1;
  ax1.axes = {0};
  NodeId r1 = g.make(Op::sum, {a}, ax0), r2 = g.make(Op::sum, {a}, ax1);  // different attrs
  g.outputs = {{"s1", s1}, {"s2", s2}, {"s3", s3}, {"c", c}, {"r1", r1}, {"r2", r2}};
  REQUIRE(run(make_cse_pass(), g));
  CHECK(out(g, 0) == out(g, 1));  // exp(p)*2 twice: one node
  CHECK(out(g, 2) != out(g, 0));  // *3 differs
  CHECK(g[out(g, 2)].in[0] == g[out(g, 0)].in[0]);  // but shares exp(p)
  CHECK(g[out(g, 3)].in[0] == q);  // exp(q) is not exp(p)
  CHECK(out(g, 4) != out(g, 5));
  CHECK_FALSE(run(make_cse_pass(), g));
  size_t before = g.size();
  REQUIRE(run(make_dce_pass(), g));
  CHECK(g.size() == before - 3);  // b, l2 and s2 are gone
  CHECK(count_op(g, Op::param) == 2);
}

TEST_CASE("constant folding computes literal values with the reference kernels", "[simplify]") {
  Graph g;
  NodeId x = leaf(g, Op::input, "x", {3});
  NodeId c = leaf(g, Op::const_, "c", {3});
  NodeId five = g.make(Op::add, {g.scalar(2.0, DType::f64), g.scalar(3.0, DType::f64)});
  NodeId vec = g.make(Op::mul, {five, literal(g, {1, 2, 3}, {3})});
  NodeId e = g.make(Op::exp, {g.make(Op::neg, {g.scalar(0.0, DType::f64)})});
  NodeId total = g.make(Op::sum, {vec});
  NodeId with_input = g.make(Op::add, {x, vec});
  NodeId with_const = g.make(Op::mul, {c, five});
  NodeId huge = g.make(Op::exp, {literal(g, std::vector<double>(90000, 0.5), {300, 300})});
  NodeId splat = g.make(Op::broadcast_to, {g.scalar(1.5, DType::f64)}, shape_attr({2, 2}));
  g.outputs = {{"vec", vec},       {"e", e},       {"total", total}, {"xi", with_input},
               {"ci", with_const}, {"huge", huge}, {"splat", splat}};
  REQUIRE(run(make_fold_pass(), g));
  CHECK(lit_data(g, out(g, 0)) == std::vector<double>{5, 10, 15});
  CHECK(lit_data(g, out(g, 1)) == std::vector<double>{1});
  CHECK(lit_data(g, out(g, 2)) == std::vector<double>{30});
  CHECK(g[out(g, 3)].op == Op::add);  // depends on an input
  CHECK(g[g[out(g, 3)].in[1]].op == Op::literal);
  CHECK(g[out(g, 4)].op == Op::mul);  // consts are never folded
  CHECK(g[out(g, 5)].op == Op::exp);  // 90000 elements: too large to fold
  CHECK(g[out(g, 6)].op == Op::broadcast_to);  // only repeats its operand: kept
  CHECK_FALSE(run(make_fold_pass(), g));
}

TEST_CASE("folding a small result of huge operands materialises none of them", "[simplify]") {
  // sum(big) with big a param of 2^40 elements: the folder used to build an 8 TiB tensor
  // for the operand before finding it was no literal (exit 3, out of memory).
  Graph g;
  NodeId big = leaf(g, Op::param, "big", {1048576, 1048576}, DType::f32);
  NodeId total = g.make(Op::sum, {big});
  // A zeros literal of 2^40 elements is stored as one value: folding it would build them all.
  Node z{Op::literal, DType::f64, {1048576, 1048576}, {}, {}, {}, {}};
  z.attrs.init.kind = InitKind::zeros;
  NodeId zsum = g.make(Op::sum, {g.append(std::move(z))});
  g.outputs = {{"total", total}, {"zsum", zsum}};
  CHECK_FALSE(run(make_fold_pass(), g));
  CHECK(g[out(g, 0)].op == Op::sum);
  CHECK(g[out(g, 1)].op == Op::sum);
}

TEST_CASE("DCE removes dead nodes, keeps declarations and renumbers every use", "[simplify]") {
  Graph g;
  NodeId x = leaf(g, Op::input, "x", {3});
  NodeId unused_in = leaf(g, Op::input, "unused", {3});
  NodeId dead1 = g.make(Op::exp, {x});
  NodeId w = leaf(g, Op::param, "w", {3});
  NodeId dead2 = g.make(Op::log, {dead1});
  NodeId loss = g.make(Op::sum, {g.make(Op::mul, {x, w})});
  NodeId grad = g.make(Op::mul, {x, g.scalar(1.0, DType::f64)});
  NodeId upd = g.make(Op::sub, {w, grad});
  g.train.present = true;
  g.train.minimize = loss;
  g.grads = {{w, grad}};
  g.updates = {{w, upd}};
  (void)dead2;
  (void)unused_in;
  REQUIRE(run(make_dce_pass(), g));
  CHECK(count_op(g, Op::exp) == 0);
  CHECK(count_op(g, Op::log) == 0);
  CHECK(count_op(g, Op::input) == 2);
  CHECK(g.inputs.size() == 2);
  CHECK(g[g.inputs[1]].name == "unused");
  CHECK(g[g.params[0]].name == "w");
  CHECK(g[*g.train.minimize].op == Op::sum);
  CHECK(g.grads[0].first == g.params[0]);
  CHECK(g[g.grads[0].second].op == Op::mul);
  CHECK(g.updates[0].target == g.params[0]);
  CHECK(g[g.updates[0].value].op == Op::sub);
  CHECK(g.size() == 10 - 2);
  CHECK_FALSE(run(make_dce_pass(), g));
}

namespace {

// A graph full of redundancy: foldable constants, neutral elements, duplicates.
Graph redundant_graph() {
  Graph g;
  NodeId x = leaf(g, Op::input, "x", {4, 3});
  NodeId w = leaf(g, Op::param, "w", {3, 2});
  NodeId b = leaf(g, Op::param, "b", {2});
  NodeId two = g.make(Op::add, {g.scalar(1.0, DType::f64), g.scalar(1.0, DType::f64)});
  NodeId half = g.make(Op::div, {g.scalar(1.0, DType::f64), two});
  NodeId z1 = g.make(Op::add, {g.make(Op::matmul, {x, w}), b});
  NodeId z2 = g.make(Op::add, {g.make(Op::matmul, {x, w}), b});  // duplicate of z1
  NodeId t = g.make(Op::tanh, {g.make(Op::mul, {z1, g.make(Op::mul, {half, two})})});  // z1 * 1
  NodeId u = g.make(Op::neg, {g.make(Op::neg, {g.make(Op::sigmoid, {z2})})});
  NodeId v = g.make(Op::transpose, {g.make(Op::transpose, {g.make(Op::add, {t, u})})});
  NodeId sc = g.make(Op::sum, {g.make(Op::broadcast_to, {g.make(Op::sum, {b})}, shape_attr({4, 2}))});
  NodeId r = g.make(Op::sub, {g.make(Op::reshape, {v}, shape_attr({4, 2})), g.scalar(0.0, DType::f64)});
  g.make(Op::exp, {x});  // dead
  g.outputs = {{"r", r}, {"sc", sc}};
  g.train.present = true;
  g.train.minimize = g.make(Op::mean, {g.make(Op::mul, {r, r})});
  return g;
}

}  // namespace

TEST_CASE("the simplify pipeline reaches a fixed point", "[simplify]") {
  Graph g = redundant_graph();
  size_t before = g.size();
  Diagnostics d;
  std::vector<PassStat> stats;
  REQUIRE(make_simplify_pipeline().run(g, d, &stats).ok);
  CHECK_FALSE(d.has_errors());
  CHECK(verify_graph(g).empty());
  REQUIRE(stats.size() >= 8);  // at least two rounds of four passes
  CHECK(stats.front().nodes_before == before);
  // The last round changed nothing: that is the fixed point.
  for (size_t k = stats.size() - 4; k < stats.size(); ++k) CHECK_FALSE(stats[k].changed);
  CHECK(stats.back().nodes_after == g.size());
  CHECK(g.size() < before);
  CHECK(count_op(g, Op::matmul) == 1);
  CHECK(count_op(g, Op::neg) == 0);
  CHECK(count_op(g, Op::transpose) == 0);
  CHECK(count_op(g, Op::exp) == 0);
  CHECK(count_op(g, Op::div) == 0);
  // Running it again changes nothing.
  std::vector<PassStat> again;
  size_t n = g.size();
  REQUIRE(make_simplify_pipeline().run(g, d, &again).ok);
  CHECK(again.size() == 4);
  for (auto& s : again) CHECK_FALSE(s.changed);
  CHECK(g.size() == n);
}

TEST_CASE("the simplified graph computes the same values on random inputs", "[simplify]") {
  Graph original = redundant_graph();
  Graph g = original;
  Diagnostics d;
  REQUIRE(make_simplify_pipeline().run(g, d).ok);
  std::mt19937_64 rng(1234);
  std::normal_distribution<double> dist(0.0, 1.0);
  for (int trial = 0; trial < 5; ++trial) {
    ValueMap vals;
    for (auto [name, shape] : std::vector<std::pair<std::string, Shape>>{{"x", {4, 3}}, {"w", {3, 2}}, {"b", {2}}}) {
      Tensor t(DType::f64, shape);
      for (double& v : t.data) v = dist(rng);
      vals[name] = t;
    }
    std::string err;
    auto a = evaluate(original, vals, Precision::f64, err);
    auto b = evaluate(g, vals, Precision::f64, err);
    REQUIRE(a);
    REQUIRE(b);
    for (size_t k = 0; k < g.outputs.size(); ++k) {
      const auto& ta = (*a)[original.outputs[k].second].data;
      const auto& tb = (*b)[g.outputs[k].second].data;
      REQUIRE(ta.size() == tb.size());
      for (size_t i = 0; i < ta.size(); ++i) CHECK(tb[i] == Approx(ta[i]).epsilon(1e-12).margin(1e-14));
    }
    CHECK((*a)[*original.train.minimize].data[0] == Approx((*b)[*g.train.minimize].data[0]).epsilon(1e-12));
  }
}

TEST_CASE("the pipeline reports a pass that breaks the IR as an internal error", "[simplify]") {
  struct Breaker final : Pass {
    std::string_view name() const override { return "breaker"; }
    PassResult run(Graph& g, Diagnostics&) override {
      g.nodes.back().in.push_back(static_cast<NodeId>(g.size() + 5));
      return PassResult::success(true);
    }
  };
  Graph g = redundant_graph();
  Diagnostics d;
  std::vector<PassStat> stats;
  Pipeline p;
  p.add(make_dce_pass()).add(std::make_unique<Breaker>()).add(make_cse_pass());
  CHECK_FALSE(p.run(g, d, &stats).ok);
  REQUIRE(d.error_count() == 1);
  CHECK(d.all()[0].id == "internal");
  CHECK(d.all()[0].message.find("breaker") != std::string::npos);
  CHECK(stats.size() == 2);  // cse never ran
}

TEST_CASE("a pass's failure is apart from 'changed': the pipeline stops there, and a silent failure is an error", "[simplify]") {
  // Succeeds without changing anything, fails with a diagnostic, fails without one.
  struct Fixed final : Pass {
    int mode;
    explicit Fixed(int m) : mode(m) {}
    std::string_view name() const override { return mode == 0 ? "idle" : mode == 1 ? "refuses" : "mute"; }
    PassResult run(Graph&, Diagnostics& d) override {
      if (mode == 0) return PassResult::success(false);
      if (mode == 1) d.error("test", {}, "cannot do this");
      return PassResult::failure();
    }
  };
  for (int mode : {1, 2}) {
    Graph g = redundant_graph();
    Diagnostics d;
    std::vector<PassStat> stats;
    Pipeline p;
    p.add(std::make_unique<Fixed>(0)).add(std::make_unique<Fixed>(mode)).add(make_dce_pass());
    PassResult r = p.run(g, d, &stats);
    CHECK_FALSE(r.ok);
    CHECK(stats.size() == 2);  // dce never ran
    REQUIRE(d.error_count() == 1);
    if (mode == 1) CHECK(d.all()[0].message == "cannot do this");
    else CHECK(d.all()[0].message == "pass 'mute' failed without reporting an error");
  }
  Graph g = redundant_graph();
  Diagnostics d;
  Pipeline idle;
  idle.add(std::make_unique<Fixed>(0));
  PassResult r = idle.run(g, d);
  CHECK(r.ok);
  CHECK_FALSE(r.changed);
}

TEST_CASE("simplifying a training graph keeps every step's values", "[simplify]") {
  // A quadratic loss with hand-built gradient, Adam with clipping and a cosine schedule:
  // the optimizer's many literals and duplicated subexpressions (lr, step + 1, ...) merge.
  Graph g = redundant_graph();
  NodeId w = g.params[0], b = g.params[1];
  NodeId two = g.scalar(2.0, DType::f64);
  g.grads = {{w, g.make(Op::mul, {w, two})}, {b, g.make(Op::mul, {g.make(Op::mul, {b, g.scalar(1.0, DType::f64)}), two})}};
  g.train.optimizer.kind = kiln::OptimizerKind::adam;
  g.train.optimizer.lr = 0.05;
  g.train.schedule.kind = kiln::ScheduleKind::cosine;
  g.train.schedule.total = 4;
  g.train.clip_norm = 0.7;
  Diagnostics d;
  REQUIRE(add_optimizer(g, d).changed);
  Graph s = g;
  std::vector<PassStat> stats;
  REQUIRE(make_simplify_pipeline().run(s, d, &stats).ok);
  CHECK(s.size() < g.size());
  CHECK(s.updates.size() == g.updates.size());
  CHECK(s.states.size() == g.states.size());
  ValueMap va = initial_values(g, 3), vb = initial_values(s, 3);
  std::mt19937_64 rng(99);
  std::normal_distribution<double> dist(0.0, 1.0);
  for (auto [name, shape] : std::vector<std::pair<std::string, Shape>>{{"x", {4, 3}}, {"w", {3, 2}}, {"b", {2}}}) {
    Tensor t(DType::f64, shape);
    for (double& v : t.data) v = dist(rng);
    va[name] = vb[name] = t;
  }
  for (int step = 0; step < 5; ++step) {
    std::string err;
    double la = 0, lb = 0;
    REQUIRE(train_step(g, va, Precision::f64, err, &la));
    REQUIRE(train_step(s, vb, Precision::f64, err, &lb));
    CHECK(lb == Approx(la).epsilon(1e-12));
    for (auto& [name, t] : va) {
      INFO(name);
      REQUIRE(vb.count(name));
      for (size_t i = 0; i < t.size(); ++i) CHECK(vb[name].data[i] == Approx(t.data[i]).epsilon(1e-12).margin(1e-15));
    }
  }
  CHECK(va.at("step").data[0] == 5);
}

TEST_CASE("simplifying a differentiated network keeps its gradients", "[simplify]") {
  Graph g;
  NodeId x = leaf(g, Op::input, "x", {5, 4}), y = leaf(g, Op::input, "y", {5, 2});
  NodeId w1 = leaf(g, Op::param, "w1", {4, 3}), b1 = leaf(g, Op::param, "b1", {3});
  NodeId w2 = leaf(g, Op::param, "w2", {3, 2}), b2 = leaf(g, Op::param, "b2", {2});
  NodeId h = g.make(Op::tanh, {g.make(Op::add, {g.make(Op::matmul, {x, w1}), b1})});
  NodeId z = g.make(Op::add, {g.make(Op::matmul, {h, w2}), b2});
  NodeId p = g.make(Op::sigmoid, {z});
  g.train.present = true;
  g.train.minimize = g.make(Op::mean, {g.make(Op::squared_error, {p, y})});
  g.outputs = {{"p", p}};
  Diagnostics d;
  REQUIRE(differentiate(g, d));
  REQUIRE(g.grads.size() == 4);
  Graph s = g;
  REQUIRE(make_simplify_pipeline().run(s, d).ok);
  CHECK(s.size() < g.size());
  std::mt19937_64 rng(5);
  std::normal_distribution<double> dist(0.0, 1.0);
  ValueMap vals;
  for (NodeId leaf_id : {x, y, w1, b1, w2, b2}) {
    Tensor t(DType::f64, g[leaf_id].shape);
    for (double& v : t.data) v = dist(rng);
    vals[g[leaf_id].name] = t;
  }
  std::string err;
  auto a = evaluate(g, vals, Precision::f64, err);
  auto b = evaluate(s, vals, Precision::f64, err);
  REQUIRE(a);
  REQUIRE(b);
  for (size_t k = 0; k < g.grads.size(); ++k) {
    REQUIRE(g[g.grads[k].first].name == s[s.grads[k].first].name);
    const auto& ga = (*a)[g.grads[k].second].data;
    const auto& gb = (*b)[s.grads[k].second].data;
    REQUIRE(ga.size() == gb.size());
    for (size_t i = 0; i < ga.size(); ++i) CHECK(gb[i] == Approx(ga[i]).epsilon(1e-12).margin(1e-15));
  }
}
