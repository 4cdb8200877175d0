// Algebraic simplification: a table of rewrite rules (pattern -> replacement), in the
// style of tinygrad's PatternMatcher. Only rules that are exact for every input,
// NaN and Inf included, are in the table: x*0 -> 0 and x-x -> 0 are deliberately absent.
//
// Algorithm:
//  1. Compute the live nodes; walk them in id order. Rewrite each node's operands
//     through `rep` (the replacement of every node rewritten so far).
//  2. Try the rules in table order. A rule matches when its pattern matches the node
//     (op kinds, literal operands equal to 0 or 1 everywhere, captured operands) and its
//     condition holds; its replacement function returns a node (possibly new).
//  3. The replacement must have the node's dtype; if its shape differs it must broadcast
//     to the node's shape, and a broadcast_to is inserted; otherwise the rule does not fire.
//  4. rep[node] = replacement; new nodes created by replacements are walked too.
//  5. Rewrite the roots through `rep`, then renumber topologically (new nodes were
//     appended at the end). Rewritten nodes become dead; DCE removes them.
#include "passes/simplify.hpp"
#include <algorithm>
#include <optional>

namespace kiln {

namespace {

enum class Lit : uint8_t { none, zero, one };

// A pattern: an op kind (or any node), a literal requirement, operand patterns, and a
// capture slot for the matched node.
struct Pat {
  std::optional<Op> op;
  std::vector<Pat> in;
  int capture = -1;
  Lit lit = Lit::none;
};

struct Match {
  NodeId node = -1;
  NodeId x[2] = {-1, -1};  // captures
};

Pat capture(int slot) { return Pat{std::nullopt, {}, slot, Lit::none}; }
Pat lit(Lit l) { return Pat{Op::literal, {}, -1, l}; }
Pat op(Op o, std::vector<Pat> in, int slot = -1) { return Pat{o, std::move(in), slot, Lit::none}; }

const Pat X = capture(0), S = capture(1), ZERO = lit(Lit::zero), ONE = lit(Lit::one);

bool all_equal(const Node& n, double v) {
  std::vector<double> data;
  if (!literal_values(n, data) || data.empty()) return false;
  for (double d : data)
    if (!(d == v)) return false;
  return true;
}

bool match(const Graph& g, const Pat& p, NodeId id, Match& m) {
  const Node& n = g[id];
  if (p.op && n.op != *p.op) return false;
  if (p.lit == Lit::zero && !all_equal(n, 0.0)) return false;
  if (p.lit == Lit::one && !all_equal(n, 1.0)) return false;
  if (!p.in.empty()) {
    if (p.in.size() != n.in.size()) return false;
    for (size_t k = 0; k < p.in.size(); ++k)
      if (!match(g, p.in[k], n.in[k], m)) return false;
  }
  if (p.capture >= 0) m.x[p.capture] = id;
  return true;
}

using Cond = bool (*)(const Graph&, const Match&);
using Rewrite = NodeId (*)(Graph&, const Match&);

struct Rule {
  std::string_view name;
  Pat pattern;
  Cond cond;  // nullptr: always
  Rewrite rewrite;
};

NodeId keep_x(Graph&, const Match& m) { return m.x[0]; }
// The node's target shape attribute equals its operand's shape (a no-op shape op).
bool same_shape_attr(const Graph& g, const Match& m) { return g[m.node].attrs.shape == g[m.x[0]].shape; }

// sum(broadcast_to(s, S)) with s a scalar: s times the number of summed elements.
bool scalar_x1(const Graph& g, const Match& m) { return g[m.x[1]].shape.empty(); }
NodeId sum_of_broadcast(Graph& g, const Match& m) {
  const Node& sum = g[m.node];
  const Shape& full = g[sum.in[0]].shape;
  std::vector<int64_t> axes = sum.attrs.axes;
  if (!normalize_axes(axes, full.size())) return -1;
  double count = 1;
  for (size_t d = 0; d < full.size(); ++d)
    if (axes.empty() || std::find(axes.begin(), axes.end(), int64_t(d)) != axes.end()) count *= double(full[d]);
  SourceRange loc = sum.loc;
  NodeId s = m.x[1];
  NodeId c = g.scalar(count, g[s].dtype, loc);
  return g.make(Op::mul, {s, c}, {}, loc);
}

// reshape(reshape(x, A), B) -> reshape(x, B).
NodeId reshape_of_reshape(Graph& g, const Match& m) {
  Attrs a;
  a.shape = g[m.node].attrs.shape;
  return g.make(Op::reshape, {m.x[0]}, a, g[m.node].loc);
}

// op(broadcast_to(s), x) -> op(s, x) when op's own broadcasting already gives the
// node's shape (binary elementwise ops broadcast their operands anyway).
bool broadcast_absorbed(const Graph& g, const Match& m) {
  Shape s;
  return broadcast_shapes(g[m.x[1]].shape, g[m.x[0]].shape, s) && s == g[m.node].shape;
}
NodeId operand_left(Graph& g, const Match& m) { return g.make(g[m.node].op, {m.x[1], m.x[0]}, {}, g[m.node].loc); }
NodeId operand_right(Graph& g, const Match& m) { return g.make(g[m.node].op, {m.x[0], m.x[1]}, {}, g[m.node].loc); }

const std::vector<Rule>& rules() {
  static const std::vector<Rule> table = [] {
    std::vector<Rule> t = {
      {"x*1", op(Op::mul, {X, ONE}), nullptr, keep_x},
      {"1*x", op(Op::mul, {ONE, X}), nullptr, keep_x},
      {"x+0", op(Op::add, {X, ZERO}), nullptr, keep_x},
      {"0+x", op(Op::add, {ZERO, X}), nullptr, keep_x},
      {"x-0", op(Op::sub, {X, ZERO}), nullptr, keep_x},
      {"x/1", op(Op::div, {X, ONE}), nullptr, keep_x},
      {"neg(neg(x))", op(Op::neg, {op(Op::neg, {X})}), nullptr, keep_x},
      {"transpose(transpose(x))", op(Op::transpose, {op(Op::transpose, {X})}), nullptr, keep_x},
      {"sum_to(x, x.shape)", op(Op::sum_to, {X}), same_shape_attr, keep_x},
      {"broadcast_to(x, x.shape)", op(Op::broadcast_to, {X}), same_shape_attr, keep_x},
      {"reshape(x, x.shape)", op(Op::reshape, {X}), same_shape_attr, keep_x},
      {"reshape(reshape(x))", op(Op::reshape, {op(Op::reshape, {X})}), nullptr, reshape_of_reshape},
      {"sum(broadcast_to(s))", op(Op::sum, {op(Op::broadcast_to, {S})}), scalar_x1, sum_of_broadcast},
    };
    for (Op o : {Op::add, Op::sub, Op::mul, Op::div}) {
      t.push_back({"op(broadcast_to(s), x)", op(o, {op(Op::broadcast_to, {S}), X}), broadcast_absorbed, operand_left});
      t.push_back({"op(x, broadcast_to(s))", op(o, {X, op(Op::broadcast_to, {S})}), broadcast_absorbed, operand_right});
    }
    return t;
  }();
  return table;
}

// Makes `r` stand for node `id`: same dtype required, broadcast_to inserted when the
// shape is smaller. Returns -1 when that is impossible.
NodeId conform(Graph& g, NodeId id, NodeId r) {
  if (r < 0 || g[r].dtype != g[id].dtype) return -1;
  if (g[r].shape == g[id].shape) return r;
  Shape out;
  if (!broadcast_shapes(g[r].shape, g[id].shape, out) || out != g[id].shape) return -1;
  Attrs a;
  a.shape = g[id].shape;
  return g.make(Op::broadcast_to, {r}, a, g[id].loc);
}

class Algebraic final : public Pass {
 public:
  std::string_view name() const override { return "algebraic"; }
  PassResult run(Graph& g, Diagnostics&) override {
    std::vector<char> live = live_nodes(g);
    std::vector<NodeId> rep;
    auto grow = [&] {
      while (rep.size() < g.size()) rep.push_back(static_cast<NodeId>(rep.size()));
    };
    bool changed = false;
    for (NodeId i = 0; i < static_cast<NodeId>(g.size()); ++i) {
      grow();
      if (i < static_cast<NodeId>(live.size()) && !live[i]) continue;
      for (NodeId& in : g[i].in) in = rep[in];
      if (op_row(g[i].op).cls == OpClass::leaf) continue;
      for (const Rule& rule : rules()) {
        Match m;
        m.node = i;
        if (!match(g, rule.pattern, i, m) || (rule.cond && !rule.cond(g, m))) continue;
        NodeId r = rule.rewrite(g, m);
        grow();
        r = conform(g, i, r);
        grow();
        if (r < 0) continue;
        rep[i] = r;
        changed = true;
        break;
      }
    }
    if (!changed) return PassResult::success(false);
    // A replacement may itself have been replaced later in the walk: follow the chains.
    for (size_t k = 0; k < rep.size(); ++k)
      while (rep[rep[k]] != rep[k]) rep[k] = rep[rep[k]];
    g.remap_roots(rep);
    compact(g, false);
    return PassResult::success(true);
  }
};

}  // namespace

std::unique_ptr<Pass> make_algebraic_pass() { return std::make_unique<Algebraic>(); }

}  // namespace kiln
