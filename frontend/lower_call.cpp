// Semantic lowering, calls: the builtin functions (name -> op and signature, from the op
// table's rows), argument binding with keywords and defaults, and inline expansion of user fns.
#include "frontend/lower_impl.hpp"
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fmt/format.h>
#include <fmt/ranges.h>

namespace kiln::lower {

namespace {
struct Builtin {
  std::string_view name;
  Op op;
  CallKind sig;  // how its arguments are bound (the switch in Lowerer::call)
  std::vector<std::string> params;
  size_t required;
  double alpha = 0;  // default alpha (leaky_relu, elu, huber)
};

// The parameters a kind of call binds below, and how many are required: a row whose
// surface disagrees is an internal error (its call would read a missing argument).
std::pair<size_t, size_t> kind_params(CallKind k) {
  switch (k) {
    case CallKind::unary: return {1, 1};
    case CallKind::alpha: return {2, 1};
    case CallKind::binary: case CallKind::loss: return {2, 2};
    case CallKind::ternary: return {3, 3};
    case CallKind::reduce: return {3, 1};
    case CallKind::argmax: case CallKind::reshape: case CallKind::one_hot: return {2, 2};
    case CallKind::concat: case CallKind::softmax: return {2, 1};
    case CallKind::huber: return {3, 2};
    default: return {0, 0};
  }
}

// The callable ops, from the op table's rows (OpRow::surface): by kind (CallKind's order),
// each kind's rows in table order. "did you mean" suggestions take the first of equally
// close names, so this order is part of the messages.
const std::vector<Builtin>& builtins() {
  static const std::vector<Builtin> t = [] {
    std::vector<Builtin> b;
    for (int i = 0; i < kNumOps; ++i) {
      const OpRow& r = op_row(Op(i));
      const Surface& s = r.surface;
      if (!is_call(s.kind)) continue;
      std::vector<std::string> params;
      for (std::string_view p : s.params)
        if (!p.empty()) params.emplace_back(p);
      if (kind_params(s.kind) != std::pair<size_t, size_t>{params.size(), size_t(s.required)}) {
        std::fprintf(stderr, "kiln: internal error: the call signature of op %s does not fit its kind\n",
                     std::string(r.name).c_str());
        std::abort();
      }
      b.push_back({s.name, r.op, s.kind, std::move(params), size_t(s.required), s.alpha});
    }
    std::stable_sort(b.begin(), b.end(), [](const Builtin& x, const Builtin& y) { return x.sig < y.sig; });
    return b;
  }();
  return t;
}

const Builtin* find_builtin(std::string_view name) {
  for (auto& b : builtins())
    if (b.name == name) return &b;
  return nullptr;
}

std::string plural(size_t n, std::string_view word) { return fmt::format("{} {}{}", n, word, n == 1 ? "" : "s"); }
}  // namespace

const std::vector<std::string>& builtin_function_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (auto& b : builtins()) n.emplace_back(b.name);
    return n;
  }();
  return names;
}

bool is_builtin_function(std::string_view name) { return find_builtin(name) != nullptr; }

std::vector<std::string> Lowerer::function_names() const {
  std::vector<std::string> out = builtin_function_names();
  for (auto& [n, e] : globals)
    if (e.kind == EntryKind::fn && lookup_global(n)) out.push_back(n);
  return out;
}

std::optional<BoundArgs> Lowerer::bind_args(const ast::Call& c, std::string_view name,
                                            const std::vector<std::string>& params, size_t required,
                                            const char* id) {
  BoundArgs out(params.size(), nullptr);
  SourceRange loc = range(c);
  if (!loc.valid()) loc = range(c.callee);
  std::string usage = fmt::format("{}({})", name, fmt::join(params, ", "));
  bool ok = true, seen_keyword = false;
  size_t positional = 0;
  for (auto& a : c.args) {
    SourceRange aloc = range(a);
    if (!aloc.valid()) aloc = range(a.value);
    if (!a.keyword) {
      if (seen_keyword) {
        diags.error(id, aloc, fmt::format("positional argument after a keyword argument in the call to '{}'", name));
        ok = false;
        continue;
      }
      if (positional >= params.size()) {
        size_t given = 0;
        for (auto& x : c.args) given += !x.keyword;
        diags.error(id, aloc,
                    fmt::format("'{}' takes {}{}, but {} were given: {}", name,
                                required == params.size() ? "" : "at most ", plural(params.size(), "argument"),
                                given, usage));
        return std::nullopt;
      }
      out[positional++] = &a.value;
      continue;
    }
    seen_keyword = true;
    const std::string& kw = a.keyword->name;
    auto it = std::find(params.begin(), params.end(), kw);
    if (it == params.end()) {
      auto& d = diags.error(id, range(*a.keyword), fmt::format("'{}' has no argument named '{}'", name, kw));
      if (auto s = suggest(kw, params)) d.message += fmt::format("; did you mean '{}'?", *s);
      d.notes.push_back({fmt::format("'{}' is called as {}", name, usage), {}});
      ok = false;
      continue;
    }
    size_t i = static_cast<size_t>(it - params.begin());
    if (out[i]) {
      diags.error(id, range(*a.keyword), fmt::format("argument '{}' of '{}' is given twice", kw, name));
      ok = false;
      continue;
    }
    out[i] = &a.value;
  }
  if (!ok) return std::nullopt;
  std::vector<std::string> missing;
  for (size_t i = 0; i < required; ++i)
    if (!out[i]) missing.push_back(params[i]);
  if (!missing.empty()) {
    diags.error(id, loc,
                fmt::format("missing {} '{}' in the call to '{}': {}", missing.size() == 1 ? "argument" : "arguments",
                            fmt::join(missing, "', '"), name, usage));
    return std::nullopt;
  }
  return out;
}

std::optional<Value> Lowerer::call_fn(const ast::Call& c, const Entry& e) {
  const ast::FnDecl& d = *e.fn;
  std::vector<std::string> params;
  for (auto& p : d.params) params.push_back(p.name);
  auto bound = bind_args(c, d.name.name, params, params.size(), "call");
  // Lower the arguments even when the fn is unusable, so their own errors show.
  std::vector<std::optional<Value>> args;
  bool ok = bound.has_value() && e.fn_ok;
  if (bound)
    for (auto* a : *bound) {
      args.push_back(expr(*a));
      ok = ok && args.back().has_value();
    }
  if (!ok) return std::nullopt;
  SourceRange loc = range(c);
  Frame f{d.name.name, loc, e.seq, {}};
  for (size_t i = 0; i < params.size(); ++i) f.locals[params[i]] = args[i];
  frames.push_back(std::move(f));
  auto v = expr(d.body);
  frames.pop_back();
  if (v) v->loc = loc;
  return v;
}

std::optional<Value> Lowerer::call(const ast::Call& c) {
  const std::string& name = c.callee.name;
  SourceRange loc = range(c);
  if (!loc.valid()) loc = range(c.callee);
  const Builtin* b = find_builtin(name);
  if (!b) {
    if (auto local = lookup_local(name)) {
      diags.error("call", range(c.callee), fmt::format("'{}' is a value, not a function", name));
      return std::nullopt;
    }
    if (const Entry* e = lookup_global(name)) {
      if (e->kind == EntryKind::fn) return call_fn(c, *e);
      if (e->kind == EntryKind::dim) diags.error("call", range(c.callee), fmt::format("'{}' is a dim, not a function", name));
      else diags.error("call", range(c.callee), fmt::format("'{}' is a value, not a function", name));
      return std::nullopt;
    }
    if (is_initialiser(name)) {
      diags.error("undefined", range(c.callee),
                  fmt::format("'{}' is an initialiser; it can only follow '=' in a param or const declaration", name));
      return std::nullopt;
    }
    auto later = declared_later.find(name);
    if (later != declared_later.end()) {
      auto& d = diags.error("undefined", range(c.callee), fmt::format("use of '{}' before its definition", name));
      d.notes.push_back({fmt::format("'{}' is defined here", name), later->second});
      return std::nullopt;
    }
    auto& d = diags.error("undefined", range(c.callee), fmt::format("unknown function '{}'", name));
    if (auto s = suggest(name, function_names())) {
      d.message += fmt::format("; did you mean '{}'?", *s);
      d.fixits.push_back({fmt::format("replace '{}' with '{}'", name, *s), range(c.callee), *s});
    }
    return std::nullopt;
  }

  auto bound = bind_args(c, name, b->params, b->required, "call");
  if (!bound) return std::nullopt;
  const BoundArgs& a = *bound;
  Attrs attrs;
  bool ok = true;
  std::vector<Value> vals;
  std::vector<std::string> labels;
  // Lowers the tensor parameters named by index; constants are read separately.
  auto tensors = [&](std::initializer_list<size_t> idx) {
    for (size_t i : idx) {
      if (!a[i]) continue;
      auto v = expr(*a[i]);
      if (v) vals.push_back(*v);
      else ok = false;
      labels.push_back(fmt::format("argument '{}'", b->params[i]));
    }
  };
  auto what = [&](size_t i) { return fmt::format("{}'s {}", name, b->params[i]); };
  switch (b->sig) {
    case CallKind::unary: tensors({0}); break;
    case CallKind::alpha: {
      tensors({0});
      attrs.alpha = b->alpha;
      if (a[1]) {
        auto v = const_number(*a[1], what(1), "call");
        if (v) attrs.alpha = *v;
        else ok = false;
      }
      break;
    }
    case CallKind::binary: case CallKind::loss: tensors({0, 1}); break;
    case CallKind::huber: {
      tensors({0, 1});
      attrs.alpha = b->alpha;
      if (a[2]) {
        auto v = const_number(*a[2], what(2), "call");
        if (v && !(*v > 0)) {
          diags.error("call", range(*a[2]), fmt::format("huber's delta must be positive, got {}", *v));
          v.reset();
        }
        if (v) attrs.alpha = *v;
        else ok = false;
      }
      break;
    }
    case CallKind::ternary: tensors({0, 1, 2}); break;
    case CallKind::reduce: {
      tensors({0});
      if (a[1]) {
        auto axes = const_ints(*a[1], what(1), "call");
        if (axes) attrs.axes = *axes;
        else ok = false;
      }
      if (a[2]) {
        auto k = const_bool(*a[2], what(2), "call");
        if (k) attrs.keepdims = *k;
        else ok = false;
      }
      break;
    }
    case CallKind::argmax:
    case CallKind::softmax: {
      tensors({0});
      attrs.axes = {-1};
      if (a[1]) {
        auto ax = const_int(*a[1], what(1), "call");
        if (ax) attrs.axes = {*ax};
        else ok = false;
      }
      break;
    }
    case CallKind::reshape: {
      tensors({0});
      auto dims = const_ints(*a[1], what(1), "call");
      const ast::Operand* o = single(*a[1]);
      if (dims && !(o && as<ast::ListLiteral>(*o))) {
        diags.error("call", range(*a[1]), "reshape takes the new shape as a list: reshape(x, [a, b])");
        dims.reset();
      }
      if (!dims) { ok = false; break; }
      Shape target;  // -1 and other non-positive dims count as 1 here (the op's rule rejects them)
      for (int64_t d : *dims) target.push_back(std::max<int64_t>(d, 1));
      if (!within_element_limit(target)) {
        diags.error("shape", range(*a[1]), too_many_elements("the reshape target " + shape_str(*dims), target));
        ok = false;
        break;
      }
      // One dimension may be -1: it is inferred from the element count, as in NumPy.
      int inferred = -1;
      int64_t known = 1;
      for (size_t i = 0; i < dims->size(); ++i) {
        if ((*dims)[i] == -1 && inferred < 0) inferred = static_cast<int>(i);
        else known *= std::max<int64_t>((*dims)[i], 1);
      }
      if (inferred >= 0 && ok && vals.size() == 1) {
        int64_t total = vals[0].node ? num_elements(g[*vals[0].node].shape) : num_elements(vals[0].constant.shape);
        if (known > 0 && total % known == 0) (*dims)[inferred] = total / known;
      }
      attrs.shape = *dims;
      break;
    }
    case CallKind::concat: {
      const ast::Operand* o = single(*a[0]);
      const ast::ListLiteral* l = o ? as<ast::ListLiteral>(*o) : nullptr;
      if (!l) {
        diags.error("call", range(*a[0]), "concat takes a list of values: concat([a, b], axis=1)");
        return std::nullopt;
      }
      for (size_t i = 0; i < l->items.size(); ++i) {
        auto v = expr(l->items[i]);
        if (v) vals.push_back(*v);
        else ok = false;
        labels.push_back(fmt::format("value {}", i + 1));
      }
      if (l->items.empty()) {
        diags.error("call", range(*a[0]), "concat needs at least one value");
        ok = false;
      }
      attrs.axes = {0};
      if (a[1]) {
        auto ax = const_int(*a[1], what(1), "call");
        if (ax) attrs.axes = {*ax};
        else ok = false;
      }
      break;
    }
    case CallKind::one_hot: {
      tensors({0});
      auto n = const_int(*a[1], what(1), "call");
      if (n && *n > (int64_t(1) << 31) - 1) {
        diags.error("call", range(*a[1]), fmt::format("one_hot's number of classes {} is too large", *n));
        n.reset();
      }
      if (n && *n <= 0) {
        diags.error("call", range(*a[1]), fmt::format("one_hot needs a positive number of classes, got {}", *n));
        n.reset();
      }
      if (n) attrs.n = *n;
      else ok = false;
      break;
    }
    case CallKind::unset: case CallKind::internal: case CallKind::declaration: case CallKind::prefix:
    case CallKind::infix:
      std::abort();  // not calls: builtins() holds none
  }
  if (!ok) return std::nullopt;
  if (labels.size() == 1) labels[0] = "the argument";
  return apply(b->op, std::move(vals), std::move(attrs), loc, labels);
}

}  // namespace kiln::lower
