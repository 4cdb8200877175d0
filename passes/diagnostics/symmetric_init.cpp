// Check symmetric-init: a weight matrix that feeds hidden units starts with every element
// equal, so the units compute, and learn, the same thing.
#include "passes/diagnostics/check.hpp"
#include <algorithm>
#include <fmt/format.h>

namespace kiln {

namespace {
bool constant_init(const Init& in) {
  switch (in.kind) {
    case InitKind::zeros: case InitKind::ones: case InitKind::constant: return true;
    case InitKind::literal:
      return !in.data.empty() && std::all_of(in.data.begin(), in.data.end(), [&](double v) { return v == in.data[0]; });
    default: return false;
  }
}
// True when another matmul lies downstream of `m` on the way to the loss.
bool feeds_hidden(const CheckContext& c, NodeId m) {
  std::vector<char> seen(c.g.size(), 0);
  std::vector<NodeId> stack(c.users[m].begin(), c.users[m].end());
  while (!stack.empty()) {
    NodeId u = stack.back();
    stack.pop_back();
    if (seen[u] || !c.feeds_loss[u]) continue;
    seen[u] = 1;
    if (c.g[u].op == Op::matmul) return true;
    for (NodeId v : c.users[u]) stack.push_back(v);
  }
  return false;
}
bool directly_relu(const CheckContext& c, NodeId m) {
  for (NodeId u : c.users[m]) {
    if (c.g[u].op == Op::relu) return true;
    if (c.g[u].op == Op::add)
      for (NodeId v : c.users[u])
        if (c.g[v].op == Op::relu) return true;
  }
  return false;
}
}  // namespace

void check_symmetric_init(CheckContext& c) {
  if (!c.loss) return;
  const Graph& g = c.g;
  for (NodeId p : g.params) {
    const Node& w = g[p];
    if (w.shape.size() != 2 || !constant_init(w.attrs.init) || !c.feeds_loss[p]) continue;
    NodeId layer = -1;
    for (NodeId u : c.users[p])
      if (g[u].op == Op::matmul && c.feeds_loss[u] && feeds_hidden(c, u)) { layer = u; break; }
    if (layer < 0) continue;
    bool zero = w.attrs.init.kind == InitKind::zeros ||
                (w.attrs.init.kind == InitKind::constant && w.attrs.init.a == 0) ||
                (w.attrs.init.kind == InitKind::literal && w.attrs.init.data[0] == 0);
    Diagnostic* d = c.report(w.loc, fmt::format("weight matrix '{}' starts with every element equal ({}): every hidden "
                                                "unit gets the same gradient and the units stay identical",
                                                w.name, init_name(w.attrs.init.kind)));
    if (!d) continue;
    d->notes.push_back({fmt::format("'{}' feeds the hidden units of {}", w.name, c.text(layer)), g[layer].loc});
    bool relu = directly_relu(c, layer);
    if (zero && relu) d->notes.push_back({"with zero weights before relu the units get no gradient at all", {}});
    std::string repl = relu ? "he_normal" : "glorot_uniform";
    FixIt f{fmt::format("initialise '{}' randomly: {} (constants are fine for biases)", w.name, repl), {}, repl};
    if (auto r = c.init_text_range(p)) f.loc = *r;
    d->fixits.push_back(f);
  }
}

}  // namespace kiln
