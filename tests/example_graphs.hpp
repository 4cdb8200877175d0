// The example models (examples/*.model) as the tests use them: their paths, and each one's
// training graph (lowered, differentiated, with its optimizer, simplified).
#pragma once
#include "runtime/compile.hpp"
#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

namespace kiln::test {

// examples/*.model, sorted.
inline std::vector<std::filesystem::path> example_models() {
  std::vector<std::filesystem::path> models;
  for (auto& e : std::filesystem::directory_iterator(std::string(KILN_SOURCE_DIR) + "/examples"))
    if (e.path().extension() == ".model") models.push_back(e.path());
  std::sort(models.begin(), models.end());
  return models;
}

// The model's training graph (the compile pipeline to stage opt, without the static checks
// and the run-time monitors); the test fails if it has errors.
inline Graph example_training_graph(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  SourceFile file(path.string(), text.str());
  Diagnostics d(&file);
  CompileOptions o;
  o.run_checks = false;
  o.monitors = false;
  auto r = compile(file, o, Stage::opt, d);
  INFO(d.render_all());
  REQUIRE(r);
  return std::move(r->graph);
}

}  // namespace kiln::test
