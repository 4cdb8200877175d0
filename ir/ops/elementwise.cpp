// Op-table rows for elementwise ops: unary, binary (broadcasting) and ternary, with their
// reference kernels and derivative rules (choices at kinks: docs/autodiff.md).
#include "ir/grad_context.hpp"
#include "ir/ops/groups.hpp"
#include "ir/interval_rules.hpp"
#include "ir/ops/kernels.hpp"
#include "ir/ops/rules.hpp"
#include <algorithm>
#include <cmath>

namespace kiln::ops {
namespace {
using kern::Ins;
constexpr double kSqrt2 = 1.4142135623730951;
constexpr double kInvSqrt2Pi = 0.3989422804014327;

// ---- reference kernels --------------------------------------------------------------------
template <double (*F)(double)>
void eval1(Ins in, const Node&, Tensor& o) { kern::map1(in, o, F); }
template <double (*F)(double, double)>
void eval2(Ins in, const Node&, Tensor& o) { kern::map2(in, o, F); }

double f_neg(double x) { return -x; }
double f_exp(double x) { return std::exp(x); }
double f_log(double x) { return std::log(x); }
double f_log1p(double x) { return std::log1p(x); }
double f_expm1(double x) { return std::expm1(x); }
double f_sqrt(double x) { return std::sqrt(x); }
double f_rsqrt(double x) { return 1.0 / std::sqrt(x); }
double f_square(double x) { return x * x; }
double f_abs(double x) { return std::fabs(x); }
double f_sign(double x) { return double(x > 0) - double(x < 0); }  // sign(0) = 0
double f_sin(double x) { return std::sin(x); }
double f_cos(double x) { return std::cos(x); }
double f_tanh(double x) { return std::tanh(x); }
double f_sigmoid(double x) { return kern::sigmoid(x); }
double f_relu(double x) { return x > 0 ? x : 0.0; }
double f_gelu(double x) { return 0.5 * x * (1.0 + std::erf(x / kSqrt2)); }  // exact (erf) form
double f_gelu_grad(double x) { return 0.5 * (1.0 + std::erf(x / kSqrt2)) + x * kInvSqrt2Pi * std::exp(-0.5 * x * x); }
double f_silu(double x) { return x * kern::sigmoid(x); }
double f_softplus(double x) { return kern::softplus(x); }
double f_log_sigmoid(double x) { return -kern::softplus(-x); }
double f_softsign(double x) { return x / (1.0 + std::fabs(x)); }  // NaN at +-inf, as PyTorch
double f_hard_sigmoid(double x) { return std::min(std::max(x + 3.0, 0.0), 6.0) / 6.0; }  // relu6(x + 3) / 6
double f_round(double x) { return std::nearbyint(x); }  // half to even (default rounding mode)
double f_floor(double x) { return std::floor(x); }
double f_ceil(double x) { return std::ceil(x); }
double f_id(double x) { return x; }

void eval_leaky_relu(Ins in, const Node& n, Tensor& o) {
  double a = n.attrs.alpha;
  kern::map1(in, o, [a](double x) { return x > 0 ? x : a * x; });
}
void eval_elu(Ins in, const Node& n, Tensor& o) {
  double a = n.attrs.alpha;
  kern::map1(in, o, [a](double x) { return x > 0 ? x : a * std::expm1(x); });
}

double f_add(double a, double b) { return a + b; }
double f_sub(double a, double b) { return a - b; }
double f_mul(double a, double b) { return a * b; }
double f_div(double a, double b) { return a / b; }
double f_pow(double a, double b) { return std::pow(a, b); }
double f_minimum(double a, double b) { return std::min(a, b); }
double f_maximum(double a, double b) { return std::max(a, b); }
double f_lt(double a, double b) { return a < b; }
double f_le(double a, double b) { return a <= b; }
double f_gt(double a, double b) { return a > b; }
double f_ge(double a, double b) { return a >= b; }
double f_eq(double a, double b) { return a == b; }
double f_ne(double a, double b) { return a != b; }

void eval_clip(Ins in, const Node&, Tensor& o) {
  kern::map3(in, o, [](double x, double lo, double hi) { return std::min(std::max(x, lo), hi); });
}
void eval_where(Ins in, const Node&, Tensor& o) {
  kern::map3(in, o, [](double c, double a, double b) { return c != 0 ? a : b; });
}

// ---- derivative rules ---------------------------------------------------------------------
// Where two operands of one call build nodes, they are built in statements of their own,
// the last operand first: C++ leaves the order of a call's arguments unspecified (GCC
// builds the last first, clang the first), and the graph's node numbers, and so every
// dump, would depend on the compiler.
// Unary rules whose derivative is gout * d(x, y) for x the operand and y the output.
template <NodeId (*D)(GradContext&, NodeId x, NodeId y)>
void grad1(GradContext& c) {
  if (c.wants(0)) c.add_grad(0, c.mul(c.gout, D(c, c.in(0), c.id)));
}
NodeId d_exp(GradContext&, NodeId, NodeId y) { return y; }
NodeId d_log1p(GradContext& c, NodeId x, NodeId) {
  NodeId x1 = c.add(x, c.scalar(1));
  return c.div(c.scalar(1), x1);
}
NodeId d_expm1(GradContext& c, NodeId, NodeId y) { return c.add(y, c.scalar(1)); }
NodeId d_rsqrt(GradContext& c, NodeId x, NodeId y) { return c.div(c.mul(y, -0.5), x); }
NodeId d_square(GradContext& c, NodeId x, NodeId) { return c.mul(x, 2.0); }
NodeId d_abs(GradContext& c, NodeId x, NodeId) { return c.unary(Op::sign, x); }  // abs'(0) = 0
NodeId d_sin(GradContext& c, NodeId x, NodeId) { return c.unary(Op::cos, x); }
NodeId d_cos(GradContext& c, NodeId x, NodeId) { return c.neg(c.unary(Op::sin, x)); }
NodeId d_tanh(GradContext& c, NodeId, NodeId y) {
  NodeId y2 = c.unary(Op::square, y);
  return c.sub(c.scalar(1), y2);
}
NodeId d_sigmoid(GradContext& c, NodeId, NodeId y) { return c.mul(y, c.sub(c.scalar(1), y)); }
NodeId d_relu(GradContext& c, NodeId x, NodeId) { return c.make(Op::gt, {x, c.scalar(0)}); }  // relu'(0) = 0
NodeId d_leaky_relu(GradContext& c, NodeId x, NodeId) {
  double a = c.node().attrs.alpha;
  return c.make(Op::where, {c.make(Op::gt, {x, c.scalar(0)}), c.scalar(1), c.scalar(a)});
}
NodeId d_elu(GradContext& c, NodeId x, NodeId y) {
  double a = c.node().attrs.alpha;  // x <= 0: alpha*e^x = y + alpha
  return c.make(Op::where, {c.make(Op::gt, {x, c.scalar(0)}), c.scalar(1), c.add(y, c.scalar(a))});
}
NodeId d_gelu(GradContext& c, NodeId x, NodeId) { return c.unary(Op::gelu_grad, x); }
NodeId d_gelu_grad(GradContext& c, NodeId x, NodeId) {  // phi(x) * (2 - x^2)
  NodeId x2 = c.unary(Op::square, x);
  NodeId phi = c.mul(c.unary(Op::exp, c.mul(x2, -0.5)), kInvSqrt2Pi);
  return c.mul(phi, c.sub(c.scalar(2), x2));
}
NodeId d_silu(GradContext& c, NodeId x, NodeId) {  // s * (1 + x * (1 - s))
  NodeId s = c.unary(Op::sigmoid, x);
  NodeId xs = c.mul(x, c.sub(c.scalar(1), s));
  return c.mul(s, c.add(c.scalar(1), xs));
}
NodeId d_softplus(GradContext& c, NodeId x, NodeId) { return c.unary(Op::sigmoid, x); }
NodeId d_log_sigmoid(GradContext& c, NodeId x, NodeId) { return c.unary(Op::sigmoid, c.neg(x)); }
NodeId d_softsign(GradContext& c, NodeId x, NodeId) {  // 1 / (1 + |x|)^2
  NodeId one = c.scalar(1);
  NodeId ax = c.unary(Op::abs, x);
  NodeId den = c.unary(Op::square, c.add(ax, one));
  return c.div(c.scalar(1), den);
}
NodeId d_hard_sigmoid(GradContext& c, NodeId x, NodeId) {  // 1/6 on (-3, 3); 0 outside and at +-3 (PyTorch)
  NodeId below = c.make(Op::lt, {x, c.scalar(3)});
  NodeId above = c.make(Op::gt, {x, c.scalar(-3)});
  return c.mul(c.mul(above, below), 1.0 / 6);
}

void grad_neg(GradContext& c) {
  if (c.wants(0)) c.add_grad(0, c.neg(c.gout));
}
void grad_log(GradContext& c) {
  if (c.wants(0)) c.add_grad(0, c.div(c.gout, c.in(0)));
}
void grad_sqrt(GradContext& c) {
  if (c.wants(0)) c.add_grad(0, c.div(c.gout, c.mul(c.id, 2.0)));
}

void grad_add(GradContext& c) {
  for (int i = 0; i < 2; ++i)
    if (c.wants(i)) c.add_grad(i, c.gout);
}
void grad_sub(GradContext& c) {
  if (c.wants(0)) c.add_grad(0, c.gout);
  if (c.wants(1)) c.add_grad(1, c.neg(c.gout));
}
void grad_mul(GradContext& c) {
  NodeId a = c.in(0), b = c.in(1);
  if (c.wants(0)) c.add_grad(0, c.mul(c.gout, b));
  if (c.wants(1)) c.add_grad(1, c.mul(c.gout, a));
}
void grad_div(GradContext& c) {  // d/db (a/b) = -(a/b)/b
  NodeId b = c.in(1);
  if (c.wants(0)) c.add_grad(0, c.div(c.gout, b));
  if (c.wants(1)) c.add_grad(1, c.neg(c.div(c.mul(c.gout, c.id), b)));
}
void grad_pow(GradContext& c) {  // d/da = b a^(b-1); d/db = a^b log(a) (meaningful for a > 0)
  NodeId a = c.in(0), b = c.in(1);
  if (c.wants(0)) c.add_grad(0, c.mul(c.gout, c.mul(b, c.make(Op::pow, {a, c.sub(b, c.scalar(1))}))));
  if (c.wants(1)) c.add_grad(1, c.mul(c.gout, c.mul(c.id, c.unary(Op::log, a))));
}
// maximum/minimum: the larger (smaller) operand takes the gradient; ties split it 1/2 : 1/2.
template <Op Wins>
void grad_extremum(GradContext& c) {
  NodeId a = c.in(0), b = c.in(1);
  NodeId half_ties = c.mul(c.make(Op::eq, {a, b}), 0.5);
  NodeId share_a = c.add(c.make(Wins, {a, b}), half_ties);
  if (c.wants(0)) c.add_grad(0, c.mul(c.gout, share_a));
  if (c.wants(1)) c.add_grad(1, c.mul(c.gout, c.sub(c.scalar(1), share_a)));
}
// clip(x, lo, hi): x takes the gradient where lo <= x <= hi, lo where x < lo, hi where x > hi.
void grad_clip(GradContext& c) {
  NodeId x = c.in(0), lo = c.in(1), hi = c.in(2);
  if (c.wants(0)) {
    NodeId below_hi = c.make(Op::le, {x, hi});
    c.add_grad(0, c.mul(c.gout, c.mul(c.make(Op::ge, {x, lo}), below_hi)));
  }
  if (c.wants(1)) c.add_grad(1, c.mul(c.gout, c.make(Op::lt, {x, lo})));
  if (c.wants(2)) c.add_grad(2, c.mul(c.gout, c.make(Op::gt, {x, hi})));
}
void grad_where(GradContext& c) {  // no gradient to the condition
  NodeId cond = c.in(0);
  if (c.wants(1)) c.add_grad(1, c.make(Op::where, {cond, c.gout, c.scalar(0)}));
  if (c.wants(2)) c.add_grad(2, c.make(Op::where, {cond, c.scalar(0), c.gout}));
}

}  // namespace

std::vector<OpRow> elementwise_rows() {
  using C = OpClass;
  using namespace rules;
  return {
      {Op::neg, "neg", 1, C::unary, 0, false, unary_float, eval1<f_neg>, grad_neg, interval::neg, surface::prefix("-")},
      {Op::exp, "exp", 1, C::unary, 0, false, unary_float, eval1<f_exp>, grad1<d_exp>, interval::exp, surface::unary()},
      {Op::log, "log", 1, C::unary, 0, false, unary_float, eval1<f_log>, grad_log, interval::log, surface::unary()},
      {Op::log1p, "log1p", 1, C::unary, 0, false, unary_float, eval1<f_log1p>, grad1<d_log1p>, interval::log1p, surface::unary()},
      {Op::expm1, "expm1", 1, C::unary, 0, false, unary_float, eval1<f_expm1>, grad1<d_expm1>, interval::expm1, surface::unary()},
      {Op::sqrt, "sqrt", 1, C::unary, 0, false, unary_float, eval1<f_sqrt>, grad_sqrt, interval::sqrt, surface::unary()},
      {Op::rsqrt, "rsqrt", 1, C::unary, 0, false, unary_float, eval1<f_rsqrt>, grad1<d_rsqrt>, interval::rsqrt, surface::unary()},
      {Op::square, "square", 1, C::unary, 0, false, unary_float, eval1<f_square>, grad1<d_square>, interval::square, surface::unary()},
      {Op::abs, "abs", 1, C::unary, 0, false, unary_float, eval1<f_abs>, grad1<d_abs>, interval::abs, surface::unary()},
      {Op::sign, "sign", 1, C::unary, 0, true, unary_float, eval1<f_sign>, nullptr, interval::increasing<f_sign>, surface::unary()},
      {Op::sin, "sin", 1, C::unary, 0, false, unary_float, eval1<f_sin>, grad1<d_sin>, interval::sin_cos, surface::unary()},
      {Op::cos, "cos", 1, C::unary, 0, false, unary_float, eval1<f_cos>, grad1<d_cos>, interval::sin_cos, surface::unary()},
      {Op::tanh, "tanh", 1, C::unary, 0, false, unary_float, eval1<f_tanh>, grad1<d_tanh>, interval::tanh, surface::unary(),
       activation::saturating(1.0, "1, and near 0 once saturated")},
      {Op::sigmoid, "sigmoid", 1, C::unary, 0, false, unary_float, eval1<f_sigmoid>, grad1<d_sigmoid>, interval::sigmoid, surface::unary(),
       activation::saturating(0.25, "1/4")},
      {Op::relu, "relu", 1, C::unary, 0, false, unary_float, eval1<f_relu>, grad1<d_relu>, interval::increasing<f_relu>, surface::unary(),
       activation::rectifier()},
      {Op::leaky_relu, "leaky_relu", 1, C::unary, kAlpha, false, unary_float, eval_leaky_relu, grad1<d_leaky_relu>, interval::leaky_relu, surface::alpha(0.01),
       activation::rectifier()},
      {Op::elu, "elu", 1, C::unary, kAlpha, false, unary_float, eval_elu, grad1<d_elu>, interval::elu, surface::alpha(1.0),
       activation::rectifier()},
      {Op::gelu, "gelu", 1, C::unary, 0, false, unary_float, eval1<f_gelu>, grad1<d_gelu>, interval::gelu, surface::unary(),
       activation::rectifier()},
      {Op::silu, "silu", 1, C::unary, 0, false, unary_float, eval1<f_silu>, grad1<d_silu>, interval::silu, surface::unary(),
       activation::rectifier()},
      {Op::softplus, "softplus", 1, C::unary, 0, false, unary_float, eval1<f_softplus>, grad1<d_softplus>, interval::softplus, surface::unary()},
      {Op::log_sigmoid, "log_sigmoid", 1, C::unary, 0, false, unary_float, eval1<f_log_sigmoid>, grad1<d_log_sigmoid>, interval::log_sigmoid, surface::unary()},
      {Op::softsign, "softsign", 1, C::unary, 0, false, unary_float, eval1<f_softsign>, grad1<d_softsign>, interval::increasing<f_softsign>, surface::unary(),
       activation::saturating(1.0, "1, and 1/(1 + |x|)^2 away from 0")},
      {Op::hard_sigmoid, "hard_sigmoid", 1, C::unary, 0, false, unary_float, eval1<f_hard_sigmoid>, grad1<d_hard_sigmoid>, interval::increasing<f_hard_sigmoid>, surface::unary(),
       activation::saturating(1.0 / 6, "1/6, and 0 outside (-3, 3)")},
      {Op::round, "round", 1, C::unary, 0, true, unary_float, eval1<f_round>, nullptr, interval::increasing<f_round>, surface::unary()},
      {Op::floor, "floor", 1, C::unary, 0, true, unary_float, eval1<f_floor>, nullptr, interval::increasing<f_floor>, surface::unary()},
      {Op::ceil, "ceil", 1, C::unary, 0, true, unary_float, eval1<f_ceil>, nullptr, interval::increasing<f_ceil>, surface::unary()},
      {Op::stop_gradient, "stop_gradient", 1, C::unary, 0, true, unary_any, eval1<f_id>, nullptr, interval::identity, surface::unary()},
      {Op::gelu_grad, "gelu_grad", 1, C::unary, 0, false, unary_float, eval1<f_gelu_grad>, grad1<d_gelu_grad>, interval::gelu_grad, surface::internal()},

      {Op::add, "add", 2, C::binary, 0, false, broadcast_float, eval2<f_add>, grad_add, interval::add, surface::infix("+")},
      {Op::sub, "sub", 2, C::binary, 0, false, broadcast_float, eval2<f_sub>, grad_sub, interval::sub, surface::infix("-")},
      {Op::mul, "mul", 2, C::binary, 0, false, broadcast_float, eval2<f_mul>, grad_mul, interval::mul, surface::infix("*")},
      {Op::div, "div", 2, C::binary, 0, false, broadcast_float, eval2<f_div>, grad_div, interval::div, surface::infix("/")},
      {Op::pow, "pow", 2, C::binary, 0, false, broadcast_float, eval2<f_pow>, grad_pow, interval::pow, surface::infix("^")},
      {Op::minimum, "minimum", 2, C::binary, 0, false, broadcast_float, eval2<f_minimum>, grad_extremum<Op::lt>, interval::minimum, surface::binary("a", "b")},
      {Op::maximum, "maximum", 2, C::binary, 0, false, broadcast_float, eval2<f_maximum>, grad_extremum<Op::gt>, interval::maximum, surface::binary("a", "b")},
      {Op::lt, "lt", 2, C::binary, 0, true, compare, eval2<f_lt>, nullptr, interval::compare, surface::infix("<")},
      {Op::le, "le", 2, C::binary, 0, true, compare, eval2<f_le>, nullptr, interval::compare, surface::infix("<=")},
      {Op::gt, "gt", 2, C::binary, 0, true, compare, eval2<f_gt>, nullptr, interval::compare, surface::infix(">")},
      {Op::ge, "ge", 2, C::binary, 0, true, compare, eval2<f_ge>, nullptr, interval::compare, surface::infix(">=")},
      {Op::eq, "eq", 2, C::binary, 0, true, compare, eval2<f_eq>, nullptr, interval::compare, surface::infix("==")},
      {Op::ne, "ne", 2, C::binary, 0, true, compare, eval2<f_ne>, nullptr, interval::compare, surface::infix("!=")},

      {Op::clip, "clip", 3, C::ternary, 0, false, broadcast_float, eval_clip, grad_clip, interval::clip, surface::ternary("x", "lo", "hi")},
      {Op::where, "where", 3, C::ternary, 0, false, rules::where, eval_where, grad_where, interval::where, surface::ternary("cond", "a", "b")},
  };
}

}  // namespace kiln::ops
