// Check vanishing-gradient: three or more saturating activations (the ops whose row says so:
// sigmoid, tanh, ...) between a param and the loss; estimates how much the gradient shrinks
// on its way back (by each one's largest derivative, OpRow::act).
#include "passes/diagnostics/check.hpp"
#include <cmath>
#include <fmt/format.h>

namespace kiln {

namespace {
bool saturating(Op op) { return op_row(op).act.kind == ActKind::saturating; }
}

void check_vanishing_gradient(CheckContext& c) {
  if (!c.loss) return;
  const Graph& g = c.g;
  size_t n = g.size();
  // 1. best[i]: most saturating activations on a differentiable path from i to the loss
  //    (i excluded); next[i]: the user on that path.
  std::vector<int> best(n, -1);
  std::vector<NodeId> next(n, -1);
  best[*c.loss] = 0;
  for (size_t i = n; i-- > 0;) {
    if (!c.grad_reaches[i] || NodeId(i) == *c.loss) continue;
    for (NodeId u : c.users[i]) {
      const Node& un = g[u];
      if (best[u] < 0 || op_row(un.op).zero_grad || (un.op == Op::where && un.in[0] == NodeId(i))) continue;
      int cand = best[u] + (saturating(un.op) ? 1 : 0);
      if (cand > best[i]) { best[i] = cand; next[i] = u; }
    }
  }
  // 2. The param with the longest such path (the first layer).
  NodeId first = -1;
  for (NodeId p : g.params)
    if (best[p] >= 3 && (first < 0 || best[p] > best[first])) first = p;
  if (first < 0) return;
  // 3. Walk the path: the activations, and the weights whose transposes scale the gradient.
  std::vector<NodeId> acts;
  double factor = 1;
  std::string kinds;
  for (NodeId v = first; next[v] >= 0; v = next[v]) {
    NodeId u = next[v];
    const Node& un = g[u];
    if (saturating(un.op)) {
      acts.push_back(u);
      factor *= op_row(un.op).act.max_slope;
      std::string k(op_name(un.op));
      if (kinds.find(k) == std::string::npos) kinds += (kinds.empty() ? "" : ", ") + k;
    }
    if (un.op == Op::matmul && v != first) {
      int k = un.in[0] == v ? 0 : 1;
      const Node& w = g[un.in[1 - k]];
      if (w.op == Op::param || w.op == Op::const_) {
        double mean, var;
        init_moments(g, un.in[1 - k], mean, var);
        double width = k == 0 ? double(w.shape.back()) : double(w.shape.front());
        if (var + mean * mean > 0) factor *= std::sqrt(width * (var + mean * mean));
      }
    }
  }
  const Node& p = g[first];
  SourceRange loc = g[acts.front()].loc.valid() ? g[acts.front()].loc : p.loc;
  std::string effect = factor > 0 && factor < 0.5
                           ? fmt::format("arrives about {:.0f}x smaller than it left the loss", 1.0 / factor)
                           : "shrinks towards 0 as they saturate (their derivatives vanish for large inputs)";
  Diagnostic* d = c.report(loc, fmt::format("the gradient reaching '{}' passes through {} saturating activations ({}) "
                                            "and {}",
                                            p.name, acts.size(), kinds, effect));
  if (!d) return;
  for (NodeId a : acts)
    d->notes.push_back({fmt::format("{}: its derivative is at most {}", c.describe(a), op_row(g[a].op).act.slope), g[a].loc});
  d->notes.push_back({fmt::format("'{}' is declared here (the estimate scales by the initialisers' statistics)", p.name), p.loc});
  c.add_fixit(d, {"use relu-family activations (relu, leaky_relu, gelu, silu) with he_* initialisers", {}, ""});
}

}  // namespace kiln
