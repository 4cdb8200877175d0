// Resuming `kiln train --load` from a checkpoint's training position, and the position of a
// run that stops early: where the epochs continue, and how a position reads in messages.
#pragma once
#include "runtime/checkpoint.hpp"
#include <optional>
#include <string>

namespace kiln {

// Where a run starts: epoch `epoch` (1-based), at its batch `step` (0: the epoch's first).
struct StartPoint {
  int64_t epoch = 1, step = 0;
};

// The start of a run whose `total` epochs (--epochs counts the checkpoint's epochs too)
// have `per_epoch` steps, from the position of the --load checkpoint `source` (none: epoch
// 1). A position inside an epoch continues it; one at or past its end (another --batch or
// data) starts the next epoch. Nothing left to train is an error naming `epochs_from`
// ("--epochs 4" or "the train block's epochs = 4").
std::optional<StartPoint> start_point(const std::optional<TrainPosition>& at, int64_t total, int64_t per_epoch,
                                      const std::string& source, const std::string& epochs_from, std::string& err);

// "epoch 3, step 5 of 9" (after that step), "epoch 2" (after that epoch), "" (before any step).
std::string describe(const TrainPosition& p, int64_t per_epoch);

}  // namespace kiln
