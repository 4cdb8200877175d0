// The run-time monitor rules (runtime/monitor.hpp): frozen-param, vanishing-gradient,
// exploding-gradient, dead-relu, loss-plateau, loss-diverging; the health table.
#include "runtime/monitor.hpp"
#include "passes/diagnostics/check.hpp"
#include "runtime/metrics_log.hpp"
#include <algorithm>
#include <cmath>
#include <limits>
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
  // The buffered rows and, before them, the exploding-gradient window.
  slots_ = size_t(kBatch) + std::max<size_t>(t_.exploding_history, 1);
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

size_t Monitor::slot_of(int64_t step) const {
  // Step pushed_ sits just before write_slot_; a buffered step is less than slots_ back.
  const int64_t slot = int64_t(write_slot_) - (pushed_ - step + 1);
  return size_t(slot < 0 ? slot + int64_t(slots_) : slot);
}

void Monitor::frozen(size_t k, int64_t steps, int64_t step) {
  const auto& p = plan_.params[k];
  const ParamState& s = ps_[k];
  const double lr = lr_at(step), gn = grad_norm(s);
  std::vector<DiagNote> notes;
  if (gn == 0)
    notes.push_back({fmt::format("its gradient is exactly 0: the loss does not reach '{}' through any differentiable "
                                 "path (a stop_gradient, a comparison or argmax, a relu that is always off, or a "
                                 "branch the loss does not use)",
                                 p.name),
                     {}});
  else
    notes.push_back({fmt::format("the update (about lr x gradient norm = {}) is below the float32 resolution of its "
                                 "values (about 6e-8 relative): the learning rate {} is too small",
                                 g3(lr * gn), g3(lr)),
                     {}});
  if (emit(Severity::warning, "frozen-param", p.name, g_[p.param].loc,
       fmt::format("'{}' is not updating: its relative update |dw|/|w| stayed below {} for {} steps (gradient norm "
                   "{}, learning rate {})",
                   p.name, g3(t_.frozen_ratio), steps, g3(gn), g3(lr)),
       std::move(notes), step))
    status_[p.name] = "frozen";
}

// exploding-gradient at `step`, whose squared norm passed the filter: against the exact
// median of the previous min(step - 1, history) steps' norms (read back from the rows).
void Monitor::exploding(size_t k, double grad_sq, int64_t step, size_t slot) {
  const ParamState& s = ps_[k];
  const int64_t n = std::min<int64_t>(step - 1, int64_t(t_.exploding_history));
  scratch_.clear();
  for (int64_t j = 1; j <= n; ++j)  // the squared norms in the slots before `slot`
    scratch_.push_back(std::max(0.0, double(col(s.g)[(slot + slots_ - size_t(j)) % slots_])));
  auto mid = scratch_.begin() + std::ptrdiff_t(scratch_.size() / 2);
  std::nth_element(scratch_.begin(), mid, scratch_.end());
  const double med = std::sqrt(*mid), gn = std::sqrt(grad_sq), lr = lr_at(step);
  if (!(med > 0 && gn > t_.exploding_factor * med)) return;
  const auto& p = plan_.params[k];
  std::string clip = g_.train.clip_norm ? fmt::format("lower clip_norm (now {})", g3(*g_.train.clip_norm))
                                        : fmt::format("add 'clip_norm = {}' to the train block", g3(10 * med));
  if (emit(Severity::warning, "exploding-gradient", p.name, g_[p.param].loc,
           fmt::format("the gradient norm of '{}' jumped to {} at step {}, {}x its running median {}", p.name, g3(gn),
                       step, g3(gn / med), g3(med)),
           {{fmt::format("{}, or lower the learning rate ({})", clip, g3(lr)), {}}}, step))
    status_[p.name] = "exploding";
}

// Param k over steps first..first+n-1 in slots slot..slot+n-1 (no wrap, all finite):
// straight loops over its columns, the rare cases (a run of frozen steps that starts or
// ends inside, a norm above the exploding filter) step by step.
void Monitor::process_param(size_t k, int64_t first, int64_t n, size_t slot) {
  ParamState& s = ps_[k];
  const float *G = col(s.g) + slot, *W = col(s.w) + slot, *D = col(s.d) + slot;
  const float frozen_sq = float(t_.frozen_ratio * t_.frozen_ratio);
  const int64_t window = t_.frozen_window;
  // The epoch's sum of gradient norms and how many steps were frozen: |new - w| / |w|
  // below the ratio, compared as squares. (Vector loops: CMakeLists.txt compiles this
  // file with -fopenmp-simd -fno-math-errno.)
  float sum = 0;
  int still = 0;
  auto frozen_at = [&](int64_t i) {  // (no branches: the loop below is a vector loop)
    const float w = W[i], d = D[i];
    return int((w > 0) & (d < frozen_sq * w)) | int((w <= 0) & (d <= 0));
  };
#pragma omp simd reduction(+ : sum, still)
  for (int64_t i = 0; i < n; ++i) {
    const float g = G[i] > 0 ? G[i] : 0.0f;
    sum += std::sqrt(g);
    still += frozen_at(i);
  }
  s.epoch_grad_sum += double(sum);
  if (still == 0) {
    s.frozen_run = 0;
  } else if (still == n && (s.frozen_run >= window || s.frozen_run + n < window)) {
    s.frozen_run += n;  // frozen throughout, and the run does not reach the window here
  } else {
    for (int64_t i = 0; i < n; ++i) {
      s.frozen_run = frozen_at(i) ? s.frozen_run + 1 : 0;
      if (s.frozen_run == window) {
        s.grad_sq = std::max(0.0, double(G[i]));
        frozen(k, s.frozen_run, first + i);
      }
    }
  }
  // exploding-gradient, block by block of the median floor: a step needs a closer look
  // only if its squared norm exceeds jump_sq x the floor's quick bound (the block's
  // largest norm tells), and the exact median only if it exceeds the real bound too.
  // The margin keeps rounding from hiding a jump the exact test would see.
  const double jump_sq = 0.999 * t_.exploding_factor * t_.exploding_factor;
  const int64_t min_history = int64_t(t_.exploding_min_history);
  float block_min = s.window.block_min();
  int64_t in_block = s.window.in_block();
  for (int64_t i = 0; i < n && s.g >= 0;) {
    const int64_t m = std::min(n - i, MedianFloor::kBlock - in_block);
    float lo = G[i], hi = G[i];
#pragma omp simd reduction(min : lo) reduction(max : hi)
    for (int64_t j = i + 1; j < i + m; ++j) {
      lo = G[j] < lo ? G[j] : lo;
      hi = G[j] > hi ? G[j] : hi;
    }
    const float quick = s.window.quick();
    if (first + i + m - 1 > min_history && (quick < 0 || double(hi) > jump_sq * double(quick))) {
      const float b = s.window.bound();
      if (b < 0 || double(hi) > jump_sq * double(b))
        for (int64_t j = i; j < i + m; ++j) {
          const double g2 = std::max(0.0, double(G[j]));
          if (first + j > min_history && (b < 0 || g2 > jump_sq * double(b))) exploding(k, g2, first + j, slot + size_t(j));
        }
    }
    block_min = std::min(block_min, lo);
    in_block += m;
    if (in_block == MedianFloor::kBlock) {
      s.window.end_block(block_min);
      block_min = INFINITY, in_block = 0;
    }
    i += m;
  }
  s.window.save(block_min, in_block);
  s.grad_sq = std::max(0.0, double(G[n - 1]));
  s.weight_sq = W[n - 1];
  s.delta_sq = D[n - 1];
}

int64_t Monitor::process() {
  if (processed_ >= pushed_) return 0;
  int64_t bad = 0;
  if (nonfinite_on_) {  // the first step with a non-finite gradient or update norm
    // Over the buffered slots (at most two contiguous runs), first whether any is not
    // finite (a loop the compiler vectorises), then which.
    const float big = std::numeric_limits<float>::max();
    const size_t a = slot_of(processed_ + 1), n = size_t(pushed_ - processed_);
    const size_t n1 = std::min(n, slots_ - a);
    bool any = false;
    for (const ParamState& s : ps_)
      for (int c : {s.g, s.d}) {
        if (c < 0) continue;
        const float* x = col(c);
        int bad_count = 0;  // NaN and Inf are not <= big (norms are never negative)
#pragma omp simd reduction(+ : bad_count)
        for (size_t i = a; i < a + n1; ++i) bad_count += !(x[i] <= big);
#pragma omp simd reduction(+ : bad_count)
        for (size_t i = 0; i < n - n1; ++i) bad_count += !(x[i] <= big);
        any = any || bad_count > 0;
      }
    for (int64_t step = processed_ + 1; any && !bad && step <= pushed_; ++step) {
      const size_t sl = (a + size_t(step - processed_ - 1)) % slots_;
      for (const ParamState& s : ps_)
        if ((s.g >= 0 && !(col(s.g)[sl] <= big)) || (s.d >= 0 && !(col(s.d)[sl] <= big))) bad = step;
    }
  }
  // Nothing of the bad step counts: the buffer ends before it.
  if (bad) {
    write_slot_ = slot_of(bad);
    pushed_ = bad - 1;
  }
  // Param by param over the steps (each param's state in registers), in at most two runs
  // of contiguous slots; under -Werror step by step, so that the run stops at the first
  // warning.
  const size_t found = all_.size();
  for (int64_t first = processed_ + 1; first <= pushed_;) {
    const size_t slot = slot_of(first);
    int64_t n = std::min<int64_t>(pushed_ - first + 1, int64_t(slots_ - slot));
    if (opts_.werror) n = 1;
    for (size_t k = 0; k < ps_.size(); ++k) process_param(k, first, n, slot);
    for (size_t k = 0; k < relu_col_.size(); ++k) {
      const float* x = col(relu_col_[k]) + slot;
      double sum = 0;
      for (int64_t i = 0; i < n; ++i) sum += double(x[i]);
      relu_sum_[k] += plan_.relus[k].active ? double(n) - sum : sum;
    }
    relu_steps_ += n;
    epoch_steps_ += n;
    processed_ = first + n - 1;
    first += n;
    if (opts_.werror && all_.size() > found) {  // a warning made an error: the run stops at this step
      write_slot_ = slot + 1 == slots_ ? 0 : slot + 1;
      pushed_ = processed_;
      break;
    }
  }
  // In step order (the params' loops found them param by param).
  std::stable_sort(all_.begin() + std::ptrdiff_t(found), all_.end(),
                   [](const RuntimeDiagnostic& a, const RuntimeDiagnostic& b) { return a.step < b.step; });
  processed_ = pushed_;
  return bad;
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
      if (shown && (status_[p.name].empty() || status_[p.name] == "ok")) status_[p.name] = "vanishing";
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
    if (auto it = status_.find(h.name); it != status_.end() && !it->second.empty()) h.status = it->second;
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
