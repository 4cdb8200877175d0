// Tests of the IR text form: golden text, exact round trip over every op, located parse
// errors, and mutated input that must never crash the reader.
#include "ir/printer.hpp"
#include "printer_test_util.hpp"
#include <catch2/catch.hpp>
#include <set>

using namespace kiln;

static const char* kTinyText = R"(model tiny file="models/tiny.model" batch=4
%0:f32[4,3] = input "x" {normalize}    # tiny.model:3:1-3:20
%1:i32[4] = input "y"    # tiny.model:4:1-4:16
%2:f32[3,2] = param "w" {init=he_normal}    # tiny.model:6:1-6:32
%3:f32[2] = param "b" {init=constant(0.5)}    # tiny.model:7:1-7:30
%4:f32[4,2] = matmul %0, %2 ; h    # tiny.model:10:9-10:14
%5:f32[4,2] = add %4, %3    # tiny.model:10:9-10:18
%6:f32[4,2] = relu %5    # tiny.model:11:5-11:12
%7:f32 = literal 2
%8:f32[4,2] = mul %6, %7 ; logits    # tiny.model:11:5-11:16
%9:f32[4] = softmax_cross_entropy %8, %1    # tiny.model:14:8-14:40
%10:f32 = mean %9    # tiny.model:14:3-14:41
%11:f32[4,2] = softmax %8 {axes=[1]}    # tiny.model:15:10-15:20
%12:i32[4] = argmax %8 {axes=[1]}
%13:f32[4,1] = sum %8 {axes=[1], keepdims}
output prob = %11
train epochs=5 seed=7 clip_norm=1.5    # tiny.model:13:1-18:2
minimize %10    # tiny.model:14:3-14:41
optimizer adam(lr=0.001, beta1=0.9, beta2=0.999, eps=1e-08)    # tiny.model:16:3-16:30
schedule constant
metric accuracy = %12
grad %2 = %4
)";

TEST_CASE("text form of a small graph matches the golden text", "[printer]") {
  Graph g = test::tiny_graph();
  CHECK(print_ir_text(g) == kTinyText);
  std::string err;
  auto back = parse_ir_text(kTinyText, err);
  REQUIRE(back);
  CHECK(err.empty());
  CHECK(test::graph_difference(g, *back) == "");
  CHECK(verify_graph(*back).empty());
}

TEST_CASE("text round trip is exact over every op, attribute and init kind", "[printer]") {
  Graph g = test::all_ops_graph();
  REQUIRE(verify_graph(g).empty());
  std::set<Op> ops;
  std::set<InitKind> inits;
  for (const Node& n : g.nodes) ops.insert(n.op), inits.insert(n.attrs.init.kind);
  CHECK(ops.size() == static_cast<size_t>(kNumOps));  // a new op must be added to all_ops_graph
  CHECK(inits.size() == static_cast<size_t>(InitKind::literal) + 1);

  std::string text = print_ir_text(g);
  std::string err;
  auto back = parse_ir_text(text, err);
  INFO(err);
  REQUIRE(back);
  CHECK(test::graph_difference(g, *back) == "");
  CHECK(print_ir_text(*back) == text);
  CHECK(verify_graph(*back).empty());
}

TEST_CASE("text form: names, numbers and locations", "[printer]") {
  Graph g = test::all_ops_graph();
  std::string text = print_ir_text(g);
  // Special characters are escaped; '#' inside a name is not a comment.
  CHECK(text.find(R"(param "w \"quoted\" \\ and\nnewline")") != std::string::npos);
  CHECK(text.find(R"(const "c#not a comment" {init=[1.5,-2,1e-300]})") != std::string::npos);
  CHECK(text.find("literal [inf,-inf,nan] ; three") != std::string::npos);
  CHECK(text.find("literal [-0]") != std::string::npos);
  CHECK(text.find("model \"all ops\" file=\"/tmp/some dir/all.model\"") == 0);
  CHECK(text.find("# all.model:2:3-3:17") != std::string::npos);  // the basename, the full range
  CHECK(text.find("seed=18446744073709551615") != std::string::npos);
  // Leaf lists out of node order are spelled out; derivable ones are not.
  CHECK(text.find("\nparams %3, %2,") != std::string::npos);
  CHECK(text.find("\ninputs") == std::string::npos);

  std::string err;
  auto back = parse_ir_text(text, err);
  REQUIRE(back);
  const Node& three = (*back)[16];
  REQUIRE(three.attrs.init.data.size() == 3);
  CHECK(std::isinf(three.attrs.init.data[0]));
  CHECK(std::isnan(three.attrs.init.data[2]));
  CHECK(std::signbit((*back)[17].attrs.init.data[0]));
  CHECK((*back)[4].attrs.init.data[2] == 1e-300);
  CHECK((*back)[3].name == "w \"quoted\" \\ and\nnewline");
}

TEST_CASE("text form: every double round-trips", "[printer]") {
  for (double v : {0.1, 1.0 / 3, 1e-308, 5e-324, 1.7976931348623157e308, -2.5e-7, 123456789.123456789, 0.0}) {
    Graph g;
    g.scalar(v, DType::f64);
    std::string err;
    auto back = parse_ir_text(print_ir_text(g), err);
    REQUIRE(back);
    CHECK((*back)[0].attrs.init.data == std::vector<double>{v});
  }
}

TEST_CASE("hand-written text: comments, blank lines, spacing, defaults", "[printer]") {
  std::string err;
  auto g = parse_ir_text(R"(
# a comment line
model m
%0:f32[2,3] = input "x"   # free comment, no location
%1:f32[3]=param "b"{init=uniform(-1,1)}
%2:f32[2,3] = add %0,%1 ; sum.1  # m.model:4:2-4:9

output out = %2
)", err);
  INFO(err);
  REQUIRE(g);
  CHECK(g->model_name == "m");
  CHECK(g->file.empty());
  CHECK(g->batch == 32);
  CHECK_FALSE((*g)[0].loc.valid());
  CHECK((*g)[2].loc == SourceRange{4, 2, 4, 9});
  CHECK((*g)[2].name == "sum.1");
  CHECK(g->inputs == std::vector<NodeId>{0});
  CHECK(g->params == std::vector<NodeId>{1});
  CHECK_FALSE(g->train.present);
  CHECK(verify_graph(*g).empty());
}

TEST_CASE("parse errors name the line", "[printer]") {
  struct Case {
    const char* text;
    const char* err;
  };
  const Case cases[] = {
      {"", "line 1: missing the 'model NAME' header"},
      {"%0:f32 = literal 1\n", "line 1: expected the header 'model NAME ...', found '%0:f32'"},
      {"model m\n%1:f32 = literal 1\n", "line 2: expected node %0 (nodes are numbered in order), found %1"},
      {"model m\n%0:f16 = literal 1\n", "line 2: unknown element type 'f16'"},
      {"model m\n%0:f32 = frobnicate\n", "line 2: unknown op 'frobnicate'"},
      {"model m\n%0:f32[2] = input x\n", "line 2: expected the input's name (a quoted string), found 'x'"},
      {"model m\n%0:f32[2] = input \"x\n", "line 2: unterminated string"},
      {"model m\n%0:f32[2] = input \"x\"\n%1:f32[2] = add %0\n", "line 3: add takes 2 operands, got 1"},
      {"model m\n%0:f32[2] = input \"x\"\n%1:f32[2] = neg %1\n", "line 3: operand %1 is not defined before %1"},
      {"model m\n%0:f32[2] = input \"x\"\n\n%1:f32[3] = neg %0\n",
       "line 4: %1 is written as f32[3] but neg gives f32[2]"},
      {"model m\n%0:f32[2,3] = input \"x\"\n%1:f32[3,3] = matmul %0, %0\n",
       "line 3: matmul: cannot multiply f32[2,3] by f32[2,3]: inner dimensions 3 and 2 differ"},
      {"model m\n%0:f32[2] = input \"x\"\n%1:f32[2] = add %0, %0 {axes=[0]}\n", "line 3: add takes no attribute 'axes'"},
      {"model m\n%0:f32[2] = input \"x\"\n%1:f32 = sum %0 {axes=[0], axes=[0]}\n",
       "line 3: attribute 'axes' is given twice"},
      {"model m\n%0:f32[2] = input \"x\"\n%1:f32 = sum %0 {color=[0]}\n", "line 3: unknown attribute 'color'"},
      {"model m\n%0:f32[2] = param \"w\" {init=gaussian}\n", "line 2: unknown initialiser 'gaussian'"},
      {"model m\n%0:f32[3] = const \"c\" {init=[1,2]}\n", "line 2: the const has 2 values but its type f32[3] holds 3"},
      {"model m\n%0:f32 = literal 1.5.5\n", "line 2: expected the literal's value (a number), found '1.5.5'"},
      {"model m\n%0:f32 = literal 1 extra\n", "line 2: unexpected 'extra'"},
      {"model m\noutput y = %3\n", "line 2: %3 is not a node defined above"},
      {"model m\n%0:f32 = literal 1\nwhatever %0\n", "line 3: unknown keyword 'whatever'"},
      {"model m\ntrain epochs=x\n", "line 2: expected the number of epochs (an integer), found 'x'"},
      {"model m\ntrain\ntrain\n", "line 3: a second 'train' line"},
      {"model m\noptimizer sgd(lr=0.1, lr=0.2)\n", "line 2: setting 'lr' is given twice"},
      {"model m\noptimizer sgd(nesterov=maybe)\n", "line 2: expected true or false, found 'maybe'"},
      {"model m\nschedule cosine(total=10\n", "line 2: expected ')' to close the settings, found the end of the line"},
      {"model m batch=99999999999999999999\n", "line 1: expected the batch size (an integer), found '99999999999999999999'"},
      {"model m\n%0:f32[-2] = input \"x\"\n", "line 2: the shape has a negative or too large dimension"},
      {"model m\n%0:f32[2] = input \"x\"\n%1:f32[2] = reshape %0 {shape=[4294967296,-4294967296]}\n",
       "line 3: the shape attribute is too large"},
      {"model m\n%0:f32[2] = input \"x\"\n%1:f32[2,-1] = reshape %0 {shape=[2,-1]}\n",
       "line 3: the shape has a negative or too large dimension"},
      {"model m\n%0:f32[2] = input \"x\"\n%1:f32[2,1] = reshape %0 {shape=[2,-1]}\n",
       "line 3: reshape: reshape target [2,-1] has a dimension that is not positive"},
      {"model m\n%0:f32[2] = input \"x\" ; y\n", "line 2: 'input' is named by its quoted name, not by '; name'"},
  };
  for (const Case& c : cases) {
    std::string err;
    INFO(c.text);
    CHECK_FALSE(parse_ir_text(c.text, err));
    CHECK(err == c.err);
  }
}

// Deterministic mutations of a valid text: the reader either fails with a located
// message or returns a graph that prints, verifies and re-reads without crashing.
TEST_CASE("mutated text never crashes the reader", "[printer]") {
  const std::string text = print_ir_text(test::all_ops_graph());
  const char replacements[] = {'%', '[', ']', '"', '9', '-', 'x', '\n', ' ', '{', '}', '#', ',', '=', '\\', ':', '\0'};
  size_t parsed = 0, rejected = 0;
  auto check = [&](const std::string& t) {
    std::string err;
    auto g = parse_ir_text(t, err);
    if (!g) {
      ++rejected;
      CHECK(err.rfind("line ", 0) == 0);
      return;
    }
    ++parsed;
    verify_graph(*g);
    print_ir_dot(*g);
    print_ir_json(*g);
    // What the reader accepts, it reads back the same (a fixed point).
    std::string t2 = print_ir_text(*g);
    auto g2 = parse_ir_text(t2, err);
    REQUIRE(g2);
    CHECK(print_ir_text(*g2) == t2);
  };
  uint32_t rng = 12345;
  auto next = [&] { return rng = rng * 1103515245u + 12345u, rng >> 8; };
  for (size_t i = 0; i < text.size(); i += 1 + next() % 5) {
    std::string t = text;
    switch (next() % 4) {
      case 0: t.erase(i, 1); break;
      case 1: t[i] = replacements[next() % sizeof(replacements)]; break;
      case 2: t.insert(i, 1, replacements[next() % sizeof(replacements)]); break;
      case 3: t.resize(i); break;
    }
    check(t);
  }
  // Lines swapped and duplicated.
  std::vector<std::string> lines;
  for (size_t p = 0, e; p < text.size(); p = e + 1) lines.push_back(text.substr(p, (e = text.find('\n', p)) - p));
  for (size_t i = 0; i + 1 < lines.size(); i += 3) {
    auto l = lines;
    std::swap(l[i], l[i + 1]);
    std::string t;
    for (auto& s : l) t += s + "\n";
    check(t);
    t.clear();
    for (size_t j = 0; j < lines.size(); ++j) t += lines[j] + "\n" + (j == i ? lines[j] + "\n" : "");
    check(t);
  }
  CHECK(parsed > 10);
  CHECK(rejected > 100);
}

TEST_CASE("text round trip of every optimizer and schedule, with and without a file", "[printer]") {
  const char* optimizers[] = {"sgd", "adam", "adamw", "rmsprop", "adagrad", "sgd"};
  const char* schedules[] = {"constant", "exponential_decay", "step_decay", "cosine"};
  for (int k = 0; k < 6; ++k) {
    Graph g = test::tiny_graph();
    if (k % 2) g.file.clear();
    OptimizerSpec& o = g.train.optimizer;
    o.kind = kiln::optimizer_kind(optimizers[k]).value();
    o.lr = 0.5 / (k + 1);
    o.momentum = k == 0 ? 0.9 : 0;
    o.nesterov = k == 0 || k == 5;
    o.rho = k == 3 ? 0.95 : 0.9;
    o.weight_decay = k == 5 ? 1e-4 : 0;
    ScheduleSpec& s = g.train.schedule;
    s.kind = kiln::schedule_kind(schedules[k % 4]).value();
    s.rate = k == 2 ? 0.5 : 1.0;
    s.every = k == 2 ? 10 : 1;
    s.total = k % 4 == 3 ? 1000 : 0;
    s.loc = k % 2 ? SourceRange{17, 3, 17, 60} : SourceRange{};
    g.train.clip_norm.reset();
    std::string text = print_ir_text(g);
    INFO(text);
    std::string err;
    auto back = parse_ir_text(text, err);
    INFO(err);
    REQUIRE(back);
    CHECK(test::graph_difference(g, *back) == "");
    CHECK(print_ir_text(*back) == text);
    CHECK((text.find(" file=") != std::string::npos) == !g.file.empty());
  }
  Graph g = test::tiny_graph();
  g.file.clear();
  CHECK(print_ir_text(g).find("%0:f32[4,3] = input \"x\" {normalize}    # 3:1-3:20\n") != std::string::npos);
  // Without a train block, the defaults are not printed.
  g.train = {};
  g.grads.clear();
  std::string text = print_ir_text(g);
  CHECK(text.find("train") == std::string::npos);
  CHECK(text.find("optimizer") == std::string::npos);
  std::string err;
  auto back = parse_ir_text(text, err);
  REQUIRE(back);
  CHECK(test::graph_difference(g, *back) == "");
}
