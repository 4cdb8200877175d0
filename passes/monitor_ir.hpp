// Run-time monitors as IR: appends to a training graph the per-step quantities the
// monitors of `kiln train` read (gradient norms, update ratios, relu zero fractions).
#pragma once
#include "ir/graph.hpp"
#include <string>
#include <vector>

namespace kiln {

// Every monitored quantity is a scalar f32 root appended to g.train.metrics under a name
// starting with kMonitorPrefix, after the model's own metrics, so both engines (and the
// fused kernels) compute it in the same step. Indices below are into the engine's
// metric vector (BatchResult::metrics).
inline constexpr const char* kMonitorPrefix = "__monitor__.";

struct MonitorPlan {
  struct Param {
    NodeId param = -1;  // the param leaf (its loc is the declaration)
    std::string name;
    int grad_sq = -1;    // sum(g*g): the squared gradient norm (NaN/Inf when a gradient is)
    int weight_sq = -1;  // sum(w*w) before the update
    int delta_sq = -1;   // sum((new - w)^2): the squared norm of the update
  };
  struct Relu {
    NodeId node = -1;  // the relu (its loc is the user's call)
    int zero_frac = -1;  // mean(relu(..) == 0) over the batch; with `active`, mean(x > 0) (1 - that)
    bool active = false;
  };
  size_t user_metrics = 0;  // the model's own metrics come first
  std::vector<Param> params;
  std::vector<Relu> relus;
  bool empty() const { return params.empty() && relus.empty(); }
};

// How many of g.train.metrics are the model's own (those before the monitors').
size_t user_metric_count(const Graph& g);

// Adds the monitor roots to a training graph (after make_training_graph: g.grads and
// g.updates are set). Params without a gradient or an update get none (their grad is
// then reported as 0 and they never move).
MonitorPlan add_monitor_roots(Graph& g);

}  // namespace kiln
