// Helpers for the diagnostics and stabilize tests: compile model text, run the static
// checks, and look at what they reported.
#pragma once
#include "frontend/lower.hpp"
#include "passes/diagnostics/check.hpp"
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

namespace kiln::diagtest {

inline std::string read_source(const std::string& rel) {
  std::ifstream in(std::string(KILN_SOURCE_DIR) + "/" + rel, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A compiled model with the diagnostics of lowering and of the static checks.
struct Checked {
  std::unique_ptr<SourceFile> file;
  std::unique_ptr<Diagnostics> diags;
  std::optional<Graph> graph;
  bool ok = false;  // run_static_checks' result

  std::vector<std::string> ids() const {
    std::vector<std::string> v;
    for (auto& d : diags->all()) v.push_back(d.id);
    return v;
  }
  const Diagnostic* first(const std::string& id) const {
    for (auto& d : diags->all())
      if (d.id == id) return &d;
    return nullptr;
  }
  size_t count(const std::string& id) const {
    size_t n = 0;
    for (auto& d : diags->all()) n += d.id == id;
    return n;
  }
};

// Compiles `text` (shown as `path`) and runs the static checks with `opts` (its source is
// set to the file). A lowering error fails the test.
inline Checked check_text(const std::string& path, const std::string& text, CheckOptions opts = {}) {
  Checked c;
  c.file = std::make_unique<SourceFile>(path, text);
  c.diags = std::make_unique<Diagnostics>(c.file.get());
  c.graph = compile_source(*c.file, *c.diags);
  INFO(c.diags->render_all());
  REQUIRE(c.graph);
  REQUIRE_FALSE(c.diags->has_errors());
  opts.source = c.file.get();
  c.ok = run_static_checks(*c.graph, *c.diags, opts);
  return c;
}

inline Checked check_file(const std::string& rel, CheckOptions opts = {}) {
  std::string text = read_source(rel);
  REQUIRE_FALSE(text.empty());
  return check_text(rel, text, std::move(opts));
}

}  // namespace kiln::diagtest
