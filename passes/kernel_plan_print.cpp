// The text form of a kernel plan (`kiln dump --stage=fused`): a summary, every kernel with
// the nodes it fuses (role, storage, user name, source location), and the arena layout;
// and the same as JSON (`--format=json`). Formats: docs/fusion.md.
#include "passes/fusion.hpp"
#include "ir/json_text.hpp"
#include <algorithm>
#include <array>
#include <fmt/format.h>
#include <fmt/ranges.h>

namespace kiln {

namespace {

std::string location(const Graph& g, const Node& n) {
  if (!n.loc.valid()) return "";
  return fmt::format("{}:{}:{}", g.file.empty() ? "<model>" : g.file, n.loc.line, n.loc.col);
}

std::string_view leaf_word(Op op) {
  switch (op) {
    case Op::input: return "input";
    case Op::param: return "param";
    case Op::const_: return "const";
    case Op::state: return "state";
    default: return "literal";
  }
}

std::string where(const KernelPlan& p, NodeId id) {
  const ValuePlace& v = p.values[id];
  switch (v.storage) {
    case Storage::arena: return fmt::format("arena @{} {}B", v.offset, v.bytes);
    case Storage::root: return fmt::format("root {}B", v.bytes);
    case Storage::target: return fmt::format("-> %{} in place", v.target);
    default: return std::string(storage_name(v.storage));
  }
}

// How a kernel input is reached: the leaf's kind and name, a view's base, or its producer.
std::string input_desc(const Graph& g, const KernelPlan& p, NodeId id) {
  const ValuePlace& v = p.values[id];
  const Node& n = g[id];
  switch (v.storage) {
    case Storage::leaf: return fmt::format("%{} {} {}", id, leaf_word(n.op), n.name);
    case Storage::literal: return fmt::format("%{} literal", id);
    case Storage::view: return fmt::format("%{} view of {}", id, input_desc(g, p, v.base));
    default: return fmt::format("%{} from k{} ({})", id, v.kernel, where(p, id));
  }
}

std::string_view scope_name(PlanScope s) {
  static constexpr std::string_view names[] = {"step", "forward", "predict", "monitor"};
  return names[static_cast<int>(s)];
}

}  // namespace

std::string print_kernel_plan(const Graph& g, const KernelPlan& p) {
  std::string out;
  auto line = [&](std::string s) {
    out += s;
    out += '\n';
  };
  size_t counts[8] = {};
  for (const ValuePlace& v : p.values) ++counts[static_cast<int>(v.storage)];
  auto cnt = [&](Storage s) { return counts[static_cast<int>(s)]; };
  line(fmt::format("fused {} ({}): {} kernels; {} nodes in registers, {} in the arena, {} in root buffers, {} written "
                   "in place; {} leaves, {} literals, {} views",
                   g.model_name.empty() ? "model" : g.model_name, scope_name(p.scope), p.kernels.size(), cnt(Storage::reg),
                   cnt(Storage::arena), cnt(Storage::root), cnt(Storage::target), cnt(Storage::leaf),
                   cnt(Storage::literal), cnt(Storage::view)));
  line(fmt::format("arena: {} slots, peak {} bytes, {} bytes without reuse", p.memory.slots.size(), p.memory.peak_bytes,
                   p.memory.unshared_bytes));
  // Node lines are columns (id, op and name, type, role, storage, location), each as wide
  // as its widest entry in the plan.
  auto cells = [&](const KernelNode& kn) {
    const Node& n = g[kn.id];
    std::string name = n.name.empty() ? "" : " \"" + n.name + "\"";
    return std::array<std::string, 5>{fmt::format("%{}", kn.id), std::string(op_name(n.op)) + name,
                                      type_str(n.dtype, n.shape), std::string(role_name(kn.role)), where(p, kn.id)};
  };
  std::array<size_t, 5> width{};
  for (const Kernel& K : p.kernels)
    for (const KernelNode& kn : K.nodes) {
      auto c = cells(kn);
      for (size_t i = 0; i < c.size(); ++i) width[i] = std::max(width[i], c[i].size());
    }
  for (size_t k = 0; k < p.kernels.size(); ++k) {
    const Kernel& K = p.kernels[k];
    line("");
    std::string head = fmt::format("kernel {} {}", k, kernel_kind_name(K.kind));
    if (K.kind != KernelKind::commit) head += " " + type_str(g[K.nodes.front().id].dtype, K.shape);
    if (K.kind != KernelKind::commit && K.shape.empty()) head += "[]";
    if (K.anchor >= 0) head += fmt::format(" (anchor %{} {})", K.anchor, op_name(g[K.anchor].op));
    line(head);
    for (const KernelNode& kn : K.nodes) {
      auto c = cells(kn);
      std::string l = " ";
      for (size_t i = 0; i < c.size(); ++i) l += fmt::format(" {:<{}}", c[i], width[i]);
      l += " " + location(g, g[kn.id]);
      while (!l.empty() && l.back() == ' ') l.pop_back();
      line(l);
    }
    std::string reads;
    for (NodeId o : K.inputs) reads += (reads.empty() ? "" : ", ") + input_desc(g, p, o);
    if (!reads.empty()) line("  reads: " + reads);
    if (K.scratch_offset >= 0) line(fmt::format("  scratch: arena @{} {}B", K.scratch_offset, K.scratch_bytes));
    for (const Update& u : K.writes) {
      const Node& t = g[u.target];
      line(fmt::format("  writes: {} {} (%{}) <- %{}", leaf_word(t.op), t.name, u.target, u.value));
    }
  }
  if (!p.memory.slots.empty()) {
    line("");
    line("arena layout:");
    std::vector<ArenaSlot> slots = p.memory.slots;  // by offset, then start
    std::sort(slots.begin(), slots.end(), [](const ArenaSlot& a, const ArenaSlot& b) {
      return a.offset != b.offset ? a.offset < b.offset : a.first < b.first;
    });
    for (const ArenaSlot& s : slots) {
      if (s.node < 0) {
        line(fmt::format("  @{:<8} {:>8}B  {:<19} k{}..k{}", s.offset, s.bytes, "scratch", s.first, s.last));
        continue;
      }
      const Node& n = g[s.node];
      line(fmt::format("  @{:<8} {:>8}B  {:<6} {:<12} k{}..k{}", s.offset, s.bytes, fmt::format("%{}", s.node),
                       type_str(n.dtype, n.shape), s.first, s.last));
    }
  }
  return out;
}


std::string print_kernel_plan_json(const Graph& g, const KernelPlan& p) {
  std::string out = fmt::format("{{\"model\":{},\"scope\":\"{}\",\"kernels\":[", json_quote(g.model_name), scope_name(p.scope));
  for (size_t k = 0; k < p.kernels.size(); ++k) {
    const Kernel& K = p.kernels[k];
    out += fmt::format("{}{{\"index\":{},\"kind\":\"{}\",\"anchor\":{},\"shape\":[{}],\"nodes\":[", k ? "," : "", k,
                       kernel_kind_name(K.kind), K.anchor, fmt::join(K.shape, ","));
    for (size_t j = 0; j < K.nodes.size(); ++j) {
      const Node& n = g[K.nodes[j].id];
      const ValuePlace& v = p.values[K.nodes[j].id];
      out += fmt::format("{}{{\"id\":{},\"op\":\"{}\",\"name\":{},\"type\":{},\"role\":\"{}\",\"storage\":\"{}\","
                         "\"bytes\":{},\"offset\":{},\"target\":{},\"loc\":{}}}",
                         j ? "," : "", K.nodes[j].id, op_name(n.op), json_quote(n.name), json_quote(type_str(n.dtype, n.shape)),
                         role_name(K.nodes[j].role), storage_name(v.storage), v.bytes, v.offset, v.target,
                         json_quote(location(g, n)));
    }
    out += fmt::format("],\"inputs\":[{}],\"outputs\":[{}],\"writes\":[", fmt::join(K.inputs, ","), fmt::join(K.outputs, ","));
    for (size_t w = 0; w < K.writes.size(); ++w)
      out += fmt::format("{}{{\"target\":{},\"value\":{}}}", w ? "," : "", K.writes[w].target, K.writes[w].value);
    out += fmt::format("],\"scratch_bytes\":{},\"scratch_offset\":{}}}", K.scratch_bytes, K.scratch_offset);
  }
  out += "],\"memory\":{\"slots\":[";
  for (size_t s = 0; s < p.memory.slots.size(); ++s) {
    const ArenaSlot& a = p.memory.slots[s];
    out += fmt::format("{}{{\"node\":{},\"offset\":{},\"bytes\":{},\"first\":{},\"last\":{}}}", s ? "," : "", a.node,
                       a.offset, a.bytes, a.first, a.last);
  }
  out += fmt::format("],\"peak_bytes\":{},\"unshared_bytes\":{}}},\"values\":[", p.memory.peak_bytes, p.memory.unshared_bytes);
  bool first = true;
  for (NodeId i = 0; i < NodeId(p.values.size()); ++i) {
    const ValuePlace& v = p.values[i];
    if (v.storage == Storage::none) continue;
    out += fmt::format("{}{{\"id\":{},\"storage\":\"{}\",\"kernel\":{},\"base\":{},\"offset\":{},\"bytes\":{},\"target\":{}}}",
                       first ? "" : ",", i, storage_name(v.storage), v.kernel, v.base, v.offset, v.bytes, v.target);
    first = false;
  }
  return out + "]}\n";
}

}  // namespace kiln
