// The run-time monitors of `kiln train` (DIAGNOSTICS.md, run-time table): the Monitor buffers
// the per-step quantities that passes/monitor_ir.hpp adds to the training graph and runs the
// rules of the catalogue (runtime/monitors/rule.hpp, one file per rule) over them.
#pragma once
#include "ir/diagnostics.hpp"
#include "ir/graph.hpp"
#include "ir/tensor.hpp"
#include "passes/monitor_ir.hpp"
#include "runtime/engine.hpp"
#include "runtime/monitors/rule.hpp"
#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
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

// The run-time monitors' ids, in the order of DIAGNOSTICS.md's run-time table (the
// catalogue's, runtime/monitors/catalogue.cpp).
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

// The text of a source range, its lines joined by a space; "" without a source.
std::string source_text(const SourceFile* src, SourceRange r);

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

// The monitors of one run. After each step push() copies the step's monitored
// quantities (MonitorPlan's metrics, as floats, from the engine's cells) into a row of a
// buffer; process() (runtime/monitor_steps.cpp), called when push() says the buffer is full,
// at the end of every epoch and when the loss is not finite, moves the rows into one column
// per quantity and runs the rules' per-step hooks over the buffered steps (vector loops over
// each param's columns). A step then costs the monitors a copy of a few floats into one
// cache line (docs/checks/runtime.md, "Cost"). on_epoch() and on_end() run the rules' other
// hooks. The rules are the catalogue's (runtime/monitors/rule.hpp), each a file of
// runtime/monitors/. Diagnostics carry the step they were found at.
class Monitor {
 public:
  Monitor(const Graph& tg, MonitorPlan plan, const SourceFile* src, MonitorThresholds t = {},
          MonitorOptions opts = {});

  // Whether the monitor `id` is on (not turned off with -Wno-<id>).
  bool enabled(std::string_view id) const { return !opts_.disabled.count(std::string(id)); }
  // The monitored quantities of a step: `width()` metrics of the graph from index
  // `first_metric()` (MonitorPlan's indices minus first_metric() are their columns).
  size_t first_metric() const { return plan_.user_metrics; }
  size_t width() const { return width_; }
  // Where push() reads them: one cell per quantity (Engine::metric_cells) or, when the
  // engine has them as one row (Engine::metric_row), that row; and how the lagged
  // quantities' cells get the last step's values (Engine::settle_monitors; needed when
  // the plan has lagged params).
  void bind(std::vector<const float*> cells, std::function<void()> settle = {}, const float* row = nullptr) {
    cells_ = std::move(cells);
    cells_.resize(std::min(cells_.size(), width_));
    settle_ = std::move(settle);
    row_src_ = cells_.size() == width_ ? row : nullptr;
  }
  // After a step: copies its quantities into the next row (the lagged ones are the
  // previous step's, passes/monitor_ir.hpp). True when the buffer is full: call
  // process() before the next step.
  bool push() {
    // (At most kBatch rows: a caller that pushes on without process() overwrites the last.)
    float* dst = rows_.data() + size_t(std::min(pushed_ - processed_, kBatch)) * rstride_;
    if (row_src_)
      for (size_t i = 0; i < rstride_; i += 4) std::memcpy(dst + i, row_src_ + i, 4 * sizeof(float));
    else
      for (size_t k = 0; k < cells_.size(); ++k) dst[k] = *cells_[k];
    next_row_ = false;
    return ++pushed_ - processed_ >= kBatch;
  }
  // Takes back the last push() (a step whose loss is not finite: nothing of it counts;
  // its row keeps the lagged quantities of the step before).
  void unpush() {
    if (pushed_ == processed_) return;
    --pushed_;
    next_row_ = true;
  }
  // Runs the rules' per-step hooks over the steps pushed since the last call: non-finite's
  // cut, then per param frozen-param, vanishing-gradient's sums and exploding-gradient, then
  // dead-relu's sums (their diagnostics in step order). Returns the first step whose
  // gradient or update norm is not finite (NaN, Inf, or beyond the float range; that step
  // and later ones are dropped: the run stops there), else 0.
  int64_t process();
  // After an epoch, its steps processed: its mean loss; the rules' epoch hooks
  // (vanishing-gradient, dead-relu, loss-plateau, loss-diverging).
  void on_epoch(int64_t epoch, double loss, int64_t step, double lr);
  // At the end of the run, every step processed (frozen params of runs shorter than the window).
  void on_end(int64_t step);

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

  // Per param, the last processed step's figures.
  std::vector<ParamHealth> health() const;
  // The table printed at the end of training.
  std::string health_table() const;

  const MonitorPlan& plan() const { return plan_; }

  static constexpr int64_t kBatch = 512;  // steps buffered between process() calls, at most

  // What the rules (runtime/monitors/) see besides emit() and plan().
  const Graph& graph() const { return g_; }
  const MonitorThresholds& thresholds() const { return t_; }
  // The learning rate of a step of this run (from 1), as the step computed it (its column,
  // MonitorPlan::lr): a step being processed or one of the window before them (the last
  // processed step included); 0 for others, or when the graph has no learning-rate cell.
  double lr_at(int64_t step) const;
  // The source text of a range (its lines joined by a space), "" without a source.
  std::string source_text(SourceRange r) const { return kiln::source_text(src_, r); }
  // Whether a diagnostic of that id and subject was emitted (or dropped as disabled or ignored).
  bool fired(std::string_view id, std::string_view subject) const {
    return fired_.count(std::string(id) + "/" + std::string(subject)) > 0;
  }
  // A param's status in the health table: the latest step's event wins (process() finds a
  // block's events param by param, rule by rule, not in step order) ...
  void set_status(const std::string& param, const char* text, int64_t step) {
    Status& s = status_[param];
    if (step < s.step) return;
    s = {text, step};
  }
  // ... or, when it has none yet, a status that does not replace another (vanishing).
  void set_status_if_ok(const std::string& param, const char* text) {
    Status& s = status_[param];
    if (s.text.empty() || s.text == "ok") s.text = text;
  }
  // Param k's squared gradient norm at the last processed step.
  double last_grad_sq(size_t k) const { return ps_[k].grad_sq; }
  // Steps of this run processed so far.
  int64_t processed() const { return processed_; }
  // Where a diagnostic about the loss points: the `minimize` line.
  SourceRange loss_loc() const;
  // The epoch losses so far (on_epoch's), and the smallest up to each epoch.
  const std::vector<double>& epoch_losses() const { return epoch_losses_; }
  const std::vector<double>& best_so_far() const { return best_so_far_; }
  // Param k's quantities over a block (ParamSteps).
  ParamSteps param_steps(size_t k, const StepBlock& b) const {
    const ParamState& s = ps_[k];
    return {k, b.first, b.n, col(s.g) + hist_, col(s.w) + hist_, col(s.d) + hist_, s.g >= 0};
  }
  // Relu r's zero fractions over a block (MonitorPlan::Relu::zero_frac's column).
  const float* relu_steps(size_t r) const { return col(relu_col_[r]) + hist_; }

 private:
  // One param's columns and the figures of the health table; squared norms as the kernels
  // compute them.
  struct ParamState {
    int g = -1, w = -1, d = -1;  // columns of sum(g*g), sum(w*w), sum((new-w)^2); -1: none
    double grad_sq = 0, weight_sq = 0, delta_sq = 0;  // of the last processed step
  };
  double grad_norm(const ParamState& s) const { return std::sqrt(std::max(0.0, s.grad_sq)); }
  double ratio(const ParamState& s) const;
  // A quantity's column; a missing one (-1) reads zeros.
  const float* col(int c) const { return cols_.data() + size_t(c < 0 ? int(width_) : c) * slots_; }
  float* col(int c) { return cols_.data() + size_t(c < 0 ? int(width_) : c) * slots_; }
  bool move_rows(int64_t n);

  const Graph& g_;
  MonitorPlan plan_;
  const SourceFile* src_;
  MonitorThresholds t_;
  MonitorOptions opts_;
  Diagnostics render_;
  int lr_col_ = -1;  // the learning rate's column (MonitorPlan::lr), -1: none
  size_t width_ = 0;
  std::vector<const float*> cells_;
  const float* row_src_ = nullptr;  // the cells as one row (Engine::metric_row), else nullptr
  std::function<void()> settle_;
  std::vector<char> lagged_;  // per column: a lagged quantity
  // The steps pushed since the last process(), a row each (rstride_ floats: width_
  // rounded up to 4), and one more: the row after the last one, where process() puts
  // (or unpush() left) the last step's lagged quantities.
  size_t rstride_ = 4;
  std::vector<float> rows_;
  bool next_row_ = false;  // the row after the last holds its lagged quantities (unpush)
  // width_ columns of slots_ and a column of zeros: first the exploding_history steps
  // before the buffered ones (the window of the first), then the buffered steps.
  size_t hist_ = 1, slots_ = 0;
  std::vector<float> cols_;
  int64_t pushed_ = 0, processed_ = 0;  // steps of this run pushed, and processed
  std::vector<ParamState> ps_;
  std::vector<int> relu_col_;
  std::vector<double> epoch_losses_, best_so_far_;  // and the smallest up to each epoch
  std::set<std::string> fired_;  // id + "/" + subject
  struct Status {
    std::string text;  // "" (ok), frozen, exploding, vanishing
    int64_t step = 0;  // of the event that set it
  };
  std::map<std::string, Status> status_;  // param name -> its status
  std::vector<RuntimeDiagnostic> all_;
  size_t taken_ = 0;
  // The catalogue's rules, in its order; and per hook, the rules that have it.
  std::vector<std::unique_ptr<MonitorRule>> rules_;
  std::vector<MonitorRule*> cut_, param_steps_, steps_, epoch_, end_;
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
