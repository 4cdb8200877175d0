// Private interface of the semantic lowering (frontend/lower*.cpp): the Lowerer's state,
// the value representation, name tables and small AST helpers.
#pragma once
#include "frontend/lower.hpp"
#include <map>
#include <string_view>

namespace kiln::lower {

// A compile-time constant that has no element type yet (a number or a list literal): it
// takes the element type of the operand it meets, f32 by default.
struct Constant {
  Shape shape;
  std::vector<double> data;  // row-major, num_elements(shape) values
};

// The value of a lowered expression: a graph node, or a constant not yet materialised.
struct Value {
  std::optional<NodeId> node;
  Constant constant;
  SourceRange loc;  // the expression's range at the use site (for notes)
  bool is_node() const { return node.has_value(); }
  bool is_scalar_constant() const { return !node && constant.shape.empty() && constant.data.size() == 1; }
};

enum class EntryKind : uint8_t { dim, input, param, const_, value, output, metric, fn };

// A top-level name. `value` is nullopt when the definition failed: uses of the name are
// then silently poisoned (no cascade of errors).
struct Entry {
  EntryKind kind = EntryKind::value;
  SourceRange def;
  size_t seq = 0;  // definition order; a fn body sees only entries with a smaller seq
  std::optional<Value> value;
  int64_t dim = 0;                      // kind == dim
  const ast::FnDecl* fn = nullptr;      // kind == fn
  bool fn_ok = true;                    // the fn body's names all resolve
};

// One frame of fn inlining: the parameters bound to argument values.
struct Frame {
  std::string fn_name;
  SourceRange call_loc;
  size_t seq_limit;
  std::map<std::string, std::optional<Value>> locals;
};

// A call's arguments matched to a signature's parameter names (nullptr: not given).
using BoundArgs = std::vector<const ast::Expression*>;

// Returns the alternative T of an operand (unwrapping forward_ast), or nullptr.
template <class T>
const T* as(const ast::Operand& o) {
  if constexpr (std::is_same_v<T, ast::Number> || std::is_same_v<T, ast::Identifier>) {
    return boost::get<T>(&o.get());
  } else {
    auto* f = boost::get<ast::x3::forward_ast<T>>(&o.get());
    return f ? &f->get() : nullptr;
  }
}

// The single operand of an expression without operators, looking through parentheses.
const ast::Operand* single(const ast::Expression& e);

// The closest of `candidates` to `name` by edit distance, if close enough to be a typo.
std::optional<std::string> suggest(std::string_view name, const std::vector<std::string>& candidates);

// Whether a shape has at most kMaxElements elements (ir/types.hpp; no overflow on the way).
bool within_element_limit(const Shape& s);
// "WHAT has 7.92e+28 elements, more than a tensor may hold (2^40 = 1099511627776)": the
// [shape] error for a shape that is not within the limit.
std::string too_many_elements(const std::string& what, const Shape& s);

// Builtin functions (ops callable by name); they cannot be redefined.
bool is_builtin_function(std::string_view name);
const std::vector<std::string>& builtin_function_names();
// Initialiser names (zeros, he_normal, ...): only meaningful after `=` in a param/const.
bool is_initialiser(std::string_view name);

struct Lowerer {
  Lowerer(const Parsed& parsed, const SourceFile& file, Diagnostics& diags, const LowerOptions& opts);
  std::optional<Graph> run();

  const Parsed& parsed;
  const Positions& pos;
  const SourceFile& file;
  Diagnostics& diags;
  LowerOptions opts;
  Graph g;
  std::map<std::string, Entry> globals;
  std::map<std::string, SourceRange> declared_later;  // every top-level name, for use-before-definition
  std::vector<Frame> frames;
  size_t seq = 1;
  int depth = 0;
  bool budget_exceeded = false;

  // ranges and text
  SourceRange range(const ast::x3::position_tagged& n) const { return pos.of(n); }
  SourceRange range(const ast::Operand& o) const;
  SourceRange range(const ast::Expression& e) const;
  std::string text(const ast::x3::position_tagged& n) const;  // the source text of a node, or ""

  // declarations (lower.cpp)
  void declare_dims();
  void statement(const ast::Statement& s);
  bool define(const std::string& name, SourceRange loc, Entry e);  // false: redefinition reported
  bool check_reserved(const ast::Identifier& id);
  std::optional<ValueType> type(const ast::TypeSpec& t);
  std::optional<int64_t> dim_value(const ast::Dim& d);
  void input(const ast::InputDecl& d);
  void param(const ast::ParamDecl& d);
  std::optional<Init> init(const ast::ParamDecl& d, const ValueType& t);
  void fn(const ast::FnDecl& d);
  bool check_names(const ast::Expression& e, const ast::FnDecl& fn, const std::vector<std::string>& params);
  bool check_names(const ast::Operand& o, const ast::FnDecl& fn, const std::vector<std::string>& params);
  void binding(const ast::Binding& b);
  void output(const ast::OutputDecl& o);

  // expressions (lower_expr.cpp)
  std::optional<Value> expr(const ast::Expression& e);
  std::optional<Value> operand(const ast::Operand& o);
  std::optional<Value> identifier(const ast::Identifier& id);
  std::optional<Value> unary(const ast::Unary& u);
  std::optional<Value> list(const ast::ListLiteral& l);
  std::optional<Value> binary(const std::string& op, const Value& a, const Value& b);
  std::optional<double> number(const ast::Number& n);
  // Applies an op to values (constants are materialised in the operands' element type);
  // reports the rule's error at `loc` with a note per operand.
  std::optional<Value> apply(Op op, std::vector<Value> args, Attrs attrs, SourceRange loc,
                             const std::vector<std::string>& labels);
  NodeId materialize(const Value& v, DType t);
  std::optional<NodeId> node_of(const Value& v);  // materialises a constant as f32
  void add_call_notes(Diagnostic& d);

  // calls (lower_call.cpp)
  std::optional<Value> call(const ast::Call& c);
  std::optional<Value> call_fn(const ast::Call& c, const Entry& fn);
  std::optional<BoundArgs> bind_args(const ast::Call& c, std::string_view name, const std::vector<std::string>& params,
                                     size_t required, const char* id);
  std::vector<std::string> function_names() const;
  std::vector<std::string> value_names() const;
  const Entry* lookup_global(const std::string& name) const;
  std::optional<std::optional<Value>> lookup_local(const std::string& name) const;

  // compile-time constants (lower_const.cpp)
  // A constant number: literals, unary minus, arithmetic, parentheses, dim names,
  // true/false. Reports "`what` must be a constant number" (id) when it is not.
  std::optional<double> const_number(const ast::Expression& e, std::string_view what, const char* id);
  std::optional<int64_t> const_int(const ast::Expression& e, std::string_view what, const char* id);
  std::optional<std::vector<int64_t>> const_ints(const ast::Expression& e, std::string_view what, const char* id);
  std::optional<bool> const_bool(const ast::Expression& e, std::string_view what, const char* id);
  // A constant tensor (number or nested list literal).
  std::optional<Constant> const_tensor(const ast::Expression& e, std::string_view what, const char* id);
  std::optional<Constant> const_operand(const ast::Operand& o, std::string_view what, const char* id, bool& reported);
  std::optional<Constant> const_expr(const ast::Expression& e, std::string_view what, const char* id, bool& reported);

  // the train block (lower_train.cpp)
  void train(const ast::TrainBlock& t);
  void train_setting(const ast::Setting& s, std::map<std::string, SourceRange>& seen);
  void optimizer(const ast::Setting& s);
  void schedule(const ast::Setting& s);
};

}  // namespace kiln::lower
