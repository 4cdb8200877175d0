// Range analysis: leaf ranges from declarations and initialisers, then every node's
// interval from its op-table transfer function, rounded to the node's element type.
//
// Algorithm:
//  1. Leaves: inputs are unbounded unless a range is given (RangeOptions::input_ranges) or
//     they are `normalize`d (+-normalized_bound); params take their initialiser's range
//     when params_at_init, else are unbounded; consts, literals and states take their
//     initialiser's range.
//  2. Other nodes, in id order (operands come first): the row's interval function, then
//     both ends rounded to the element type (f32: a float cast, so sigmoid(20) is exactly 1).
#include "passes/range.hpp"
#include "ir/init_dist.hpp"
#include <algorithm>
#include <cassert>
#include <cmath>
#include <fmt/format.h>

namespace kiln {

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();
}

void init_moments(const Graph& g, NodeId leaf, double& mean, double& var) {
  const InitDist d = init_dist(g, leaf);
  mean = 0;
  var = 0;
  switch (d.kind) {
    case InitDist::unset: break;
    case InitDist::constant: mean = d.a; break;
    case InitDist::normal: mean = d.a; var = d.var; break;
    case InitDist::uniform: mean = (d.a + d.b) / 2; var = d.var; break;
    case InitDist::literal: {
      if (d.data->empty()) break;
      for (double v : *d.data) mean += v;
      mean /= double(d.data->size());
      for (double v : *d.data) var += (v - mean) * (v - mean);
      var /= double(d.data->size());
      break;
    }
  }
}

Interval init_range(const Graph& g, NodeId leaf) {
  const InitDist d = init_dist(g, leaf);
  switch (d.kind) {
    case InitDist::unset: return Interval::all();
    case InitDist::constant: return Interval::point(d.a);
    case InitDist::normal: return {d.a - 6 * std::fabs(d.b), d.a + 6 * std::fabs(d.b), false};  // 6 sd
    case InitDist::uniform: return {std::min(d.a, d.b), std::max(d.a, d.b), false};
    case InitDist::literal: {
      if (d.data->empty()) return Interval::point(0);
      auto [mn, mx] = std::minmax_element(d.data->begin(), d.data->end());
      return {*mn, *mx, false};
    }
  }
  return Interval::all();
}

Interval leaf_range(const Graph& g, NodeId id, const RangeOptions& opts) {
  const Node& n = g[id];
  switch (n.op) {
    case Op::input: {
      if (auto it = opts.input_ranges.find(n.name); it != opts.input_ranges.end()) return it->second;
      if (n.dtype == DType::i32) return {0, kInf, false};  // class indices
      if (n.attrs.normalize) return {-opts.normalized_bound, opts.normalized_bound, false};
      return Interval::all();
    }
    case Op::param:
      return opts.params_at_init ? init_range(g, id) : Interval::all();
    case Op::state:
      return Interval::all();  // optimizer state: moments and step counts change every step
    default:
      return init_range(g, id);
  }
}

std::vector<Interval> compute_ranges(const Graph& g, const RangeOptions& opts) {
  std::vector<Interval> r(g.size());
  std::vector<Interval> ins;
  for (size_t i = 0; i < g.size(); ++i) {
    const Node& n = g.nodes[i];
    const OpRow& row = op_row(n.op);
    if (row.cls == OpClass::leaf) {
      Interval leaf = leaf_range(g, NodeId(i), opts);  // a literal 1 - 1e-9 is exactly 1 in f32
      r[i] = {round_to(n.dtype, leaf.lo), round_to(n.dtype, leaf.hi), leaf.nan};
      continue;
    }
    ins.clear();
    for (NodeId a : n.in) ins.push_back(r[a]);
    IntervalContext ctx{g, NodeId(i), ins, Interval::all()};
    if (row.interval) row.interval(ctx);  // an op without a row function stays unbounded
    Interval out = ctx.out;
    out.lo = round_to(n.dtype, out.lo);
    out.hi = round_to(n.dtype, out.hi);
    if (std::isnan(out.lo) || std::isnan(out.hi)) out = {-kInf, kInf, true};
    r[i] = out;
  }
  return r;
}

}  // namespace kiln
