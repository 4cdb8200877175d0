// Op-table rows for matrix multiplication, reductions and argmax, with their reference
// kernels and derivative rules.
#include "ir/grad_context.hpp"
#include "ir/ops/groups.hpp"
#include "ir/interval_rules.hpp"
#include "ir/ops/kernels.hpp"
#include "ir/ops/rules.hpp"
#include <cmath>
#include <limits>

namespace kiln::ops {

// NumPy's matmul for vectors and matrices: [m,k]@[k,n] -> [m,n]; [k]@[k,n] -> [n];
// [m,k]@[k] -> [m]; [k]@[k] -> scalar.
static bool matmul_rule(std::span<const ValueType> in, const Attrs& a, ValueType& out, std::string& err) {
  using rules::ty;
  if (!is_float(in[0].dtype) || in[0].dtype != in[1].dtype) {
    err = fmt::format("cannot multiply {} by {}: @ takes two floating-point operands of one element type", ty(in[0]),
                      ty(in[1]));
    return false;
  }
  const Shape &x = in[0].shape, &y = in[1].shape;
  if (x.empty() || y.empty() || x.size() > 2 || y.size() > 2) {
    err = fmt::format("cannot multiply {} by {}: @ takes vectors and matrices (rank 1 or 2)", ty(in[0]), ty(in[1]));
    return false;
  }
  int64_t kx = x.back(), ky = y[0];
  if (kx != ky) {
    err = fmt::format("cannot multiply {} by {}: inner dimensions {} and {} differ", ty(in[0]), ty(in[1]), kx, ky);
    return false;
  }
  out.dtype = in[0].dtype;
  out.shape.clear();
  if (x.size() == 2) out.shape.push_back(x[0]);
  if (y.size() == 2) out.shape.push_back(y[1]);
  return true;
}

namespace {
using kern::Ins;

// ---- reference kernels --------------------------------------------------------------------
// A vector operand is a [1,k] row on the left and a [k,1] column on the right; the result's
// row-major layout is the same in every case.
void eval_matmul(Ins in, const Node&, Tensor& o) {
  const Tensor &x = *in[0], &y = *in[1];
  int64_t m = x.shape.size() == 2 ? x.shape[0] : 1, k = x.shape.back();
  int64_t n = y.shape.size() == 2 ? y.shape[1] : 1;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t p = 0; p < k; ++p) s += x.data[i * k + p] * y.data[p * n + j];
      o.data[i * n + j] = s;
    }
}

enum class Red { sum, mean, max, min, logsumexp };
template <Red R>
void eval_reduce(Ins in, const Node& n, Tensor& o) {
  const Tensor& x = *in[0];
  auto map = kern::reduce_map(x.shape, kern::axes_of(n.attrs, x.shape.size()));
  constexpr double inf = std::numeric_limits<double>::infinity();
  double init = R == Red::max || R == Red::logsumexp ? -inf : R == Red::min ? inf : 0.0;
  std::fill(o.data.begin(), o.data.end(), init);
  for (size_t i = 0; i < x.data.size(); ++i) {
    double& r = o.data[map[i]];
    double v = x.data[i];
    if constexpr (R == Red::sum || R == Red::mean) r += v;
    else if constexpr (R == Red::min) r = std::min(r, v);
    else r = std::max(r, v);
  }
  if constexpr (R == Red::mean) {
    double count = double(x.data.size()) / double(std::max<size_t>(o.data.size(), 1));
    for (double& r : o.data) r /= count;
  }
  if constexpr (R == Red::logsumexp) {  // max + log(sum(exp(x - max)))
    std::vector<double> s(o.data.size(), 0.0);
    for (size_t i = 0; i < x.data.size(); ++i) {
      double m = o.data[map[i]];
      if (std::isfinite(m)) s[map[i]] += std::exp(x.data[i] - m);
    }
    for (size_t j = 0; j < s.size(); ++j)
      if (std::isfinite(o.data[j])) o.data[j] += std::log(s[j]);
  }
}

void eval_argmax(Ins in, const Node& n, Tensor& o) {  // the first maximum wins
  const Tensor& x = *in[0];
  auto sp = kern::split_axis(x.shape, kern::single_axis(n.attrs, x.shape.size()));
  for (int64_t a = 0; a < sp.outer; ++a)
    for (int64_t i = 0; i < sp.inner; ++i) {
      int64_t best = 0;
      for (int64_t k = 1; k < sp.len; ++k)
        if (x.data[sp.at(a, k, i)] > x.data[sp.at(a, best, i)]) best = k;
      o.data[a * sp.inner + i] = double(best);
    }
}

// ---- derivative rules ---------------------------------------------------------------------
NodeId transpose(GradContext& c, NodeId x) { return c.make(Op::transpose, {x}); }

void grad_matmul(GradContext& c) {
  NodeId a = c.in(0), b = c.in(1), g = c.gout;
  size_t ra = c.input(0).shape.size(), rb = c.input(1).shape.size();
  Shape sa = c.input(0).shape, sb = c.input(1).shape;
  if (ra == 2 && rb == 2) {  // [m,k]@[k,n]: dA = G B^T, dB = A^T G
    if (c.wants(0)) c.add_grad(0, c.make(Op::matmul, {g, transpose(c, b)}));
    if (c.wants(1)) c.add_grad(1, c.make(Op::matmul, {transpose(c, a), g}));
  } else if (ra == 1 && rb == 2) {  // [k]@[k,n] -> [n]: dA = B G, dB = outer(A, G)
    if (c.wants(0)) c.add_grad(0, c.make(Op::matmul, {b, g}));
    if (c.wants(1))
      c.add_grad(1, c.make(Op::matmul, {c.reshape(a, {sa[0], 1}), c.reshape(g, {1, sb[1]})}));
  } else if (ra == 2 && rb == 1) {  // [m,k]@[k] -> [m]: dA = outer(G, B), dB = A^T G
    if (c.wants(0))
      c.add_grad(0, c.make(Op::matmul, {c.reshape(g, {sa[0], 1}), c.reshape(b, {1, sb[0]})}));
    if (c.wants(1)) c.add_grad(1, c.make(Op::matmul, {transpose(c, a), g}));
  } else {  // [k]@[k] -> scalar: dA = B g, dB = A g
    if (c.wants(0)) c.add_grad(0, c.mul(b, g));
    if (c.wants(1)) c.add_grad(1, c.mul(a, g));
  }
}

void grad_sum(GradContext& c) {
  Shape s = c.input(0).shape;
  if (c.wants(0)) c.add_grad(0, c.expand_reduced(c.gout, s, kern::axes_of(c.node().attrs, s.size())));
}

void grad_mean(GradContext& c) {
  Shape s = c.input(0).shape;
  double count = double(num_elements(s)) / double(num_elements(c.node().shape));
  NodeId g = c.expand_reduced(c.gout, s, kern::axes_of(c.node().attrs, s.size()));
  if (c.wants(0)) c.add_grad(0, c.mul(g, 1.0 / count));
}

// max/min: the gradient goes to the extremal elements; ties share it evenly (mask / count).
void grad_extremum(GradContext& c) {
  if (!c.wants(0)) return;
  NodeId x = c.in(0);
  Shape s = c.input(0).shape;
  auto axes = kern::axes_of(c.node().attrs, s.size());
  NodeId mask = c.make(Op::eq, {x, c.expand_reduced(c.id, s, axes)});
  NodeId share = c.div(mask, c.sum_keep(mask, axes));
  c.add_grad(0, c.mul(share, c.expand_reduced(c.gout, s, axes)));
}

void grad_logsumexp(GradContext& c) {  // g * exp(x - lse) = g * softmax over the axes
  if (!c.wants(0)) return;
  NodeId x = c.in(0);
  Shape s = c.input(0).shape;
  auto axes = kern::axes_of(c.node().attrs, s.size());
  NodeId p = c.unary(Op::exp, c.sub(x, c.expand_reduced(c.id, s, axes)));
  c.add_grad(0, c.mul(p, c.expand_reduced(c.gout, s, axes)));
}

}  // namespace

std::vector<OpRow> linalg_rows() {
  using C = OpClass;
  using namespace rules;
  return {
      {Op::matmul, "matmul", 2, C::matmul, 0, false, matmul_rule, eval_matmul, grad_matmul, interval::matmul, surface::infix("@")},
      {Op::sum, "sum", 1, C::reduce, kAxes | kKeepdims, false, reduce, eval_reduce<Red::sum>, grad_sum, interval::sum, surface::reduce()},
      {Op::mean, "mean", 1, C::reduce, kAxes | kKeepdims, false, reduce, eval_reduce<Red::mean>, grad_mean, interval::identity, surface::reduce()},
      {Op::max, "max", 1, C::reduce, kAxes | kKeepdims, false, reduce, eval_reduce<Red::max>, grad_extremum, interval::identity, surface::reduce()},
      {Op::min, "min", 1, C::reduce, kAxes | kKeepdims, false, reduce, eval_reduce<Red::min>, grad_extremum, interval::identity, surface::reduce()},
      {Op::logsumexp, "logsumexp", 1, C::reduce, kAxes | kKeepdims, false, reduce, eval_reduce<Red::logsumexp>,
       grad_logsumexp, interval::logsumexp, surface::reduce()},
      {Op::argmax, "argmax", 1, C::reduce, kAxes, true, rules::argmax, eval_argmax, nullptr, interval::argmax, surface::argmax()},
  };
}

}  // namespace kiln::ops
