// Check loss-activation-mismatch: probabilities (sigmoid/softmax outputs) fed to a loss that
// takes logits, or a softmax output trained with squared error.
#include "passes/diagnostics/check.hpp"
#include <fmt/format.h>

namespace kiln {

namespace {
bool is_one_literal(const Node& n) {
  return n.op == Op::literal && n.attrs.init.kind == InitKind::literal && !n.attrs.init.data.empty() &&
         n.attrs.init.data[0] == 1.0;
}
}  // namespace

void check_loss_activation_mismatch(CheckContext& c) {
  if (!c.loss) return;
  const Graph& g = c.g;
  for (size_t i = 0; i < g.size(); ++i) {
    const Node& n = g.nodes[i];
    if (!c.feeds_loss[i]) continue;
    if (n.op == Op::bce_with_logits || n.op == Op::softmax_cross_entropy) {
      NodeId p = c.through_shape(n.in[0]);
      Op act = g[p].op;
      if (act != Op::sigmoid && act != Op::softmax) continue;
      const char* range = act == Op::sigmoid ? "(0.27, 0.73)" : "a narrow band around 1/n";
      Diagnostic* d = c.report(n.loc, fmt::format("{} expects logits, but gets probabilities from {}: the squashing is "
                                                  "applied twice, outputs stay within {} and learning stalls",
                                                  op_name(n.op), c.describe(p), range));
      if (!d) continue;
      d->notes.push_back({fmt::format("the {} is applied here", op_name(act)), g[p].loc});
      std::string z = c.text(g[p].in[0]);
      d->fixits.push_back({fmt::format("pass the logits: replace {} with {}", c.text(p), z), g[p].loc, z});
      continue;
    }
    // squared_error(softmax(z), y), or square(softmax(z) - y) / square(y - softmax(z)).
    NodeId a = -1, b = -1;
    if (n.op == Op::squared_error) {
      a = n.in[0], b = n.in[1];
    } else if (n.op == Op::square && g[n.in[0]].op == Op::sub) {
      a = g[n.in[0]].in[0], b = g[n.in[0]].in[1];
    } else {
      continue;
    }
    NodeId sm = -1, target = -1;
    if (g[c.through_shape(a)].op == Op::softmax) sm = c.through_shape(a), target = b;
    else if (g[c.through_shape(b)].op == Op::softmax) sm = c.through_shape(b), target = a;
    if (sm < 0 || is_one_literal(g[target])) continue;
    Diagnostic* d = c.report(n.loc, "a softmax output trained with squared error: its gradient vanishes as the softmax "
                                    "saturates, so learning is slow (and can stall on confident mistakes)");
    if (!d) continue;
    d->notes.push_back({fmt::format("the softmax is applied here: {}", c.describe(sm)), g[sm].loc});
    std::string repl = fmt::format("softmax_cross_entropy({}, {})", c.text(g[sm].in[0]), c.text(target));
    d->fixits.push_back({fmt::format("train the logits with cross-entropy: {}", repl), n.loc, repl});
  }
}

}  // namespace kiln
