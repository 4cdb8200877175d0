// The language reaches every op its row says it does: each callable row (OpRow::surface)
// is called from source text with its parameters' names, each operator row is written
// with its symbol, and each callable name is in LANGUAGE.md's table of functions.
#include "frontend/lower.hpp"
#include "frontend/lower_impl.hpp"
#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

using namespace kiln;

namespace {

// Lowers `output y = EXPR` over x : f32[3, 3] and labels : i32[3]; the node of y, or a
// failure that shows the diagnostics.
std::optional<Node> lower_output(const std::string& expr) {
  SourceFile file("m.model", fmt::format("input x : f32[3, 3]\ninput labels : i32[3]\noutput y = {}\n", expr));
  Diagnostics diags(&file);
  auto g = compile_source(file, diags);
  INFO(expr << "\n" << diags.render_all(false));
  REQUIRE(g);
  REQUIRE(g->outputs.size() == 1);
  return (*g)[g->outputs.begin()->second];
}

// A call of a row's function with every parameter given, by name where it has a default.
std::string full_call(const Surface& s) {
  auto p = [&](int i) { return std::string(s.params[i]); };
  std::string f(s.name);
  switch (s.kind) {
    case CallKind::unary: return f + "(x)";
    case CallKind::alpha: return fmt::format("{}(x, {}=0.5)", f, p(1));
    case CallKind::binary: case CallKind::loss: return f + "(x, x)";
    case CallKind::huber: return fmt::format("{}(x, x, {}=0.5)", f, p(2));
    case CallKind::ternary: return f + "(x, x, x)";
    case CallKind::reduce: return fmt::format("{}(x, {}=1, {}=true)", f, p(1), p(2));
    case CallKind::argmax: return f + "(x, 1)";
    case CallKind::reshape: return f + "(x, [1, 9])";
    case CallKind::concat: return fmt::format("{}([x, x], {}=1)", f, p(1));
    case CallKind::one_hot: return f + "(labels, 3)";
    case CallKind::softmax: return fmt::format("{}(x, {}=0)", f, p(1));
    default: return "";
  }
}

}  // namespace

TEST_CASE("every row with a call signature can be called by its name", "[lower][builtins]") {
  int calls = 0;
  for (int i = 0; i < kNumOps; ++i) {
    const OpRow& row = op_row(Op(i));
    const Surface& s = row.surface;
    INFO("op " << row.name);
    CHECK(s.kind != CallKind::unset);
    if (!is_call(s.kind)) {
      CHECK_FALSE(lower::is_builtin_function(row.name));
      continue;
    }
    CHECK(lower::is_builtin_function(s.name));
    std::string call = full_call(s);
    REQUIRE(!call.empty());  // a new kind of call: give it a call here
    auto n = lower_output(call);
    CHECK(n->op == row.op);
    if (s.kind == CallKind::alpha || s.kind == CallKind::huber) {
      CHECK(n->attrs.alpha == 0.5);
      std::string defaults = s.kind == CallKind::alpha ? fmt::format("{}(x)", s.name) : fmt::format("{}(x, x)", s.name);
      CHECK(lower_output(defaults)->attrs.alpha == s.alpha);  // the row's default
    }
    ++calls;
  }
  CHECK(calls == int(lower::builtin_function_names().size()));
}

TEST_CASE("every operator row is reached through its symbol", "[lower][builtins]") {
  int operators = 0;
  for (int i = 0; i < kNumOps; ++i) {
    const OpRow& row = op_row(Op(i));
    const Surface& s = row.surface;
    INFO("op " << row.name << ", operator " << s.name);
    if (s.kind == CallKind::infix) CHECK(lower_output(fmt::format("x {} x", s.name))->op == row.op);
    else if (s.kind == CallKind::prefix) CHECK(lower_output(fmt::format("{}x", s.name))->op == row.op);
    else continue;
    ++operators;
  }
  CHECK(operators >= 13);
}

TEST_CASE("the function names are the callable rows, listed by kind", "[lower][builtins]") {
  const auto& names = lower::builtin_function_names();
  std::set<std::string> seen;
  CallKind last = CallKind::unary;
  for (const std::string& n : names) {
    const OpRow* row = nullptr;
    for (int i = 0; i < kNumOps && !row; ++i)
      if (op_row(Op(i)).surface.name == n && is_call(op_row(Op(i)).surface.kind)) row = &op_row(Op(i));
    INFO(n);
    REQUIRE(row);
    CHECK(seen.insert(n).second);
    CHECK(row->surface.kind >= last);  // CallKind's order: "did you mean" ties go to the earlier
    last = row->surface.kind;
  }
}

TEST_CASE("every callable op is in LANGUAGE.md's table of functions", "[lower][builtins]") {
  std::ifstream in(std::string(KILN_SOURCE_DIR) + "/docs/LANGUAGE.md");
  REQUIRE(in);
  std::stringstream text;
  text << in.rdbuf();
  std::string doc = text.str();
  size_t start = doc.find("| group | functions |");
  REQUIRE(start != std::string::npos);
  std::string table = doc.substr(start, doc.find("\n\n", start) - start);
  // The names in the table's code spans: `exp log ... leaky_relu(x, alpha=0.01) ...`.
  std::set<std::string> documented;
  std::regex span("`([^`]*)`"), word("[A-Za-z_][A-Za-z0-9_]*");
  for (std::sregex_iterator m(table.begin(), table.end(), span), e; m != e; ++m) {
    std::string code = (*m)[1];
    for (std::sregex_iterator w(code.begin(), code.end(), word); w != e; ++w) documented.insert(w->str());
  }
  for (const std::string& n : lower::builtin_function_names()) {
    INFO("the function " << n << " is missing from docs/LANGUAGE.md's table of functions");
    CHECK(documented.count(n));
  }
}
