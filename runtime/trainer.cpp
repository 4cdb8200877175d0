// The training loop (runtime/trainer.hpp).
#include "runtime/trainer.hpp"
#include "runtime/evaluator.hpp"
#include "runtime/model.hpp"
#include "runtime/resume.hpp"
#include "passes/monitor_ir.hpp"
#include "ir/interpreter.hpp"
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <unistd.h>
#include <cmath>
#include <fmt/format.h>

namespace kiln {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::vector<std::pair<std::string, double>> named(const Graph& g, const std::vector<double>& v) {
  std::vector<std::pair<std::string, double>> out;
  for (size_t k = 0; k < g.train.metrics.size() && k < v.size(); ++k) out.emplace_back(g.train.metrics[k].first, v[k]);
  return out;
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

std::optional<TrainResult> train_model(CompileResult& step, const ForwardBuilder& validation,
                                       const TrainOptions& o, RunError& err) {
  auto fail = [&](int code, std::string msg) -> std::optional<TrainResult> {
    err = {code, std::move(msg)};
    return std::nullopt;
  };
  auto t_compile = Clock::now();
  const SourceFile& src = *step.source;
  Graph g = step.lowered;
  const Graph& tg = step.graph;
  // Run-time monitors: their roots were added after simplification (so they are computed
  // from the step's own values); `plain` is the step without them, for the re-run.
  const Graph& plain = step.plain ? *step.plain : step.graph;
  std::optional<Monitor> mon;
  if (step.monitor_plan) mon.emplace(tg, *step.monitor_plan, &src, MonitorThresholds{}, o.monitor_options);

  // What --save writes: the params and states of the step without the monitors' (their
  // lagged sums' states are theirs, not the model's).
  const Graph& saved = mon ? plain : tg;
  std::string e;
  auto inputs = input_specs(g, e);
  if (!inputs) return fail(1, e);

  // Data: load, check labels, split, standardise with training-set statistics.
  auto ds = load_dataset(o.data, *inputs, e);
  if (!ds) return fail(2, e);
  for (auto [k, classes] : label_classes(g, *inputs))
    if (!check_label_range(*ds, k, classes, e)) return fail(2, e);
  auto split = split_rows(ds->rows, o.val_split, e);
  if (!split) return fail(2, e);
  if (split->train_rows < g.batch)
    return fail(2, fmt::format("the training set has {} rows, fewer than one batch of {} (use a smaller --batch{})",
                               split->train_rows, g.batch, o.val_split > 0 ? " or --val-split" : ""));

  Progress progress(o.progress, o.progress_out, g.train.epochs, batches_per_epoch(split->train_rows, g.batch));
  MetricsLog log;
  TrainResult res;
  // A log line; a failed write (a full disk) is a warning, once, and the log stops there:
  // the training and the final save go on.
  auto log_failed = [&](const std::string& le) {
    res.log_error = le;
    progress.message(fmt::format("kiln: warning: {}; the metrics log stops here (training goes on)", le));
  };
  auto log_line = [&](const std::string& line) {
    if (std::string le; !log.write(line, le)) log_failed(le);
  };
  auto log_close = [&] {
    if (std::string le; !log.close(le)) log_failed(le);
  };
  // The first run-time warning promoted by -Werror: the run stops after the flush.
  std::optional<RuntimeDiagnostic> promoted;
  // Prints, logs and hands on the monitors' new diagnostics.
  auto flush_monitor = [&](TrainResult& r) {
    if (!mon) return;
    for (auto& d : mon->take_new()) {
      if (d.diag.severity == Severity::error && d.diag.id != "non-finite" && !promoted) promoted = d;
      std::string text = mon->render(d.diag, o.color);
      while (!text.empty() && text.back() == '\n') text.pop_back();
      if (d.diag.severity == Severity::error && o.progress == ProgressMode::quiet) {
        fmt::print(o.progress_out, "{}\n", text);
        std::fflush(o.progress_out);
      } else {
        progress.message(text);
      }
      if (log.is_open()) log_line(diagnostic_line(d.diag, d.step, src.path()));
      if (o.on_runtime_diagnostic) o.on_runtime_diagnostic(d);
      r.runtime_diagnostics.push_back(std::move(d));
    }
  };

  // The checkpoint given with --load (its position: where the epochs and the shuffles
  // continue; its seed unless --seed), then the initial values, overwritten by its values.
  std::optional<SafetensorsFile> loaded;
  std::optional<TrainPosition> resumed;
  if (!o.load.empty()) {
    loaded = read_checkpoint(o.load, tg, e);
    if (!loaded || !read_position(*loaded, o.load, resumed, e)) return fail(2, e);
    if (resumed && !step.options.seed) g.train.seed = resumed->seed;
  }
  ValueMap values = initial_values(tg, g.train.seed);
  if (loaded && !restore_values(*loaded, o.load, tg, values, e)) return fail(2, e);
  // The health table's rows as "health" lines of the log (before it is closed).
  auto log_health = [&](int64_t step) {
    for (const ParamHealth& h : res.health) log_line(health_line(step, h.name, h.grad_norm, h.update_ratio, h.status));
  };
  // -Werror turned a run-time warning into an error: stop with the health table, the log
  // closed and nothing saved (the model has a problem the user asked to treat as fatal).
  auto stop_promoted = [&]() -> std::optional<TrainResult> {
    res.health = mon->health();
    if (promoted->step > 0 && !mon->health_table().empty()) progress.message(mon->health_table());
    if (promoted->step > 0) log_health(promoted->step);
    log_close();
    return fail(1, promoted->step == 0
                       ? fmt::format("training stopped before the first step: -Werror makes the run-time warning "
                                     "[{}] an error",
                                     promoted->diag.id)
                       : fmt::format("training stopped at step {}: -Werror makes the run-time warning [{}] an error",
                                     promoted->step, promoted->diag.id));
  };
  for (size_t k = 0; k < inputs->size(); ++k) {
    const InputSpec& in = (*inputs)[k];
    if (in.normalize) {
      Standardization st;
      bool from_file = loaded && loaded->find("__normalize__." + in.name + ".mean");
      if (from_file) {
        auto s = standardization_from(*loaded, o.load, in, e);
        if (!s) return fail(2, e);
        st = std::move(*s);
      } else {
        st = compute_standardization(*ds, k, 0, split->train_rows);
      }
      apply_standardization(*ds, k, st);
      res.normalization[in.name] = std::move(st);
    } else if (in.dtype != DType::i32 && in.width() > 1) {
      if (!mon) continue;
      if (auto m = data_scale_message(*ds, k, split->train_rows)) {
        SourceRange loc;
        for (NodeId id : g.inputs)
          if (g[id].name == in.name) loc = g[id].loc;
        mon->emit(Severity::warning, "data-scale", in.name, loc, *m,
                  {{"declare the input with 'normalize' (input " + in.name + " : ... normalize) so that every column "
                    "is standardised with the training rows' mean and std",
                    {}}},
                  0);
      }
    }
  }

  // Where the epochs start: 1, or after the --load checkpoint's position (before the
  // JIT compiles: nothing left to train is an error).
  const int64_t per_epoch = batches_per_epoch(split->train_rows, g.batch);
  auto start = start_point(resumed, g.train.epochs, per_epoch, o.load,
                           fmt::format("{} {}", step.options.epochs ? "--epochs" : "the train block's epochs =",
                                       g.train.epochs),
                           e);
  if (!start) return fail(2, e);
  res.first_epoch = start->epoch;
  progress.resume_after((start->epoch - 1) * per_epoch + start->step);

  // The JIT loads the module the pipeline generated (taken from the step).
  auto engine = make_engine(tg, std::move(step.module), o.engine, e);
  if (!engine) return fail(1, e);
  if (!engine->set_values(values, e)) return fail(1, e);
  RowEvaluator val_eval([&validation](int64_t batch, std::string& why) { return validation(batch, Goal::forward, why); },
                        o.engine);
  res.compile_s = step.seconds + seconds_since(t_compile) + engine->compile_seconds();

  // From here a signal stops the run at a step boundary (before: exit at once, nothing to lose).
  if (o.interrupt) o.interrupt->deferred = 1;
  if (!o.log.empty() && !log.open(o.log, e)) return fail(2, e);
  if (!o.save.empty() && !can_write(o.save, e)) return fail(2, e);  // before hours of training, not after
  flush_monitor(res);
  if (promoted) return stop_promoted();
  if (resumed)
    progress.message(fmt::format("resuming from {} after {}", o.load, describe(*resumed, per_epoch)));
  else if (loaded && loaded->metadata.count("kiln_model_hash"))
    progress.message(fmt::format("{} records no training position (checkpoint format 0): its params and state "
                                 "train epochs 1 to {}", o.load, g.train.epochs));

  res.model_name = g.model_name;
  res.train_rows = split->train_rows;
  res.val_rows = split->val_rows;
  res.batch = g.batch;
  NodeId counter = step_counter(tg);
  int64_t s0 = counter >= 0 && values.count(tg[counter].name) ? std::llround(values[tg[counter].name].data[0]) : 0;
  std::vector<std::string> names;
  for (auto& in : ds->inputs) names.push_back(in.name);
  std::vector<BatchBuffer> bufs;
  auto t_start = Clock::now();

  if (mon) {
    mon->bind(
        engine->metric_cells(mon->first_metric(), mon->width()),
        [&] {
          std::string se;  // (cannot fail after a step that succeeded)
          engine->settle_monitors(se);
        },
        engine->metric_row(mon->first_metric(), mon->width()));
    mon->set_learning_rate([&](int64_t step) { return scheduled_lr(tg.train.optimizer, tg.train.schedule, s0 + step - 1); });
  }
  // Batch k of an epoch's row order into bufs.
  auto gather = [&](const std::vector<int64_t>& order, int64_t k) {
    gather_batch(*ds, std::span<const int64_t>(order).subspan(size_t(k * g.batch), size_t(g.batch)), bufs);
  };
  // A step whose loss, gradients or updates are not finite (`bad`, of this run, in the
  // current epoch, whose batches from b0 this run trains, after its step `before`): back to
  // the last finite step, by replaying the epoch's earlier steps from its snapshot (the
  // engines are deterministic), and the op named by re-running the bad step with checks.
  auto stop_non_finite = [&](int64_t bad, int64_t before, int64_t epoch, const std::vector<int64_t>& order,
                             int64_t b0) -> std::optional<TrainResult> {
    engine->restore_snapshot();
    for (int64_t k = 0; k < bad - before - 1; ++k) {
      BatchResult again;
      gather(order, b0 + k);
      if (!engine->set_batch(names, bufs, e) || !engine->step(again, e)) return fail(1, e);
    }
    gather(order, b0 + bad - before - 1);
    ValueMap leaves = engine->values();
    for (size_t k = 0; k < names.size() && k < bufs.size(); ++k) leaves[names[k]] = batch_tensor(bufs[k]);
    std::string why;
    auto d = locate_non_finite(plain, leaves, &src, bad, epoch, why);
    if (!d) {
      d.emplace();
      d->severity = Severity::error;
      d->id = "non-finite";
      d->loc = tg.train.minimize_loc;
      d->message =
          fmt::format("the loss or a gradient became NaN or Inf at step {} (epoch {}); training stopped", bad, epoch);
      d->notes.push_back({why, {}});
    }
    mon->emit(d->severity, d->id, "step", d->loc, d->message, d->notes, bad);
    flush_monitor(res);
    res.health = mon->health();
    if (!mon->health_table().empty()) progress.message(mon->health_table());
    res.values = engine->values();
    log_health(bad - 1);
    log_close();
    if (!o.save.empty()) {
      TrainPosition at{epoch - 1, b0 + bad - 1 - before, g.train.seed, "non-finite"};
      if (!save_checkpoint(o.save, saved, res.values, res.normalization, e, &at)) return fail(2, e);
      progress.message(fmt::format("saved {} (the parameters of step {}, the last finite one)", o.save, bad - 1));
    }
    return fail(1, "");
  };
  // The monitors' per-step rules over the buffered steps (runtime/monitor.hpp), their
  // diagnostics printed; a value when the run stops here.
  auto check_monitor = [&](bool loss_finite, int64_t before, int64_t epoch, const std::vector<int64_t>& order,
                           int64_t b0) -> std::optional<std::optional<TrainResult>> {
    if (!loss_finite && mon->enabled("non-finite")) mon->unpush();  // this step is the last at most
    int64_t bad = mon->process();
    if (bad == 0 && !loss_finite && mon->enabled("non-finite")) bad = res.steps;
    if (bad > 0) return stop_non_finite(bad, before, epoch, order, b0);
    flush_monitor(res);
    if (promoted) return stop_promoted();
    return std::nullopt;
  };
  // A signal (SIGINT, SIGTERM) or the test hook, checked before each step: 0 to go on.
  auto stop_signal = [&]() -> int {
    if (o.interrupt && o.interrupt->signal) return o.interrupt->signal;
    return o.stop_after_steps > 0 && res.steps >= o.stop_after_steps ? SIGINT : 0;
  };
  // Stop before batch b of `epoch` (the run trained its batches from b0, after its step
  // `before`): the monitors' pending steps, the health table, the log's "interrupted" line,
  // and the checkpoint with its position, so that --load continues exactly here.
  auto stop_interrupted = [&](int sig, int64_t epoch, int64_t b, int64_t b0, int64_t before,
                              const std::vector<int64_t>& order) -> std::optional<TrainResult> {
    if (mon && res.steps > 0) {
      if (auto stop = check_monitor(true, before, epoch, order, b0)) return *stop;
      res.health = mon->health();
      if (!mon->health_table().empty()) progress.message(mon->health_table());
      log_health(res.steps);
    }
    res.time_s = seconds_since(t_start);
    res.compile_s += val_eval.compile_seconds();
    res.values = engine->values();
    TrainPosition at{epoch - 1, b, g.train.seed, "interrupted"};
    log_line(interrupted_line(signal_name(sig), at.epochs_done, at.steps_into_epoch, res.steps));
    log_close();
    std::string msg = fmt::format("interrupted ({}) ", signal_name(sig));
    if (res.steps == 0) {
      msg += "before the first step; nothing saved";
    } else if (o.save.empty()) {
      msg += fmt::format("after {}; nothing saved (no --save)", describe(at, per_epoch));
    } else {
      if (!save_checkpoint(o.save, saved, res.values, res.normalization, e, &at)) return fail(2, e);
      msg += fmt::format("after {}; saved {} (--load it to continue)", describe(at, per_epoch), o.save);
    }
    res.signal = sig;
    res.stop_message = std::move(msg);
    return res;
  };

  BatchResult r;
  for (int64_t epoch = start->epoch; epoch <= g.train.epochs; ++epoch) {
    auto t_epoch = Clock::now();
    progress.begin_epoch(epoch);
    auto order = epoch_order(split->train_rows, o.shuffle, g.train.seed, epoch);
    double loss_sum = 0;
    std::vector<double> metric_sums(g.train.metrics.size(), 0.0);
    double lr = 0;
    const int64_t before = res.steps;  // steps of earlier epochs
    const int64_t b0 = epoch == start->epoch ? start->step : 0;  // a resumed epoch continues where it stopped
    for (int64_t b = b0; b < per_epoch; ++b) {
      if (int sig = stop_signal()) return stop_interrupted(sig, epoch, b, b0, before, order);
      gather(order, b);
      if (!engine->set_batch(names, bufs, e)) return fail(1, e);
      // One snapshot per epoch (cheap): a non-finite step replays the epoch's earlier steps.
      if (mon && b == b0) engine->snapshot_values();
      if (!engine->step(r, e)) return fail(1, e);
      ++res.steps;
      double loss = r.loss.value_or(0);
      lr = scheduled_lr(tg.train.optimizer, tg.train.schedule, s0 + res.steps - 1);
      if (mon) {  // the step's monitored quantities into the monitor's buffer
        // (-Werror: every step, so that the run stops at the step of its first warning.)
        if (mon->push() || !std::isfinite(loss) || o.monitor_options.werror)
          if (auto stop = check_monitor(std::isfinite(loss), before, epoch, order, b0)) return *stop;
      }
      if (!std::isfinite(loss))
        return fail(1, fmt::format("training diverged: the loss is {} at epoch {}, step {} (try a smaller --lr)",
                                   loss, epoch, res.steps));
      res.step_losses.push_back(loss);
      loss_sum += loss;
      for (size_t k = 0; k < metric_sums.size() && k < r.metrics.size(); ++k) metric_sums[k] += r.metrics[k];
      if (o.log_every > 0 && res.steps % o.log_every == 0) log_line(step_line(epoch, res.steps, loss, lr));
      if (o.progress == ProgressMode::live) {
        std::vector<double> means(metric_sums);
        for (double& m : means) m /= double(b + 1 - b0);
        progress.step(b + 1, loss_sum / double(b + 1 - b0), named(tg, means));
      } else {
        progress.step(b + 1, 0, {});
      }
    }
    // The epoch's remaining steps through the monitors before its line.
    if (mon)
      if (auto stop = check_monitor(true, before, epoch, order, b0)) return *stop;
    EpochRecord rec;
    rec.epoch = epoch;
    rec.step = res.steps;
    rec.loss = loss_sum / double(per_epoch - b0);  // (a resumed epoch: the means of its steps in this run)
    for (double& m : metric_sums) m /= double(per_epoch - b0);
    rec.metrics = named(tg, metric_sums);
    if (split->val_rows > 0) {
      RowsResult vr;
      if (!val_eval.run(*ds, split->train_rows, ds->rows, engine->values(), false, vr, e)) return fail(1, e);
      rec.val_loss = vr.loss;
      rec.val_metrics = vr.metrics;
    }
    rec.time_s = seconds_since(t_epoch);
    log_line(epoch_line(rec));
    progress.end_epoch(rec);
    double epoch_loss = rec.loss;
    res.epochs.push_back(std::move(rec));
    // The epoch's rules after its line, so that the output reads in order.
    if (mon) {
      mon->on_epoch(epoch, epoch_loss, res.steps, lr);
      flush_monitor(res);
      if (promoted) return stop_promoted();
    }
  }
  res.time_s = seconds_since(t_start);
  res.compile_s += val_eval.compile_seconds();
  res.values = engine->values();
  if (mon) {
    mon->on_end(res.steps);
    flush_monitor(res);
    if (promoted) return stop_promoted();
    res.health = mon->health();
    log_health(res.steps);
  }
  log_close();
  TrainPosition end{g.train.epochs, 0, g.train.seed, "end"};
  if (!o.save.empty() && !save_checkpoint(o.save, saved, res.values, res.normalization, e, &end)) return fail(2, e);

  TrainSummary sum;
  sum.epochs = g.train.epochs - start->epoch + 1;
  sum.steps = res.steps;
  sum.time_s = res.time_s;
  sum.compile_s = res.compile_s;
  sum.arena_bytes = engine->arena_bytes();
  sum.last = res.epochs.empty() ? nullptr : &res.epochs.back();
  sum.engine = std::string(engine->kind());
  progress.summary(sum);
  if (mon && !mon->health_table().empty()) progress.message(mon->health_table());
  if (!o.save.empty()) progress.message(fmt::format("saved {}", o.save));
  return res;
}

}  // namespace kiln
