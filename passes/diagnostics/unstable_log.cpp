// Check unstable-log: log (log1p, bce) of a value whose floating-point range reaches 0
// (-1 for log1p; 0 or 1 for bce's probability). Notes name the op that saturates; the
// fix-it is the stabilize pass's rewrite where one exists, else an epsilon.
#include "passes/diagnostics/check.hpp"
#include "passes/stabilize.hpp"
#include <cmath>
#include <fmt/format.h>

namespace kiln {

namespace {
bool is_one(const Node& n) {
  return n.op == Op::literal && n.attrs.init.kind == InitKind::literal && n.attrs.init.data.size() == 1 &&
         n.attrs.init.data[0] == 1.0;
}

// Why a value can be exactly 0 (or 1): a note naming the op that saturates.
std::string cause(const CheckContext& c, NodeId x, bool both_ends) {
  const Graph& g = c.g;
  bool one_minus = g[x].op == Op::sub && is_one(g[g[x].in[0]]);
  NodeId s = one_minus ? g[x].in[1] : x;
  const Node& n = g[s];
  const FloatLimits& L = float_limits(n.dtype);
  std::string ty(dtype_name(n.dtype));
  std::string where = n.loc.valid() ? fmt::format(" (line {})", n.loc.line) : "";
  std::string who = c.describe(s) + where;
  switch (n.op) {
    case Op::sigmoid:
      if (both_ends) return fmt::format("{} rounds to 0 or 1 in {} once |z| > {:.0f}", who, ty, L.sigmoid_one);
      if (one_minus) return fmt::format("{} rounds to 1 in {} once z > {:.0f}, so 1 - {} is 0", who, ty, L.sigmoid_one,
                                        n.name.empty() ? "it" : n.name);
      return fmt::format("{} rounds to 0 in {} once z < {:.0f}", who, ty, L.sigmoid_zero);
    case Op::softmax:
      return fmt::format("{} rounds to exactly 0 in {} once its inputs differ by more than {:.0f}", who, ty,
                         -L.exp_underflow);
    case Op::relu: return fmt::format("{} is exactly 0 for every negative input", who);
    case Op::exp: return fmt::format("{} underflows to 0 in {} once its argument is below {:.0f}", who, ty, L.exp_underflow);
    case Op::softplus:
      return fmt::format("{} underflows to 0 in {} once its argument is below {:.0f}", who, ty, L.exp_underflow);
    default: return fmt::format("{} can take any value in {}", c.text(x), interval_str(c.ranges[x]));
  }
}
}  // namespace

void check_unstable_log(CheckContext& c) {
  if (!c.loss) return;
  const Graph& g = c.g;
  std::vector<const StableRewrite*> by_node(g.size(), nullptr);
  std::vector<char> silent(g.size(), 0);
  std::vector<StableRewrite> rewrites = find_stable_rewrites(g);
  for (auto& r : rewrites) {
    if (r.kind == RewriteKind::softmax) continue;
    by_node[r.covered[0]] = &r;
    for (size_t k = 1; k < r.covered.size(); ++k) silent[r.covered[k]] = 1;
  }
  for (size_t i = 0; i < g.size(); ++i) {
    const Node& n = g.nodes[i];
    if (!c.feeds_loss[i] || silent[i]) continue;
    if (n.op != Op::log && n.op != Op::log1p && n.op != Op::bce) continue;
    NodeId x = n.in[0];
    const Interval& r = c.ranges[x];
    std::string msg;
    if (n.op == Op::log) {
      if (r.lo > 0 && !r.nan) continue;
      msg = r.lo == 0 ? "log of a value that can be exactly 0" : "log of a value that can be 0 or negative";
    } else if (n.op == Op::log1p) {
      if (r.lo > -1 && !r.nan) continue;
      msg = r.lo == -1 ? "log1p of a value that can be exactly -1" : "log1p of a value that can be -1 or less";
    } else {
      if (r.lo > 0 && r.hi < 1 && !r.nan) continue;
      msg = "bce of a probability that can be exactly 0 or 1: its logs saturate and the gradient stops";
    }
    const StableRewrite* rw = by_node[i];
    Diagnostic* d = c.report(n.loc, msg);
    if (!d) continue;
    bool both = rw && (rw->kind == RewriteKind::hand_bce || rw->kind == RewriteKind::bce_sigmoid);
    d->notes.push_back({cause(c, x, both), {}});
    if (rw) {
      std::string repl;
      std::string z = c.text(rw->z), y = rw->y >= 0 ? c.text(rw->y) : "";
      switch (rw->kind) {
        case RewriteKind::log_sigmoid: repl = fmt::format("log_sigmoid({})", z); break;
        case RewriteKind::log_one_minus_sigmoid: repl = fmt::format("log_sigmoid(-({}))", z); break;
        case RewriteKind::log_softmax: repl = fmt::format("log_softmax({}, axis={})", z, rw->axis); break;
        case RewriteKind::hand_bce: repl = fmt::format("{}bce_with_logits({}, {})", rw->negate ? "" : "-", z, y); break;
        case RewriteKind::bce_sigmoid: repl = fmt::format("bce_with_logits({}, {})", z, y); break;
        case RewriteKind::softmax: break;
      }
      if (c.opts.rewrite)
        d->fixits.push_back({fmt::format("rewritten as {}; pass --no-rewrite to keep the expression as written", rw->after),
                             g[rw->root].loc, repl});
      else
        d->fixits.push_back({fmt::format("write {} instead", rw->after), g[rw->root].loc, repl});
    } else if (n.op == Op::log) {
      std::string repl = fmt::format("log({} + 1e-7)", c.text(x));
      d->fixits.push_back({fmt::format("add a small epsilon: {}", repl), n.loc, repl});
    }
  }
}

}  // namespace kiln
