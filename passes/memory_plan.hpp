// Memory planning: liveness-based placement of materialised intermediates in one arena
// (greedy by size, best-fit gap, 64-byte aligned). Rules: docs/fusion.md.
#pragma once
#include "passes/kernel_plan.hpp"
#include <vector>

namespace kiln {

constexpr int64_t kArenaAlign = 64;

// A request: `bytes`, live from position `first` through `last` (inclusive; positions are
// kernel indices, or any ordered program points).
struct LiveValue {
  int64_t bytes;
  int first, last;
};

// Byte offsets (multiples of kArenaAlign) such that two values whose live ranges intersect
// never overlap; `peak` receives the arena size. Usable on its own (e.g. by a backend that
// plans scratch buffers too).
std::vector<int64_t> assign_offsets(const std::vector<LiveValue>& values, int64_t& peak);

// Appends a region of `bytes` (rounded up to kArenaAlign) to kernel k's scratch, after its
// other regions (scratch_bytes grows by as much); plan_memory then places the whole scratch.
const ScratchRegion& add_scratch(Kernel& k, ScratchUse use, int64_t bytes, NodeId node = -1, int write = -1);

// Fills plan.memory and the offsets of every Storage::arena value, from the kernels, their
// order and each value's readers (views count as readers of their base).
void plan_memory(const Graph& g, KernelPlan& plan);

}  // namespace kiln
