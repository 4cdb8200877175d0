// Printers and reader of the IR: the canonical text form (read back by parse_ir_text),
// Graphviz dot, JSON; and the verifier.
#pragma once
#include "ir/graph.hpp"
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiln {

// Canonical text, one node a line:  `%7:f32[64,128] = matmul %3, %5    # file.model:12:10`
std::string print_ir_text(const Graph& g);
std::string print_ir_dot(const Graph& g);
std::string print_ir_json(const Graph& g);

// Reads the canonical text form back. On error returns nullopt with "line N: message" in err.
std::optional<Graph> parse_ir_text(std::string_view text, std::string& err);

// Structural checks (operand ids in range and defined before use, arity, attributes,
// dtype/shape agree with the op's rule, roots valid). Empty when the graph is well formed.
std::vector<std::string> verify_graph(const Graph& g);

}  // namespace kiln
