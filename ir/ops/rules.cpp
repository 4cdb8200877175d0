// Implementations of the shared shape and type rules of ir/ops/rules.hpp.
#include "ir/ops/rules.hpp"
#include <algorithm>

namespace kiln {

bool broadcast_shapes(const Shape& a, const Shape& b, Shape& out) {
  size_t r = std::max(a.size(), b.size());
  Shape s(r);
  for (size_t i = 0; i < r; ++i) {
    int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da != db && da != 1 && db != 1) return false;
    s[i] = da == 1 ? db : da;
  }
  out = std::move(s);
  return true;
}

bool normalize_axes(std::vector<int64_t>& axes, size_t rank) {
  for (auto& ax : axes) {
    if (ax < 0) ax += static_cast<int64_t>(rank);
    if (ax < 0 || ax >= static_cast<int64_t>(rank)) return false;
  }
  std::vector<int64_t> s = axes;
  std::sort(s.begin(), s.end());
  return std::adjacent_find(s.begin(), s.end()) == s.end();
}

namespace rules {

static bool need_float(const ValueType& v, std::string& err) {
  if (is_float(v.dtype)) return true;
  err = fmt::format("expected a floating-point operand, got {}; i32 values are class labels and only "
                    "take part in comparisons, one_hot and softmax_cross_entropy", ty(v));
  return false;
}

bool leaf(std::span<const ValueType> in, const Attrs&, ValueType&, std::string& err) {
  if (!in.empty()) { err = "a leaf takes no operands"; return false; }
  return true;  // dtype and shape are set by the declaration
}

bool unary_float(std::span<const ValueType> in, const Attrs&, ValueType& out, std::string& err) {
  if (!need_float(in[0], err)) return false;
  out = in[0];
  return true;
}

bool unary_any(std::span<const ValueType> in, const Attrs&, ValueType& out, std::string&) {
  out = in[0];
  return true;
}

static bool broadcast_all(std::span<const ValueType> in, Shape& s, std::string& err) {
  s = in[0].shape;
  for (size_t i = 1; i < in.size(); ++i) {
    Shape next;
    if (!broadcast_shapes(s, in[i].shape, next)) {
      std::string list = ty(in[0]);
      for (size_t j = 1; j < in.size(); ++j) list += (j + 1 == in.size() ? " and " : ", ") + ty(in[j]);
      err = fmt::format("shapes {} cannot be broadcast together", list);
      return false;
    }
    s = std::move(next);
  }
  return true;
}

bool broadcast_float(std::span<const ValueType> in, const Attrs&, ValueType& out, std::string& err) {
  for (auto& v : in)
    if (!need_float(v, err)) return false;
  for (auto& v : in)
    if (v.dtype != in[0].dtype) {
      err = fmt::format("operands mix {} and {}; all operands must have one element type", ty(in[0]), ty(v));
      return false;
    }
  out.dtype = in[0].dtype;
  return broadcast_all(in, out.shape, err);
}

bool compare(std::span<const ValueType> in, const Attrs&, ValueType& out, std::string& err) {
  if (in[0].dtype != in[1].dtype) {
    err = fmt::format("cannot compare {} with {}: the element types differ", ty(in[0]), ty(in[1]));
    return false;
  }
  out.dtype = in[0].dtype == DType::i32 ? DType::f32 : in[0].dtype;
  return broadcast_all(in, out.shape, err);
}

bool where(std::span<const ValueType> in, const Attrs& a, ValueType& out, std::string& err) {
  if (!broadcast_float(in.subspan(1), a, out, err)) return false;
  return broadcast_all(std::vector<ValueType>{in[0], out}, out.shape, err);
}

bool reduce(std::span<const ValueType> in, const Attrs& a, ValueType& out, std::string& err) {
  if (!need_float(in[0], err)) return false;
  const Shape& s = in[0].shape;
  std::vector<int64_t> axes = a.axes;
  if (!normalize_axes(axes, s.size())) {
    err = fmt::format("axis out of range for {} (rank {})", ty(in[0]), s.size());
    return false;
  }
  out.dtype = in[0].dtype;
  out.shape.clear();
  for (size_t i = 0; i < s.size(); ++i) {
    bool reduced = axes.empty() || std::find(axes.begin(), axes.end(), int64_t(i)) != axes.end();
    if (!reduced) out.shape.push_back(s[i]);
    else if (a.keepdims) out.shape.push_back(1);
  }
  return true;
}

static bool one_axis(const ValueType& v, const Attrs& a, int64_t& axis, std::string& err) {
  std::vector<int64_t> axes = a.axes;
  if (axes.size() != 1 || !normalize_axes(axes, v.shape.size())) {
    err = fmt::format("axis {} out of range for {} (rank {})", a.axes.empty() ? 0 : a.axes[0], ty(v), v.shape.size());
    return false;
  }
  axis = axes[0];
  return true;
}

bool argmax(std::span<const ValueType> in, const Attrs& a, ValueType& out, std::string& err) {
  int64_t axis;
  if (!need_float(in[0], err) || !one_axis(in[0], a, axis, err)) return false;
  out.dtype = DType::i32;
  out.shape = in[0].shape;
  out.shape.erase(out.shape.begin() + axis);
  return true;
}

bool along_axis(std::span<const ValueType> in, const Attrs& a, ValueType& out, std::string& err) {
  int64_t axis;
  if (!need_float(in[0], err) || !one_axis(in[0], a, axis, err)) return false;
  out = in[0];
  return true;
}

}  // namespace rules
}  // namespace kiln
