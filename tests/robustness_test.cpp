// Robustness of the front end: every example truncated at every token boundary and with
// seeded random byte mutations must compile or fail with a located error, never crash;
// a sample goes through the binary too (exit 1 or 2, never a signal or an internal error).
#include "frontend/lower.hpp"
#include "ir/printer.hpp"
#include "runtime/compile.hpp"
#include "support.hpp"
#include <catch2/catch.hpp>

using namespace kiln::test;
namespace fs = std::filesystem;

namespace {

struct Outcome {
  bool compiled = false;
  std::string rendered;
};

// The later stages on a graph that lowered (the compile pipeline to opt, as `kiln dump
// --stage=opt` runs it, the verifier after every pass): they either succeed with a graph
// that verifies or report an error; they never crash.
void run_later_stages(kiln::Graph g, const kiln::SourceFile& file) {
  kiln::Diagnostics diags(&file);
  kiln::CompileOptions o;
  o.run_checks = false;
  o.monitors = false;
  auto r = kiln::compile(std::move(g), o, kiln::Stage::opt, diags);
  CHECK(r.has_value() == !diags.has_errors());
  if (r) CHECK(kiln::verify_graph(r->graph).empty());
  for (auto& d : diags.all()) CHECK(d.id != "internal");
}

// Compiles in-process and checks the contract; returns what happened.
Outcome compile_and_check(const std::string& name, const std::string& text) {
  kiln::SourceFile file(name, text);
  kiln::Diagnostics diags(&file);
  auto graph = kiln::compile_source(file, diags);
  Outcome o;
  o.compiled = graph.has_value();
  o.rendered = diags.render_all(false);
  // A graph exactly when there is no error.
  CHECK(graph.has_value() == !diags.has_errors());
  if (graph) {
    auto problems = kiln::verify_graph(*graph);
    CHECK(problems.empty());
    if (problems.empty()) run_later_stages(std::move(*graph), file);
    return o;
  }
  // At least one error, every error located inside the file, rendered as `file:line:col`.
  bool located = false;
  for (auto& d : diags.all()) {
    if (d.severity != kiln::Severity::error) continue;
    CHECK(d.loc.valid());
    CHECK(d.loc.line <= file.line_count());
    if (d.loc.valid()) {
      std::string where = name + ":" + std::to_string(d.loc.line) + ":" + std::to_string(d.loc.col) + ": error: ";
      located = located || diags.render(d).rfind(where, 0) == 0;
    }
  }
  CHECK(located);
  return o;
}

// Offsets where a token may end: every change between word characters, spaces and
// punctuation (and between two punctuation characters).
std::vector<size_t> token_boundaries(const std::string& s) {
  auto cls = [](unsigned char c) {
    if (std::isalnum(c) || c == '_' || c == '.') return 0;
    if (std::isspace(c)) return 1;
    return 2;
  };
  std::vector<size_t> out;
  for (size_t i = 1; i < s.size(); ++i)
    if (cls(s[i]) != cls(s[i - 1]) || cls(s[i]) == 2) out.push_back(i);
  return out;
}

// One seeded mutation: overwrite, insert or delete a few bytes (any byte value,
// or a character the grammar cares about).
std::string mutate(const std::string& s, std::mt19937& rng) {
  static const std::string interesting = "()[]{}=,;:@+-*/^<>!#.\n 0123456789eE_abcxyz";
  std::string m = s;
  int edits = 1 + static_cast<int>(rng() % 4);
  for (int e = 0; e < edits && !m.empty(); ++e) {
    size_t pos = rng() % m.size();
    char c = (rng() % 3 == 0) ? static_cast<char>(rng() & 0xff) : interesting[rng() % interesting.size()];
    switch (rng() % 3) {
      case 0: m[pos] = c; break;
      case 1: m.insert(m.begin() + static_cast<long>(pos), c); break;
      default: m.erase(pos, 1 + rng() % 8); break;
    }
  }
  return m;
}

std::vector<std::string> corpus() {
  std::vector<std::string> out;
  for (auto& m : all_models())
    if (m.find("/errors/") == std::string::npos) out.push_back(m);
  return out;
}

}  // namespace

TEST_CASE("truncated at every token boundary: compiles or a located error", "[robust]") {
  auto models = corpus();
  REQUIRE(models.size() >= 8);
  size_t runs = 0, failures = 0;
  for (auto& m : models) {
    std::string text = read_file(fs::path(source_dir()) / m);
    for (size_t cut : token_boundaries(text)) {
      INFO(m << " truncated at byte " << cut);
      failures += !compile_and_check(m, text.substr(0, cut)).compiled;
      ++runs;
    }
  }
  CHECK(runs > 1000);
  CHECK(failures > runs / 2);  // most prefixes of a model are not models
}

TEST_CASE("200 seeded random mutations per example: compiles or a located error", "[robust]") {
  for (auto& m : corpus()) {
    std::string text = read_file(fs::path(source_dir()) / m);
    std::mt19937 rng(static_cast<uint32_t>(std::hash<std::string>{}(m) & 0xffffffff) ^ 0x6b696c6eu);
    for (int i = 0; i < 200; ++i) {
      std::string mutated = mutate(text, rng);
      INFO(m << " mutation " << i);
      compile_and_check(m, mutated);
    }
  }
}

TEST_CASE("pathological inputs: deep nesting, long lines, many statements", "[robust]") {
  std::string deep = "input x : f32[4]\ny = " + std::string(2000, '(') + "x" + std::string(2000, ')') + "\n";
  compile_and_check("deep.model", deep);
  std::string unclosed = "input x : f32[4]\ny = " + std::string(5000, '(') + "x\n";
  compile_and_check("unclosed.model", unclosed);
  std::string chain = "input x : f32[4]\ny = x";
  for (int i = 0; i < 3000; ++i) chain += " + x";
  compile_and_check("chain.model", chain + "\n");
  std::string many = "input x : f32[4]\nv0 = x\n";
  for (int i = 1; i < 2000; ++i) many += "v" + std::to_string(i) + " = v" + std::to_string(i - 1) + " * 2\n";
  compile_and_check("many.model", many);
  compile_and_check("huge_dim.model", "input x : f32[99999999999999999999, 4]\n");
  compile_and_check("huge_shape.model", "input x : f32[2000000000, 2000000000, 2000000000]\ny = x + 1\n");
  compile_and_check("cr.model", "input x : f32[4]\r\ny = x\r\n");
  compile_and_check("only_comment.model", "# nothing here\n");
}

TEST_CASE("a sample through the binary: exit 0, 1 or 2, never a crash", "[robust]") {
  TempDir tmp;
  std::mt19937 rng(20261125);
  int n = 0;
  for (auto& m : models_in("examples")) {
    std::string text = read_file(fs::path(source_dir()) / m);
    auto cuts = token_boundaries(text);
    for (int i = 0; i < 6; ++i) {
      std::string input = i % 2 ? mutate(text, rng) : text.substr(0, cuts[rng() % cuts.size()]);
      auto path = (tmp.path / ("case" + std::to_string(n++) + ".model")).string();
      write_file(path, input);
      RunResult r = run_kiln({"check", path, "--no-color"});
      INFO(m << " case " << i << "\n" << r.err);
      CHECK(r.signal == 0);
      CHECK((r.exit_code == 0 || r.exit_code == 1 || r.exit_code == 2));
      if (r.exit_code == 1) CHECK(r.err.rfind(path + ":", 0) == 0);  // located
      if (r.exit_code == 2) {
        CHECK(count_lines(r.err) == 1);  // an unusable file: one line
        CHECK(r.err.rfind("kiln: error: ", 0) == 0);
      }
      // The binary agrees with the in-process front end when the text is usable.
      if (r.exit_code != 2) CHECK((r.exit_code == 0) == compile_and_check(path, input).compiled);
    }
  }
  CHECK(n >= 24);
}
