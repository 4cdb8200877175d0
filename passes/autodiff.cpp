// Reverse-mode autodiff: walks the nodes between the params and the loss backwards,
// calling each op-table row's derivative rule (ir/grad_context.hpp) and summing gradients.
//
// Algorithm:
//  1. Without a train block and its `minimize`, report error "train" and stop.
//  2. Forward sweep (ids are topologically ordered): a node depends on a param when it is a
//     param or any operand does, except through zero-grad ops (comparisons, round, argmax,
//     stop_gradient, one_hot, ...) whose output carries no gradient.
//  3. Backward sweep from the loss: a node reaches the loss when it is the loss or an
//     operand of a node that reaches it. Active nodes are both (2) and (3).
//  4. Seed: the loss's gradient is a literal 1 of its dtype (broadcast to its shape when the
//     loss is not a scalar, i.e. the gradient of its sum).
//  5. Walk the active nodes from the loss down to id 0. For each one with gradient
//     contributions, sum them with add into its total gradient. A param keeps it; any other
//     op calls its row's grad rule with that total, asking only for active operands.
//  6. Each contribution a rule adds for operand i is, when larger than the operand (it has
//     the output's broadcast shape), summed down with sum_to, then queued for operand i.
//  7. For every param in declaration order set (param, gradient) in g.grads; a param
//     that does not reach the loss gets zeros (a literal 0 broadcast to its shape), so the
//     optimizer always has one. Inputs, consts, states and literals get none.
#include "passes/autodiff.hpp"
#include "ir/grad_context.hpp"

namespace kiln {

namespace {

NodeId zeros_like(Graph& g, NodeId x, SourceRange loc) {
  NodeId z = g.scalar(0.0, g[x].dtype, loc);
  if (g[x].shape.empty()) return z;
  Attrs a;
  a.shape = g[x].shape;
  return g.make(Op::broadcast_to, {z}, a, loc);
}

}  // namespace

bool differentiate(Graph& g, Diagnostics& d) {
  // 1.
  if (!g.train.present || !g.train.minimize) {
    d.error("train", g.train.loc, "nothing to differentiate: the model has no `minimize`");
    return false;
  }
  const NodeId loss = *g.train.minimize;
  const size_t n0 = g.size();

  // 2. and 3.
  std::vector<bool> from_param(n0, false), to_loss(n0, false), active(n0, false);
  for (NodeId id = 0; id < NodeId(n0); ++id) {
    const Node& n = g[id];
    if (n.op == Op::param) from_param[id] = true;
    else if (!op_row(n.op).zero_grad)
      for (NodeId i : n.in) from_param[id] = from_param[id] || from_param[i];
  }
  to_loss[loss] = true;
  for (NodeId id = loss; id >= 0; --id)
    if (to_loss[id])
      for (NodeId i : g[id].in) to_loss[i] = true;
  for (size_t i = 0; i < n0; ++i) active[i] = from_param[i] && to_loss[i] && is_float(g[NodeId(i)].dtype);

  // 4.
  std::vector<std::vector<NodeId>> pending(n0);
  std::vector<NodeId> total(n0, -1);
  if (active[loss]) {
    SourceRange loc = g[loss].loc;
    NodeId seed = g.scalar(1.0, g[loss].dtype, loc);
    if (!g[loss].shape.empty()) {
      Attrs a;
      a.shape = g[loss].shape;
      seed = g.make(Op::broadcast_to, {seed}, a, loc);
    }
    pending[loss].push_back(seed);
  }

  // 5. and 6.
  for (NodeId id = loss; id >= 0; --id) {
    if (!active[id] || pending[id].empty()) continue;
    SourceRange loc = g[id].loc;
    NodeId gsum = pending[id][0];
    for (size_t k = 1; k < pending[id].size(); ++k) gsum = g.make(Op::add, {gsum, pending[id][k]}, {}, loc);
    total[id] = gsum;
    const OpRow& row = op_row(g[id].op);
    if (row.cls == OpClass::leaf || row.zero_grad || !row.grad) continue;
    std::vector<bool> wants;
    for (NodeId i : g[id].in) wants.push_back(active[i]);
    GradContext ctx(g, id, gsum, std::move(wants));
    row.grad(ctx);
    for (auto [i, grad] : ctx.contributions) {
      NodeId target = g[id].in[i];
      if (!active[target]) continue;
      if (g[grad].shape != g[target].shape) {
        Attrs a;
        a.shape = g[target].shape;
        grad = g.make(Op::sum_to, {grad}, a, loc);
      }
      pending[target].push_back(grad);
    }
  }

  // 7. (a second run replaces the gradients of the first; its nodes are left for DCE)
  g.grads.clear();
  for (NodeId p : g.params) {
    NodeId grad = p < NodeId(n0) && total[p] >= 0 ? total[p] : zeros_like(g, p, g[p].loc);
    g.grads.emplace_back(p, grad);
  }
  return true;
}

namespace {
struct AutodiffPass : Pass {
  std::string_view name() const override { return "autodiff"; }
  PassResult run(Graph& g, Diagnostics& d) override {
    if (!differentiate(g, d)) return PassResult::failure();
    return PassResult::success(true);
  }
};
}  // namespace

std::unique_ptr<Pass> make_autodiff_pass() { return std::make_unique<AutodiffPass>(); }

}  // namespace kiln
