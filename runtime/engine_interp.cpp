// The reference interpreter (ir/interpreter.hpp) behind the Engine interface: values
// held as double tensors, every op rounded to f32 (Precision::f32) like the JIT.
#include "passes/monitor_ir.hpp"
#include "runtime/engine.hpp"
#include <fmt/format.h>

namespace kiln {

namespace {

std::string shape_text(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "," : "") + std::to_string(s[i]);
  return out + "]";
}

double mean_of(const Tensor& t) {
  if (t.data.empty()) return 0;
  double s = 0;
  for (double v : t.data) s += v;
  return t.data.size() == 1 ? s : s / double(t.data.size());
}

class InterpEngine final : public Engine {
 public:
  InterpEngine(Graph g, const EngineOptions& o) : g_(std::move(g)), precision_(o.precision) {
    for (const auto* list : {&g_.params, &g_.consts, &g_.states, &g_.inputs})
      for (NodeId id : *list) leaf_[g_[id].name] = id;
  }
  std::string_view kind() const override { return "interp"; }
  const Graph& graph() const override { return g_; }

  bool set_values(const ValueMap& values, std::string& err) override {
    for (auto& [name, t] : values) {
      auto it = leaf_.find(name);
      if (it == leaf_.end() || g_[it->second].op == Op::input) continue;
      const Node& n = g_[it->second];
      if (t.shape != n.shape) {
        err = fmt::format("value of '{}' has shape {} but the model's is {}", name, shape_text(t.shape), shape_text(n.shape));
        return false;
      }
      Tensor v = t;
      v.dtype = n.dtype;
      leaves_[name] = std::move(v);
    }
    return true;
  }

  ValueMap values() const override {
    ValueMap out;
    for (const auto* list : {&g_.params, &g_.consts, &g_.states})
      for (NodeId id : *list)
        if (auto it = leaves_.find(g_[id].name); it != leaves_.end()) out.emplace(it->first, it->second);
    return out;
  }

  bool set_batch(const std::vector<std::string>& names, const std::vector<BatchBuffer>& inputs,
                 std::string& err) override {
    if (names.size() != inputs.size()) {
      err = "internal: set_batch got a different number of names and buffers";
      return false;
    }
    for (size_t i = 0; i < names.size(); ++i) {
      auto it = leaf_.find(names[i]);
      if (it == leaf_.end() || g_[it->second].op != Op::input) {
        err = fmt::format("the model has no input '{}'", names[i]);
        return false;
      }
      const Node& n = g_[it->second];
      const BatchBuffer& b = inputs[i];
      if (b.shape != n.shape || b.dtype != n.dtype) {
        err = fmt::format("batch for input '{}' has shape {} but the model's is {}", names[i], shape_text(b.shape),
                          shape_text(n.shape));
        return false;
      }
      Tensor t(n.dtype, n.shape);
      for (size_t k = 0; k < t.data.size(); ++k)
        t.data[k] = b.dtype == DType::f32   ? double(b.as<float>()[k])
                    : b.dtype == DType::f64 ? b.as<double>()[k]
                                            : double(b.as<int32_t>()[k]);
      leaves_[names[i]] = std::move(t);
    }
    return true;
  }

  bool step(BatchResult& out, std::string& err) override {
    if (g_.updates.empty()) {
      err = "internal: step() on a graph without updates";
      return false;
    }
    auto vals = evaluate(g_, leaves_, precision_, err);
    if (!vals) return false;
    collect(*vals, out, false);
    // All updates of a step are simultaneous: every value was computed from the old leaves.
    for (const Update& u : g_.updates) {
      Tensor t = (*vals)[u.value];
      t.dtype = g_[u.target].dtype;
      leaves_[g_[u.target].name] = std::move(t);
    }
    return true;
  }

  std::vector<const float*> metric_cells(size_t first, size_t n) override {
    std::vector<const float*> out;
    for (size_t k = first; k < first + n && k < cells_.size(); ++k) out.push_back(&cells_[k]);
    return out;
  }

  bool settle_monitors(std::string& err) override {
    // The whole graph on the current leaves (the interpreter has no smaller entry); only
    // the cells of metrics computed from states alone change.
    auto vals = evaluate(g_, leaves_, precision_, err);
    if (!vals) return false;
    for (size_t k = 0; k < g_.train.metrics.size(); ++k)
      if (state_only_[k]) cells_[k] = float(mean_of((*vals)[g_.train.metrics[k].second]));
    return true;
  }

  void snapshot_values() override { snap_ = leaves_; }
  void restore_snapshot() override {
    for (auto& [name, t] : snap_)
      if (g_[leaf_.at(name)].op != Op::input) leaves_[name] = t;
  }

  bool forward(BatchResult& out, bool want_outputs, std::string& err) override {
    auto vals = evaluate(g_, leaves_, precision_, err);
    if (!vals) return false;
    collect(*vals, out, want_outputs);
    return true;
  }

 private:
  void collect(std::vector<Tensor>& vals, BatchResult& out, bool want_outputs) {
    out.loss.reset();
    out.metrics.clear();
    out.outputs.clear();
    if (g_.train.minimize) {
      double s = 0;
      for (double v : vals[*g_.train.minimize].data) s += v;
      out.loss = s;
    }
    for (size_t k = 0; k < g_.train.metrics.size(); ++k) {
      double v = mean_of(vals[g_.train.metrics[k].second]);
      if (k < user_metrics_) out.metrics.push_back(v);
      cells_[k] = float(v);
    }
    if (want_outputs)
      for (auto& [name, id] : g_.outputs) out.outputs.push_back(vals[id]);
  }

  Graph g_;
  Precision precision_;
  std::map<std::string, NodeId> leaf_;
  ValueMap leaves_, snap_;
  std::vector<float> cells_ = std::vector<float>(g_.train.metrics.size());  // every metric of the last run
  size_t user_metrics_ = user_metric_count(g_);                             // the model's own come first
  std::vector<char> state_only_ = [this] {  // per metric: computed from states alone (the lagged sums)
    std::vector<char> v;
    for (size_t k = 0; k < g_.train.metrics.size(); ++k) v.push_back(lagged_metric(g_, k));
    return v;
  }();
};

}  // namespace

std::unique_ptr<Engine> make_interp_engine(Graph g, const EngineOptions& opts) {
  return std::make_unique<InterpEngine>(std::move(g), opts);
}

}  // namespace kiln
