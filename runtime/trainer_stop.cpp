// How a training run stops early (runtime/trainer.hpp): a non-finite step found by the
// monitors, a run-time warning made an error by -Werror, an interrupt; and the helpers
// they share (the monitors' diagnostics, batches, the metrics log).
#include "runtime/trainer.hpp"
#include <csignal>
#include <fmt/format.h>

namespace kiln {

// The monitors' per-step rules over the buffered steps (runtime/monitor.hpp), their
// diagnostics printed. False when the run stops here (failed: a non-finite step, or a
// warning under -Werror).
bool Trainer::check_monitor(bool loss_finite, const Epoch& ep) {
  if (!loss_finite && mon_->enabled("non-finite")) mon_->unpush();  // this step is the last at most
  int64_t bad = mon_->process();
  if (bad == 0 && !loss_finite && mon_->enabled("non-finite")) bad = res_.steps;
  if (bad > 0) return stop_non_finite(bad, ep);
  flush_monitor();
  if (promoted_) return stop_promoted();
  return true;
}

// A step whose loss, gradients or updates are not finite (`bad`, a step of this run in the
// current epoch): back to the last finite step, by replaying the epoch's earlier steps from
// its snapshot (the engines are deterministic), and the op named by re-running the bad step
// on the interpreter with checks. The params of the last finite step are saved with --save.
bool Trainer::stop_non_finite(int64_t bad, const Epoch& ep) {
  engine_->restore_snapshot();
  for (int64_t k = 0; k < bad - ep.before - 1; ++k) {
    BatchResult again;
    gather(ep.order, ep.b0 + k);
    if (!engine_->set_batch(names_, bufs_, e_) || !engine_->step(again, e_)) return fail(1, e_);
  }
  gather(ep.order, ep.b0 + bad - ep.before - 1);
  ValueMap leaves = engine_->values();
  for (size_t k = 0; k < names_.size() && k < bufs_.size(); ++k) leaves[names_[k]] = batch_tensor(bufs_[k]);
  std::string why;
  auto d = locate_non_finite(plain_, leaves, &src_, bad, ep.epoch, why);
  if (!d) {
    d.emplace();
    d->severity = Severity::error;
    d->id = "non-finite";
    d->loc = tg_.train.minimize_loc;
    d->message =
        fmt::format("the loss or a gradient became NaN or Inf at step {} (epoch {}); training stopped", bad, ep.epoch);
    d->notes.push_back({why, {}});
  }
  mon_->emit(d->severity, d->id, "step", d->loc, d->message, d->notes, bad);
  flush_monitor();
  res_.health = mon_->health();
  if (!mon_->health_table().empty()) progress_->message(mon_->health_table());
  res_.values = engine_->values();
  log_health(bad - 1);
  log_close();
  if (!o_.save.empty()) {
    TrainPosition at{ep.epoch - 1, ep.b0 + bad - 1 - ep.before, seed_, "non-finite"};
    if (!save_checkpoint(o_.save, saved_, res_.values, res_.normalization, e_, &at)) return fail(2, e_);
    progress_->message(fmt::format("saved {} (the parameters of step {}, the last finite one)", o_.save, bad - 1));
  }
  return fail(1, "");
}

// -Werror turned a run-time warning into an error: stop with the health table, the log
// closed and nothing saved (the model has a problem the user asked to treat as fatal).
bool Trainer::stop_promoted() {
  res_.health = mon_->health();
  if (promoted_->step > 0 && !mon_->health_table().empty()) progress_->message(mon_->health_table());
  if (promoted_->step > 0) log_health(promoted_->step);
  log_close();
  return fail(1, promoted_->step == 0
                     ? fmt::format("training stopped before the first step: -Werror makes the run-time warning "
                                   "[{}] an error",
                                   promoted_->diag.id)
                     : fmt::format("training stopped at step {}: -Werror makes the run-time warning [{}] an error",
                                   promoted_->step, promoted_->diag.id));
}

// Stop before batch b of the epoch: the monitors' pending steps, the health table, the
// log's "interrupted" line, and the checkpoint with its position, so that --load continues
// exactly here. The run's result says so (signal, stop_message).
bool Trainer::stop_interrupted(int sig, const Epoch& ep, int64_t b) {
  if (mon_ && res_.steps > 0) {
    if (!check_monitor(true, ep)) return false;
    res_.health = mon_->health();
    if (!mon_->health_table().empty()) progress_->message(mon_->health_table());
    log_health(res_.steps);
  }
  res_.time_s = std::chrono::duration<double>(Clock::now() - t_start_).count();
  res_.compile_s += val_eval_->compile_seconds();
  res_.values = engine_->values();
  TrainPosition at{ep.epoch - 1, b, seed_, "interrupted"};
  log_line(interrupted_line(signal_name(sig), at.epochs_done, at.steps_into_epoch, res_.steps));
  log_close();
  std::string msg = fmt::format("interrupted ({}) ", signal_name(sig));
  if (res_.steps == 0) {
    msg += "before the first step; nothing saved";
  } else if (o_.save.empty()) {
    msg += fmt::format("after {}; nothing saved (no --save)", describe(at, per_epoch_));
  } else {
    if (!save_checkpoint(o_.save, saved_, res_.values, res_.normalization, e_, &at)) return fail(2, e_);
    msg += fmt::format("after {}; saved {} (--load it to continue)", describe(at, per_epoch_), o_.save);
  }
  res_.signal = sig;
  res_.stop_message = std::move(msg);
  return false;  // (not failed: run() returns the result)
}

// Prints, logs and hands on the monitors' new diagnostics; the first error other than
// non-finite (a warning under -Werror) is remembered: the run stops after the flush.
void Trainer::flush_monitor() {
  if (!mon_) return;
  for (auto& d : mon_->take_new()) {
    if (d.diag.severity == Severity::error && d.diag.id != "non-finite" && !promoted_) promoted_ = d;
    std::string text = mon_->render(d.diag, o_.color);
    while (!text.empty() && text.back() == '\n') text.pop_back();
    if (d.diag.severity == Severity::error && o_.progress == ProgressMode::quiet) {
      fmt::print(o_.progress_out, "{}\n", text);
      std::fflush(o_.progress_out);
    } else {
      progress_->message(text);
    }
    if (log_.is_open()) log_line(diagnostic_line(d.diag, d.step, src_.path()));
    if (o_.on_runtime_diagnostic) o_.on_runtime_diagnostic(d);
    res_.runtime_diagnostics.push_back(std::move(d));
  }
}

// A log line; a failed write (a full disk) is a warning, once, and the log stops there:
// the training and the final save go on.
void Trainer::log_line(const std::string& line) {
  if (std::string le; !log_.write(line, le)) log_failed(le);
}

void Trainer::log_close() {
  if (std::string le; !log_.close(le)) log_failed(le);
}

void Trainer::log_failed(const std::string& why) {
  res_.log_error = why;
  progress_->message(fmt::format("kiln: warning: {}; the metrics log stops here (training goes on)", why));
}

// The health table's rows as "health" lines of the log (before it is closed).
void Trainer::log_health(int64_t step) {
  for (const ParamHealth& h : res_.health) log_line(health_line(step, h.name, h.grad_norm, h.update_ratio, h.status));
}

}  // namespace kiln
