// The stabilize pass: finds the unstable forms of passes/stabilize.hpp and replaces them
// with their exact stable equivalents.
//
// Algorithm:
//  1. Match, in node order: hand-written BCE sums first (they contain two logs), then
//     bce(sigmoid), log(sigmoid), log(1 - sigmoid), log(softmax), exp / sum(exp).
//  2. For each match, in node order, build the stable nodes (after the graph's end) from
//     the already remapped operands, and map the matched root to the new value.
//  3. Rewrite every use through the map, then renumber topologically and drop the
//     replaced nodes (compact), so the graph is in canonical order again.
//  4. Repeat from 1 (at most 4 rounds) while something matched: a rewrite can expose
//     another (log of a hand-written softmax becomes log(softmax), then log_softmax).
#include "passes/stabilize.hpp"
#include "passes/simplify.hpp"
#include <algorithm>
#include <fmt/format.h>

namespace kiln {

namespace {

bool is_one(const Graph& g, NodeId id) {
  const Node& n = g[id];
  if (n.op != Op::literal) return false;
  const Init& in = n.attrs.init;
  if (in.kind == InitKind::ones) return true;
  if (in.kind == InitKind::constant) return in.a == 1.0;
  if (in.kind != InitKind::literal || in.data.empty()) return false;
  return std::all_of(in.data.begin(), in.data.end(), [](double v) { return v == 1.0; });
}

// x if id = 1 - x.
NodeId one_minus(const Graph& g, NodeId id) {
  const Node& n = g[id];
  return n.op == Op::sub && is_one(g, n.in[0]) ? n.in[1] : -1;
}

NodeId op_input(const Graph& g, NodeId id, Op op) { return g[id].op == op ? g[id].in[0] : -1; }

// mul(a, b) with one side satisfying `pred`: returns {that side, the other side}.
template <class P>
bool mul_with(const Graph& g, NodeId id, P pred, NodeId& hit, NodeId& other) {
  const Node& n = g[id];
  if (n.op != Op::mul) return false;
  for (int k = 0; k < 2; ++k)
    if (pred(n.in[k])) {
      hit = n.in[k];
      other = n.in[1 - k];
      return true;
    }
  return false;
}

std::string name_or(const Graph& g, NodeId id, const char* placeholder) {
  const Node& n = g[id];
  return n.name.empty() ? placeholder : n.name;
}

bool same_shape_as_root(const Graph& g, NodeId root, NodeId z, NodeId y) {
  Shape s;
  return broadcast_shapes(g[z].shape, g[y].shape, s) && s == g[root].shape && g[z].dtype == g[y].dtype &&
         g[z].dtype == g[root].dtype;
}

// The hand-written binary cross-entropy rooted at `id` (an add or a sub).
std::optional<StableRewrite> match_hand_bce(const Graph& g, NodeId id) {
  const Node& n = g[id];
  if (n.op != Op::add && n.op != Op::sub) return std::nullopt;
  auto is_log_sigmoid = [&](NodeId x) { return g[x].op == Op::log && g[g[x].in[0]].op == Op::sigmoid; };
  auto is_log_one_minus_sigmoid = [&](NodeId x) {
    if (g[x].op != Op::log) return false;
    NodeId s = one_minus(g, g[x].in[0]);
    return s >= 0 && g[s].op == Op::sigmoid;
  };
  for (int k = 0; k < 2; ++k) {
    if (n.op == Op::sub && k == 1) break;  // a - b: the y*log(p) term is the first
    NodeId a = n.in[k], b = n.in[1 - k];
    // b = (1 - y) * log(1 - sigmoid(z))
    NodeId log2, one_minus_y;
    if (!mul_with(g, b, is_log_one_minus_sigmoid, log2, one_minus_y)) continue;
    NodeId y = one_minus(g, one_minus_y);
    if (y < 0) continue;
    NodeId s2 = one_minus(g, g[log2].in[0]);
    // a = y * log(sigmoid(z)) (add); -y * log(p) or -(y * log(p)) (sub)
    bool negate = false;
    NodeId term = a;
    if (n.op == Op::sub) {
      if (g[a].op == Op::neg) term = g[a].in[0];
      negate = true;
    }
    NodeId log1, ya;
    if (!mul_with(g, term, is_log_sigmoid, log1, ya)) continue;
    if (n.op == Op::sub && term == a) {  // (-y) * log(p)
      if (g[ya].op != Op::neg) continue;
      ya = g[ya].in[0];
    }
    NodeId s1 = g[log1].in[0];
    if (ya != y || g[s1].in[0] != g[s2].in[0]) continue;
    NodeId z = g[s1].in[0];
    if (!same_shape_as_root(g, id, z, y)) continue;
    StableRewrite r{RewriteKind::hand_bce, id, z, y, s1, -1, negate, {log1, log2}, ""};
    r.after = fmt::format("bce_with_logits({}, {})", name_or(g, z, "z"), name_or(g, y, "y"));
    return r;
  }
  return std::nullopt;
}

}  // namespace

std::vector<StableRewrite> find_stable_rewrites(const Graph& g) {
  std::vector<StableRewrite> out;
  std::vector<char> covered(g.size(), 0);
  for (NodeId i = 0; i < NodeId(g.size()); ++i) {
    if (auto r = match_hand_bce(g, i)) {
      for (NodeId c : r->covered) covered[c] = 1;
      out.push_back(*r);
    }
  }
  for (NodeId i = 0; i < NodeId(g.size()); ++i) {
    const Node& n = g[i];
    if (covered[i]) continue;
    if (n.op == Op::bce) {
      NodeId z = op_input(g, n.in[0], Op::sigmoid);
      if (z >= 0 && same_shape_as_root(g, i, z, n.in[1])) {
        StableRewrite r{RewriteKind::bce_sigmoid, i, z, n.in[1], n.in[0], -1, false, {i}, ""};
        r.after = fmt::format("bce_with_logits({}, {})", name_or(g, z, "z"), name_or(g, n.in[1], "y"));
        out.push_back(r);
      }
    } else if (n.op == Op::log) {
      NodeId x = n.in[0];
      if (g[x].op == Op::sigmoid) {
        StableRewrite r{RewriteKind::log_sigmoid, i, g[x].in[0], -1, x, -1, false, {i}, ""};
        r.after = fmt::format("log_sigmoid({})", name_or(g, r.z, "z"));
        out.push_back(r);
      } else if (NodeId s = one_minus(g, x); s >= 0 && g[s].op == Op::sigmoid && g[x].shape == g[s].shape) {
        StableRewrite r{RewriteKind::log_one_minus_sigmoid, i, g[s].in[0], -1, s, -1, false, {i}, ""};
        r.after = fmt::format("log_sigmoid(-{})", name_or(g, r.z, "z"));
        out.push_back(r);
      } else if (g[x].op == Op::softmax) {
        int64_t axis = g[x].attrs.axes.empty() ? -1 : g[x].attrs.axes[0];
        StableRewrite r{RewriteKind::log_softmax, i, g[x].in[0], -1, x, axis, false, {i}, ""};
        r.after = fmt::format("log_softmax({})", name_or(g, r.z, "z"));
        out.push_back(r);
      }
    } else if (n.op == Op::div) {
      // exp(z) / sum(exp(z), axis, keepdims): the sum over one axis (or all of a vector).
      NodeId e1 = n.in[0], s = n.in[1];
      if (g[e1].op != Op::exp || g[s].op != Op::sum) continue;
      NodeId e2 = g[s].in[0];
      if (g[e2].op != Op::exp || g[e2].in[0] != g[e1].in[0]) continue;
      NodeId z = g[e1].in[0];
      const Shape& zs = g[z].shape;
      std::vector<int64_t> axes = g[s].attrs.axes;
      if (axes.empty())
        for (size_t k = 0; k < zs.size(); ++k) axes.push_back(int64_t(k));
      if (!normalize_axes(axes, zs.size()) || axes.size() != 1) continue;
      if (zs.size() > 1 && !g[s].attrs.keepdims) continue;
      if (n.shape != zs) continue;
      StableRewrite r{RewriteKind::softmax, i, z, -1, e1, axes[0], false, {i, e1, e2}, ""};
      r.after = fmt::format("softmax({})", name_or(g, z, "z"));
      out.push_back(r);
    }
  }
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.root < b.root; });
  return out;
}

namespace {
std::string source_text(const Diagnostics& d, const SourceRange& r) {
  const SourceFile* f = d.file();
  if (!f || !r.valid() || r.line != r.end_line || r.line > f->line_count()) return {};
  std::string_view line = f->line_text(r.line);
  if (r.col == 0 || r.end_col <= r.col || r.end_col - 1 > line.size()) return {};
  return std::string(line.substr(r.col - 1, r.end_col - r.col));
}
}  // namespace

namespace {
// One round: applies every rewrite found now. A rewrite can expose another (a hand-written
// softmax under a log becomes log(softmax)), so stabilize() repeats rounds.
bool stabilize_round(Graph& g, Diagnostics& d, const StabilizeOptions& opts) {
  std::vector<StableRewrite> rewrites = find_stable_rewrites(g);
  if (rewrites.empty()) return false;
  std::vector<NodeId> map(g.size());
  for (size_t i = 0; i < map.size(); ++i) map[i] = NodeId(i);
  for (const StableRewrite& r : rewrites) {
    const Node root = g[r.root];  // a copy: make() may reallocate the node vector
    NodeId z = map[r.z], y = r.y >= 0 ? map[r.y] : -1;
    SourceRange loc = root.loc;
    NodeId v = -1;
    switch (r.kind) {
      case RewriteKind::log_sigmoid: v = g.make(Op::log_sigmoid, {z}, {}, loc); break;
      case RewriteKind::log_one_minus_sigmoid: v = g.make(Op::log_sigmoid, {g.make(Op::neg, {z}, {}, loc)}, {}, loc); break;
      case RewriteKind::log_softmax: {
        Attrs a;
        a.axes = {r.axis};
        v = g.make(Op::log_softmax, {z}, a, loc);
        break;
      }
      case RewriteKind::hand_bce: {
        NodeId b = g.make(Op::bce_with_logits, {z, y}, {}, loc);
        v = r.negate ? b : g.make(Op::neg, {b}, {}, loc);
        break;
      }
      case RewriteKind::bce_sigmoid: v = g.make(Op::bce_with_logits, {z, y}, {}, loc); break;
      case RewriteKind::softmax: {
        Attrs a;
        a.axes = {r.axis};
        v = g.make(Op::softmax, {z}, a, loc);
        break;
      }
    }
    g[v].name = root.name;
    map[r.root] = v;
    if (opts.report) {
      std::string before = source_text(d, loc);
      std::string after = (r.kind == RewriteKind::hand_bce && !r.negate ? "-" : "") + r.after;
      const char* id = r.kind == RewriteKind::softmax ? "unstable-exp" : "unstable-log";
      d.report(Severity::note, id, loc,
               before.empty() ? fmt::format("rewrote the expression as {}", after)
                              : fmt::format("rewrote {} as {}", before, after));
    }
  }
  size_t old_size = map.size();
  map.resize(g.size());
  for (size_t i = old_size; i < g.size(); ++i) map[i] = NodeId(i);
  g.remap_roots(map);
  compact(g, true);
  return true;
}
}  // namespace

bool stabilize(Graph& g, Diagnostics& d, const StabilizeOptions& opts) {
  bool changed = false;
  for (int round = 0; round < 4 && stabilize_round(g, d, opts); ++round) changed = true;
  return changed;
}

namespace {
struct StabilizePass : Pass {
  StabilizeOptions opts;
  explicit StabilizePass(StabilizeOptions o) : opts(o) {}
  std::string_view name() const override { return "stabilize"; }
  PassResult run(Graph& g, Diagnostics& d) override { return PassResult::success(stabilize(g, d, opts)); }
};
}  // namespace

std::unique_ptr<Pass> make_stabilize_pass(StabilizeOptions opts) { return std::make_unique<StabilizePass>(opts); }

}  // namespace kiln
