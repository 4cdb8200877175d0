// Tests of the semantic lowering (AST -> IR graph) on hand-built ASTs: names, fns, dims,
// types, initialisers, shape/type errors with their locations, and the train block.
#include "frontend/lower.hpp"
#include <catch2/catch.hpp>

using namespace kiln;
namespace x3 = boost::spirit::x3;

namespace {

// ---- AST builders ----------------------------------------------------------------------
ast::Identifier id(std::string n) {
  ast::Identifier i;
  i.name = std::move(n);
  return i;
}
ast::Operand num(std::string t) {
  ast::Number n;
  n.text = std::move(t);
  return ast::Operand(n);
}
ast::Operand name(std::string n) { return ast::Operand(id(std::move(n))); }
ast::Expression ex(ast::Operand first, std::vector<std::pair<std::string, ast::Operand>> rest = {}) {
  ast::Expression e;
  e.first = std::move(first);
  for (auto& [op, o] : rest) {
    ast::Operation p;
    p.op = op;
    p.operand = std::move(o);
    e.rest.push_back(std::move(p));
  }
  return e;
}
ast::Operand paren(ast::Expression e) { return ast::Operand(x3::forward_ast<ast::Expression>(std::move(e))); }
ast::Operand bin(ast::Operand a, std::string op, ast::Operand b) { return paren(ex(std::move(a), {{op, std::move(b)}})); }
ast::Argument arg(ast::Operand v) {
  ast::Argument a;
  a.value = ex(std::move(v));
  return a;
}
ast::Argument kw(std::string k, ast::Operand v) {
  ast::Argument a = arg(std::move(v));
  a.keyword = id(std::move(k));
  return a;
}
ast::Operand call(std::string f, std::vector<ast::Argument> args = {}) {
  ast::Call c;
  c.callee = id(std::move(f));
  c.args = std::move(args);
  return ast::Operand(x3::forward_ast<ast::Call>(std::move(c)));
}
ast::Operand neg(ast::Operand o) {
  ast::Unary u;
  u.operand = std::move(o);
  return ast::Operand(x3::forward_ast<ast::Unary>(std::move(u)));
}
ast::Operand list(std::vector<ast::Operand> items) {
  ast::ListLiteral l;
  for (auto& i : items) l.items.push_back(ex(std::move(i)));
  return ast::Operand(x3::forward_ast<ast::ListLiteral>(std::move(l)));
}
ast::TypeSpec type(std::string elem, std::vector<std::string> dims = {}) {
  ast::TypeSpec t;
  t.elem = id(std::move(elem));
  for (auto& d : dims) {
    ast::Dim x;
    x.text = d;
    t.dims.push_back(x);
  }
  return t;
}

struct Prog {
  ast::Program p;
  Prog& model(std::string n) {
    ast::ModelDecl d;
    d.name = id(std::move(n));
    p.statements.emplace_back(d);
    return *this;
  }
  Prog& dim(std::string n, std::string v) {
    ast::DimDecl d;
    d.name = id(std::move(n));
    d.value.text = std::move(v);
    p.statements.emplace_back(d);
    return *this;
  }
  Prog& input(std::string n, ast::TypeSpec t, bool normalize = false) {
    ast::InputDecl d;
    d.name = id(std::move(n));
    d.type = std::move(t);
    d.normalize = normalize;
    p.statements.emplace_back(d);
    return *this;
  }
  Prog& leaf(std::string kind, std::string n, ast::TypeSpec t, ast::Operand init) {
    ast::ParamDecl d;
    d.kind = std::move(kind);
    d.name = id(std::move(n));
    d.type = std::move(t);
    d.init = ex(std::move(init));
    p.statements.emplace_back(d);
    return *this;
  }
  Prog& param(std::string n, ast::TypeSpec t, ast::Operand init) { return leaf("param", n, t, init); }
  Prog& constant(std::string n, ast::TypeSpec t, ast::Operand init) { return leaf("const", n, t, init); }
  Prog& fn(std::string n, std::vector<std::string> params, ast::Expression body) {
    ast::FnDecl d;
    d.name = id(std::move(n));
    for (auto& p : params) d.params.push_back(id(p));
    d.body = std::move(body);
    p.statements.emplace_back(d);
    return *this;
  }
  Prog& let(std::string n, ast::Expression e) {
    ast::Binding b;
    b.name = id(std::move(n));
    b.value = std::move(e);
    p.statements.emplace_back(b);
    return *this;
  }
  Prog& let(std::string n, ast::Operand o) { return let(std::move(n), ex(std::move(o))); }
  Prog& output(std::string n, ast::Operand o) {
    ast::OutputDecl d;
    d.name = id(std::move(n));
    d.value = ex(std::move(o));
    p.statements.emplace_back(d);
    return *this;
  }
  ast::TrainBlock* train_block = nullptr;
  Prog& train() {
    p.statements.emplace_back(ast::TrainBlock{});
    return *this;
  }
  ast::TrainBlock& tb() { return boost::get<ast::TrainBlock>(p.statements.back().get()); }
  Prog& minimize(ast::Operand o) {
    ast::Minimize m;
    m.value = ex(std::move(o));
    tb().items.emplace_back(m);
    return *this;
  }
  Prog& set(std::string key, ast::Operand o) {
    ast::Setting s;
    s.key = id(std::move(key));
    s.value = ex(std::move(o));
    tb().items.emplace_back(s);
    return *this;
  }
  Prog& metric(std::string n, ast::Operand o) {
    ast::MetricDecl m;
    m.name = id(std::move(n));
    m.value = ex(std::move(o));
    tb().items.emplace_back(m);
    return *this;
  }
};

struct Result {
  std::optional<Graph> g;
  Diagnostics diags;
};

Result lower(const Prog& prog, LowerOptions opts = {}) {
  static SourceFile file("models/test.model", "");
  Parsed parsed{prog.p, Positions(&file)};
  Result r;
  r.g = lower_model(parsed, file, r.diags, opts);
  return r;
}

Diagnostic only_error(const Result& r) {
  INFO(r.diags.render_all());
  REQUIRE(r.diags.error_count() == 1);
  for (auto& d : r.diags.all())
    if (d.severity == Severity::error) return d;
  FAIL("no error");
  return r.diags.all().front();
}

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

Prog dense_model() {
  Prog p;
  p.input("x", type("f32", {"batch", "4"}))
      .param("w", type("f32", {"4", "3"}), name("glorot_uniform"))
      .param("b", type("f32", {"3"}), name("zeros"));
  return p;
}

}  // namespace

TEST_CASE("lowering leaves, dims and batch", "[lower]") {
  Prog p;
  p.model("tiny").dim("hidden", "8").input("x", type("f32", {"batch", "hidden"}), true)
      .input("labels", type("i32", {"batch"}))
      .param("w", type("f64", {"hidden", "2"}), call("normal", {arg(num("0")), arg(num("0.5"))}))
      .constant("k", type("f32", {"2", "2"}), list({list({num("1"), num("2")}), list({num("3"), neg(num("4"))})}))
      .constant("c", type("f32", {"3"}), num("7"));
  auto r = lower(p);
  INFO(r.diags.render_all());
  REQUIRE(r.g);
  const Graph& g = *r.g;
  CHECK(g.model_name == "tiny");
  CHECK(g.batch == 32);
  REQUIRE(g.inputs.size() == 2);
  CHECK(g[g.inputs[0]].shape == Shape{32, 8});
  CHECK(g[g.inputs[0]].attrs.normalize);
  CHECK(g[g.inputs[1]].dtype == DType::i32);
  REQUIRE(g.params.size() == 1);
  const Node& w = g[g.params[0]];
  CHECK(w.name == "w");
  CHECK(w.dtype == DType::f64);
  CHECK(w.shape == Shape{8, 2});
  CHECK(w.attrs.init == Init{InitKind::normal, 0, 0.5, {}});
  REQUIRE(g.consts.size() == 2);
  CHECK(g[g.consts[0]].attrs.init.kind == InitKind::literal);
  CHECK(g[g.consts[0]].attrs.init.data == std::vector<double>{1, 2, 3, -4});
  CHECK(g[g.consts[1]].attrs.init == Init{InitKind::constant, 7, 0, {}});
  CHECK_FALSE(g.train.present);

  auto r2 = lower(p, LowerOptions{128});
  REQUIRE(r2.g);
  CHECK(r2.g->batch == 128);
  CHECK(r2.g->nodes[r2.g->inputs[0]].shape == Shape{128, 8});

  Prog q;
  q.dim("batch", "64").input("x", type("f32", {"batch", "2"}));
  auto r3 = lower(q);
  REQUIRE(r3.g);
  CHECK(r3.g->batch == 64);
  CHECK(r3.g->model_name == "test");  // the file's stem
  CHECK(lower(q, LowerOptions{16}).g->batch == 16);
}

TEST_CASE("lowering expressions: precedence, fn inlining, literals", "[lower]") {
  Prog p = dense_model();
  // fn dense(v, w, b) = v @ w + b ; h = relu(dense(x, w, b)) ; s = mean(h * 2 + 1)
  p.fn("dense", {"v", "w", "b"}, ex(name("v"), {{"@", name("w")}, {"+", name("b")}}))
      .let("h", call("relu", {arg(call("dense", {arg(name("x")), arg(name("w")), arg(name("b"))}))}))
      .let("s", call("mean", {arg(bin(bin(name("h"), "*", num("2")), "+", num("1")))}))
      .output("y", name("h"));
  auto r = lower(p);
  INFO(r.diags.render_all());
  REQUIRE(r.g);
  const Graph& g = *r.g;
  NodeId h = named(g, "h");
  CHECK(g[h].op == Op::relu);
  CHECK(g[h].shape == Shape{32, 3});
  NodeId add = g[h].in[0];
  CHECK(g[add].op == Op::add);
  CHECK(g[g[add].in[0]].op == Op::matmul);  // @ binds tighter than +
  CHECK(g[g[add].in[1]].name == "b");
  NodeId s = named(g, "s");
  CHECK(g[s].op == Op::mean);
  CHECK(g[s].shape.empty());
  CHECK(count_op(g, Op::literal) == 2);
  REQUIRE(g.outputs.size() == 1);
  CHECK(g.outputs[0] == std::pair<std::string, NodeId>{"y", h});

  // Calling the fn twice expands it twice.
  Prog q = dense_model();
  q.fn("dense", {"v", "w", "b"}, ex(name("v"), {{"@", name("w")}, {"+", name("b")}}))
      .let("a", call("dense", {arg(name("x")), arg(name("w")), arg(name("b"))}))
      .let("c", call("dense", {arg(name("x")), kw("b", name("b")), kw("w", name("w"))}));
  auto rq = lower(q);
  REQUIRE(rq.g);
  CHECK(count_op(*rq.g, Op::matmul) == 2);

  // Precedence on a flat chain: 2 ^ 3 ^ 2 = 512 (right-assoc), 1 + 2 * 3 = 7; folded.
  Prog f;
  f.input("x", type("f64", {"3"}))
      .let("e", ex(name("x"), {{"*", num("2")}, {"^", num("3")}, {"^", num("2")}}))
      .let("k", ex(name("x"), {{"+", name("x")}, {"*", num("3")}}));
  auto rf = lower(f);
  REQUIRE(rf.g);
  const Graph& gf = *rf.g;
  NodeId e = named(gf, "e");
  REQUIRE(gf[e].op == Op::mul);
  const Node& lit = gf[gf[e].in[1]];
  CHECK(lit.op == Op::literal);  // x * (2 ^ (3 ^ 2)): the constant part folds to 512
  CHECK(lit.attrs.init.data == std::vector<double>{512});
  CHECK(lit.dtype == DType::f64);  // numbers take the other operand's dtype
  NodeId k = named(gf, "k");
  CHECK(gf[k].op == Op::add);
  CHECK(gf[gf[k].in[1]].op == Op::mul);
}

TEST_CASE("lowering calls: axes, keepdims, reshape, concat, one_hot, losses", "[lower]") {
  Prog p;
  p.dim("classes", "5").input("x", type("f32", {"batch", "6"})).input("labels", type("i32", {"batch"}))
      .let("r", call("sum", {arg(name("x")), kw("axis", num("1")), kw("keepdims", name("true"))}))
      .let("r2", call("max", {arg(name("x")), arg(list({num("0"), num("1")}))}))
      .let("t", call("transpose", {arg(name("x"))}))
      .let("rs", call("reshape", {arg(name("x")), arg(list({name("batch"), num("3"), neg(num("1"))}))}))
      .let("cc", call("concat", {arg(list({name("x"), name("x")})), kw("axis", num("1"))}))
      .let("oh", call("one_hot", {arg(name("labels")), arg(name("classes"))}))
      .let("sm", call("log_softmax", {arg(name("x"))}))
      .let("am", call("argmax", {arg(name("x")), kw("axis", num("1"))}))
      .let("acc", call("mean", {arg(bin(name("am"), "==", name("labels")))}))
      .let("lr", call("leaky_relu", {arg(name("x")), kw("alpha", num("0.2"))}))
      .let("cl", call("clip", {arg(name("x")), arg(num("0")), arg(num("1"))}))
      .let("hb", call("huber", {arg(name("x")), arg(name("x")), kw("delta", num("2"))}))
      .let("sce", call("softmax_cross_entropy", {arg(name("oh")), arg(name("labels"))}));
  auto r = lower(p, LowerOptions{10});
  INFO(r.diags.render_all());
  REQUIRE(r.g);
  const Graph& g = *r.g;
  CHECK(g[named(g, "r")].shape == Shape{10, 1});
  CHECK(g[named(g, "r2")].shape.empty());
  CHECK(g[named(g, "t")].shape == Shape{6, 10});
  CHECK(g[named(g, "rs")].shape == Shape{10, 3, 2});
  CHECK(g[named(g, "cc")].shape == Shape{10, 12});
  CHECK(g[named(g, "oh")].shape == Shape{10, 5});
  CHECK(g[named(g, "sm")].attrs.axes == std::vector<int64_t>{-1});
  CHECK(g[named(g, "am")].dtype == DType::i32);
  CHECK(g[named(g, "acc")].dtype == DType::f32);
  CHECK(g[named(g, "lr")].attrs.alpha == 0.2);
  CHECK(g[named(g, "cl")].op == Op::clip);
  CHECK(g[named(g, "hb")].attrs.alpha == 2);
  CHECK(g[named(g, "sce")].shape == Shape{10});
  CHECK(g[g[named(g, "cl")].in[1]].op == Op::literal);
}

TEST_CASE("lowering reports undefined and redefined names", "[lower]") {
  {
    Prog p;
    p.input("foo1", type("f32", {"3"})).let("h", call("relu", {arg(name("foo"))}));
    auto d = only_error(lower(p));
    CHECK(d.id == "undefined");
    CHECK(d.message == "use of undefined name 'foo'; did you mean 'foo1'?");
  }
  {
    Prog p;
    p.input("x", type("f32", {"3"})).let("h", call("reluu", {arg(name("x"))}));
    auto d = only_error(lower(p));
    CHECK(d.id == "undefined");
    CHECK(d.message == "unknown function 'reluu'; did you mean 'relu'?");
  }
  {
    Prog p;
    p.input("x", type("f32", {"3"})).let("h", name("x")).let("h", call("exp", {arg(name("x"))}));
    auto d = only_error(lower(p));
    CHECK(d.id == "redefined");
    CHECK(d.message == "redefinition of 'h'");
    REQUIRE(d.notes.size() == 1);
    CHECK(d.notes[0].message == "previous definition is here");
  }
  {
    Prog p;
    p.input("x", type("f32", {"3"})).let("relu", name("x"));
    CHECK(only_error(lower(p)).id == "redefined");
  }
  {  // use before definition; the failed binding does not cascade into later uses
    Prog p;
    p.input("x", type("f32", {"3"})).let("a", bin(name("b"), "+", name("x"))).let("b", name("x"))
        .let("c", call("exp", {arg(name("a"))}));
    auto d = only_error(lower(p));
    CHECK(d.message == "use of 'b' before its definition");
  }
  {  // a fn may only call earlier fns
    Prog p;
    p.input("x", type("f32", {"3"})).fn("f", {"v"}, ex(call("g", {arg(name("v"))})))
        .fn("g", {"v"}, ex(name("v"))).let("y", call("f", {arg(name("x"))}));
    auto d = only_error(lower(p));
    CHECK(d.id == "undefined");
    CHECK(d.message == "use of 'g' before its definition");
  }
  {  // wrong argument count for a fn
    Prog p;
    p.input("x", type("f32", {"3"})).fn("f", {"a", "b"}, ex(name("a"), {{"+", name("b")}}))
        .let("y", call("f", {arg(name("x"))}));
    auto d = only_error(lower(p));
    CHECK(d.id == "call");
    CHECK(d.message == "missing argument 'b' in the call to 'f': f(a, b)");
  }
  {  // several independent errors are all reported
    Prog p;
    p.input("x", type("f32", {"3"})).let("a", name("y1")).let("b", name("y2"));
    auto r = lower(p);
    CHECK_FALSE(r.g);
    CHECK(r.diags.error_count() == 2);
  }
}

TEST_CASE("lowering reports type errors", "[lower]") {
  {
    Prog p;
    p.input("x", type("f16", {"3"}));
    auto d = only_error(lower(p));
    CHECK(d.id == "type");
    CHECK(d.message == "unknown element type 'f16'; kiln supports f32, f64 and i32");
  }
  {
    Prog p;
    p.input("labels", type("i32", {"batch"})).let("h", bin(name("labels"), "*", num("2")));
    auto d = only_error(lower(p));
    CHECK(d.id == "type");
    CHECK(d.message.find("expected a floating-point operand, got i32[32]") == 0);
    REQUIRE(d.notes.size() == 2);
    CHECK(d.notes[0].message == "left operand has type i32[32]");
    CHECK(d.notes[1].message == "right operand has type i32");
  }
  {
    Prog p;
    p.param("w", type("i32", {"3"}), name("zeros"));
    CHECK(only_error(lower(p)).id == "type");
  }
  {
    Prog p;
    p.input("a", type("f32", {"3"})).input("b", type("f64", {"3"})).let("c", bin(name("a"), "+", name("b")));
    CHECK(only_error(lower(p)).id == "type");
  }
}

TEST_CASE("lowering classifies rule errors as type or shape", "[lower]") {
  auto id_of = [](ast::Operand o) {
    Prog p;
    p.input("a", type("f32", {"batch", "3"})).input("b", type("f32", {"batch", "4"}))
        .input("c", type("f64", {"batch", "3"})).input("labels", type("i32", {"batch"}))
        .input("wrong", type("i32", {"batch", "1"})).let("r", std::move(o));
    auto r = lower(p);
    INFO(r.diags.render_all());
    REQUIRE(r.diags.error_count() == 1);
    return r.diags.all()[0].id;
  };
  CHECK(id_of(call("concat", {arg(list({name("a"), name("b")}))})) == "shape");
  CHECK(id_of(call("concat", {arg(list({name("a"), name("c")})), kw("axis", num("1"))})) == "type");
  CHECK(id_of(call("one_hot", {arg(name("a")), arg(num("3"))})) == "type");
  CHECK(id_of(call("softmax_cross_entropy", {arg(name("a")), arg(name("wrong"))})) == "shape");
  CHECK(id_of(call("softmax_cross_entropy", {arg(name("a")), arg(name("c"))})) == "type");
  CHECK(id_of(call("exp", {arg(name("labels"))})) == "type");
  CHECK(id_of(bin(name("a"), "<", name("labels"))) == "type");
  CHECK(id_of(bin(name("a"), "<", name("b"))) == "shape");
  CHECK(id_of(call("sum", {arg(name("a")), kw("axis", num("2"))})) == "shape");
}

TEST_CASE("lowering reports shape errors with operand notes", "[lower]") {
  {
    Prog p;
    p.input("x", type("f32", {"batch", "4"})).param("w", type("f32", {"5", "3"}), name("he_normal"))
        .let("h", bin(name("x"), "@", name("w")));
    auto d = only_error(lower(p));
    CHECK(d.id == "shape");
    CHECK(d.message == "cannot multiply f32[32,4] by f32[5,3]: inner dimensions 4 and 5 differ");
    REQUIRE(d.notes.size() == 2);
    CHECK(d.notes[0].message == "left operand has type f32[32,4]");
    CHECK(d.notes[1].message == "right operand has type f32[5,3]");
  }
  {
    Prog p;
    p.input("x", type("f32", {"batch", "4"})).input("y", type("f32", {"3"})).let("h", bin(name("x"), "+", name("y")));
    auto d = only_error(lower(p));
    CHECK(d.id == "shape");
    CHECK(d.message == "shapes f32[32,4] and f32[3] cannot be broadcast together");
  }
  {
    Prog p;
    p.input("x", type("f32", {"batch", "4"})).let("h", call("reshape", {arg(name("x")), arg(list({num("5")}))}));
    auto d = only_error(lower(p));
    CHECK(d.id == "shape");
    CHECK(d.message == "cannot reshape f32[32,4] (128 elements) to [5] (5 elements)");
    REQUIRE(d.notes.size() == 1);
    CHECK(d.notes[0].message == "the argument has type f32[32,4]");
  }
  {  // an error inside a fn body names the call it was expanded from; no cascade
    Prog p = dense_model();
    p.input("z", type("f32", {"batch", "7"}))
        .fn("dense", {"v", "w", "b"}, ex(name("v"), {{"@", name("w")}, {"+", name("b")}}))
        .let("h", call("dense", {arg(name("z")), arg(name("w")), arg(name("b"))}))
        .let("o", call("sigmoid", {arg(name("h"))}));
    auto d = only_error(lower(p));
    CHECK(d.message == "cannot multiply f32[32,7] by f32[4,3]: inner dimensions 7 and 4 differ");
    REQUIRE(d.notes.size() == 3);
    CHECK(d.notes[2].message == "in the expansion of 'dense' called here");
  }
  {  // @ with vectors follows NumPy
    Prog p;
    p.input("v", type("f32", {"4"})).input("m", type("f32", {"4", "3"}))
        .let("a", bin(name("v"), "@", name("m"))).let("b", bin(name("v"), "@", name("v")));
    auto r = lower(p);
    REQUIRE(r.g);
    CHECK(r.g->nodes[named(*r.g, "a")].shape == Shape{3});
    CHECK(r.g->nodes[named(*r.g, "b")].shape.empty());
  }
}

TEST_CASE("lowering validates initialisers", "[lower]") {
  auto init_error = [](ast::Operand init, ast::TypeSpec t = type("f32", {"3", "2"})) {
    Prog p;
    p.param("w", std::move(t), std::move(init));
    auto r = lower(p);
    INFO(r.diags.render_all());
    REQUIRE(r.diags.error_count() == 1);
    CHECK(r.diags.all()[0].id == "init");
    return r.diags.all()[0].message;
  };
  CHECK(init_error(name("he_norml")) == "unknown initialiser 'he_norml'; did you mean 'he_normal'?");
  CHECK(init_error(name("normal")) == "'normal' needs 2 arguments: normal(mean, std)");
  CHECK(init_error(call("normal", {arg(num("0")), arg(num("0"))})) == "normal's std must be positive, got 0");
  CHECK(init_error(call("uniform", {arg(num("1")), arg(neg(num("1")))})) ==
        "uniform needs lo < hi, got lo = 1 and hi = -1");
  CHECK(init_error(call("constant", {})) == "missing argument 'value' in the call to 'constant': constant(value)");
  CHECK(init_error(call("zeros", {arg(num("1"))})) == "'zeros' takes 0 arguments, but 1 were given: zeros()");
  CHECK(init_error(list({num("1"), num("2")})) == "the literal has shape [2] but 'w' is declared f32[3,2]");
  CHECK(init_error(list({list({num("1")}), list({num("1"), num("2")})})) ==
        "the initial value of 'w': the rows of a list literal must have one length");
  CHECK(init_error(name("glorot_uniform"), type("f32")) ==
        "glorot_uniform scales by the fan-in, which a scalar does not have; 'w' is f32: use zeros, constant(v) or "
        "normal(mean, std)");
}

TEST_CASE("lowering the train block", "[lower]") {
  Prog p = dense_model();
  p.input("y", type("f32", {"batch", "3"}))
      .let("z", bin(name("x"), "@", name("w")))
      .let("loss", call("mean", {arg(call("squared_error", {arg(name("z")), arg(name("y"))}))}))
      .train()
      .minimize(name("loss"))
      .set("optimizer", call("adamw", {kw("lr", num("0.003")), kw("beta2", num("0.99"))}))
      .set("schedule", call("step_decay", {kw("rate", num("0.5")), kw("every", num("10"))}))
      .set("clip_norm", num("5"))
      .set("epochs", num("30"))
      .set("seed", num("7"))
      .metric("mse", call("mean", {arg(call("square", {arg(bin(name("z"), "-", name("y")))}))}));
  auto r = lower(p);
  INFO(r.diags.render_all());
  REQUIRE(r.g);
  const TrainConfig& t = r.g->train;
  CHECK(t.present);
  REQUIRE(t.minimize);
  CHECK(*t.minimize == named(*r.g, "loss"));
  CHECK(t.optimizer.kind == kiln::OptimizerKind::adamw);
  CHECK(t.optimizer.lr == 0.003);
  CHECK(t.optimizer.beta2 == 0.99);
  CHECK(t.optimizer.weight_decay == 0.01);
  CHECK(t.optimizer.eps == 1e-8);
  CHECK(t.schedule.kind == kiln::ScheduleKind::step_decay);
  CHECK(t.schedule.rate == 0.5);
  CHECK(t.schedule.every == 10);
  CHECK(t.clip_norm == 5.0);
  CHECK(t.epochs == 30);
  CHECK(t.seed == 7);
  REQUIRE(t.metrics.size() == 1);
  CHECK(t.metrics[0].first == "mse");

  // Defaults: rmsprop eps 1e-7, lr 0.01 when absent.
  Prog q = dense_model();
  q.let("loss", call("sum", {arg(name("x"))})).train().minimize(name("loss")).set("optimizer", name("rmsprop"));
  auto rq = lower(q);
  REQUIRE(rq.g);
  CHECK(rq.g->train.optimizer.kind == kiln::OptimizerKind::rmsprop);
  CHECK(rq.g->train.optimizer.eps == 1e-7);
  CHECK(rq.g->train.optimizer.rho == 0.9);
  CHECK(rq.g->train.optimizer.lr == 0.01);
}

TEST_CASE("lowering reports train block errors", "[lower]") {
  auto train_error = [](auto&& add) {
    Prog p = dense_model();
    p.let("h", bin(name("x"), "@", name("w"))).let("loss", call("mean", {arg(name("h"))})).train();
    add(p);
    auto r = lower(p);
    INFO(r.diags.render_all());
    REQUIRE(r.diags.error_count() == 1);
    return r.diags.all()[0];
  };
  auto d = train_error([](Prog& p) { p.minimize(name("h")); });
  CHECK(d.id == "shape");
  CHECK(d.message == "the minimised loss must be a scalar, but 'h' has type f32[32,3]; reduce it with mean(...)");
  d = train_error([](Prog& p) { p.minimize(name("loss")).set("optimizer", call("adam", {kw("lr", neg(num("1")))})); });
  CHECK(d.id == "train");
  CHECK(d.message == "adam's lr must be positive, got -1");
  d = train_error([](Prog& p) { p.minimize(name("loss")).set("optimizer", call("adam", {kw("momentum", num("0.9"))})); });
  CHECK(d.id == "train");
  CHECK(d.message == "'adam' has no argument named 'momentum'");
  d = train_error([](Prog& p) { p.minimize(name("loss")).set("optimizer", name("adan")); });
  CHECK(d.message == "unknown optimizer 'adan'; did you mean 'adam'? the optimizers are sgd, adam, adamw, rmsprop, "
                     "adagrad, e.g. optimizer = adam(lr = 0.01)");
  d = train_error([](Prog& p) { p.minimize(name("loss")).set("epochs", num("2.5")); });
  CHECK(d.message == "epochs must be an integer, got 2.5");
  d = train_error([](Prog& p) { p.minimize(name("loss")).set("epochs", num("3")).set("epochs", num("4")); });
  CHECK(d.message == "'epochs' is set twice in the train block");
  d = train_error([](Prog& p) { p.minimize(name("loss")).set("lr", num("3")); });
  CHECK(d.message == "unknown train setting 'lr'");
  d = train_error([](Prog& p) { p.set("epochs", num("3")); });
  CHECK(d.message == "the train block needs 'minimize LOSS', naming a scalar loss");
  d = train_error([](Prog& p) { p.minimize(name("loss")).metric("m", name("h")); });
  CHECK(d.id == "shape");
}

TEST_CASE("lowering never crashes on odd ASTs", "[lower]") {
  auto errors = [](const Prog& p) {
    auto r = lower(p);
    INFO(r.diags.render_all());
    CHECK_FALSE(r.g);
    return r.diags.all();
  };
  {
    Prog p;
    p.input("", type("f32", {""})).let("a", num("abc")).let("b", num("")).let("c", num("1e999"));
    auto ds = errors(p);
    CHECK(ds.size() == 4);  // the undefined dim and the three bad numbers
  }
  {
    Prog p;
    p.input("x", type("f32", {"3"})).let("a", ex(name("x"), {{"%", name("x")}}))
        .let("b", call("concat", {arg(name("x"))}))
        .let("c", call("reshape", {arg(name("x")), arg(num("3"))}))
        .let("d", call("sum", {arg(name("x")), kw("axis", name("x"))}))
        .let("e", call("sum", {arg(name("x")), kw("keepdims", num("2"))}))
        .let("f", call("softmax", {arg(name("x")), kw("axis", num("0.5"))}))
        .let("g", call("one_hot", {arg(name("x")), arg(num("0"))}))
        .let("h", call("relu", {kw("x", name("x")), arg(name("x"))}))
        .let("i", call("sum", {arg(name("x")), kw("axis", num("1")), kw("axis", num("0"))}))
        .let("j", list({name("x")}))
        .let("batch", name("x"))
        .let("k", call("reshape", {arg(name("x")), arg(list({num("1000000000000"), num("1000000000000")}))}))
        .let("l", call("one_hot", {arg(name("x")), arg(num("1e12"))}));
    auto ds = errors(p);
    REQUIRE(ds.size() == 13);
    CHECK(ds[0].id == "syntax");
    CHECK(ds[2].message == "reshape takes the new shape as a list: reshape(x, [a, b])");
    CHECK(ds[3].message == "sum's axis must be a constant number");
    CHECK(ds[4].message == "sum's keepdims must be true or false");
    CHECK(ds[5].message == "softmax's axis must be an integer, got 0.5");
    CHECK(ds[6].message == "one_hot needs a positive number of classes, got 0");
    CHECK(ds[7].message == "positional argument after a keyword argument in the call to 'relu'");
    CHECK(ds[8].message == "argument 'axis' of 'sum' is given twice");
    CHECK(ds[10].message == "'batch' is a predeclared dim (32); declare it with `dim batch = N` to change it");
    CHECK(ds[11].message ==
          "the reshape target [1000000000000,1000000000000] has 1e+24 elements, more than a tensor may hold (2^40 = "
          "1099511627776)");
    CHECK(ds[12].message == "one_hot's number of classes 1000000000000 is too large");
  }
  {  // exponential fn expansion stops at the node budget with one error
    Prog p;
    p.input("x", type("f32", {"2"})).fn("f0", {"v"}, ex(name("v"), {{"+", name("v")}}));
    for (int i = 1; i < 24; ++i) {
      std::string prev = "f" + std::to_string(i - 1);
      p.fn("f" + std::to_string(i), {"v"}, ex(call(prev, {arg(call(prev, {arg(name("v"))}))})));
    }
    p.let("y", call("f23", {arg(name("x"))}));
    auto ds = errors(p);
    REQUIRE(ds.size() == 1);
    CHECK(ds[0].id == "call");
  }
  {  // deep nesting stops at the depth limit
    ast::Operand o = name("x");
    for (int i = 0; i < 1000; ++i) o = call("exp", {arg(std::move(o))});
    Prog p;
    p.input("x", type("f32", {"2"})).let("y", std::move(o));
    auto ds = errors(p);
    REQUIRE(ds.size() == 1);
    CHECK(ds[0].message.find("nested more than") != std::string::npos);
  }
}
