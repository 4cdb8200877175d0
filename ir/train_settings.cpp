// The train block's kinds (optimizers, schedules) and the limits of its numeric settings:
// the tables of ir/train_settings.hpp.
#include "ir/train_settings.hpp"
#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <limits>

namespace kiln {

const std::vector<KindRow>& optimizer_rows() {
  static const std::vector<KindRow> t = {
      {"sgd", {"lr", "momentum", "nesterov"}},
      {"adam", {"lr", "beta1", "beta2", "eps"}},
      {"adamw", {"lr", "weight_decay", "beta1", "beta2", "eps"}},
      {"rmsprop", {"lr", "rho", "eps"}},
      {"adagrad", {"lr", "eps"}},
  };
  return t;
}

const std::vector<KindRow>& schedule_rows() {
  static const std::vector<KindRow> t = {
      {"constant", {}, 0},
      {"exponential_decay", {"rate", "every"}, 1},
      {"step_decay", {"rate", "every"}, 1},
      {"cosine", {"total"}, 1},
  };
  return t;
}

namespace {
template <class Kind>
std::optional<Kind> find_kind(const std::vector<KindRow>& rows, std::string_view name) {
  for (size_t i = 0; i < rows.size(); ++i)
    if (rows[i].name == name) return Kind(i);
  return std::nullopt;
}
bool row_takes(const KindRow& r, std::string_view p) { return std::find(r.params.begin(), r.params.end(), p) != r.params.end(); }

// The limits of each setting: lo and hi with whether each end is open; integers are
// integral. Indexed by Setting.
struct Limit {
  std::string_view name;
  double lo, hi;
  bool lo_open, hi_open, integer;
};
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr Limit kLimits[] = {
    {"lr", 0, kInf, true, true, false},
    {"momentum", 0, 1, false, true, false},
    {"beta1", 0, 1, false, true, false},
    {"beta2", 0, 1, false, true, false},
    {"eps", 0, kInf, true, true, false},
    {"weight_decay", 0, kInf, false, true, false},
    {"rho", 0, 1, false, true, false},
    {"rate", 0, 1, true, false, false},
    {"every", 1, kInf, false, true, true},
    {"total", 1, kInf, false, true, true},
    {"clip_norm", 0, kInf, true, true, false},
    {"epochs", 1, 1000000, false, false, true},
    {"seed", 0, double(int64_t(1) << 62), false, false, true},
    {"batch", 1, double(1 << 20), false, false, true},
};
const Limit& limit(Setting s) { return kLimits[size_t(s)]; }
}  // namespace

std::optional<OptimizerKind> optimizer_kind(std::string_view name) { return find_kind<OptimizerKind>(optimizer_rows(), name); }
std::optional<ScheduleKind> schedule_kind(std::string_view name) { return find_kind<ScheduleKind>(schedule_rows(), name); }
bool takes(OptimizerKind k, std::string_view p) { return row_takes(optimizer_rows()[size_t(k)], p); }
bool takes(ScheduleKind k, std::string_view p) { return row_takes(schedule_rows()[size_t(k)], p); }

std::string_view setting_name(Setting s) { return limit(s).name; }

std::optional<Setting> setting_of(std::string_view name) {
  for (size_t i = 0; i < std::size(kLimits); ++i)
    if (kLimits[i].name == name) return Setting(i);
  return std::nullopt;
}

bool integer_setting(Setting s) { return limit(s).integer; }

std::string setting_rule(Setting s) {
  const Limit& l = limit(s);
  if (l.integer && std::isfinite(l.hi)) return fmt::format("must be from {:.0f} to {:.0f}", l.lo, l.hi);
  if (l.integer) return fmt::format("must be at least {:.0f}", l.lo);
  if (std::isinf(l.hi)) return l.lo == 0 && l.lo_open ? "must be positive" : "must not be negative";
  return fmt::format("must be in {}{}, {}{}", l.lo_open ? '(' : '[', l.lo, l.hi, l.hi_open ? ')' : ']');
}

std::optional<std::string> setting_error(Setting s, double v) {
  const Limit& l = limit(s);
  const bool ok = std::isfinite(v) && (l.lo_open ? v > l.lo : v >= l.lo) && (l.hi_open ? v < l.hi : v <= l.hi) &&
                  (!l.integer || v == std::floor(v));
  if (ok) return std::nullopt;
  return fmt::format("{}, got {}", setting_rule(s), v);
}

OptimizerSpec default_optimizer(OptimizerKind k) {
  OptimizerSpec o;
  o.kind = k;
  if (k == OptimizerKind::adamw) o.weight_decay = 0.01;
  if (k == OptimizerKind::rmsprop || k == OptimizerKind::adagrad) o.eps = 1e-7;
  return o;
}

double setting_value(const OptimizerSpec& o, Setting s) {
  switch (s) {
    case Setting::lr: return o.lr;
    case Setting::momentum: return o.momentum;
    case Setting::beta1: return o.beta1;
    case Setting::beta2: return o.beta2;
    case Setting::eps: return o.eps;
    case Setting::weight_decay: return o.weight_decay;
    case Setting::rho: return o.rho;
    default: return 0;
  }
}

double setting_value(const ScheduleSpec& sc, Setting s) {
  switch (s) {
    case Setting::rate: return sc.rate;
    case Setting::every: return double(sc.every);
    case Setting::total: return double(sc.total);
    default: return 0;
  }
}

namespace {
template <class Spec>
std::optional<std::string> spec_error(const Spec& spec, const KindRow& row) {
  for (std::string_view p : row.params)
    if (auto s = setting_of(p))
      if (auto e = setting_error(*s, setting_value(spec, *s))) return fmt::format("{}'s {} {}", row.name, p, *e);
  return std::nullopt;
}
}  // namespace

std::optional<std::string> optimizer_error(const OptimizerSpec& o) {
  if (auto e = spec_error(o, optimizer_rows()[size_t(o.kind)])) return e;
  // (the L2 form of weight decay, which only adamw's surface takes, applies to every kind)
  if (o.weight_decay != 0)
    if (auto e = setting_error(Setting::weight_decay, o.weight_decay)) return fmt::format("weight_decay {}", *e);
  if (o.kind == OptimizerKind::sgd && o.nesterov && o.momentum == 0) return std::string(kNesterovNeedsMomentum);
  return std::nullopt;
}

std::optional<std::string> schedule_error(const ScheduleSpec& s) { return spec_error(s, schedule_rows()[size_t(s.kind)]); }

}  // namespace kiln
