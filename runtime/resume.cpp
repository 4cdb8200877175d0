// Resume positions (runtime/resume.hpp).
#include "runtime/resume.hpp"
#include <fmt/format.h>

namespace kiln {

std::optional<StartPoint> start_point(const std::optional<TrainPosition>& at, int64_t total, int64_t per_epoch,
                                      const std::string& source, const std::string& epochs_from, std::string& err) {
  StartPoint s;
  if (!at) return s;
  s.epoch = at->epochs_done + 1;
  s.step = at->steps_into_epoch;
  if (s.step >= per_epoch) {  // the epoch was complete (with the steps per epoch of that run)
    ++s.epoch;
    s.step = 0;
  }
  if (s.epoch > total) {
    err = fmt::format("nothing to train: {} holds {} epoch{} of training and {} is the total, counting the "
                      "checkpoint's (give a larger --epochs to train more)",
                      source, s.epoch - 1, s.epoch - 1 == 1 ? "" : "s", epochs_from);
    return std::nullopt;
  }
  return s;
}

std::string describe(const TrainPosition& p, int64_t per_epoch) {
  if (p.steps_into_epoch > 0)
    return fmt::format("epoch {}, step {} of {}", p.epochs_done + 1, p.steps_into_epoch, per_epoch);
  if (p.epochs_done > 0) return fmt::format("epoch {}", p.epochs_done);
  return "";
}

}  // namespace kiln
