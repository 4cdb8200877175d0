// The training loop (runtime/trainer.hpp).
#include "runtime/trainer.hpp"
#include "frontend/lower.hpp"
#include "runtime/evaluator.hpp"
#include "runtime/model.hpp"
#include <chrono>
#include <cmath>
#include <fmt/format.h>

namespace kiln {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string first_error(const Diagnostics& d) {
  for (auto& x : d.all())
    if (x.severity == Severity::error) return x.message;
  return "unknown error";
}

// Lowers the model with the batch dim set to `batch` and turns it into a forward graph.
ForwardGraphBuilder forward_builder(const SourceFile& src) {
  return [&src](int64_t batch, std::string& err) -> std::optional<Graph> {
    Diagnostics d(&src);
    LowerOptions lo;
    lo.batch = batch;
    auto g = compile_source(src, d, lo);
    if (!g || d.has_errors() || !make_forward_graph(*g, d, false)) {
      err = fmt::format("cannot build the forward graph with batch {}: {}", batch, first_error(d));
      return std::nullopt;
    }
    return g;
  };
}

std::vector<std::pair<std::string, double>> named(const Graph& g, const std::vector<double>& v) {
  std::vector<std::pair<std::string, double>> out;
  for (size_t k = 0; k < g.train.metrics.size() && k < v.size(); ++k) out.emplace_back(g.train.metrics[k].first, v[k]);
  return out;
}

}  // namespace

std::optional<TrainResult> train_model(const SourceFile& src, const TrainOptions& o, Diagnostics& diags,
                                       RunError& err) {
  auto fail = [&](int code, std::string msg) -> std::optional<TrainResult> {
    err = {code, std::move(msg)};
    return std::nullopt;
  };
  auto t_compile = Clock::now();
  LowerOptions lo;
  lo.batch = o.batch;
  auto lowered = compile_source(src, diags, lo);
  if (!lowered || diags.has_errors()) return fail(1, "");
  Graph g = std::move(*lowered);
  if (!g.train.present || !g.train.minimize) {
    diags.error("train", g.train.loc, "the model has no train block with 'minimize LOSS': nothing to train");
    return fail(1, "");
  }
  if (o.epochs) g.train.epochs = *o.epochs;
  if (o.seed) g.train.seed = *o.seed;
  if (o.lr) g.train.optimizer.lr = *o.lr;

  Graph tg = g;
  if (!make_training_graph(tg, diags)) return fail(1, "");
  if (o.on_compiled) o.on_compiled(diags);

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

  // Initial values, then the checkpoint given with --load.
  ValueMap values;
  std::optional<SafetensorsFile> loaded;
  TrainResult res;
  values = initial_values(tg, g.train.seed);
  if (!o.load.empty()) {
    loaded = read_checkpoint(o.load, tg, e);
    if (!loaded || !restore_values(*loaded, o.load, tg, values, e)) return fail(2, e);
  }
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
      if (auto m = data_scale_message(*ds, k, split->train_rows))
        progress.message(fmt::format("warning: {} (declare the input with 'normalize') [data-scale]", *m));
    }
  }

  auto engine = make_engine(tg, o.engine, e);
  if (!engine) return fail(1, e);
  if (!engine->set_values(values, e)) return fail(1, e);
  RowEvaluator val_eval(forward_builder(src), o.engine);
  res.compile_s = seconds_since(t_compile) + engine->compile_seconds();

  MetricsLog log;
  if (!o.log.empty() && !log.open(o.log, e)) return fail(2, e);

  res.model_name = g.model_name;
  res.train_rows = split->train_rows;
  res.val_rows = split->val_rows;
  res.batch = g.batch;
  const int64_t per_epoch = batches_per_epoch(split->train_rows, g.batch);
  NodeId counter = step_counter(tg);
  int64_t s0 = counter >= 0 && values.count(tg[counter].name) ? std::llround(values[tg[counter].name].data[0]) : 0;
  std::vector<std::string> names;
  for (auto& in : ds->inputs) names.push_back(in.name);
  std::vector<BatchBuffer> bufs;
  auto t_start = Clock::now();

  for (int64_t epoch = 1; epoch <= g.train.epochs; ++epoch) {
    auto t_epoch = Clock::now();
    progress.begin_epoch(epoch);
    auto order = epoch_order(split->train_rows, o.shuffle, g.train.seed, epoch);
    double loss_sum = 0;
    std::vector<double> metric_sums(tg.train.metrics.size(), 0.0);
    for (int64_t b = 0; b < per_epoch; ++b) {
      gather_batch(*ds, std::span<const int64_t>(order).subspan(size_t(b * g.batch), size_t(g.batch)), bufs);
      BatchResult r;
      if (!engine->set_batch(names, bufs, e) || !engine->step(r, e)) return fail(1, e);
      ++res.steps;
      double loss = r.loss.value_or(0);
      if (!std::isfinite(loss))
        return fail(1, fmt::format("training diverged: the loss is {} at epoch {}, step {} (try a smaller --lr)",
                                   loss, epoch, res.steps));
      res.step_losses.push_back(loss);
      loss_sum += loss;
      for (size_t k = 0; k < metric_sums.size() && k < r.metrics.size(); ++k) metric_sums[k] += r.metrics[k];
      if (o.log_every > 0 && res.steps % o.log_every == 0) {
        double lr = scheduled_lr(tg.train.optimizer, tg.train.schedule, s0 + res.steps - 1);
        if (!log.write(step_line(epoch, res.steps, loss, lr), e)) return fail(2, e);
      }
      if (o.progress == ProgressMode::live) {
        std::vector<double> means(metric_sums);
        for (double& m : means) m /= double(b + 1);
        progress.step(b + 1, loss_sum / double(b + 1), named(tg, means));
      } else {
        progress.step(b + 1, 0, {});
      }
    }
    EpochRecord rec;
    rec.epoch = epoch;
    rec.step = res.steps;
    rec.loss = loss_sum / double(per_epoch);
    for (double& m : metric_sums) m /= double(per_epoch);
    rec.metrics = named(tg, metric_sums);
    if (split->val_rows > 0) {
      RowsResult vr;
      if (!val_eval.run(*ds, split->train_rows, ds->rows, engine->values(), false, vr, e)) return fail(1, e);
      rec.val_loss = vr.loss;
      rec.val_metrics = vr.metrics;
    }
    rec.time_s = seconds_since(t_epoch);
    if (!log.write(epoch_line(rec), e)) return fail(2, e);
    progress.end_epoch(rec);
    res.epochs.push_back(std::move(rec));
  }
  res.time_s = seconds_since(t_start);
  res.compile_s += val_eval.compile_seconds();
  res.values = engine->values();
  if (!log.close(e)) return fail(2, e);
  if (!o.save.empty() && !save_checkpoint(o.save, tg, res.values, res.normalization, e)) return fail(2, e);

  TrainSummary sum;
  sum.epochs = g.train.epochs;
  sum.steps = res.steps;
  sum.time_s = res.time_s;
  sum.compile_s = res.compile_s;
  sum.arena_bytes = engine->arena_bytes();
  sum.last = res.epochs.empty() ? nullptr : &res.epochs.back();
  sum.engine = std::string(engine->kind());
  progress.summary(sum);
  if (!o.save.empty()) progress.message(fmt::format("saved {}", o.save));
  return res;
}

}  // namespace kiln
