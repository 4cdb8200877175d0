// The AST printer behind `kiln dump --stage=ast`.
#include "frontend/ast_print.hpp"
#include <fmt/format.h>

namespace kiln {
namespace {
namespace x3 = boost::spirit::x3;

constexpr size_t kMaxBinaryChain = 64;

class Printer {
 public:
  Printer(const Positions& pos, const SourceFile& file) : pos_(pos), file_(file) {}
  std::string out;

  void line(int depth, const std::string& text, const x3::position_tagged& node) {
    out.append(static_cast<size_t>(depth) * 2, ' ');
    out += text;
    if (node.id_first >= 0 && static_cast<size_t>(node.id_first) < pos_.size()) {
      auto [l, c] = file_.line_col(pos_.offsets(node).first);
      out += fmt::format(" ({}:{})", l, c);
    } else {
      out += " (?:?)";
    }
    out += '\n';
  }
  void operand(int d, const ast::Operand& o) {
    const auto& v = o.get();
    if (auto* n = boost::get<ast::Number>(&v)) {
      line(d, "Number " + n->text, *n);
    } else if (auto* id = boost::get<ast::Identifier>(&v)) {
      line(d, "Identifier " + id->name, *id);
    } else if (auto* c = boost::get<x3::forward_ast<ast::Call>>(&v)) {
      call(d, c->get());
    } else if (auto* l = boost::get<x3::forward_ast<ast::ListLiteral>>(&v)) {
      line(d, "List", l->get());
      for (auto& item : l->get().items) expression(d + 1, item);
    } else if (auto* u = boost::get<x3::forward_ast<ast::Unary>>(&v)) {
      line(d, fmt::format("Unary '{}'", u->get().op), u->get());
      operand(d + 1, u->get().operand);
    } else if (auto* e = boost::get<x3::forward_ast<ast::Expression>>(&v)) {
      expression(d, e->get());
    }
  }

  void call(int d, const ast::Call& c) {
    line(d, "Call " + c.callee.name, c);
    for (auto& a : c.args) {
      line(d + 1, a.keyword ? "Argument " + a.keyword->name + "=" : std::string("Argument"), a);
      expression(d + 2, a.value);
    }
  }

  // A chain as binary nodes, built iteratively so that long chains cannot exhaust the stack.
  void expression(int d, const ast::Expression& e) {
    size_t n = e.rest.size();
    if (n == 0) {
      operand(d, e.first);
      return;
    }
    bool right = e.rest[0].op == "^";
    if (n > kMaxBinaryChain) {
      // Very long chains (generated code) print flat, so the output stays linear in size.
      line(d, fmt::format("Chain of {} operands ({}-associative)", n + 1, right ? "right" : "left"), e);
      operand(d + 1, e.first);
      for (auto& op : e.rest) {
        line(d + 1, binary(op), op);
        operand(d + 2, op.operand);
      }
      return;
    }
    if (!right) {
      // ((first op0 r0) op1 r1) ...: the last operator is the root.
      for (size_t i = n; i-- > 0;) line(d + static_cast<int>(n - 1 - i), binary(e.rest[i]), e.rest[i]);
      operand(d + static_cast<int>(n), e.first);
      for (size_t i = 0; i < n; ++i) operand(d + static_cast<int>(n - i), e.rest[i].operand);
    } else {
      // first op0 (r0 op1 (r1 ...)): the first operator is the root.
      line(d, binary(e.rest[0]), e.rest[0]);
      operand(d + 1, e.first);
      for (size_t i = 1; i < n; ++i) {
        line(d + static_cast<int>(i), binary(e.rest[i]), e.rest[i]);
        operand(d + static_cast<int>(i) + 1, e.rest[i - 1].operand);
      }
      operand(d + static_cast<int>(n), e.rest[n - 1].operand);
    }
  }

  void type(int d, const ast::TypeSpec& t) {
    std::string text = "Type " + t.elem.name;
    if (!t.dims.empty()) {
      text += "[";
      for (size_t i = 0; i < t.dims.size(); ++i) text += (i ? ", " : "") + t.dims[i].text;
      text += "]";
    }
    line(d, text, t);
  }

 private:
  static std::string binary(const ast::Operation& op) { return "Binary '" + op.op + "'"; }
  const Positions& pos_;
  const SourceFile& file_;
};

struct StatementPrinter {
  Printer& p;
  int d;
  void operator()(const ast::ModelDecl& s) const { p.line(d, "Model " + s.name.name, s); }
  void operator()(const ast::DimDecl& s) const { p.line(d, "Dim " + s.name.name + " = " + s.value.text, s); }
  void operator()(const ast::InputDecl& s) const {
    p.line(d, "Input " + s.name.name + (s.normalize ? " normalize" : ""), s);
    p.type(d + 1, s.type);
  }
  void operator()(const ast::ParamDecl& s) const {
    p.line(d, (s.kind == "const" ? "Const " : "Param ") + s.name.name, s);
    p.type(d + 1, s.type);
    p.expression(d + 1, s.init);
  }
  void operator()(const ast::FnDecl& s) const {
    std::string params;
    for (size_t i = 0; i < s.params.size(); ++i) params += (i ? ", " : "") + s.params[i].name;
    p.line(d, "Fn " + s.name.name + "(" + params + ")", s);
    p.expression(d + 1, s.body);
  }
  void operator()(const ast::OutputDecl& s) const {
    p.line(d, "Output " + s.name.name, s);
    p.expression(d + 1, s.value);
  }
  void operator()(const ast::Binding& s) const {
    p.line(d, "Binding " + s.name.name, s);
    p.expression(d + 1, s.value);
  }
  void operator()(const ast::TrainBlock& s) const {
    p.line(d, "Train", s);
    for (auto& item : s.items) boost::apply_visitor(StatementPrinter{p, d + 1}, item.get());
  }
  void operator()(const ast::Minimize& s) const {
    p.line(d, "Minimize", s);
    p.expression(d + 1, s.value);
  }
  void operator()(const ast::MetricDecl& s) const {
    p.line(d, "Metric " + s.name.name, s);
    p.expression(d + 1, s.value);
  }
  void operator()(const ast::Setting& s) const {
    p.line(d, "Setting " + s.key.name, s);
    p.expression(d + 1, s.value);
  }
};

}  // namespace

std::string print_ast(const Parsed& parsed, const SourceFile& file) {
  Printer p(parsed.positions, file);
  p.line(0, "Program", parsed.program);
  for (auto& s : parsed.program.statements) boost::apply_visitor(StatementPrinter{p, 1}, s.get());
  return std::move(p.out);
}

}  // namespace kiln
