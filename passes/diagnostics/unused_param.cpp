// Check unused-param: a param that does not reach the loss has a gradient of exactly zero.
#include "passes/diagnostics/check.hpp"
#include <fmt/format.h>

namespace kiln {

void check_unused_param(CheckContext& c) {
  if (!c.loss) return;
  const Graph& g = c.g;
  for (NodeId p : g.params) {
    if (c.feeds_loss[p]) continue;
    const Node& n = g[p];
    Diagnostic* d = c.report(n.loc, fmt::format("param '{}' does not reach the loss: its gradient is identically zero "
                                                "and it will never change", n.name));
    if (!d) continue;
    if (c.users[p].empty())
      d->notes.push_back({fmt::format("'{}' is not used anywhere", n.name), {}});
    else
      d->notes.push_back({"it is only used here, which the loss does not depend on", g[c.users[p][0]].loc});
    if (g.train.minimize_loc.valid()) d->notes.push_back({"the loss is minimised here", g.train.minimize_loc});
    d->fixits.push_back({fmt::format("use '{}' in the computation of the loss, or remove it", n.name), {}, ""});
  }
}

}  // namespace kiln
