// The run-time monitors of `kiln train` (DIAGNOSTICS.md, run-time table): rules evaluated
// over the per-step quantities that passes/monitor_ir.hpp adds to the training graph.
#pragma once
#include "ir/diagnostics.hpp"
#include "ir/graph.hpp"
#include "ir/tensor.hpp"
#include "passes/monitor_ir.hpp"
#include "runtime/engine.hpp"
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace kiln {

// Thresholds and windows (docs/checks/<id>.md).
struct MonitorThresholds {
  double frozen_ratio = 1e-7;     // frozen-param: ||new - w|| / ||w|| below this ...
  int64_t frozen_window = 20;     // ... for this many consecutive steps (or the whole run if shorter)
  double vanishing_ratio = 1e-4;  // vanishing-gradient: epoch-mean grad norm <= this x the largest
  double exploding_factor = 1000; // exploding-gradient: grad norm > this x the median of its window ...
  size_t exploding_history = 100; // ... over the last this-many steps ...
  size_t exploding_min_history = 10;  // ... once at least this many are known
  double dead_relu_fraction = 0.9;    // dead-relu: zero outputs over an epoch above this
  int64_t plateau_window = 5;         // loss-plateau: the best epoch loss of the last 5 epochs ...
  double plateau_rel = 1e-4;          // ... improved on the best before them by less than this (relative)
  double plateau_start_fraction = 0.9;  // ... while that best is still above this x the first epoch's loss
  int64_t diverging_window = 3;       // loss-diverging: the epoch loss grew over 3 epochs in a row ...
  double diverging_factor = 1.5;      // ... to more than this x the best epoch loss so far, giving back
                                      // more than half of the improvement from the first epoch to the best
};

// The run-time monitors' ids, in the order of DIAGNOSTICS.md's run-time table.
const std::vector<std::string>& monitor_ids();
bool is_monitor_id(std::string_view id);

// The user's control over the monitors (docs/checks/runtime.md): -Wno-<id> turns one off,
// -W<id> back on (the last option for an id wins), -Werror makes their warnings errors
// that stop training; a `# kiln: ignore[<id>]` comment on the line a warning points at
// (read from the Monitor's source) silences it there.
struct MonitorOptions {
  std::set<std::string> disabled;
  bool werror = false;
};
// Applies one warning option ("-Werror", "-W<id>", "-Wno-<id>") to `o`. Returns true when
// it names a run-time monitor; other ids and malformed options are left to the static
// checks' parser (apply_warning_option), which rejects the unknown ones.
bool apply_monitor_option(std::string_view option, MonitorOptions& o);

// A run-time diagnostic with the step (of this run, from 1) it was found at.
struct RuntimeDiagnostic {
  Diagnostic diag;
  int64_t step = 0;
};

// Per-param figures of the last finite step, for the training-health table.
struct ParamHealth {
  std::string name;
  double grad_norm = 0, update_ratio = 0;
  std::string status = "ok";
};

class Monitor {
 public:
  Monitor(const Graph& tg, MonitorPlan plan, const SourceFile* src, MonitorThresholds t = {},
          MonitorOptions opts = {});

  // Whether the monitor `id` is on (not turned off with -Wno-<id>).
  bool enabled(std::string_view id) const { return !opts_.disabled.count(std::string(id)); }

  // Whether the step's loss, every gradient and every update are finite (a gradient
  // norm beyond the f32 range counts as non-finite).
  bool step_finite(const BatchResult& r) const;
  // After a finite step: `step` counts the steps of this run from 1; lr is the step's.
  void on_step(const BatchResult& r, int64_t step, int64_t epoch, double lr);
  // After an epoch: its mean loss.
  void on_epoch(int64_t epoch, double loss, int64_t step, double lr);
  // At the end of the run (frozen params of runs shorter than the window).
  void on_end(int64_t step, double lr);

  // A located diagnostic of the monitors not tied to the graph's quantities (data-scale,
  // non-finite); added once per id+subject like the others. Every monitor reports
  // through it: a disabled id, or a warning whose line carries an ignore comment for its
  // id, is dropped (returns false); under -Werror a warning becomes an error.
  bool emit(Severity s, const std::string& id, const std::string& subject, SourceRange loc, std::string message,
            std::vector<DiagNote> notes, int64_t step);
  // Diagnostics found since the last call.
  std::vector<RuntimeDiagnostic> take_new();
  const std::vector<RuntimeDiagnostic>& all() const { return all_; }
  std::string render(const Diagnostic& d, bool color = false) const { return render_.render(d, color); }

  std::vector<ParamHealth> health() const;
  // The table printed at the end of training.
  std::string health_table() const;

  const MonitorPlan& plan() const { return plan_; }

 private:
  struct ParamState {
    double grad_norm = 0, ratio = 0, lr_grad = 0;
    int64_t frozen_run = 0;
    std::vector<double> window;  // the last exploding_history grad norms, a ring (never NaN:
    size_t head = 0, count = 0;  // on_step takes sqrt(max(0, x))); the oldest's slot; how many
    double window_min = 0;       // their minimum
    double epoch_grad_sum = 0;
    int64_t epoch_steps = 0;
  };
  double metric(const BatchResult& r, int i) const;
  void push_norm(ParamState& s, double gn) const;  // into the exploding-gradient window
  std::string source_text(SourceRange r) const;
  void frozen(size_t k, int64_t steps, int64_t step, double lr);

  const Graph& g_;
  MonitorPlan plan_;
  const SourceFile* src_;
  MonitorThresholds t_;
  MonitorOptions opts_;
  Diagnostics render_;
  std::vector<ParamState> ps_;
  std::vector<double> relu_sum_;
  int64_t relu_steps_ = 0, total_steps_ = 0;
  std::vector<double> epoch_losses_;
  std::set<std::string> fired_;  // id + "/" + subject
  std::map<std::string, std::string> status_;  // param name -> status
  std::vector<RuntimeDiagnostic> all_;
  size_t taken_ = 0;
  std::vector<double> scratch_;  // a copy of a window, for its median
};

// Re-runs one step on the reference interpreter with every node checked: the first node
// (in topological order) whose value has a NaN or Inf while all its inputs are finite,
// as an error diagnostic "non-finite" at that node's source range with the user's
// expression. `leaves` holds the params, consts and states before the step and the
// batch's inputs. nullopt (with err) when the interpreter fails or finds no such node.
std::optional<Diagnostic> locate_non_finite(const Graph& g, const ValueMap& leaves, const SourceFile* src,
                                            int64_t step, int64_t epoch, std::string& err);

// A batch buffer as a tensor (for the interpreter).
Tensor batch_tensor(const BatchBuffer& b);

// `{"kind":"diagnostic","id":...,"severity":...,"message":...,"step":...,"file":...,"line":...,"column":...}`
std::string diagnostic_line(const Diagnostic& d, int64_t step, const std::string& file);

}  // namespace kiln
