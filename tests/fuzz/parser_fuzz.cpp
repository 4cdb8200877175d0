// libFuzzer target: arbitrary bytes through the whole front end (parse, lower, render the
// diagnostics; verify and print the graph when it lowers). It links the front end and the
// IR alone (pipeline_fuzz takes the graph on through the later stages). Any crash,
// sanitizer report or malformed graph fails.
#include "frontend/lower.hpp"
#include "ir/printer.hpp"
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  kiln::SourceFile file("fuzz.model", std::string(reinterpret_cast<const char*>(data), size));
  kiln::Diagnostics diags(&file);
  auto graph = kiln::compile_source(file, diags);
  std::string text = diags.render_all(false);
  if (graph.has_value() == diags.has_errors()) {
    std::fprintf(stderr, "compile_source returned %s with %zu errors\n%s", graph ? "a graph" : "nothing",
                 diags.error_count(), text.c_str());
    std::abort();
  }
  for (auto& d : diags.all()) {
    if (d.severity == kiln::Severity::error && !d.loc.valid()) {
      std::fprintf(stderr, "error without a location: %s\n", d.message.c_str());
      std::abort();
    }
  }
  if (graph) {
    auto problems = kiln::verify_graph(*graph);
    if (!problems.empty()) {
      std::fprintf(stderr, "lowered graph fails the verifier: %s\n", problems.front().c_str());
      std::abort();
    }
    (void)kiln::print_ir_text(*graph);
  }
  return 0;
}
