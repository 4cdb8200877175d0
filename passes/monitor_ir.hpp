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

// The learning rate each step uses: the optimizer pass (passes/optimizer.cpp) appends it
// to g.train.metrics under this name, right after the model's own metrics (so the
// monitors' quantities follow it, and it is the first column of their row: a scalar f32
// cell like theirs, in the JIT's monitor row). The runtime reads it back from its metric
// cell after each step (the log's lr, the monitors' messages) with or without the
// monitors: the host never recomputes the schedule. It is computed from the step
// counter alone, but before the update: it is not one of the lagged sums.
inline constexpr const char* kLearningRateMetric = "__monitor__.lr";

struct MonitorPlan {
  struct Param {
    NodeId param = -1;  // the param leaf (its loc is the declaration)
    std::string name;
    int grad_sq = -1;    // sum(g*g): the squared gradient norm (NaN/Inf when a gradient is)
    int weight_sq = -1;  // sum(w*w) before the update
    int delta_sq = -1;   // sum((new - w)^2): the squared norm of the update
    // grad_sq and delta_sq are one step late: sums of states that carry the previous
    // step's gradient and update (MonitorPlan, "Lagged sums").
    bool lagged = false;
  };
  struct Relu {
    NodeId node = -1;  // the relu (its loc is the user's call)
    int zero_frac = -1;  // mean(relu(..) == 0) over the batch; with `active`, mean(x > 0) (1 - that)
    bool active = false;
  };
  size_t user_metrics = 0;  // the first metric the monitors read: the model's own metrics come before
  std::vector<Param> params;
  std::vector<Relu> relus;
  int lr = -1;  // the learning rate's metric (kLearningRateMetric), -1 when the graph has none
  bool empty() const { return params.empty() && relus.empty(); }
};

// Lagged sums. The gradient is the end of a step's longest chain of dependent operations
// (its last matrix product), so sums of it and of the update finish after everything
// else of the step; on a small param, whose update loop is a few vector operations, their
// horizontal adds then add their latency to every step (a third of the monitors' cost on
// a 0.25 us step). For params of at most kLaggedMaxElements elements, the step therefore
// stores the gradient (a copy, stop_gradient) and the update in two states
// (`__monitor__.grad.<p>`, `__monitor__.update.<p>`, zero at first, never saved), and
// grad_sq/delta_sq sum those: after step t they hold step t-1's norms, summed from values
// ready when the step starts. Fusion puts all of it in the param's update loop, which
// writes both states in place and whose sums then wait for nothing (docs/fusion.md,
// "Accumulators"). Entry "monitor" of the JIT (PlanScope::monitor: the metrics computed
// from states alone) and Engine::settle_monitors compute them for the last step. A larger
// param's loop hides its sums' latency: they are sums of its own step's values.
inline constexpr int64_t kLaggedMaxElements = 256;

// Whether node `id` is computed from states (and literals) alone: no input, param or
// const among its leaves.
bool computed_from_states(const Graph& g, NodeId id);
// Whether metric k of g.train.metrics is one of the lagged sums, which PlanScope::monitor
// and Engine::settle_monitors compute again after a step: computed from states alone,
// and not the learning rate (which is the step's, from the counter before its update).
bool lagged_metric(const Graph& g, size_t k);

// How many of g.train.metrics are the model's own (those before the monitors').
size_t user_metric_count(const Graph& g);

// Adds the monitor roots to a training graph (after make_training_graph: g.grads and
// g.updates are set). Params without a gradient or an update get none (their grad is
// then reported as 0 and they never move).
MonitorPlan add_monitor_roots(Graph& g);

}  // namespace kiln
