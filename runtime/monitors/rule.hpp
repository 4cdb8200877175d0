// The run-time monitors' rules: the catalogue (id, severity, summary, docs page, one file per
// rule in runtime/monitors/), and the hooks through which runtime/monitor's Monitor runs them.
#pragma once
#include "ir/diagnostics.hpp"
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace kiln {

class Monitor;

// The buffered steps of one process() call that count (all finite): first..first+n-1, in
// the columns' slots from the block's start on (Monitor::column).
struct StepBlock {
  int64_t first = 1, n = 0;
};

// One param's quantities over a block: squared norms as the kernels compute them, n of
// each (grad_sq[-1], grad_sq[-2], ... the steps before the block, as many as
// MonitorThresholds::exploding_history; zeros before the run's first step). A quantity the
// plan lacks reads zeros (has_grad: the param has a gradient column).
struct ParamSteps {
  size_t k = 0;  // the param's index in MonitorPlan::params
  int64_t first = 1, n = 0;
  const float* grad_sq = nullptr;    // sum(g*g)
  const float* weight_sq = nullptr;  // sum(w*w) before the update
  const float* delta_sq = nullptr;   // sum((new - w)^2)
  bool has_grad = false;
};

// The end of an epoch: its mean loss, the run's step count, the learning rate of its last step.
struct EpochEnd {
  int64_t epoch = 0;
  double loss = 0;
  int64_t step = 0;
  double lr = 0;
};

// A rule's state over a run and its hooks, each called at a fixed point of the Monitor's
// work, for the rules that name the hook in hooks() (in catalogue order). Rules report
// through Monitor::emit, once per id and subject.
class MonitorRule {
 public:
  enum Hook : unsigned { kCut = 1, kParamSteps = 2, kSteps = 4, kEpoch = 8, kEnd = 16 };
  explicit MonitorRule(unsigned hooks) : hooks_(hooks) {}
  virtual ~MonitorRule() = default;
  unsigned hooks() const { return hooks_; }

  // process(), before the others: the first step of the block from which nothing counts
  // (the run stops before it), or 0. `suspect`: moving the block's rows flagged a value
  // that may not be finite.
  virtual int64_t cut(Monitor& m, const StepBlock& b, bool suspect) { return 0; }
  // process(): the block's steps of one param (params in plan order; for each param,
  // every rule in catalogue order).
  virtual void param_steps(Monitor& m, const ParamSteps& p) {}
  // process(): the block's steps, after every param's.
  virtual void steps(Monitor& m, const StepBlock& b) {}
  // After an epoch whose steps are processed, after its progress line.
  virtual void epoch(Monitor& m, const EpochEnd& e) {}
  // At the end of the run, every step processed.
  virtual void end(Monitor& m, int64_t step) {}

 private:
  unsigned hooks_;
};

struct MonitorRuleInfo {
  std::string_view id;
  Severity severity;
  std::string_view summary;  // when it fires, one line (docs/checks/runtime.md's table)
  std::string_view doc;      // its page under docs/checks/ (with an anchor where the page is shared)
  // Its rule object for a Monitor; nullptr for a rule that is checked elsewhere and only
  // reports through Monitor::emit (data-scale at load time, by the trainer).
  std::unique_ptr<MonitorRule> (*make)(const Monitor& m);
};

// Every run-time monitor, in the order of DIAGNOSTICS.md's run-time table
// (runtime/monitors/catalogue.cpp).
const std::vector<MonitorRuleInfo>& monitor_catalogue();
const MonitorRuleInfo* find_monitor_rule(std::string_view id);  // nullptr when unknown

// One function per rule, one file each (runtime/monitors/<id>.cpp).
std::unique_ptr<MonitorRule> make_non_finite(const Monitor& m);
std::unique_ptr<MonitorRule> make_frozen_param(const Monitor& m);
std::unique_ptr<MonitorRule> make_vanishing_gradient(const Monitor& m);
std::unique_ptr<MonitorRule> make_exploding_gradient(const Monitor& m);
std::unique_ptr<MonitorRule> make_dead_relu(const Monitor& m);
std::unique_ptr<MonitorRule> make_loss_plateau(const Monitor& m);
std::unique_ptr<MonitorRule> make_loss_diverging(const Monitor& m);

}  // namespace kiln
