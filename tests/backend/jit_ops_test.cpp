// Every op of the op table, JIT-compiled and compared with the reference interpreter
// (Precision::f32) on random operands of many shapes (vector-width remainders, broadcasting).
#include "backend/op_gens.hpp"
#include "jit_test_util.hpp"
#include <algorithm>
#include <chrono>
#include <fmt/format.h>
#include <functional>
#include <map>

using namespace kiln;
using namespace kiln::jit_test;

namespace {

const std::vector<Shape> kUnaryShapes = {{}, {1}, {7}, {3, 17}, {33, 5}, {2, 3, 7}, {16, 16}};
const std::vector<std::pair<Shape, Shape>> kBinaryShapes = {
    {{7}, {7}}, {{3, 17}, {17}}, {{5, 1}, {1, 33}}, {{}, {4, 3}}, {{2, 3, 4}, {3, 1}}, {{33}, {}}, {{1}, {1}},
    {{17, 16}, {17, 16}}, {{9, 1, 3}, {1, 5, 1}}};

// The operand domain of a unary op.
std::pair<double, double> unary_domain(Op op) {
  switch (op) {
    case Op::log: case Op::sqrt: case Op::rsqrt: return {0.05, 5};
    case Op::log1p: return {-0.9, 4};
    default: return {-4, 4};
  }
}

void unary_cases(Cases& c, Op op) {
  auto [lo, hi] = unary_domain(op);
  for (const Shape& s : kUnaryShapes) {
    Attrs a;
    a.alpha = op == Op::leaky_relu ? 0.1 : 0.7;
    NodeId x = (op == Op::round || op == Op::sign) ? c.integers(s, -6, 6) : c.uniform(s, lo, hi);
    if (op == Op::round) x = c.op(Op::mul, {x, c.lit({}, {0.5})});  // halves: round half to even
    c.out(c.op(op, {x}, a));
  }
  if (op == Op::stop_gradient) c.out(c.op(op, {c.integers({5}, 0, 9, DType::i32)}));
}

void binary_cases(Cases& c, Op op) {
  bool cmp = op >= Op::lt && op <= Op::ne;
  for (auto& [sa, sb] : kBinaryShapes) {
    NodeId a, b;
    if (cmp) {  // small integers: many equal pairs
      a = c.integers(sa, -2, 2);
      b = c.integers(sb, -2, 2);
    } else if (op == Op::pow) {
      a = c.uniform(sa, 0.1, 3);
      b = c.uniform(sb, -2, 2);
    } else if (op == Op::div) {
      a = c.uniform(sa, -3, 3);
      b = c.uniform(sb, 0.2, 3);
    } else {
      a = c.uniform(sa, -3, 3);
      b = c.uniform(sb, -3, 3);
    }
    c.out(c.op(op, {a, b}));
  }
  if (cmp) c.out(c.op(op, {c.integers({3, 7}, 0, 3, DType::i32), c.integers({7}, 0, 3, DType::i32)}));
}

void ternary_cases(Cases& c, Op op) {
  if (op == Op::clip) {
    c.out(c.op(op, {c.uniform({3, 17}, -3, 3), c.uniform({17}, -2, -0.5), c.uniform({}, 0.5, 2)}));
    c.out(c.op(op, {c.uniform({7}, -3, 3), c.uniform({}, -1, 0), c.uniform({}, 0, 1)}));
    c.out(c.op(op, {c.uniform({5, 1}, -3, 3), c.uniform({1, 9}, -2, -0.5), c.uniform({5, 9}, 0.5, 2)}));
  } else {
    c.out(c.op(op, {c.integers({3, 17}, 0, 1), c.uniform({17}, -3, 3), c.uniform({3, 1}, -3, 3)}));
    c.out(c.op(op, {c.integers({7}, 0, 2, DType::i32), c.uniform({7}, -3, 3), c.uniform({}, -3, 3)}));
    c.out(c.op(op, {c.integers({}, 0, 1), c.uniform({33}, -3, 3), c.uniform({33}, -3, 3)}));
  }
}

void matmul_cases(Cases& c, Op op) {
  const std::vector<std::array<int64_t, 3>> mkn = {{1, 1, 1}, {3, 7, 17}, {17, 33, 5}, {6, 16, 32}, {13, 300, 35},
                                                   {64, 64, 48}, {7, 5, 1}, {1, 9, 40}, {12, 520, 33}};
  for (auto [m, k, n] : mkn) c.out(c.op(op, {c.uniform({m, k}, -1, 1), c.uniform({k, n}, -1, 1)}));
  c.out(c.op(op, {c.uniform({7}, -1, 1), c.uniform({7, 17}, -1, 1)}));
  c.out(c.op(op, {c.uniform({5, 33}, -1, 1), c.uniform({33}, -1, 1)}));
  c.out(c.op(op, {c.uniform({17}, -1, 1), c.uniform({17}, -1, 1)}));
  // 2-D transposes are read in place: A^T, B^T, both; small M (B^T forces packing), K
  // blocks, matrix-vector (A^T @ v with C in registers, and one too long for them); and a
  // transpose that is also an output itself (computed too).
  auto T = [&](NodeId x) { return c.op(Op::transpose, {x}); };
  for (auto [m, k, n] : std::vector<std::array<int64_t, 3>>{{3, 7, 17}, {17, 33, 5}, {20, 300, 40}, {1, 9, 40}, {33, 16, 1}, {10, 32, 1}, {200, 5, 1}}) {
    c.out(c.op(op, {T(c.uniform({k, m}, -1, 1)), c.uniform({k, n}, -1, 1)}));
    c.out(c.op(op, {c.uniform({m, k}, -1, 1), T(c.uniform({n, k}, -1, 1))}));
    c.out(c.op(op, {T(c.uniform({k, m}, -1, 1)), T(c.uniform({n, k}, -1, 1))}));
  }
  NodeId shared = T(c.uniform({9, 12}, -1, 1));
  c.out(shared);
  c.out(c.op(op, {shared, c.uniform({9, 4}, -1, 1)}));
  c.out(c.op(op, {T(c.uniform({5}, -1, 1)), c.uniform({5, 3}, -1, 1)}));  // a 1-D transpose is not folded
}

void reduce_cases(Cases& c, Op op) {
  struct R { Shape s; std::vector<int64_t> axes; };
  const std::vector<R> rs = {{{}, {}}, {{7}, {}}, {{7}, {0}}, {{3, 17}, {}}, {{3, 17}, {0}}, {{3, 17}, {1}},
                             {{3, 17}, {-1}}, {{4, 5, 6}, {0, 2}}, {{4, 5, 6}, {1}}, {{4, 5, 6}, {1, 2}},
                             {{33, 17}, {0}}, {{2, 3, 4, 5}, {0, 2}}};
  for (auto& r : rs)
    for (bool keep : {false, true}) {
      if (op == Op::argmax) {
        if (r.axes.size() != 1 || keep) continue;
        c.out(c.op(op, {c.integers(r.s, -3, 3)}, axes(r.axes)));  // ties: the first maximum wins
      } else {
        c.out(c.op(op, {c.uniform(r.s, -3, 3)}, axes(r.axes, keep)));
      }
    }
}

void shape_cases(Cases& c, Op op) {
  auto x = [&](Shape s) { return c.uniform(std::move(s), -3, 3); };
  Attrs a;
  switch (op) {
    case Op::transpose:
      for (Shape s : std::vector<Shape>{{7}, {3, 17}, {2, 3, 4}, {33, 17}, {16, 16}}) c.out(c.op(op, {x(s)}));
      break;
    case Op::reshape:
      a.shape = {51};
      c.out(c.op(op, {x({3, 17})}, a));  // an input's buffer, copied to the output
      a.shape = {6, 4};
      c.out(c.op(Op::exp, {c.op(op, {c.op(Op::neg, {x({2, 3, 4})})}, a)}));  // an arena value, aliased
      break;
    case Op::concat:
      c.out(c.op(op, {x({3, 5}), x({3, 7})}, axes({1})));
      c.out(c.op(op, {x({2, 4}), x({3, 4}), x({1, 4})}, axes({0})));
      c.out(c.op(op, {x({2, 3, 4}), x({2, 1, 4})}, axes({-2})));
      c.out(c.op(op, {x({9})}, axes({0})));
      break;
    case Op::one_hot:
      a.n = 5;
      c.out(c.op(op, {c.integers({7}, -1, 5, DType::i32)}, a));  // -1 and 5: rows of zeros
      a.n = 17;
      c.out(c.op(op, {c.integers({3, 4}, 0, 16, DType::i32)}, a));
      break;
    case Op::broadcast_to:
      for (auto [from, to] : std::vector<std::pair<Shape, Shape>>{{{17}, {3, 17}}, {{3, 1}, {3, 5}}, {{}, {2, 2}},
                                                                   {{2, 1, 4}, {2, 3, 4}}}) {
        a.shape = to;
        c.out(c.op(op, {x(from)}, a));
      }
      break;
    case Op::sum_to:
      for (auto [from, to] : std::vector<std::pair<Shape, Shape>>{{{3, 17}, {17}}, {{3, 5}, {3, 1}}, {{2, 3, 4}, {3, 1}},
                                                                   {{4, 5}, {}}, {{4, 5}, {1, 5}}, {{33, 17}, {17}}}) {
        a.shape = to;
        c.out(c.op(op, {x(from)}, a));
      }
      break;
    case Op::slice:
      for (auto [from, ax, start, to] : std::vector<std::tuple<Shape, int64_t, int64_t, Shape>>{
               {{3, 17}, 1, 2, {3, 5}}, {{5, 4}, 0, 1, {3, 4}}, {{2, 3, 4}, 2, 1, {2, 3, 2}}, {{9}, 0, 8, {1}}}) {
        a = axes({ax});
        a.n = start;
        a.shape = to;
        c.out(c.op(op, {x(from)}, a));
      }
      break;
    default: FAIL("no cases for shape op " << op_name(op));
  }
}

void nn_cases(Cases& c, Op op) {
  if (op == Op::softmax || op == Op::log_softmax) {
    for (auto [s, ax] : std::vector<std::pair<Shape, int64_t>>{{{7}, 0}, {{3, 17}, 1}, {{3, 17}, 0}, {{2, 3, 5}, 1},
                                                                {{4, 33}, -1}})
      c.out(c.op(op, {c.uniform(s, -5, 5)}, axes({ax})));
    return;
  }
  if (op == Op::softmax_cross_entropy) {
    for (Shape s : std::vector<Shape>{{5, 7}, {7}, {2, 3, 4}, {3, 33}}) {
      Shape batch(s.begin(), s.end() - 1);
      NodeId z = c.uniform(s, -5, 5);
      c.out(c.op(op, {z, c.integers(batch, 0, int(s.back()) - 1, DType::i32)}));
      NodeId p = c.op(Op::softmax, {c.uniform(s, -2, 2)}, axes({-1}));  // probability labels
      c.out(c.op(op, {z, p}));
    }
    return;
  }
  // elementwise losses
  for (auto& [sa, sb] : kBinaryShapes) {
    NodeId a, b;
    Attrs at;
    at.alpha = 1.0;
    if (op == Op::bce) {  // p in [0, 1] with exact 0 and 1 (logs clamped at -100)
      a = c.op(Op::clip, {c.uniform(sa, -0.2, 1.2), c.lit({}, {0}), c.lit({}, {1})});
      b = c.integers(sb, 0, 1);
    } else if (op == Op::bce_with_logits) {
      a = c.uniform(sa, -6, 6);
      b = c.uniform(sb, 0, 1);
    } else {
      a = c.uniform(sa, -3, 3);
      b = c.uniform(sb, -3, 3);
    }
    c.out(c.op(op, {a, b}, at));
  }
  if (op == Op::huber) {
    Attrs at;
    at.alpha = 0.5;
    c.out(c.op(op, {c.uniform({5, 9}, -2, 2), c.uniform({9}, -2, 2)}, at));
  }
}

// The cases of an op by its class; nullptr when the test does not know the op.
std::function<void(Cases&, Op)> cases_for(Op op) {
  switch (op_row(op).cls) {
    case OpClass::unary: return unary_cases;
    case OpClass::binary: return binary_cases;
    case OpClass::ternary: return ternary_cases;
    case OpClass::matmul: return matmul_cases;
    case OpClass::reduce: return reduce_cases;
    case OpClass::shape: return shape_cases;
    case OpClass::nn: case OpClass::loss: return nn_cases;
    case OpClass::leaf: return nullptr;
  }
  return nullptr;
}

bool accumulates(Op op) {
  switch (op_row(op).cls) {
    case OpClass::matmul: case OpClass::reduce: case OpClass::nn: return true;
    default: return op == Op::sum_to || op == Op::softmax_cross_entropy;
  }
}

// Compiles each op's cases in one graph and compares every output, in both f32 entries
// that compute outputs. Returns (graphs, results) counted.
void compare_all_ops(DType ft, Precision p, double tol, double& compile_s, int& graphs, int& results,
                     std::vector<Op> only = {}, int lanes = 0) {
  for (int i = 0; i < kNumOps; ++i) {
    Op op = Op(i);
    auto make = cases_for(op);
    if (!make || (!only.empty() && std::find(only.begin(), only.end(), op) == only.end())) continue;
    Cases c;
    c.ft = ft;
    make(c, op);
    std::string err;
    auto ref = evaluate(c.g, c.leaves, p, err);
    INFO("op " << op_name(op) << " in " << dtype_name(ft) << ": " << err);
    REQUIRE(ref);
    backend::CompileOptions opt;
    opt.lanes = lanes;
    auto cg = backend::compile_graph(c.g, opt, err);
    REQUIRE(cg);
    compile_s += cg->compile_seconds();
    ++graphs;
    backend::HostBuffers hb(*cg);
    REQUIRE(hb.set_leaves(c.leaves, err));
    for (backend::Entry e : {backend::Entry::forward, backend::Entry::predict}) {
      hb.run(e);
      for (auto& [name, id] : c.g.outputs) {
        int b = cg->find(backend::BufferKind::output, name);
        REQUIRE(b >= 0);
        Tensor got = hb.get(b);
        const Tensor& want = (*ref)[id];
        size_t at = 0;
        double worst = worst_err(got, want, accumulates(op), &at);
        const Node& n = c.g[id];
        INFO("case " << name << ": " << op_name(n.op) << " -> " << type_str(n.dtype, n.shape) << " operands "
                     << [&] {
                          std::string s;
                          for (NodeId in : n.in) s += type_str(c.g[in].dtype, c.g[in].shape) + " ";
                          return s;
                        }()
                     << " worst at " << at << ": jit " << (got.data.empty() ? 0 : got.data[at]) << " interp "
                     << (want.data.empty() ? 0 : want.data[at]));
        CHECK(worst <= tol);
        ++results;
      }
    }
  }
}

}  // namespace

TEST_CASE("every op has a JIT generator", "[jit]") {
  // The backend's table (backend/op_gens.cpp): one generator per op but the leaves, an
  // element generator for every elementwise op; op_gen() aborts on its first use otherwise.
  for (const std::string& p : backend::op_gen_problems()) FAIL_CHECK(p);
  for (int i = 0; i < kNumOps; ++i) {
    Op op = Op(i);
    if (op_row(op).cls == OpClass::leaf) continue;  // leaves are buffers or constants
    const backend::OpGen& gen = backend::op_gen(op);
    INFO("op " << op_name(op));
    CHECK((gen.kernel != nullptr || gen.alias));
    CHECK(cases_for(op) != nullptr);
  }
}

TEST_CASE("JIT agrees with the interpreter on every op (f32)", "[jit]") {
  double compile_s = 0;
  int graphs = 0, results = 0;
  compare_all_ops(DType::f32, Precision::f32, 1e-5, compile_s, graphs, results);
  WARN(fmt::format("f32: {} op graphs, {} results compared; compile {:.3f} s total, {:.1f} ms per graph", graphs,
                   results, compile_s, 1e3 * compile_s / std::max(graphs, 1)));
}

TEST_CASE("the GEMM for narrower vector units (8 and 4 lanes)", "[jit]") {
  double compile_s = 0;
  int graphs = 0, results = 0;
  for (int lanes : {8, 4}) {
    INFO(lanes << " lanes");
    compare_all_ops(DType::f32, Precision::f32, 1e-5, compile_s, graphs, results, {Op::matmul}, lanes);
    compare_all_ops(DType::f64, Precision::f64, 1e-12, compile_s, graphs, results, {Op::matmul}, lanes);
  }
  CHECK(graphs == 4);
}

TEST_CASE("JIT agrees with the interpreter on every op (f64)", "[jit]") {
  double compile_s = 0;
  int graphs = 0, results = 0;
  compare_all_ops(DType::f64, Precision::f64, 1e-12, compile_s, graphs, results);
  CHECK(results > 500);
}

TEST_CASE("vectorised f32 math over its whole range", "[jit]") {
  // exp, log, log1p, expm1, tanh and the ops built on them, on a sweep over many orders of
  // magnitude plus zeros, infinities, NaN and denormals; against the interpreter (libm in
  // f64, rounded): within a few ulp.
  std::vector<double> xs = {0.0, -0.0, INFINITY, -INFINITY, NAN, 1e-45, 1e-40, -1e-40, 1.17549435e-38, 88.7, 88.72, 88.73,
                            -87.3, -103.9, -104.5, 1e30, -1e30, 0.625, -0.625, 0.6249, 1.0, -1.0, 0.5, -0.5};
  for (double m = 1e-8; m < 1e3; m *= 1.37) {
    xs.push_back(m);
    xs.push_back(-m);
  }
  for (double& x : xs) x = double(float(x));
  Cases c;
  NodeId x = c.input({int64_t(xs.size())}, [&, i = size_t(0)]() mutable { return xs[i++]; }, DType::f32);
  for (Op op : {Op::exp, Op::log, Op::log1p, Op::expm1, Op::tanh, Op::sigmoid, Op::softplus, Op::log_sigmoid, Op::elu, Op::silu})
    c.out(c.op(op, {x}, [&] {
      Attrs a;
      if (op == Op::elu) a.alpha = 1.0;
      return a;
    }()));
  std::string err;
  auto ref = evaluate(c.g, c.leaves, Precision::f32, err);
  REQUIRE(ref);
  auto cg = backend::compile_graph(c.g, {}, err);
  REQUIRE(cg);
  backend::HostBuffers hb(*cg);
  REQUIRE(hb.set_leaves(c.leaves, err));
  hb.run(backend::Entry::forward);
  for (auto& [name, id] : c.g.outputs) {
    Tensor got = hb.get(cg->find(backend::BufferKind::output, name));
    const Tensor& want = (*ref)[id];
    for (size_t i = 0; i < xs.size(); ++i) {
      double a = got.data[i], b = want.data[i];
      // denormal results: compare absolutely (flushed or not, they are below 1e-37)
      double e = std::fabs(b) < 1.2e-38 && std::fabs(a) < 1.2e-38 ? 0 : rel_err(a, b, 1e-30);
      INFO(op_name(c.g[id].op) << "(" << xs[i] << "): jit " << a << ", interpreter " << b);
      CHECK(e <= 1e-6);
    }
  }
}

TEST_CASE("the generated loops vectorise", "[jit]") {
  // Elementwise ops (with the vectorisable exp/log), reductions and the GEMM micro-kernel
  // must come out of O3 with vector instructions in their kernel functions.
  Cases c;
  NodeId x = c.uniform({64, 128}, -2, 2), w = c.uniform({128, 64}, -1, 1), y = c.uniform({64, 128}, 0, 1);
  c.out(c.op(Op::sigmoid, {x}));
  c.out(c.op(Op::bce_with_logits, {x, y}));
  c.out(c.op(Op::log, {y}));
  c.out(c.op(Op::tanh, {x}));
  c.out(c.op(Op::sum, {x}, axes({0})));
  c.out(c.op(Op::matmul, {x, w}));
  std::string err;
  auto cg = backend::compile_graph(c.g, {/*keep_ir=*/true}, err);
  REQUIRE(cg);
  const std::string& ir = cg->llvm_ir();
  std::string lanes = fmt::format("<{} x float>", backend::JitEngine::shared(err)->vector_lanes());
  for (std::string fn : {"sigmoid", "bce_with_logits", "log", "tanh", "sum", "matmul"}) {
    size_t def = std::string::npos;
    for (size_t p = ir.find("define internal"); p != std::string::npos; p = ir.find("define internal", p + 1)) {
      size_t eol = ir.find('\n', p);
      if (ir.substr(p, eol - p).find("_" + fn + "(") != std::string::npos) {  // <prefix>_<entry>_k<i>_<kind>_<op>(
        def = p;
        break;
      }
    }
    INFO("kernel " << fn);
    REQUIRE(def != std::string::npos);
    std::string body = ir.substr(def, ir.find("\n}\n", def) - def);
    bool vec = body.find("x float>") != std::string::npos;
    CHECK(vec);
    if (fn == "matmul") CHECK(body.find(lanes) != std::string::npos);
    CHECK(body.find("call float @expf") == std::string::npos);
    CHECK(body.find("call float @logf") == std::string::npos);
  }
}
