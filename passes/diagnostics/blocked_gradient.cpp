// Check blocked-gradient: a param reaches the loss only through ops without a gradient
// (round floor ceil sign argmax stop_gradient, comparisons, one_hot, where's condition).
#include "passes/diagnostics/check.hpp"
#include <fmt/format.h>

namespace kiln {

void check_blocked_gradient(CheckContext& c) {
  if (!c.loss) return;
  const Graph& g = c.g;
  for (NodeId p : g.params) {
    if (!c.feeds_loss[p] || c.grad_reaches[p]) continue;
    // The blocking op: the first zero-gradient node (or where's condition) on a path from p
    // to the loss whose operand still carries p's gradient.
    std::vector<char> from_p(g.size(), 0);
    from_p[p] = 1;
    NodeId blocker = -1;
    for (size_t i = size_t(p) + 1; i < g.size() && blocker < 0; ++i) {
      const Node& n = g.nodes[i];
      for (size_t k = 0; k < n.in.size(); ++k) {
        if (!from_p[n.in[k]]) continue;
        from_p[i] = 1;
        bool blocks = op_row(n.op).zero_grad || (n.op == Op::where && k == 0);
        if (blocks && c.feeds_loss[i] && c.grad_reaches[i]) blocker = NodeId(i);
      }
    }
    const Node& pn = g[p];
    std::string op = blocker >= 0 ? std::string(op_name(g[blocker].op)) : "an op without a gradient";
    SourceRange loc = blocker >= 0 && g[blocker].loc.valid() ? g[blocker].loc : pn.loc;
    Diagnostic* d = c.report(loc, fmt::format("every path from param '{}' to the loss passes through {}, which has no "
                                              "gradient: '{}' will never change", pn.name, op, pn.name));
    if (!d) continue;
    d->notes.push_back({fmt::format("'{}' is declared here", pn.name), pn.loc});
    d->fixits.push_back({blocker >= 0 && g[blocker].op == Op::round
                             ? "compute the loss on the unrounded value; keep round for metrics and outputs"
                             : "keep ops without a gradient out of the loss (metrics and outputs may use them)",
                         {}, ""});
  }
}

}  // namespace kiln
