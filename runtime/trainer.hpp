// The training loop of `kiln train`: data, normalisation, the validation split, batches,
// the training engine, validation each epoch, the metrics log, progress and checkpoints.
#pragma once
#include "ir/diagnostics.hpp"
#include "runtime/checkpoint.hpp"
#include "runtime/compile.hpp"
#include "runtime/engine.hpp"
#include "runtime/evaluator.hpp"
#include "runtime/interrupt.hpp"
#include "runtime/metrics_log.hpp"
#include "runtime/model.hpp"
#include "runtime/monitor.hpp"
#include "runtime/progress.hpp"
#include "runtime/resume.hpp"
#include <chrono>
#include <csignal>
#include <span>
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

// One training run of a compiled training step (compile() from its source, Goal::train,
// to stage opt or later: runtime/compile.hpp; the source must outlive the Trainer). The
// Trainer compiles the step on to the stage its engine needs once the data is ready, and
// the JIT takes its module. `validation` compiles the forward graphs of the validation rows. run() trains
// and saves the checkpoint when asked; on failure it returns nullopt with `err` set. With
// --load, the epochs continue from the checkpoint's position (docs/training.md,
// "Resuming"). A failing log write is a warning (once); the log stops and the run goes on.
//
// The parts, in the order training happens: prepare the data, load the checkpoint,
// standardise the inputs, plan the epochs, set up the engine, open the outputs, then run
// the epochs (each step, after each epoch) and finish; a run may stop early at a
// non-finite step, at a run-time warning under -Werror, or at an interrupt
// (runtime/trainer.cpp: setup; trainer_loop.cpp: the epochs; trainer_stop.cpp: the stops).
class Trainer {
 public:
  Trainer(CompileResult& step, ForwardBuilder validation, const TrainOptions& opts);
  std::optional<TrainResult> run(RunError& err);

 private:
  using Clock = std::chrono::steady_clock;
  // Where the current epoch stands: its row order, the steps of earlier epochs (`before`),
  // the first batch this run trains (`b0`: a resumed epoch continues where it stopped) and
  // the sums of its steps' figures.
  struct Epoch {
    int64_t epoch = 0, before = 0, b0 = 0;
    std::vector<int64_t> order;
    double loss_sum = 0;
    float lr = 0;  // the last step's learning rate, as the step computed it
    std::vector<double> metric_sums;
    Clock::time_point start;
  };

  // Each part returns whether the run goes on; when it does not, either fail() recorded
  // the error or the run was interrupted (the result then says so).
  bool prepare_data();
  bool load_checkpoint();
  bool standardize_inputs();
  bool plan_epochs();
  bool set_up_engine();
  bool open_outputs();
  bool run_epochs();
  bool run_epoch(int64_t epoch);
  bool train_step(Epoch& ep, int64_t b);
  bool after_epoch(Epoch& ep);
  bool finish();
  // The early stops (trainer_stop.cpp).
  bool check_monitor(bool loss_finite, const Epoch& ep);
  bool stop_non_finite(int64_t bad, const Epoch& ep);
  bool stop_promoted();
  // A signal (SIGINT, SIGTERM) or the test hook, checked before each step: 0 to go on.
  int stop_signal() const {
    if (o_.interrupt && o_.interrupt->signal) return o_.interrupt->signal;
    return o_.stop_after_steps > 0 && res_.steps >= o_.stop_after_steps ? SIGINT : 0;
  }
  bool stop_interrupted(int sig, const Epoch& ep, int64_t b);
  // Helpers: the monitors' new diagnostics, batches, the metrics log, failures.
  void flush_monitor();
  // Batch k of an epoch's row order into the batch buffers.
  void gather(const std::vector<int64_t>& order, int64_t k) {
    gather_batch(*ds_, std::span<const int64_t>(order).subspan(size_t(k * g_.batch), size_t(g_.batch)), bufs_);
  }
  void log_line(const std::string& line);
  void log_close();
  void log_failed(const std::string& why);
  void log_health(int64_t step);
  bool fail(int code, std::string message);

  CompileResult& step_;
  ForwardBuilder validation_;
  const TrainOptions& o_;
  const SourceFile& src_;
  const Graph& g_;      // the lowered graph: the inputs, the batch, the train block
  const Graph& tg_;     // the training step (with the monitors' roots when they are on)
  const Graph& plain_;  // the step without them (the interpreter's re-run of a non-finite step)
  const Graph& saved_;  // what --save writes: the params and states of the step without the monitors'
  uint64_t seed_;       // the shuffles' (the checkpoint's on --load unless --seed)
  std::optional<Monitor> mon_;
  std::optional<RuntimeDiagnostic> promoted_;  // the first run-time warning -Werror made an error
  double compiled_s_;                          // the step's compile time before the Trainer
  Clock::time_point t_setup_, t_start_;

  std::vector<InputSpec> inputs_;
  std::optional<Dataset> ds_;
  RowSplit split_;
  std::optional<Progress> progress_;
  MetricsLog log_;
  std::optional<SafetensorsFile> loaded_;  // --load
  std::optional<TrainPosition> resumed_;   // its position
  ValueMap values_;
  StartPoint start_;
  int64_t per_epoch_ = 0;
  std::unique_ptr<Engine> engine_;
  std::optional<RowEvaluator> val_eval_;
  const float* lr_cell_ = nullptr;  // the step's learning rate after each step (the engine's metric cell)
  std::vector<std::string> names_;
  std::vector<BatchBuffer> bufs_;
  BatchResult r_;
  TrainResult res_;
  std::string e_;  // the message of the last call that failed
  RunError err_;
  bool failed_ = false;
};

}  // namespace kiln
