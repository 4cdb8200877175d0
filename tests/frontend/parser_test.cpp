// Parser tests: every LANGUAGE.md example parses, precedence and associativity (via the
// AST printer), line continuation, located syntax errors, and robustness on bad input.
#include "frontend/ast_print.hpp"
#include "frontend/parse.hpp"
#include <catch2/catch.hpp>
#include <random>

using namespace kiln;

namespace {

struct Result {
  bool ok = false;
  std::string ast;     // print_ast output when ok
  std::string errors;  // rendered diagnostics
  size_t error_count = 0;
};

Result parse_text(const std::string& text, const std::string& path = "t.model") {
  SourceFile file(path, text);
  Diagnostics diags(&file);
  auto parsed = parse_model(file, diags);
  Result r;
  r.ok = parsed.has_value();
  if (parsed) r.ast = print_ast(*parsed, file);
  r.errors = diags.render_all();
  r.error_count = diags.error_count();
  return r;
}

// The AST of a single `e = EXPR` binding, without the Program/Binding lines.
std::string expr_ast(const std::string& expr) {
  Result r = parse_text("e = " + expr + "\n");
  INFO(r.errors);
  REQUIRE(r.ok);
  std::string out;
  size_t pos = r.ast.find('\n', r.ast.find("Binding e"));
  for (size_t i = pos + 1; i < r.ast.size();) {
    size_t j = r.ast.find('\n', i);
    std::string line = r.ast.substr(i, j - i);
    out += line.substr(4, line.rfind(" (") - 4) + "\n";  // drop the Binding indent and position
    i = j + 1;
  }
  return out;
}

const char* kWholeFile = R"(# breast_cancer.model: a small binary classifier
model breast_cancer

dim batch = 64
dim hidden = 32

input x : f32[batch, 30] normalize   # fed from the data; standardised with training-set statistics
input y : f32[batch, 1]

param w1 : f32[30, hidden] = he_normal
param b1 : f32[hidden]     = zeros
param w2 : f32[hidden, 1]  = glorot_uniform
param b2 : f32[1]          = zeros

fn dense(v, w, b) = v @ w + b

h      = relu(dense(x, w1, b1))
logits = dense(h, w2, b2)
loss   = mean(bce_with_logits(logits, y))

output prob = sigmoid(logits)

train {
  minimize loss
  optimizer = adam(lr = 0.01)
  epochs = 30
  metric accuracy = mean(round(sigmoid(logits)) == y)
}
)";

const char* kTrainBlock = R"(train {
  minimize loss                                   # required: a scalar value
  optimizer = sgd(lr = 0.1, momentum = 0.9, nesterov = false)
  # or: adam(lr, beta1 = 0.9, beta2 = 0.999, eps = 1e-8), adamw(lr, weight_decay = 0.01, ...),
  #     rmsprop(lr, rho = 0.9, eps = 1e-7), adagrad(lr, eps = 1e-7)
  schedule = exponential_decay(rate = 0.96, every = 100)   # or step_decay(...), cosine(total = N), constant
  clip_norm = 5.0                                 # optional global-norm gradient clipping
  epochs = 20
  seed = 42                                       # initialisation and shuffling
  metric accuracy = mean(argmax(logits, axis=1) == labels)   # logged each epoch; never trained
}
)";

const char* kDeepSigmoid = R"(input x : f32[batch, 30]
input y : f32[batch, 1]
param w1 : f32[30, 128] = glorot_uniform
param b1 : f32[128] = zeros
param w2 : f32[128, 64] = glorot_uniform
param b2 : f32[64] = zeros
param w3 : f32[64, 1] = glorot_uniform
param b3 : f32[1] = zeros
p = sigmoid(sigmoid(sigmoid(x @ w1 + b1) @ w2 + b2) @ w3 + b3)
loss = -mean(y * log(p) + (1 - y) * log(1 - p))     # unstable-log: p can be exactly 0 or 1
train { minimize loss; optimizer = adam(lr = 0.01) }
)";

const char* kConstWeights = R"(input x : f32[batch, 10]
input y : f32[batch, 1]
const weights : f32[10, 1] = normal(0, 1)            # const-as-param: meant to be a param
const bias : f32[1] = normal(0, 1)
loss = mean(square(y - (x @ weights + bias)))
train { minimize loss; optimizer = sgd(lr = 0.001) }  # error: no param reaches the loss
)";

// Inline forms quoted in LANGUAGE.md's tables and prose.
const char* kInlineForms = R"(model m
dim hidden = 32
input x : f32[batch, 30] normalize
input labels : i32[batch]
input s : f64
param w : f32[30, 8] = he_normal
const c : f32[3] = [1, 2, 3]
const m2 : f32[2, 2] = [[1, 2], [3, 4]]
const half : f32 = 0.5
const neg : f32 = -2.5
const small : f32 = 1e-3
param a1 : f32[3] = ones
param a2 : f32[3] = constant(0.1)
param a3 : f32[3] = normal(0, 0.01)
param a4 : f32[3] = uniform(-1, 1)
param a5 : f32[3] = glorot_normal
param a6 : f32[3] = he_uniform
param a7 : f32[3] = lecun_normal
fn f(a, b) = a * b
z = x @ w
e1 = exp(z) + log(z) + log1p(z) + expm1(z) + sqrt(z) + rsqrt(z) + square(z) + abs(z) + sign(z)
e2 = sin(z) + cos(z) + tanh(z) + sigmoid(z) + relu(z) + leaky_relu(z, alpha=0.01) + elu(z, alpha=1)
e3 = gelu(z) + silu(z) + softplus(z) + log_sigmoid(z) + minimum(z, z) + maximum(z, z) + clip(z, 0, 1)
e4 = where(z > 0, z, 0) + round(z) + floor(z) + ceil(z) + stop_gradient(z)
r1 = sum(z) + mean(z) + max(z) + min(z) + logsumexp(z) + sum(z, axis=1, keepdims=true)
t = transpose(z); r = reshape(z, [8, 64]); k = concat([z, z], axis=1); o = one_hot(labels, 8)
sm = softmax(z, axis=-1) + log_softmax(z, axis=-1)
acc = mean(argmax(z, axis=1) == labels)
l1 = bce(sigmoid(z), z) + bce_with_logits(z, z) + softmax_cross_entropy(z, labels)
l2 = squared_error(z, z) + huber(z, z, delta=1)
cmp = (z < 1) + (z <= 1) + (z > 1) + (z >= 1) + (z == 1) + (z != 1)
p = z ^ 2 - -z / 2
output prob = sigmoid(z)
train { minimize l2; optimizer = adamw(lr = 0.01, weight_decay = 0.01); schedule = cosine(total = 100) }
)";

}  // namespace

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
      {"x = 2 ^ -1\n",
       "t.model:1:9: error: expected an expression after '^' (write a negative exponent in parentheses: x ^ (-1)) [syntax]\n"
       "    1 | x = 2 ^ -1\n"
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
