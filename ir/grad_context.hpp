// GradContext: what a derivative rule (OpRow::grad) sees while autodiff builds the backward
// graph: the forward node, its inputs, the output gradient, and loc-stamping node builders.
#pragma once
#include "ir/graph.hpp"
#include <utility>
#include <vector>

namespace kiln {

struct GradContext {
  GradContext(Graph& g, NodeId node, NodeId grad_out, std::vector<bool> wants)
      : g(g), id(node), gout(grad_out), wants_(std::move(wants)) {}

  Graph& g;
  NodeId id;    // the forward node (its value is available as a node id: `id`)
  NodeId gout;  // dLoss/d(node): same dtype and shape as the node

  // The forward node (re-fetch after building nodes: the node vector may reallocate).
  const Node& node() const { return g[id]; }
  NodeId in(int i) const { return g[id].in[i]; }
  const Node& input(int i) const { return g[in(i)]; }
  int arity() const { return int(g[id].in.size()); }
  DType dtype() const { return g[id].dtype; }  // element type of the node
  // True when input i needs a gradient (it lies on a path from a param); rules may skip others.
  bool wants(int i) const { return wants_[i]; }

  // Builds a node with the forward node's location (internal errors abort, as Graph::make).
  NodeId make(Op op, std::vector<NodeId> in, Attrs attrs = {});
  NodeId scalar(double v);              // a literal of the node's dtype
  NodeId scalar(double v, DType t);
  // Shorthands.
  NodeId add(NodeId a, NodeId b) { return make(Op::add, {a, b}); }
  NodeId sub(NodeId a, NodeId b) { return make(Op::sub, {a, b}); }
  NodeId mul(NodeId a, NodeId b) { return make(Op::mul, {a, b}); }
  NodeId div(NodeId a, NodeId b) { return make(Op::div, {a, b}); }
  NodeId neg(NodeId a) { return make(Op::neg, {a}); }
  NodeId mul(NodeId a, double c) { return mul(a, scalar(c)); }
  NodeId unary(Op op, NodeId a) { return make(op, {a}); }
  NodeId reshape(NodeId a, Shape s);
  NodeId broadcast_to(NodeId a, Shape s);
  // x reduced by sum over `axes` with keepdims (so it broadcasts back against x).
  NodeId sum_keep(NodeId x, std::vector<int64_t> axes);
  // g (the result of reducing an operand of shape `full` over `axes`, with or without
  // keepdims) reshaped to keepdims form and broadcast back to `full`.
  NodeId expand_reduced(NodeId g, const Shape& full, const std::vector<int64_t>& axes);

  // Adds a gradient for input i. It may have the output's broadcast shape: the pass sums
  // it down (sum_to) to the input's shape, and accumulates several contributions with add.
  void add_grad(int i, NodeId grad) { contributions.emplace_back(i, grad); }

  std::vector<std::pair<int, NodeId>> contributions;  // read by the pass

 private:
  std::vector<bool> wants_;
};

}  // namespace kiln
