// train, predict and eval from a model's text: compile(), then the runtime
// (runtime/from_source.hpp).
#include "runtime/from_source.hpp"

namespace kiln {

std::optional<TrainResult> train_source(const SourceFile& src, const CompileOptions& copts, const TrainOptions& opts,
                                        Diagnostics& diags, RunError& err,
                                        const std::function<void(const Diagnostics&)>& on_compiled) {
  CompileOptions c = copts;
  c.goal = Goal::train;
  auto step = compile(src, c, Stage::opt, diags);  // (the Trainer goes on to llvm for the JIT)
  if (!step) {
    err = {1, ""};
    return std::nullopt;
  }
  if (on_compiled) on_compiled(diags);
  return Trainer(*step, forward_builder(src, c, engine_stage(opts.engine.kind)), opts).run(err);
}

std::optional<PredictResult> predict_source(const SourceFile& src, const CompileOptions& copts,
                                            const PredictOptions& opts, Diagnostics& diags, RunError& err) {
  CompileOptions c = copts;
  c.goal = opts.require_labels ? Goal::forward : Goal::outputs;
  auto model = compile(src, c, Stage::opt, diags);  // (before the params are allocated)
  if (!model) {
    err = {1, ""};
    return std::nullopt;
  }
  return run_predict(*model, forward_builder(src, c, engine_stage(opts.engine.kind)), opts, err);
}

}  // namespace kiln
