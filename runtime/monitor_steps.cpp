// The run-time monitors' per-step work (runtime/monitor.hpp): Monitor::process moves the
// buffered steps' rows into columns and runs the rules' per-step hooks over them
// (runtime/monitors/: non-finite's cut; per param frozen-param, vanishing-gradient's sums,
// exploding-gradient; dead-relu's sums).
#include "runtime/monitor.hpp"
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#if defined(__SSE__)
#include <xmmintrin.h>
#endif

namespace kiln {

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
  // Nothing from the first bad step on counts (non-finite): the buffer ends before it.
  int64_t bad = 0;
  for (MonitorRule* r : cut_)
    if (!bad) bad = r->cut(*this, StepBlock{processed_ + 1, n0}, odd);
  if (bad) pushed_ = bad - 1;
  // Param by param over the steps (the rules' loops over its columns), then the rest. (Under
  // -Werror the trainer processes every step as it comes, so that the run stops at the step
  // of the first warning.)
  const size_t found = all_.size();
  const StepBlock block{processed_ + 1, pushed_ - processed_};
  if (block.n > 0) {
    for (size_t k = 0; k < ps_.size(); ++k) {
      const ParamSteps p = param_steps(k, block);
      for (MonitorRule* r : param_steps_) r->param_steps(*this, p);
      ParamState& s = ps_[k];  // the health table's figures: the last step's
      s.grad_sq = std::max(0.0, double(p.grad_sq[block.n - 1]));
      s.weight_sq = p.weight_sq[block.n - 1];
      s.delta_sq = p.delta_sq[block.n - 1];
    }
    for (MonitorRule* r : steps_) r->steps(*this, block);
    // The window of the next steps: the last hist_ slots to the front.
    for (size_t c = 0; c < width_; ++c) std::memmove(col(int(c)), col(int(c)) + block.n, hist_ * sizeof(float));
  }
  // In step order (the params' loops found them param by param).
  std::stable_sort(all_.begin() + std::ptrdiff_t(found), all_.end(),
                   [](const RuntimeDiagnostic& a, const RuntimeDiagnostic& b) { return a.step < b.step; });
  processed_ = pushed_;
  next_row_ = false;
  return bad;
}

}  // namespace kiln
