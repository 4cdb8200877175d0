// Graph helpers for the simplification passes: liveness from the roots, topological
// renumbering with dead-node removal, and reading literal data.
#include "passes/simplify.hpp"
#include <cassert>

namespace kiln {

static bool is_declaration(Op op) {
  return op == Op::input || op == Op::param || op == Op::const_ || op == Op::state;
}

std::vector<char> live_nodes(const Graph& g) {
  std::vector<char> live(g.size(), 0);
  std::vector<NodeId> stack = g.roots();
  for (auto& u : g.updates) stack.push_back(u.target);
  for (NodeId i = 0; i < static_cast<NodeId>(g.size()); ++i)
    if (is_declaration(g[i].op)) stack.push_back(i);
  while (!stack.empty()) {
    NodeId id = stack.back();
    stack.pop_back();
    if (live[id]) continue;
    live[id] = 1;
    for (NodeId i : g[id].in)
      if (!live[i]) stack.push_back(i);
  }
  return live;
}

bool compact(Graph& g, bool remove_dead) {
  const size_t n = g.size();
  std::vector<char> keep = remove_dead ? live_nodes(g) : std::vector<char>(n, 1);
  // 1. Visit nodes in id order; each node is emitted after its inputs (iterative DFS),
  //    so an already topological order is kept as it is.
  std::vector<NodeId> order;
  order.reserve(n);
  std::vector<char> state(n, 0);  // 0 new, 1 on the stack, 2 emitted
  std::vector<std::pair<NodeId, size_t>> stack;
  for (NodeId root = 0; root < static_cast<NodeId>(n); ++root) {
    if (!keep[root] || state[root]) continue;
    stack.push_back({root, 0});
    state[root] = 1;
    while (!stack.empty()) {
      auto& [id, next] = stack.back();
      if (next < g[id].in.size()) {
        NodeId in = g[id].in[next++];
        assert(state[in] != 1 && "cycle in the graph");
        if (state[in] == 0) {
          state[in] = 1;
          stack.push_back({in, 0});
        }
        continue;
      }
      state[id] = 2;
      order.push_back(id);
      stack.pop_back();
    }
  }
  // 2. Build the old -> new id map; nothing to do when it is the identity.
  std::vector<NodeId> map(n, -1);
  bool identity = order.size() == n;
  for (size_t k = 0; k < order.size(); ++k) {
    map[order[k]] = static_cast<NodeId>(k);
    if (order[k] != static_cast<NodeId>(k)) identity = false;
  }
  if (identity) return false;
  // 3. Move the kept nodes into their new places and rewrite every use.
  std::vector<Node> nodes;
  nodes.reserve(order.size());
  for (NodeId id : order) nodes.push_back(std::move(g.nodes[id]));
  g.nodes = std::move(nodes);
  g.remap_roots(map);
  return true;
}

bool literal_values(const Node& n, std::vector<double>& out) {
  if (n.op != Op::literal) return false;
  const size_t count = static_cast<size_t>(num_elements(n.shape));
  const Init& init = n.attrs.init;
  switch (init.kind) {
    case InitKind::literal:
      if (init.data.size() == count) { out = init.data; return true; }
      if (init.data.size() == 1) { out.assign(count, init.data[0]); return true; }
      return false;
    case InitKind::zeros: out.assign(count, 0.0); return true;
    case InitKind::ones: out.assign(count, 1.0); return true;
    case InitKind::constant: out.assign(count, init.a); return true;
    default: return false;
  }
}

}  // namespace kiln
