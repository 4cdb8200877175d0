// GradContext node builders: every node a derivative rule creates carries the forward loc.
#include "ir/grad_context.hpp"
#include <algorithm>

namespace kiln {

NodeId GradContext::make(Op op, std::vector<NodeId> in, Attrs attrs) {
  SourceRange loc = g[id].loc;
  return g.make(op, std::move(in), std::move(attrs), loc);
}

NodeId GradContext::scalar(double v) { return scalar(v, dtype()); }
NodeId GradContext::scalar(double v, DType t) {
  SourceRange loc = g[id].loc;
  return g.scalar(v, t, loc);
}

NodeId GradContext::reshape(NodeId a, Shape s) {
  if (g[a].shape == s) return a;
  Attrs at;
  at.shape = std::move(s);
  return make(Op::reshape, {a}, std::move(at));
}

NodeId GradContext::broadcast_to(NodeId a, Shape s) {
  if (g[a].shape == s) return a;
  Attrs at;
  at.shape = std::move(s);
  return make(Op::broadcast_to, {a}, std::move(at));
}

NodeId GradContext::sum_keep(NodeId x, std::vector<int64_t> axes) {
  Attrs at;
  at.axes = std::move(axes);
  at.keepdims = true;
  return make(Op::sum, {x}, std::move(at));
}

NodeId GradContext::expand_reduced(NodeId grad, const Shape& full, const std::vector<int64_t>& axes) {
  Shape keep = full;
  for (size_t d = 0; d < full.size(); ++d)
    if (axes.empty() || std::find(axes.begin(), axes.end(), int64_t(d)) != axes.end()) keep[d] = 1;
  return broadcast_to(reshape(grad, keep), full);
}

}  // namespace kiln
