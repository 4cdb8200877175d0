// Dead-code elimination: removes the nodes no root depends on, keeping every
// declaration (input, param, const and state leaves), and renumbers the rest.
//
// Algorithm:
//  1. Mark live: the roots of g.roots() (loss, outputs, metrics, gradients, update
//     values), the update targets and all declarations; then everything they use.
//  2. Renumber the live nodes in a topological order that keeps the existing relative
//     order (passes/simplify/compact.cpp), moving nodes down over the removed ones.
//  3. Rewrite every use (node operands, roots, declaration lists) through the new ids.
#include "passes/simplify.hpp"

namespace kiln {

namespace {

class Dce final : public Pass {
 public:
  std::string_view name() const override { return "dce"; }
  PassResult run(Graph& g, Diagnostics&) override { return PassResult::success(compact(g, true)); }
};

}  // namespace

std::unique_ptr<Pass> make_dce_pass() { return std::make_unique<Dce>(); }

std::vector<std::unique_ptr<Pass>> simplify_passes() {
  std::vector<std::unique_ptr<Pass>> group;
  group.push_back(make_fold_pass());
  group.push_back(make_algebraic_pass());
  group.push_back(make_cse_pass());
  group.push_back(make_dce_pass());
  return group;
}

Pipeline make_simplify_pipeline() {
  Pipeline p;
  p.add_fixed_point(simplify_passes());
  return p;
}

}  // namespace kiln
