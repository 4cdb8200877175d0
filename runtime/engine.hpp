// The execution engine behind `kiln train`, `predict` and `eval`: one graph (a training
// step or a forward pass) that can run on the reference interpreter or, later, the JIT.
#pragma once
#include "ir/graph.hpp"
#include "ir/interpreter.hpp"
#include "runtime/dataset.hpp"
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiln {

namespace backend {
class GeneratedModule;
}

// What one run of the graph on a batch computed. `loss` is the sum of the loss node's
// elements (the loss is a scalar in practice); `metrics` follow the model's own metrics
// in g.train.metrics (each the mean of its elements; the run-time monitors' quantities
// after them are read from Engine::metric_cells); `outputs` follow g.outputs, filled only
// when asked for. Engines reuse the vectors' storage of the BatchResult they are given.
struct BatchResult {
  std::optional<double> loss;
  std::vector<double> metrics;
  std::vector<Tensor> outputs;
};

struct EngineOptions {
  std::string kind = "interp";  // "interp" or "jit"
  int threads = 0;              // the jit's thread pool (backend/thread_pool.hpp); 0: all cores. The interpreter is single-threaded
  Precision precision = Precision::f32;
};

// One graph bound to an engine. The graph is either a training graph (with g.updates:
// step() runs forward, backward and the update) or a forward graph (forward() only).
// Usage: set_values() once with every param, const and state, then per batch set_batch()
// and step() or forward(); values() reads the params/consts/states back (for checkpoints
// and to copy trained params into a forward engine).
class Engine {
 public:
  virtual ~Engine() = default;
  virtual std::string_view kind() const = 0;
  virtual const Graph& graph() const = 0;

  // Sets leaves by name (params, consts, states; names absent from the graph are
  // ignored). Fails, naming the leaf, when a value has the wrong shape.
  virtual bool set_values(const ValueMap& values, std::string& err) = 0;
  // The current params, consts and states by name.
  virtual ValueMap values() const = 0;

  // The next batch: one buffer per entry of `names` (the graph's input names, each of
  // shape [batch] + row shape, in the input's dtype). Every input of the graph must be given.
  virtual bool set_batch(const std::vector<std::string>& names, const std::vector<BatchBuffer>& inputs,
                         std::string& err) = 0;

  // Training graphs: forward, backward and update on the current batch. The loss and
  // metrics are those of the forward pass, before the update.
  virtual bool step(BatchResult& out, std::string& err) = 0;
  // Forward pass on the current batch: loss (when the graph has one), metrics and, when
  // `want_outputs`, every output. Params and states are not changed.
  virtual bool forward(BatchResult& out, bool want_outputs, std::string& err) = 0;

  // One cell per metric first..first+n-1 of g.train.metrics, holding the metric's value
  // (as a float) after each step() or forward(): the run-time monitors read theirs there
  // after every step. The cells live as long as the engine.
  virtual std::vector<const float*> metric_cells(size_t first, size_t n) = 0;
  // Those cells as one row when they are n consecutive floats that may be read in 16-byte
  // pieces (up to 3 floats past the last: the JIT's monitor row, backend/buffers.cpp), so
  // that the monitors copy a step's quantities with a few vector moves; else nullptr.
  virtual const float* metric_row(size_t first, size_t n) { return nullptr; }
  // Recomputes, from the current states, the metrics computed from states alone (the
  // monitors' lagged sums, passes/monitor_ir.hpp): after a step they held the previous
  // step's norms; after this call, that step's own. Nothing else changes.
  virtual bool settle_monitors(std::string& err) = 0;

  // For the summary: seconds the engine spent compiling (0 for the interpreter; the JIT:
  // loading its module, and generating it when it was given none) and the size of the
  // intermediate-value arena in bytes, when the engine plans one.
  virtual double compile_seconds() const { return 0; }
  virtual std::optional<int64_t> arena_bytes() const { return std::nullopt; }

  // For the run-time monitors: remember the current params, consts and states, and go
  // back to them (after a step that produced NaN or Inf). The default copies values();
  // engines override it with a cheaper copy.
  virtual void snapshot_values() { snapshot_ = values(); }
  virtual void restore_snapshot() {
    std::string err;
    set_values(snapshot_, err);
  }

 private:
  ValueMap snapshot_;
};

// The reference interpreter as an engine (runtime/engine_interp.cpp).
std::unique_ptr<Engine> make_interp_engine(Graph g, const EngineOptions& opts);

// The LLVM JIT (backend/codegen.hpp) as an engine (runtime/engine_jit.cpp): it loads
// `module`, the graph's module from the compile pipeline (stage llvm), or compiles the
// graph when there is none. nullptr with a message when it cannot.
std::unique_ptr<Engine> make_jit_engine(Graph g, std::unique_ptr<backend::GeneratedModule> module,
                                        const EngineOptions& opts, std::string& err);

// Engine kinds that can be built in this binary ("interp", and "jit" once the backend
// provides it), and the default for --engine.
std::vector<std::string> available_engines();
std::string default_engine();

// Builds an engine of opts.kind for `g` (runtime/engine.cpp), the JIT from `module` when
// given (the compile pipeline's, runtime/compile.hpp: nothing is compiled twice). Errors:
// an unknown kind, or what the engine's compiler reports.
std::unique_ptr<Engine> make_engine(Graph g, std::unique_ptr<backend::GeneratedModule> module,
                                    const EngineOptions& opts, std::string& err);
std::unique_ptr<Engine> make_engine(Graph g, const EngineOptions& opts, std::string& err);

}  // namespace kiln
