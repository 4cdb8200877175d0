// The front end's properties under arbitrary bytes, shared by parser_fuzz and pipeline_fuzz:
// parse and lower, render the diagnostics, a graph exactly when there is no error, every
// error located, the graph verifies and prints. Aborts (a crash to libFuzzer) otherwise.
#pragma once
#include "frontend/lower.hpp"
#include "ir/printer.hpp"
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

namespace kiln::fuzz {

// The lowered graph of `file` (nothing when it has errors), after checking the properties.
inline std::optional<Graph> front_end_property(const SourceFile& file) {
  Diagnostics diags(&file);
  auto graph = compile_source(file, diags);
  std::string text = diags.render_all(false);
  if (graph.has_value() == diags.has_errors()) {
    std::fprintf(stderr, "compile_source returned %s with %zu errors\n%s", graph ? "a graph" : "nothing",
                 diags.error_count(), text.c_str());
    std::abort();
  }
  for (auto& d : diags.all()) {
    if (d.severity == Severity::error && !d.loc.valid()) {
      std::fprintf(stderr, "error without a location: %s\n", d.message.c_str());
      std::abort();
    }
  }
  if (graph) {
    auto problems = verify_graph(*graph);
    if (!problems.empty()) {
      std::fprintf(stderr, "lowered graph fails the verifier: %s\n", problems.front().c_str());
      std::abort();
    }
    (void)print_ir_text(*graph);
  }
  return graph;
}

}  // namespace kiln::fuzz
