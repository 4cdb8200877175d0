// The fans of a param (ir/fans.hpp): from its shape.
#include "ir/fans.hpp"
#include <cassert>

namespace kiln {

Fans fans(const Graph& g, NodeId id) {
  assert(id >= 0 && size_t(id) < g.size());
  const Shape& s = g[id].shape;
  if (s.empty()) return {1, 1};
  if (s.size() == 1) return {double(s[0]), double(s[0])};
  return {double(s[0]), double(num_elements(s) / s[0])};
}

}  // namespace kiln
