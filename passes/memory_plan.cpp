// Memory planning: live ranges of the arena values over the kernel order, then greedy
// placement by decreasing size into the best-fitting gap among the values live at the
// same time (64-byte aligned).
//
// Algorithm:
//  1. Every Storage::arena value is defined by its kernel (position `first`) and live
//     through the last kernel that reads it directly or through a view (`last`); a
//     kernel's scratch is live during that kernel only.
//  2. Sort the values by size (largest first; ties by definition, then node id).
//  3. For each, collect the already placed values whose live ranges intersect its own,
//     sorted by offset; take the smallest gap between them (or below the first) that
//     holds it, else place it after the highest one.
//  4. The arena size is the highest end; the size without reuse is the sum of sizes.
#include "passes/memory_plan.hpp"
#include <algorithm>
#include <numeric>

namespace kiln {

static int64_t align_up(int64_t b) { return (b + kArenaAlign - 1) / kArenaAlign * kArenaAlign; }

std::string_view scratch_use_name(ScratchUse u) {
  static constexpr std::string_view names[] = {"op", "anchor", "copy"};
  return names[static_cast<int>(u)];
}

const ScratchRegion& add_scratch(Kernel& k, ScratchUse use, int64_t bytes, NodeId node, int write) {
  ScratchRegion r{use, node, write, align_up(k.scratch_bytes), align_up(bytes)};
  k.scratch_bytes = r.offset + r.bytes;
  k.scratch.push_back(r);
  return k.scratch.back();
}

std::vector<int64_t> assign_offsets(const std::vector<LiveValue>& values, int64_t& peak) {
  std::vector<size_t> order(values.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    int64_t sa = align_up(values[a].bytes), sb = align_up(values[b].bytes);
    if (sa != sb) return sa > sb;
    return values[a].first < values[b].first;
  });
  std::vector<int64_t> off(values.size(), -1);
  std::vector<size_t> placed;
  peak = 0;
  std::vector<std::pair<int64_t, int64_t>> busy;  // [begin, end) of intersecting placed values
  for (size_t i : order) {
    const LiveValue& v = values[i];
    int64_t size = align_up(v.bytes);
    busy.clear();
    for (size_t j : placed)
      if (values[j].first <= v.last && v.first <= values[j].last) busy.push_back({off[j], off[j] + align_up(values[j].bytes)});
    std::sort(busy.begin(), busy.end());
    int64_t best = -1, best_gap = 0, cursor = 0;
    for (auto [b, e] : busy) {
      if (b - cursor >= size && (best < 0 || b - cursor < best_gap)) {
        best = cursor;
        best_gap = b - cursor;
      }
      cursor = std::max(cursor, e);
    }
    off[i] = best >= 0 ? best : cursor;
    peak = std::max(peak, off[i] + size);
    placed.push_back(i);
  }
  return off;
}

void plan_memory(const Graph& g, KernelPlan& plan) {
  const size_t N = g.size();
  // 1. Live ranges.
  std::vector<int> last(N, -1);
  for (size_t k = 0; k < plan.kernels.size(); ++k)
    for (NodeId o : plan.kernels[k].inputs) {
      NodeId b = plan.values[o].base;
      last[b] = std::max(last[b], int(k));
    }
  std::vector<LiveValue> req;
  std::vector<NodeId> who;
  for (NodeId i = 0; i < NodeId(N); ++i) {
    const ValuePlace& v = plan.values[i];
    if (v.storage != Storage::arena) continue;
    req.push_back({v.bytes, v.kernel, std::max(last[i], v.kernel)});
    who.push_back(i);
  }
  // Kernel scratch: live during its kernel only.
  for (size_t k = 0; k < plan.kernels.size(); ++k)
    if (plan.kernels[k].scratch_bytes > 0) {
      req.push_back({plan.kernels[k].scratch_bytes, int(k), int(k)});
      who.push_back(-1);
    }
  // 2-4. Placement.
  MemoryPlan& m = plan.memory;
  m = {};
  std::vector<int64_t> off = assign_offsets(req, m.peak_bytes);
  for (Kernel& k : plan.kernels) k.scratch_offset = -1;
  for (size_t r = 0; r < req.size(); ++r) {
    if (who[r] >= 0) plan.values[who[r]].offset = off[r];
    else plan.kernels[req[r].first].scratch_offset = off[r];
    m.slots.push_back({who[r], off[r], req[r].bytes, req[r].first, req[r].last});
    m.unshared_bytes += align_up(req[r].bytes);
  }
  // Views of arena values read at their base's offset.
  for (NodeId i = 0; i < NodeId(N); ++i)
    if (plan.values[i].storage == Storage::view && plan.values[plan.values[i].base].storage == Storage::arena)
      plan.values[i].offset = plan.values[plan.values[i].base].offset;
}

}  // namespace kiln
