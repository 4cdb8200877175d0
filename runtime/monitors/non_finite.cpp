// The non-finite monitor (docs/checks/non-finite.md): the first step whose gradient or update
// norm is not finite ends the processed steps (the trainer then rolls back to the step before
// and stops), and locate_non_finite re-runs that step on the interpreter with every node
// checked, naming the first op that produced a NaN or Inf from finite inputs.
#include "ir/interpreter.hpp"
#include "runtime/monitor.hpp"
#include <cmath>
#include <fmt/format.h>
#include <limits>

namespace kiln {

namespace {

class NonFinite final : public MonitorRule {
 public:
  explicit NonFinite(const Monitor& m) : MonitorRule(kCut), on_(m.enabled("non-finite")) {}
  // Step by step, only when moving the rows flagged a value: the first step with a
  // non-finite gradient or update norm (a squared norm beyond the float range counts).
  int64_t cut(Monitor& m, const StepBlock& b, bool suspect) override {
    if (!on_ || !suspect) return 0;
    const float big = std::numeric_limits<float>::max();
    for (int64_t i = 0; i < b.n; ++i)
      for (size_t k = 0; k < m.plan().params.size(); ++k) {
        const ParamSteps p = m.param_steps(k, b);
        const auto& q = m.plan().params[k];
        if ((q.grad_sq >= 0 && !(p.grad_sq[i] <= big)) || (q.delta_sq >= 0 && !(p.delta_sq[i] <= big))) return b.first + i;
      }
    return 0;
  }

 private:
  bool on_;  // (-Wno-non-finite: the trainer stops at a non-finite loss without the search)
};

// The first non-finite element of t: "NaN", "inf", "-inf"; empty when all finite.
std::string non_finite_kind(const Tensor& t) {
  for (double v : t.data)
    if (!std::isfinite(v)) return std::isnan(v) ? "NaN" : v > 0 ? "inf" : "-inf";
  return "";
}

std::string range_of(const Tensor& t) {
  if (t.data.empty()) return "empty";
  double lo = t.data[0], hi = t.data[0];
  for (double v : t.data) lo = std::min(lo, v), hi = std::max(hi, v);
  return lo == hi ? fmt::format("{:.6g}", lo) : fmt::format("[{:.6g}, {:.6g}]", lo, hi);
}

}  // namespace

std::unique_ptr<MonitorRule> make_non_finite(const Monitor& m) { return std::make_unique<NonFinite>(m); }

std::optional<Diagnostic> locate_non_finite(const Graph& g, const ValueMap& leaves, const SourceFile* src,
                                            int64_t step, int64_t epoch, std::string& err) {
  auto vals = evaluate(g, leaves, Precision::f32, err);
  if (!vals) return std::nullopt;
  // The forward pass: what the loss, metrics and outputs need; the rest is backward/update.
  std::vector<char> fwd(g.size(), 0);
  if (g.train.minimize) fwd[size_t(*g.train.minimize)] = 1;
  for (auto& [n, id] : g.train.metrics) fwd[size_t(id)] = 1;
  for (auto& [n, id] : g.outputs) fwd[size_t(id)] = 1;
  for (size_t i = g.size(); i-- > 0;)
    if (fwd[i])
      for (NodeId in : g.nodes[i].in) fwd[size_t(in)] = 1;
  for (size_t i = 0; i < g.size(); ++i) {
    std::string kind = non_finite_kind((*vals)[i]);
    if (kind.empty()) continue;
    const Node& n = g.nodes[i];
    bool inputs_finite = true;
    for (NodeId in : n.in) inputs_finite = inputs_finite && non_finite_kind((*vals)[size_t(in)]).empty();
    if (!inputs_finite) continue;
    Diagnostic d;
    d.severity = Severity::error;
    d.id = "non-finite";
    d.loc = n.loc;
    std::string what = n.op == Op::input ? fmt::format("the data of input '{}' contains {}", n.name, kind)
                       : n.in.empty()    ? fmt::format("'{}' holds {}", n.name, kind)
                                         : fmt::format("{} produced {}", op_name(n.op), kind);
    d.message = fmt::format("{} at step {} (epoch {}){}; training stopped", what, step, epoch,
                            fwd[i] ? "" : " in the backward pass");
    std::string expr = source_text(src, n.loc);
    if (!expr.empty())
      d.notes.push_back({fmt::format("{}: {}", fwd[i] ? "the expression" : "in the gradient of", expr), {}});
    for (size_t k = 0; k < n.in.size(); ++k) {
      const Node& in = g[n.in[k]];
      std::string label = !in.name.empty() ? fmt::format("'{}'", in.name) : fmt::format("operand {}", k + 1);
      d.notes.push_back({fmt::format("{} of {} is {}", label, op_name(n.op), range_of((*vals)[size_t(n.in[k])])), {}});
    }
    d.notes.push_back({fmt::format("the parameters of step {} (the last finite one) are kept", step - 1), {}});
    return d;
  }
  err = "no op produced a NaN or Inf when the step was re-run on the interpreter";
  return std::nullopt;
}

}  // namespace kiln
