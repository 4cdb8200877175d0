// Prediction and evaluation from a checkpoint (runtime/predict.hpp).
#include "runtime/predict.hpp"
#include "runtime/evaluator.hpp"
#include "runtime/model.hpp"
#include <fmt/format.h>

namespace kiln {

std::vector<std::string> output_columns(const std::string& name, int64_t width) {
  if (width == 1) return {name};
  std::vector<std::string> out;
  for (int64_t k = 0; k < width; ++k) out.push_back(fmt::format("{}_{}", name, k));
  return out;
}

std::optional<PredictResult> run_predict(const CompileResult& model, const ForwardBuilder& build,
                                         const PredictOptions& o, RunError& err) {
  auto fail = [&](int code, std::string msg) -> std::optional<PredictResult> {
    err = {code, std::move(msg)};
    return std::nullopt;
  };
  const Graph& g = model.lowered;
  if (o.want_outputs && g.outputs.empty()) return fail(1, fmt::format("model '{}' has no outputs to predict", g.model_name));
  if (!o.want_outputs && !g.train.minimize && g.train.metrics.empty())
    return fail(1, fmt::format("model '{}' has no loss or metrics to evaluate (no train block)", g.model_name));
  std::string e;
  auto inputs = input_specs(g, e);
  if (!inputs) return fail(1, e);

  std::vector<std::string> optional;
  if (!o.require_labels) optional = inputs_not_needed_by_outputs(g);
  auto ds = load_dataset(o.data, *inputs, e, optional);
  if (!ds) return fail(2, e);
  PredictResult res;
  res.model_name = g.model_name;
  res.rows = ds->rows;
  res.has_labels = ds->inputs.size() == inputs->size() && (g.train.minimize || !g.train.metrics.empty());
  for (auto [k, classes] : label_classes(g, *inputs)) {
    int64_t at = ds->input_index((*inputs)[k].name);
    if (at >= 0 && !check_label_range(*ds, size_t(at), classes, e)) return fail(2, e);
  }

  auto file = read_checkpoint(o.params, g, e);
  if (!file) return fail(2, e);
  ValueMap values = initial_values(g, g.train.seed);
  if (!restore_values(*file, o.params, g, values, e)) return fail(2, e);
  auto norm = restore_normalization(*file, o.params, ds->inputs, e);
  if (!norm) return fail(2, e);
  for (auto& [name, st] : *norm) apply_standardization(*ds, size_t(ds->input_index(name)), st);

  const Goal goal = res.has_labels ? Goal::forward : Goal::outputs;
  auto chunk = [&build, goal](int64_t batch, std::string& why) { return build(batch, goal, why); };
  RowEvaluator ev(chunk, o.engine, o.max_chunk);
  RowsResult rr;
  if (!ev.run(*ds, 0, ds->rows, values, o.want_outputs, rr, e)) return fail(1, e);
  if (res.has_labels) {
    res.loss = rr.loss;
    res.metrics = rr.metrics;
  }
  res.skipped_outputs = rr.skipped_outputs;
  if (o.want_outputs) {
    if (rr.outputs.empty())
      return fail(1, fmt::format("no output of model '{}' has one row per sample (the batch dim first)", g.model_name));
    std::vector<int64_t> widths;
    for (auto& [name, t] : rr.outputs) {
      int64_t w = t.shape.size() > 1 ? num_elements(Shape(t.shape.begin() + 1, t.shape.end())) : 1;
      widths.push_back(w);
      for (auto& c : output_columns(name, w)) res.columns.push_back(c);
    }
    res.table.reserve(size_t(res.rows) * res.columns.size());
    for (int64_t r = 0; r < res.rows; ++r)
      for (size_t k = 0; k < rr.outputs.size(); ++k) {
        const auto& d = rr.outputs[k].second.data;
        res.table.insert(res.table.end(), d.begin() + r * widths[k], d.begin() + (r + 1) * widths[k]);
      }
  }
  return res;
}

}  // namespace kiln
