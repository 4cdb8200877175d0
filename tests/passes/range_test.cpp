// Range analysis tests ("[range]"): f32 saturation (sigmoid, softmax, tanh, exp), leaf
// ranges from initialisers and options, and soundness against the interpreter in f32.
#include "ir/interpreter.hpp"
#include "passes/range.hpp"
#include "tests/ir/graph_builder.hpp"
#include <catch2/catch.hpp>
#include <cmath>
#include <random>

using namespace kiln;
using kiln::testing::Builder;

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();

// The range of `op` applied to an f32[8] input known to lie in `in`.
Interval unary_range(Op op, Interval in, DType t = DType::f32, Attrs attrs = {}) {
  Builder b;
  NodeId x = b.input("x", {8}, t);
  b.op(op, {x}, attrs);
  RangeOptions o;
  o.input_ranges["x"] = in;
  return compute_ranges(b.g, o).back();
}
Interval binary_range(Op op, Interval a, Interval c) {
  Builder b;
  NodeId x = b.input("x", {8}, DType::f32), y = b.input("y", {8}, DType::f32);
  b.op(op, {x, y});
  RangeOptions o;
  o.input_ranges["x"] = a;
  o.input_ranges["y"] = c;
  return compute_ranges(b.g, o).back();
}
}  // namespace

TEST_CASE("every op has an interval transfer function in its table row", "[range]") {
  for (int i = 0; i < kNumOps; ++i) {
    INFO(op_name(Op(i)));
    CHECK(op_row(Op(i)).interval != nullptr);
  }
}

TEST_CASE("sigmoid, tanh, softmax and exp saturate exactly in f32", "[range]") {
  // sigmoid of an unbounded value reaches exactly 0 and 1.
  CHECK(unary_range(Op::sigmoid, Interval::all()) == Interval{0, 1, false});
  // 1 + exp(-17) rounds to 1 in f32 (not in f64).
  CHECK(unary_range(Op::sigmoid, {0, 17}).hi == 1.0);
  CHECK(unary_range(Op::sigmoid, {0, 17}, DType::f64).hi < 1.0);
  CHECK(unary_range(Op::sigmoid, {0, 16}).hi < 1.0);
  // Bounded inputs keep sigmoid strictly inside (0, 1).
  Interval s = unary_range(Op::sigmoid, {-10, 10});
  CHECK(s.lo > 0);
  CHECK(s.hi < 1);
  CHECK(unary_range(Op::sigmoid, {-100, -90}).hi == 0.0);  // exp(-z) overflows: 1 / inf
  CHECK(unary_range(Op::tanh, {0, 10}).hi == 1.0);
  CHECK(unary_range(Op::tanh, {0, 5}).hi < 1.0);
  // exp overflows past 88.72 and underflows below -103.97.
  CHECK(unary_range(Op::exp, {0, 89}).hi == kInf);
  CHECK(std::isfinite(unary_range(Op::exp, {0, 88}).hi));
  CHECK(unary_range(Op::exp, {-110, -105}) == Interval{0, 0, false});
  CHECK(unary_range(Op::exp, {-103, -100}).lo > 0);
  CHECK(unary_range(Op::exp, {-103, -100}, DType::f64).lo > 0);
  // softmax over 8: unbounded logits give exactly [0, 1]; a width of 2 stays inside.
  Attrs ax;
  ax.axes = {0};
  CHECK(unary_range(Op::softmax, Interval::all(), DType::f32, ax) == Interval{0, 1, false});
  Interval sm = unary_range(Op::softmax, {-1, 1}, DType::f32, ax);
  CHECK(sm.lo > 0.01);
  CHECK(sm.hi < 0.6);
  CHECK(unary_range(Op::softmax, {-60, 60}, DType::f32, ax).lo == 0.0);  // e^-120 underflows
}

TEST_CASE("relu, log, sqrt, division: where the range reaches 0", "[range]") {
  CHECK(unary_range(Op::relu, {-1, 2}) == Interval{0, 2, false});
  CHECK(unary_range(Op::relu, {1, 2}) == Interval{1, 2, false});
  CHECK(unary_range(Op::log, {0, 1}).lo == -kInf);
  CHECK_FALSE(unary_range(Op::log, {0, 1}).nan);
  CHECK(unary_range(Op::log, {-1, 1}).nan);
  CHECK(unary_range(Op::log, {1, std::exp(1.0)}).hi == Approx(1.0));
  CHECK(unary_range(Op::sqrt, {0, 4}) == Interval{0, 2, false});
  CHECK(unary_range(Op::rsqrt, {0, 4}).hi == kInf);
  CHECK(unary_range(Op::softplus, Interval::all()).lo == 0.0);  // log1p(exp(x)) underflows
  CHECK(unary_range(Op::log_sigmoid, Interval::all()).hi == 0.0);
  CHECK(unary_range(Op::square, {-3, 2}) == Interval{0, 9, false});
  Interval q = binary_range(Op::div, {1, 2}, {-1, 1});
  CHECK(q.lo == -kInf);
  CHECK(q.hi == kInf);
  CHECK(binary_range(Op::div, {1, 2}, {0.5, 4}) == Interval{0.25, 4, false});
  CHECK(binary_range(Op::div, {0, 2}, {0, 4}).nan);  // 0 / 0
  CHECK(binary_range(Op::mul, {-2, 3}, {-1, 4}) == Interval{-8, 12, false});
  CHECK(binary_range(Op::sub, {0, 1}, {0, 1}) == Interval{-1, 1, false});
  CHECK(binary_range(Op::lt, Interval::all(), Interval::all()) == Interval{0, 1, false});
}

TEST_CASE("leaf ranges: inputs, normalize, params at initialisation, consts", "[range]") {
  Builder b;
  NodeId x = b.input("x", {4, 30}, DType::f32);
  NodeId xn = b.input("xn", {4, 30}, DType::f32);
  b.g[xn].attrs.normalize = true;
  NodeId xk = b.input("xk", {4, 30}, DType::f32);
  Init glorot{InitKind::glorot_uniform, 0, 0, {}}, normal{InitKind::normal, 1, 2, {}}, zeros{InitKind::zeros, 0, 0, {}};
  Init he{InitKind::he_normal, 0, 0, {}}, lit{InitKind::literal, 0, 0, {3, -1, 2}};
  NodeId w = b.leaf(Op::param, "w", {30, 128}, DType::f32, glorot);
  NodeId n = b.leaf(Op::param, "n", {30, 8}, DType::f32, normal);
  NodeId z = b.leaf(Op::param, "z", {8}, DType::f32, zeros);
  NodeId h = b.leaf(Op::param, "h", {30, 8}, DType::f32, he);
  NodeId c = b.leaf(Op::const_, "c", {3}, DType::f32, lit);
  NodeId m = b.op(Op::matmul, {xk, w});
  RangeOptions o;
  o.input_ranges["xk"] = {-1, 1, false};
  auto r = compute_ranges(b.g, o);
  CHECK(r[x] == Interval::all());
  CHECK(r[xn] == Interval{-10, 10, false});  // the documented default bound
  CHECK(r[xk] == Interval{-1, 1, false});
  double limit = std::sqrt(6.0 / 158.0);
  CHECK(r[w].hi == Approx(limit));
  CHECK(r[w].lo == Approx(-limit));
  CHECK(r[n] == Interval{-11, 13, false});  // mean 1 +- 6 std
  CHECK(r[z] == Interval{0, 0, false});
  CHECK(r[h].hi == Approx(6 * std::sqrt(2.0 / 30.0)));
  CHECK(r[c] == Interval{-1, 3, false});
  CHECK(r[m].hi == Approx(30 * limit).epsilon(1e-6));  // 30 products of |x| <= 1 and |w| <= limit
  o.params_at_init = false;
  auto t = compute_ranges(b.g, o);
  CHECK(t[w] == Interval::all());
  CHECK(t[c] == Interval{-1, 3, false});  // consts keep their value
  o.normalized_bound = 4;
  CHECK(compute_ranges(b.g, o)[xn] == Interval{-4, 4, false});
}

TEST_CASE("transfer functions are sound: the f32 interpreter stays inside the ranges", "[range]") {
  std::mt19937 rng(7);
  const Interval a{-3, 3, false}, pos{0.5, 2, false};
  auto sample = [&](const Interval& r, size_t n) {
    std::uniform_real_distribution<double> d(r.lo, r.hi);
    std::vector<double> v{r.lo, r.hi, 0.5 * (r.lo + r.hi)};
    while (v.size() < n) v.push_back(d(rng));
    return v;
  };
  auto run = [&](Op op, int arity, const Interval& ra, const Interval& rb) {
    Builder b;
    const size_t n = 64;
    NodeId x = b.input("x", {int64_t(n)}, DType::f32);
    NodeId y = b.input("y", {int64_t(n)}, DType::f32);
    Attrs at;
    at.alpha = op_row(op).surface.alpha > 0 ? op_row(op).surface.alpha : 0.1;  // the call's default
    if (arity == 1) b.op(op, {x}, at);
    else b.op(op, {x, y}, at);
    RangeOptions o;
    o.input_ranges["x"] = ra;
    o.input_ranges["y"] = rb;
    Interval r = compute_ranges(b.g, o).back();
    ValueMap leaves;
    Tensor tx(DType::f32, {int64_t(n)}), ty(DType::f32, {int64_t(n)});
    tx.data = sample(ra, n);
    ty.data = sample(rb, n);
    leaves["x"] = tx;
    leaves["y"] = ty;
    std::string err;
    auto vals = evaluate(b.g, leaves, Precision::f32, err);
    REQUIRE(vals);
    for (double v : vals->back().data) {
      INFO(op_name(op) << " -> " << v << " not in " << interval_str(r));
      if (std::isnan(v)) { CHECK(r.nan); continue; }
      double tol = 1e-6 * std::max(1.0, std::fabs(v));
      CHECK(v >= r.lo - tol);
      CHECK(v <= r.hi + tol);
    }
  };
  // Every elementwise op of the table (on negative operands too: log's rule must say NaN).
  int unary = 0, binary = 0;
  for (int i = 0; i < kNumOps; ++i) {
    Op op = Op(i);
    const OpRow& row = op_row(op);
    if (row.cls == OpClass::unary) {
      run(op, 1, a, a);
      run(op, 1, pos, pos);
      ++unary;
    } else if (row.cls == OpClass::binary || (row.cls == OpClass::loss && op != Op::softmax_cross_entropy)) {
      run(op, 2, op == Op::pow ? pos : a, pos);
      run(op, 2, a, a);
      ++binary;
    }
  }
  CHECK(unary >= 26);
  CHECK(binary >= 17);
  run(Op::bce, 2, Interval{0.01, 0.99, false}, Interval{0, 1, false});
  run(Op::bce_with_logits, 2, a, Interval{0, 1, false});
}

TEST_CASE("reductions, matmul and the softmax family are sound against the f32 interpreter", "[range]") {
  std::mt19937 rng(11);
  struct Case {
    Op op;
    Attrs attrs;
    bool two;  // second operand: a [6, 5] matrix (matmul) or labels (losses)
  };
  auto axes = [](std::vector<int64_t> a, bool keep = false) {
    Attrs at;
    at.axes = std::move(a);
    at.keepdims = keep;
    return at;
  };
  const std::vector<Case> cases = {
      {Op::sum, axes({}), false},          {Op::sum, axes({1}, true), false}, {Op::mean, axes({0}), false},
      {Op::max, axes({1}), false},         {Op::min, axes({}), false},        {Op::logsumexp, axes({1}), false},
      {Op::softmax, axes({1}), false},     {Op::log_softmax, axes({1}), false}, {Op::argmax, axes({1}), false},
      {Op::transpose, {}, false},          {Op::matmul, {}, true},             {Op::softmax_cross_entropy, {}, true},
  };
  for (const Case& k : cases) {
    INFO(op_name(k.op));
    for (const Interval& in : {Interval{-3, 3, false}, Interval{-60, 60, false}, Interval{0.5, 2, false}}) {
      Builder b;
      NodeId x = b.input("x", {4, 6}, DType::f32);
      NodeId y = k.op == Op::matmul ? b.input("y", {6, 5}, DType::f32) : b.input("y", {4, 6}, DType::f32);
      b.op(k.op, k.two ? std::vector<NodeId>{x, y} : std::vector<NodeId>{x}, k.attrs);
      RangeOptions o;
      o.input_ranges["x"] = in;
      o.input_ranges["y"] = k.op == Op::matmul ? in : Interval{0, 1, false};
      Interval r = compute_ranges(b.g, o).back();
      for (int trial = 0; trial < 20; ++trial) {
        ValueMap leaves;
        Tensor tx(DType::f32, {4, 6}), ty(DType::f32, b.g[y].shape);
        std::uniform_real_distribution<double> d(in.lo, in.hi);
        for (double& v : tx.data) v = trial == 0 ? in.lo : trial == 1 ? in.hi : d(rng);
        for (size_t i = 0; i < ty.size(); ++i)
          ty.data[i] = k.op == Op::matmul ? d(rng) : double(int64_t(i % 6) == int64_t(i / 6) % 6);  // one-hot rows
        leaves["x"] = tx;
        leaves["y"] = ty;
        std::string err;
        auto vals = evaluate(b.g, leaves, Precision::f32, err);
        REQUIRE(vals);
        for (double v : vals->back().data) {
          INFO(v << " not in " << interval_str(r) << " for inputs in " << interval_str(in));
          double tol = 1e-5 * std::max(1.0, std::fabs(v));
          CHECK(v >= r.lo - tol);
          CHECK(v <= r.hi + tol);
        }
      }
    }
  }
}
