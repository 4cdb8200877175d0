// Op-table rows for the softmax family and the per-example losses, with their reference
// kernels (stable forms) and derivative rules.
#include "ir/grad_context.hpp"
#include "ir/ops/groups.hpp"
#include "ir/interval_rules.hpp"
#include "ir/ops/kernels.hpp"
#include "ir/ops/rules.hpp"
#include <cmath>
#include <limits>

namespace kiln::ops {
using rules::ty;

// softmax_cross_entropy(logits [..., C], labels): labels are one-hot/probabilities of the
// logits' type and shape, or i32 class indices of shape [...]; the result has shape [...].
static bool sce_rule(std::span<const ValueType> in, const Attrs&, ValueType& out, std::string& err) {
  const ValueType &z = in[0], &y = in[1];
  if (!is_float(z.dtype) || z.shape.empty()) {
    err = fmt::format("softmax_cross_entropy takes logits of rank 1 or more, got {}", ty(z));
    return false;
  }
  Shape batch(z.shape.begin(), z.shape.end() - 1);
  if (y.dtype == DType::i32) {
    if (y.shape != batch) {
      err = fmt::format("class labels {} do not match logits {}: expected i32{}", ty(y), ty(z), shape_str(batch));
      return false;
    }
  } else if (y.dtype != z.dtype || y.shape != z.shape) {
    err = fmt::format("one-hot labels {} do not match logits {}: expected {} (or i32{} class indices)", ty(y), ty(z),
                      ty(z), shape_str(batch));
    return false;
  }
  out = {z.dtype, batch};
  return true;
}

namespace {
using kern::Ins;

// ---- reference kernels --------------------------------------------------------------------
// Row maximum and log-sum-exp of x along an axis at (a, ., i), the stable way.
double row_lse(const Tensor& x, const kern::AxisSplit& sp, int64_t a, int64_t i, double* max_out = nullptr) {
  double m = -std::numeric_limits<double>::infinity();
  for (int64_t k = 0; k < sp.len; ++k) m = std::max(m, x.data[sp.at(a, k, i)]);
  double s = 0;
  for (int64_t k = 0; k < sp.len; ++k) s += std::exp(x.data[sp.at(a, k, i)] - m);
  if (max_out) *max_out = m;
  return m + std::log(s);
}

template <bool Log>
void eval_softmax(Ins in, const Node& n, Tensor& o) {
  const Tensor& x = *in[0];
  auto sp = kern::split_axis(x.shape, kern::single_axis(n.attrs, x.shape.size()));
  for (int64_t a = 0; a < sp.outer; ++a)
    for (int64_t i = 0; i < sp.inner; ++i) {
      double lse = row_lse(x, sp, a, i);
      for (int64_t k = 0; k < sp.len; ++k) {
        double ls = x.data[sp.at(a, k, i)] - lse;
        o.data[sp.at(a, k, i)] = Log ? ls : std::exp(ls);
      }
    }
}

void eval_bce(Ins in, const Node&, Tensor& o) {  // logs clamped at -100, as PyTorch's BCELoss
  kern::map2(in, o, [](double p, double y) { return -(y * kern::clamped_log(p) + (1 - y) * kern::clamped_log(1 - p)); });
}
void eval_bce_with_logits(Ins in, const Node&, Tensor& o) {
  kern::map2(in, o, [](double z, double y) { return std::max(z, 0.0) - z * y + std::log1p(std::exp(-std::fabs(z))); });
}
void eval_squared_error(Ins in, const Node&, Tensor& o) {
  kern::map2(in, o, [](double a, double b) { return (a - b) * (a - b); });
}
void eval_huber(Ins in, const Node& n, Tensor& o) {
  double delta = n.attrs.alpha;
  kern::map2(in, o, [delta](double a, double b) {
    double d = std::fabs(a - b);
    return d <= delta ? 0.5 * d * d : delta * (d - 0.5 * delta);
  });
}

// -sum(labels * log_softmax(z)) over the last axis, or -log_softmax(z)[label] for i32 labels
// (a label outside [0, C) gives NaN; the runtime validates labels beforehand).
void eval_sce(Ins in, const Node&, Tensor& o) {
  const Tensor &z = *in[0], &y = *in[1];
  auto sp = kern::split_axis(z.shape, int64_t(z.shape.size()) - 1);
  bool classes = y.dtype == DType::i32;
  for (int64_t a = 0; a < sp.outer; ++a) {
    double lse = row_lse(z, sp, a, 0);
    if (classes) {
      double v = y.data[a];
      o.data[a] = v >= 0 && v < double(sp.len) ? lse - z.data[sp.at(a, int64_t(v), 0)]
                                               : std::numeric_limits<double>::quiet_NaN();
    } else {
      double s = 0;
      for (int64_t k = 0; k < sp.len; ++k) s -= y.data[sp.at(a, k, 0)] * (z.data[sp.at(a, k, 0)] - lse);
      o.data[a] = s;
    }
  }
}

// ---- derivative rules ---------------------------------------------------------------------
// Where two operands of one call build nodes, they are built in statements of their own,
// the last operand first, as in ir/ops/elementwise.cpp (node numbers must not depend on the
// compiler's order of a call's arguments).
void grad_softmax(GradContext& c) {  // y * (g - sum(g * y))
  if (!c.wants(0)) return;
  int64_t axis = kern::single_axis(c.node().attrs, c.node().shape.size());
  NodeId y = c.id;
  c.add_grad(0, c.mul(y, c.sub(c.gout, c.sum_keep(c.mul(c.gout, y), {axis}))));
}
void grad_log_softmax(GradContext& c) {  // g - exp(y) * sum(g)
  if (!c.wants(0)) return;
  int64_t axis = kern::single_axis(c.node().attrs, c.node().shape.size());
  NodeId total = c.sum_keep(c.gout, {axis});
  c.add_grad(0, c.sub(c.gout, c.mul(c.unary(Op::exp, c.id), total)));
}
void grad_bce(GradContext& c) {  // d/dp = (p - y) / (p (1 - p)); d/dy = log(1 - p) - log(p)
  NodeId p = c.in(0), y = c.in(1);
  NodeId q = c.sub(c.scalar(1), p);
  if (c.wants(0)) {
    NodeId pq = c.mul(p, q);
    c.add_grad(0, c.mul(c.gout, c.div(c.sub(p, y), pq)));
  }
  if (c.wants(1)) {
    NodeId log_p = c.unary(Op::log, p);
    c.add_grad(1, c.mul(c.gout, c.sub(c.unary(Op::log, q), log_p)));
  }
}
void grad_bce_with_logits(GradContext& c) {  // d/dz = sigmoid(z) - y; d/dy = -z
  NodeId z = c.in(0), y = c.in(1);
  if (c.wants(0)) c.add_grad(0, c.mul(c.gout, c.sub(c.unary(Op::sigmoid, z), y)));
  if (c.wants(1)) c.add_grad(1, c.neg(c.mul(c.gout, z)));
}
// d/dz = softmax(z) * sum(labels) - labels (one-hot labels sum to 1); d/dlabels = -log_softmax(z).
// i32 class labels get no gradient.
void grad_sce(GradContext& c) {
  NodeId z = c.in(0), y = c.in(1);
  Shape zs = c.input(0).shape, gs = c.node().shape;
  bool classes = c.input(1).dtype == DType::i32;
  int64_t last = int64_t(zs.size()) - 1;
  gs.push_back(1);
  NodeId g = c.reshape(c.gout, gs);
  Attrs ax;
  ax.axes = {last};
  if (c.wants(0)) {
    NodeId sm = c.make(Op::softmax, {z}, ax), target;
    if (classes) {
      Attrs oh;
      oh.n = zs.back();
      target = c.make(Op::where, {c.make(Op::one_hot, {y}, oh), c.scalar(1), c.scalar(0)});  // in z's dtype
    } else {
      sm = c.mul(sm, c.sum_keep(y, {last}));
      target = y;
    }
    c.add_grad(0, c.mul(g, c.sub(sm, target)));
  }
  if (!classes && c.wants(1)) c.add_grad(1, c.neg(c.mul(g, c.make(Op::log_softmax, {z}, ax))));
}
void grad_squared_error(GradContext& c) {  // d/da = 2 (a - b) = -d/db
  NodeId d = c.mul(c.mul(c.gout, c.sub(c.in(0), c.in(1))), 2.0);
  if (c.wants(0)) c.add_grad(0, d);
  if (c.wants(1)) c.add_grad(1, c.neg(d));
}
void grad_huber(GradContext& c) {  // d/da = clip(a - b, -delta, delta) = -d/db
  double delta = c.node().attrs.alpha;
  NodeId d = c.mul(c.gout, c.make(Op::clip, {c.sub(c.in(0), c.in(1)), c.scalar(-delta), c.scalar(delta)}));
  if (c.wants(0)) c.add_grad(0, d);
  if (c.wants(1)) c.add_grad(1, c.neg(d));
}

}  // namespace

std::vector<OpRow> nn_rows() {
  using C = OpClass;
  using namespace rules;
  return {
      {Op::softmax, "softmax", 1, C::nn, kAxes, false, along_axis, eval_softmax<false>, grad_softmax, interval::softmax, surface::softmax()},
      {Op::log_softmax, "log_softmax", 1, C::nn, kAxes, false, along_axis, eval_softmax<true>, grad_log_softmax, interval::log_softmax, surface::softmax()},
      {Op::bce, "bce", 2, C::loss, 0, false, broadcast_float, eval_bce, grad_bce, interval::bce, surface::loss("p", "y")},
      {Op::bce_with_logits, "bce_with_logits", 2, C::loss, 0, false, broadcast_float, eval_bce_with_logits,
       grad_bce_with_logits, interval::bce_with_logits, surface::loss("z", "y")},
      {Op::softmax_cross_entropy, "softmax_cross_entropy", 2, C::loss, 0, false, sce_rule, eval_sce, grad_sce, interval::softmax_cross_entropy, surface::loss("logits", "labels")},
      {Op::squared_error, "squared_error", 2, C::loss, 0, false, broadcast_float, eval_squared_error,
       grad_squared_error, interval::squared_error, surface::loss("a", "b")},
      {Op::huber, "huber", 2, C::loss, kAlpha, false, broadcast_float, eval_huber, grad_huber, interval::huber, surface::huber(1.0)},
  };
}

}  // namespace kiln::ops
