// A lower bound of the median of a sliding window (the last `history` values, or all
// while fewer), from the minima of blocks of kBlock values: O(1) per value. The
// exploding-gradient monitor's filter (runtime/monitors/exploding_gradient.cpp): a norm F
// times the median must exceed F times this bound, so the exact median (a selection over the
// window) is computed only for the rare values that do.
//
// Why it holds: the window lies within the current block and the last
// ceil(history / kBlock) complete blocks. With those blocks' minima sorted, fewer than
// (j - 1) * kBlock values of the complete blocks and kBlock of the current one lie below
// the j-th smallest minimum, so that minimum is at most the value of rank r (0-based)
// when (j - 1) * kBlock + kBlock - 1 <= r. The median (rank n / 2 of n values, as
// std::nth_element at size / 2) only gains rank as values arrive, so the bound taken at
// a block's start holds for its steps.
#pragma once
#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

namespace kiln {

class MedianFloor {
 public:
  static constexpr int64_t kBlock = 16;

  explicit MedianFloor(int64_t history = 100)
      : history_(std::max<int64_t>(history, 1)),
        mins_(size_t((history_ + kBlock - 1) / kBlock), std::numeric_limits<float>::infinity()),
        sorted_(mins_.size()) {}

  // A lower bound of the median of the values pushed so far (the window of the next
  // value), or -1 when there are too few values for one. It changes only when a block
  // ends, and is worked out on first use after that.
  float bound() {
    if (stale_) select();
    return bound_;
  }
  // At most bound(), in O(1) without a selection: the last bound worked out, lowered by
  // every block minimum added since (-1 when there is none yet). Why it holds: adding x
  // to a set keeps its j-th smallest at least min(that j-th smallest, x); dropping the
  // oldest minimum and a larger j only raise it. A caller tests against floor() first
  // and asks for bound() only when that test does not settle it.
  float floor() const { return floor_; }

  // The next `count` values (at most room(), the values left in the current block),
  // whose smallest is `min`: a caller with a run of values finds their minimum itself (a
  // vector loop) and adds them at once.
  int64_t room() const { return kBlock - in_block_; }
  void add(float min, int64_t count) {
    block_min_ = std::min(block_min_, min);  // NaN never lowers it (std::min keeps the first)
    in_block_ += count;
    if (in_block_ < kBlock) return;
    mins_[head_] = block_min_;
    if (++head_ == mins_.size()) head_ = 0;
    pushed_ += kBlock;
    block_min_ = std::numeric_limits<float>::infinity();
    in_block_ = 0;
    const int64_t r = std::min(pushed_, history_) / 2;  // the median's rank in the next window
    j_ = size_t((r + 1) / kBlock);                      // the j-th smallest minimum bounds it
    stale_ = j_ >= 1;
    bound_ = -1;
    floor_ = stale_ && floor_ >= 0 ? std::min(floor_, mins_[head_ == 0 ? mins_.size() - 1 : head_ - 1]) : -1;
  }
  void push(float x) { add(x, 1); }

 private:
  // The j-th smallest of a few minima: up to 8 sorted by a network in registers, more by
  // j passes that move the smallest left (min/max, no branches).
  void select() {
    const size_t n = mins_.size(), j = std::min(j_, n);
    if (n <= 8) {  // the usual window (history 100: 7 blocks): a sorting network in registers
      float x[8];
      for (size_t i = 0; i < 8; ++i) x[i] = i < n ? mins_[i] : std::numeric_limits<float>::infinity();
      auto cs = [&](int a, int b) {
        const float lo = std::min(x[a], x[b]), hi = std::max(x[a], x[b]);
        x[a] = lo, x[b] = hi;
      };
      // Batcher's odd-even merge sort of 8 (19 compare-swaps).
      cs(0, 1), cs(2, 3), cs(4, 5), cs(6, 7), cs(0, 2), cs(1, 3), cs(4, 6), cs(5, 7), cs(1, 2), cs(5, 6);
      cs(0, 4), cs(1, 5), cs(2, 6), cs(3, 7), cs(2, 4), cs(3, 5), cs(1, 2), cs(3, 4), cs(5, 6);
      floor_ = bound_ = x[j - 1];
      stale_ = false;
      return;
    }
    float* x = sorted_.data();
    std::copy(mins_.begin(), mins_.end(), x);
    for (size_t a = 0; a < j; ++a)
      for (size_t b = a + 1; b < n; ++b) {
        const float lo = std::min(x[a], x[b]), hi = std::max(x[a], x[b]);
        x[a] = lo, x[b] = hi;
      }
    floor_ = bound_ = x[j - 1];
    stale_ = false;
  }

  int64_t history_;
  std::vector<float> mins_, sorted_;  // the last blocks' minima (a ring); scratch
  size_t head_ = 0, j_ = 0;
  int64_t pushed_ = 0, in_block_ = 0;  // values in complete blocks; in the current one
  float block_min_ = std::numeric_limits<float>::infinity(), bound_ = -1, floor_ = -1;
  bool stale_ = false;
};

}  // namespace kiln
