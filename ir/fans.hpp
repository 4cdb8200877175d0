// The fans of a param: the widths that the glorot, he and lecun initialisers scale by. One
// rule, read by the initial values (ir/init.cpp) and by the range analysis and static checks.
#pragma once
#include "ir/graph.hpp"

namespace kiln {

struct Fans {
  double in = 1, out = 1;
  bool operator==(const Fans&) const = default;
};

// The fans of leaf `id` of `g` (a param, const or state). Today they follow the leaf's
// shape alone: 2-D [fan_in, fan_out]; 1-D fan_in = fan_out = n; a scalar 1; higher ranks
// fan_in = shape[0], fan_out = the product of the other axes. The graph is passed so that
// the rule can follow how the param is used (the next language edition: a [kh, kw, in, out]
// conv kernel has fan-in kh*kw*in) without changing its callers.
Fans fans(const Graph& g, NodeId id);

}  // namespace kiln
