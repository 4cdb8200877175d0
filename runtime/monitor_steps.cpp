// The run-time monitors' per-step rules (runtime/monitor.hpp): Monitor::process over
// the buffered steps (non-finite, frozen-param, exploding-gradient, the epoch's sums for
// vanishing-gradient and dead-relu), as vector loops over each param's columns.
#include "runtime/monitor.hpp"
#include <algorithm>
#include <cmath>
#include <cstring>
#include <fmt/format.h>
#include <limits>
#include <utility>
#if defined(__SSE__)
#include <xmmintrin.h>
#endif

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
}  // namespace

// The buffered steps' rows (n of them) into their columns after the window, four steps
// by four quantities at a time (a 4x4 transposition in SSE registers where there is
// SSE), then each lagged column one step back (a row holds the step before's lagged
// quantities; the last step's are in the row after it). Returns whether any value moved
// may not be finite (NaN, Inf: not <= the largest float), for process() to look closer.
bool Monitor::move_rows(int64_t n) {
  const float* rows = rows_.data();
  const size_t st = rstride_;
  const float big = std::numeric_limits<float>::max();
  bool odd = false;
  int64_t i = 0;
#if defined(__SSE__)
  __m128 flags = _mm_setzero_ps();
  const __m128 bigs = _mm_set1_ps(big);
  for (; i + 4 <= n; i += 4) {
    const float* r = rows + size_t(i) * st;
    for (size_t c0 = 0; c0 < width_; c0 += 4) {
      __m128 v[4] = {_mm_loadu_ps(r + c0), _mm_loadu_ps(r + st + c0), _mm_loadu_ps(r + 2 * st + c0),
                     _mm_loadu_ps(r + 3 * st + c0)};
      _MM_TRANSPOSE4_PS(v[0], v[1], v[2], v[3]);  // v[k]: quantity c0 + k of the four steps
      for (size_t k = 0; k < 4 && c0 + k < width_; ++k) {
        _mm_storeu_ps(col(int(c0 + k)) + hist_ + i, v[k]);
        flags = _mm_or_ps(flags, _mm_cmpnle_ps(v[k], bigs));
      }
    }
  }
  odd = _mm_movemask_ps(flags) != 0;
#endif
  for (; i < n; ++i)
    for (size_t c = 0; c < width_; ++c) {
      const float v = rows[size_t(i) * st + c];
      col(int(c))[hist_ + size_t(i)] = v;
      odd = odd || !(v <= big);
    }
  for (size_t c = 0; c < width_; ++c) {
    if (!lagged_[c] || n == 0) continue;
    float* x = col(int(c)) + hist_;
    std::memmove(x, x + 1, size_t(n - 1) * sizeof(float));
    x[n - 1] = rows[size_t(n) * st + c];
    odd = odd || !(x[n - 1] <= big);
  }
  return odd;
}

void Monitor::frozen(size_t k, int64_t steps, int64_t step) {
  const auto& p = plan_.params[k];
  const ParamState& s = ps_[k];
  const double lr = lr_at(step), gn = grad_norm(s);
  std::vector<DiagNote> notes;
  if (gn == 0)
    notes.push_back({fmt::format("its gradient is exactly 0: the loss does not reach '{}' through any differentiable "
                                 "path (a stop_gradient, a comparison or argmax, a relu that is always off, or a "
                                 "branch the loss does not use)",
                                 p.name),
                     {}});
  else
    notes.push_back({fmt::format("the update (about lr x gradient norm = {}) is below the float32 resolution of its "
                                 "values (about 6e-8 relative): the learning rate {} is too small",
                                 g3(lr * gn), g3(lr)),
                     {}});
  if (emit(Severity::warning, "frozen-param", p.name, g_[p.param].loc,
       fmt::format("'{}' is not updating: its relative update |dw|/|w| stayed below {} for {} steps (gradient norm "
                   "{}, learning rate {})",
                   p.name, g3(t_.frozen_ratio), steps, g3(gn), g3(lr)),
       std::move(notes), step))
    set_status(p.name, "frozen", step);
}

// exploding-gradient at `step`, whose squared norm passed the filter: against the exact
// median of the previous min(step - 1, history) steps' norms (read back from the buffer).
void Monitor::exploding(size_t k, double grad_sq, int64_t step, size_t slot) {
  const ParamState& s = ps_[k];
  const int64_t n = std::min<int64_t>(step - 1, int64_t(t_.exploding_history));
  scratch_.clear();
  for (int64_t j = 1; j <= n; ++j)  // the squared norms in the slots before `slot`
    scratch_.push_back(std::max(0.0, double(col(s.g)[slot - size_t(j)])));
  auto mid = scratch_.begin() + std::ptrdiff_t(scratch_.size() / 2);
  std::nth_element(scratch_.begin(), mid, scratch_.end());
  const double med = std::sqrt(*mid), gn = std::sqrt(grad_sq), lr = lr_at(step);
  if (!(med > 0 && gn > t_.exploding_factor * med)) return;
  const auto& p = plan_.params[k];
  std::string clip = g_.train.clip_norm ? fmt::format("lower clip_norm (now {})", g3(*g_.train.clip_norm))
                                        : fmt::format("add 'clip_norm = {}' to the train block", g3(10 * med));
  if (emit(Severity::warning, "exploding-gradient", p.name, g_[p.param].loc,
           fmt::format("the gradient norm of '{}' jumped to {} at step {}, {}x its running median {}", p.name, g3(gn),
                       step, g3(gn / med), g3(med)),
           {{fmt::format("{}, or lower the learning rate ({})", clip, g3(lr)), {}}}, step))
    set_status(p.name, "exploding", step);
}

// Param k over steps first..first+n-1 in slots slot..slot+n-1 (all finite):
// straight loops over its columns, the rare cases (a run of frozen steps that starts or
// ends inside, a norm above the exploding filter) step by step.
void Monitor::process_param(size_t k, int64_t first, int64_t n, size_t slot) {
  ParamState& s = ps_[k];
  const float *G = col(s.g) + slot, *W = col(s.w) + slot, *D = col(s.d) + slot;
  const float frozen_sq = float(t_.frozen_ratio * t_.frozen_ratio);
  const int64_t window = t_.frozen_window;
  // The epoch's sum of gradient norms and how many steps were frozen: |new - w| / |w|
  // below the ratio, compared as squares. (Vector loops: CMakeLists.txt compiles this
  // file with -fopenmp-simd -fno-math-errno.)
  float sum = 0;
  int still = 0;
  auto frozen_at = [&](int64_t i) {  // (no branches: the loop below is a vector loop)
    const float w = W[i], d = D[i];
    return int((w > 0) & (d < frozen_sq * w)) | int((w <= 0) & (d <= 0));
  };
#pragma omp simd reduction(+ : sum, still)
  for (int64_t i = 0; i < n; ++i) {
    const float g = G[i] > 0 ? G[i] : 0.0f;
    sum += std::sqrt(g);
    still += frozen_at(i);
  }
  s.epoch_grad_sum += double(sum);
  if (still == 0) {
    s.frozen_run = 0;
  } else if (still == n && (s.frozen_run >= window || s.frozen_run + n < window)) {
    s.frozen_run += n;  // frozen throughout, and the run does not reach the window here
  } else {
    for (int64_t i = 0; i < n; ++i) {
      s.frozen_run = frozen_at(i) ? s.frozen_run + 1 : 0;
      if (s.frozen_run == window) {
        s.grad_sq = std::max(0.0, double(G[i]));
        frozen(k, s.frozen_run, first + i);
      }
    }
  }
  // exploding-gradient, block by block of the median floor: a step needs the exact median
  // only if its squared norm exceeds jump_sq x the floor's bound (the block's largest norm
  // tells; one predictable test per block). The margin keeps rounding from hiding a jump
  // the exact test would see.
  const double jump_sq = 0.999 * t_.exploding_factor * t_.exploding_factor;
  const int64_t min_history = int64_t(t_.exploding_min_history);
  for (int64_t i = 0; i < n && s.g >= 0;) {
    const int64_t m = std::min(n - i, s.window.room());
    const auto [lo, hi] = min_max(G + i, m);
    // (The floor settles most blocks without the bound's selection: floor <= bound.)
    const float f = s.window.floor();
    if (first + i + m - 1 > min_history && (f < 0 || double(hi) > jump_sq * double(f))) {
      const float b = s.window.bound();
      if (b < 0 || double(hi) > jump_sq * double(b))
        for (int64_t j = i; j < i + m; ++j) {
          const double g2 = std::max(0.0, double(G[j]));
          if (first + j > min_history && (b < 0 || g2 > jump_sq * double(b))) exploding(k, g2, first + j, slot + size_t(j));
        }
    }
    s.window.add(lo, m);
    i += m;
  }
  s.grad_sq = std::max(0.0, double(G[n - 1]));
  s.weight_sq = W[n - 1];
  s.delta_sq = D[n - 1];
}

int64_t Monitor::process() {
  if (processed_ >= pushed_) return 0;
  if (pushed_ - processed_ > kBatch) pushed_ = processed_ + kBatch;  // (pushed on without process())
  const int64_t n0 = pushed_ - processed_;
  // The last step's lagged quantities, from the states it left, in the row after it
  // (unless unpush() left them there).
  if (!next_row_) {
    bool any = false;
    for (size_t c = 0; c < cells_.size(); ++c) any = any || lagged_[c];
    if (any && settle_) settle_();
    float* next = rows_.data() + size_t(n0) * rstride_;
    for (size_t c = 0; c < cells_.size(); ++c)
      if (lagged_[c]) next[c] = *cells_[c];
  }
  const bool odd = move_rows(n0);
  int64_t bad = 0;
  if (nonfinite_on_ && odd) {  // the first step with a non-finite gradient or update norm
    const float big = std::numeric_limits<float>::max();
    for (int64_t i = 0; !bad && i < n0; ++i)
      for (const ParamState& s : ps_)
        if ((s.g >= 0 && !(col(s.g)[hist_ + size_t(i)] <= big)) || (s.d >= 0 && !(col(s.d)[hist_ + size_t(i)] <= big)))
          bad = processed_ + 1 + i;
  }
  // Nothing of the bad step counts: the buffer ends before it.
  if (bad) pushed_ = bad - 1;
  // Param by param over the steps (each param's state in registers). (Under -Werror the
  // trainer processes every step as it comes, so that the run stops at the step of the
  // first warning.)
  const size_t found = all_.size();
  const int64_t first = processed_ + 1, n = pushed_ - processed_;
  if (n > 0) {
    for (size_t k = 0; k < ps_.size(); ++k) process_param(k, first, n, hist_);
    for (size_t k = 0; k < relu_col_.size(); ++k) {
      const float* x = col(relu_col_[k]) + hist_;
      double sum = 0;
      for (int64_t i = 0; i < n; ++i) sum += double(x[i]);
      relu_sum_[k] += plan_.relus[k].active ? double(n) - sum : sum;
    }
    relu_steps_ += n;
    epoch_steps_ += n;
    // The window of the next steps: the last hist_ slots to the front.
    for (size_t c = 0; c < width_; ++c) std::memmove(col(int(c)), col(int(c)) + n, hist_ * sizeof(float));
  }
  // In step order (the params' loops found them param by param).
  std::stable_sort(all_.begin() + std::ptrdiff_t(found), all_.end(),
                   [](const RuntimeDiagnostic& a, const RuntimeDiagnostic& b) { return a.step < b.step; });
  processed_ = pushed_;
  next_row_ = false;
  return bad;
}

}  // namespace kiln
