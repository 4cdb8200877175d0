// The run-time monitor rules over epochs and runs (runtime/monitor.hpp): vanishing-gradient,
// dead-relu, loss-plateau, loss-diverging, short frozen runs; emitting diagnostics; the
// health table. The per-step rules are in runtime/monitor_steps.cpp.
#include "runtime/monitor.hpp"
#include "passes/diagnostics/check.hpp"
#include "runtime/metrics_log.hpp"
#include <algorithm>
#include <cmath>
#include <fmt/format.h>

namespace kiln {

namespace {
std::string g3(double v) { return fmt::format("{:.3g}", v); }
}  // namespace

const std::vector<std::string>& monitor_ids() {
  static const std::vector<std::string> ids = {"non-finite",  "frozen-param", "vanishing-gradient",
                                               "exploding-gradient", "dead-relu", "loss-plateau",
                                               "loss-diverging", "data-scale"};
  return ids;
}

bool is_monitor_id(std::string_view id) {
  for (auto& m : monitor_ids())
    if (m == id) return true;
  return false;
}

bool apply_monitor_option(std::string_view option, MonitorOptions& o) {
  std::string_view w = option;
  while (!w.empty() && w[0] == '-') w.remove_prefix(1);
  if (w.substr(0, 1) != "W") return false;
  w.remove_prefix(1);
  if (w == "error") {
    o.werror = true;
    return false;
  }
  bool off = w.substr(0, 3) == "no-";
  std::string id(off ? w.substr(3) : w);
  if (!is_monitor_id(id)) return false;
  if (off) o.disabled.insert(id);
  else o.disabled.erase(id);
  return true;
}

Monitor::Monitor(const Graph& tg, MonitorPlan plan, const SourceFile* src, MonitorThresholds t, MonitorOptions opts)
    : g_(tg), plan_(std::move(plan)), src_(src), t_(t), opts_(std::move(opts)), render_(src) {
  width_ = tg.train.metrics.size() > plan_.user_metrics ? tg.train.metrics.size() - plan_.user_metrics : 0;
  // The buffered steps' rows; their columns and, before them, the exploding-gradient window.
  rstride_ = std::max<size_t>((width_ + 3) / 4 * 4, 4);
  rows_.assign(size_t(kBatch + 1) * rstride_, 0.0f);
  hist_ = std::max<size_t>(t_.exploding_history, 1);
  slots_ = hist_ + size_t(kBatch);
  cols_.assign(slots_ * (width_ + 1), 0.0f);
  nonfinite_on_ = enabled("non-finite");
  auto col = [&](int metric) { return metric < 0 ? -1 : metric - int(plan_.user_metrics); };
  ps_.resize(plan_.params.size());
  for (size_t k = 0; k < ps_.size(); ++k) {
    ps_[k].window = MedianFloor(int64_t(t_.exploding_history));
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
  relu_sum_.assign(plan_.relus.size(), 0.0);
}

std::string Monitor::source_text(SourceRange r) const {
  if (!src_ || !r.valid()) return "";
  std::string out;
  for (uint32_t l = r.line; l <= r.end_line && l <= src_->line_count(); ++l) {
    std::string_view t = src_->line_text(l);
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

void Monitor::on_epoch(int64_t epoch, double loss, int64_t step, double lr) {
  // vanishing-gradient: epoch-mean grad norms against the largest.
  double largest = 0;
  size_t arg = 0;
  std::vector<double> mean(ps_.size(), 0.0);
  for (size_t k = 0; k < ps_.size(); ++k) {
    mean[k] = epoch_steps_ ? ps_[k].epoch_grad_sum / double(epoch_steps_) : 0.0;
    if (plan_.params[k].grad_sq >= 0 && mean[k] > largest) largest = mean[k], arg = k;
  }
  if (largest > 0 && std::isfinite(largest))
    for (size_t k = 0; k < ps_.size(); ++k) {
      if (plan_.params[k].grad_sq < 0 || mean[k] == 0 || mean[k] > t_.vanishing_ratio * largest) continue;
      const auto& p = plan_.params[k];
      bool shown = emit(Severity::warning, "vanishing-gradient", p.name, g_[p.param].loc,
           fmt::format("the gradient reaching '{}' is vanishing: its norm {} (mean over epoch {}) is {} of the "
                       "largest ('{}': {})",
                       p.name, g3(mean[k]), epoch, g3(mean[k] / largest), plan_.params[arg].name, g3(largest)),
           {{"the layers between the loss and this param shrink the gradient (saturated sigmoid/tanh, tiny "
             "weights); use relu-family activations, a better initialiser, or normalised inputs",
             {}}},
           step);
      if (shown && (status_[p.name].text.empty() || status_[p.name].text == "ok")) status_[p.name].text = "vanishing";
    }
  for (auto& s : ps_) s.epoch_grad_sum = 0;
  epoch_steps_ = 0;
  // dead-relu
  for (size_t k = 0; k < plan_.relus.size() && relu_steps_ > 0; ++k) {
    double frac = relu_sum_[k] / double(relu_steps_);
    NodeId n = plan_.relus[k].node;
    if (frac > t_.dead_relu_fraction) {
      std::string expr = source_text(g_[n].loc);
      emit(Severity::warning, "dead-relu", std::to_string(n), g_[n].loc,
           fmt::format("relu outputs 0 for {:.1f}% of its units over epoch {}{}", 100 * frac, epoch,
                       expr.empty() ? "" : fmt::format(" ('{}')", expr)),
           {{"a unit that is always 0 passes no gradient to the weights before it; lower the learning rate, check "
             "the bias and initialisation, or use leaky_relu",
             {}}},
           step);
    }
    relu_sum_[k] = 0;
  }
  relu_steps_ = 0;
  // loss-plateau / loss-diverging over the epoch losses.
  epoch_losses_.push_back(loss);
  best_so_far_.push_back(best_so_far_.empty() ? loss : std::min(best_so_far_.back(), loss));
  const auto& L = epoch_losses_;
  SourceRange loc = g_.train.minimize ? g_[*g_.train.minimize].loc : SourceRange{};
  if (g_.train.minimize_loc.valid()) loc = g_.train.minimize_loc;
  int64_t n = int64_t(L.size()), w = t_.plateau_window;
  if (n > w) {
    double before = best_so_far_[size_t(n - w - 1)];
    double recent = *std::min_element(L.end() - w, L.end());
    // Flat, not growing: a loss far above its best is loss-diverging's.
    bool diverged = fired_.count("loss-diverging/loss") > 0 || recent > t_.diverging_factor * before;
    // A model whose loss fell well below its start is converged, not stuck.
    bool stuck = before > t_.plateau_start_fraction * L.front();
    if (std::isfinite(before) && before > 1e-6 && !diverged && stuck &&
        recent > before - t_.plateau_rel * std::abs(before))
      emit(Severity::warning, "loss-plateau", "loss", loc,
           fmt::format("the loss stopped improving: its best over epochs {}-{} ({}) is no better than before "
                       "({}), at learning rate {}",
                       n - w + 1, n, g3(recent), g3(before), g3(lr)),
           {{"if it is not converged, try a larger learning rate or another optimizer (adam)", {}}}, step);
  }
  int64_t dw = t_.diverging_window;
  if (n > dw) {
    bool growing = true;
    for (int64_t i = n - dw; i < n; ++i) growing = growing && L[size_t(i)] > L[size_t(i - 1)];
    double best = best_so_far_.back();
    // Noise around a converged loss is not divergence: the loss must also give back more
    // than half of what it gained from the first epoch to its best.
    bool gave_back = L.back() - best > 0.5 * (L.front() - best);
    if (growing && gave_back && L.back() > t_.diverging_factor * best && best >= 0)
      emit(Severity::warning, "loss-diverging", "loss", loc,
           fmt::format("the loss is diverging: it grew for {} epochs in a row to {} ({}x its best, {}) at learning "
                       "rate {}",
                       dw, g3(L.back()), g3(L.back() / best), g3(best), g3(lr)),
           {{"lower the learning rate, or add clip_norm to the train block", {}}}, step);
  }
}

void Monitor::on_end(int64_t step) {
  for (size_t k = 0; k < ps_.size(); ++k)
    if (ps_[k].frozen_run > 0 && ps_[k].frozen_run < t_.frozen_window && ps_[k].frozen_run == processed_)
      frozen(k, ps_[k].frozen_run, step);
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
