// Semantic lowering, declarations: the model name, dims, types, inputs, params, consts and
// their initialisers, fns, bindings and outputs; the entry points lower_model/compile_source.
//
// Rules the language document leaves open, as implemented here:
//  - One namespace for dims, inputs, params, consts, fns, bindings, outputs and metrics; each
//    name is defined once. Builtin function names and true/false cannot be defined
//    (`redefined`); initialiser names (zeros, ...) can, and then shadow nothing in inits.
//  - dims are collected first (usable anywhere); every other name must be defined before
//    its use ("use of 'h' before its definition"), except in the train block, which is
//    lowered after all other statements. fn bodies see the names defined before the fn,
//    plus their parameters (which may shadow globals); a fn cannot call itself.
//  - Numbers and list literals stay untyped constants until they meet an operand, whose
//    element type they take (f32 otherwise); arithmetic on two scalar constants folds.
//    dims are constants in expressions too (`x / batch`).
//  - Defaults: argmax needs an axis; softmax/log_softmax axis -1; concat axis 0; reductions
//    over all axes; reshape accepts one -1. Without an optimizer setting the TrainConfig
//    defaults hold (sgd, lr 0.01); without epochs/seed: 10 and 42 (TrainConfig).
#include "frontend/lower_impl.hpp"
#include <cmath>
#include <filesystem>
#include <fmt/format.h>
#include <fmt/ranges.h>

namespace kiln {
namespace lower {

bool within_element_limit(const Shape& s) {
  auto n = checked_num_elements(s);
  return n && *n <= kMaxElements;
}

std::string too_many_elements(const std::string& what, const Shape& s) {
  double n = 1;
  for (int64_t d : s) n *= double(d);
  return fmt::format("{} has {:.3g} elements, more than a tensor may hold (2^40 = {})", what, n, kMaxElements);
}

Lowerer::Lowerer(const Parsed& parsed, const SourceFile& file, Diagnostics& diags, const LowerOptions& opts)
    : parsed(parsed), pos(parsed.positions), file(file), diags(diags), opts(opts) {}

const ast::Operand* single(const ast::Expression& e) {
  if (!e.rest.empty()) return nullptr;
  const ast::Operand* o = &e.first;
  if (auto* inner = as<ast::Expression>(*o)) return single(*inner);
  return o;
}

std::optional<std::string> suggest(std::string_view name, const std::vector<std::string>& candidates) {
  size_t best = std::string::npos;
  std::string pick;
  for (auto& c : candidates) {
    if (c == name) continue;
    // Levenshtein distance, one row at a time.
    std::vector<size_t> row(c.size() + 1);
    for (size_t j = 0; j <= c.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= name.size(); ++i) {
      size_t prev = row[0];
      row[0] = i;
      for (size_t j = 1; j <= c.size(); ++j) {
        size_t cur = row[j];
        row[j] = std::min({row[j] + 1, row[j - 1] + 1, prev + (name[i - 1] == c[j - 1] ? 0 : 1)});
        prev = cur;
      }
    }
    size_t d = row[c.size()];
    if (d < best) { best = d; pick = c; }
  }
  size_t limit = std::max<size_t>(1, name.size() / 3);
  if (best == std::string::npos || best > limit || best >= name.size()) return std::nullopt;
  return pick;
}

SourceRange Lowerer::range(const ast::Operand& o) const {
  if (auto* n = as<ast::Number>(o)) return range(*n);
  if (auto* n = as<ast::Identifier>(o)) return range(*n);
  if (auto* n = as<ast::Call>(o)) {
    SourceRange r = range(*n);
    return r.valid() ? r : range(n->callee);
  }
  if (auto* n = as<ast::ListLiteral>(o)) return range(*n);
  if (auto* n = as<ast::Unary>(o)) {
    SourceRange r = range(*n);
    return r.valid() ? r : range(n->operand);
  }
  if (auto* n = as<ast::Expression>(o)) return range(*n);
  return {};
}

SourceRange Lowerer::range(const ast::Expression& e) const {
  SourceRange r = pos.of(e);
  if (r.valid()) return r;
  r = range(e.first);
  for (auto& op : e.rest) r = SourceRange::merge(r, range(op.operand));
  return r;
}

std::string Lowerer::text(const ast::x3::position_tagged& n) const {
  auto [b, e] = pos.offsets(n);
  if (e <= b || e > file.text().size()) return {};
  std::string s = file.text().substr(b, e - b);
  if (s.find('\n') != std::string::npos || s.size() > 40) return {};
  return s;
}

// ---- names ----------------------------------------------------------------------------

bool Lowerer::check_reserved(const ast::Identifier& id) {
  if (id.name == "true" || id.name == "false") {
    diags.error("redefined", range(id), fmt::format("'{}' is a reserved word and cannot be defined", id.name));
    return false;
  }
  if (is_builtin_function(id.name)) {
    diags.error("redefined", range(id),
                fmt::format("'{}' is the name of a builtin function and cannot be redefined; choose another name",
                            id.name));
    return false;
  }
  return true;
}

bool Lowerer::define(const std::string& name, SourceRange loc, Entry e) {
  auto it = globals.find(name);
  if (it != globals.end()) {
    if (!it->second.def.valid() && name == "batch" && it->second.kind == EntryKind::dim) {
      diags.error("redefined", loc,
                  fmt::format("'batch' is a predeclared dim ({}); declare it with `dim batch = N` to change it",
                              it->second.dim));
    } else {
      auto& d = diags.error("redefined", loc, fmt::format("redefinition of '{}'", name));
      d.notes.push_back({"previous definition is here", it->second.def});
    }
    return false;
  }
  e.def = loc;
  e.seq = seq++;
  globals.emplace(name, std::move(e));
  return true;
}

// ---- dims and types ---------------------------------------------------------------------

// The value of a string of digits, saturated at kMaxElements + 1; nullopt for anything else.
static std::optional<int64_t> parse_positive_int(const std::string& s) {
  if (s.empty()) return std::nullopt;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = std::min(v * 10 + (c - '0'), kMaxElements + 1);
  }
  return v;
}

// Why a dim's text is not a usable size.
static std::string bad_dim(const std::string& what, const std::string& text, std::optional<int64_t> v) {
  if (v && *v > kMaxElements)
    return fmt::format("{} is at most 2^40 = {}, got '{}'", what, kMaxElements, text);
  return fmt::format("{} must be a positive integer, got '{}'", what, text);
}

void Lowerer::declare_dims() {
  for (auto& s : parsed.program.statements) {
    auto* d = boost::get<ast::DimDecl>(&s.get());
    if (!d) continue;
    if (!check_reserved(d->name)) continue;
    auto v = parse_positive_int(d->value.text);
    Entry e;
    e.kind = EntryKind::dim;
    if (!v || *v <= 0 || *v > kMaxElements) {
      diags.error("shape", range(d->value), bad_dim(fmt::format("dim '{}'", d->name.name), d->value.text, v));
      e.dim = 1;  // keeps later types well formed; the error stops the compilation
    } else {
      e.dim = *v;
    }
    if (d->name.name == "batch" && opts.batch) e.dim = *opts.batch;
    define(d->name.name, range(d->name), std::move(e));
  }
  if (!globals.count("batch")) {
    Entry e;
    e.kind = EntryKind::dim;
    e.dim = opts.batch.value_or(32);
    globals.emplace("batch", e);
  }
  if (opts.batch)  // (the command line checked --batch already, with the same limits)
    if (auto bad = setting_error(Setting::batch, double(*opts.batch)))
      diags.error("shape", {}, fmt::format("the batch size {}", *bad));
  g.batch = globals["batch"].dim;
}

std::optional<int64_t> Lowerer::dim_value(const ast::Dim& d) {
  if (!d.text.empty() && d.text[0] >= '0' && d.text[0] <= '9') {
    auto v = parse_positive_int(d.text);
    if (!v || *v <= 0 || *v > kMaxElements) {
      diags.error("shape", range(d), bad_dim("a dimension", d.text, v));
      return std::nullopt;
    }
    return *v;
  }
  const Entry* e = lookup_global(d.text);
  if (e && e->kind == EntryKind::dim) return e->dim;
  if (e) {
    diags.error("shape", range(d), fmt::format("'{}' is not a dim; a dimension is an integer or a dim name", d.text));
    return std::nullopt;
  }
  std::vector<std::string> dims;
  for (auto& [n, en] : globals)
    if (en.kind == EntryKind::dim) dims.push_back(n);
  std::string msg = fmt::format("use of undefined dim '{}'", d.text);
  auto& diag = diags.error("undefined", range(d), msg);
  if (auto s = suggest(d.text, dims)) {
    diag.message += fmt::format("; did you mean '{}'?", *s);
    diag.fixits.push_back({fmt::format("replace '{}' with '{}'", d.text, *s), range(d), *s});
  }
  return std::nullopt;
}

std::optional<ValueType> Lowerer::type(const ast::TypeSpec& t) {
  ValueType v;
  bool ok = true;
  const std::string& e = t.elem.name;
  if (e == "f32") v.dtype = DType::f32;
  else if (e == "f64") v.dtype = DType::f64;
  else if (e == "i32") v.dtype = DType::i32;
  else {
    diags.error("type", range(t.elem), fmt::format("unknown element type '{}'; kiln supports f32, f64 and i32", e));
    ok = false;
  }
  for (auto& d : t.dims) {
    auto n = dim_value(d);
    if (!n) { ok = false; continue; }
    v.shape.push_back(*n);
  }
  if (ok && !within_element_limit(v.shape)) {
    diags.error("shape", range(t), too_many_elements(fmt::format("type {}", type_str(v.dtype, v.shape)), v.shape));
    ok = false;
  }
  if (!ok) return std::nullopt;
  return v;
}

// ---- leaves -----------------------------------------------------------------------------

void Lowerer::input(const ast::InputDecl& d) {
  bool named = check_reserved(d.name);
  auto t = type(d.type);
  Entry e;
  e.kind = EntryKind::input;
  if (t && d.normalize && !is_float(t->dtype)) {
    diags.error("type", range(d), fmt::format("only floating-point inputs can be normalized; '{}' has type {}",
                                              d.name.name, type_str(t->dtype, t->shape)));
    t.reset();
  }
  if (t) {
    Node n{Op::input, t->dtype, t->shape, {}, {}, range(d), d.name.name};
    n.attrs.normalize = d.normalize;
    NodeId id = g.append(std::move(n));
    g.inputs.push_back(id);
    e.value = Value{id, {}, range(d.name)};
  }
  if (named) define(d.name.name, range(d.name), std::move(e));
}

namespace {
struct InitRow {
  std::string_view name;
  InitKind kind;
  std::vector<std::string> params;
};
const std::vector<InitRow>& init_table() {
  static const std::vector<InitRow> t = {
      {"zeros", InitKind::zeros, {}},
      {"ones", InitKind::ones, {}},
      {"constant", InitKind::constant, {"value"}},
      {"normal", InitKind::normal, {"mean", "std"}},
      {"uniform", InitKind::uniform, {"lo", "hi"}},
      {"glorot_uniform", InitKind::glorot_uniform, {}},
      {"glorot_normal", InitKind::glorot_normal, {}},
      {"he_normal", InitKind::he_normal, {}},
      {"he_uniform", InitKind::he_uniform, {}},
      {"lecun_normal", InitKind::lecun_normal, {}},
  };
  return t;
}
const InitRow* find_init(std::string_view name) {
  for (auto& r : init_table())
    if (r.name == name) return &r;
  return nullptr;
}
}  // namespace

bool is_initialiser(std::string_view name) { return find_init(name) != nullptr; }

namespace {
std::string init_usage(const InitRow& r) {
  return r.params.empty() ? std::string(r.name) : fmt::format("{}({})", r.name, fmt::join(r.params, ", "));
}
}  // namespace

std::optional<Init> Lowerer::init(const ast::ParamDecl& d, const ValueType& t) {
  const std::string& who = d.name.name;
  const ast::Operand* o = single(d.init);
  const ast::Identifier* id = o ? as<ast::Identifier>(*o) : nullptr;
  const ast::Call* call = o ? as<ast::Call>(*o) : nullptr;
  std::string name = id ? id->name : call ? call->callee.name : std::string();
  const InitRow* row = find_init(name);
  SourceRange loc = range(d.init);

  if ((id || call) && !row) {
    const Entry* e = id ? lookup_global(name) : nullptr;
    if (!(e && e->kind == EntryKind::dim) && name != "true" && name != "false") {
      std::vector<std::string> names;
      for (auto& r : init_table()) names.emplace_back(r.name);
      auto& diag = diags.error("init", id ? range(*id) : range(call->callee),
                               fmt::format("unknown initialiser '{}'", name));
      if (auto s = suggest(name, names)) diag.message += fmt::format("; did you mean '{}'?", *s);
      diag.notes.push_back({fmt::format("the initialisers are {}, or a number or list literal",
                                        fmt::join(names, ", ")), {}});
      return std::nullopt;
    }
  }
  if (!row) {  // a literal: a number fills the whole tensor, a list must match the shape
    auto c = const_tensor(d.init, fmt::format("the initial value of '{}'", who), "init");
    if (!c) return std::nullopt;
    Init in;
    if (c->shape.empty()) {
      in.kind = InitKind::constant;
      in.a = c->data[0];
      return in;
    }
    if (c->shape != t.shape) {
      diags.error("init", loc,
                  fmt::format("the literal has shape {} but '{}' is declared {}", shape_str(c->shape), who,
                              type_str(t.dtype, t.shape)));
      return std::nullopt;
    }
    in.kind = InitKind::literal;
    in.data = std::move(c->data);
    return in;
  }

  Init in;
  in.kind = row->kind;
  std::vector<double> vals;
  if (call) {
    auto bound = bind_args(*call, row->name, row->params, row->params.size(), "init");
    if (!bound) return std::nullopt;
    for (size_t i = 0; i < row->params.size(); ++i) {
      auto v = const_number(*(*bound)[i], fmt::format("{}'s {}", row->name, row->params[i]), "init");
      if (!v) return std::nullopt;
      vals.push_back(*v);
    }
  } else if (!row->params.empty()) {
    diags.error("init", loc,
                fmt::format("'{}' needs {} argument{}: {}", row->name, row->params.size(),
                            row->params.size() == 1 ? "" : "s", init_usage(*row)));
    return std::nullopt;
  }
  switch (row->kind) {
    case InitKind::constant: in.a = vals[0]; break;
    case InitKind::normal:
      in.a = vals[0];
      in.b = vals[1];
      if (!(in.b > 0)) {
        diags.error("init", loc, fmt::format("normal's std must be positive, got {}", in.b));
        return std::nullopt;
      }
      break;
    case InitKind::uniform:
      in.a = vals[0];
      in.b = vals[1];
      if (!(in.a < in.b)) {
        diags.error("init", loc, fmt::format("uniform needs lo < hi, got lo = {} and hi = {}", in.a, in.b));
        return std::nullopt;
      }
      break;
    case InitKind::glorot_uniform:
    case InitKind::glorot_normal:
    case InitKind::he_normal:
    case InitKind::he_uniform:
    case InitKind::lecun_normal:
      if (t.shape.empty()) {
        diags.error("init", loc,
                    fmt::format("{} scales by the fan-in, which a scalar does not have; '{}' is {}: use zeros, "
                                "constant(v) or normal(mean, std)",
                                row->name, who, type_str(t.dtype, t.shape)));
        return std::nullopt;
      }
      break;
    default: break;
  }
  return in;
}

void Lowerer::param(const ast::ParamDecl& d) {
  bool named = check_reserved(d.name);
  bool is_param = d.kind == "param";
  Entry e;
  e.kind = is_param ? EntryKind::param : EntryKind::const_;
  if (!is_param && d.kind != "const") {
    diags.error("syntax", range(d), fmt::format("unknown declaration '{}'; expected param or const", d.kind));
    if (named) define(d.name.name, range(d.name), std::move(e));
    return;
  }
  auto t = type(d.type);
  if (t && t->dtype == DType::i32) {
    diags.error("type", range(d.type),
                fmt::format("a {} cannot be i32: i32 is for class-label inputs; use f32 or f64", d.kind));
    t.reset();
  }
  std::optional<Init> in;
  if (t) in = init(d, *t);
  if (t && in) {
    Node n{is_param ? Op::param : Op::const_, t->dtype, t->shape, {}, {}, range(d), d.name.name};
    n.attrs.init = std::move(*in);
    NodeId id = g.append(std::move(n));
    (is_param ? g.params : g.consts).push_back(id);
    e.value = Value{id, {}, range(d.name)};
  }
  if (named) define(d.name.name, range(d.name), std::move(e));
}

// ---- fns, bindings, outputs --------------------------------------------------------------

bool Lowerer::check_names(const ast::Operand& o, const ast::FnDecl& fn, const std::vector<std::string>& params) {
  auto is_param = [&](const std::string& n) { return std::find(params.begin(), params.end(), n) != params.end(); };
  if (auto* id = as<ast::Identifier>(o)) {
    if (is_param(id->name)) return true;
    return identifier(*id).has_value() || globals.count(id->name);  // reports undefined names
  }
  if (auto* c = as<ast::Call>(o)) {
    bool ok = true;
    const std::string& name = c->callee.name;
    if (is_param(name)) {
      diags.error("call", range(c->callee), fmt::format("'{}' is a parameter of '{}', not a function", name,
                                                         fn.name.name));
      ok = false;
    } else if (name == fn.name.name) {
      diags.error("call", range(c->callee),
                  fmt::format("'{}' calls itself; a fn is expanded inline, so it cannot be recursive", name));
      ok = false;
    } else if (!is_builtin_function(name)) {
      const Entry* e = lookup_global(name);
      if (!e || e->kind != EntryKind::fn) {
        // Report as a call would, without lowering anything.
        ast::Call probe;
        probe.callee = c->callee;
        (void)call(probe);
        ok = false;
      } else if (!e->fn_ok) {
        ok = false;
      }
    }
    for (auto& a : c->args) ok = check_names(a.value, fn, params) && ok;
    return ok;
  }
  if (auto* l = as<ast::ListLiteral>(o)) {
    bool ok = true;
    for (auto& i : l->items) ok = check_names(i, fn, params) && ok;
    return ok;
  }
  if (auto* u = as<ast::Unary>(o)) return check_names(u->operand, fn, params);
  if (auto* e = as<ast::Expression>(o)) return check_names(*e, fn, params);
  return true;
}

bool Lowerer::check_names(const ast::Expression& e, const ast::FnDecl& fn, const std::vector<std::string>& params) {
  bool ok = check_names(e.first, fn, params);
  for (auto& op : e.rest) ok = check_names(op.operand, fn, params) && ok;
  return ok;
}

void Lowerer::fn(const ast::FnDecl& d) {
  bool named = check_reserved(d.name);
  std::vector<std::string> params;
  bool ok = true;
  for (auto& p : d.params) {
    if (!check_reserved(p)) { ok = false; continue; }
    if (std::find(params.begin(), params.end(), p.name) != params.end()) {
      diags.error("redefined", range(p), fmt::format("'{}' names two parameters of '{}'", p.name, d.name.name));
      ok = false;
    }
    params.push_back(p.name);
  }
  // Name-check the body once, here: calls then expand it without repeating these errors.
  // The check only looks names up; it creates no nodes.
  ok = check_names(d.body, d, params) && ok;
  Entry e;
  e.kind = EntryKind::fn;
  e.fn = &d;
  e.fn_ok = ok;
  if (named) define(d.name.name, range(d.name), std::move(e));
}

void Lowerer::binding(const ast::Binding& b) {
  bool named = check_reserved(b.name);
  auto v = expr(b.value);
  if (v && v->node && g[*v->node].name.empty()) g[*v->node].name = b.name.name;
  Entry e;
  e.kind = EntryKind::value;
  e.value = v;
  if (named) define(b.name.name, range(b.name), std::move(e));
}

void Lowerer::output(const ast::OutputDecl& o) {
  bool named = check_reserved(o.name);
  auto v = expr(o.value);
  std::optional<NodeId> id;
  if (v) id = node_of(*v);
  if (id) {
    if (g[*id].name.empty()) g[*id].name = o.name.name;
    for (auto& [n, existing] : g.outputs)
      if (n == o.name.name) id.reset();  // redefinition: reported by define()
    if (id) g.outputs.emplace_back(o.name.name, *id);
  }
  Entry e;
  e.kind = EntryKind::output;
  if (v && id) e.value = Value{*id, {}, v->loc};
  if (named) define(o.name.name, range(o.name), std::move(e));
}

void Lowerer::statement(const ast::Statement& s) {
  const auto& v = s.get();
  if (auto* d = boost::get<ast::InputDecl>(&v)) input(*d);
  else if (auto* d = boost::get<ast::ParamDecl>(&v)) param(*d);
  else if (auto* d = boost::get<ast::FnDecl>(&v)) fn(*d);
  else if (auto* d = boost::get<ast::Binding>(&v)) binding(*d);
  else if (auto* d = boost::get<ast::OutputDecl>(&v)) output(*d);
  // ModelDecl, DimDecl and TrainBlock are handled by run().
}

std::optional<Graph> Lowerer::run() {
  size_t errors_before = diags.error_count();
  g.file = file.path();
  g.model_name = std::filesystem::path(file.path()).stem().string();
  const ast::ModelDecl* model = nullptr;
  const ast::TrainBlock* train_block = nullptr;
  for (auto& s : parsed.program.statements) {
    const auto& v = s.get();
    const ast::Identifier* name = nullptr;
    if (auto* d = boost::get<ast::InputDecl>(&v)) name = &d->name;
    else if (auto* d = boost::get<ast::ParamDecl>(&v)) name = &d->name;
    else if (auto* d = boost::get<ast::FnDecl>(&v)) name = &d->name;
    else if (auto* d = boost::get<ast::Binding>(&v)) name = &d->name;
    else if (auto* d = boost::get<ast::OutputDecl>(&v)) name = &d->name;
    else if (auto* d = boost::get<ast::ModelDecl>(&v)) {
      if (model) {
        auto& diag = diags.error("redefined", range(*d), "a file declares one model name");
        diag.notes.push_back({"previous declaration is here", range(*model)});
      } else {
        model = d;
        g.model_name = d->name.name;
      }
    } else if (auto* d = boost::get<ast::TrainBlock>(&v)) {
      if (train_block) {
        auto& diag = diags.error("train", range(*d), "a model has one train block");
        diag.notes.push_back({"previous train block is here", range(*train_block)});
      } else {
        train_block = d;
      }
    }
    if (name) declared_later.emplace(name->name, range(*name));
  }
  declare_dims();
  for (auto& s : parsed.program.statements) {
    if (budget_exceeded) break;
    statement(s);
  }
  // The train block is lowered last: it may name values bound after it.
  if (train_block && !budget_exceeded) train(*train_block);
  if (diags.error_count() > errors_before) return std::nullopt;
  return std::move(g);
}


}  // namespace lower

std::optional<Graph> lower_model(const Parsed& parsed, const SourceFile& file, Diagnostics& diags,
                                 const LowerOptions& opts) {
  lower::Lowerer l(parsed, file, diags, opts);
  return l.run();
}

std::optional<Graph> compile_source(const SourceFile& file, Diagnostics& diags, const LowerOptions& opts) {
  auto parsed = parse_model(file, diags);
  if (!parsed) return std::nullopt;
  return lower_model(*parsed, file, diags, opts);
}

}  // namespace kiln
