// Intervals in floating-point semantics, and what an op row's interval transfer function
// sees (OpRow::interval, ir/interval_rules.hpp). The range analysis is passes/range.hpp.
#pragma once
#include "ir/graph.hpp"
#include <limits>
#include <span>
#include <string>

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

}  // namespace kiln
