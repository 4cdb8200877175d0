// Check const-as-param: a const drawn from a random initialiser meets the data on the way to
// the loss; it looks like a weight that was meant to be a param.
#include "passes/diagnostics/check.hpp"
#include "ir/init_dist.hpp"
#include <fmt/format.h>

namespace kiln {

namespace {
bool random_init(const Graph& g, NodeId id) {  // drawn, not a fixed value
  const InitDist d = init_dist(g, id);
  return d.kind == InitDist::normal || d.kind == InitDist::uniform;
}
}  // namespace

void check_const_as_param(CheckContext& c) {
  if (!c.loss) return;
  const Graph& g = c.g;
  for (NodeId k : g.consts) {
    const Node& cn = g[k];
    if (!c.feeds_loss[k] || !random_init(g, k)) continue;
    // A use (through shape ops) that multiplies or is added to a value depending on an input.
    NodeId use = -1;
    std::vector<NodeId> frontier{k};
    while (!frontier.empty() && use < 0) {
      NodeId v = frontier.back();
      frontier.pop_back();
      for (NodeId u : c.users[v]) {
        const Node& un = g[u];
        if (un.op == Op::reshape || un.op == Op::transpose || un.op == Op::broadcast_to) {
          frontier.push_back(u);
          continue;
        }
        bool combines = un.op == Op::mul || un.op == Op::matmul || un.op == Op::add || un.op == Op::sub;
        if (!combines || !c.feeds_loss[u]) continue;
        NodeId other = un.in[0] == v ? un.in[1] : un.in[0];
        if (c.depends_on(other, Op::input)) { use = u; break; }
      }
    }
    if (use < 0) continue;
    const char* how = g[use].op == Op::add || g[use].op == Op::sub ? "is added to" : "multiplies";
    Diagnostic* d = c.report(cn.loc, fmt::format("'{}' is a const drawn from {}: it {} the data on the way to the loss "
                                                 "but will never change; did you mean 'param'?",
                                                 cn.name, init_text(cn.attrs.init), how));
    if (!d) continue;
    d->notes.push_back({fmt::format("used here: {}", c.text(use)), g[use].loc});
    FixIt f{"replace 'const' with 'param'", {}, "param"};
    if (auto r = c.keyword_range(k, "const")) f.loc = *r;
    c.add_fixit(d, f);
  }
}

}  // namespace kiln
