// `kiln predict` and `kiln eval` without the command line: the forward graph run over
// every row of a dataset with the params (and normalisation statistics) of a checkpoint.
#pragma once
#include "runtime/trainer.hpp"

namespace kiln {

struct PredictOptions {
  std::vector<std::string> data;
  std::string params;          // the checkpoint
  EngineOptions engine;
  bool want_outputs = true;    // predict: the outputs; eval: only loss and metrics
  bool require_labels = false; // eval: every input must be in the data
  int64_t max_chunk = 4096;    // rows per forward pass
};

struct PredictResult {
  std::string model_name;
  int64_t rows = 0;
  bool has_labels = false;  // the data held every input: loss and metrics were computed
  std::optional<double> loss;
  std::vector<std::pair<std::string, double>> metrics;
  // The outputs as a table: one column per value of a row ("prob", or "probabilities_0"
  // .. "probabilities_2" for wider outputs), row-major.
  std::vector<std::string> columns;
  std::vector<double> table;
  std::vector<std::string> skipped_outputs;  // outputs without the batch dim first
};

// Column names of an output whose rows hold `width` values: NAME, or NAME_0..NAME_{width-1}.
std::vector<std::string> output_columns(const std::string& name, int64_t width);

// The model's forward graph compiled to stage opt (compile(), Goal::forward for eval,
// Goal::outputs for predict: its memory checked) gives the inputs, params and checkpoint;
// `build` compiles the forward graph of each chunk of rows. On failure returns nullopt with
// `err` set.
std::optional<PredictResult> run_predict(const CompileResult& model, const ForwardBuilder& build,
                                         const PredictOptions& opts, RunError& err);

}  // namespace kiln
