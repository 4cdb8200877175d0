// Range analysis: an interval per node in floating-point (f32 or f64) semantics, from the
// op table's interval transfer functions (OpRow::interval). Used by the static checks.
#pragma once
#include "ir/graph.hpp"
#include "ir/interval.hpp"
#include <map>
#include <string>
#include <vector>

namespace kiln {

// How leaves are bounded.
struct RangeOptions {
  // true: params take their initialiser's range (at initialisation); false: params are
  // unbounded (any time during training). The stability checks use false.
  bool params_at_init = true;
  // A `normalize`d input column is standardised: its values are taken to lie within
  // +-normalized_bound standard deviations (an assumption, not a guarantee; default 10).
  double normalized_bound = 10;
  // Ranges of inputs known from data, by input name (override everything else).
  std::map<std::string, Interval> input_ranges;
};

// The range of a leaf (input, param, const, literal, state) under the options.
Interval leaf_range(const Node& n, const RangeOptions& opts);
// The range of a param/const initialiser: normal(m, s) -> m +- 6s; uniform(lo, hi);
// glorot/he/lecun from the fans (as ir/init.cpp); zeros, ones, constant, literal exactly.
Interval init_range(const Init& init, const Shape& shape);
// Mean and variance of an initialiser's distribution (for the init-scale and
// vanishing-gradient checks). Constants have variance 0.
void init_moments(const Init& init, const Shape& shape, double& mean, double& var);
// The fans of a weight shape, as ir/init.cpp computes them.
void weight_fans(const Shape& s, double& fan_in, double& fan_out);

// Runs every node's transfer function in order: one interval per node.
std::vector<Interval> compute_ranges(const Graph& g, const RangeOptions& opts = {});

}  // namespace kiln
