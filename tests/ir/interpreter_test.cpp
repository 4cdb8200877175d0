// The reference interpreter: kernels against hand-computed values, initialisers, errors,
// f32 rounding and train_step.
#include "ir/interpreter.hpp"
#include "tests/ir/graph_builder.hpp"
#include <catch2/catch.hpp>
#include <cmath>

using namespace kiln;
using kiln::testing::Builder;
using Catch::Matchers::WithinAbs;

namespace {

std::vector<Tensor> run(const Graph& g, const ValueMap& vm = {}, Precision p = Precision::f64) {
  std::string err;
  auto v = evaluate(g, vm, p, err);
  INFO(err);
  REQUIRE(v);
  return *v;
}

void check_values(const Tensor& t, const Shape& s, const std::vector<double>& want, double tol = 1e-12) {
  REQUIRE(t.shape == s);
  REQUIRE(t.data.size() == want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    INFO("element " << i);
    CHECK_THAT(t.data[i], WithinAbs(want[i], tol));
  }
}

}  // namespace

TEST_CASE("elementwise kernels broadcast like NumPy", "[interp]") {
  Builder b;
  auto x = b.lit({2, 3}, {1, 2, 3, 4, 5, 6});
  auto row = b.lit({3}, {10, 20, 30});
  auto col = b.lit({2, 1}, {100, 200});
  auto s1 = b.op(Op::add, {x, row});
  auto s2 = b.op(Op::mul, {col, row});
  auto s3 = b.op(Op::sub, {x, b.g.scalar(1, DType::f64)});
  auto w = b.op(Op::where, {b.op(Op::gt, {x, b.g.scalar(3, DType::f64)}), x, col});
  auto c = b.op(Op::clip, {x, b.g.scalar(2, DType::f64), row});
  auto v = run(b.g);
  check_values(v[s1], {2, 3}, {11, 22, 33, 14, 25, 36});
  check_values(v[s2], {2, 3}, {1000, 2000, 3000, 2000, 4000, 6000});
  check_values(v[s3], {2, 3}, {0, 1, 2, 3, 4, 5});
  check_values(v[w], {2, 3}, {100, 100, 100, 4, 5, 6});
  check_values(v[c], {2, 3}, {2, 2, 3, 4, 5, 6});
}

TEST_CASE("unary kernels at special points", "[interp]") {
  Builder b;
  auto x = b.lit({6}, {-2.5, -0.5, 0, 0.5, 1.5, 2.5});
  auto r = b.op(Op::round, {x});
  auto s = b.op(Op::sign, {x});
  auto relu = b.op(Op::relu, {x});
  auto lrelu = b.op(Op::leaky_relu, {x}, Builder::alpha(0.1));
  auto gelu = b.op(Op::gelu, {b.lit({2}, {1, -1})});
  auto sp = b.op(Op::softplus, {b.lit({3}, {-800, 0, 800})});
  auto ls = b.op(Op::log_sigmoid, {b.lit({2}, {0, -800})});
  auto v = run(b.g);
  check_values(v[r], {6}, {-2, -0, 0, 0, 2, 2});  // half to even
  check_values(v[s], {6}, {-1, -1, 0, 1, 1, 1});
  check_values(v[relu], {6}, {0, 0, 0, 0.5, 1.5, 2.5});
  check_values(v[lrelu], {6}, {-0.25, -0.05, 0, 0.5, 1.5, 2.5});
  check_values(v[gelu], {2}, {0.8413447460685429, -0.15865525393145707}, 1e-12);  // exact erf form
  check_values(v[sp], {3}, {0, std::log(2.0), 800});
  check_values(v[ls], {2}, {-std::log(2.0), -800});
}

TEST_CASE("matmul handles matrix and vector operands", "[interp]") {
  Builder b;
  auto A = b.lit({2, 3}, {1, 2, 3, 4, 5, 6});
  auto B = b.lit({3, 2}, {1, 0, 0, 1, 1, 1});
  auto u = b.lit({3}, {1, 1, 2});
  auto w = b.lit({2}, {1, -1});
  auto mm = b.op(Op::matmul, {A, B});
  auto vm = b.op(Op::matmul, {u, B});
  auto mv = b.op(Op::matmul, {A, u});
  auto vv = b.op(Op::matmul, {u, u});
  auto wA = b.op(Op::matmul, {w, A});
  auto v = run(b.g);
  check_values(v[mm], {2, 2}, {4, 5, 10, 11});
  check_values(v[vm], {2}, {3, 3});
  check_values(v[mv], {2}, {9, 21});
  check_values(v[vv], {}, {6});
  check_values(v[wA], {3}, {-3, -3, -3});
}

TEST_CASE("reductions over axes with and without keepdims", "[interp]") {
  Builder b;
  auto x = b.lit({2, 3}, {1, 5, 3, 4, 2, 6});
  auto s1 = b.op(Op::sum, {x}, Builder::axes({1}, true));
  auto s0 = b.op(Op::sum, {x}, Builder::axes({0}));
  auto m = b.op(Op::mean, {x});
  auto mx = b.op(Op::max, {x}, Builder::axes({-1}));
  auto mn = b.op(Op::min, {x}, Builder::axes({0}, true));
  auto lse = b.op(Op::logsumexp, {b.lit({2, 2}, {0, 0, 1000, 1000})}, Builder::axes({1}));
  auto am = b.op(Op::argmax, {b.lit({2, 3}, {1, 7, 7, 2, 2, 0})}, Builder::axes({1}));
  auto v = run(b.g);
  check_values(v[s1], {2, 1}, {9, 12});
  check_values(v[s0], {3}, {5, 7, 9});
  check_values(v[m], {}, {3.5});
  check_values(v[mx], {2}, {5, 6});
  check_values(v[mn], {1, 3}, {1, 2, 3});
  check_values(v[lse], {2}, {std::log(2.0), 1000 + std::log(2.0)}, 1e-9);
  check_values(v[am], {2}, {1, 0});  // the first maximum wins
  CHECK(v[am].dtype == DType::i32);
}

TEST_CASE("softmax family is stable for large logits", "[interp]") {
  Builder b;
  auto z = b.lit({2, 3}, {1000, 1001, 1002, 0, 0, 0});
  auto sm = b.op(Op::softmax, {z}, Builder::axes({1}));
  auto lsm = b.op(Op::log_softmax, {z}, Builder::axes({-1}));
  auto sm0 = b.op(Op::softmax, {b.lit({2, 1}, {3, 3})}, Builder::axes({0}));
  auto v = run(b.g);
  double e = std::exp(1.0), den = 1 + e + e * e;
  check_values(v[sm], {2, 3}, {1 / den, e / den, e * e / den, 1.0 / 3, 1.0 / 3, 1.0 / 3});
  check_values(v[lsm], {2, 3}, {-std::log(den), 1 - std::log(den), 2 - std::log(den), -std::log(3.0),
                                -std::log(3.0), -std::log(3.0)}, 1e-12);
  check_values(v[sm0], {2, 1}, {0.5, 0.5});
}

TEST_CASE("loss kernels", "[interp]") {
  Builder b;
  auto p = b.lit({3}, {0.5, 0.9, 0});
  auto y = b.lit({3}, {1, 0, 1});
  auto bce = b.op(Op::bce, {p, y});
  auto z = b.lit({3}, {0, 2, -800});
  auto bcel = b.op(Op::bce_with_logits, {z, y});
  auto logits = b.lit({2, 2}, {0, 0, 1, 3});
  auto onehot = b.lit({2, 2}, {1, 0, 0.25, 0.75});
  auto labels = b.lit({2}, {1, 0}, DType::i32);
  auto sce_f = b.op(Op::softmax_cross_entropy, {logits, onehot});
  auto sce_i = b.op(Op::softmax_cross_entropy, {logits, labels});
  Attrs h = Builder::alpha(1.0);
  auto hub = b.op(Op::huber, {b.lit({3}, {0.5, 3, -2}), b.g.scalar(0, DType::f64)}, h);
  auto se = b.op(Op::squared_error, {b.lit({2}, {1, 4}), b.lit({2}, {3, 4})});
  auto v = run(b.g);
  check_values(v[bce], {3}, {std::log(2.0), -std::log(0.1), 100});  // log clamped at -100
  check_values(v[bcel], {3}, {std::log(2.0), 2 + std::log1p(std::exp(-2.0)), 800});
  double l2 = std::log(1 + std::exp(2.0));  // logsumexp(1, 3) - 1
  check_values(v[sce_f], {2}, {std::log(2.0), 0.25 * l2 + 0.75 * (l2 - 2)}, 1e-12);
  check_values(v[sce_i], {2}, {std::log(2.0), l2}, 1e-12);
  check_values(v[hub], {3}, {0.125, 2.5, 1.5});
  check_values(v[se], {2}, {4, 0});
}

TEST_CASE("shape kernels", "[interp]") {
  Builder b;
  auto x = b.lit({2, 3}, {1, 2, 3, 4, 5, 6});
  auto t = b.op(Op::transpose, {x});
  auto x3 = b.lit({2, 1, 3}, {1, 2, 3, 4, 5, 6});
  auto t3 = b.op(Op::transpose, {x3});
  Attrs rs;
  rs.shape = {3, 2};
  auto r = b.op(Op::reshape, {x}, rs);
  auto c0 = b.op(Op::concat, {x, b.lit({1, 3}, {7, 8, 9})}, Builder::axes({0}));
  auto c1 = b.op(Op::concat, {x, b.lit({2, 1}, {7, 8})}, Builder::axes({1}));
  Attrs oh;
  oh.n = 3;
  auto o = b.op(Op::one_hot, {b.lit({3}, {2, 0, 5}, DType::i32)}, oh);
  Attrs bt;
  bt.shape = {2, 3};
  auto bc = b.op(Op::broadcast_to, {b.lit({3}, {1, 2, 3})}, bt);
  Attrs st;
  st.shape = {2, 1};
  auto s = b.op(Op::sum_to, {x}, st);
  Attrs sl = Builder::axes({1});
  sl.n = 1;
  sl.shape = {2, 2};
  auto slc = b.op(Op::slice, {x}, sl);
  auto v = run(b.g);
  check_values(v[t], {3, 2}, {1, 4, 2, 5, 3, 6});
  check_values(v[t3], {3, 1, 2}, {1, 4, 2, 5, 3, 6});
  check_values(v[r], {3, 2}, {1, 2, 3, 4, 5, 6});
  check_values(v[c0], {3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  check_values(v[c1], {2, 4}, {1, 2, 3, 7, 4, 5, 6, 8});
  check_values(v[o], {3, 3}, {0, 0, 1, 1, 0, 0, 0, 0, 0});  // out-of-range label: zeros
  check_values(v[bc], {2, 3}, {1, 2, 3, 1, 2, 3});
  check_values(v[s], {2, 1}, {6, 15});
  check_values(v[slc], {2, 2}, {2, 3, 5, 6});
}

TEST_CASE("leaves come from the value map with clear errors", "[interp]") {
  Builder b;
  auto x = b.input("x", {32, 30}, DType::f32);
  auto y = b.op(Op::sum, {x});
  std::string err;
  CHECK_FALSE(evaluate(b.g, {}, Precision::f64, err));
  CHECK(err == "missing value for input 'x'");
  ValueMap vm{{"x", Tensor(DType::f32, {32, 29}, 1.0)}};
  CHECK_FALSE(evaluate(b.g, vm, Precision::f64, err));
  CHECK(err == "input 'x' expects f32[32,30], got [32,29]");
  vm["x"] = Tensor(DType::f32, {32, 30}, 0.5);
  auto v = evaluate(b.g, vm, Precision::f64, err);
  REQUIRE(v);
  CHECK((*v)[y].data[0] == 480.0);
}

TEST_CASE("f32 precision rounds every result to float", "[interp]") {
  Builder b;
  auto s = b.op(Op::add, {b.lit({}, {0.1}), b.lit({}, {0.2})});
  auto v64 = run(b.g, {}, Precision::f64);
  auto v32 = run(b.g, {}, Precision::f32);
  CHECK(v64[s].data[0] == 0.1 + 0.2);
  CHECK(v32[s].data[0] == double(float(double(float(0.1)) + double(float(0.2)))));
  CHECK(v32[s].data[0] != v64[s].data[0]);
}

TEST_CASE("initialisers: statistics, fans and determinism", "[interp]") {
  Builder b;
  auto init = [](InitKind k, double a = 0, double bb = 0) {
    Init i;
    i.kind = k;
    i.a = a;
    i.b = bb;
    return i;
  };
  b.leaf(Op::param, "n", {200, 100}, DType::f32, init(InitKind::normal, 1.0, 2.0));
  b.leaf(Op::param, "gu", {200, 100}, DType::f32, init(InitKind::glorot_uniform));
  b.leaf(Op::param, "gn", {200, 100}, DType::f32, init(InitKind::glorot_normal));
  b.leaf(Op::param, "hn", {200, 100}, DType::f32, init(InitKind::he_normal));
  b.leaf(Op::param, "hu", {200, 100}, DType::f32, init(InitKind::he_uniform));
  b.leaf(Op::param, "ln", {200, 100}, DType::f32, init(InitKind::lecun_normal));
  b.leaf(Op::param, "u", {20000}, DType::f32, init(InitKind::uniform, -1, 3));
  b.leaf(Op::const_, "c", {2}, DType::f32, init(InitKind::constant, 2.5));
  b.leaf(Op::state, "m", {3}, DType::f32, init(InitKind::zeros));
  Init lit = init(InitKind::literal);
  lit.data = {1, 2, 3};
  b.leaf(Op::const_, "l", {3}, DType::f32, lit);
  b.input("x", {4});
  ValueMap vm = initial_values(b.g, 7);
  CHECK(vm.size() == 10);
  CHECK(vm.count("x") == 0);
  auto stats = [&](const std::string& name, double& mean, double& sd, double& lo, double& hi) {
    const auto& d = vm.at(name).data;
    mean = 0;
    lo = 1e300;
    hi = -1e300;
    for (double v : d) { mean += v; lo = std::min(lo, v); hi = std::max(hi, v); }
    mean /= double(d.size());
    double var = 0;
    for (double v : d) var += (v - mean) * (v - mean);
    sd = std::sqrt(var / double(d.size()));
  };
  double mean, sd, lo, hi;
  stats("n", mean, sd, lo, hi);
  CHECK_THAT(mean, WithinAbs(1.0, 0.05));
  CHECK_THAT(sd, WithinAbs(2.0, 0.05));
  stats("gu", mean, sd, lo, hi);
  double lim = std::sqrt(6.0 / 300);
  CHECK(lo >= -lim);
  CHECK(hi <= lim);
  CHECK_THAT(hi, WithinAbs(lim, 0.01));
  CHECK_THAT(sd, WithinAbs(lim / std::sqrt(3.0), 0.005));
  stats("gn", mean, sd, lo, hi);
  CHECK_THAT(sd, WithinAbs(std::sqrt(2.0 / 300), 0.003));
  stats("hn", mean, sd, lo, hi);
  CHECK_THAT(sd, WithinAbs(std::sqrt(2.0 / 200), 0.003));
  stats("hu", mean, sd, lo, hi);
  CHECK(hi <= std::sqrt(6.0 / 200));
  CHECK_THAT(sd, WithinAbs(std::sqrt(6.0 / 200) / std::sqrt(3.0), 0.005));
  stats("ln", mean, sd, lo, hi);
  CHECK_THAT(sd, WithinAbs(std::sqrt(1.0 / 200), 0.002));
  stats("u", mean, sd, lo, hi);
  CHECK(lo >= -1);
  CHECK(hi <= 3);
  CHECK_THAT(mean, WithinAbs(1.0, 0.05));
  CHECK(vm.at("c").data == std::vector<double>{2.5, 2.5});
  CHECK(vm.at("m").data == std::vector<double>{0, 0, 0});
  CHECK(vm.at("l").data == std::vector<double>{1, 2, 3});

  // Same seed, same values; another seed, other values; values per name, not per position.
  ValueMap again = initial_values(b.g, 7);
  CHECK(again.at("gu").data == vm.at("gu").data);
  CHECK(initial_values(b.g, 8).at("gu").data != vm.at("gu").data);
  Builder other;
  other.leaf(Op::param, "gu", {200, 100}, DType::f32, init(InitKind::glorot_uniform));
  CHECK(initial_values(other.g, 7).at("gu").data == vm.at("gu").data);
}

TEST_CASE("train_step writes updates into the leaves and reports the loss", "[interp]") {
  Builder b;
  auto w = b.param("w", {2});
  auto x = b.input("x", {2});
  auto loss = b.op(Op::sum, {b.op(Op::mul, {w, x})});
  auto nw = b.op(Op::sub, {w, b.op(Op::mul, {x, b.g.scalar(0.5, DType::f64)})});
  b.g.train.present = true;
  b.g.train.minimize = loss;
  b.g.updates.push_back({w, nw});
  ValueMap vm{{"w", Tensor(DType::f64, {2}, 1.0)}, {"x", Tensor(DType::f64, {2}, 2.0)}};
  std::string err;
  double l = 0;
  REQUIRE(train_step(b.g, vm, Precision::f64, err, &l));
  CHECK(l == 4.0);
  CHECK(vm.at("w").data == std::vector<double>{0, 0});
  REQUIRE(train_step(b.g, vm, Precision::f64, err, &l));
  CHECK(l == 0.0);
  CHECK(vm.at("w").data == std::vector<double>{-1, -1});
}
