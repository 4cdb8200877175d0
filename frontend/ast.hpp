// The position-tagged AST of a `.model` file, in Spirit X3's example style.
// Expressions keep one node per precedence level: `first` then a list of (operator, operand).
#pragma once
#include <boost/spirit/home/x3/support/ast/position_tagged.hpp>
#include <boost/spirit/home/x3/support/ast/variant.hpp>
#include <optional>
#include <string>
#include <vector>

namespace kiln::ast {
namespace x3 = boost::spirit::x3;

struct Identifier : x3::position_tagged {
  std::string name;
};

struct Number : x3::position_tagged {
  std::string text;  // as written: "3", "0.5", "1e-3" (a leading '-' is a unary minus)
};

struct Expression;
struct Call;
struct ListLiteral;
struct Unary;

struct Operand : x3::variant<Number, Identifier, x3::forward_ast<Call>, x3::forward_ast<ListLiteral>,
                             x3::forward_ast<Unary>, x3::forward_ast<Expression>> {
  using base_type::base_type;
  using base_type::operator=;
};

// One binary operator and its right operand: op is "+", "-", "*", "/", "@", "^",
// "<", "<=", ">", ">=", "==", "!=".
struct Operation : x3::position_tagged {
  std::string op;
  Operand operand;
};

// A chain at one precedence level; `^` chains are right-associative, all others left.
// A parenthesised expression is an Operand holding an Expression.
struct Expression : x3::position_tagged {
  Operand first;
  std::vector<Operation> rest;
};

struct Unary : x3::position_tagged {
  char op = '-';
  Operand operand;
};

// `name = value` inside a call (keyword argument) or just `value`.
struct Argument : x3::position_tagged {
  std::optional<Identifier> keyword;
  Expression value;
};

struct Call : x3::position_tagged {
  Identifier callee;
  std::vector<Argument> args;
};

struct ListLiteral : x3::position_tagged {
  std::vector<Expression> items;
};

// Types: `f32`, `f32[30]`, `f32[batch, 30]`. A dimension is an integer or a dim name.
struct Dim : x3::position_tagged {
  std::string text;
};
struct TypeSpec : x3::position_tagged {
  Identifier elem;
  std::vector<Dim> dims;
};

struct ModelDecl : x3::position_tagged {
  Identifier name;
};
struct DimDecl : x3::position_tagged {
  Identifier name;
  Number value;
};
struct InputDecl : x3::position_tagged {
  Identifier name;
  TypeSpec type;
  bool normalize = false;
};
// `param NAME : TYPE = INIT` and `const NAME : TYPE = INIT`; INIT is an expression
// (an initialiser name or call, a number, or a list literal).
struct ParamDecl : x3::position_tagged {
  std::string kind;  // "param" or "const"
  Identifier name;
  TypeSpec type;
  Expression init;
};
struct FnDecl : x3::position_tagged {
  Identifier name;
  std::vector<Identifier> params;
  Expression body;
};
struct Binding : x3::position_tagged {
  Identifier name;
  Expression value;
};
struct OutputDecl : x3::position_tagged {
  Identifier name;
  Expression value;
};

// Inside `train { ... }`.
struct Minimize : x3::position_tagged {
  Expression value;
};
struct MetricDecl : x3::position_tagged {
  Identifier name;
  Expression value;
};
struct Setting : x3::position_tagged {  // optimizer = adam(lr = 0.01), epochs = 30, ...
  Identifier key;
  Expression value;
};
struct TrainItem : x3::variant<Minimize, MetricDecl, Setting> {
  using base_type::base_type;
  using base_type::operator=;
};
struct TrainBlock : x3::position_tagged {
  std::vector<TrainItem> items;
};

struct Statement : x3::variant<ModelDecl, DimDecl, InputDecl, ParamDecl, FnDecl, OutputDecl, TrainBlock, Binding> {
  using base_type::base_type;
  using base_type::operator=;
};

struct Program : x3::position_tagged {
  std::vector<Statement> statements;
};

}  // namespace kiln::ast
