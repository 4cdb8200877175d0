// train, predict and eval from a model's text, as the commands and the tests run them:
// compile() first, then the trainer or the predictor, given a forward_builder for the
// forward graphs at other batch sizes (the runtime itself never reads source).
#pragma once
#include "runtime/compile.hpp"
#include "runtime/predict.hpp"
#include "runtime/trainer.hpp"
#include <functional>

namespace kiln {

// compile(src, copts, to stage opt) into `diags` (nullopt, exit 1, when it fails);
// `on_compiled` sees the diagnostics before any data is read (the CLI prints the warnings
// there); then a Trainer runs (it compiles on to llvm for the JIT once the data is ready).
std::optional<TrainResult> train_source(const SourceFile& src, const CompileOptions& copts, const TrainOptions& opts,
                                        Diagnostics& diags, RunError& err,
                                        const std::function<void(const Diagnostics&)>& on_compiled = {});

// compile(src, copts with the goal of the command, to opt): the forward graph of eval (or
// the outputs of predict) at the model's batch, its memory checked; then run_predict.
std::optional<PredictResult> predict_source(const SourceFile& src, const CompileOptions& copts,
                                            const PredictOptions& opts, Diagnostics& diags, RunError& err);

}  // namespace kiln
