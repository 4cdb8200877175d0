// The example models (examples/*.model) as the tests use them: their paths, and each one's
// training graph (lowered, differentiated, with its optimizer, simplified).
#pragma once
#include "frontend/lower.hpp"
#include "runtime/model.hpp"
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

// The model's training graph (autodiff, optimizer, simplify); the test fails if it has errors.
inline Graph example_training_graph(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  SourceFile file(path.string(), text.str());
  Diagnostics d(&file);
  std::optional<Graph> lowered = compile_source(file, d);
  INFO(d.render_all());
  REQUIRE(lowered);
  Graph g = *lowered;
  REQUIRE(make_training_graph(g, d));
  return g;
}

}  // namespace kiln::test
