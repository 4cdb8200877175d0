// The loss-diverging monitor (docs/checks/loss-diverging.md): the epoch loss grew
// diverging_window epochs in a row, is over diverging_factor times the best epoch loss so far,
// and gave back more than half of the improvement from the first epoch to the best (noise
// around a converged loss is not divergence).
#include "runtime/monitor.hpp"
#include <fmt/format.h>

namespace kiln {

namespace {

std::string g3(double v) { return fmt::format("{:.3g}", v); }

class LossDiverging final : public MonitorRule {
 public:
  LossDiverging() : MonitorRule(kEpoch) {}
  void epoch(Monitor& m, const EpochEnd& e) override {
    const MonitorThresholds& t = m.thresholds();
    const std::vector<double>& L = m.epoch_losses();
    const int64_t n = int64_t(L.size()), dw = t.diverging_window;
    if (n <= dw) return;
    bool growing = true;
    for (int64_t i = n - dw; i < n; ++i) growing = growing && L[size_t(i)] > L[size_t(i - 1)];
    double best = m.best_so_far().back();
    bool gave_back = L.back() - best > 0.5 * (L.front() - best);
    if (growing && gave_back && L.back() > t.diverging_factor * best && best >= 0)
      m.emit(Severity::warning, "loss-diverging", "loss", m.loss_loc(),
             fmt::format("the loss is diverging: it grew for {} epochs in a row to {} ({}x its best, {}) at learning "
                         "rate {}",
                         dw, g3(L.back()), g3(L.back() / best), g3(best), g3(e.lr)),
             {{"lower the learning rate, or add clip_norm to the train block", {}}}, e.step);
  }
};

}  // namespace

std::unique_ptr<MonitorRule> make_loss_diverging(const Monitor&) { return std::make_unique<LossDiverging>(); }

}  // namespace kiln
