// What an initialiser draws from: the one place of the initialisers' formulas (glorot, he,
// lecun scaled by the leaf's fans). The initial values (ir/init.cpp) draw from it; the range
// analysis and the static checks (passes/range.cpp) take its bounds and moments.
#pragma once
#include "ir/graph.hpp"

namespace kiln {

struct InitDist {
  enum Kind : uint8_t { unset, constant, normal, uniform, literal } kind = unset;
  double a = 0, b = 0;  // constant: a = the value; normal: a = mean, b = sd; uniform: [a, b]
  // The variance, exactly as the formula gives it (2 / (fan_in + fan_out) for glorot, not
  // recomputed from a uniform's bounds, so that it does not depend on their rounding).
  double var = 0;
  const std::vector<double>* data = nullptr;  // literal: the values, row-major
};

// The distribution of leaf `id`'s initialiser (a param, const or state); `unset` for none.
InitDist init_dist(const Graph& g, NodeId id);

}  // namespace kiln
