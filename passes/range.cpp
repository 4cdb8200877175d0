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
#include "ir/fans.hpp"
#include <algorithm>
#include <cassert>
#include <cmath>
#include <fmt/format.h>

namespace kiln {

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();
}

void init_moments(const Graph& g, NodeId leaf, double& mean, double& var) {
  const Init& in = g[leaf].attrs.init;
  const Fans f = fans(g, leaf);
  const double fi = f.in, fo = f.out;
  mean = 0;
  var = 0;
  switch (in.kind) {
    case InitKind::none: case InitKind::zeros: break;
    case InitKind::ones: mean = 1; break;
    case InitKind::constant: mean = in.a; break;
    case InitKind::normal: mean = in.a; var = in.b * in.b; break;
    case InitKind::uniform: mean = (in.a + in.b) / 2; var = (in.b - in.a) * (in.b - in.a) / 12; break;
    case InitKind::glorot_uniform: case InitKind::glorot_normal: var = 2.0 / (fi + fo); break;
    case InitKind::he_normal: case InitKind::he_uniform: var = 2.0 / fi; break;
    case InitKind::lecun_normal: var = 1.0 / fi; break;
    case InitKind::literal: {
      if (in.data.empty()) break;
      for (double v : in.data) mean += v;
      mean /= double(in.data.size());
      for (double v : in.data) var += (v - mean) * (v - mean);
      var /= double(in.data.size());
      break;
    }
  }
}

Interval init_range(const Graph& g, NodeId leaf) {
  const Init& in = g[leaf].attrs.init;
  const Fans f = fans(g, leaf);
  const double fi = f.in, fo = f.out;
  switch (in.kind) {
    case InitKind::none: return Interval::all();
    case InitKind::zeros: return Interval::point(0);
    case InitKind::ones: return Interval::point(1);
    case InitKind::constant: return Interval::point(in.a);
    case InitKind::normal: return {in.a - 6 * std::fabs(in.b), in.a + 6 * std::fabs(in.b), false};
    case InitKind::uniform: return {std::min(in.a, in.b), std::max(in.a, in.b), false};
    case InitKind::glorot_uniform: { double l = std::sqrt(6.0 / (fi + fo)); return {-l, l, false}; }
    case InitKind::he_uniform: { double l = std::sqrt(6.0 / fi); return {-l, l, false}; }
    case InitKind::glorot_normal: case InitKind::he_normal: case InitKind::lecun_normal: {
      double mean, var;
      init_moments(g, leaf, mean, var);
      double l = 6 * std::sqrt(var);
      return {-l, l, false};
    }
    case InitKind::literal: {
      if (in.data.empty()) return Interval::point(0);
      auto [mn, mx] = std::minmax_element(in.data.begin(), in.data.end());
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
