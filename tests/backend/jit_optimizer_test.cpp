// f32 optimizer arithmetic against the exact formulas in doubles (hyperparameters as
// written, bias corrections and schedules computed exactly): Adam's update at step counts
// from 1 to 2^24 and the decaying learning-rate schedules, one step on the interpreter
// (every op rounded to f32) and on the JIT, within a bound counted from their roundings.
#include "jit_test_util.hpp"
#include "passes/optimizer.hpp"
#include <cmath>
#include <numbers>

using namespace kiln;
using namespace kiln::jit_test;

namespace {

constexpr double u = 0x1p-24;  // f32 unit roundoff: |fl(x) - x| <= u |x|

// p (f32[n], starting at 0) with the gradient given as the input "g": one step's new p is
// minus the optimizer's update.
Graph one_param(const OptimizerSpec& o, const ScheduleSpec& sc, int64_t n) {
  Graph g;
  NodeId p = leaf(g, Op::param, "p", {n}, DType::f32, InitKind::zeros);
  NodeId gr = leaf(g, Op::input, "g", {n});
  g.train.present = true;
  g.train.minimize = g.make(Op::sum, {g.make(Op::mul, {p, gr})});
  g.train.optimizer = o;
  g.train.schedule = sc;
  g.grads = {{p, gr}};
  Diagnostics d;
  REQUIRE(add_optimizer(g, d).changed);
  REQUIRE_FALSE(d.has_errors());
  return g;
}

// The update (-p after one step from p = 0) on the interpreter in f32 and on the JIT.
std::vector<std::vector<double>> updates(const Graph& g, const ValueMap& leaves) {
  std::string err;
  ValueMap interp = leaves;
  REQUIRE(train_step(g, interp, Precision::f32, err));
  auto cg = backend::compile_graph(g, {}, err);
  INFO(err);
  REQUIRE(cg);
  backend::HostBuffers hb(*cg);
  REQUIRE(hb.set_leaves(leaves, err));
  hb.run(backend::Entry::step);
  ValueMap jit = leaves;
  hb.get_state(jit);
  std::vector<std::vector<double>> out;
  for (const ValueMap* v : {&interp, &jit}) {
    out.emplace_back();
    for (double x : v->at("p").data) out.back().push_back(-x);
  }
  return out;
}

Tensor vec(std::vector<double> v) {
  Tensor t(DType::f32, {int64_t(v.size())});
  for (size_t i = 0; i < v.size(); ++i) t.data[i] = double(float(v[i]));
  return t;
}

}  // namespace

// Adam, eps negligible: update = lr * (m / bc1) / sqrt(v / bc2). Its roundings, relative to the
// update (m0 and g of one sign, so m does not cancel): m = fl(b1) m0 + fl(1 - b1) g, two
// rounded literals, two products, a sum: 5u; v likewise with g^2: 6u, halved by the square
// root: 3u; each bias correction -expm1(t ln b), ln b rounded (u), times t (u), expm1 (the
// JIT's, Kahan's from exp and log, within 4 ulp = 8u): 10u, bc2's halved: 5u + 10u; the two
// divisions, the square root, lr rounded, the product, the division: 6u. Sum: 31u. The old
// 1 - pow(fl(b), t) was off by 1.3e-5 in bc2 at t = 1 (fl(0.999) = 0.999 + 1.3e-8): 108u in
// the update.
TEST_CASE("f32 Adam: updates within 31u of the exact formula for step counts 1 to 2^24", "[optim][jit]") {
  double worst = 0;  // in units of u |update|
  for (double beta2 : {0.999, 0.9999}) {
    OptimizerSpec o;
    o.kind = kiln::OptimizerKind::adam;
    o.lr = 0.001;
    o.beta2 = beta2;
    o.eps = 1e-30;  // (eps must be positive; this one vanishes beside sqrt(v) in f32: the exact formula below omits it)
    Graph g = one_param(o, {}, 4);
    const std::vector<double> m0 = {0.01, 0.2, -0.03, -1.5}, v0 = {1e-4, 0.05, 2e-3, 3.0}, gr = {0.02, 0.1, -0.05, -2.0};
    for (double t : {1.0, 2.0, 3.0, 10.0, 20.0, 100.0, 1e3, 1e4, 1e5, 1e6, 16777216.0}) {
      ValueMap leaves = initial_values(g, 1);
      leaves["g"] = vec(gr);
      leaves["p.m"] = vec(m0);
      leaves["p.v"] = vec(v0);
      leaves["step"] = Tensor(DType::f32, {}, t - 1);
      auto got = updates(g, leaves);
      const double bc1 = -std::expm1(t * std::log(o.beta1)), bc2 = -std::expm1(t * std::log(beta2));
      for (size_t i = 0; i < gr.size(); ++i) {
        const double x0 = double(float(m0[i])), y0 = double(float(v0[i])), gi = double(float(gr[i]));
        const double m = o.beta1 * x0 + (1 - o.beta1) * gi, v = beta2 * y0 + (1 - beta2) * gi * gi;
        const double want = o.lr * (m / bc1) / std::sqrt(v / bc2);
        for (int e = 0; e < 2; ++e) {
          INFO("beta2 " << beta2 << ", t " << t << ", element " << i << (e ? " (JIT)" : " (interpreter)") << ": "
                        << got[e][i] << ", exact " << want);
          CHECK(std::abs(got[e][i] - want) <= 31 * u * std::abs(want));
          worst = std::max(worst, std::abs(got[e][i] - want) / (u * std::abs(want)));
        }
      }
    }
  }
  WARN("f32 Adam update: worst error " << worst << " u of the update (bound 31u)");
}

// SGD, g = 1: the update is the learning rate. exponential_decay and step_decay at a rate
// that f32 cannot hold (0.96: rate^e with rate rounded was off by e times 1.6e-8, 0.27 u per
// decay) are exp(e ln rate): ln rate rounded (u), e = s / every (u), the product (u), each
// an absolute error of u |e ln rate| in the exponent, then exp (within 2 ulp = 4u), lr0
// rounded and the product: (3 |e ln rate| + 6) u. A rate f32 holds (0.5) stays pow (within
// 2 ulp) of an exact base: (|e ln rate| + 6) u covers its exponent's rounding too. cosine is
// lr0 sin(pi/2 (total - min(s, total)) / total)^2: the difference and min exact, the
// division, pi/2 rounded, the product (3u), sin (libm, 1 ulp = 2u), the square (2x, + u),
// lr0 and the product: 13u relative even on the last steps, where 1 + cos(pi s / total)
// cancelled.
TEST_CASE("f32 learning-rate schedules within a few ulp of the exact ones", "[optim][jit]") {
  struct Case {
    kiln::ScheduleKind kind;
    double rate;
    int64_t every, total;
    std::vector<double> steps;
  };
  const std::vector<Case> cases = {
      {kiln::ScheduleKind::exponential_decay, 0.96, 50, 0, {0, 1, 49, 50, 777, 5000, 20000}},
      {kiln::ScheduleKind::exponential_decay, 0.5, 3, 0, {0, 1, 2, 3, 100, 301}},
      {kiln::ScheduleKind::step_decay, 0.96, 7, 0, {0, 6, 7, 8, 700, 6999, 7000}},
      {kiln::ScheduleKind::step_decay, 0.5, 10, 0, {0, 9, 10, 1000}},
      {kiln::ScheduleKind::cosine, 1, 1, 1000, {0, 1, 500, 900, 998, 999, 1000, 5000}},
  };
  for (const Case& c : cases) {
    OptimizerSpec o;
    o.kind = kiln::OptimizerKind::sgd;
    o.lr = 0.01;
    ScheduleSpec sc;
    sc.kind = c.kind;
    sc.rate = c.rate;
    sc.every = c.every;
    sc.total = c.total;
    Graph g = one_param(o, sc, 1);
    double worst = 0;  // in units of the bound
    for (double s : c.steps) {
      ValueMap leaves = initial_values(g, 1);
      leaves["g"] = vec({1.0});
      leaves["step"] = Tensor(DType::f32, {}, s);
      auto got = updates(g, leaves);
      double want = o.lr, bound = 0;
      if (c.kind == kiln::ScheduleKind::cosine) {
        want = o.lr * (1 + std::cos(std::numbers::pi * std::min(s, double(c.total)) / double(c.total))) / 2;
        bound = 13 * u * want;
      } else {
        const double e = c.kind == kiln::ScheduleKind::step_decay ? std::floor(s / double(c.every)) : s / double(c.every);
        want = o.lr * std::pow(c.rate, e);
        bound = ((double(float(c.rate)) == c.rate ? 1 : 3) * std::abs(e * std::log(c.rate)) + 6) * u * want;
      }
      for (int e = 0; e < 2; ++e) {
        INFO(kiln::name_of(c.kind) << " rate " << c.rate << " at step " << s << (e ? " (JIT)" : " (interpreter)") << ": lr "
                    << got[e][0] << ", exact " << want);
        CHECK(std::abs(got[e][0] - want) <= bound);
        if (bound > 0) worst = std::max(worst, std::abs(got[e][0] - want) / bound);
      }
    }
    WARN(kiln::name_of(c.kind) << " rate " << c.rate << ": worst error " << worst << " of the bound");
  }
}
