// The non-finite monitor's re-run (runtime/monitor.hpp): one step on the interpreter with
// every node checked, naming the first op that produced a NaN or Inf from finite inputs.
#include "ir/interpreter.hpp"
#include "runtime/monitor.hpp"
#include <cmath>
#include <fmt/format.h>

namespace kiln {

namespace {

// The first non-finite element of t: "NaN", "inf", "-inf"; empty when all finite.
std::string non_finite_kind(const Tensor& t) {
  for (double v : t.data)
    if (!std::isfinite(v)) return std::isnan(v) ? "NaN" : v > 0 ? "inf" : "-inf";
  return "";
}

std::string source_text(const SourceFile* src, SourceRange r) {
  if (!src || !r.valid()) return "";
  std::string out;
  for (uint32_t l = r.line; l <= r.end_line && l <= src->line_count(); ++l) {
    std::string_view t = src->line_text(l);
    size_t b = l == r.line ? std::min<size_t>(r.col - 1, t.size()) : 0;
    size_t e = l == r.end_line ? std::min<size_t>(r.end_col - 1, t.size()) : t.size();
    if (e > b) out += std::string(t.substr(b, e - b));
    if (l != r.end_line) out += " ";
  }
  return out;
}

std::string range_of(const Tensor& t) {
  if (t.data.empty()) return "empty";
  double lo = t.data[0], hi = t.data[0];
  for (double v : t.data) lo = std::min(lo, v), hi = std::max(hi, v);
  return lo == hi ? fmt::format("{:.6g}", lo) : fmt::format("[{:.6g}, {:.6g}]", lo, hi);
}

}  // namespace

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
