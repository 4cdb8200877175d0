// Parser error tests: the exact rendered syntax errors, and robustness (truncation at
// every byte, seeded random mutations, garbage, deep nesting).
#include "tests/frontend/parser_fixtures.hpp"
#include <random>

using namespace kiln;
using namespace kiln::test;

// The exact rendered diagnostic for each kind of syntax error.
TEST_CASE("syntax errors are located and worded for users", "[parser]") {
  struct Case {
    const char* text;
    const char* expected;
  };
  const Case cases[] = {
      {"h = relu(dense(x, w1, b1)\nlogits = dense(h, w2, b2)\n",
       "t.model:1:26: error: expected ')' to close the call to relu opened at 1:9 [syntax]\n"
       "    1 | h = relu(dense(x, w1, b1)\n"
       "      |                          ^\n"},
      {"x = 1 +\n",
       "t.model:1:8: error: expected an expression after '+' [syntax]\n"
       "    1 | x = 1 +\n"
       "      |        ^\n"},
      {"input x f32[3]\n",
       "t.model:1:9: error: expected ':' and a type after the input name [syntax]\n"
       "    1 | input x f32[3]\n"
       "      |         ^~~\n"},
      {"param w : f32[3] he_normal\n",
       "t.model:1:18: error: expected '=' and an initialiser after the param type [syntax]\n"
       "    1 | param w : f32[3] he_normal\n"
       "      |                  ^~~~~~~~~\n"},
      {"const c : f32[3] [1, 2, 3]\n",
       "t.model:1:18: error: expected '=' and a value after the const type [syntax]\n"
       "    1 | const c : f32[3] [1, 2, 3]\n"
       "      |                  ^\n"},
      {"foo x : f32\n",
       "t.model:1:1: error: unexpected 'foo' at the start of a statement [syntax]\n"
       "    1 | foo x : f32\n"
       "      | ^~~\n"},
      {"x = a b\n",
       "t.model:1:7: error: expected a newline or ';' after the statement [syntax]\n"
       "    1 | x = a b\n"
       "      |       ^\n"},
      {"c = [1, 2,\ny = 3\n",
       "t.model:2:3: error: expected ']' to close the list opened at 1:5 [syntax]\n"
       "    2 | y = 3\n"
       "      |   ^\n"},
      {"model m\nc = [1,\n  2,\n",
       "t.model:3:5: error: unterminated '[' opened at 2:5 [syntax]\n"
       "    3 |   2,\n"
       "      |     ^\n"},
      {"train {\n  minimize loss\n  epochs = 3\n\noutput p = x\n",
       "t.model:3:13: error: expected '}' to close the train block opened at 1:7 [syntax]\n"
       "    3 |   epochs = 3\n"
       "      |             ^\n"},
      {"train { minimize loss\n",
       "t.model:1:22: error: expected '}' to close the train block opened at 1:7 [syntax]\n"
       "    1 | train { minimize loss\n"
       "      |                      ^\n"},
      {"input input : f32\n",
       "t.model:1:7: error: 'input' is a keyword and cannot be used as a name [syntax]\n"
       "    1 | input input : f32\n"
       "      |       ^~~~~\n"},
      {"input = 3\n",
       "t.model:1:1: error: 'input' is a keyword and cannot be used as a name [syntax]\n"
       "    1 | input = 3\n"
       "      | ^~~~~\n"},
      {"x = input + 1\n",
       "t.model:1:5: error: 'input' is a keyword and cannot be used as a name [syntax]\n"
       "    1 | x = input + 1\n"
       "      |     ^~~~~\n"},
      {"minimize loss\n",
       "t.model:1:1: error: 'minimize' can only be used inside a train block [syntax]\n"
       "    1 | minimize loss\n"
       "      | ^~~~~~~~\n"},
      {"x = (a + b\ny = 2\n",
       "t.model:1:11: error: expected ')' to close the '(' opened at 1:5 [syntax]\n"
       "    1 | x = (a + b\n"
       "      |           ^\n"},
      {"x = 2 ^ * 3\n",
       "t.model:1:9: error: expected an expression after '^' [syntax]\n"
       "    1 | x = 2 ^ * 3\n"
       "      |         ^\n"},
      {"input x : f32[batch, ]\n",
       "t.model:1:22: error: expected a dimension (an integer or a dim name) after ',' [syntax]\n"
       "    1 | input x : f32[batch, ]\n"
       "      |                      ^\n"},
      {"input x : f32[batch, 30\ny = 1\n",
       "t.model:1:24: error: expected ']' to close the shape opened at 1:14 [syntax]\n"
       "    1 | input x : f32[batch, 30\n"
       "      |                        ^\n"},
      {"fn f(a b) = a\n",
       "t.model:1:8: error: expected ',' or ')' in the parameter list of f opened at 1:5 [syntax]\n"
       "    1 | fn f(a b) = a\n"
       "      |        ^\n"},
      {"fn (a) = a\n",
       "t.model:1:4: error: expected a function name after 'fn' [syntax]\n"
       "    1 | fn (a) = a\n"
       "      |    ^\n"},
      {"dim n = 3.5\n",
       "t.model:1:9: error: expected an integer size after '=' [syntax]\n"
       "    1 | dim n = 3.5\n"
       "      |         ^~~\n"},
      {"dim batch 64\n",
       "t.model:1:11: error: expected '=' and a size after the dim name [syntax]\n"
       "    1 | dim batch 64\n"
       "      |           ^~\n"},
      {"x = f(a,)\n",
       "t.model:1:9: error: expected an expression after ',' [syntax]\n"
       "    1 | x = f(a,)\n"
       "      |         ^\n"},
      {"x = 3 )\n",
       "t.model:1:7: error: unmatched ')' [syntax]\n"
       "    1 | x = 3 )\n"
       "      |       ^\n"},
      {"train { foo }\n",
       "t.model:1:9: error: unexpected 'foo' in the train block (expected 'minimize', 'metric' or 'NAME = VALUE') [syntax]\n"
       "    1 | train { foo }\n"
       "      |         ^~~\n"},
      {"train {\n  minimize loss\n  epochs 30\n}\n",
       "t.model:3:3: error: unexpected 'epochs' in the train block (expected 'minimize', 'metric' or 'NAME = VALUE') [syntax]\n"
       "    3 |   epochs 30\n"
       "      |   ^~~~~~\n"},
      {"train minimize loss\n",
       "t.model:1:7: error: expected '{' after 'train' [syntax]\n"
       "    1 | train minimize loss\n"
       "      |       ^~~~~~~~\n"},
      {"x = caf\xc3""\xa9""\n",
       "t.model:1:8: error: unexpected byte 0xC3 (only ASCII text is allowed outside comments) [syntax]\n"
       "    1 | x = caf\xc3""\xa9""\n"
       "      |        ^\n"},
      {"model\n",
       "t.model:1:6: error: expected a model name after 'model' [syntax]\n"
       "    1 | model\n"
       "      |      ^\n"},
      {"param w : = 3\n",
       "t.model:1:11: error: expected a type such as f32[batch, 30] after ':' [syntax]\n"
       "    1 | param w : = 3\n"
       "      |           ^\n"},
      {"output p sigmoid(x)\n",
       "t.model:1:10: error: expected '=' and a value after the output name [syntax]\n"
       "    1 | output p sigmoid(x)\n"
       "      |          ^~~~~~~\n"},
      {"x = f(a, b",
       "t.model:1:11: error: unterminated call to f opened at 1:6 [syntax]\n"
       "    1 | x = f(a, b\n"
       "      |           ^\n"},
      {"loss = mean(y * log(p)   # comment\n  + (1 - y) * log(1 - p)\nz = 1\n",
       "t.model:2:25: error: expected ')' to close the call to mean opened at 1:12 [syntax]\n"
       "    2 |   + (1 - y) * log(1 - p)\n"
       "      |                         ^\n"},
      {"x = [1, 2 3]\n",
       "t.model:1:11: error: expected ']' to close the list opened at 1:5 [syntax]\n"
       "    1 | x = [1, 2 3]\n"
       "      |           ^\n"},
      {"x =\ty z\n",
       "t.model:1:7: error: expected a newline or ';' after the statement [syntax]\n"
       "    1 | x =\ty z\n"
       "      |    \t  ^\n"},
      {"e = a <> b\n",
       "t.model:1:8: error: expected an expression after '<' [syntax]\n"
       "    1 | e = a <> b\n"
       "      |        ^\n"},
  };
  for (const auto& c : cases) {
    Result r = parse_text(c.text);
    INFO(c.text);
    CHECK_FALSE(r.ok);
    CHECK(r.error_count == 1);
    CHECK(r.errors == c.expected);
  }
}

namespace {
// A failed parse must give exactly one located syntax error.
void check_outcome(const std::string& text) {
  SourceFile file("t.model", text);
  Diagnostics diags(&file);
  auto parsed = parse_model(file, diags);
  if (parsed) {
    CHECK(diags.all().empty());
    std::string printed = print_ast(*parsed, file);
    CHECK(printed.find("?:?") == std::string::npos);
    return;
  }
  REQUIRE(diags.all().size() == 1);
  const Diagnostic& d = diags.all()[0];
  CHECK(d.id == "syntax");
  CHECK(d.loc.valid());
  CHECK(d.loc.line <= file.line_count());
  for (const char* key : {"@expr", "@name", "@dim", "@type", "@close", "@end", "@statement", "@train"})
    CHECK(d.message.find(key) == std::string::npos);  // no internal rule keys
  CHECK(d.message.find("::") == std::string::npos);
}
}  // namespace

TEST_CASE("every truncation of a valid model parses or gives a located error", "[parser]") {
  std::string text = kWholeFile;
  size_t parsed_ok = 0;
  for (size_t n = 0; n <= text.size(); ++n) {
    check_outcome(text.substr(0, n));
    SourceFile file("t.model", text.substr(0, n));
    Diagnostics diags(&file);
    parsed_ok += parse_model(file, diags).has_value();
  }
  CHECK(parsed_ok > 10);               // e.g. cut at the end of a statement
  CHECK(parsed_ok < text.size() / 2);  // most cuts are errors
}

TEST_CASE("random byte mutations never crash the parser", "[parser]") {
  std::mt19937 rng(12345);
  const std::string alphabet = "()[]{},;:=+-*/^@<>!#\n\t .0123456789eE_axyzf\x00\x7f\xc3\xff";
  for (const char* base : {kWholeFile, kDeepSigmoid, kInlineForms}) {
    std::string original = base;
    for (int iter = 0; iter < 300; ++iter) {
      std::string text = original;
      int edits = 1 + static_cast<int>(rng() % 4);
      for (int k = 0; k < edits; ++k) {
        size_t at = rng() % (text.size() + 1);
        char ch = rng() % 2 ? alphabet[rng() % alphabet.size()] : static_cast<char>(rng() % 256);
        switch (rng() % 3) {
          case 0: text.insert(text.begin() + static_cast<std::ptrdiff_t>(at), ch); break;
          case 1: if (at < text.size()) text.erase(at, 1); break;
          default: if (at < text.size()) text[at] = ch; break;
        }
      }
      check_outcome(text);
    }
  }
  // A NUL byte is reported as such.
  Result nul = parse_text(std::string("x = 1\0\n", 7));
  CHECK(nul.errors.rfind("t.model:1:6: error: unexpected byte 0x00 (only ASCII text is allowed outside comments) "
                         "[syntax]\n", 0) == 0);
  // Pure garbage.
  for (int iter = 0; iter < 200; ++iter) {
    std::string text(rng() % 64, '\0');
    for (auto& ch : text) ch = static_cast<char>(rng() % 256);
    check_outcome(text);
  }
}

TEST_CASE("deep nesting is an error, not a stack overflow", "[parser]") {
  auto repeat = [](const std::string& s, int n) {
    std::string out;
    for (int i = 0; i < n; ++i) out += s;
    return out;
  };
  CHECK(parse_text("x = " + repeat("(", 200) + "1" + repeat(")", 200) + "\n").ok);
  CHECK(parse_text("x = " + repeat("(", 300) + "1" + repeat(")", 300) + "\n").errors ==
        "t.model:1:261: error: expression nested too deeply (more than 256 levels of brackets and unary minus) "
        "[syntax]\n" + std::string("    1 | x = ") + repeat("(", 300) + "1" + repeat(")", 300) + "\n      | " +
        std::string(260, ' ') + "^\n");
  CHECK(parse_text("x = " + repeat("f(", 200) + "1" + repeat(")", 200) + "\n").ok);
  for (std::string text : {"x = " + repeat("(", 100000) + "1" + repeat(")", 100000) + "\n",
                           "x = " + repeat("[", 100000) + "\n", "x = " + repeat("-", 100000) + "1\n",
                           "x = " + repeat("f(-", 100000) + "\n"}) {
    Result r = parse_text(text);
    CHECK_FALSE(r.ok);
    CHECK(r.errors.rfind("t.model:1:", 0) == 0);
    CHECK(r.errors.find(": error: expression nested too deeply (more than 256 levels of brackets and unary minus) "
                        "[syntax]\n") != std::string::npos);
  }
  // Long flat chains and many statements are not nesting.
  Result r = parse_text("x = a" + repeat(" + a", 100000) + "\n" + repeat("y = 1\n", 10000));
  CHECK(r.ok);
  CHECK(r.ast.find("Chain of 100001 operands (left-associative)") != std::string::npos);
}
