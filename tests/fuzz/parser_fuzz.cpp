// libFuzzer target: arbitrary bytes through the whole front end (parse, lower, render the
// diagnostics; verify and print the graph when it lowers), then through autodiff, the
// optimizer update and simplification. Any crash, sanitizer report or malformed graph fails.
#include "frontend/lower.hpp"
#include "ir/printer.hpp"
#include "passes/autodiff.hpp"
#include "passes/optimizer.hpp"
#include "passes/simplify.hpp"
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
    // The later stages, as `kiln dump --stage=opt` runs them.
    kiln::Diagnostics later(&file);
    kiln::differentiate(*graph, later);
    if (!later.has_errors()) kiln::add_optimizer(*graph, later);
    if (!later.has_errors()) {
      kiln::Pipeline pipeline = kiln::make_simplify_pipeline();
      pipeline.run(*graph, later);  // verifies after every pass: a bad graph is an "internal" error
    }
    for (auto& d : later.all()) {
      if (d.id == "internal") {
        std::fprintf(stderr, "internal error after lowering: %s\n", d.message.c_str());
        std::abort();
      }
    }
  }
  return 0;
}
