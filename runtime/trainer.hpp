// The training loop of `kiln train`: data, normalisation, the validation split, batches,
// the training engine, validation each epoch, the metrics log, progress and checkpoints.
#pragma once
#include "ir/diagnostics.hpp"
#include "runtime/checkpoint.hpp"
#include "runtime/compile.hpp"
#include "runtime/engine.hpp"
#include "runtime/interrupt.hpp"
#include "runtime/metrics_log.hpp"
#include "runtime/model.hpp"
#include "runtime/monitor.hpp"
#include "runtime/progress.hpp"
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace kiln {

// A run that failed: `message` is one line (empty when the diagnostics say it all) and
// `exit_code` the driver's status: 1 for errors in the model or a failed run, 2 for
// unusable data, checkpoints or output files.
struct RunError {
  int exit_code = 1;
  std::string message;
};

// The settings of one run that do not change what is compiled (those are the step's
// CompileOptions: --batch, --lr, --epochs, --seed, the -W flags, --no-rewrite, --no-monitor).
struct TrainOptions {
  std::vector<std::string> data;  // --data: one CSV, or name=file.npy per input
  bool shuffle = true;
  double val_split = 0;
  std::string load, save, log;  // paths; empty = not given
  int64_t log_every = 0;        // 0: no step lines
  EngineOptions engine;
  ProgressMode progress = ProgressMode::quiet;
  std::FILE* progress_out = stderr;
  // Run-time monitors (runtime/monitor.hpp), when the step was compiled with them
  // (CompileOptions::monitors). Their diagnostics are printed to progress_out (warnings
  // unless quiet, errors always), with colour when `color`, written to the log, and passed
  // to this callback when set.
  // -W<id>/-Wno-<id>/-Werror for the monitors; ignore comments are read from the model.
  // Under -Werror the first run-time warning stops the run (exit 1, nothing saved).
  MonitorOptions monitor_options;
  bool color = false;
  std::function<void(const RuntimeDiagnostic&)> on_runtime_diagnostic;
  // Ctrl-C and SIGTERM (runtime/interrupt.hpp; the driver installs the handlers). Once the
  // log is open the run sets `deferred`; after a signal it stops at the next step boundary
  // (an epoch's validation is finished first), saves with --save (marked interrupted, with
  // its position), ends the log with an "interrupted" line and returns with `signal` set.
  Interrupt* interrupt = nullptr;
  // Test hook: stop as if SIGINT came after this many steps of the run (0: never).
  int64_t stop_after_steps = 0;
};

struct TrainResult {
  std::string model_name;
  std::vector<EpochRecord> epochs;
  std::vector<double> step_losses;  // every step's loss, before its update
  ValueMap values;                  // final params, consts and optimizer states
  NormalizationMap normalization;
  int64_t train_rows = 0, val_rows = 0, batch = 0, steps = 0;
  double time_s = 0, compile_s = 0;
  std::vector<RuntimeDiagnostic> runtime_diagnostics;  // from the monitors
  std::vector<ParamHealth> health;                     // the training-health table's rows
  int64_t first_epoch = 1;  // the epoch this run started in (it continues a --load checkpoint's)
  std::string log_error;    // why the log stopped early ("m.jsonl: cannot write: ..."); empty if it did not
  int signal = 0;           // the signal that stopped the run at a step boundary; 0 if it ran to the end
  std::string stop_message; // then: "interrupted (SIGINT) after epoch 3, step 5 of 9; saved p.safetensors"
};

// Trains the compiled training step (compile(), Goal::train, to the stage its engine
// needs: runtime/compile.hpp; the source must still be alive; the JIT takes its module)
// and saves the checkpoint when asked; `validation` compiles the forward graphs of the validation rows. On failure
// returns nullopt with `err` set. With --load, the epochs continue from the checkpoint's
// position (docs/training.md, "Resuming"). A failing log write is a warning (once); the
// log stops and the run goes on.
std::optional<TrainResult> train_model(CompileResult& step, const ForwardBuilder& validation,
                                       const TrainOptions& opts, RunError& err);

}  // namespace kiln
