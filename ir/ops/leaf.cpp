// Op-table rows for leaves: inputs, params, consts, literals and optimizer state. Leaves
// have no kernel (the interpreter reads their values) and no derivative rule.
#include "ir/ops/groups.hpp"
#include "ir/interval_rules.hpp"
#include "ir/ops/rules.hpp"

namespace kiln::ops {

std::vector<OpRow> leaf_rows() {
  using C = OpClass;
  return {
      {Op::input, "input", 0, C::leaf, kNormalize, true, rules::leaf, nullptr, nullptr, interval::leaf, surface::declaration()},
      {Op::param, "param", 0, C::leaf, kInit, false, rules::leaf, nullptr, nullptr, interval::leaf, surface::declaration()},
      {Op::const_, "const", 0, C::leaf, kInit, true, rules::leaf, nullptr, nullptr, interval::leaf, surface::declaration()},
      {Op::literal, "literal", 0, C::leaf, kInit, true, rules::leaf, nullptr, nullptr, interval::leaf, surface::declaration()},
      {Op::state, "state", 0, C::leaf, kInit, true, rules::leaf, nullptr, nullptr, interval::leaf, surface::internal()},
  };
}

}  // namespace kiln::ops
