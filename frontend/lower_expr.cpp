// Semantic lowering, expressions: operators by precedence, names (with fn-parameter
// scopes), numbers and literals, and the one place where ops are added to the graph.
#include "frontend/lower_impl.hpp"
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fmt/format.h>

namespace kiln::lower {

namespace {
constexpr size_t kMaxNodes = 500000;
constexpr int kMaxDepth = 400;

struct BinOp {
  std::string_view text;
  int prec;
  Op op = Op::count_;  // the row whose surface is this infix symbol
};
[[noreturn]] void operator_mismatch(std::string_view what, std::string_view symbol) {
  std::fprintf(stderr, "kiln: internal error: operator '%.*s' %.*s\n", int(symbol.size()), symbol.data(),
               int(what.size()), what.data());
  std::abort();
}
// The grammar's infix operators by precedence, each the op whose row has that symbol as its
// surface (checked both ways on first use).
const std::vector<BinOp>& binops() {
  static const std::vector<BinOp> t = [] {
    std::vector<BinOp> v = {{"<", 1}, {"<=", 1}, {">", 1}, {">=", 1}, {"==", 1}, {"!=", 1},
                            {"+", 2}, {"-", 2},  {"*", 3}, {"/", 3},  {"@", 4},  {"^", 6}};
    for (int i = 0; i < kNumOps; ++i) {
      const Surface& s = op_row(Op(i)).surface;
      if (s.kind != CallKind::infix) continue;
      auto it = std::find_if(v.begin(), v.end(), [&](const BinOp& b) { return b.text == s.name; });
      if (it == v.end()) operator_mismatch("of the op table has no precedence in the front end", s.name);
      it->op = Op(i);
    }
    for (const BinOp& b : v)
      if (b.op == Op::count_) operator_mismatch("is no op's surface in the op table", b.text);
    return v;
  }();
  return t;
}
const BinOp* find_binop(std::string_view s) {
  for (auto& b : binops())
    if (b.text == s) return &b;
  return nullptr;
}
// The op of the prefix operator `-`.
Op negation() {
  static const Op op = [] {
    for (int i = 0; i < kNumOps; ++i)
      if (const Surface& s = op_row(Op(i)).surface; s.kind == CallKind::prefix && s.name == "-") return Op(i);
    operator_mismatch("(prefix) is no op's surface in the op table", "-");
  }();
  return op;
}

std::optional<double> fold(Op op, double a, double b) {
  switch (op) {
    case Op::add: return a + b;
    case Op::sub: return a - b;
    case Op::mul: return a * b;
    case Op::div: return a / b;
    case Op::pow: return std::pow(a, b);
    case Op::lt: return a < b ? 1.0 : 0.0;
    case Op::le: return a <= b ? 1.0 : 0.0;
    case Op::gt: return a > b ? 1.0 : 0.0;
    case Op::ge: return a >= b ? 1.0 : 0.0;
    case Op::eq: return a == b ? 1.0 : 0.0;
    case Op::ne: return a != b ? 1.0 : 0.0;
    default: return std::nullopt;
  }
}

// A rule's error is a `type` error when changing only element types would satisfy the
// rule, or when the message is about element types alone; otherwise a `shape` error.
std::string classify(const std::string& err, Op op, const std::vector<ValueType>& in, const Attrs& attrs) {
  const OpRow& row = op_row(op);
  for (int variant = 0; variant < 3; ++variant) {
    std::vector<ValueType> t = in;
    for (auto& v : t) {
      if (variant == 0) v.dtype = DType::f32;
      else if (variant == 1 && v.dtype != DType::i32) v.dtype = DType::f32;
      else if (variant == 2) v.dtype = DType::i32;
    }
    ValueType out;
    std::string e;
    if (row.infer(t, attrs, out, e)) return "type";
  }
  if (err.find("floating-point") != std::string::npos || err.find("takes i32") != std::string::npos) return "type";
  bool mixed = false;
  for (auto& v : in) mixed = mixed || v.dtype != in[0].dtype;
  if (mixed && err.find("element type") != std::string::npos) return "type";
  return "shape";
}
}  // namespace

std::optional<double> Lowerer::number(const ast::Number& n) {
  const char* b = n.text.c_str();
  char* end = nullptr;
  double v = n.text.empty() ? 0 : std::strtod(b, &end);
  if (n.text.empty() || end != b + n.text.size()) {
    diags.error("syntax", range(n), fmt::format("invalid number '{}'", n.text));
    return std::nullopt;
  }
  if (!std::isfinite(v)) {
    diags.error("syntax", range(n), fmt::format("number '{}' is out of range", n.text));
    return std::nullopt;
  }
  return v;
}

const Entry* Lowerer::lookup_global(const std::string& name) const {
  auto it = globals.find(name);
  if (it == globals.end()) return nullptr;
  if (!frames.empty() && it->second.seq >= frames.back().seq_limit) return nullptr;
  return &it->second;
}

std::optional<std::optional<Value>> Lowerer::lookup_local(const std::string& name) const {
  if (frames.empty()) return std::nullopt;
  auto it = frames.back().locals.find(name);
  if (it == frames.back().locals.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> Lowerer::value_names() const {
  std::vector<std::string> out;
  if (!frames.empty())
    for (auto& [n, v] : frames.back().locals) out.push_back(n);
  for (auto& [n, e] : globals)
    if (e.kind != EntryKind::fn && lookup_global(n)) out.push_back(n);
  return out;
}

std::optional<Value> Lowerer::identifier(const ast::Identifier& id) {
  const std::string& name = id.name;
  SourceRange loc = range(id);
  if (name == "true" || name == "false") return Value{std::nullopt, {{}, {name == "true" ? 1.0 : 0.0}}, loc};
  if (auto local = lookup_local(name)) {
    if (!*local) return std::nullopt;
    Value v = **local;
    v.loc = loc;
    return v;
  }
  if (const Entry* e = lookup_global(name)) {
    if (e->kind == EntryKind::dim) return Value{std::nullopt, {{}, {double(e->dim)}}, loc};
    if (e->kind == EntryKind::fn) {
      diags.error("call", loc, fmt::format("'{}' is a function; call it as {}(...)", name, name));
      return std::nullopt;
    }
    if (!e->value) return std::nullopt;
    Value v = *e->value;
    v.loc = loc;
    return v;
  }
  if (is_builtin_function(name)) {
    diags.error("call", loc, fmt::format("'{}' is a builtin function; call it as {}(...)", name, name));
    return std::nullopt;
  }
  if (is_initialiser(name)) {
    diags.error("undefined", loc,
                fmt::format("'{}' is an initialiser; it can only follow '=' in a param or const declaration", name));
    return std::nullopt;
  }
  auto later = declared_later.find(name);
  if (later != declared_later.end()) {
    auto& d = diags.error("undefined", loc, fmt::format("use of '{}' before its definition", name));
    d.notes.push_back({fmt::format("'{}' is defined here", name), later->second});
    add_call_notes(d);
    return std::nullopt;
  }
  auto& d = diags.error("undefined", loc, fmt::format("use of undefined name '{}'", name));
  if (auto s = suggest(name, value_names())) {
    d.message += fmt::format("; did you mean '{}'?", *s);
    d.fixits.push_back({fmt::format("replace '{}' with '{}'", name, *s), loc, *s});
  }
  return std::nullopt;
}

std::optional<Value> Lowerer::operand(const ast::Operand& o) {
  if (auto* n = as<ast::Number>(o)) {
    auto v = number(*n);
    if (!v) return std::nullopt;
    return Value{std::nullopt, {{}, {*v}}, range(*n)};
  }
  if (auto* n = as<ast::Identifier>(o)) return identifier(*n);
  if (auto* n = as<ast::Call>(o)) return call(*n);
  if (auto* n = as<ast::ListLiteral>(o)) return list(*n);
  if (auto* n = as<ast::Unary>(o)) return unary(*n);
  if (auto* n = as<ast::Expression>(o)) {
    auto v = expr(*n);
    if (v) v->loc = range(*n);
    return v;
  }
  return std::nullopt;
}

std::optional<Value> Lowerer::list(const ast::ListLiteral& l) {
  bool reported = false;
  ast::Operand o{ast::x3::forward_ast<ast::ListLiteral>(l)};
  auto c = const_operand(o, "a list literal", "type", reported);
  if (!c) {
    if (!reported)
      diags.error("type", range(l),
                  "a list literal holds constant numbers; to join values use concat([a, b], axis=...)");
    return std::nullopt;
  }
  return Value{std::nullopt, std::move(*c), range(l)};
}

std::optional<Value> Lowerer::unary(const ast::Unary& u) {
  auto v = operand(u.operand);
  if (!v) return std::nullopt;
  SourceRange loc = range(u);
  if (!loc.valid()) loc = v->loc;
  if (u.op != '-') {
    diags.error("syntax", loc, fmt::format("unknown unary operator '{}'", u.op));
    return std::nullopt;
  }
  if (!v->node) {
    for (auto& x : v->constant.data) x = -x;
    v->loc = loc;
    return v;
  }
  return apply(negation(), {*v}, {}, loc, {"operand"});
}

std::optional<Value> Lowerer::binary(const std::string& text, const Value& a, const Value& b) {
  const BinOp* op = find_binop(text);
  SourceRange loc = SourceRange::merge(a.loc, b.loc);
  if (a.is_scalar_constant() && b.is_scalar_constant())
    if (auto r = fold(op->op, a.constant.data[0], b.constant.data[0])) return Value{std::nullopt, {{}, {*r}}, loc};
  return apply(op->op, {a, b}, {}, loc, {"left operand", "right operand"});
}

std::optional<Value> Lowerer::expr(const ast::Expression& e) {
  if (budget_exceeded) return std::nullopt;
  if (depth >= kMaxDepth) {
    diags.error("syntax", range(e), fmt::format("expression nested more than {} levels deep", kMaxDepth));
    budget_exceeded = true;
    return std::nullopt;
  }
  ++depth;
  struct Leave {
    int& d;
    ~Leave() { --d; }
  } leave{depth};

  bool ok = true;
  for (auto& op : e.rest)
    if (!find_binop(op.op)) {
      diags.error("syntax", range(op), fmt::format("unknown operator '{}'", op.op));
      ok = false;
    }
  // Lower every operand first so that independent errors are all reported.
  std::vector<std::optional<Value>> vals;
  vals.push_back(operand(e.first));
  for (auto& op : e.rest) vals.push_back(operand(op.operand));
  for (auto& v : vals) ok = ok && v.has_value();
  if (!ok) return std::nullopt;
  if (e.rest.empty()) {
    Value v = *vals[0];
    if (!v.loc.valid()) v.loc = range(e);
    return v;
  }

  // Precedence climbing over the chain (the parser groups levels, but a flat chain of
  // mixed operators is handled too). `^` is right-associative, all others left.
  size_t next = 1;  // index of the next operand; operator k sits between operands k and k+1
  std::optional<Value> failed;
  auto climb = [&](auto& self, std::optional<Value> lhs, int min_prec) -> std::optional<Value> {
    while (next - 1 < e.rest.size()) {
      const BinOp* op = find_binop(e.rest[next - 1].op);
      if (op->prec < min_prec) break;
      std::optional<Value> rhs = vals[next++];
      while (next - 1 < e.rest.size()) {
        const BinOp* look = find_binop(e.rest[next - 1].op);
        bool right = look->text == "^";
        if (look->prec > op->prec || (right && look->prec == op->prec))
          rhs = self(self, rhs, right && look->prec == op->prec ? look->prec : op->prec + 1);
        else
          break;
      }
      lhs = lhs && rhs ? binary(std::string(op->text), *lhs, *rhs) : std::nullopt;
    }
    return lhs;
  };
  auto v = climb(climb, vals[0], 0);
  if (v) {
    SourceRange r = range(e);
    if (r.valid() && v->node && !g[*v->node].loc.valid()) g[*v->node].loc = r;
  }
  return v;
}

NodeId Lowerer::materialize(const Value& v, DType t) {
  if (v.constant.shape.empty()) return g.scalar(v.constant.data.empty() ? 0.0 : v.constant.data[0], t, v.loc);
  Node n{Op::literal, t, v.constant.shape, {}, {}, v.loc, {}};
  n.attrs.init.kind = InitKind::literal;
  n.attrs.init.data = v.constant.data;
  return g.append(std::move(n));
}

std::optional<NodeId> Lowerer::node_of(const Value& v) {
  if (v.node) return *v.node;
  return materialize(v, DType::f32);
}

void Lowerer::add_call_notes(Diagnostic& d) {
  for (auto it = frames.rbegin(); it != frames.rend(); ++it)
    d.notes.push_back({fmt::format("in the expansion of '{}' called here", it->fn_name), it->call_loc});
}

std::optional<Value> Lowerer::apply(Op op, std::vector<Value> args, Attrs attrs, SourceRange loc,
                                    const std::vector<std::string>& labels) {
  if (budget_exceeded) return std::nullopt;
  if (g.size() > kMaxNodes) {
    diags.error("call", loc, fmt::format("the model expands to more than {} nodes (nested fn calls?)", kMaxNodes));
    budget_exceeded = true;
    return std::nullopt;
  }
  // Constants take the element type of the operands they meet: the first float node
  // (for where: among the two branches), else the first node, else f32.
  size_t start = op == Op::where ? 1 : 0;
  std::optional<DType> t;
  for (size_t i = start; i < args.size() && !t; ++i)
    if (args[i].node && is_float(g[*args[i].node].dtype)) t = g[*args[i].node].dtype;
  for (size_t i = 0; i < args.size() && !t; ++i)
    if (args[i].node) t = g[*args[i].node].dtype;
  DType dt = t.value_or(DType::f32);
  std::vector<NodeId> ids;
  for (auto& a : args) {
    if (a.node) {
      ids.push_back(*a.node);
      continue;
    }
    bool integral = true;
    for (double x : a.constant.data) integral = integral && x == std::floor(x);
    ids.push_back(materialize(a, dt == DType::i32 && !integral ? DType::f32 : dt));
  }
  std::string err;
  Attrs kept = attrs;
  auto id = g.add(op, ids, std::move(attrs), loc, err);
  if (!id) {
    std::vector<ValueType> types;
    for (NodeId i : ids) types.push_back(g[i].type());
    auto& d = diags.error(classify(err, op, types, kept), loc, err);
    for (size_t i = 0; i < args.size(); ++i) {
      std::string label = i < labels.size() ? labels[i] : fmt::format("operand {}", i + 1);
      d.notes.push_back({fmt::format("{} has type {}", label, type_str(types[i].dtype, types[i].shape)), args[i].loc});
    }
    add_call_notes(d);
    return std::nullopt;
  }
  if (!within_element_limit(g[*id].shape)) {  // e.g. an outer product of two long vectors
    auto& d = diags.error("shape", loc, too_many_elements(fmt::format("the result of {}, {},", op_name(op),
                                                                      type_str(g[*id].dtype, g[*id].shape)),
                                                          g[*id].shape));
    for (size_t i = 0; i < args.size(); ++i) {
      std::string label = i < labels.size() ? labels[i] : fmt::format("operand {}", i + 1);
      d.notes.push_back({fmt::format("{} has type {}", label, type_str(g[ids[i]].dtype, g[ids[i]].shape)), args[i].loc});
    }
    add_call_notes(d);
    return std::nullopt;
  }
  return Value{*id, {}, loc};
}

}  // namespace kiln::lower
