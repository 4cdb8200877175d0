// Gradient checks: for every op with a derivative rule, the autodiff gradients of
// loss = sum(op(inputs...) * weights) match finite differences, over several seeded shapes
// (with broadcasting) and inputs kept away from kinks. Also: locations, consts and inputs.
#include "ir/interpreter.hpp"
#include "ir/ops/kernels.hpp"
#include "passes/autodiff.hpp"
#include "tests/ir/graph_builder.hpp"
#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <map>
#include <cstdio>
#include <cstdlib>
#include <random>

using namespace kiln;
using kiln::testing::Builder;

namespace {

// One operand of a checked op: its shape and where its values are drawn from.
struct Operand {
  Shape shape;
  double lo = -2, hi = 2;
  double min_abs = 0;       // |x| > min_abs (keeps relu/abs/div away from 0)
  DType dtype = DType::f64;
  int64_t classes = 0;      // i32 labels in [0, classes)
  bool fixed = false;       // an input (no gradient, not perturbed): conditions, labels
  bool mask = false;        // values 0 or 1 (where's condition)
};

// A test case: the op, its operands and attrs, and an optional check that rejects inputs
// too close to a kink (ties, clip bounds, huber's delta).
struct Case {
  Op op;
  std::vector<Operand> in;
  Attrs attrs;
  std::function<bool(const std::vector<Tensor>&)> away_from_kinks;
};

using Rng = std::mt19937_64;

int64_t dim(Rng& r) { return std::uniform_int_distribution<int64_t>(2, 4)(r); }

Shape random_shape(Rng& r, size_t min_rank, size_t max_rank) {
  size_t rank = std::uniform_int_distribution<size_t>(min_rank, max_rank)(r);
  Shape s(rank);
  for (auto& d : s) d = dim(r);
  return s;
}

// k shapes that broadcast together: each drops a leading prefix or sets axes to 1 at random.
std::vector<Shape> broadcast_family(Rng& r, int k) {
  Shape full = random_shape(r, 1, 3);
  std::vector<Shape> out;
  std::bernoulli_distribution coin(0.35);
  for (int i = 0; i < k; ++i) {
    Shape s = full;
    if (coin(r)) s.erase(s.begin(), s.begin() + std::uniform_int_distribution<size_t>(0, s.size())(r));
    for (auto& d : s)
      if (coin(r)) d = 1;
    out.push_back(s);
  }
  return out;
}

// True when pred(a[i], b[j]) holds for every broadcast pair of operands x and y.
bool all_pairs(const Tensor& x, const Tensor& y, const std::function<bool(double, double)>& pred) {
  Shape s;
  if (!broadcast_shapes(x.shape, y.shape, s)) return false;
  auto mx = kern::broadcast_map(s, x.shape), my = kern::broadcast_map(s, y.shape);
  for (size_t i = 0; i < mx.size(); ++i)
    if (!pred(x.data[mx[i]], y.data[my[i]])) return false;
  return true;
}

Operand real(Shape s, double min_abs = 0.1) { return {std::move(s), -2, 2, min_abs}; }

// The fourth-order central difference of the op's reference kernel at every element of x
// with step h (the check's own formula, below).
std::vector<double> unary_differences(Op op, const Attrs& attrs, const Tensor& x, double h) {
  Tensor pts(DType::f64, {int64_t(4 * x.size())});
  for (size_t i = 0; i < x.size(); ++i) {
    const double at[4] = {x.data[i] + h, x.data[i] - h, x.data[i] + 2 * h, x.data[i] - 2 * h};
    for (int k = 0; k < 4; ++k) pts.data[4 * i + k] = at[k];
  }
  Node n{op, DType::f64, pts.shape, {}, attrs, {}, {}};
  Tensor out(DType::f64, pts.shape);
  const Tensor* in[] = {&pts};
  op_row(op).eval(std::span<const Tensor* const>(in), n, out);
  std::vector<double> d(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const double* f = &out.data[4 * i];
    d[i] = (8 * (f[0] - f[1]) - (f[2] - f[3])) / (12 * h);
  }
  return d;
}

// A unary op's operand is away from its kinks (relu at 0, hard ones anywhere: any point
// where the op is not smooth enough for the finite difference) when the difference with
// step h, which the check uses, agrees with the one with step h/2: near a kink within 2h
// they differ by about the error the check would see. No list of kinks needed.
std::function<bool(const std::vector<Tensor>&)> smooth_unary(Op op, Attrs attrs, double h) {
  return [op, attrs, h](const std::vector<Tensor>& v) {
    auto a = unary_differences(op, attrs, v[0], h), b = unary_differences(op, attrs, v[0], h / 2);
    for (size_t i = 0; i < a.size(); ++i)
      if (std::fabs(a[i] - b[i]) > 1e-8 * std::max({std::fabs(a[i]), std::fabs(b[i]), 1e-3})) return false;
    return true;
  };
}
constexpr double kStep = 1e-3;  // the finite difference's step
Operand range(Shape s, double lo, double hi) { return {std::move(s), lo, hi}; }

Attrs axes_attr(std::vector<int64_t> axes, bool keepdims = false) { return Builder::axes(std::move(axes), keepdims); }

// The cases of one op (several seeded shapes each). Empty: the op has no case here.
std::vector<Case> cases_for(Op op, Rng& r) {
  std::vector<Case> cs;
  const OpRow& row = op_row(op);
  auto unary_shapes = [&] { return std::vector<Shape>{{}, random_shape(r, 1, 1), random_shape(r, 2, 3)}; };
  switch (op) {
    case Op::log: case Op::sqrt: case Op::rsqrt:
      for (auto& s : unary_shapes()) cs.push_back({op, {range(s, 0.2, 2)}});
      return cs;
    case Op::log1p:
      for (auto& s : unary_shapes()) cs.push_back({op, {range(s, -0.5, 2)}});
      return cs;
    case Op::leaky_relu: case Op::elu:
      for (auto& s : unary_shapes()) cs.push_back({op, {range(s, -4, 4)}, Builder::alpha(0.3), smooth_unary(op, Builder::alpha(0.3), kStep)});
      return cs;
    default: break;
  }
  if (row.cls == OpClass::unary) {  // any other unary op: on [-4, 4], away from its kinks
    Attrs a = Builder::alpha(row.surface.alpha);  // an alpha op's default (the attrs of the others ignore it)
    for (auto& s : unary_shapes()) cs.push_back({op, {range(s, -4, 4)}, a, smooth_unary(op, a, kStep)});
    return cs;
  }
  if (row.cls == OpClass::binary || row.cls == OpClass::ternary ||
      (row.cls == OpClass::loss && op != Op::softmax_cross_entropy)) {
    for (int k = 0; k < 4; ++k) {
      auto sh = broadcast_family(r, row.arity);
      Case c{op, {}};
      for (auto& s : sh) c.in.push_back(real(s));
      switch (op) {
        case Op::div: c.in[1].min_abs = 0.5; break;
        case Op::pow: c.in[0] = range(sh[0], 0.3, 2); break;
        case Op::maximum: case Op::minimum:
          c.away_from_kinks = [](const std::vector<Tensor>& v) {
            return all_pairs(v[0], v[1], [](double a, double b) { return std::fabs(a - b) > 0.05; });
          };
          break;
        case Op::clip:
          c.in[1] = range(sh[1], -1.5, -0.3);
          c.in[2] = range(sh[2], 0.3, 1.5);
          c.away_from_kinks = [](const std::vector<Tensor>& v) {
            auto apart = [](double a, double b) { return std::fabs(a - b) > 0.05; };
            return all_pairs(v[0], v[1], apart) && all_pairs(v[0], v[2], apart);
          };
          break;
        case Op::where: c.in[0] = {sh[0], 0, 1, 0, DType::f64, 0, true, true}; break;
        case Op::bce: c.in[0] = range(sh[0], 0.1, 0.9); c.in[1] = range(sh[1], 0.05, 0.95); break;
        case Op::huber:
          c.attrs = Builder::alpha(1.0);
          c.away_from_kinks = [](const std::vector<Tensor>& v) {
            return all_pairs(v[0], v[1], [](double a, double b) { return std::fabs(std::fabs(a - b) - 1.0) > 0.05; });
          };
          break;
        default: break;
      }
      cs.push_back(std::move(c));
    }
    return cs;
  }
  switch (op) {
    case Op::matmul: {
      int64_t m = dim(r), k = dim(r), n = dim(r);
      cs.push_back({op, {real({m, k}, 0), real({k, n}, 0)}});
      cs.push_back({op, {real({k}, 0), real({k, n}, 0)}});
      cs.push_back({op, {real({m, k}, 0), real({k}, 0)}});
      cs.push_back({op, {real({k}, 0), real({k}, 0)}});
      return cs;
    }
    case Op::sum: case Op::mean: case Op::max: case Op::min: case Op::logsumexp:
      cs.push_back({op, {real(random_shape(r, 2, 2), 0)}, axes_attr({1})});
      cs.push_back({op, {real(random_shape(r, 3, 3), 0)}, axes_attr({0, -1}, true)});
      cs.push_back({op, {real(random_shape(r, 1, 3), 0)}, axes_attr({})});
      cs.push_back({op, {real(random_shape(r, 2, 2), 0)}, axes_attr({}, true)});
      return cs;
    case Op::softmax: case Op::log_softmax:
      cs.push_back({op, {real(random_shape(r, 2, 2), 0)}, axes_attr({1})});
      cs.push_back({op, {real(random_shape(r, 3, 3), 0)}, axes_attr({0})});
      cs.push_back({op, {real(random_shape(r, 1, 1), 0)}, axes_attr({-1})});
      return cs;
    case Op::softmax_cross_entropy: {
      Shape z = random_shape(r, 2, 2), batch(z.begin(), z.end() - 1);
      cs.push_back({op, {real(z, 0), range(z, 0.05, 1)}});
      Shape z3 = random_shape(r, 3, 3), b3(z3.begin(), z3.end() - 1);
      cs.push_back({op, {real(z3, 0), range(z3, 0.05, 1)}});
      Operand labels{batch, 0, 0, 0, DType::i32, z.back(), true};
      cs.push_back({op, {real(z, 0), labels}});
      Shape v = random_shape(r, 1, 1);
      cs.push_back({op, {real(v, 0), Operand{{}, 0, 0, 0, DType::i32, v.back(), true}}});
      return cs;
    }
    case Op::transpose:
      for (size_t rank = 1; rank <= 3; ++rank) cs.push_back({op, {real(random_shape(r, rank, rank), 0)}});
      return cs;
    case Op::reshape: {
      Attrs a;
      a.shape = {12};
      cs.push_back({op, {real({3, 4}, 0)}, a});
      a.shape = {2, 3, 2};
      cs.push_back({op, {real({4, 3}, 0)}, a});
      a.shape = {};
      cs.push_back({op, {real({1, 1}, 0)}, a});
      return cs;
    }
    case Op::concat: {
      Shape s = random_shape(r, 2, 2), t = s;
      t[1] = dim(r);
      cs.push_back({op, {real(s, 0), real(t, 0), real(s, 0)}, axes_attr({1})});
      t = s;
      t[0] = dim(r);
      cs.push_back({op, {real(s, 0), real(t, 0)}, axes_attr({-2})});
      cs.push_back({op, {real({3}, 0)}, axes_attr({0})});
      return cs;
    }
    case Op::broadcast_to: {
      Attrs a;
      a.shape = {2, 3, 4};
      for (Shape s : {Shape{}, Shape{4}, Shape{3, 1}, Shape{2, 1, 4}}) cs.push_back({op, {real(s, 0)}, a});
      return cs;
    }
    case Op::sum_to: {
      Attrs a;
      for (Shape s : {Shape{}, Shape{4}, Shape{3, 1}, Shape{2, 3, 4}}) {
        a.shape = s;
        cs.push_back({op, {real({2, 3, 4}, 0)}, a});
      }
      return cs;
    }
    case Op::slice: {
      Attrs a = axes_attr({1});
      a.n = 1;
      a.shape = {3, 2, 2};
      cs.push_back({op, {real({3, 4, 2}, 0)}, a});
      a = axes_attr({0});
      a.n = 0;
      a.shape = {2};
      cs.push_back({op, {real({5}, 0)}, a});
      a = axes_attr({-1});
      a.n = 2;
      a.shape = {2, 1};
      cs.push_back({op, {real({2, 3}, 0)}, a});
      return cs;
    }
    default: return cs;
  }
}

Tensor draw(const Operand& o, Rng& r) {
  Tensor t(o.dtype, o.shape);
  for (double& v : t.data) {
    if (o.classes) v = double(std::uniform_int_distribution<int64_t>(0, o.classes - 1)(r));
    else if (o.mask) v = double(std::bernoulli_distribution(0.5)(r));
    else
      do v = std::uniform_real_distribution<double>(o.lo, o.hi)(r);
      while (std::fabs(v) <= o.min_abs);
  }
  return t;
}

double total_loss(const Graph& g, const ValueMap& vm, NodeId loss) {
  std::string err;
  auto v = evaluate(g, vm, Precision::f64, err);
  REQUIRE(v);
  return v->at(loss).data[0];
}

const SourceRange kOpLoc{3, 5, 3, 20}, kMulLoc{4, 1, 4, 9}, kSumLoc{5, 1, 5, 9};

// Builds loss = sum(op(operands) * w), differentiates it and compares every param's
// gradient with fourth-order central differences. Returns the worst relative error.
double check_case(const Case& c, Rng& r) {
  Builder b;
  std::vector<NodeId> ins;
  ValueMap vm;
  std::vector<Tensor> values;
  for (int attempt = 0;; ++attempt) {
    values.clear();
    for (auto& o : c.in) values.push_back(draw(o, r));
    if (!c.away_from_kinks || c.away_from_kinks(values)) break;
    REQUIRE(attempt < 1000);
  }
  for (size_t i = 0; i < c.in.size(); ++i) {
    std::string name = "x" + std::to_string(i);
    ins.push_back(c.in[i].fixed ? b.input(name, c.in[i].shape, c.in[i].dtype) : b.param(name, c.in[i].shape));
    vm[name] = values[i];
  }
  NodeId y = b.op(c.op, ins, c.attrs, kOpLoc);
  Tensor w = draw(Operand{b.g[y].shape, -1, 1}, r);
  NodeId wl = b.lit(w.shape, w.data);
  NodeId loss = b.op(Op::sum, {b.op(Op::mul, {y, wl}, {}, kMulLoc)}, {}, kSumLoc);
  b.g.train.present = true;
  b.g.train.minimize = loss;
  Graph forward = b.g;
  size_t n0 = b.g.size();

  Diagnostics d;
  REQUIRE(differentiate(b.g, d));
  REQUIRE(b.g.grads.size() == b.g.params.size());
  for (size_t id = n0; id < b.g.size(); ++id) {  // every backward node carries a forward loc
    const SourceRange& l = b.g[NodeId(id)].loc;
    INFO("backward node " << id << " (" << op_name(b.g[NodeId(id)].op) << ")");
    CHECK((l == kOpLoc || l == kMulLoc || l == kSumLoc));
  }
  std::string err;
  auto v = evaluate(b.g, vm, Precision::f64, err);
  INFO(err);
  REQUIRE(v);

  double worst = 0;
  const double h = kStep;
  for (auto [p, gid] : b.g.grads) {
    const std::string& name = b.g[p].name;
    const Tensor& grad = (*v)[gid];
    REQUIRE(grad.shape == b.g[p].shape);
    for (size_t k = 0; k < grad.size(); ++k) {
      auto at = [&](double step) {
        ValueMap m = vm;
        m[name].data[k] += step;
        return total_loss(forward, m, loss);
      };
      double fd = (8 * (at(h) - at(-h)) - (at(2 * h) - at(-2 * h))) / (12 * h);
      double a = grad.data[k];
      double rel = std::fabs(a - fd) / std::max({std::fabs(a), std::fabs(fd), 1e-3});
      INFO(op_name(c.op) << " operand " << name << " element " << k << ": autodiff " << a << ", finite difference "
                         << fd);
      CHECK(rel < 1e-6);
      worst = std::max(worst, rel);
    }
  }
  return worst;
}

}  // namespace

TEST_CASE("every differentiable op passes a finite-difference gradient check", "[gradcheck]") {
  Rng r(20261125);
  int checked = 0;
  for (int i = 0; i < kNumOps; ++i) {
    Op op = static_cast<Op>(i);
    const OpRow& row = op_row(op);
    if (row.cls == OpClass::leaf) continue;
    INFO("op " << row.name);
    CHECK(row.eval != nullptr);
    if (row.zero_grad) {
      CHECK(row.grad == nullptr);
      continue;
    }
    REQUIRE(row.grad != nullptr);  // a differentiable op without a derivative rule
    auto cases = cases_for(op, r);
    REQUIRE(cases.size() >= 3);    // a differentiable op without test cases
    double worst = 0;
    for (const Case& c : cases) worst = std::max(worst, check_case(c, r));
    if (std::getenv("KILN_GRADCHECK_VERBOSE")) std::printf("%-24s worst relative error %.2e\n", std::string(row.name).c_str(), worst);
    ++checked;
  }
  CHECK(checked > 40);  // the loop really ran over the table
}

namespace {

// The gradients of a differentiated graph, evaluated in f64, by param name.
std::map<std::string, Tensor> grads_of(const Graph& g, const ValueMap& vm) {
  std::string err;
  auto v = evaluate(g, vm, Precision::f64, err);
  INFO(err);
  REQUIRE(v);
  std::map<std::string, Tensor> out;
  for (auto [p, gid] : g.grads) out[g[p].name] = (*v)[gid];
  return out;
}

}  // namespace

TEST_CASE("autodiff: derivatives at kinks and ties follow the documented choices", "[gradcheck]") {
  Builder b;
  auto x = b.param("x", {4});      // relu, abs at 0 and clip at its bounds
  auto m = b.param("m", {2, 3});   // max over axis 1 with a tie in row 0
  auto u = b.param("u", {2});      // maximum(u, v) with a tie in element 0
  auto v = b.param("v", {2});
  auto one = [&](double c) { return b.g.scalar(c, DType::f64); };
  auto s1 = b.op(Op::sum, {b.op(Op::relu, {x})});
  auto s2 = b.op(Op::sum, {b.op(Op::abs, {x})});
  auto s3 = b.op(Op::sum, {b.op(Op::clip, {x, one(-1), one(1)})});
  auto s4 = b.op(Op::sum, {b.op(Op::max, {m}, Builder::axes({1}))});
  auto s5 = b.op(Op::sum, {b.op(Op::maximum, {u, v})});
  auto weighted = [&](NodeId s, double w) { return b.op(Op::mul, {s, one(w)}); };
  auto loss = b.op(Op::add, {b.op(Op::add, {b.op(Op::add, {s1, weighted(s2, 10)}), weighted(s3, 100)}),
                             b.op(Op::add, {s4, s5})});
  b.g.train.present = true;
  b.g.train.minimize = loss;
  Diagnostics d;
  REQUIRE(differentiate(b.g, d));
  ValueMap vm{{"x", Tensor(DType::f64, {4})}, {"m", Tensor(DType::f64, {2, 3})}, {"u", Tensor(DType::f64, {2})},
              {"v", Tensor(DType::f64, {2})}};
  vm["x"].data = {0, -1, 1, 2};
  vm["m"].data = {5, 1, 5, 0, 2, 1};
  vm["u"].data = {3, 4};
  vm["v"].data = {3, 1};
  auto g = grads_of(b.g, vm);
  // relu'(0) = 0, abs'(0) = 0; clip passes the gradient for lo <= x <= hi, not above.
  CHECK(g["x"].data == std::vector<double>{0 + 0 + 100, 0 - 10 + 100, 1 + 10 + 100, 1 + 10 + 0});
  CHECK(g["m"].data == std::vector<double>{0.5, 0, 0.5, 0, 1, 0});  // ties share the gradient
  CHECK(g["u"].data == std::vector<double>{0.5, 1});
  CHECK(g["v"].data == std::vector<double>{0.5, 0});
}

TEST_CASE("autodiff: shared uses accumulate, consts and inputs get no gradient", "[gradcheck]") {
  Builder b;
  auto p = b.param("p", {3});
  auto q = b.param("q", {2});  // does not reach the loss
  auto r = b.param("r", {});   // reaches the loss only through stop_gradient
  Init ci;
  ci.kind = InitKind::constant;
  ci.a = 2;
  auto c = b.leaf(Op::const_, "c", {3}, DType::f64, ci);
  auto x = b.input("x", {3});
  auto sq = b.op(Op::mul, {p, p});
  auto t = b.op(Op::add, {b.op(Op::add, {sq, b.op(Op::mul, {p, c})}), b.op(Op::mul, {x, b.op(Op::stop_gradient, {r})})});
  auto loss = b.op(Op::sum, {t});
  b.op(Op::exp, {q});
  b.g.train.present = true;
  b.g.train.minimize = loss;
  Diagnostics d;
  REQUIRE(differentiate(b.g, d));
  REQUIRE(b.g.grads.size() == 3);
  CHECK(b.g.grads[0].first == p);
  CHECK(b.g.grads[1].first == q);
  CHECK(b.g.grads[2].first == r);
  ValueMap vm{{"p", Tensor(DType::f64, {3})}, {"q", Tensor(DType::f64, {2}, 7)}, {"r", Tensor(DType::f64, {}, 3)},
              {"x", Tensor(DType::f64, {3}, 1)}};
  vm["p"].data = {1, 2, 3};
  for (auto& [name, t] : initial_values(b.g, 1)) vm.insert({name, t});
  auto g = grads_of(b.g, vm);
  CHECK(g["p"].data == std::vector<double>{2 + 2, 4 + 2, 6 + 2});  // d/dp (p*p + p*c)
  CHECK(g["q"].shape == Shape{2});
  CHECK(g["q"].data == std::vector<double>{0, 0});
  CHECK(g["r"].data == std::vector<double>{0});
  for (auto [param, grad] : b.g.grads) CHECK(b.g[param].op == Op::param);
}

TEST_CASE("autodiff: backward nodes carry the forward node's location", "[gradcheck]") {
  Builder b;
  SourceRange exp_loc{2, 3, 2, 9}, sum_loc{3, 1, 3, 12};
  auto p = b.param("p", {3});
  auto e = b.op(Op::exp, {p}, {}, exp_loc);
  auto loss = b.op(Op::sum, {e}, {}, sum_loc);
  b.g.train.present = true;
  b.g.train.minimize = loss;
  size_t n0 = b.g.size();
  Diagnostics d;
  REQUIRE(differentiate(b.g, d));
  NodeId grad = b.g.grads.at(0).second;
  CHECK(b.g[grad].op == Op::mul);  // exp's rule: gout * exp(x)
  CHECK(b.g[grad].loc == exp_loc);
  for (size_t id = n0; id < b.g.size(); ++id) {
    const Node& n = b.g[NodeId(id)];
    CHECK((n.loc == exp_loc || n.loc == sum_loc));
    if (n.op == Op::broadcast_to) CHECK(n.loc == sum_loc);  // sum's rule
  }
}

TEST_CASE("autodiff: f32 models, i32 labels and a non-scalar loss", "[gradcheck]") {
  Builder b;
  auto w = b.param("w", {3, 4}, DType::f32);
  auto x = b.input("x", {2, 3}, DType::f32);
  auto labels = b.input("labels", {2}, DType::i32);
  auto per_example = b.op(Op::softmax_cross_entropy, {b.op(Op::matmul, {x, w}), labels});
  b.g.train.present = true;
  b.g.train.minimize = per_example;  // [2]: the gradient of its sum
  Diagnostics d;
  REQUIRE(differentiate(b.g, d));
  REQUIRE(b.g.grads.size() == 1);
  const Node& gw = b.g[b.g.grads[0].second];
  CHECK(gw.dtype == DType::f32);
  CHECK(gw.shape == Shape{3, 4});
  ValueMap vm{{"w", Tensor(DType::f32, {3, 4}, 0)}, {"x", Tensor(DType::f32, {2, 3}, 1)},
              {"labels", Tensor(DType::i32, {2})}};
  vm["labels"].data = {1, 3};
  auto g = grads_of(b.g, vm);
  // Zero weights: softmax is uniform (1/4); d/dw[i][j] = sum_n x[n][i] * (1/4 - onehot[n][j]).
  CHECK(g["w"].data == std::vector<double>{0.5, -0.5, 0.5, -0.5, 0.5, -0.5, 0.5, -0.5, 0.5, -0.5, 0.5, -0.5});
}

TEST_CASE("autodiff: a model without minimize is an error, the pass form", "[gradcheck]") {
  Builder b;
  b.param("p", {2});
  Diagnostics d;
  CHECK_FALSE(differentiate(b.g, d));
  REQUIRE(d.all().size() == 1);
  CHECK(d.all()[0].id == "train");
  CHECK(d.all()[0].message == "nothing to differentiate: the model has no `minimize`");
  Diagnostics d1;
  CHECK_FALSE(make_autodiff_pass()->run(b.g, d1).ok);  // as a pass: a failure, apart from "changed"
  CHECK(d1.error_count() == 1);

  auto p = b.g.params[0];
  b.g.train.present = true;
  b.g.train.minimize = b.op(Op::sum, {b.op(Op::square, {p})});
  auto pass = make_autodiff_pass();
  CHECK(pass->name() == "autodiff");
  Diagnostics d2;
  PassResult r = pass->run(b.g, d2);
  CHECK(r.ok);
  CHECK(r.changed);
  CHECK_FALSE(d2.has_errors());
  CHECK(b.g.grads.size() == 1);
}

TEST_CASE("autodiff + interpreter: gradient descent trains a small classifier", "[gradcheck]") {
  Builder b;
  Init glorot;
  glorot.kind = InitKind::glorot_uniform;
  auto x = b.input("x", {8, 2});
  auto y = b.input("y", {8}, DType::i32);
  auto w1 = b.leaf(Op::param, "w1", {2, 8}, DType::f64, glorot);
  auto b1 = b.leaf(Op::param, "b1", {8}, DType::f64);
  auto w2 = b.leaf(Op::param, "w2", {8, 2}, DType::f64, glorot);
  auto h = b.op(Op::tanh, {b.op(Op::add, {b.op(Op::matmul, {x, w1}), b1})});
  auto logits = b.op(Op::matmul, {h, w2});
  auto loss = b.op(Op::mean, {b.op(Op::softmax_cross_entropy, {logits, y})});
  b.g.train.present = true;
  b.g.train.minimize = loss;
  Diagnostics d;
  REQUIRE(differentiate(b.g, d));
  REQUIRE(differentiate(b.g, d));  // a second run replaces the first's gradients
  REQUIRE(b.g.grads.size() == 3);
  for (auto [p, grad] : b.g.grads)
    b.g.updates.push_back({p, b.op(Op::sub, {p, b.op(Op::mul, {grad, b.g.scalar(0.5, DType::f64)})})});
  ValueMap vm = initial_values(b.g, 3);
  vm["x"] = Tensor(DType::f64, {8, 2});
  vm["y"] = Tensor(DType::i32, {8});
  for (int i = 0; i < 8; ++i) {  // XOR-like labels from the quadrant
    double u = (i & 1) ? 1 : -1, v = (i & 2) ? 1 : -1, s = 1 + 0.1 * (i >> 2);
    vm["x"].data[2 * i] = u * s;
    vm["x"].data[2 * i + 1] = v * s;
    vm["y"].data[i] = u * v > 0 ? 1 : 0;
  }
  std::string err;
  double first = 0, last = 0;
  for (int step = 0; step < 300; ++step) {
    REQUIRE(train_step(b.g, vm, Precision::f64, err, step == 0 ? &first : &last));
  }
  CHECK(first > 0.5);
  CHECK(last < 0.05);
}
