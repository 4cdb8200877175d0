// Shared helpers of the printer tests: graphs built by hand and an exact graph comparison.
#pragma once
#include "ir/graph.hpp"
#include "ir/printer.hpp"
#include <string>

namespace kiln::test {

// A graph with one node (at least) of every op in the table, every attribute kind,
// every leaf kind, awkward names and numbers, locations, roots, grads and updates.
Graph all_ops_graph();
// The small example used by the golden-text test.
Graph tiny_graph();
// "" when a and b are equal in every field (NaNs compare equal), else the first difference.
std::string graph_difference(const Graph& a, const Graph& b);

}  // namespace kiln::test
