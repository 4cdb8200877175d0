// The dead-relu monitor (docs/checks/dead-relu.md): a relu whose output is 0 for more than
// MonitorThresholds::dead_relu_fraction of its units, on average over an epoch's steps.
// Per block of steps it adds up each relu's zero fractions.
#include "runtime/monitor.hpp"
#include <fmt/format.h>

namespace kiln {

namespace {

class DeadRelu final : public MonitorRule {
 public:
  explicit DeadRelu(const Monitor& m) : MonitorRule(kSteps | kEpoch), sum_(m.plan().relus.size(), 0.0) {}

  void steps(Monitor& m, const StepBlock& b) override {
    const auto& relus = m.plan().relus;
    for (size_t k = 0; k < relus.size(); ++k) {
      const float* x = m.relu_steps(k);
      double sum = 0;
      for (int64_t i = 0; i < b.n; ++i) sum += double(x[i]);
      sum_[k] += relus[k].active ? double(b.n) - sum : sum;  // (`active`: the column is mean(x > 0))
    }
    steps_ += b.n;
  }

  void epoch(Monitor& m, const EpochEnd& e) override {
    const auto& relus = m.plan().relus;
    for (size_t k = 0; k < relus.size() && steps_ > 0; ++k) {
      double frac = sum_[k] / double(steps_);
      NodeId n = relus[k].node;
      const Graph& g = m.graph();
      if (frac > m.thresholds().dead_relu_fraction) {
        std::string expr = m.source_text(g[n].loc);
        m.emit(Severity::warning, "dead-relu", std::to_string(n), g[n].loc,
               fmt::format("relu outputs 0 for {:.1f}% of its units over epoch {}{}", 100 * frac, e.epoch,
                           expr.empty() ? "" : fmt::format(" ('{}')", expr)),
               {{"a unit that is always 0 passes no gradient to the weights before it; lower the learning rate, check "
                 "the bias and initialisation, or use leaky_relu",
                 {}}},
               e.step);
      }
      sum_[k] = 0;
    }
    steps_ = 0;
  }

 private:
  std::vector<double> sum_;  // per relu: the epoch's zero fractions, added up
  int64_t steps_ = 0;        // the epoch's steps processed
};

}  // namespace

std::unique_ptr<MonitorRule> make_dead_relu(const Monitor& m) { return std::make_unique<DeadRelu>(m); }

}  // namespace kiln
