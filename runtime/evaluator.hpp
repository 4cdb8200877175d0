// Forward passes over a range of dataset rows, for validation, `predict` and `eval`:
// the forward graph is built (compiled by the caller's builder) per chunk size, and its
// engine cached.
#pragma once
#include "runtime/compile.hpp"
#include "runtime/engine.hpp"
#include <functional>
#include <map>

namespace kiln {

// The loss, metrics and outputs over many rows. Loss and metrics are the means over the
// chunks weighted by their rows (exact when all rows fit one chunk); outputs are the
// per-row outputs concatenated along the rows (shape [rows] + row shape).
struct RowsResult {
  std::optional<double> loss;
  std::vector<std::pair<std::string, double>> metrics;
  std::vector<std::pair<std::string, Tensor>> outputs;  // per-row outputs only
  std::vector<std::string> skipped_outputs;             // outputs without the batch dim first
};

// The forward graph of the model with the batch dim set to `batch`, compiled to the stage
// the engine needs (a ForwardBuilder of runtime/compile.hpp with its goal chosen).
using ForwardGraphBuilder = std::function<std::optional<CompileResult>(int64_t batch, std::string& err)>;

class RowEvaluator {
 public:
  // Rows are evaluated in chunks of at most `max_chunk` rows (and one smaller chunk for
  // the remainder), so at most two engines are built.
  RowEvaluator(ForwardGraphBuilder build, EngineOptions opts, int64_t max_chunk = 4096)
      : build_(std::move(build)), opts_(std::move(opts)), max_chunk_(max_chunk) {}
  // Runs rows [begin, end) of `ds` with the given params/consts. Inputs of the graph the
  // dataset lacks (labels, for predict) are fed zeros: the caller checks nothing needs them.
  bool run(const Dataset& ds, int64_t begin, int64_t end, const ValueMap& values, bool want_outputs, RowsResult& out,
           std::string& err);
  double compile_seconds() const { return compile_s_; }
  std::optional<int64_t> arena_bytes() const;

 private:
  Engine* engine_for(int64_t batch, std::string& err);
  ForwardGraphBuilder build_;
  EngineOptions opts_;
  int64_t max_chunk_;
  std::map<int64_t, std::unique_ptr<Engine>> engines_;
  double compile_s_ = 0;
};

}  // namespace kiln
