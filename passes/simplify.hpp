// Simplification passes (CSE, constant folding, algebraic rules, DCE) and the pipeline
// that runs them to a fixed point; plus the graph helpers they share.
#pragma once
#include "passes/pass.hpp"
#include <memory>
#include <vector>

namespace kiln {

std::unique_ptr<Pass> make_cse_pass();        // passes/simplify/cse.cpp
std::unique_ptr<Pass> make_fold_pass();       // passes/simplify/fold.cpp
std::unique_ptr<Pass> make_algebraic_pass();  // passes/simplify/algebraic.cpp
std::unique_ptr<Pass> make_dce_pass();        // passes/simplify/dce.cpp

// fold, algebraic, cse, dce: the group the compile pipeline repeats to a fixed point.
std::vector<std::unique_ptr<Pass>> simplify_passes();
// That group alone as a pipeline.
Pipeline make_simplify_pipeline();

// Helpers shared by the passes (passes/simplify/compact.cpp).

// live[i] is true when node i is a declaration (input/param/const/state leaf) or some
// root (g.roots(), plus update targets) depends on it.
std::vector<char> live_nodes(const Graph& g);
// Renumbers the nodes in a topological order that keeps the existing relative order
// where it is already valid; drops the nodes that are not live when `remove_dead`.
// Returns true when any id changed.
bool compact(Graph& g, bool remove_dead);
// A literal's value as a flat list when it is fully known (kinds literal, zeros, ones,
// constant); false for anything else.
bool literal_values(const Node& n, std::vector<double>& out);

}  // namespace kiln
