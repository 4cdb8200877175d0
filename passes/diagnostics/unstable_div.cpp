// Check unstable-div: division, on the way to the loss, by a value whose range includes 0.
#include "passes/diagnostics/check.hpp"
#include "passes/stabilize.hpp"
#include <fmt/format.h>

namespace kiln {

void check_unstable_div(CheckContext& c) {
  if (!c.loss) return;
  const Graph& g = c.g;
  std::vector<char> softmax_root(g.size(), 0);
  for (auto& r : find_stable_rewrites(g))
    if (r.kind == RewriteKind::softmax) softmax_root[r.root] = 1;  // reported by unstable-exp
  for (size_t i = 0; i < g.size(); ++i) {
    const Node& n = g.nodes[i];
    if (n.op != Op::div || softmax_root[i] || !c.feeds_loss[i]) continue;
    NodeId b = n.in[1];
    const Interval& r = c.ranges[b];
    if (!r.contains_zero() && !r.nan) continue;
    Diagnostic* d = c.report(n.loc, "division by a value that can be 0: the result and its gradient become inf or NaN");
    if (!d) continue;
    d->notes.push_back({fmt::format("the divisor {} can take any value in {}", c.text(b), interval_str(r)), g[b].loc});
    std::string repl = fmt::format("{} / ({} + 1e-7)", c.text(n.in[0]), c.text(b));
    d->fixits.push_back({fmt::format("add a small epsilon to the divisor: {}", repl), n.loc, repl});
  }
}

}  // namespace kiln
