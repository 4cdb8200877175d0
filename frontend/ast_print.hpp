// `kiln dump --stage=ast`: the AST as an indented tree, one node a line with its line:col.
#pragma once
#include "frontend/parse.hpp"
#include <string>

namespace kiln {

// Deterministic (suitable for golden files). Operator chains are shown as binary
// nodes folded by associativity: `a - b - c` as ((a - b) - c), `a ^ b ^ c` as (a ^ (b ^ c));
// chains of more than 64 operators print flat as one "Chain" node. Format per line:
// `<2 spaces per level><Kind> <details> (<line>:<col>)`.
std::string print_ast(const Parsed& parsed, const SourceFile& file);

}  // namespace kiln
