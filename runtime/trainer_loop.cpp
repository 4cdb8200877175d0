// The Trainer's epochs (runtime/trainer.hpp): each epoch's steps, what follows an epoch
// (the monitors, validation, its line), and the end of the run (the summary, the checkpoint).
#include "runtime/trainer.hpp"
#include <cmath>
#include <fmt/format.h>

namespace kiln {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

std::vector<std::pair<std::string, double>> named(const Graph& g, const std::vector<double>& v) {
  std::vector<std::pair<std::string, double>> out;
  for (size_t k = 0; k < g.train.metrics.size() && k < v.size(); ++k) out.emplace_back(g.train.metrics[k].first, v[k]);
  return out;
}

}  // namespace

// The monitors read the engine's cells after each step; then the epochs, from where the
// run starts.
bool Trainer::run_epochs() {
  t_start_ = Clock::now();
  if (mon_) {
    mon_->bind(
        engine_->metric_cells(mon_->first_metric(), mon_->width()),
        [this] {
          std::string se;  // (cannot fail after a step that succeeded)
          engine_->settle_monitors(se);
        },
        engine_->metric_row(mon_->first_metric(), mon_->width()));
  }
  for (int64_t epoch = start_.epoch; epoch <= g_.train.epochs; ++epoch)
    if (!run_epoch(epoch)) return false;
  return true;
}

// Epoch `epoch` (1-based): its rows in file order or shuffled with seed + epoch, one step
// per batch (the last partial batch dropped), then what follows the epoch.
bool Trainer::run_epoch(int64_t epoch) {
  Epoch ep;
  ep.start = Clock::now();
  ep.epoch = epoch;
  progress_->begin_epoch(epoch);
  ep.order = epoch_order(split_.train_rows, o_.shuffle, seed_, epoch);
  ep.metric_sums.assign(g_.train.metrics.size(), 0.0);
  ep.before = res_.steps;
  ep.b0 = epoch == start_.epoch ? start_.step : 0;
  for (int64_t b = ep.b0; b < per_epoch_; ++b) {
    if (int sig = stop_signal()) return stop_interrupted(sig, ep, b);
    if (!train_step(ep, b)) return false;
  }
  return after_epoch(ep);
}

// One step: forward, backward and the update on batch b; its figures into the epoch's
// sums, the log and the progress line; the monitors' buffer.
[[gnu::always_inline]] inline bool Trainer::train_step(Epoch& ep, int64_t b) {
  gather(ep.order, b);
  if (!engine_->set_batch(names_, bufs_, e_)) return fail(1, e_);
  // One snapshot per epoch (cheap): a non-finite step replays the epoch's earlier steps.
  if (mon_ && b == ep.b0) engine_->snapshot_values();
  if (!engine_->step(r_, e_)) return fail(1, e_);
  ++res_.steps;
  double loss = r_.loss.value_or(0);
  ep.lr = lr_cell_ ? *lr_cell_ : 0.0f;  // (computed by the step: its schedule at the optimizer's counter)
  if (mon_) {  // the step's monitored quantities into the monitor's buffer
    // (-Werror: every step, so that the run stops at the step of its first warning.)
    if (mon_->push() || !std::isfinite(loss) || o_.monitor_options.werror)
      if (!check_monitor(std::isfinite(loss), ep)) return false;
  }
  if (!std::isfinite(loss))
    return fail(1, fmt::format("training diverged: the loss is {} at epoch {}, step {} (try a smaller --lr)", loss,
                               ep.epoch, res_.steps));
  res_.step_losses.push_back(loss);
  ep.loss_sum += loss;
  for (size_t k = 0; k < ep.metric_sums.size() && k < r_.metrics.size(); ++k) ep.metric_sums[k] += r_.metrics[k];
  if (o_.log_every > 0 && res_.steps % o_.log_every == 0) log_line(step_line(ep.epoch, res_.steps, loss, ep.lr));
  if (o_.progress == ProgressMode::live) {
    std::vector<double> means(ep.metric_sums);
    for (double& m : means) m /= double(b + 1 - ep.b0);
    progress_->step(b + 1, ep.loss_sum / double(b + 1 - ep.b0), named(tg_, means));
  } else {
    progress_->step(b + 1, 0, {});
  }
  return true;
}

// After the epoch's steps: the remaining ones through the monitors before its line, the
// validation rows, the epoch's line (log and progress), then the epoch's rules.
bool Trainer::after_epoch(Epoch& ep) {
  if (mon_ && !check_monitor(true, ep)) return false;
  EpochRecord rec;
  rec.epoch = ep.epoch;
  rec.step = res_.steps;
  rec.loss = ep.loss_sum / double(per_epoch_ - ep.b0);  // (a resumed epoch: the means of its steps in this run)
  for (double& m : ep.metric_sums) m /= double(per_epoch_ - ep.b0);
  rec.metrics = named(tg_, ep.metric_sums);
  if (split_.val_rows > 0) {
    RowsResult vr;
    if (!val_eval_->run(*ds_, split_.train_rows, ds_->rows, engine_->values(), false, vr, e_)) return fail(1, e_);
    rec.val_loss = vr.loss;
    rec.val_metrics = vr.metrics;
  }
  rec.time_s = seconds_since(ep.start);
  log_line(epoch_line(rec));
  progress_->end_epoch(rec);
  double epoch_loss = rec.loss;
  res_.epochs.push_back(std::move(rec));
  // The epoch's rules after its line, so that the output reads in order.
  if (mon_) {
    mon_->on_epoch(ep.epoch, epoch_loss, res_.steps, ep.lr);
    flush_monitor();
    if (promoted_) return stop_promoted();
  }
  return true;
}

// The end: the monitors' last rules and the health lines, the log closed, the checkpoint,
// the summary and the health table.
bool Trainer::finish() {
  res_.time_s = seconds_since(t_start_);
  res_.compile_s += val_eval_->compile_seconds();
  res_.values = engine_->values();
  if (mon_) {
    mon_->on_end(res_.steps);
    flush_monitor();
    if (promoted_) return stop_promoted();
    res_.health = mon_->health();
    log_health(res_.steps);
  }
  log_close();
  TrainPosition end{g_.train.epochs, 0, seed_, "end"};
  if (!o_.save.empty() && !save_checkpoint(o_.save, saved_, res_.values, res_.normalization, e_, &end))
    return fail(2, e_);

  TrainSummary sum;
  sum.epochs = g_.train.epochs - start_.epoch + 1;
  sum.steps = res_.steps;
  sum.time_s = res_.time_s;
  sum.compile_s = res_.compile_s;
  sum.arena_bytes = engine_->arena_bytes();
  sum.last = res_.epochs.empty() ? nullptr : &res_.epochs.back();
  sum.engine = std::string(engine_->kind());
  progress_->summary(sum);
  if (mon_ && !mon_->health_table().empty()) progress_->message(mon_->health_table());
  if (!o_.save.empty()) progress_->message(fmt::format("saved {}", o_.save));
  return true;
}

}  // namespace kiln
