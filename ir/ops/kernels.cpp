// Index helpers of the reference kernels (ir/ops/kernels.hpp): broadcasting and reductions.
#include "ir/ops/kernels.hpp"
#include <algorithm>
#include <cassert>

namespace kiln::kern {

std::vector<int64_t> walk(const Shape& shape, const std::vector<int64_t>& st) {
  int64_t n = num_elements(shape);
  std::vector<int64_t> map(n);
  std::vector<int64_t> idx(shape.size(), 0);
  int64_t flat = 0;
  for (int64_t i = 0; i < n; ++i) {
    map[i] = flat;
    for (size_t d = shape.size(); d-- > 0;) {
      if (++idx[d] < shape[d]) { flat += st[d]; break; }
      flat -= st[d] * (shape[d] - 1);
      idx[d] = 0;
    }
  }
  return map;
}

std::vector<int64_t> broadcast_map(const Shape& out, const Shape& in) {
  assert(in.size() <= out.size());
  size_t off = out.size() - in.size();
  std::vector<int64_t> st(out.size(), 0);
  int64_t stride = 1;
  for (size_t d = in.size(); d-- > 0;) {
    st[d + off] = in[d] == 1 ? 0 : stride;
    stride *= in[d];
  }
  return walk(out, st);
}

std::vector<int64_t> reduce_map(const Shape& in, const std::vector<int64_t>& axes) {
  std::vector<int64_t> st(in.size(), 0);
  int64_t stride = 1;
  for (size_t d = in.size(); d-- > 0;) {
    bool reduced = axes.empty() || std::find(axes.begin(), axes.end(), int64_t(d)) != axes.end();
    if (!reduced) {
      st[d] = stride;
      stride *= in[d];
    }
  }
  return walk(in, st);
}

std::vector<int64_t> axes_of(const Attrs& a, size_t rank) {
  std::vector<int64_t> axes = a.axes;
  bool ok = normalize_axes(axes, rank);
  assert(ok);
  (void)ok;
  return axes;
}

AxisSplit split_axis(const Shape& s, int64_t axis) {
  AxisSplit r;
  for (int64_t d = 0; d < int64_t(s.size()); ++d) {
    if (d < axis) r.outer *= s[d];
    else if (d == axis) r.len = s[d];
    else r.inner *= s[d];
  }
  return r;
}

int64_t single_axis(const Attrs& a, size_t rank) {
  auto axes = axes_of(a, rank);
  assert(axes.size() == 1);
  return axes[0];
}

}  // namespace kiln::kern
