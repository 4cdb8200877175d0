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

// The range of leaf `id` (input, param, const, literal, state) under the options.
Interval leaf_range(const Graph& g, NodeId id, const RangeOptions& opts);
// The range of leaf `leaf`'s initialiser (a param or const): normal(m, s) -> m +- 6s;
// uniform(lo, hi); glorot/he/lecun from its fans (ir/fans.hpp, as its initial values);
// zeros, ones, constant, literal exactly.
Interval init_range(const Graph& g, NodeId leaf);
// Mean and variance of the distribution of leaf `leaf`'s initialiser (for the init-scale
// and vanishing-gradient checks). Constants have variance 0.
void init_moments(const Graph& g, NodeId leaf, double& mean, double& var);

// Runs every node's transfer function in order: one interval per node.
std::vector<Interval> compute_ranges(const Graph& g, const RangeOptions& opts = {});

}  // namespace kiln
