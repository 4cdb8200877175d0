// Check unstable-exp: exp of a value that can exceed the overflow threshold (88.7 in f32),
// and hand-written softmax exp(z) / sum(exp(z)) (which the stabilize pass rewrites).
#include "passes/diagnostics/check.hpp"
#include "passes/stabilize.hpp"
#include <fmt/format.h>

namespace kiln {

void check_unstable_exp(CheckContext& c) {
  if (!c.loss) return;
  const Graph& g = c.g;
  std::vector<char> covered(g.size(), 0);
  for (auto& r : find_stable_rewrites(g)) {
    if (r.kind != RewriteKind::softmax) continue;
    for (NodeId k : r.covered) covered[k] = 1;
    if (!c.feeds_loss[r.root]) continue;
    const Node& root = g[r.root];
    const FloatLimits& L = float_limits(root.dtype);
    Diagnostic* d = c.report(root.loc, fmt::format("hand-written softmax: exp overflows to inf in {} once {} exceeds {:.1f}, "
                                                   "and the sum can underflow to 0",
                                                   dtype_name(root.dtype), c.text(r.z), L.exp_overflow));
    if (!d) continue;
    d->notes.push_back({fmt::format("{} can take any value in {}", c.text(r.z), interval_str(c.ranges[r.z])), g[r.z].loc});
    std::string repl = fmt::format("softmax({}, axis={})", c.text(r.z), r.axis);
    if (c.opts.rewrite)
      d->fixits.push_back({fmt::format("rewritten as {}; pass --no-rewrite to keep the expression as written", r.after),
                           root.loc, repl});
    else
      d->fixits.push_back({fmt::format("write {} instead: it subtracts the maximum first", repl), root.loc, repl});
  }
  for (size_t i = 0; i < g.size(); ++i) {
    const Node& n = g.nodes[i];
    if (n.op != Op::exp || covered[i] || !c.feeds_loss[i]) continue;
    NodeId x = n.in[0];
    const FloatLimits& L = float_limits(n.dtype);
    if (c.ranges[x].hi <= L.exp_overflow) continue;
    Diagnostic* d = c.report(n.loc, fmt::format("exp of a value that can exceed {:.1f}: it overflows to inf in {}",
                                                L.exp_overflow, dtype_name(n.dtype)));
    if (!d) continue;
    d->notes.push_back({fmt::format("{} can take any value in {}", c.text(x), interval_str(c.ranges[x])), g[x].loc});
    std::string repl = fmt::format("exp(clip({}, -80, 80))", c.text(x));
    d->fixits.push_back({fmt::format("shift the argument (subtract its maximum) or clip it: {}", repl), n.loc, repl});
  }
}

}  // namespace kiln
