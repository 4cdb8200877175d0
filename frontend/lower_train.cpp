// Semantic lowering, the train block: the minimised loss, metrics, the optimizer and its
// hyper-parameters, the learning-rate schedule, clip_norm, epochs and seed.
#include "frontend/lower_impl.hpp"
#include <fmt/format.h>
#include <fmt/ranges.h>

namespace kiln::lower {

namespace {
const std::vector<std::string> kSettings = {"optimizer", "schedule", "clip_norm", "epochs", "seed"};

// The name and call of a setting's value: `adam` or `adam(lr = 0.01)`.
bool callee(const ast::Expression& e, std::string& name, const ast::Call*& call) {
  const ast::Operand* o = single(e);
  if (!o) return false;
  if (auto* id = as<ast::Identifier>(*o)) { name = id->name; call = nullptr; return true; }
  if (auto* c = as<ast::Call>(*o)) { name = c->callee.name; call = c; return true; }
  return false;
}
}  // namespace

// The row of `rows` that a setting's value names (`adam` or `adam(lr = 0.01)`), or an error
// listing the kinds ("optimizer"/"schedule", with `example` as a hint) and nullptr.
static const KindRow* setting_kind(Lowerer& L, const ast::Setting& s, const std::vector<KindRow>& rows,
                                   std::string_view what, std::string_view example, std::string& name,
                                   const ast::Call*& call) {
  std::vector<std::string> names;
  for (auto& r : rows) names.emplace_back(r.name);
  if (callee(s.value, name, call))
    for (auto& r : rows)
      if (r.name == name) return &r;
  std::string msg = name.empty() ? fmt::format("the {} must be one of ", what)
                                 : fmt::format("unknown {} '{}'; ", what, name);
  if (auto sug = name.empty() ? std::nullopt : suggest(name, names)) msg += fmt::format("did you mean '{}'? ", *sug);
  if (!name.empty()) msg += fmt::format("the {}s are ", what);
  msg += fmt::format("{}{}", fmt::join(names, ", "), example);
  L.diags.error("train", L.range(s.value), msg);
  return nullptr;
}

// Binds a kind's call arguments and hands each given one to `visit(param, expr, what)`,
// where `what` is "adam's lr" for messages; true when every visit succeeded.
template <typename Visit>
static bool visit_args(Lowerer& L, const ast::Call& call, const std::string& name, const KindRow& row, Visit visit) {
  const std::vector<std::string> params(row.params.begin(), row.params.end());
  auto bound = L.bind_args(call, name, params, row.required, "train");
  if (!bound) return false;
  bool ok = true;
  for (size_t i = 0; i < params.size(); ++i)
    if (const ast::Expression* a = (*bound)[i])
      ok = visit(params[i], *a, fmt::format("{}'s {}", name, params[i])) && ok;
  return ok;
}

// A numeric argument's value against its limits (ir/train_settings.hpp), reported at the
// argument: "adam's lr must be positive, got 0".
static std::optional<double> checked_number(Lowerer& L, Setting which, const ast::Expression& a, const std::string& what) {
  std::optional<double> v;
  if (integer_setting(which)) {
    if (auto i = L.const_int(a, what, "train")) v = double(*i);
  } else {
    v = L.const_number(a, what, "train");
  }
  if (!v) return std::nullopt;
  if (auto bad = setting_error(which, *v)) {
    L.diags.error("train", L.range(a), fmt::format("{} {}", what, *bad));
    return std::nullopt;
  }
  return v;
}

void Lowerer::optimizer(const ast::Setting& s) {
  std::string name;
  const ast::Call* call = nullptr;
  const KindRow* row = setting_kind(*this, s, optimizer_rows(), "optimizer", ", e.g. optimizer = adam(lr = 0.01)", name, call);
  if (!row) return;
  OptimizerSpec o = default_optimizer(*optimizer_kind(name));
  o.loc = range(s);
  if (call) {
    bool ok = visit_args(*this, *call, name, *row, [&](const std::string& p, const ast::Expression& a,
                                                      const std::string& what) {
      if (p == "nesterov") {
        auto v = const_bool(a, what, "train");
        if (v) o.nesterov = *v;
        return v.has_value();
      }
      const Setting which = *setting_of(p);
      auto v = checked_number(*this, which, a, what);
      if (!v) return false;
      if (which == Setting::lr) o.lr = *v;
      else if (which == Setting::momentum) o.momentum = *v;
      else if (which == Setting::beta1) o.beta1 = *v;
      else if (which == Setting::beta2) o.beta2 = *v;
      else if (which == Setting::eps) o.eps = *v;
      else if (which == Setting::weight_decay) o.weight_decay = *v;
      else if (which == Setting::rho) o.rho = *v;
      return true;
    });
    if (!ok) return;
    if (auto bad = optimizer_error(o)) {  // (every argument is within its limits: a rule between them)
      diags.error("train", range(s.value), *bad);
      return;
    }
  }
  g.train.optimizer = o;
}

void Lowerer::schedule(const ast::Setting& s) {
  std::string name;
  const ast::Call* call = nullptr;
  const KindRow* row = setting_kind(*this, s, schedule_rows(), "schedule", "", name, call);
  if (!row) return;
  ScheduleSpec sc;
  sc.kind = *schedule_kind(name);
  sc.loc = range(s);
  if (!call && row->required > 0) {
    diags.error("train", range(s.value),
                fmt::format("'{}' needs arguments: {}({})", name, name, fmt::join(row->params, ", ")));
    return;
  }
  if (call) {
    bool ok = visit_args(*this, *call, name, *row, [&](const std::string& p, const ast::Expression& a,
                                                      const std::string& what) {
      const Setting which = *setting_of(p);
      auto v = checked_number(*this, which, a, what);
      if (!v) return false;
      if (which == Setting::rate) sc.rate = *v;
      else if (which == Setting::every) sc.every = int64_t(*v);
      else if (which == Setting::total) sc.total = int64_t(*v);
      return true;
    });
    if (!ok) return;
  }
  g.train.schedule = sc;
}

void Lowerer::train_setting(const ast::Setting& s, std::map<std::string, SourceRange>& seen) {
  const std::string& key = s.key.name;
  if (std::find(kSettings.begin(), kSettings.end(), key) == kSettings.end()) {
    auto& d = diags.error("train", range(s.key), fmt::format("unknown train setting '{}'", key));
    if (auto sug = suggest(key, kSettings)) d.message += fmt::format("; did you mean '{}'?", *sug);
    d.notes.push_back({fmt::format("the settings are {}", fmt::join(kSettings, ", ")), {}});
    if (key == "lr" || key == "learning_rate")
      d.notes.push_back({"the learning rate is an optimizer argument: optimizer = adam(lr = 0.01)", {}});
    if (key == "batch" || key == "batch_size")
      d.notes.push_back({"the batch size is a dim: dim batch = 64 (or --batch when training)", {}});
    return;
  }
  auto prev = seen.find(key);
  if (prev != seen.end()) {
    auto& d = diags.error("train", range(s), fmt::format("'{}' is set twice in the train block", key));
    d.notes.push_back({"previous setting is here", prev->second});
    return;
  }
  seen.emplace(key, range(s));
  if (key == "optimizer") optimizer(s);
  else if (key == "schedule") schedule(s);
  else if (key == "clip_norm") {
    if (auto v = checked_number(*this, Setting::clip_norm, s.value, key)) g.train.clip_norm = *v;
  } else if (key == "epochs") {
    if (auto v = checked_number(*this, Setting::epochs, s.value, key)) g.train.epochs = int64_t(*v);
  } else if (key == "seed") {
    if (auto v = checked_number(*this, Setting::seed, s.value, key)) g.train.seed = static_cast<uint64_t>(*v);
  }
}

void Lowerer::train(const ast::TrainBlock& t) {
  g.train.present = true;
  g.train.loc = range(t);
  std::map<std::string, SourceRange> seen;
  const ast::Minimize* minimize = nullptr;
  for (auto& item : t.items) {
    const auto& v = item.get();
    if (auto* s = boost::get<ast::Setting>(&v)) {
      train_setting(*s, seen);
    } else if (auto* m = boost::get<ast::Minimize>(&v)) {
      if (minimize) {
        auto& d = diags.error("train", range(*m), "the train block minimises one loss");
        d.notes.push_back({"previous 'minimize' is here", range(*minimize)});
        continue;
      }
      minimize = m;
      g.train.minimize_loc = range(m->value);
      auto val = expr(m->value);
      if (!val) continue;
      if (!val->node) {
        diags.error("train", range(m->value), "the minimised loss is a constant; it must depend on the model's params");
        continue;
      }
      const Node& n = g[*val->node];
      std::string who = !n.name.empty() ? fmt::format("'{}'", n.name) : !text(m->value).empty()
                                                                            ? fmt::format("'{}'", text(m->value))
                                                                            : std::string("the loss");
      if (!is_float(n.dtype)) {
        diags.error("type", range(m->value),
                    fmt::format("the minimised loss must be a floating-point scalar, but {} has type {}", who,
                                type_str(n.dtype, n.shape)));
      } else if (!n.shape.empty()) {
        diags.error("shape", range(m->value),
                    fmt::format("the minimised loss must be a scalar, but {} has type {}; reduce it with mean(...)",
                                who, type_str(n.dtype, n.shape)));
      } else {
        g.train.minimize = *val->node;
      }
    } else if (auto* m = boost::get<ast::MetricDecl>(&v)) {
      bool named = check_reserved(m->name);
      auto val = expr(m->value);
      std::optional<NodeId> id;
      if (val) id = node_of(*val);
      if (id) {
        const Node& n = g[*id];
        if (!n.shape.empty() || !is_float(n.dtype)) {
          diags.error(is_float(n.dtype) ? "shape" : "type", range(m->value),
                      fmt::format("metric '{}' must be a floating-point scalar, but it has type {}; reduce it with "
                                  "mean(...)",
                                  m->name.name, type_str(n.dtype, n.shape)));
          id.reset();
        }
      }
      Entry e;
      e.kind = EntryKind::metric;
      if (id) e.value = Value{*id, {}, range(m->value)};
      if (named && define(m->name.name, range(m->name), std::move(e)) && id) {
        if (g[*id].name.empty()) g[*id].name = m->name.name;
        g.train.metrics.emplace_back(m->name.name, *id);
      }
    }
  }
  if (!minimize) diags.error("train", range(t), "the train block needs 'minimize LOSS', naming a scalar loss");
}

}  // namespace kiln::lower
