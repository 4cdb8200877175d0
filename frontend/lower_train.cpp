// Semantic lowering, the train block: the minimised loss, metrics, the optimizer and its
// hyper-parameters, the learning-rate schedule, clip_norm, epochs and seed.
#include "frontend/lower_impl.hpp"
#include <fmt/format.h>
#include <fmt/ranges.h>

namespace kiln::lower {

namespace {
const std::vector<std::string> kSettings = {"optimizer", "schedule", "clip_norm", "epochs", "seed"};

// One kind of optimizer or schedule: its name, its parameters in positional order, and how
// many of them (from the front) are required.
struct KindRow {
  std::string_view name;
  std::vector<std::string> params;
  size_t required = 0;
};
const std::vector<KindRow>& optimizers() {
  static const std::vector<KindRow> t = {
      {"sgd", {"lr", "momentum", "nesterov"}},
      {"adam", {"lr", "beta1", "beta2", "eps"}},
      {"adamw", {"lr", "weight_decay", "beta1", "beta2", "eps"}},
      {"rmsprop", {"lr", "rho", "eps"}},
      {"adagrad", {"lr", "eps"}},
  };
  return t;
}

const std::vector<KindRow>& schedules() {
  static const std::vector<KindRow> t = {
      {"constant", {}, 0},
      {"exponential_decay", {"rate", "every"}, 1},
      {"step_decay", {"rate", "every"}, 1},
      {"cosine", {"total"}, 1},
  };
  return t;
}

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
  auto bound = L.bind_args(call, name, row.params, row.required, "train");
  if (!bound) return false;
  bool ok = true;
  for (size_t i = 0; i < row.params.size(); ++i)
    if (const ast::Expression* a = (*bound)[i])
      ok = visit(row.params[i], *a, fmt::format("{}'s {}", name, row.params[i])) && ok;
  return ok;
}

void Lowerer::optimizer(const ast::Setting& s) {
  std::string name;
  const ast::Call* call = nullptr;
  const KindRow* row = setting_kind(*this, s, optimizers(), "optimizer", ", e.g. optimizer = adam(lr = 0.01)", name, call);
  if (!row) return;
  OptimizerSpec o;
  o.kind = name;
  o.loc = range(s);
  if (name == "adamw") o.weight_decay = 0.01;
  if (name == "rmsprop" || name == "adagrad") o.eps = 1e-7;
  if (call) {
    bool ok = visit_args(*this, *call, name, *row, [&](const std::string& p, const ast::Expression& a,
                                                      const std::string& what) {
      if (p == "nesterov") {
        auto v = const_bool(a, what, "train");
        if (v) o.nesterov = *v;
        return v.has_value();
      }
      auto v = const_number(a, what, "train");
      if (!v) return false;
      std::string bad;
      if ((p == "lr" || p == "eps") && !(*v > 0)) bad = "must be positive";
      else if ((p == "momentum" || p == "beta1" || p == "beta2" || p == "rho") && !(*v >= 0 && *v < 1))
        bad = "must be in [0, 1)";
      else if (p == "weight_decay" && !(*v >= 0)) bad = "must not be negative";
      if (!bad.empty()) {
        diags.error("train", range(a), fmt::format("{} {}, got {}", what, bad, *v));
        return false;
      }
      if (p == "lr") o.lr = *v;
      else if (p == "momentum") o.momentum = *v;
      else if (p == "beta1") o.beta1 = *v;
      else if (p == "beta2") o.beta2 = *v;
      else if (p == "eps") o.eps = *v;
      else if (p == "weight_decay") o.weight_decay = *v;
      else if (p == "rho") o.rho = *v;
      return true;
    });
    if (!ok) return;
    if (o.nesterov && o.momentum == 0) {
      diags.error("train", range(s.value), "nesterov = true needs a momentum above 0, e.g. sgd(lr = 0.1, momentum = 0.9, nesterov = true)");
      return;
    }
  }
  g.train.optimizer = o;
}

void Lowerer::schedule(const ast::Setting& s) {
  std::string name;
  const ast::Call* call = nullptr;
  const KindRow* row = setting_kind(*this, s, schedules(), "schedule", "", name, call);
  if (!row) return;
  ScheduleSpec sc;
  sc.kind = name;
  sc.loc = range(s);
  if (!call && row->required > 0) {
    diags.error("train", range(s.value),
                fmt::format("'{}' needs arguments: {}({})", name, name, fmt::join(row->params, ", ")));
    return;
  }
  if (call) {
    bool ok = visit_args(*this, *call, name, *row, [&](const std::string& p, const ast::Expression& a,
                                                      const std::string& what) {
      if (p == "rate") {
        auto v = const_number(a, what, "train");
        if (v && !(*v > 0 && *v <= 1)) {
          diags.error("train", range(a), fmt::format("{} must be in (0, 1], got {}", what, *v));
          return false;
        }
        if (v) sc.rate = *v;
        return v.has_value();
      }
      auto v = const_int(a, what, "train");
      if (v && *v < 1) {
        diags.error("train", range(a), fmt::format("{} must be at least 1, got {}", what, *v));
        return false;
      }
      if (v && p == "every") sc.every = *v;
      else if (v) sc.total = *v;
      return v.has_value();
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
    auto v = const_number(s.value, "clip_norm", "train");
    if (v && !(*v > 0)) diags.error("train", range(s.value), fmt::format("clip_norm must be positive, got {}", *v));
    else if (v) g.train.clip_norm = *v;
  } else if (key == "epochs") {
    auto v = const_int(s.value, "epochs", "train");
    if (v && *v <= 0) diags.error("train", range(s.value), fmt::format("epochs must be positive, got {}", *v));
    else if (v) g.train.epochs = *v;
  } else if (key == "seed") {
    auto v = const_int(s.value, "seed", "train");
    if (v && *v < 0) diags.error("train", range(s.value), fmt::format("seed must not be negative, got {}", *v));
    else if (v) g.train.seed = static_cast<uint64_t>(*v);
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
