// Semantic lowering, compile-time constants: numbers, dims, true/false and list literals
// used as axes, shapes, initialisers and train settings.
#include "frontend/lower_impl.hpp"
#include <cmath>
#include <fmt/format.h>

namespace kiln::lower {

namespace {
// Whether an operand is constant by its form: numbers, unary minus, arithmetic on
// constants, dims, true/false and fn parameters bound to constants. Lists are handled by
// const_operand. `undefined` receives an unknown name so its error can be reported.
bool constant_form(const Lowerer& l, const ast::Operand& o, const ast::Identifier*& undefined) {
  if (as<ast::Number>(o)) return true;
  if (auto* id = as<ast::Identifier>(o)) {
    if (id->name == "true" || id->name == "false") return true;
    if (auto local = l.lookup_local(id->name)) return *local && !(*local)->node && (*local)->is_scalar_constant();
    if (const Entry* e = l.lookup_global(id->name)) return e->kind == EntryKind::dim;
    if (!is_builtin_function(id->name)) undefined = id;
    return false;
  }
  if (auto* u = as<ast::Unary>(o)) return constant_form(l, u->operand, undefined);
  if (auto* e = as<ast::Expression>(o)) {
    bool ok = constant_form(l, e->first, undefined);
    for (auto& op : e->rest) ok = constant_form(l, op.operand, undefined) && ok;
    return ok;
  }
  return false;
}
}  // namespace

std::optional<Constant> Lowerer::const_operand(const ast::Operand& o, std::string_view what, const char* id,
                                               bool& reported) {
  if (auto* lst = as<ast::ListLiteral>(o)) {
    Constant c;
    std::optional<Shape> item_shape;
    for (auto& item : lst->items) {
      auto v = const_expr(item, what, id, reported);
      if (!v) return std::nullopt;
      if (item_shape && *item_shape != v->shape) {
        diags.error(id, range(*lst), fmt::format("{}: the rows of a list literal must have one length", what));
        reported = true;
        return std::nullopt;
      }
      item_shape = v->shape;
      c.data.insert(c.data.end(), v->data.begin(), v->data.end());
    }
    c.shape.push_back(static_cast<int64_t>(lst->items.size()));
    if (item_shape) c.shape.insert(c.shape.end(), item_shape->begin(), item_shape->end());
    return c;
  }
  if (auto* e = as<ast::Expression>(o)) return const_expr(*e, what, id, reported);
  const ast::Identifier* undefined = nullptr;
  if (!constant_form(*this, o, undefined)) {
    if (undefined) {
      (void)identifier(*undefined);  // reports the undefined name
      reported = true;
    }
    return std::nullopt;
  }
  auto v = operand(o);
  if (!v) {
    reported = true;
    return std::nullopt;
  }
  if (v->node) return std::nullopt;
  return v->constant;
}

std::optional<Constant> Lowerer::const_expr(const ast::Expression& e, std::string_view what, const char* id,
                                            bool& reported) {
  if (e.rest.empty()) return const_operand(e.first, what, id, reported);
  const ast::Identifier* undefined = nullptr;
  ast::Operand whole{ast::x3::forward_ast<ast::Expression>(e)};
  if (!constant_form(*this, whole, undefined)) {
    if (undefined) {
      (void)identifier(*undefined);
      reported = true;
    }
    return std::nullopt;
  }
  auto v = expr(e);
  if (!v) {
    reported = true;
    return std::nullopt;
  }
  if (v->node) return std::nullopt;
  return v->constant;
}

std::optional<Constant> Lowerer::const_tensor(const ast::Expression& e, std::string_view what, const char* id) {
  bool reported = false;
  auto c = const_expr(e, what, id, reported);
  if (!c && !reported)
    diags.error(id, range(e), fmt::format("{} must be a constant: a number or a list literal", what));
  return c;
}

std::optional<double> Lowerer::const_number(const ast::Expression& e, std::string_view what, const char* id) {
  bool reported = false;
  auto c = const_expr(e, what, id, reported);
  if (c && !c->shape.empty()) c.reset();
  if (!c) {
    if (!reported) diags.error(id, range(e), fmt::format("{} must be a constant number", what));
    return std::nullopt;
  }
  return c->data[0];
}

std::optional<int64_t> Lowerer::const_int(const ast::Expression& e, std::string_view what, const char* id) {
  auto v = const_number(e, what, id);
  if (!v) return std::nullopt;
  if (*v != std::floor(*v) || std::fabs(*v) > 9e15) {
    diags.error(id, range(e), fmt::format("{} must be an integer, got {}", what, *v));
    return std::nullopt;
  }
  return static_cast<int64_t>(*v);
}

std::optional<std::vector<int64_t>> Lowerer::const_ints(const ast::Expression& e, std::string_view what,
                                                        const char* id) {
  const ast::Operand* o = single(e);
  const ast::ListLiteral* lst = o ? as<ast::ListLiteral>(*o) : nullptr;
  if (!lst) {
    auto v = const_int(e, what, id);
    if (!v) return std::nullopt;
    return std::vector<int64_t>{*v};
  }
  std::vector<int64_t> out;
  bool ok = true;
  for (auto& item : lst->items) {
    auto v = const_int(item, what, id);
    if (v) out.push_back(*v);
    else ok = false;
  }
  if (!ok) return std::nullopt;
  return out;
}

std::optional<bool> Lowerer::const_bool(const ast::Expression& e, std::string_view what, const char* id) {
  const ast::Operand* o = single(e);
  const ast::Identifier* name = o ? as<ast::Identifier>(*o) : nullptr;
  if (name && (name->name == "true" || name->name == "false")) return name->name == "true";
  diags.error(id, range(e), fmt::format("{} must be true or false", what));
  return std::nullopt;
}

}  // namespace kiln::lower
