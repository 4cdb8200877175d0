// The IR as a Graphviz digraph: one box per node (`%id op`, type, name), edges from
// operand to user; leaves coloured by kind, the loss and the outputs highlighted.
#include "ir/printer.hpp"
#include <fmt/format.h>

namespace kiln {

namespace {

// The body of a DOT quoted string: quotes and backslashes escaped, lines joined by \n.
std::string dot_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\', out += c;
    else if (c == '\n') out += "\\n";
    else if (static_cast<unsigned char>(c) < 0x20) out += ' ';
    else out += c;
  }
  return out;
}

const char* leaf_style(Op op) {
  switch (op) {
    case Op::input: return "shape=invhouse, style=filled, fillcolor=\"#cfe2ff\"";
    case Op::param: return "shape=box, style=\"filled,rounded\", fillcolor=\"#d1f2d1\"";
    case Op::const_: return "shape=box, style=filled, fillcolor=\"#e6e6e6\"";
    case Op::state: return "shape=box, style=\"filled,dashed\", fillcolor=\"#f3e3ff\"";
    case Op::literal: return "shape=plaintext";
    default: return "shape=box";
  }
}

}  // namespace

std::string print_ir_dot(const Graph& g) {
  const auto size = static_cast<NodeId>(g.nodes.size());
  std::vector<std::string> roles(g.nodes.size());
  auto role = [&](NodeId id, const std::string& r) {
    if (id >= 0 && id < size) roles[id] += (roles[id].empty() ? "" : ", ") + r;
  };
  if (g.train.minimize) role(*g.train.minimize, "loss");
  for (auto& [name, id] : g.outputs) role(id, "output " + name);
  for (auto& [name, id] : g.train.metrics) role(id, "metric " + name);

  std::string out = fmt::format("digraph \"{}\" {{\n", dot_escape(g.model_name.empty() ? "ir" : g.model_name));
  out += "  node [fontname=\"monospace\", fontsize=10];\n  edge [arrowsize=0.6, fontname=\"monospace\", fontsize=9];\n";
  for (NodeId i = 0; i < size; ++i) {
    const Node& n = g.nodes[i];
    if (static_cast<int>(n.op) >= kNumOps) continue;
    std::string label = fmt::format("%{} {}\n{}", i, op_name(n.op), type_str(n.dtype, n.shape));
    if (!n.name.empty()) label += "\n" + n.name;
    if (!roles[i].empty()) label += "\n[" + roles[i] + "]";
    std::string style = leaf_style(n.op);
    if (n.op == Op::literal && n.shape.empty() && n.attrs.init.data.size() == 1)
      label = fmt::format("%{} {}", i, n.attrs.init.data[0]);
    if (!roles[i].empty())
      style += g.train.minimize && *g.train.minimize == i ? ", color=red, penwidth=2.5, fontcolor=red"
                                                          : ", color=blue, penwidth=2.5";
    out += fmt::format("  n{} [label=\"{}\", {}];\n", i, dot_escape(label), style);
  }
  for (NodeId i = 0; i < size; ++i)
    for (NodeId x : g.nodes[i].in)
      if (x >= 0 && x < size) out += fmt::format("  n{} -> n{};\n", x, i);
  // Gradients and updates: dashed edges to the param/state they belong to.
  for (auto& [p, gr] : g.grads)
    if (p >= 0 && p < size && gr >= 0 && gr < size)
      out += fmt::format("  n{} -> n{} [style=dashed, color=gray40, label=\"grad\", constraint=false];\n", gr, p);
  for (auto& u : g.updates)
    if (u.target >= 0 && u.target < size && u.value >= 0 && u.value < size)
      out += fmt::format("  n{} -> n{} [style=dashed, color=darkgreen, label=\"update\", constraint=false];\n",
                         u.value, u.target);
  out += "}\n";
  return out;
}

}  // namespace kiln
