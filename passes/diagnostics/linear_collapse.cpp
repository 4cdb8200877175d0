// Check linear-collapse: a matrix product of a matrix product (through bias adds, shape ops
// and scalings only) with no non-linearity between: the two layers are one linear map.
#include "passes/diagnostics/check.hpp"
#include <fmt/format.h>

namespace kiln {

namespace {
bool scalar_literal(const Node& n) { return n.op == Op::literal && n.shape.empty(); }

// The matmul that produces `v` through linear ops only, or -1.
NodeId linear_source(const Graph& g, NodeId v, int depth = 0) {
  if (depth > 16) return -1;
  const Node& n = g[v];
  switch (n.op) {
    case Op::matmul: return v;
    case Op::neg: case Op::transpose: case Op::reshape: case Op::broadcast_to:
      return linear_source(g, n.in[0], depth + 1);
    case Op::add: case Op::sub:
      for (NodeId a : n.in)
        if (NodeId m = linear_source(g, a, depth + 1); m >= 0) return m;
      return -1;
    case Op::mul: case Op::div:
      if (scalar_literal(g[n.in[1]])) return linear_source(g, n.in[0], depth + 1);
      if (n.op == Op::mul && scalar_literal(g[n.in[0]])) return linear_source(g, n.in[1], depth + 1);
      return -1;
    default: return -1;
  }
}
}  // namespace

void check_linear_collapse(CheckContext& c) {
  if (!c.loss) return;
  const Graph& g = c.g;
  for (size_t i = 0; i < g.size(); ++i) {
    const Node& m = g.nodes[i];
    if (m.op != Op::matmul || !c.feeds_loss[i]) continue;
    for (int k = 0; k < 2; ++k) {
      NodeId first = linear_source(g, m.in[k]);
      if (first < 0 || !c.depends_on(m.in[1 - k], Op::param) || !c.depends_on(first, Op::param)) continue;
      Diagnostic* d = c.report(m.loc, "two matrix products follow each other with no non-linearity between them: the "
                                      "stack is one linear map");
      if (!d) break;
      d->notes.push_back({fmt::format("the first product: {}", c.text(first)), g[first].loc});
      std::string repl = fmt::format("relu({})", c.text(m.in[k]));
      d->fixits.push_back({fmt::format("put an activation between the layers: {}", repl), g[m.in[k]].loc, repl});
      break;
    }
  }
}

}  // namespace kiln
