// Check sqrt-at-zero: sqrt or rsqrt, on the way to the loss, of a value that can be 0,
// where the derivative is infinite.
#include "passes/diagnostics/check.hpp"
#include <fmt/format.h>

namespace kiln {

void check_sqrt_at_zero(CheckContext& c) {
  if (!c.loss) return;
  const Graph& g = c.g;
  for (size_t i = 0; i < g.size(); ++i) {
    const Node& n = g.nodes[i];
    if ((n.op != Op::sqrt && n.op != Op::rsqrt) || !c.feeds_loss[i]) continue;
    NodeId x = n.in[0];
    const Interval& r = c.ranges[x];
    if (r.lo > 0 && !r.nan) continue;
    Diagnostic* d = c.report(
        n.loc, n.op == Op::sqrt
                   ? "sqrt of a value that can be 0: its gradient 1 / (2 sqrt(x)) is infinite there"
                   : "rsqrt of a value that can be 0: the value and its gradient are infinite there");
    if (!d) continue;
    d->notes.push_back({fmt::format("{} can take any value in {}", c.text(x), interval_str(r)), g[x].loc});
    std::string repl = fmt::format("{}({} + 1e-12)", op_name(n.op), c.text(x));
    d->fixits.push_back({fmt::format("add a small epsilon inside: {}", repl), n.loc, repl});
  }
}

}  // namespace kiln
