// The monitors' per-step rules ("[monitor]"): Monitor::process over buffered steps against
// a plain step-by-step reference of the documented rules (frozen-param, exploding-gradient,
// non-finite), whatever the points where the buffer is processed; and MedianFloor's bound
// against the exact median of random windows.
#include "runtime/compile.hpp"
#include "passes/monitor_ir.hpp"
#include "runtime/median_floor.hpp"
#include "runtime/model.hpp"
#include "runtime/monitor.hpp"
#include <catch2/catch.hpp>
#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <random>

using namespace kiln;

namespace {

// The exact median as the rule defines it: the element at size/2 after sorting.
double median_of(std::vector<double> v) {
  auto mid = v.begin() + std::ptrdiff_t(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  return *mid;
}

const char* const kTwoParams = R"(model two
dim batch = 4
input x : f32[batch, 3]
input y : f32[batch, 1]
param w : f32[3, 1] = glorot_uniform
param b : f32[1] = zeros
loss = mean(squared_error(x @ w + b, y))
train { minimize loss; optimizer = sgd(lr = 0.1); epochs = 1 }
)";

// One step's quantities per param: squared gradient norm, squared weight norm, squared update.
struct Quantities {
  float g, w, d;
};

// A synthetic run: per step and param. Log-normal gradient norms with rare zeros, a few
// spikes (10^4 x), stretches where the update is 0 (frozen) or below 1e-7 relative.
std::vector<std::vector<Quantities>> synthetic_run(int steps, size_t params, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> nd;
  std::uniform_real_distribution<double> u;
  std::vector<std::vector<Quantities>> run(size_t(steps), std::vector<Quantities>(params, Quantities{}));
  for (size_t p = 0; p < params; ++p) {
    int frozen_until = 0;
    for (int s = 0; s < steps; ++s) {
      double gn = std::exp(nd(rng)) * (p + 1);
      if (u(rng) < 0.01) gn = 0;
      if (u(rng) < 0.003) gn *= 1e4;
      double wn = 1 + 0.1 * nd(rng);
      if (u(rng) < 0.004) frozen_until = s + int(10 + 30 * u(rng));
      double dn = s < frozen_until ? (u(rng) < 0.5 ? 0.0 : wn * 1e-9) : wn * 1e-3 * (1 + u(rng));
      run[size_t(s)][p] = {float(gn * gn), float(wn * wn), float(dn * dn)};
    }
  }
  return run;
}

// The rules step by step, as docs/checks/frozen-param.md and exploding-gradient.md say:
// "id param step" for each first firing per param; the first non-finite step, if any.
std::vector<std::string> reference(const std::vector<std::vector<Quantities>>& run,
                                   const std::vector<std::string>& names, const MonitorThresholds& t) {
  std::vector<std::string> out;
  const size_t P = names.size();
  std::vector<int64_t> frozen(P, 0);
  std::vector<std::vector<double>> norms(P);
  std::vector<bool> fired_f(P, false), fired_e(P, false);
  for (size_t s = 0; s < run.size(); ++s) {
    const int64_t step = int64_t(s) + 1;
    bool finite = true;
    for (size_t p = 0; p < P; ++p)
      finite = finite && std::isfinite(run[s][p].g) && std::isfinite(run[s][p].d);
    if (!finite) {
      out.push_back(fmt::format("non-finite step {}", step));
      return out;
    }
    for (size_t p = 0; p < P; ++p) {
      const Quantities q = run[s][p];
      double gn = std::sqrt(std::max(0.0, double(q.g))), wn = std::sqrt(double(q.w)), dn = std::sqrt(double(q.d));
      double ratio = wn > 0 ? dn / wn : (dn > 0 ? INFINITY : 0.0);
      frozen[p] = ratio < t.frozen_ratio ? frozen[p] + 1 : 0;
      if (frozen[p] == t.frozen_window && !fired_f[p]) {
        fired_f[p] = true;
        out.push_back(fmt::format("frozen-param {} {}", names[p], step));
      }
      auto& h = norms[p];
      if (h.size() >= t.exploding_min_history) {
        std::vector<double> window(h.end() - std::ptrdiff_t(std::min(h.size(), t.exploding_history)), h.end());
        double med = median_of(window);
        if (med > 0 && gn > t.exploding_factor * med && !fired_e[p]) {
          fired_e[p] = true;
          out.push_back(fmt::format("exploding-gradient {} {}", names[p], step));
        }
      }
      h.push_back(gn);
    }
  }
  return out;
}

// The two-param model with its monitors; `lagged`: the params' gradient and update norms
// arrive one step late (small params, passes/monitor_ir.hpp), else with their step.
struct Setup {
  SourceFile src{"two.model", kTwoParams};
  Graph g;
  MonitorPlan plan;
  explicit Setup(bool lagged = true) {
    Diagnostics d(&src);
    CompileOptions o;
    o.run_checks = false;
    auto r = compile(src, o, Stage::opt, d);
    REQUIRE(r);
    g = std::move(r->graph);
    plan = *r->monitor_plan;
    REQUIRE(plan.params.size() == 2);
    for (auto& p : plan.params) {
      REQUIRE(p.lagged);  // (both params are small)
      p.lagged = lagged;
    }
  }
};

// Feeds the run to a Monitor, calling process() when push() asks and wherever `when`
// says; returns "id param step" per diagnostic (the param: the quoted name in the message).
// The cells behave as an engine's: after step s a lagged quantity's holds step s-1's value
// (0 after the first), until the settle callback sets it to step s's.
std::vector<std::string> monitored(Setup& su, const std::vector<std::vector<Quantities>>& run,
                                   const std::function<bool(int64_t)>& when, std::vector<ParamHealth>* health = nullptr) {
  Monitor mon(su.g, su.plan, &su.src);
  std::vector<float> cells(mon.width(), 0.0f);
  std::vector<const float*> ptrs;
  for (auto& c : cells) ptrs.push_back(&c);
  size_t last = 0;  // the step pushed last
  auto set = [&](size_t step, bool lagged) {  // the cells of the params' quantities of `step` (lagged or not)
    for (size_t p = 0; p < su.plan.params.size(); ++p) {
      const auto& mp = su.plan.params[p];
      if (mp.lagged != lagged) continue;
      cells[size_t(mp.grad_sq) - mon.first_metric()] = run[step][p].g;
      cells[size_t(mp.delta_sq) - mon.first_metric()] = run[step][p].d;
    }
  };
  mon.bind(ptrs, [&] { set(last, true); });
  std::vector<std::string> out;
  int64_t bad = 0;
  for (size_t s = 0; s < run.size() && !bad; ++s) {
    set(s, false);
    if (s > 0) set(s - 1, true);
    for (size_t p = 0; p < su.plan.params.size(); ++p)
      cells[size_t(su.plan.params[p].weight_sq) - mon.first_metric()] = run[s][p].w;
    last = s;
    if (mon.push() || when(int64_t(s) + 1)) bad = mon.process();
  }
  if (!bad) bad = mon.process();
  for (auto& d : mon.all()) {
    auto a = d.diag.message.find('\''), b = d.diag.message.find('\'', a + 1);
    out.push_back(fmt::format("{} {} {}", d.diag.id, d.diag.message.substr(a + 1, b - a - 1), d.step));
  }
  if (bad) out.push_back(fmt::format("non-finite step {}", bad));
  if (health) *health = mon.health();
  return out;
}

}  // namespace

TEST_CASE("MedianFloor: its bound never exceeds the window's median", "[monitor]") {
  for (int64_t history : {100, 20, 37, 250}) {
    for (uint32_t seed = 1; seed <= 4; ++seed) {
      CAPTURE(history, seed);
      std::mt19937 rng(seed);
      std::lognormal_distribution<double> ln(0, 2);
      std::uniform_real_distribution<double> u;
      MedianFloor floor(history);
      // floor() between selections: `lazy` works its bound out only every 97 steps.
      MedianFloor lazy(history);
      std::vector<double> seen;
      int bounded = 0, floored = 0;
      for (int s = 0; s < 3000; ++s) {
        if (!seen.empty()) {
          std::vector<double> window(seen.end() - std::ptrdiff_t(std::min<size_t>(seen.size(), size_t(history))),
                                     seen.end());
          const double med = median_of(window);
          const float f = floor.floor(), b = floor.bound();
          if (b >= 0) {
            ++bounded;
            CHECK(double(b) <= med);
            CHECK(f <= b);
          }
          const float lf = lazy.floor();
          if (lf >= 0) {
            ++floored;
            CHECK(double(lf) <= med);
          }
          if (s % 97 == 0) {
            const float lb = lazy.bound();
            CHECK(lb == b);  // the same selection
            CHECK(lf <= std::max(lb, -1.0f));
          }
        }
        // Trends up and down, zeros, and tiny outliers that a minimum would latch onto.
        double v = ln(rng) * std::exp(std::sin(s / 300.0) * 3);
        if (u(rng) < 0.02) v = 0;
        if (u(rng) < 0.02) v *= 1e-9;
        const float x = float(v);
        floor.push(x);
        lazy.push(x);
        seen.push_back(double(x));
      }
      // A bound from the third block on, when the window holds two blocks (else every
      // step takes the exact median, which is cheap for a window that small).
      if (history >= 2 * MedianFloor::kBlock) CHECK(bounded > 2500);
      else CHECK(bounded == 0);
      if (history >= 2 * MedianFloor::kBlock) CHECK(floored > 2000);
    }
  }
}

TEST_CASE("Monitor::process applies the rules as a step-by-step reference whatever the batching", "[monitor]") {
  for (bool lagged : {true, false}) {
  CAPTURE(lagged);
  Setup su(lagged);
  const MonitorThresholds t;
  std::vector<std::string> names;
  for (auto& p : su.plan.params) names.push_back(p.name);
  for (uint32_t seed = 1; seed <= 6; ++seed) {
    CAPTURE(seed);
    auto run = synthetic_run(3000, names.size(), seed);
    if (seed == 6) run[2100][1].d = NAN;  // a non-finite update: the run stops there
    const auto want = reference(run, names, t);
    REQUIRE(!want.empty());
    std::mt19937 rng(seed);
    std::vector<ParamHealth> h_full, h_each, h_random;
    CHECK(monitored(su, run, [](int64_t) { return false; }, &h_full) == want);
    CHECK(monitored(su, run, [](int64_t) { return true; }, &h_each) == want);
    CHECK(monitored(su, run, [&](int64_t) { return rng() % 37 == 0; }, &h_random) == want);
    REQUIRE(h_full.size() == 2);
    for (size_t p = 0; p < 2; ++p) {
      CHECK(h_full[p].grad_norm == h_each[p].grad_norm);
      CHECK(h_full[p].update_ratio == h_random[p].update_ratio);
      CHECK(h_full[p].status == h_each[p].status);
      // The last step's norm (a lagged one: the settle callback's).
      if (seed != 6) CHECK(h_full[p].grad_norm == Approx(std::sqrt(std::max(0.0f, run.back()[p].g))));
    }
    if (seed == 6) CHECK(want.back() == "non-finite step 2101");
  }
  }
}

TEST_CASE("Monitor: unpush takes a step back (a non-finite loss) and pushing goes on from there", "[monitor]") {
  for (bool lagged : {false, true}) {
    CAPTURE(lagged);
    Setup su(lagged);
    Monitor mon(su.g, su.plan, &su.src);
    std::vector<float> cells(mon.width(), 1.0f);
    std::vector<const float*> ptrs;
    for (auto& c : cells) ptrs.push_back(&c);
    float& grad0 = cells[size_t(su.plan.params[0].grad_sq) - mon.first_metric()];
    bool settled = false;
    mon.bind(ptrs, [&] { settled = true, grad0 = 4.0f; });  // (lagged: step 6's own gradient)
    for (int s = 0; s < 5; ++s) mon.push();
    if (!lagged) grad0 = 4.0f;  // a step to take back (lagged: its gradient is not in yet)
    mon.push();
    mon.unpush();
    CHECK(mon.process() == 0);
    CHECK_FALSE(settled);  // step 5's lagged quantities came with step 6
    // The health table shows step 5, the last one kept: gradient norm 1, not 2.
    auto h = mon.health();
    REQUIRE(h.size() == 2);
    CHECK(h[0].grad_norm == 1.0);
  }
}
