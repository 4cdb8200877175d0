// Common-subexpression elimination: nodes computing the same op on the same operands
// (with equal attributes and type) are merged into the first of them.
//
// Algorithm:
//  1. Compute the live nodes (passes/simplify.hpp); dead nodes are left to DCE.
//  2. Walk the live nodes in id order (a topological order). Rewrite each node's
//     operands through `rep` (the representative of every merged node so far).
//  3. Leaves are never merged (two params with equal types are different variables),
//     except literals with equal dtype, shape and data.
//  4. Other nodes: key = (op, operands, attrs, dtype, shape). The key is hashed; on a hit
//     with an equal key the node's representative becomes the earlier node.
//  5. Rewrite all roots through `rep`; the merged nodes become dead (DCE removes them).
#include "passes/simplify.hpp"
#include <cmath>
#include <functional>
#include <unordered_map>

namespace kiln {

namespace {

size_t mix(size_t h, size_t v) { return h ^ (v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2)); }

size_t hash_node(const Node& n) {
  size_t h = static_cast<size_t>(n.op);
  h = mix(h, static_cast<size_t>(n.dtype));
  for (auto d : n.shape) h = mix(h, std::hash<int64_t>{}(d));
  for (auto i : n.in) h = mix(h, std::hash<NodeId>{}(i));
  for (auto a : n.attrs.axes) h = mix(h, std::hash<int64_t>{}(a));
  for (auto d : n.attrs.shape) h = mix(h, std::hash<int64_t>{}(d));
  h = mix(h, std::hash<double>{}(n.attrs.alpha));
  h = mix(h, std::hash<int64_t>{}(n.attrs.n));
  h = mix(h, n.attrs.keepdims);
  for (double v : n.attrs.init.data) h = mix(h, std::hash<double>{}(v));
  return h;
}

// Equal keys: same op, operands, attributes and type. Literal data is compared
// bitwise-exactly through double equality, except that NaN literals never merge and
// 0.0 and -0.0 are kept apart.
bool same_key(const Node& a, const Node& b) {
  if (a.op != b.op || a.dtype != b.dtype || a.shape != b.shape || a.in != b.in) return false;
  const Attrs &x = a.attrs, &y = b.attrs;
  if (x.axes != y.axes || x.keepdims != y.keepdims || x.shape != y.shape || x.alpha != y.alpha || x.n != y.n ||
      x.normalize != y.normalize || x.init.kind != y.init.kind || x.init.a != y.init.a || x.init.b != y.init.b ||
      x.init.data.size() != y.init.data.size())
    return false;
  for (size_t i = 0; i < x.init.data.size(); ++i)
    if (!(x.init.data[i] == y.init.data[i]) || std::signbit(x.init.data[i]) != std::signbit(y.init.data[i]))
      return false;
  return true;
}

class Cse final : public Pass {
 public:
  std::string_view name() const override { return "cse"; }
  PassResult run(Graph& g, Diagnostics&) override {
    std::vector<char> live = live_nodes(g);
    std::vector<NodeId> rep(g.size());
    std::unordered_multimap<size_t, NodeId> seen;
    bool changed = false;
    for (NodeId i = 0; i < static_cast<NodeId>(g.size()); ++i) {
      rep[i] = i;
      if (!live[i]) continue;
      Node& n = g[i];
      for (NodeId& in : n.in) in = rep[in];
      if (op_row(n.op).cls == OpClass::leaf && n.op != Op::literal) continue;
      size_t h = hash_node(n);
      auto [lo, hi] = seen.equal_range(h);
      for (auto it = lo; it != hi; ++it)
        if (same_key(g[it->second], n)) {
          rep[i] = it->second;
          break;
        }
      if (rep[i] != i) {
        changed = true;
        continue;
      }
      seen.emplace(h, i);
    }
    if (changed) g.remap_roots(rep);
    return PassResult::success(changed);
  }
};

}  // namespace

std::unique_ptr<Pass> make_cse_pass() { return std::make_unique<Cse>(); }

}  // namespace kiln
