// Check init-scale: a weight's initialiser multiplies the activations' standard deviation by
// more than 10x (or less than 1/10) per layer: sqrt(fan_in * E[w^2]) for x @ w.
#include "passes/diagnostics/check.hpp"
#include <cmath>
#include <fmt/format.h>

namespace kiln {

namespace {
// True when the matmul's output goes (through a bias add) into a relu-family activation
// (its row's OpRow::act says rectifier).
bool feeds_relu(const CheckContext& c, NodeId m) {
  for (NodeId u : c.users[m]) {
    Op op = c.g[u].op;
    if (op_row(op).act.kind == ActKind::rectifier) return true;
    if (op == Op::add && feeds_relu(c, u)) return true;
  }
  return false;
}
}  // namespace

void check_init_scale(CheckContext& c) {
  if (!c.loss) return;
  const Graph& g = c.g;
  std::vector<char> done(g.size(), 0);
  for (size_t i = 0; i < g.size(); ++i) {
    const Node& m = g.nodes[i];
    if (m.op != Op::matmul || !c.feeds_loss[i]) continue;
    double fan_in = double(g[m.in[0]].shape.back());
    for (int k = 0; k < 2; ++k) {
      NodeId wid = m.in[k];
      const Node& w = g[wid];
      if ((w.op != Op::param && w.op != Op::const_) || w.shape.size() != 2 || done[wid]) continue;
      if (!c.depends_on(m.in[1 - k], Op::input)) continue;  // a product of weights, not a layer
      double mean, var;
      init_moments(g, wid, mean, var);
      if (var <= 0) continue;  // constant initialisers: symmetric-init
      double gain = std::sqrt(fan_in * (var + mean * mean));
      if (gain <= 10 && gain >= 0.1) continue;
      done[wid] = 1;
      std::string effect = gain > 10 ? fmt::format("multiplies the activations' standard deviation by about {:.0f}x", gain)
                                     : fmt::format("shrinks the activations' standard deviation about {:.0f}x", 1 / gain);
      Diagnostic* d = c.report(w.loc, fmt::format("'{}' = {} on a {}-wide input {} per layer: activations and gradients "
                                                  "{} through the layers",
                                                  w.name, init_text(w.attrs.init),
                                                  int64_t(fan_in), effect, gain > 10 ? "explode" : "vanish"));
      if (!d) continue;
      d->notes.push_back({fmt::format("used in the layer {}", c.text(NodeId(i))), m.loc});
      std::string repl = feeds_relu(c, NodeId(i)) ? "he_normal" : "glorot_normal";
      FixIt f{fmt::format("initialise with {}, which keeps the scale near 1", repl), {}, repl};
      if (auto r = c.init_text_range(wid)) f.loc = *r;
      c.add_fixit(d, f);
    }
  }
}

}  // namespace kiln
