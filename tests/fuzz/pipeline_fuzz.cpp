// libFuzzer target: arbitrary bytes through the front end (as parser_fuzz) and, when they
// lower, through the compile pipeline to opt (rewrites, autodiff, the optimizer update,
// simplification, the memory check). Any crash, sanitizer report or malformed graph fails.
#include "frontend/lower.hpp"
#include "ir/printer.hpp"
#include "runtime/compile.hpp"
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
    // The later stages, the compile pipeline to opt as `kiln dump --stage=opt` runs it
    // (the verifier after every pass: a bad graph is an "internal" error).
    kiln::Diagnostics later(&file);
    kiln::CompileOptions o;
    o.run_checks = false;
    o.monitors = false;
    kiln::compile(std::move(*graph), o, kiln::Stage::opt, later);
    for (auto& d : later.all()) {
      if (d.id == "internal") {
        std::fprintf(stderr, "internal error after lowering: %s\n", d.message.c_str());
        std::abort();
      }
    }
  }
  return 0;
}
