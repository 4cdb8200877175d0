// libFuzzer target: arbitrary bytes through the front end (as parser_fuzz:
// front_end_property.hpp) and, when they lower, through the compile pipeline to opt
// (rewrites, autodiff, the optimizer update, simplification, the memory check). Any crash,
// sanitizer report or malformed graph fails.
#include "front_end_property.hpp"
#include "runtime/compile.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  kiln::SourceFile file("fuzz.model", std::string(reinterpret_cast<const char*>(data), size));
  auto graph = kiln::fuzz::front_end_property(file);
  if (!graph) return 0;
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
  return 0;
}
