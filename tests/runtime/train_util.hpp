// The runtime tests' training runs: the options of what is compiled and of the run in one
// struct, trained from the model's text through train_source (runtime/from_source.hpp), as
// `kiln train` runs them.
#pragma once
#include "runtime/from_source.hpp"

namespace kiln::test {

// TrainOptions plus the CompileOptions of the step (--epochs, --seed, --lr, --batch,
// --no-monitor: `compile`).
struct RunOptions : TrainOptions {
  CompileOptions compile;
};

}  // namespace kiln::test
