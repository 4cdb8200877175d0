// The vanishing-gradient monitor (docs/checks/vanishing-gradient.md, "At run time"): at the
// end of each epoch, a param whose mean gradient norm over the epoch is above 0 and at most
// MonitorThresholds::vanishing_ratio of the largest param's (exactly 0 is frozen-param's).
// Per block of steps it adds up each param's gradient norms (a vector loop).
#include "runtime/monitor.hpp"
#include <fmt/format.h>

namespace kiln {

namespace {

std::string g3(double v) { return fmt::format("{:.3g}", v); }

class VanishingGradient final : public MonitorRule {
 public:
  explicit VanishingGradient(const Monitor& m)
      : MonitorRule(kParamSteps | kSteps | kEpoch), sum_(m.plan().params.size(), 0.0) {}

  void param_steps(Monitor& m, const ParamSteps& p) override {
    const float* G = p.grad_sq;
    // (A vector loop: CMakeLists.txt compiles runtime/monitors/ with -fopenmp-simd and
    // -fno-math-errno.)
    float sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int64_t i = 0; i < p.n; ++i) {
      const float g = G[i] > 0 ? G[i] : 0.0f;
      sum += std::sqrt(g);
    }
    sum_[p.k] += double(sum);
  }

  void steps(Monitor& m, const StepBlock& b) override { steps_ += b.n; }

  void epoch(Monitor& m, const EpochEnd& e) override {
    const auto& params = m.plan().params;
    double largest = 0;
    size_t arg = 0;
    std::vector<double> mean(params.size(), 0.0);
    for (size_t k = 0; k < params.size(); ++k) {
      mean[k] = steps_ ? sum_[k] / double(steps_) : 0.0;
      if (params[k].grad_sq >= 0 && mean[k] > largest) largest = mean[k], arg = k;
    }
    if (largest > 0 && std::isfinite(largest))
      for (size_t k = 0; k < params.size(); ++k) {
        if (params[k].grad_sq < 0 || mean[k] == 0 || mean[k] > m.thresholds().vanishing_ratio * largest) continue;
        const auto& p = params[k];
        bool shown = m.emit(Severity::warning, "vanishing-gradient", p.name, m.graph()[p.param].loc,
             fmt::format("the gradient reaching '{}' is vanishing: its norm {} (mean over epoch {}) is {} of the "
                         "largest ('{}': {})",
                         p.name, g3(mean[k]), e.epoch, g3(mean[k] / largest), params[arg].name, g3(largest)),
             {{"the layers between the loss and this param shrink the gradient (saturated sigmoid/tanh, tiny "
               "weights); use relu-family activations, a better initialiser, or normalised inputs",
               {}}},
             e.step);
        if (shown) m.set_status_if_ok(p.name, "vanishing");
      }
    std::fill(sum_.begin(), sum_.end(), 0.0);
    steps_ = 0;
  }

 private:
  std::vector<double> sum_;  // per param: the epoch's gradient norms, added up
  int64_t steps_ = 0;        // the epoch's steps processed
};

}  // namespace

std::unique_ptr<MonitorRule> make_vanishing_gradient(const Monitor& m) {
  return std::make_unique<VanishingGradient>(m);
}

}  // namespace kiln
