// The frozen-param monitor (docs/checks/frozen-param.md): a param whose relative update
// |new - w| / |w| stays below MonitorThresholds::frozen_ratio for frozen_window consecutive
// steps (or for every step of a shorter run) is not updating.
//
// Per block of steps (Monitor::process), per param:
//  1. Count the frozen steps in one vector loop (compared as squares: |dw|^2 < ratio^2 |w|^2;
//     a zero weight is frozen when its update is zero too).
//  2. None: the run of frozen steps ends. All, and the run neither is at the window already
//     nor reaches it in this block: it grows by the block. Else step by step, reporting when
//     the run reaches the window.
//  3. At the end of the run: a param frozen for every step of a run shorter than the window.
#include "runtime/monitor.hpp"
#include <fmt/format.h>

namespace kiln {

namespace {

std::string g3(double v) { return fmt::format("{:.3g}", v); }

class FrozenParam final : public MonitorRule {
 public:
  explicit FrozenParam(const Monitor& m) : MonitorRule(kParamSteps | kEnd), run_(m.plan().params.size(), 0) {}

  void param_steps(Monitor& m, const ParamSteps& p) override {
    const float *W = p.weight_sq, *D = p.delta_sq;
    const double ratio = m.thresholds().frozen_ratio;
    const float frozen_sq = float(ratio * ratio);
    const int64_t window = m.thresholds().frozen_window, n = p.n;
    // |dw|^2 < ratio^2 |w|^2, or a zero weight that stays zero. (d < r w implies w > 0 unless
    // d <= 0 as well, so the first test needs no w > 0 of its own; no branches: the loop
    // below is a vector loop.)
    auto frozen_at = [&](int64_t i) {
      const float w = W[i], d = D[i];
      return int(d < frozen_sq * w) | int((w <= 0) & (d <= 0));
    };
    // (A vector loop: CMakeLists.txt compiles runtime/monitors/ with -fopenmp-simd.)
    int still = 0;
#pragma omp simd reduction(+ : still)
    for (int64_t i = 0; i < n; ++i) still += frozen_at(i);
    int64_t& run = run_[p.k];
    if (still == 0) {
      run = 0;
    } else if (still == n && (run >= window || run + n < window)) {
      run += n;  // frozen throughout, and the run does not reach the window here
    } else {
      for (int64_t i = 0; i < n; ++i) {
        run = frozen_at(i) ? run + 1 : 0;
        if (run == window) report(m, p.k, run, p.first + i, std::max(0.0, double(p.grad_sq[i])));
      }
    }
  }

  void end(Monitor& m, int64_t step) override {
    for (size_t k = 0; k < run_.size(); ++k)
      if (run_[k] > 0 && run_[k] < m.thresholds().frozen_window && run_[k] == m.processed())
        report(m, k, run_[k], step, m.last_grad_sq(k));
  }

 private:
  // Param k frozen for `steps` steps at `step`, with that step's squared gradient norm.
  static void report(Monitor& m, size_t k, int64_t steps, int64_t step, double grad_sq) {
    const auto& p = m.plan().params[k];
    const double lr = m.lr_at(step), gn = std::sqrt(std::max(0.0, grad_sq));
    std::vector<DiagNote> notes;
    if (gn == 0)
      notes.push_back({fmt::format("its gradient is exactly 0: the loss does not reach '{}' through any differentiable "
                                   "path (a stop_gradient, a comparison or argmax, a relu that is always off, or a "
                                   "branch the loss does not use)",
                                   p.name),
                       {}});
    else
      notes.push_back({fmt::format("the update (about lr x gradient norm = {}) is below the float32 resolution of its "
                                   "values (about 6e-8 relative): the learning rate {} is too small",
                                   g3(lr * gn), g3(lr)),
                       {}});
    if (m.emit(Severity::warning, "frozen-param", p.name, m.graph()[p.param].loc,
               fmt::format("'{}' is not updating: its relative update |dw|/|w| stayed below {} for {} steps (gradient "
                           "norm {}, learning rate {})",
                           p.name, g3(m.thresholds().frozen_ratio), steps, g3(gn), g3(lr)),
               std::move(notes), step))
      m.set_status(p.name, "frozen", step);
  }

  std::vector<int64_t> run_;  // per param: consecutive frozen steps up to the last processed
};

}  // namespace

std::unique_ptr<MonitorRule> make_frozen_param(const Monitor& m) { return std::make_unique<FrozenParam>(m); }

}  // namespace kiln
