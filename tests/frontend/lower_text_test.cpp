// Tests of the lowering from source text (parse_model + lower_model): LANGUAGE.md's
// examples, node types and locations, diagnostics with exact ranges, train settings.
#include "tests/frontend/parser_fixtures.hpp"
#include "frontend/lower.hpp"
#include <catch2/catch.hpp>
#include <cctype>
#include <memory>

using namespace kiln;

namespace {
NodeId named(const Graph& g, const std::string& n) {
  for (size_t i = 0; i < g.size(); ++i)
    if (g.nodes[i].name == n) return static_cast<NodeId>(i);
  FAIL("no node named " << n);
  return -1;
}

size_t count_op(const Graph& g, Op op) {
  size_t n = 0;
  for (auto& x : g.nodes) n += x.op == op;
  return n;
}
}  // namespace

namespace {
struct Compiled {
  std::unique_ptr<SourceFile> file;
  std::unique_ptr<Diagnostics> diags;
  std::optional<Graph> g;
};
Compiled compile(std::string text, LowerOptions opts = {}) {
  Compiled c;
  c.file = std::make_unique<SourceFile>("examples/m.model", std::move(text));
  c.diags = std::make_unique<Diagnostics>(c.file.get());
  c.g = compile_source(*c.file, *c.diags, opts);
  return c;
}
}  // namespace

// LANGUAGE.md's whole-file example, shared with the parser tests.
const char* const kBreastCancer = kiln::test::kWholeFile;

static SourceRange at(uint32_t line, uint32_t col, uint32_t end_col) { return {line, col, line, end_col}; }

TEST_CASE("lowering LANGUAGE.md's breast_cancer example", "[lower]") {
  auto c = compile(kBreastCancer);
  INFO(c.diags->render_all());
  REQUIRE(c.g);
  const Graph& g = *c.g;
  CHECK(c.diags->all().empty());
  CHECK(g.model_name == "breast_cancer");
  CHECK(g.file == "examples/m.model");
  CHECK(g.batch == 64);
  // 2 inputs, 4 params, dense twice (matmul + add), relu, bce_with_logits, mean, sigmoid
  // (output), and the metric's sigmoid, round, eq, mean.
  CHECK(g.size() == 18);
  CHECK(count_op(g, Op::matmul) == 2);
  CHECK(count_op(g, Op::sigmoid) == 2);
  REQUIRE(g.inputs.size() == 2);
  CHECK(g[g.inputs[0]].attrs.normalize);
  CHECK_FALSE(g[g.inputs[1]].attrs.normalize);
  REQUIRE(g.params.size() == 4);
  CHECK(g[g.params[0]].attrs.init.kind == InitKind::he_normal);
  CHECK(g[g.params[0]].shape == Shape{30, 32});
  CHECK(g[g.params[2]].attrs.init.kind == InitKind::glorot_uniform);
  NodeId h = named(g, "h");
  CHECK(g[h].type() == ValueType{DType::f32, {64, 32}});
  CHECK(g[h].loc == at(17, 10, 32));                 // relu(dense(x, w1, b1))
  CHECK(g[g[h].in[0]].loc == at(15, 21, 30));        // the fn body's `v @ w + b`
  CHECK(g[g[g[h].in[0]].in[0]].loc == at(15, 21, 26));  // `v @ w`
  NodeId logits = named(g, "logits");
  CHECK(g[logits].type() == ValueType{DType::f32, {64, 1}});
  REQUIRE(g.outputs.size() == 1);
  CHECK(g.outputs[0].first == "prob");
  CHECK(g[g.outputs[0].second].op == Op::sigmoid);
  CHECK(g[g.outputs[0].second].in[0] == logits);
  const TrainConfig& t = g.train;
  CHECK(t.present);
  REQUIRE(t.minimize);
  CHECK(*t.minimize == named(g, "loss"));
  CHECK(g[*t.minimize].shape.empty());
  CHECK(t.minimize_loc == at(24, 12, 16));
  CHECK(t.optimizer.kind == kiln::OptimizerKind::adam);
  CHECK(t.optimizer.lr == 0.01);
  CHECK(t.optimizer.eps == 1e-8);
  CHECK(t.optimizer.loc == at(25, 3, 30));
  CHECK(t.epochs == 30);
  CHECK(t.seed == 42);  // TrainConfig's default
  REQUIRE(t.metrics.size() == 1);
  CHECK(t.metrics[0].first == "accuracy");
  CHECK(g[t.metrics[0].second].op == Op::mean);
  CHECK(g[g[t.metrics[0].second].in[0]].op == Op::eq);

  auto small = compile(kBreastCancer, LowerOptions{16});
  REQUIRE(small.g);
  CHECK(small.g->batch == 16);
  CHECK(small.g->nodes[named(*small.g, "h")].shape == Shape{16, 32});
}

TEST_CASE("lowering LANGUAGE.md's broken examples (they are valid programs)", "[lower]") {
  auto a = compile(R"(input x : f32[batch, 30]
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
)");
  INFO(a.diags->render_all());
  REQUIRE(a.g);
  CHECK(a.g->batch == 32);
  CHECK(count_op(*a.g, Op::sigmoid) == 3);
  CHECK(count_op(*a.g, Op::log) == 2);
  NodeId loss = named(*a.g, "loss");
  CHECK(a.g->nodes[loss].op == Op::neg);
  CHECK(a.g->nodes[loss].shape.empty());
  CHECK(a.g->nodes[loss].loc == at(10, 8, 48));

  auto b = compile(R"(input x : f32[batch, 10]
input y : f32[batch, 1]
const weights : f32[10, 1] = normal(0, 1)            # const-as-param: meant to be a param
const bias : f32[1] = normal(0, 1)
loss = mean(square(y - (x @ weights + bias)))
train { minimize loss; optimizer = sgd(lr = 0.001) }  # error: no param reaches the loss
)");
  INFO(b.diags->render_all());
  REQUIRE(b.g);
  CHECK(b.g->params.empty());
  CHECK(b.g->consts.size() == 2);
  CHECK(b.g->nodes[b.g->consts[0]].attrs.init == Init{InitKind::normal, 0, 1, {}});
  CHECK(b.g->train.optimizer.kind == kiln::OptimizerKind::sgd);
  CHECK(b.g->train.optimizer.lr == 0.001);
}

TEST_CASE("lowering from text: error locations", "[lower]") {
  auto error = [](const std::string& text) {
    auto c = compile(text);
    INFO(c.diags->render_all());
    REQUIRE(c.diags->error_count() == 1);
    CHECK_FALSE(c.g);
    return c.diags->all()[0];
  };
  {
    auto d = error("input x : f32[batch, 4]\nparam w : f32[5, 3] = he_normal\nh = relu(x @ w)\n");
    CHECK(d.id == "shape");
    CHECK(d.message == "cannot multiply f32[32,4] by f32[5,3]: inner dimensions 4 and 5 differ");
    CHECK(d.loc == at(3, 10, 15));
    REQUIRE(d.notes.size() == 2);
    CHECK(d.notes[0].message == "left operand has type f32[32,4]");
    CHECK(d.notes[0].loc == at(3, 10, 11));
    CHECK(d.notes[1].message == "right operand has type f32[5,3]");
    CHECK(d.notes[1].loc == at(3, 14, 15));
  }
  {
    auto d = error("input x : f32[batch, 4]\ninput y : f32[batch]\nz = (x + 1) * y\n");
    CHECK(d.id == "shape");
    CHECK(d.message == "shapes f32[32,4] and f32[32] cannot be broadcast together");
    CHECK(d.loc.line == 3);
    CHECK(d.loc.end_col == 16);
    REQUIRE(d.notes.size() == 2);
    CHECK(d.notes[1].loc == at(3, 15, 16));
  }
  {
    auto d = error("input foo1 : f32[3]\nh = exp(fo1)\n");
    CHECK(d.id == "undefined");
    CHECK(d.message == "use of undefined name 'fo1'; did you mean 'foo1'?");
    CHECK(d.loc == at(2, 9, 12));
    REQUIRE(d.fixits.size() == 1);
    CHECK(d.fixits[0].replacement == "foo1");
  }
  {
    auto d = error("input x : f32[3]\nh = x + normal(0, 1)\n");
    CHECK(d.id == "undefined");
    CHECK(d.message == "'normal' is an initialiser; it can only follow '=' in a param or const declaration");
    CHECK(d.loc == at(2, 9, 15));
  }
  {
    auto d = error("input x : f32[3]\nh = reluu(x)\n");
    CHECK(d.message == "unknown function 'reluu'; did you mean 'relu'?");
    CHECK(d.loc == at(2, 5, 10));
  }
  {
    auto d = error("input x : f32[3]\nh = x\nh = exp(x)\n");
    CHECK(d.id == "redefined");
    CHECK(d.loc == at(3, 1, 2));
    REQUIRE(d.notes.size() == 1);
    CHECK(d.notes[0].message == "previous definition is here");
    CHECK(d.notes[0].loc == at(2, 1, 2));
  }
  {
    auto d = error("input x : f16[3]\n");
    CHECK(d.id == "type");
    CHECK(d.message == "unknown element type 'f16'; kiln supports f32, f64 and i32");
    CHECK(d.loc == at(1, 11, 14));
  }
  {
    auto d = error("input labels : i32[batch]\nz = labels + 1\n");
    CHECK(d.id == "type");
    CHECK(d.loc == at(2, 5, 15));
  }
  {
    auto d = error("input x : f32[batch, 4]\nbad = reshape(x, [3, 5])\n");
    CHECK(d.id == "shape");
    CHECK(d.message == "cannot reshape f32[32,4] (128 elements) to [3,5] (15 elements)");
    CHECK(d.loc == at(2, 7, 25));
  }
  {
    auto d = error("param w : f32[3] = normal(0, -1)\n");
    CHECK(d.id == "init");
    CHECK(d.message == "normal's std must be positive, got -1");
    CHECK(d.loc == at(1, 20, 33));
  }
  {
    auto d = error("input x : f32[batch, 3]\nparam w : f32[3, 2] = zeros\nh = x @ w\ntrain {\n  minimize h\n}\n");
    CHECK(d.id == "shape");
    CHECK(d.message == "the minimised loss must be a scalar, but 'h' has type f32[32,2]; reduce it with mean(...)");
    CHECK(d.loc == at(5, 12, 13));
  }
  {
    auto d = error("input x : f32[batch, 3]\nparam w : f32[3] = zeros\nloss = mean(x @ w)\n"
                   "train {\n  minimize loss\n  optimizer = sgd(lr = 0.1, momentum = 1.5)\n}\n");
    CHECK(d.id == "train");
    CHECK(d.message == "sgd's momentum must be in [0, 1), got 1.5");
    CHECK(d.loc == at(6, 40, 43));
  }
  {  // an error inside a fn body: located in the body, with a note at the call
    auto d = error("input x : f32[batch, 3]\nparam w : f32[4, 2] = zeros\nfn lin(a, b) = a @ b\ny = lin(x, w)\n");
    CHECK(d.loc == at(3, 16, 21));
    REQUIRE(d.notes.size() == 3);
    CHECK(d.notes[2].message == "in the expansion of 'lin' called here");
    CHECK(d.notes[2].loc == at(4, 5, 14));
  }
}

TEST_CASE("lowering from text: fn definitions are checked once", "[lower]") {
  auto c = compile("input x : f32[3]\nfn f(v) = f(v) + undefined_thing\ny = f(x)\nz = f(x)\n");
  INFO(c.diags->render_all());
  CHECK_FALSE(c.g);
  REQUIRE(c.diags->error_count() == 2);  // not repeated at each call
  CHECK(c.diags->all()[0].message == "'f' calls itself; a fn is expanded inline, so it cannot be recursive");
  CHECK(c.diags->all()[0].loc == at(2, 11, 12));
  CHECK(c.diags->all()[1].message == "use of undefined name 'undefined_thing'");
}

TEST_CASE("lowering from text: several errors, no cascades", "[lower]") {
  auto c = compile("input x : f32[batch, 3]\nparam w : f32[4, 2] = zeros\nh = relu(x @ w)\no = sigmoid(h) + h\n"
                   "q = exp(nope)\nr = q * 2\ntrain { minimize sum(o); epochs = 0 }\n");
  INFO(c.diags->render_all());
  CHECK_FALSE(c.g);
  REQUIRE(c.diags->error_count() == 3);  // the matmul, 'nope', epochs = 0
  CHECK(c.diags->all()[0].id == "shape");
  CHECK(c.diags->all()[1].id == "undefined");
  CHECK(c.diags->all()[2].message == "epochs must be from 1 to 1000000, got 0");
}

TEST_CASE("lowering from text: a multi-class model and every train setting", "[lower]") {
  auto c = compile(R"(model iris
dim classes = 3
input x : f32[batch, 4] normalize
input labels : i32[batch]
param w : f32[4, classes] = glorot_normal
param b : f32[classes] = constant(0.1)
const scale : f32 = 0.5
fn affine(v) = v @ w + b
logits = affine(x) * scale
loss = mean(softmax_cross_entropy(logits, labels)) + 1e-4 * sum(square(w))
output probs = softmax(logits)
output cls = argmax(logits, axis = 1)
train {
  minimize loss
  optimizer = sgd(lr = 0.1, momentum = 0.9, nesterov = true)
  schedule = exponential_decay(rate = 0.96, every = 100)
  clip_norm = 5.0
  epochs = 20
  seed = 1234
  metric accuracy = mean(argmax(logits, axis=1) == labels)
  metric nll = mean(-sum(one_hot(labels, classes) * log_softmax(logits), axis = 1))
}
)",
                   LowerOptions{8});
  INFO(c.diags->render_all());
  REQUIRE(c.g);
  const Graph& g = *c.g;
  CHECK(g.model_name == "iris");
  CHECK(g.batch == 8);
  CHECK(g[g.params[1]].attrs.init == Init{InitKind::constant, 0.1, 0, {}});
  CHECK(g[g.consts[0]].shape.empty());
  CHECK(g[named(g, "logits")].shape == Shape{8, 3});
  REQUIRE(g.outputs.size() == 2);
  CHECK(g[g.outputs[1].second].dtype == DType::i32);
  CHECK(g[g.outputs[1].second].shape == Shape{8});
  const TrainConfig& t = g.train;
  CHECK(t.optimizer.kind == kiln::OptimizerKind::sgd);
  CHECK(t.optimizer.momentum == 0.9);
  CHECK(t.optimizer.nesterov);
  CHECK(t.schedule.kind == kiln::ScheduleKind::exponential_decay);
  CHECK(t.schedule.rate == 0.96);
  CHECK(t.schedule.every == 100);
  CHECK(t.schedule.loc == at(16, 3, 57));
  CHECK(t.clip_norm == 5.0);
  CHECK(t.epochs == 20);
  CHECK(t.seed == 1234);
  REQUIRE(t.metrics.size() == 2);
  CHECK(g[t.metrics[0].second].dtype == DType::f32);
  CHECK(g[t.metrics[1].second].shape.empty());

  auto cos = compile("input x : f32[batch]\nloss = sum(x)\ntrain { minimize loss; schedule = cosine(total = 500) }\n");
  REQUIRE(cos.g);
  CHECK(cos.g->train.schedule.kind == kiln::ScheduleKind::cosine);
  CHECK(cos.g->train.schedule.total == 500);

  auto bare = compile("input x : f32[batch]\nloss = sum(x)\ntrain { minimize loss; schedule = cosine }\n");
  CHECK_FALSE(bare.g);
  CHECK(bare.diags->render_all().find("'cosine' needs arguments: cosine(total)") != std::string::npos);
  auto zero = compile("input x : f32[batch]\nloss = sum(x)\ntrain { minimize loss; schedule = cosine(total = 0) }\n");
  CHECK_FALSE(zero.g);
  CHECK(zero.diags->render_all().find("cosine's total must be at least 1, got 0") != std::string::npos);
}

TEST_CASE("lowering from text: failed declarations poison their uses", "[lower]") {
  auto c = compile("input x : f16[batch, 3]\nparam w : f32[3, hiden] = zeros\ndim hidden = 4\n"
                   "h = x @ w\no = relu(h) + x\n");
  INFO(c.diags->render_all());
  CHECK_FALSE(c.g);
  REQUIRE(c.diags->error_count() == 2);
  CHECK(c.diags->all()[0].id == "type");
  CHECK(c.diags->all()[1].message == "use of undefined dim 'hiden'; did you mean 'hidden'?");
  CHECK(c.diags->all()[1].loc == at(2, 18, 23));
}

TEST_CASE("lowering from text: mutated programs give a graph or located errors", "[lower]") {
  // Deterministic mutations of the breast_cancer example: swap a word for another word of
  // the file, or drop a line. Every outcome is a graph without errors, or errors that all
  // carry a source location.
  std::string base = kBreastCancer;
  std::vector<std::string> words;
  for (size_t i = 0; i < base.size();) {
    if (std::isalpha(static_cast<unsigned char>(base[i])) || base[i] == '_') {
      size_t j = i;
      while (j < base.size() && (std::isalnum(static_cast<unsigned char>(base[j])) || base[j] == '_')) ++j;
      words.push_back(base.substr(i, j - i));
      i = j;
    } else {
      ++i;
    }
  }
  uint64_t state = 12345;
  auto next = [&](uint64_t n) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (state >> 33) % n;
  };
  int graphs = 0, failures = 0;
  for (int round = 0; round < 300; ++round) {
    std::string text = base;
    for (int k = 0; k < 2; ++k) {
      if (next(3) == 0) {  // drop a line
        size_t start = 0;
        for (uint64_t line = next(28); line > 0 && start != std::string::npos; --line) start = text.find('\n', start + 1);
        if (start == std::string::npos) continue;
        size_t end = text.find('\n', start + 1);
        text.erase(start, end == std::string::npos ? std::string::npos : end - start);
      } else {  // replace one occurrence of a word by another word
        const std::string& from = words[next(words.size())];
        const std::string& to = words[next(words.size())];
        size_t at_ = text.find(from, next(text.size()));
        if (at_ == std::string::npos) at_ = text.find(from);
        if (at_ != std::string::npos) text.replace(at_, from.size(), to);
      }
    }
    auto c = compile(text);
    INFO(text << "\n" << c.diags->render_all());
    CHECK(c.g.has_value() == !c.diags->has_errors());
    for (auto& d : c.diags->all()) CHECK(d.loc.valid());
    (c.g ? graphs : failures)++;
  }
  CHECK(graphs > 0);
  CHECK(failures > 0);
}
