// The check of a graph's buffers and arena against the memory limit
// (runtime/memory_limit.hpp): in a file of its own, since it needs the backend's buffer
// table and plans, and the data readers, which use the limit, do not.
#include "backend/plan.hpp"
#include "runtime/memory_limit.hpp"
#include "runtime/progress.hpp"
#include <algorithm>
#include <fmt/format.h>

namespace kiln {

namespace {
uint64_t bytes_of(DType t, const Shape& s) {
  auto n = checked_num_elements(s);
  if (!n) return UINT64_MAX;
  uint64_t b = 0;
  if (__builtin_mul_overflow(uint64_t(*n), uint64_t(element_bytes(t)), &b)) return UINT64_MAX;
  return b;
}

std::string size_text(uint64_t b) { return format_bytes(int64_t(std::min<uint64_t>(b, INT64_MAX))); }
}  // namespace

bool check_memory(const Graph& g, uint64_t limit, Diagnostics& d) {
  if (limit == 0) return true;
  struct Use {
    uint64_t bytes;
    NodeId node;
    std::string what;
  };
  std::vector<Use> uses;
  uint64_t params = 0, grads = 0, data = 0;
  for (const backend::BufferSpec& b : backend::buffer_table(g)) {
    uint64_t n = bytes_of(b.dtype, b.shape);
    std::string type = type_str(b.dtype, b.shape);
    using K = backend::BufferKind;
    switch (b.kind) {
      case K::param: params = saturating_add(params, n); uses.push_back({n, b.node, fmt::format("param '{}' ({})", b.name, type)}); break;
      case K::const_: params = saturating_add(params, n); uses.push_back({n, b.node, fmt::format("const '{}' ({})", b.name, type)}); break;
      case K::state: params = saturating_add(params, n); uses.push_back({n, b.node, fmt::format("optimizer state '{}' ({})", b.name, type)}); break;
      case K::grad: grads = saturating_add(grads, n); uses.push_back({n, b.node, fmt::format("the gradient of '{}' ({})", b.name, type)}); break;
      case K::input: data = saturating_add(data, n); uses.push_back({n, b.node, fmt::format("input '{}' ({})", b.name, type)}); break;
      default: data = saturating_add(data, n); uses.push_back({n, b.node, fmt::format("{} '{}' ({})", backend::buffer_kind_name(b.kind), b.name, type)}); break;
    }
  }
  // The arena of the largest entry point, as compile_graph sizes it.
  uint64_t arena = 0;
  KernelPlan largest;
  for (PlanScope s : {PlanScope::step, PlanScope::forward, PlanScope::predict, PlanScope::monitor}) {
    KernelPlan p = backend::codegen_plan(g, s);
    if (uint64_t(p.memory.peak_bytes) > arena || largest.kernels.empty()) {
      arena = uint64_t(p.memory.peak_bytes);
      largest = std::move(p);
    }
  }
  for (const ArenaSlot& s : largest.memory.slots)
    if (s.node >= 0)
      uses.push_back({uint64_t(s.bytes), s.node,
                      fmt::format("an intermediate value ({})", type_str(g[s.node].dtype, g[s.node].shape))});
  uint64_t total = saturating_add(saturating_add(params, grads), saturating_add(data, arena));
  if (total <= limit) return true;

  std::stable_sort(uses.begin(), uses.end(), [](const Use& a, const Use& b) { return a.bytes > b.bytes; });
  std::string parts;
  auto part = [&](uint64_t b, const char* what) {
    if (b) parts += fmt::format("{}{} {}", parts.empty() ? "" : ", ", what, size_text(b));
  };
  part(params, "params and optimizer state");
  part(grads, "gradients");
  part(data, "inputs and outputs");
  part(arena, "intermediate values");
  SourceRange at = uses.empty() ? SourceRange{} : g[uses[0].node].loc;
  auto& e = d.error("memory", at,
                    fmt::format("the model needs {} of memory, more than the limit of {} (--max-memory): {}",
                                size_text(total), size_text(limit), parts));
  // The three largest, each once (a value and its fused copies share a source range and type).
  for (size_t k = 0; k < uses.size() && e.notes.size() < 3 && uses[k].bytes > 0; ++k) {
    DiagNote n{fmt::format("{} takes {}", uses[k].what, size_text(uses[k].bytes)), g[uses[k].node].loc};
    bool seen = false;
    for (const DiagNote& x : e.notes) seen = seen || (x.message == n.message && x.loc == n.loc);
    if (!seen) e.notes.push_back(std::move(n));
  }
  return false;
}

}  // namespace kiln
