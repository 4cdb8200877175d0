// Appends the run-time monitor roots to a training graph (passes/monitor_ir.hpp).
#include "passes/monitor_ir.hpp"
#include <optional>

namespace kiln {

namespace {

// sum(x * x) over all axes, as a scalar. The planner makes it an accumulator of the loop
// that already reads x (the param's in-place update loop for w, g and new - w), so it
// costs no extra pass over memory (docs/fusion.md, "Accumulators").
NodeId sum_sq(Graph& g, NodeId x) { return g.make(Op::sum, {g.make(Op::mul, {x, x})}, Attrs{}); }

// A zero-initialised state of x's type that the step sets to x: read in the next step,
// it holds this step's value.
NodeId carry(Graph& g, const std::string& name, NodeId x) {
  Node n{Op::state, g[x].dtype, g[x].shape, {}, {}, SourceRange{}, std::string(kMonitorPrefix) + name};
  n.attrs.init.kind = InitKind::zeros;
  NodeId id = g.append(std::move(n));
  g.states.push_back(id);
  g.updates.push_back({id, x});
  return id;
}

int add_metric(Graph& g, const std::string& name, NodeId id) {
  g.train.metrics.emplace_back(std::string(kMonitorPrefix) + name, id);
  return int(g.train.metrics.size()) - 1;
}

}  // namespace

bool computed_from_states(const Graph& g, NodeId id) {
  const std::vector<char> from = ancestors(g, {id});
  for (size_t i = 0; i < from.size(); ++i)
    if (from[i] && g.nodes[i].in.empty() && g.nodes[i].op != Op::state && g.nodes[i].op != Op::literal) return false;
  return true;
}

bool lagged_metric(const Graph& g, size_t k) {
  return g.train.metrics[k].first != kLearningRateMetric && computed_from_states(g, g.train.metrics[k].second);
}

size_t user_metric_count(const Graph& g) {
  size_t n = 0;
  while (n < g.train.metrics.size() && !g.train.metrics[n].first.starts_with(kMonitorPrefix)) ++n;
  return n;
}

MonitorPlan add_monitor_roots(Graph& g) {
  MonitorPlan plan;
  plan.user_metrics = user_metric_count(g);
  for (size_t k = plan.user_metrics; k < g.train.metrics.size(); ++k)
    if (g.train.metrics[k].first == kLearningRateMetric) plan.lr = int(k);
  // Relus first: collect before appending nodes (the loop must not see the new ones).
  std::vector<NodeId> relus;
  for (size_t i = 0; i < g.size(); ++i)
    if (g.nodes[i].op == Op::relu && g.nodes[i].loc.valid() && is_float(g.nodes[i].dtype)) relus.push_back(NodeId(i));
  for (NodeId p : g.params) {
    if (!is_float(g[p].dtype)) continue;
    MonitorPlan::Param mp;
    mp.param = p;
    mp.name = g[p].name;
    mp.lagged = num_elements(g[p].shape) <= kLaggedMaxElements;
    std::optional<NodeId> grad, value;
    for (auto& [param, gr] : g.grads)
      if (param == p) grad = gr;
    for (const Update& u : g.updates)
      if (u.target == p) value = u.value;
    if (grad) {
      // (carried as a copy: an update value of its own, which the param's update loop,
      // reading the gradient anyway, writes in place; the gradient itself is a root)
      NodeId x = mp.lagged ? carry(g, "grad." + mp.name, g.make(Op::stop_gradient, {*grad})) : *grad;
      mp.grad_sq = add_metric(g, "grad_sq." + mp.name, sum_sq(g, x));
    }
    if (value) {
      mp.weight_sq = add_metric(g, "weight_sq." + mp.name, sum_sq(g, p));
      NodeId d = g.make(Op::sub, {*value, p});
      if (mp.lagged) d = carry(g, "update." + mp.name, d);
      mp.delta_sq = add_metric(g, "delta_sq." + mp.name, sum_sq(g, d));
    }
    plan.params.push_back(std::move(mp));
  }
  auto is_zero_literal = [&](NodeId id) {
    const Node& n = g[id];
    return n.op == Op::literal && n.shape.empty() && n.attrs.init.data.size() == 1 && n.attrs.init.data[0] == 0;
  };
  for (NodeId r : relus) {
    MonitorPlan::Relu mr;
    mr.node = r;
    // The backward pass already holds relu's mask gt(x, 0) (autodiff's d_relu): its mean
    // is the fraction of non-zero outputs, one reduction. Otherwise mean(relu(x) == 0).
    NodeId x = g[r].in[0], mask = -1;
    for (size_t i = 0; i < g.size() && mask < 0; ++i) {
      const Node& n = g.nodes[i];
      if (n.op == Op::gt && n.in.size() == 2 && n.in[0] == x && is_zero_literal(n.in[1]) && n.shape == g[r].shape)
        mask = NodeId(i);
    }
    NodeId frac;
    if (mask >= 0) {
      frac = g.make(Op::mean, {mask}, Attrs{});
      mr.active = true;
    } else {
      frac = g.make(Op::mean, {g.make(Op::eq, {r, g.scalar(0.0, g[r].dtype)})}, Attrs{});
    }
    mr.zero_frac = add_metric(g, "relu_zero." + std::to_string(r), frac);
    plan.relus.push_back(mr);
  }
  return plan;
}

}  // namespace kiln
