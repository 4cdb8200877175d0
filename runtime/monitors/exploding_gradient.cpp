// The exploding-gradient monitor (docs/checks/exploding-gradient.md): a step whose gradient
// norm exceeds MonitorThresholds::exploding_factor times the median of the param's previous
// (up to exploding_history) steps' norms, once exploding_min_history are known.
//
// Per block of steps (Monitor::process), per param, in blocks of MedianFloor::kBlock steps:
//  1. The block's smallest and largest squared norm (four lanes at a time).
//  2. The median floor (runtime/median_floor.hpp: a lower bound of the window's median, O(1))
//     settles the block when its largest norm is at most the factor times the floor; else
//     the bound is worked out, and only if the largest norm exceeds the factor times the
//     bound are the block's steps looked at one by one, a step above it against the exact
//     median of its window (read back from the column, which keeps the steps before).
//  3. The block's minimum joins the floor.
#include "runtime/median_floor.hpp"
#include "runtime/monitor.hpp"
#include <algorithm>
#include <cstring>
#include <fmt/format.h>

namespace kiln {

namespace {

std::string g3(double v) { return fmt::format("{:.3g}", v); }

// The smallest and largest of x[0..n) (n >= 1; all finite here), four lanes at a time in
// vector registers (GCC's vector extension: SSE on any x86-64; GCC's `omp simd` min/max
// reduction spilled its lanes and reloaded them through a store it could not forward).
std::pair<float, float> min_max(const float* x, int64_t n) {
  using v4 = float __attribute__((vector_size(16)));
  v4 lo = {x[0], x[0], x[0], x[0]}, hi = lo;
  int64_t j = 0;
  for (; j + 4 <= n; j += 4) {
    v4 v;
    std::memcpy(&v, x + j, sizeof v);
    lo = v < lo ? v : lo;
    hi = v > hi ? v : hi;
  }
  float l = std::min(std::min(lo[0], lo[1]), std::min(lo[2], lo[3]));
  float h = std::max(std::max(hi[0], hi[1]), std::max(hi[2], hi[3]));
  for (; j < n; ++j) {
    l = x[j] < l ? x[j] : l;
    h = x[j] > h ? x[j] : h;
  }
  return {l, h};
}

class ExplodingGradient final : public MonitorRule {
 public:
  explicit ExplodingGradient(const Monitor& m)
      : MonitorRule(kParamSteps), window_(m.plan().params.size(), MedianFloor(int64_t(m.thresholds().exploding_history))) {}

  void param_steps(Monitor& m, const ParamSteps& p) override {
    if (!p.has_grad) return;
    const MonitorThresholds& t = m.thresholds();
    const float* G = p.grad_sq;
    MedianFloor& floor = window_[p.k];
    // A step needs the exact median only if its squared norm exceeds jump_sq x the floor's
    // bound (the block's largest norm tells; one predictable test per block). The margin
    // keeps rounding from hiding a jump the exact test would see.
    const double jump_sq = 0.999 * t.exploding_factor * t.exploding_factor;
    const int64_t min_history = int64_t(t.exploding_min_history);
    for (int64_t i = 0; i < p.n;) {
      const int64_t n = std::min(p.n - i, floor.room());
      const auto [lo, hi] = min_max(G + i, n);
      // (The floor settles most blocks without the bound's selection: floor <= bound.)
      const float f = floor.floor();
      if (p.first + i + n - 1 > min_history && (f < 0 || double(hi) > jump_sq * double(f))) {
        const float b = floor.bound();
        if (b < 0 || double(hi) > jump_sq * double(b))
          for (int64_t j = i; j < i + n; ++j) {
            const double g2 = std::max(0.0, double(G[j]));
            if (p.first + j > min_history && (b < 0 || g2 > jump_sq * double(b))) check(m, p.k, g2, p.first + j, G + j);
          }
      }
      floor.add(lo, n);
      i += n;
    }
  }

 private:
  // Param k's step `step`, whose squared norm passed the filter (at `at` in its column): against
  // the exact median of the previous min(step - 1, history) steps' norms.
  void check(Monitor& m, size_t k, double grad_sq, int64_t step, const float* at) {
    const MonitorThresholds& t = m.thresholds();
    const int64_t n = std::min<int64_t>(step - 1, int64_t(t.exploding_history));
    window_copy_.clear();
    for (int64_t j = 1; j <= n; ++j) window_copy_.push_back(std::max(0.0, double(at[-j])));
    auto mid = window_copy_.begin() + std::ptrdiff_t(window_copy_.size() / 2);
    std::nth_element(window_copy_.begin(), mid, window_copy_.end());
    const double med = std::sqrt(*mid), gn = std::sqrt(grad_sq), lr = m.lr_at(step);
    if (!(med > 0 && gn > t.exploding_factor * med)) return;
    const auto& p = m.plan().params[k];
    const Graph& g = m.graph();
    std::string clip = g.train.clip_norm ? fmt::format("lower clip_norm (now {})", g3(*g.train.clip_norm))
                                         : fmt::format("add 'clip_norm = {}' to the train block", g3(10 * med));
    if (m.emit(Severity::warning, "exploding-gradient", p.name, g[p.param].loc,
               fmt::format("the gradient norm of '{}' jumped to {} at step {}, {}x its running median {}", p.name,
                           g3(gn), step, g3(gn / med), g3(med)),
               {{fmt::format("{}, or lower the learning rate ({})", clip, g3(lr)), {}}}, step))
      m.set_status(p.name, "exploding", step);
  }

  // Per param: a cheap lower bound of the median of its last exploding_history squared
  // norms (the column keeps the norms themselves), which filters the steps that need the
  // exact one.
  std::vector<MedianFloor> window_;
  std::vector<double> window_copy_;  // a copy of a window, for its median
};

}  // namespace

std::unique_ptr<MonitorRule> make_exploding_gradient(const Monitor& m) {
  return std::make_unique<ExplodingGradient>(m);
}

}  // namespace kiln
