// Golden tests: runs the kiln binary on every model of examples/ and tests/golden/ and
// compares its output with the checked-in NAME.<kind>.expected files (see tests/README.md).
// KILN_UPDATE_GOLDEN=1 rewrites them (and creates the ones each folder requires).
#include "passes/diagnostics/check.hpp"
#include "support.hpp"
#include "train_output.hpp"
#include <catch2/catch.hpp>
#include <map>
#include <sstream>

using namespace kiln::test;
namespace fs = std::filesystem;

namespace {

struct Kind {
  const char* suffix;              // ".ir.expected"
  std::vector<std::string> args;   // after `kiln`; "{}" is the model's path
  bool is_check;                   // compare stderr + exit code (check), else stdout of a dump
  bool may_fail = false;           // stdout compared even with exit code 1 (diagnostics as JSON/SARIF)
  bool is_train = false;           // the header's `kiln train` command (train_output.hpp), args appended
};

// Every command gets this memory limit rather than the machine's (the [memory] error
// quotes the limit: its golden output must not depend on the machine).
const char* const kMaxMemory = "--max-memory=4G";

const std::vector<Kind>& kinds() {
  static const std::vector<Kind> k = {
      {".ast.expected", {"dump", "{}", "--stage=ast", kMaxMemory}, false},
      {".ir.expected", {"dump", "{}", "--stage=ir", kMaxMemory}, false},
      {".grad.expected", {"dump", "{}", "--stage=grad", kMaxMemory}, false},
      {".opt.expected", {"dump", "{}", "--stage=opt", kMaxMemory}, false},
      {".dot.expected", {"dump", "{}", "--stage=ir", "--format=dot", kMaxMemory}, false},
      {".json.expected", {"dump", "{}", "--stage=ir", "--format=json", kMaxMemory}, false},
      {".fused.expected", {"dump", "{}", "--stage=fused", kMaxMemory}, false},
      {".err.expected", {"check", "{}", "--no-color", kMaxMemory}, true},
      {".check-json.expected", {"check", "{}", "--format=json", kMaxMemory}, false, true},
      {".sarif.expected", {"check", "{}", "--format=sarif", kMaxMemory}, false, true},
      // On the interpreter, the reference engine: the JIT's fused kernels may sum in
      // another order (the last digits of a loss differ); monitor_output_test.cpp checks
      // that the JIT reports the same diagnostics.
      {".train.expected", {"--engine", "interp"}, true, false, true},
  };
  return k;
}

// Where a model's expected files live (relative, without the suffix): beside it for
// tests/golden/**, and in tests/golden/examples/ for examples/.
std::string expected_base(const std::string& model) {
  std::string stem = model.substr(0, model.size() - std::string(".model").size());
  if (model.rfind("examples/", 0) == 0) return "tests/golden/" + stem;
  return stem;
}

// The kinds every model of a folder must have. tests/golden/flags/ holds models checked
// with command-line flags (their `# flags:` line): the flags' own limits and what depends on them.
std::vector<std::string> required_kinds(const std::string& model) {
  if (model.rfind("tests/golden/errors/", 0) == 0) return {".err.expected"};
  if (model.rfind("tests/golden/flags/", 0) == 0) return {".err.expected"};
  if (model.rfind("tests/golden/fragments/", 0) == 0) return {".ast.expected", ".err.expected"};
  if (model.rfind("examples/broken/", 0) == 0) {
    if (is_runtime_example(model)) return {".ir.expected", ".err.expected", ".train.expected"};
    return {".ir.expected", ".err.expected"};
  }
  return {".ir.expected"};
}

bool updating() {
  const char* u = std::getenv("KILN_UPDATE_GOLDEN");
  return u && std::string(u) == "1";
}

// The flags of a model's `# flags: --rows 100000` line (none without one), appended to
// every command the golden kinds run on it.
std::vector<std::string> model_flags(const std::string& model) {
  std::vector<std::string> out;
  std::istringstream in(read_file(std::filesystem::path(source_dir()) / model));
  for (std::string line; std::getline(in, line);)
    if (line.rfind("# flags:", 0) == 0) {
      std::istringstream words(line.substr(8));
      for (std::string w; words >> w;) out.push_back(w);
    }
  return out;
}

// What the binary produces for one kind; `ok` false (with `why`) when a dump failed.
std::string produce(const Kind& k, const std::string& model, bool& ok, std::string& why) {
  if (k.is_train) {
    RunResult r;
    std::string text = run_header_train(model, k.args.at(1), {kMaxMemory}, &r);
    ok = r.signal == 0 && r.exit_code >= 0;
    if (!ok) why = "killed by signal " + std::to_string(r.signal);
    return text;
  }
  std::vector<std::string> args;
  for (auto& a : k.args) args.push_back(a == "{}" ? model : a);
  for (auto& f : model_flags(model)) args.push_back(f);
  RunResult r = run_kiln(args);
  ok = r.signal == 0;
  if (k.is_check) {
    if (!ok) why = "killed by signal " + std::to_string(r.signal);
    return r.err + "# exit code: " + std::to_string(r.exit_code) + "\n";
  }
  if (r.exit_code != 0 && !(k.may_fail && r.exit_code == 1)) {
    ok = false;
    why = "exit code " + std::to_string(r.exit_code) + ", stderr:\n" + r.err;
  }
  return r.out;
}

std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> out;
  size_t b = 0;
  while (b < s.size()) {
    size_t e = s.find('\n', b);
    if (e == std::string::npos) e = s.size();
    out.push_back(s.substr(b, e - b));
    b = e + 1;
  }
  return out;
}

// "first difference at line N: expected ... actual ..." for a failed comparison.
std::string first_difference(const std::string& expected, const std::string& actual) {
  auto e = split_lines(expected), a = split_lines(actual);
  size_t i = 0;
  while (i < e.size() && i < a.size() && e[i] == a[i]) ++i;
  auto at = [&](const std::vector<std::string>& v) { return i < v.size() ? v[i] : std::string("<end of output>"); };
  return "first difference at line " + std::to_string(i + 1) + " (expected " + std::to_string(e.size()) +
         " lines, got " + std::to_string(a.size()) + "):\n  expected: " + at(e) + "\n  actual:   " + at(a);
}

}  // namespace

TEST_CASE("every model has its golden files and matches them", "[golden]") {
  const fs::path root = source_dir();
  auto models = all_models();
  REQUIRE(models.size() >= 20);  // examples, LANGUAGE.md's blocks and the error cases
  for (auto& model : models) {
    std::string base = expected_base(model);
    auto required = required_kinds(model);
    for (auto& k : kinds()) {
      fs::path expected_path = root / (base + k.suffix);
      bool exists = fs::exists(expected_path);
      bool is_required = std::find(required.begin(), required.end(), k.suffix) != required.end();
      if (!exists && !is_required) continue;
      INFO(model << " -> " << base << k.suffix);
      bool ok = true;
      std::string why;
      std::string actual = produce(k, model, ok, why);
      if (!ok) FAIL_CHECK("kiln failed: " << why);
      if (updating()) {
        if (ok) {
          fs::create_directories(expected_path.parent_path());
          if (!exists || read_file(expected_path) != actual) {
            write_file(expected_path, actual);
            WARN("updated " << base << k.suffix);
          }
        }
        continue;
      }
      if (!exists) {
        FAIL_CHECK("missing " << base << k.suffix << " (create it with KILN_UPDATE_GOLDEN=1 and review it)");
        continue;
      }
      std::string expected = read_file(expected_path);
      if (expected != actual) FAIL_CHECK(first_difference(expected, actual));
      else SUCCEED();
    }
  }
}

TEST_CASE("every expected file belongs to a model", "[golden]") {
  const fs::path root = source_dir();
  size_t n = 0;
  for (auto& e : fs::recursive_directory_iterator(root / "tests/golden")) {
    std::string rel = fs::relative(e.path(), root).string();
    if (!e.is_regular_file() || rel.size() < 9 || rel.substr(rel.size() - 9) != ".expected") continue;
    ++n;
    std::string base = rel.substr(0, rel.size() - 9);
    base = base.substr(0, base.rfind('.'));  // drop the kind
    std::string model = base + ".model";
    if (base.rfind("tests/golden/examples/", 0) == 0) model = base.substr(std::string("tests/golden/").size()) + ".model";
    INFO(rel);
    CHECK(fs::exists(root / model));
  }
  CHECK(n > 0);
}

TEST_CASE("every example passes kiln check without a diagnostic", "[golden]") {
  auto models = models_in("examples");
  for (auto& m : models_in("tests/golden/lang")) models.push_back(m);
  REQUIRE(models.size() >= 7);
  // LANGUAGE.md shows two models as broken on purpose: they must report their check.
  const std::map<std::string, std::string> documented_broken = {
      {"tests/golden/lang/const_weights.model", "[no-trainable]"},
      {"tests/golden/lang/sigmoid_stack.model", "[unstable-log]"},
  };
  for (auto& m : models) {
    INFO(m);
    RunResult r = run_kiln({"check", m});
    if (auto it = documented_broken.find(m); it != documented_broken.end()) {
      CHECK(r.err.find(it->second) != std::string::npos);
      continue;
    }
    CHECK(r.exit_code == 0);
    CHECK(r.err == "");
  }
  for (auto& m : models_in("examples/broken")) {  // they parse and lower; warnings allowed
    INFO(m);
    RunResult r = run_kiln({"check", m, "--no-color"});
    CHECK(r.exit_code == (r.err.find(": error: ") != std::string::npos ? 1 : 0));
    if (r.exit_code == 1) {  // only the checks whose severity is error (no-trainable), no lowering error
      auto id_at = r.err.find("]", r.err.find(": error: "));
      auto lb = r.err.rfind('[', id_at);
      std::string id = r.err.substr(lb + 1, id_at - lb - 1);
      INFO(id);
      auto* c = kiln::find_check(id);
      CHECK((c && c->severity == kiln::Severity::error));
    }
  }
}

TEST_CASE("error cases report located errors with a caret", "[golden]") {
  auto models = models_in("tests/golden/errors");
  REQUIRE(models.size() >= 10);
  std::map<std::string, int> ids;
  for (auto& m : models) {
    INFO(m);
    RunResult r = run_kiln({"check", m, "--no-color"});
    CHECK(r.exit_code == 1);
    // First line: `path:line:col: error: message [id]`, then the source line and a caret.
    std::string first = r.err.substr(0, r.err.find('\n'));
    CHECK(first.rfind(m + ":", 0) == 0);
    CHECK(first.find(": error: ") != std::string::npos);
    CHECK(r.err.find('^') != std::string::npos);
    auto lb = first.rfind('['), rb = first.rfind(']');
    if (lb != std::string::npos && rb != std::string::npos && rb > lb) ids[first.substr(lb + 1, rb - lb - 1)]++;
    // The file's first line names the kind it tests: `# syntax: ...`.
    std::string kind = read_file(fs::path(source_dir()) / m);
    kind = kind.substr(2, kind.find(':') - 2);
    std::string expected_id = kind == "bad initialiser" ? "init" : kind == "non-scalar loss" ? "" : kind;
    if (!expected_id.empty()) CHECK(first.find("[" + expected_id + "]") != std::string::npos);
  }
  for (auto id : {"syntax", "undefined", "redefined", "type", "shape"}) {
    INFO(id);
    CHECK(ids[id] >= 1);
  }
}
