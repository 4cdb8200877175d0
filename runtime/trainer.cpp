// The Trainer (runtime/trainer.hpp), until the first step: the data, the checkpoint, the
// inputs' standardisation, where the epochs start, the engine and the outputs.
#include "runtime/trainer.hpp"
#include "runtime/model.hpp"
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <unistd.h>
#include <fmt/format.h>

namespace kiln {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// Whether a file can be created at `path` (its directory exists and is writable, and
// it is not a directory itself).
bool can_write(const std::string& path, std::string& err) {
  std::error_code ec;
  std::filesystem::path p(path);
  if (std::filesystem::is_directory(p, ec)) {
    err = fmt::format("{}: cannot write: Is a directory", path);
    return false;
  }
  std::filesystem::path dir = p.parent_path().empty() ? std::filesystem::path(".") : p.parent_path();
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    err = fmt::format("{}: cannot write: {}", path, std::strerror(errno));
    return false;
  }
  return true;
}

}  // namespace

Trainer::Trainer(CompileResult& step, ForwardBuilder validation, const TrainOptions& o)
    : step_(step),
      validation_(std::move(validation)),
      o_(o),
      src_(*step.source),
      g_(step.lowered),
      tg_(step.graph),
      plain_(step.plain ? *step.plain : step.graph),
      saved_(step.monitor_plan ? plain_ : tg_),
      seed_(step.lowered.train.seed),
      compiled_s_(step.seconds),
      t_setup_(Clock::now()) {
  // Run-time monitors: their roots were added after simplification (so they are computed
  // from the step's own values).
  if (step.monitor_plan) mon_.emplace(tg_, *step.monitor_plan, &src_, MonitorThresholds{}, o.monitor_options);
}

std::optional<TrainResult> Trainer::run(RunError& err) {
  bool ok = prepare_data() && load_checkpoint() && standardize_inputs() && plan_epochs() && set_up_engine() &&
            open_outputs() && run_epochs() && finish();
  (void)ok;  // (false: failed, or interrupted with its result)
  if (failed_) {
    err = std::move(err_);
    return std::nullopt;
  }
  return std::move(res_);
}

bool Trainer::fail(int code, std::string message) {
  err_ = {code, std::move(message)};
  failed_ = true;
  return false;
}

// The inputs, the data (loaded, labels checked, split), the progress output.
bool Trainer::prepare_data() {
  auto inputs = input_specs(g_, e_);
  if (!inputs) return fail(1, e_);
  inputs_ = std::move(*inputs);
  ds_ = load_dataset(o_.data, inputs_, e_);
  if (!ds_) return fail(2, e_);
  for (auto [k, classes] : label_classes(g_, inputs_))
    if (!check_label_range(*ds_, k, classes, e_)) return fail(2, e_);
  auto split = split_rows(ds_->rows, o_.val_split, e_);
  if (!split) return fail(2, e_);
  split_ = *split;
  if (split_.train_rows < g_.batch)
    return fail(2, fmt::format("the training set has {} rows, fewer than one batch of {} (use a smaller --batch{})",
                               split_.train_rows, g_.batch, o_.val_split > 0 ? " or --val-split" : ""));
  progress_.emplace(o_.progress, o_.progress_out, g_.train.epochs, batches_per_epoch(split_.train_rows, g_.batch));
  return true;
}

// The checkpoint given with --load (its position: where the epochs and the shuffles
// continue; its seed unless --seed), then the initial values, overwritten by its values.
bool Trainer::load_checkpoint() {
  if (!o_.load.empty()) {
    loaded_ = read_checkpoint(o_.load, tg_, e_);
    if (!loaded_ || !read_position(*loaded_, o_.load, resumed_, e_)) return fail(2, e_);
    if (resumed_ && !step_.options.seed) seed_ = resumed_->seed;
  }
  values_ = initial_values(tg_, seed_);
  if (loaded_ && !restore_values(*loaded_, o_.load, tg_, values_, e_)) return fail(2, e_);
  return true;
}

// normalize'd inputs standardised with the training rows' statistics (or the checkpoint's);
// the others' columns looked at for the data-scale monitor.
bool Trainer::standardize_inputs() {
  for (size_t k = 0; k < inputs_.size(); ++k) {
    const InputSpec& in = inputs_[k];
    if (in.normalize) {
      Standardization st;
      bool from_file = loaded_ && loaded_->find("__normalize__." + in.name + ".mean");
      if (from_file) {
        auto s = standardization_from(*loaded_, o_.load, in, e_);
        if (!s) return fail(2, e_);
        st = std::move(*s);
      } else {
        st = compute_standardization(*ds_, k, 0, split_.train_rows);
      }
      apply_standardization(*ds_, k, st);
      res_.normalization[in.name] = std::move(st);
    } else if (in.dtype != DType::i32 && in.width() > 1) {
      if (!mon_) continue;
      if (auto m = data_scale_message(*ds_, k, split_.train_rows)) {
        SourceRange loc;
        for (NodeId id : g_.inputs)
          if (g_[id].name == in.name) loc = g_[id].loc;
        mon_->emit(Severity::warning, "data-scale", in.name, loc, *m,
                   {{"declare the input with 'normalize' (input " + in.name + " : ... normalize) so that every column "
                     "is standardised with the training rows' mean and std",
                     {}}},
                   0);
      }
    }
  }
  return true;
}

// Where the epochs start: 1, or after the --load checkpoint's position (before the JIT
// loads the step: nothing left to train is an error).
bool Trainer::plan_epochs() {
  per_epoch_ = batches_per_epoch(split_.train_rows, g_.batch);
  auto start = start_point(resumed_, g_.train.epochs, per_epoch_, o_.load,
                           fmt::format("{} {}", step_.options.epochs ? "--epochs" : "the train block's epochs =",
                                       g_.train.epochs),
                           e_);
  if (!start) return fail(2, e_);
  start_ = *start;
  res_.first_epoch = start_.epoch;
  progress_->resume_after((start_.epoch - 1) * per_epoch_ + start_.step);
  return true;
}

// The engine of the step, its values, and the evaluator of the validation rows. For the
// JIT, the step's compilation goes on to stage llvm first (here, once the data is ready:
// a data error costs no code generation), and the engine loads that module.
bool Trainer::set_up_engine() {
  if (Stage need = engine_stage(o_.engine.kind); step_.reached < need) {
    Diagnostics d(&src_);
    if (!continue_compile(step_, need, d)) {
      for (const Diagnostic& x : d.all())
        if (x.severity == Severity::error) return fail(1, x.message);
      return fail(1, "cannot compile the training step");
    }
  }
  engine_ = make_engine(tg_, std::move(step_.module), o_.engine, e_);
  if (!engine_) return fail(1, e_);
  if (!engine_->set_values(values_, e_)) return fail(1, e_);
  val_eval_.emplace(
      [this](int64_t batch, std::string& why) { return validation_(batch, Goal::forward, why); }, o_.engine);
  res_.compile_s = compiled_s_ + seconds_since(t_setup_) + engine_->compile_seconds();
  return true;
}

// From here a signal stops the run at a step boundary (before: exit at once, nothing to
// lose). The log, --save's directory (before hours of training, not after), the monitors'
// diagnostics so far and where the run resumes.
bool Trainer::open_outputs() {
  if (o_.interrupt) o_.interrupt->deferred = 1;
  if (!o_.log.empty() && !log_.open(o_.log, e_)) return fail(2, e_);
  if (!o_.save.empty() && !can_write(o_.save, e_)) return fail(2, e_);
  flush_monitor();
  if (promoted_) return stop_promoted();
  if (resumed_)
    progress_->message(fmt::format("resuming from {} after {}", o_.load, describe(*resumed_, per_epoch_)));
  else if (loaded_ && loaded_->metadata.count("kiln_model_hash"))
    progress_->message(fmt::format("{} records no training position (checkpoint format 0): its params and state "
                                   "train epochs 1 to {}", o_.load, g_.train.epochs));
  res_.model_name = g_.model_name;
  res_.train_rows = split_.train_rows;
  res_.val_rows = split_.val_rows;
  res_.batch = g_.batch;
  // The learning rate each step used, as the step computed it (kLearningRateMetric).
  for (size_t k = 0; k < tg_.train.metrics.size(); ++k)
    if (tg_.train.metrics[k].first == kLearningRateMetric) lr_cell_ = engine_->metric_cells(k, 1).at(0);
  for (auto& in : ds_->inputs) names_.push_back(in.name);
  return true;
}

}  // namespace kiln
