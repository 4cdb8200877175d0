// Op-table rows for shape ops: transpose, reshape, concat, one_hot, broadcast_to, sum_to.
#include "ir/ops/groups.hpp"
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

std::vector<OpRow> shape_rows() {
  using C = OpClass;
  return {
      {Op::transpose, "transpose", 1, C::shape, 0, false, transpose_rule},
      {Op::reshape, "reshape", 1, C::shape, kShape, false, reshape_rule},
      {Op::concat, "concat", -1, C::shape, kAxes, false, concat_rule},
      {Op::one_hot, "one_hot", 1, C::shape, kN, true, one_hot_rule},
      {Op::broadcast_to, "broadcast_to", 1, C::shape, kShape, false, broadcast_to_rule},
      {Op::sum_to, "sum_to", 1, C::shape, kShape, false, sum_to_rule},
  };
}

}  // namespace kiln::ops
