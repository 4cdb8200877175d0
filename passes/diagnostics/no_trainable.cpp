// Check no-trainable: the minimised loss depends on no param, so nothing would ever update.
#include "passes/diagnostics/check.hpp"
#include <fmt/format.h>

namespace kiln {

void check_no_trainable(CheckContext& c) {
  if (!c.loss) return;
  const Graph& g = c.g;
  std::vector<NodeId> leaves;
  for (size_t i = 0; i < g.size(); ++i) {
    if (!c.feeds_loss[i]) continue;
    Op op = g.nodes[i].op;
    if (op == Op::param) return;
    if (op == Op::const_ || op == Op::input) leaves.push_back(NodeId(i));
  }
  SourceRange loc = g.train.minimize_loc.valid() ? g.train.minimize_loc : g[*c.loss].loc;
  std::string loss_name = g[*c.loss].name.empty() ? "the loss" : "'" + g[*c.loss].name + "'";
  Diagnostic* d = c.report(loc, fmt::format("{} depends on no param: training would never update anything", loss_name));
  if (!d) return;
  for (NodeId id : leaves) {
    const Node& n = g[id];
    if (n.op == Op::const_)
      d->notes.push_back({fmt::format("it depends on const '{}', which is never updated", n.name), n.loc});
    else
      d->notes.push_back({fmt::format("it depends on input '{}', which comes from the data", n.name), n.loc});
  }
  if (leaves.empty()) d->notes.push_back({"it depends on no declaration at all: it is a constant", {}});
  d->fixits.push_back({"declare the weights that should learn with 'param' instead of 'const'", {}, ""});
}

}  // namespace kiln
