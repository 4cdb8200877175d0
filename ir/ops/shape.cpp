// Op-table rows for shape ops: transpose, reshape, concat, one_hot, broadcast_to, sum_to
// and the internal slice, with their reference kernels and derivative rules.
#include "ir/grad_context.hpp"
#include "ir/ops/groups.hpp"
#include "ir/interval_rules.hpp"
#include "ir/ops/kernels.hpp"
#include "ir/ops/rules.hpp"
#include <algorithm>

namespace kiln::ops {
using rules::ty;

// transpose reverses the axes (NumPy's default): [m,n] -> [n,m].
static bool transpose_rule(std::span<const ValueType> in, const Attrs&, ValueType& out, std::string&) {
  out = in[0];
  std::reverse(out.shape.begin(), out.shape.end());
  return true;
}

static bool reshape_rule(std::span<const ValueType> in, const Attrs& a, ValueType& out, std::string& err) {
  for (auto d : a.shape)
    if (d <= 0) { err = fmt::format("reshape target {} has a dimension that is not positive", shape_str(a.shape)); return false; }
  if (num_elements(a.shape) != num_elements(in[0].shape)) {
    err = fmt::format("cannot reshape {} ({} elements) to {} ({} elements)", ty(in[0]), num_elements(in[0].shape),
                      shape_str(a.shape).empty() ? "a scalar" : shape_str(a.shape), num_elements(a.shape));
    return false;
  }
  out = {in[0].dtype, a.shape};
  return true;
}

static bool concat_rule(std::span<const ValueType> in, const Attrs& a, ValueType& out, std::string& err) {
  if (in.empty()) { err = "concat needs at least one operand"; return false; }
  std::vector<int64_t> axes = a.axes;
  if (axes.size() != 1 || in[0].shape.empty() || !normalize_axes(axes, in[0].shape.size())) {
    err = fmt::format("concat axis out of range for {}", ty(in[0]));
    return false;
  }
  size_t axis = axes[0];
  out = in[0];
  for (size_t i = 1; i < in.size(); ++i) {
    const ValueType& v = in[i];
    bool ok = v.dtype == in[0].dtype && v.shape.size() == in[0].shape.size();
    for (size_t d = 0; ok && d < v.shape.size(); ++d)
      if (d != axis && v.shape[d] != in[0].shape[d]) ok = false;
    if (!ok) {
      err = fmt::format("cannot concatenate {} and {} along axis {}: the other dimensions and the element "
                        "types must match", ty(in[0]), ty(v), axis);
      return false;
    }
    out.shape[axis] += v.shape[axis];
  }
  return true;
}

static bool one_hot_rule(std::span<const ValueType> in, const Attrs& a, ValueType& out, std::string& err) {
  if (in[0].dtype != DType::i32) { err = fmt::format("one_hot takes i32 class labels, got {}", ty(in[0])); return false; }
  if (a.n <= 0) { err = fmt::format("one_hot needs a positive number of classes, got {}", a.n); return false; }
  out = {DType::f32, in[0].shape};
  out.shape.push_back(a.n);
  return true;
}

static bool broadcast_to_rule(std::span<const ValueType> in, const Attrs& a, ValueType& out, std::string& err) {
  Shape s;
  if (!broadcast_shapes(in[0].shape, a.shape, s) || s != a.shape) {
    err = fmt::format("cannot broadcast {} to {}", ty(in[0]), shape_str(a.shape));
    return false;
  }
  out = {in[0].dtype, a.shape};
  return true;
}

// sum_to: sums over the axes along which `shape` was broadcast to the operand's shape.
static bool sum_to_rule(std::span<const ValueType> in, const Attrs& a, ValueType& out, std::string& err) {
  Shape s;
  if (!broadcast_shapes(in[0].shape, a.shape, s) || s != in[0].shape) {
    err = fmt::format("cannot sum {} down to {}", ty(in[0]), shape_str(a.shape));
    return false;
  }
  out = {in[0].dtype, a.shape};
  return true;
}

// slice (internal, made by concat's derivative): axes = {axis}, n = start, shape = result.
static bool slice_rule(std::span<const ValueType> in, const Attrs& a, ValueType& out, std::string& err) {
  std::vector<int64_t> axes = a.axes;
  const Shape& s = in[0].shape;
  bool ok = axes.size() == 1 && normalize_axes(axes, s.size()) && a.shape.size() == s.size();
  for (size_t d = 0; ok && d < s.size(); ++d)
    ok = int64_t(d) == axes[0] ? a.n >= 0 && a.shape[d] >= 0 && a.n + a.shape[d] <= s[d] : a.shape[d] == s[d];
  if (!ok) {
    err = fmt::format("cannot slice {} to {} from {} along axis {}", ty(in[0]), shape_str(a.shape), a.n,
                      a.axes.empty() ? 0 : a.axes[0]);
    return false;
  }
  out = {in[0].dtype, a.shape};
  return true;
}

namespace {
using kern::Ins;

// ---- reference kernels --------------------------------------------------------------------
void eval_transpose(Ins in, const Node&, Tensor& o) {
  const Shape& s = in[0]->shape;
  size_t r = s.size();
  std::vector<int64_t> st_in(r), st(r);
  int64_t stride = 1;
  for (size_t d = r; d-- > 0;) { st_in[d] = stride; stride *= s[d]; }
  for (size_t d = 0; d < r; ++d) st[d] = st_in[r - 1 - d];
  auto map = kern::walk(o.shape, st);
  for (size_t i = 0; i < o.data.size(); ++i) o.data[i] = in[0]->data[map[i]];
}

void eval_copy(Ins in, const Node&, Tensor& o) { o.data = in[0]->data; }

void eval_broadcast_to(Ins in, const Node&, Tensor& o) {
  auto map = kern::broadcast_map(o.shape, in[0]->shape);
  for (size_t i = 0; i < o.data.size(); ++i) o.data[i] = in[0]->data[map[i]];
}

void eval_sum_to(Ins in, const Node&, Tensor& o) {
  auto map = kern::broadcast_map(in[0]->shape, o.shape);
  std::fill(o.data.begin(), o.data.end(), 0.0);
  for (size_t i = 0; i < map.size(); ++i) o.data[map[i]] += in[0]->data[i];
}

void eval_concat(Ins in, const Node& n, Tensor& o) {
  int64_t axis = kern::single_axis(n.attrs, o.shape.size());
  auto so = kern::split_axis(o.shape, axis);
  int64_t offset = 0;
  for (const Tensor* t : in) {
    auto si = kern::split_axis(t->shape, axis);
    for (int64_t a = 0; a < si.outer; ++a)
      for (int64_t k = 0; k < si.len; ++k)
        for (int64_t i = 0; i < si.inner; ++i) o.data[so.at(a, offset + k, i)] = t->data[si.at(a, k, i)];
    offset += si.len;
  }
}

void eval_slice(Ins in, const Node& n, Tensor& o) {
  const Tensor& x = *in[0];
  int64_t axis = kern::single_axis(n.attrs, x.shape.size());
  auto sx = kern::split_axis(x.shape, axis), so = kern::split_axis(o.shape, axis);
  for (int64_t a = 0; a < so.outer; ++a)
    for (int64_t k = 0; k < so.len; ++k)
      for (int64_t i = 0; i < so.inner; ++i) o.data[so.at(a, k, i)] = x.data[sx.at(a, n.attrs.n + k, i)];
}

// A label outside [0, n) gives a row of zeros (the runtime validates labels beforehand).
void eval_one_hot(Ins in, const Node& n, Tensor& o) {
  std::fill(o.data.begin(), o.data.end(), 0.0);
  for (size_t j = 0; j < in[0]->data.size(); ++j) {
    double v = in[0]->data[j];
    if (v >= 0 && v < double(n.attrs.n)) o.data[j * n.attrs.n + int64_t(v)] = 1.0;
  }
}

// ---- derivative rules ---------------------------------------------------------------------
void grad_transpose(GradContext& c) {
  if (c.wants(0)) c.add_grad(0, c.make(Op::transpose, {c.gout}));
}
void grad_reshape(GradContext& c) {
  if (c.wants(0)) c.add_grad(0, c.reshape(c.gout, c.input(0).shape));
}
void grad_broadcast_to(GradContext& c) {
  if (!c.wants(0)) return;
  Attrs a;
  a.shape = c.input(0).shape;
  c.add_grad(0, a.shape == c.node().shape ? c.gout : c.make(Op::sum_to, {c.gout}, a));
}
void grad_sum_to(GradContext& c) {
  if (c.wants(0)) c.add_grad(0, c.broadcast_to(c.gout, c.input(0).shape));
}
void grad_concat(GradContext& c) {  // each operand takes its slice of the gradient
  int64_t axis = kern::single_axis(c.node().attrs, c.node().shape.size()), offset = 0;
  for (int i = 0; i < c.arity(); ++i) {
    Shape s = c.input(i).shape;
    if (c.wants(i)) {
      Attrs a;
      a.axes = {axis};
      a.n = offset;
      a.shape = s;
      c.add_grad(i, c.make(Op::slice, {c.gout}, a));
    }
    offset += s[axis];
  }
}
void grad_slice(GradContext& c) {  // the gradient padded with zeros along the axis
  if (!c.wants(0)) return;
  Shape full = c.input(0).shape, part = c.node().shape;
  int64_t axis = kern::single_axis(c.node().attrs, full.size()), start = c.node().attrs.n;
  std::vector<NodeId> pieces;
  auto zeros = [&](int64_t len) {
    Shape z = full;
    z[axis] = len;
    pieces.push_back(c.broadcast_to(c.scalar(0), z));
  };
  if (start > 0) zeros(start);
  pieces.push_back(c.gout);
  if (start + part[axis] < full[axis]) zeros(full[axis] - start - part[axis]);
  Attrs a;
  a.axes = {axis};
  c.add_grad(0, pieces.size() == 1 ? c.gout : c.make(Op::concat, pieces, a));
}

}  // namespace

std::vector<OpRow> shape_rows() {
  using C = OpClass;
  return {
      {Op::transpose, "transpose", 1, C::shape, 0, false, transpose_rule, eval_transpose, grad_transpose, interval::identity, surface::unary()},
      {Op::reshape, "reshape", 1, C::shape, kShape, false, reshape_rule, eval_copy, grad_reshape, interval::identity, surface::reshape()},
      {Op::concat, "concat", -1, C::shape, kAxes, false, concat_rule, eval_concat, grad_concat, interval::concat, surface::concat()},
      {Op::one_hot, "one_hot", 1, C::shape, kN, true, one_hot_rule, eval_one_hot, nullptr, interval::one_hot, surface::one_hot()},
      {Op::broadcast_to, "broadcast_to", 1, C::shape, kShape, false, broadcast_to_rule, eval_broadcast_to,
       grad_broadcast_to, interval::identity, surface::internal()},
      {Op::sum_to, "sum_to", 1, C::shape, kShape, false, sum_to_rule, eval_sum_to, grad_sum_to, interval::sum, surface::internal()},
      {Op::slice, "slice", 1, C::shape, kAxes | kN | kShape, false, slice_rule, eval_slice, grad_slice, interval::identity, surface::internal()},
  };
}

}  // namespace kiln::ops
