// Range analysis: an interval per node in floating-point (f32 or f64) semantics, from the
// op table's interval transfer functions (OpRow::interval). Used by the static checks.
#pragma once
#include "ir/graph.hpp"
#include <limits>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace kiln {

// A closed interval of values a node's elements can take. An infinite end means "unbounded
// or overflowed to inf" (the analysis does not tell those apart). `nan` is set when some
// element can be NaN (log of a negative, 0/0, inf - inf).
struct Interval {
  double lo = -std::numeric_limits<double>::infinity();
  double hi = std::numeric_limits<double>::infinity();
  bool nan = false;

  static Interval all() { return {}; }
  static Interval point(double v) { return {v, v, false}; }
  bool contains(double v) const { return lo <= v && v <= hi; }
  bool contains_zero() const { return contains(0.0); }
  bool bounded() const { return lo > -std::numeric_limits<double>::infinity() && hi < std::numeric_limits<double>::infinity(); }
  bool operator==(const Interval&) const = default;
};
std::string interval_str(const Interval& r);  // "[0, 1]", "(-inf, inf)", "[0, 1] or NaN"
Interval hull(const Interval& a, const Interval& b);

// Where an element type saturates or overflows (f32 for f32 nodes, f64 otherwise).
struct FloatLimits {
  double exp_overflow;   // exp(x) = inf for x above this
  double exp_underflow;  // exp(x) = 0 for x below this (denormals included)
  double sigmoid_one;    // sigmoid(x) = 1 for x above this (1 + exp(-x) rounds to 1)
  double sigmoid_zero;   // sigmoid(x) = 0 for x below this (1 / (1 + exp(-x)), exp overflows)
  double tanh_one;       // tanh(x) = +-1 for |x| above this
};
const FloatLimits& float_limits(DType t);
// Rounds a value to the element type (a cast to float for f32): 1 - 1e-9 becomes 1.
double round_to(DType t, double v);

// What a transfer function sees: the node, its inputs' intervals; it sets `out`.
struct IntervalContext {
  const Graph& g;
  NodeId id;
  std::span<const Interval> in;
  Interval out;

  const Node& node() const { return g[id]; }
  const Node& input_node(int i) const { return g[g[id].in[i]]; }
  const FloatLimits& limits() const { return float_limits(g[id].dtype); }
};

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
