// Parser tests: every LANGUAGE.md example parses, the AST printer's golden output,
// precedence and associativity, AST fields and positions, line continuation.
#include "tests/frontend/parser_fixtures.hpp"

using namespace kiln;
using namespace kiln::test;

TEST_CASE("every example of LANGUAGE.md parses", "[parser]") {
  for (const char* text : {kWholeFile, kTrainBlock, kDeepSigmoid, kConstWeights, kInlineForms}) {
    Result r = parse_text(text);
    INFO(text);
    INFO(r.errors);
    CHECK(r.ok);
    CHECK(r.error_count == 0);
    CHECK(r.ast.find("?:?") == std::string::npos);  // every printed node is position-tagged
  }
}

TEST_CASE("the whole-file example prints as the expected tree", "[parser]") {
  Result r = parse_text(kWholeFile);
  REQUIRE(r.ok);
  const char* expected = R"(Program (2:1)
  Model breast_cancer (2:1)
  Dim batch = 64 (4:1)
  Dim hidden = 32 (5:1)
  Input x normalize (7:1)
    Type f32[batch, 30] (7:11)
  Input y (8:1)
    Type f32[batch, 1] (8:11)
  Param w1 (10:1)
    Type f32[30, hidden] (10:12)
    Identifier he_normal (10:30)
  Param b1 (11:1)
    Type f32[hidden] (11:12)
    Identifier zeros (11:30)
  Param w2 (12:1)
    Type f32[hidden, 1] (12:12)
    Identifier glorot_uniform (12:30)
  Param b2 (13:1)
    Type f32[1] (13:12)
    Identifier zeros (13:30)
  Fn dense(v, w, b) (15:1)
    Binary '+' (15:27)
      Binary '@' (15:23)
        Identifier v (15:21)
        Identifier w (15:25)
      Identifier b (15:29)
  Binding h (17:1)
    Call relu (17:10)
      Argument (17:15)
        Call dense (17:15)
          Argument (17:21)
            Identifier x (17:21)
          Argument (17:24)
            Identifier w1 (17:24)
          Argument (17:28)
            Identifier b1 (17:28)
  Binding logits (18:1)
    Call dense (18:10)
      Argument (18:16)
        Identifier h (18:16)
      Argument (18:19)
        Identifier w2 (18:19)
      Argument (18:23)
        Identifier b2 (18:23)
  Binding loss (19:1)
    Call mean (19:10)
      Argument (19:15)
        Call bce_with_logits (19:15)
          Argument (19:31)
            Identifier logits (19:31)
          Argument (19:39)
            Identifier y (19:39)
  Output prob (21:1)
    Call sigmoid (21:15)
      Argument (21:23)
        Identifier logits (21:23)
  Train (23:1)
    Minimize (24:3)
      Identifier loss (24:12)
    Setting optimizer (25:3)
      Call adam (25:15)
        Argument lr= (25:20)
          Number 0.01 (25:25)
    Setting epochs (26:3)
      Number 30 (26:12)
    Metric accuracy (27:3)
      Call mean (27:21)
        Argument (27:26)
          Binary '==' (27:49)
            Call round (27:26)
              Argument (27:32)
                Call sigmoid (27:32)
                  Argument (27:40)
                    Identifier logits (27:40)
            Identifier y (27:52)
)";
  CHECK(r.ast == expected);
}

TEST_CASE("precedence and associativity", "[parser]") {
  // Higher precedence binds tighter: + below *.
  CHECK(expr_ast("a + b * c") ==
        "Binary '+'\n  Identifier a\n  Binary '*'\n    Identifier b\n    Identifier c\n");
  CHECK(expr_ast("a * b + c") ==
        "Binary '+'\n  Binary '*'\n    Identifier a\n    Identifier b\n  Identifier c\n");
  // Left associativity of - and /.
  CHECK(expr_ast("a - b - c") ==
        "Binary '-'\n  Binary '-'\n    Identifier a\n    Identifier b\n  Identifier c\n");
  CHECK(expr_ast("a / b / c / d") ==
        "Binary '/'\n  Binary '/'\n    Binary '/'\n      Identifier a\n      Identifier b\n    Identifier c\n"
        "  Identifier d\n");
  // ^ is right-associative.
  CHECK(expr_ast("a ^ b ^ c") ==
        "Binary '^'\n  Identifier a\n  Binary '^'\n    Identifier b\n    Identifier c\n");
  CHECK(expr_ast("a ^ b ^ c ^ d") ==
        "Binary '^'\n  Identifier a\n  Binary '^'\n    Identifier b\n    Binary '^'\n      Identifier c\n"
        "      Identifier d\n");
  // ^ binds tighter than unary minus, which binds tighter than @.
  CHECK(expr_ast("-x ^ 2") == "Unary '-'\n  Binary '^'\n    Identifier x\n    Number 2\n");
  CHECK(expr_ast("-a @ b") == "Binary '@'\n  Unary '-'\n    Identifier a\n  Identifier b\n");
  // A negative exponent needs no parentheses (as in Python): the minus takes the rest of
  // the chain, so a ^ -b ^ c is a ^ (-(b ^ c)).
  CHECK(expr_ast("x ^ -1") == "Binary '^'\n  Identifier x\n  Unary '-'\n    Number 1\n");
  CHECK(expr_ast("a ^ -b ^ c") ==
        "Binary '^'\n  Identifier a\n  Unary '-'\n    Binary '^'\n      Identifier b\n      Identifier c\n");
  // @ binds tighter than * and /.
  CHECK(expr_ast("a * b @ c") ==
        "Binary '*'\n  Identifier a\n  Binary '@'\n    Identifier b\n    Identifier c\n");
  CHECK(expr_ast("a @ b / c") ==
        "Binary '/'\n  Binary '@'\n    Identifier a\n    Identifier b\n  Identifier c\n");
  // Comparisons are lowest.
  CHECK(expr_ast("a + b < c * d") ==
        "Binary '<'\n  Binary '+'\n    Identifier a\n    Identifier b\n  Binary '*'\n    Identifier c\n"
        "    Identifier d\n");
  CHECK(expr_ast("a == b != c") ==
        "Binary '!='\n  Binary '=='\n    Identifier a\n    Identifier b\n  Identifier c\n");
  CHECK(expr_ast("a <= b") == "Binary '<='\n  Identifier a\n  Identifier b\n");
  CHECK(expr_ast("a >= b") == "Binary '>='\n  Identifier a\n  Identifier b\n");
  // Parentheses override; a call binds tightest.
  CHECK(expr_ast("(a + b) * c") ==
        "Binary '*'\n  Binary '+'\n    Identifier a\n    Identifier b\n  Identifier c\n");
  CHECK(expr_ast("f(x, axis=1) ^ 2") ==
        "Binary '^'\n  Call f\n    Argument\n      Identifier x\n    Argument axis=\n      Number 1\n"
        "  Number 2\n");
  // Numbers keep their text; a leading '-' is a unary minus.
  CHECK(expr_ast("-2.5") == "Unary '-'\n  Number 2.5\n");
  CHECK(expr_ast("1e-3 * x") == "Binary '*'\n  Number 1e-3\n  Identifier x\n");
  CHECK(expr_ast("a - -b") == "Binary '-'\n  Identifier a\n  Unary '-'\n    Identifier b\n");
  CHECK(expr_ast("((x))") == "Identifier x\n");
  CHECK(expr_ast("[[1, 2], [a, b]]") ==
        "List\n  List\n    Number 1\n    Number 2\n  List\n    Identifier a\n    Identifier b\n");
  CHECK(expr_ast("sum(x, axis=1, keepdims=true)") ==
        "Call sum\n  Argument\n    Identifier x\n  Argument axis=\n    Number 1\n  Argument keepdims=\n"
        "    Identifier true\n");
  CHECK(expr_ast("f(a == b)") == "Call f\n  Argument\n    Binary '=='\n      Identifier a\n      Identifier b\n");
}

TEST_CASE("the AST keeps one node per operator chain", "[parser]") {
  SourceFile file("t.model", "e = a + b - c * d\n");
  Diagnostics diags(&file);
  auto parsed = parse_model(file, diags);
  REQUIRE(parsed);
  const auto& binding = boost::get<ast::Binding>(parsed->program.statements.at(0).get());
  const ast::Expression& e = binding.value;
  REQUIRE(e.rest.size() == 2);
  CHECK(e.rest[0].op == "+");
  CHECK(e.rest[1].op == "-");
  CHECK(boost::get<ast::Identifier>(e.first.get()).name == "a");
  const auto& product = boost::get<ast::x3::forward_ast<ast::Expression>>(e.rest[1].operand.get()).get();
  REQUIRE(product.rest.size() == 1);
  CHECK(product.rest[0].op == "*");
  // Positions of tagged nodes, as line:col ranges of the source.
  CHECK(parsed->positions.of(binding) == SourceRange{1, 1, 1, 18});
  CHECK(parsed->positions.of(e) == SourceRange{1, 5, 1, 18});
  CHECK(parsed->positions.of(product) == SourceRange{1, 13, 1, 18});
  CHECK(parsed->positions.of(e.rest[1]) == SourceRange{1, 11, 1, 18});
  CHECK(parsed->positions.offsets(binding.name) == std::pair<size_t, size_t>{0, 1});
  ast::Identifier untagged;
  CHECK_FALSE(parsed->positions.of(untagged).valid());
}

TEST_CASE("declarations fill their AST fields", "[parser]") {
  SourceFile file("t.model",
                  "input x : f32[batch, 30] normalize\nconst c : f16[3] = [1, 2, 3]\nfn g(u, v) = u\ndim n = 7\n");
  Diagnostics diags(&file);
  auto parsed = parse_model(file, diags);
  REQUIRE(parsed);
  auto& st = parsed->program.statements;
  REQUIRE(st.size() == 4);
  const auto& in = boost::get<ast::InputDecl>(st[0].get());
  CHECK(in.name.name == "x");
  CHECK(in.normalize);
  CHECK(in.type.elem.name == "f32");
  REQUIRE(in.type.dims.size() == 2);
  CHECK(in.type.dims[0].text == "batch");
  CHECK(in.type.dims[1].text == "30");
  CHECK(parsed->positions.of(in.type.dims[1]) == SourceRange{1, 22, 1, 24});
  const auto& c = boost::get<ast::ParamDecl>(st[1].get());
  CHECK(c.kind == "const");
  CHECK(c.type.elem.name == "f16");  // element types are checked by the lowering, not the parser
  const auto& list = boost::get<ast::x3::forward_ast<ast::ListLiteral>>(c.init.first.get()).get();
  CHECK(list.items.size() == 3);
  const auto& fn = boost::get<ast::FnDecl>(st[2].get());
  REQUIRE(fn.params.size() == 2);
  CHECK(fn.params[1].name == "v");
  const auto& dim = boost::get<ast::DimDecl>(st[3].get());
  CHECK(dim.value.text == "7");
}

TEST_CASE("statement separators and line continuation", "[parser]") {
  // A line ending inside ( or [ continues; comments inside brackets are fine.
  Result r = parse_text("h = relu(dense(x,   # first argument\n    w1,\n    b1))\nc = [1,\n 2]\n");
  INFO(r.errors);
  REQUIRE(r.ok);
  CHECK(r.ast.find("Identifier b1 (3:5)") != std::string::npos);
  CHECK(r.ast.find("Number 2 (5:2)") != std::string::npos);
  // ; separates statements; blank lines and comment-only lines are nothing.
  r = parse_text("\n\n# only a comment\na = 1; b = 2;;\n\n   \n");
  INFO(r.errors);
  REQUIRE(r.ok);
  CHECK(r.ast == "Program (4:1)\n  Binding a (4:1)\n    Number 1 (4:5)\n  Binding b (4:8)\n    Number 2 (4:12)\n");
  // Newlines separate train items; a call inside the block may span lines.
  r = parse_text("train {\n  minimize loss\n  optimizer = adam(lr = 0.01,\n                   beta1 = 0.9)\n\n}\n");
  INFO(r.errors);
  REQUIRE(r.ok);
  CHECK(r.ast.find("Argument beta1= (4:20)") != std::string::npos);
  // The empty file and CRLF line ends.
  CHECK(parse_text("").ok);
  CHECK(parse_text("a = 1\r\nb = 2\r\n").ok);
  // Names that merely start with a keyword are names.
  CHECK(parse_text("inputs = 1\nmodel_out = inputs\nfnx = 2\n").ok);
}


namespace {
// Visits every position_tagged node of a program and counts those without a tag, or
// whose range is empty or lies outside the text.
struct TagChecker {
  const Positions& pos;
  size_t text_size;
  size_t nodes = 0, bad = 0;

  void tagged(const ast::x3::position_tagged& n) {
    ++nodes;
    auto [b, e] = pos.offsets(n);
    bool ok = n.id_first >= 0 && b < e && e <= text_size && pos.of(n).valid();
    bad += !ok;
  }
  void operator()(const ast::Identifier& n) { tagged(n); }
  void operator()(const ast::Number& n) { tagged(n); }
  void operator()(const ast::x3::forward_ast<ast::Call>& c) {
    tagged(c.get());
    tagged(c.get().callee);
    for (auto& a : c.get().args) {
      tagged(a);
      if (a.keyword) tagged(*a.keyword);
      expr(a.value);
    }
  }
  void operator()(const ast::x3::forward_ast<ast::ListLiteral>& l) {
    tagged(l.get());
    for (auto& item : l.get().items) expr(item);
  }
  void operator()(const ast::x3::forward_ast<ast::Unary>& u) {
    tagged(u.get());
    boost::apply_visitor(*this, u.get().operand.get());
  }
  void operator()(const ast::x3::forward_ast<ast::Expression>& e) { expr(e.get()); }
  void expr(const ast::Expression& e) {
    tagged(e);
    boost::apply_visitor(*this, e.first.get());
    for (auto& op : e.rest) {
      tagged(op);
      boost::apply_visitor(*this, op.operand.get());
    }
  }
  void type(const ast::TypeSpec& t) {
    tagged(t);
    tagged(t.elem);
    for (auto& d : t.dims) tagged(d);
  }
  void operator()(const ast::ModelDecl& s) { tagged(s); tagged(s.name); }
  void operator()(const ast::DimDecl& s) { tagged(s); tagged(s.name); tagged(s.value); }
  void operator()(const ast::InputDecl& s) { tagged(s); tagged(s.name); type(s.type); }
  void operator()(const ast::ParamDecl& s) { tagged(s); tagged(s.name); type(s.type); expr(s.init); }
  void operator()(const ast::FnDecl& s) {
    tagged(s); tagged(s.name); expr(s.body);
    for (auto& p : s.params) tagged(p);
  }
  void operator()(const ast::OutputDecl& s) { tagged(s); tagged(s.name); expr(s.value); }
  void operator()(const ast::Binding& s) { tagged(s); tagged(s.name); expr(s.value); }
  void operator()(const ast::Minimize& s) { tagged(s); expr(s.value); }
  void operator()(const ast::MetricDecl& s) { tagged(s); tagged(s.name); expr(s.value); }
  void operator()(const ast::Setting& s) { tagged(s); tagged(s.key); expr(s.value); }
  void operator()(const ast::TrainBlock& s) {
    tagged(s);
    for (auto& item : s.items) boost::apply_visitor(*this, item.get());
  }
};
}  // namespace

TEST_CASE("every AST node carries a source range", "[parser]") {
  for (const char* text : {kWholeFile, kTrainBlock, kDeepSigmoid, kConstWeights, kInlineForms}) {
    SourceFile file("t.model", text);
    Diagnostics diags(&file);
    auto parsed = parse_model(file, diags);
    REQUIRE(parsed);
    TagChecker checker{parsed->positions, file.text().size()};
    checker.tagged(parsed->program);
    for (auto& s : parsed->program.statements) boost::apply_visitor(checker, s.get());
    CHECK(checker.nodes > 40);
    CHECK(checker.bad == 0);
  }
}
