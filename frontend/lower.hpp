// Semantic lowering: AST -> typed IR graph (names, fn inlining, dims, types, shapes,
// initialisers, the train block). Every error is a located diagnostic.
#pragma once
#include "frontend/parse.hpp"
#include "ir/graph.hpp"
#include <optional>

namespace kiln {

struct LowerOptions {
  std::optional<int64_t> batch;  // overrides the `batch` dim (e.g. --batch)
};

std::optional<Graph> lower_model(const Parsed& parsed, const SourceFile& file, Diagnostics& diags,
                                 const LowerOptions& opts = {});

// parse_model + lower_model.
std::optional<Graph> compile_source(const SourceFile& file, Diagnostics& diags, const LowerOptions& opts = {});

}  // namespace kiln
