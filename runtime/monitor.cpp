// The Monitor (runtime/monitor.hpp): its rules from the catalogue, their epoch and end hooks,
// emitting diagnostics, the health table. The per-step work is in runtime/monitor_steps.cpp,
// the rules in runtime/monitors/.
#include "runtime/monitor.hpp"
#include "passes/diagnostics/check.hpp"
#include "runtime/metrics_log.hpp"
#include <algorithm>
#include <cmath>
#include <fmt/format.h>

namespace kiln {

Monitor::Monitor(const Graph& tg, MonitorPlan plan, const SourceFile* src, MonitorThresholds t, MonitorOptions opts)
    : g_(tg), plan_(std::move(plan)), src_(src), t_(t), opts_(std::move(opts)), render_(src) {
  width_ = tg.train.metrics.size() > plan_.user_metrics ? tg.train.metrics.size() - plan_.user_metrics : 0;
  // The buffered steps' rows; their columns and, before them, the exploding-gradient window.
  rstride_ = std::max<size_t>((width_ + 3) / 4 * 4, 4);
  rows_.assign(size_t(kBatch + 1) * rstride_, 0.0f);
  hist_ = std::max<size_t>(t_.exploding_history, 1);
  slots_ = hist_ + size_t(kBatch);
  cols_.assign(slots_ * (width_ + 1), 0.0f);
  auto col = [&](int metric) { return metric < 0 ? -1 : metric - int(plan_.user_metrics); };
  ps_.resize(plan_.params.size());
  for (size_t k = 0; k < ps_.size(); ++k) {
    ps_[k].g = col(plan_.params[k].grad_sq);
    ps_[k].w = col(plan_.params[k].weight_sq);
    ps_[k].d = col(plan_.params[k].delta_sq);
  }
  lagged_.assign(width_, 0);
  for (size_t k = 0; k < ps_.size(); ++k)
    if (plan_.params[k].lagged)
      for (int c : {ps_[k].g, ps_[k].d})
        if (c >= 0) lagged_[size_t(c)] = 1;
  for (auto& r : plan_.relus) relu_col_.push_back(col(r.zero_frac));
  lr_col_ = col(plan_.lr);
  for (const MonitorRuleInfo& info : monitor_catalogue())
    if (info.make) rules_.push_back(info.make(*this));
  for (auto& r : rules_) {
    const unsigned h = r->hooks();
    if (h & MonitorRule::kCut) cut_.push_back(r.get());
    if (h & MonitorRule::kParamSteps) param_steps_.push_back(r.get());
    if (h & MonitorRule::kSteps) steps_.push_back(r.get());
    if (h & MonitorRule::kEpoch) epoch_.push_back(r.get());
    if (h & MonitorRule::kEnd) end_.push_back(r.get());
  }
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

bool Monitor::emit(Severity s, const std::string& id, const std::string& subject, SourceRange loc, std::string message,
                   std::vector<DiagNote> notes, int64_t step) {
  if (!fired_.insert(id + "/" + subject).second || !enabled(id)) return false;
  // Only warnings can be ignored inline: an error (non-finite) has already stopped the run.
  if (s == Severity::warning && src_ && loc.valid() && loc.line <= src_->line_count())
    for (auto& i : ignored_ids(src_->line_text(loc.line)))
      if (i == "*" || i == id) return false;
  if (opts_.werror && s == Severity::warning) s = Severity::error;
  Diagnostic d;
  d.severity = s;
  d.id = id;
  d.message = std::move(message);
  d.loc = loc;
  d.notes = std::move(notes);
  all_.push_back({std::move(d), step});
  return true;
}

std::vector<RuntimeDiagnostic> Monitor::take_new() {
  std::vector<RuntimeDiagnostic> out(all_.begin() + std::ptrdiff_t(taken_), all_.end());
  taken_ = all_.size();
  return out;
}

double Monitor::ratio(const ParamState& s) const {
  double wn = std::sqrt(std::max(0.0, s.weight_sq)), dn = std::sqrt(std::max(0.0, s.delta_sq));
  return wn > 0 ? dn / wn : (dn > 0 ? INFINITY : 0.0);
}

double Monitor::lr_at(int64_t step) const {
  if (lr_col_ < 0) return 0;
  // Slot hist_ of every column holds step processed_ + 1: while process() runs the rules,
  // the block's first step; after it moved the window, the step after the last processed.
  const int64_t slot = int64_t(hist_) + (step - processed_ - 1);
  if (slot < 0 || slot >= int64_t(slots_)) return 0;
  return col(lr_col_)[size_t(slot)];
}

SourceRange Monitor::loss_loc() const {
  if (g_.train.minimize_loc.valid()) return g_.train.minimize_loc;
  return g_.train.minimize ? g_[*g_.train.minimize].loc : SourceRange{};
}

void Monitor::on_epoch(int64_t epoch, double loss, int64_t step, double lr) {
  epoch_losses_.push_back(loss);
  best_so_far_.push_back(best_so_far_.empty() ? loss : std::min(best_so_far_.back(), loss));
  const EpochEnd e{epoch, loss, step, lr};
  for (MonitorRule* r : epoch_) r->epoch(*this, e);
}

void Monitor::on_end(int64_t step) {
  for (MonitorRule* r : end_) r->end(*this, step);
}

std::vector<ParamHealth> Monitor::health() const {
  std::vector<ParamHealth> out;
  for (size_t k = 0; k < ps_.size(); ++k) {
    ParamHealth h;
    h.name = plan_.params[k].name;
    h.grad_norm = grad_norm(ps_[k]);
    h.update_ratio = ratio(ps_[k]);
    if (auto it = status_.find(h.name); it != status_.end() && !it->second.text.empty()) h.status = it->second.text;
    out.push_back(std::move(h));
  }
  return out;
}

std::string Monitor::health_table() const {
  auto rows = health();
  if (rows.empty()) return "";
  size_t w = 5;
  for (auto& r : rows) w = std::max(w, r.name.size());
  std::string out = fmt::format("training health (last step):\n  {:<{}}  {:>10}  {:>12}  status\n", "param", w,
                                "grad norm", "update ratio");
  for (auto& r : rows)
    out += fmt::format("  {:<{}}  {:>10.3g}  {:>12.3g}  {}\n", r.name, w, r.grad_norm, r.update_ratio, r.status);
  out.pop_back();
  return out;
}

Tensor batch_tensor(const BatchBuffer& b) {
  Tensor t(b.dtype, b.shape);
  for (size_t k = 0; k < t.data.size(); ++k)
    t.data[k] = b.dtype == DType::f32   ? double(b.as<float>()[k])
                : b.dtype == DType::f64 ? b.as<double>()[k]
                                        : double(b.as<int32_t>()[k]);
  return t;
}

std::string diagnostic_line(const Diagnostic& d, int64_t step, const std::string& file) {
  std::string sev = d.severity == Severity::error ? "error" : d.severity == Severity::warning ? "warning" : "note";
  std::string s = fmt::format("{{\"kind\":\"diagnostic\",\"id\":{},\"severity\":{},\"message\":{},\"step\":{}",
                              json_quote(d.id), json_quote(sev), json_quote(d.message), step);
  if (d.loc.valid())
    s += fmt::format(",\"file\":{},\"line\":{},\"column\":{}", json_quote(file), d.loc.line, d.loc.col);
  return s + "}";
}

}  // namespace kiln
