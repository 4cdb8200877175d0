// The loss-plateau monitor (docs/checks/loss-plateau.md): after an epoch e > plateau_window,
// the best epoch loss of the last plateau_window epochs improved on the best before them by
// less than plateau_rel of its magnitude, while that best is still above
// plateau_start_fraction of the first epoch's loss (a loss that fell well below its start and
// then flattens is converged, not stuck). Not when that best is below 1e-6, nor when the
// recent best is over diverging_factor times it or loss-diverging has fired: a loss far above
// its best is loss-diverging's.
#include "runtime/monitor.hpp"
#include <algorithm>
#include <fmt/format.h>

namespace kiln {

namespace {

std::string g3(double v) { return fmt::format("{:.3g}", v); }

class LossPlateau final : public MonitorRule {
 public:
  LossPlateau() : MonitorRule(kEpoch) {}
  void epoch(Monitor& m, const EpochEnd& e) override {
    const MonitorThresholds& t = m.thresholds();
    const std::vector<double>& L = m.epoch_losses();
    const int64_t n = int64_t(L.size()), w = t.plateau_window;
    if (n <= w) return;
    double before = m.best_so_far()[size_t(n - w - 1)];
    double recent = *std::min_element(L.end() - w, L.end());
    // Flat, not growing: a loss far above its best is loss-diverging's.
    bool diverged = m.fired("loss-diverging", "loss") || recent > t.diverging_factor * before;
    // A model whose loss fell well below its start is converged, not stuck.
    bool stuck = before > t.plateau_start_fraction * L.front();
    if (std::isfinite(before) && before > 1e-6 && !diverged && stuck && recent > before - t.plateau_rel * std::abs(before))
      m.emit(Severity::warning, "loss-plateau", "loss", m.loss_loc(),
             fmt::format("the loss stopped improving: its best over epochs {}-{} ({}) is no better than before "
                         "({}), at learning rate {}",
                         n - w + 1, n, g3(recent), g3(before), g3(e.lr)),
             {{"if it is not converged, try a larger learning rate or another optimizer (adam)", {}}}, e.step);
  }
};

}  // namespace

std::unique_ptr<MonitorRule> make_loss_plateau(const Monitor&) { return std::make_unique<LossPlateau>(); }

}  // namespace kiln
