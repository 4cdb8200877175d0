// The optimizer pass: builds the parameter update of g.train.optimizer (with its
// learning-rate schedule and optional global-norm clipping) as ordinary IR, from the
// gradients in g.grads. Formulas: docs/optimizers.md (PyTorch's torch.optim).
#pragma once
#include "passes/pass.hpp"
#include <memory>
#include <optional>
#include <string>

namespace kiln {

// Appends the optimizer's state leaves to g.states (Op::state, zeros; named
// "<param>.<slot>": sgd "momentum", adam/adamw "m" and "v", rmsprop "v", adagrad
// "sum_sq"; and the step counter "step", a scalar counting updates from 0), and one
// Update{target, value} per param and per state to g.updates. Needs a gradient in
// g.grads for every param in g.params. Fails (with a diagnostic) on an invalid
// configuration and when the model has no param at all (error "train": nothing to train);
// does nothing (success, unchanged) when the graph has no train block with `minimize` or
// already has its updates.
PassResult add_optimizer(Graph& g, Diagnostics& d);
std::unique_ptr<Pass> make_optimizer_pass();

// The learning rate at step `s` (counting from 0 at the first update), as IR; `step` is
// the step-counter node and `t` the element type. (passes/schedule.cpp)
NodeId build_learning_rate(Graph& g, const OptimizerSpec& opt, const ScheduleSpec& sched, NodeId step, DType t);
// Checks the schedule's settings; false with a diagnostic when invalid.
bool check_schedule(const ScheduleSpec& sched, Diagnostics& d);

// A schedule's factor lr(s) / lr0 from the same IR as the step's (build_learning_rate,
// evaluated by the interpreter in f64): the static checks' view of the schedule
// (lr-decay), so that no formula exists twice.
class ScheduleEvaluator {
 public:
  explicit ScheduleEvaluator(const ScheduleSpec& sched);
  double factor(int64_t s) const;
  // The first step s in [0, limit) with factor(s) < fraction; nullopt when none.
  std::optional<int64_t> first_below(double fraction, int64_t limit) const;

 private:
  std::shared_ptr<Graph> g_;
  NodeId lr_ = -1;
};

}  // namespace kiln
