// Definition of the `.model` grammar in Spirit X3 (included by grammar.cpp only).
// Expectation points carry labels that parse.cpp turns into messages in the user's terms.
#pragma once
#include "frontend/ast.hpp"
#include "frontend/ast_adapted.hpp"
#include "frontend/grammar.hpp"
#include "frontend/parse.hpp"
#include <string_view>

namespace kiln::parser {

// ---- two small directives -------------------------------------------------------------

// label("...")[p]: p, reported under the given name when an expectation on it fails.
// Names starting with '@' are keys interpreted by parse.cpp; others are phrases
// completing "expected ...".
template <typename Subject>
struct label_directive : x3::unary_parser<Subject, label_directive<Subject>> {
  using base_type = x3::unary_parser<Subject, label_directive<Subject>>;
  static bool const is_pass_through_unary = true;
  static bool const handles_container = Subject::handles_container;
  const char* name;
  constexpr label_directive(const Subject& subject, const char* n) : base_type(subject), name(n) {}
  template <typename It, typename Ctx, typename RCtx, typename Attr>
  bool parse(It& first, const It& last, const Ctx& ctx, RCtx& rctx, Attr& attr) const {
    return this->subject.parse(first, last, ctx, rctx, attr);
  }
};
struct label_gen {
  const char* name;
  template <typename Subject>
  constexpr label_directive<typename x3::extension::as_parser<Subject>::value_type> operator[](
      const Subject& subject) const {
    return {x3::as_parser(subject), name};
  }
};
constexpr label_gen label(const char* name) { return {name}; }

// nest[p]: p, counting one level of nesting; throws NestingTooDeep past kMaxNesting so
// that pathological input cannot overflow the stack.
template <typename Subject>
struct nest_directive : x3::unary_parser<Subject, nest_directive<Subject>> {
  using base_type = x3::unary_parser<Subject, nest_directive<Subject>>;
  static bool const is_pass_through_unary = true;
  static bool const handles_container = Subject::handles_container;
  constexpr nest_directive(const Subject& subject) : base_type(subject) {}
  template <typename It, typename Ctx, typename RCtx, typename Attr>
  bool parse(It& first, const It& last, const Ctx& ctx, RCtx& rctx, Attr& attr) const {
    ParseState& st = x3::get<state_tag>(ctx);
    if (st.depth >= kMaxNesting) throw NestingTooDeep{static_cast<size_t>(first - st.base)};
    ++st.depth;
    bool ok = this->subject.parse(first, last, ctx, rctx, attr);
    --st.depth;
    return ok;
  }
};
struct nest_gen {
  template <typename Subject>
  constexpr nest_directive<typename x3::extension::as_parser<Subject>::value_type> operator[](
      const Subject& subject) const {
    return {x3::as_parser(subject)};
  }
};
constexpr nest_gen nest{};

// ---- position tagging -------------------------------------------------------------------

// Records a node's [begin, end) offsets, without surrounding blanks and newlines.
template <typename It>
void record(ParseState& st, x3::position_tagged& node, It first, It last) {
  size_t b = static_cast<size_t>(first - st.base), e = static_cast<size_t>(last - st.base);
  while (b < e && (st.base[b] == ' ' || st.base[b] == '\n')) ++b;
  while (e > b && (st.base[e - 1] == ' ' || st.base[e - 1] == '\n')) --e;
  node.id_first = node.id_last = static_cast<int>(st.positions->size());
  st.positions->add(b, e);
}

// Base of the rule ids of tagged nodes. X3 calls on_success only for rules without
// semantic actions; rules with actions tag their node in the action (tag_val).
struct annotate {
  template <typename It, typename Ctx>
  void on_success(const It& first, const It& last, x3::position_tagged& node, const Ctx& ctx) const {
    record(x3::get<state_tag>(ctx), node, first, last);
  }
};
// mark[p]: p, remembering where it started (after blanks) in ParseState::mark_begin, for
// the semantic action attached right after it: `mark[p][action]`.
template <typename Subject>
struct mark_directive : x3::unary_parser<Subject, mark_directive<Subject>> {
  using base_type = x3::unary_parser<Subject, mark_directive<Subject>>;
  static bool const is_pass_through_unary = true;
  static bool const handles_container = Subject::handles_container;
  constexpr mark_directive(const Subject& subject) : base_type(subject) {}
  template <typename It, typename Ctx, typename RCtx, typename Attr>
  bool parse(It& first, const It& last, const Ctx& ctx, RCtx& rctx, Attr& attr) const {
    x3::skip_over(first, last, ctx);
    It begin = first;
    if (!this->subject.parse(first, last, ctx, rctx, attr)) return false;
    x3::get<state_tag>(ctx).mark_begin = static_cast<size_t>(begin - x3::get<state_tag>(ctx).base);
    return true;
  }
};
struct mark_gen {
  template <typename Subject>
  constexpr mark_directive<typename x3::extension::as_parser<Subject>::value_type> operator[](
      const Subject& subject) const {
    return {x3::as_parser(subject)};
  }
};
constexpr mark_gen mark{};

// Tags the rule's value from a `mark[p][action]` action (X3's _where begins after p).
template <typename Ctx>
void tag_val(Ctx& ctx) {
  ParseState& st = x3::get<state_tag>(ctx);
  record(st, x3::_val(ctx), st.base + static_cast<std::ptrdiff_t>(st.mark_begin), x3::_where(ctx).begin());
}
// Tags a leaf from its raw[] range.
template <typename Ctx, typename Range>
void tag_raw(Ctx& ctx, const Range& r) {
  record(x3::get<state_tag>(ctx), x3::_val(ctx), r.begin(), r.end());
}

// ---- rules ------------------------------------------------------------------------------

struct identifier_class : annotate {};
struct number_class : annotate {};
struct integer_class : annotate {};
struct dim_class : annotate {};
struct type_class : annotate {};
struct list_class : annotate {};
struct call_class : annotate {};
struct argument_class : annotate {};
struct primary_class;
struct power_op_class : annotate {};
struct power_class : annotate {};
struct unary_class : annotate {};
struct unary_operand_class;
struct power_operand_class;
struct matmul_op_class : annotate {};
struct matmul_class : annotate {};
struct mul_op_class : annotate {};
struct mul_class : annotate {};
struct add_op_class : annotate {};
struct add_class : annotate {};
struct cmp_op_class : annotate {};
struct expression_class : annotate {};
struct model_class : annotate {};
struct dim_decl_class : annotate {};
struct input_class : annotate {};
struct param_class : annotate {};
struct const_class : annotate {};
struct fn_class : annotate {};
struct output_class : annotate {};
struct binding_class : annotate {};
struct minimize_class : annotate {};
struct metric_class : annotate {};
struct setting_class : annotate {};
struct train_class : annotate {};
struct statement_class;
struct train_item_class;
struct program_class : annotate {};
struct dim_list_class;
struct argument_list_class;
struct expression_list_class;
struct param_list_class;

x3::rule<identifier_class, ast::Identifier> const identifier = "@name:a name";
x3::rule<number_class, ast::Number> const number = "@expr";
x3::rule<integer_class, ast::Number> const integer = "an integer size after '='";
x3::rule<dim_class, ast::Dim> const dim = "@dim";
x3::rule<type_class, ast::TypeSpec> const type_spec = "@type";
x3::rule<list_class, ast::ListLiteral> const list_literal = "@expr";
x3::rule<call_class, ast::Call> const call = "@expr";
x3::rule<argument_class, ast::Argument> const argument = "@expr";
x3::rule<primary_class, ast::Operand> const primary = "@expr";
x3::rule<power_op_class, ast::Operation> const power_op = "@expr";
x3::rule<power_class, ast::Expression> const power_expr = "@expr";
x3::rule<unary_class, ast::Unary> const unary = "@expr";
x3::rule<unary_operand_class, ast::Operand> const unary_operand = "@expr";
x3::rule<power_operand_class, ast::Operand> const power_operand = "@expr";
x3::rule<matmul_op_class, ast::Operation> const matmul_op = "@expr";
x3::rule<matmul_class, ast::Expression> const matmul_expr = "@expr";
x3::rule<mul_op_class, ast::Operation> const mul_op = "@expr";
x3::rule<mul_class, ast::Expression> const mul_expr = "@expr";
x3::rule<add_op_class, ast::Operation> const add_op = "@expr";
x3::rule<add_class, ast::Expression> const add_expr = "@expr";
x3::rule<cmp_op_class, ast::Operation> const cmp_op = "@expr";
x3::rule<expression_class, ast::Expression> const expression = "@expr";
x3::rule<model_class, ast::ModelDecl> const model_decl = "@statement";
x3::rule<dim_decl_class, ast::DimDecl> const dim_decl = "@statement";
x3::rule<input_class, ast::InputDecl> const input_decl = "@statement";
x3::rule<param_class, ast::ParamDecl> const param_decl = "@statement";
x3::rule<const_class, ast::ParamDecl> const const_decl = "@statement";
x3::rule<fn_class, ast::FnDecl> const fn_decl = "@statement";
x3::rule<output_class, ast::OutputDecl> const output_decl = "@statement";
x3::rule<binding_class, ast::Binding> const binding = "@statement";
x3::rule<minimize_class, ast::Minimize> const minimize = "@train-item";
x3::rule<metric_class, ast::MetricDecl> const metric = "@train-item";
x3::rule<setting_class, ast::Setting> const setting = "@train-item";
x3::rule<train_item_class, ast::TrainItem> const train_item = "@train-item";
x3::rule<train_class, ast::TrainBlock> const train_block = "@statement";
x3::rule<statement_class, ast::Statement> const statement = "@statement";
program_type const program = "@statement";
x3::rule<dim_list_class, std::vector<ast::Dim>> const dim_list = "@dim";
x3::rule<argument_list_class, std::vector<ast::Argument>> const argument_list = "@expr";
x3::rule<expression_list_class, std::vector<ast::Expression>> const expression_list = "@expr";
x3::rule<param_list_class, std::vector<ast::Identifier>> const param_list = "@name:a parameter name";

// ---- lexical pieces ---------------------------------------------------------------------

auto const ident_start = x3::char_("A-Za-z_");
auto const ident_char = x3::char_("A-Za-z0-9_");
inline auto kw(const char* word) { return x3::lexeme[x3::lit(word) >> !ident_char]; }
auto const sep = x3::lit('\n') | x3::lit(';');

auto const set_identifier = [](auto& ctx) {
  const auto& r = x3::_attr(ctx);
  std::string s(r.begin(), r.end());
  if (is_keyword(s))
    x3::_pass(ctx) = false;
  else
    x3::_val(ctx).name = std::move(s);
  tag_raw(ctx, r);
};
auto const set_text = [](auto& ctx) {
  const auto& r = x3::_attr(ctx);
  x3::_val(ctx).text.assign(r.begin(), r.end());
  tag_raw(ctx, r);
};
auto const set_dim = [](auto& ctx) {
  const auto& r = x3::_attr(ctx);
  std::string s(r.begin(), r.end());
  if (is_keyword(s))
    x3::_pass(ctx) = false;
  else
    x3::_val(ctx).text = std::move(s);
  tag_raw(ctx, r);
};

auto const identifier_def = x3::lexeme[x3::raw[ident_start >> *ident_char]][set_identifier];
auto const number_def =
    x3::lexeme[x3::raw[+x3::digit >> -('.' >> *x3::digit) >>
                       -(x3::char_("eE") >> -x3::char_("+-") >> +x3::digit)]][set_text];
auto const integer_def = x3::lexeme[x3::raw[+x3::digit >> !x3::char_(".eE")]][set_text];
auto const dim_def = x3::lexeme[x3::raw[+x3::digit | (ident_start >> *ident_char)]][set_dim];
auto const dim_list_def = dim >> *(',' > dim);
auto const type_spec_def =
    identifier >> -(x3::lit('[') > dim_list > label("@close-shape")[x3::lit(']')]);

// ---- expressions ------------------------------------------------------------------------

// Single-member nodes holding a list are filled by an action (X3 does not pass a
// one-element fusion sequence through a sequence parser as a container).
auto const set_statements = [](auto& ctx) {
  x3::_val(ctx).statements = std::move(x3::_attr(ctx));
  tag_val(ctx);
};
auto const set_items = [](auto& ctx) {
  x3::_val(ctx).items = std::move(x3::_attr(ctx));
  tag_val(ctx);
};
auto const set_optional_items = [](auto& ctx) {
  if (x3::_attr(ctx)) x3::_val(ctx).items = std::move(*x3::_attr(ctx));
  tag_val(ctx);
};
// Arguments: `name = value` or `value` (std::optional is not an X3 optional).
auto const set_keyword_argument = [](auto& ctx) {
  auto& a = x3::_attr(ctx);
  x3::_val(ctx).keyword = std::move(boost::fusion::at_c<0>(a));
  x3::_val(ctx).value = std::move(boost::fusion::at_c<1>(a));
  tag_val(ctx);
};
auto const set_positional_argument = [](auto& ctx) {
  x3::_val(ctx).value = std::move(x3::_attr(ctx));
  tag_val(ctx);
};
auto const argument_list_def = argument >> *(',' > argument);
auto const expression_list_def = expression >> *(',' > expression);
auto const param_list_def = identifier >> *(',' > label("@name:a parameter name after ','")[identifier]);
auto const argument_def = mark[identifier >> x3::lit('=') >> !x3::lit('=') > expression][set_keyword_argument] |
                          mark[expression][set_positional_argument];
auto const call_def = identifier >> x3::lit('(') > -argument_list >
                      label("@close-call")[x3::lit(')')];
auto const list_literal_def =
    mark[x3::lit('[') > -expression_list > label("@close-list")[x3::lit(']')]][set_optional_items];
auto const primary_def =
    nest[call | number | list_literal | (x3::lit('(') > expression > label("@close-paren")[x3::lit(')')]) |
         identifier];
auto const power_operand_def = unary | primary;  // x ^ -1 is x ^ (-1), as in Python
auto const power_op_def = x3::string("^") > power_operand;
auto const power_expr_def = primary >> *power_op;
auto const unary_def = nest[x3::char_('-') > unary_operand];
auto const unary_operand_def = unary | power_expr;
auto const matmul_op_def = x3::string("@") > unary_operand;
auto const matmul_expr_def = unary_operand >> *matmul_op;
auto const mul_op_def = (x3::string("*") | x3::string("/")) > matmul_expr;
auto const mul_expr_def = matmul_expr >> *mul_op;
auto const add_op_def = (x3::string("+") | x3::string("-")) > mul_expr;
auto const add_expr_def = mul_expr >> *add_op;
auto const cmp_op_def = (x3::string("<=") | x3::string(">=") | x3::string("==") | x3::string("!=") |
                         x3::string("<") | x3::string(">")) > add_expr;
auto const expression_def = add_expr >> *cmp_op;

// ---- statements -------------------------------------------------------------------------

auto const model_decl_def = kw("model") > label("@name:a model name after 'model'")[identifier];
auto const dim_decl_def = kw("dim") > label("@name:a name after 'dim'")[identifier] >
                          label("'=' and a size after the dim name")[x3::lit('=')] > integer;
auto const input_decl_def = kw("input") > label("@name:a name after 'input'")[identifier] >
                            label("':' and a type after the input name")[x3::lit(':')] > type_spec >
                            x3::matches[kw("normalize")];
auto const param_decl_def = x3::raw[kw("param")] > label("@name:a name after 'param'")[identifier] >
                            label("':' and a type after the param name")[x3::lit(':')] > type_spec >
                            label("'=' and an initialiser after the param type")[x3::lit('=')] > expression;
auto const const_decl_def = x3::raw[kw("const")] > label("@name:a name after 'const'")[identifier] >
                            label("':' and a type after the const name")[x3::lit(':')] > type_spec >
                            label("'=' and a value after the const type")[x3::lit('=')] > expression;
auto const fn_decl_def =
    kw("fn") > label("@name:a function name after 'fn'")[identifier] >
    label("'(' and a parameter list after the function name")[x3::lit('(')] >
    -param_list >
    label("@close-params")[x3::lit(')')] >
    label("'=' and the function body after the parameter list")[x3::lit('=')] > expression;
auto const output_decl_def = kw("output") > label("@name:a name after 'output'")[identifier] >
                             label("'=' and a value after the output name")[x3::lit('=')] > expression;
auto const binding_def = identifier >> (x3::lit('=') >> !x3::lit('=')) > expression;

auto const minimize_def = kw("minimize") > expression;
auto const metric_def = kw("metric") > label("@name:a metric name after 'metric'")[identifier] >
                        label("'=' and a value after the metric name")[x3::lit('=')] > expression;
auto const setting_def = identifier >> (x3::lit('=') >> !x3::lit('=')) > expression;
auto const train_item_def = minimize | metric | setting;
auto const train_block_def = mark[kw("train") > label("'{' after 'train'")[x3::lit('{')] > *sep >
                              *(train_item > label("@end-item")[+sep | &x3::lit('}')]) >
                              label("@close-train")[x3::lit('}')]][set_items];

auto const statement_def =
    model_decl | dim_decl | input_decl | param_decl | const_decl | fn_decl | output_decl | train_block | binding;
auto const program_def =
    mark[*sep >> *(statement > label("@end-statement")[+sep | &x3::eoi]) > label("@statement")[x3::eoi]][set_statements];

BOOST_SPIRIT_DEFINE(identifier, number, integer, dim, type_spec, list_literal, call, argument, primary, power_op,
                    power_operand, power_expr, unary, unary_operand, matmul_op, matmul_expr, mul_op, mul_expr, add_op, add_expr,
                    cmp_op, expression, model_decl, dim_decl, input_decl, param_decl, const_decl, fn_decl,
                    output_decl, binding, minimize, metric, setting, train_item, train_block, statement, program,
                    dim_list, argument_list, expression_list, param_list)

}  // namespace kiln::parser

namespace boost::spirit::x3 {
template <typename Subject>
struct get_info<kiln::parser::label_directive<Subject>> {
  using result_type = std::string;
  std::string operator()(const kiln::parser::label_directive<Subject>& p) const { return p.name; }
};
}  // namespace boost::spirit::x3
