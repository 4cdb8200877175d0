// Diagnostics output and control through the binary: --format=json and --format=sarif
// (validated field by field), -W<id>, -Wno-<id>, -Werror, `# kiln: ignore[<id>]`,
// --list, --no-rewrite, and the checks before `kiln train`.
#include "json_value.hpp"
#include "passes/diagnostics/check.hpp"
#include "passes/diagnostics/format.hpp"
#include "support.hpp"
#include "train_output.hpp"
#include <catch2/catch.hpp>
#include <fstream>
#include <cctype>
#include <set>

using namespace kiln::test;
namespace fs = std::filesystem;

namespace {

// Every problem with a SARIF 2.1.0 log against the fields kiln promises (empty: valid).
std::vector<std::string> sarif_problems(const Json& log) {
  std::vector<std::string> p;
  auto need = [&](bool ok, const std::string& what) {
    if (!ok) p.push_back(what);
    return ok;
  };
  if (!need(log.kind == Json::object, "the log is not an object")) return p;
  need(log.has("version") && log.at("version").text == "2.1.0", "version is not \"2.1.0\"");
  need(log.has("$schema") && log.at("$schema").kind == Json::string &&
           log.at("$schema").text.find("sarif") != std::string::npos,
       "$schema missing or not a SARIF schema");
  if (!need(log.has("runs") && log.at("runs").kind == Json::array && !log.at("runs").items.empty(), "no runs"))
    return p;
  for (const Json& run : log.at("runs").items) {
    const Json* driver = run.get("tool") ? run.at("tool").get("driver") : nullptr;
    if (!need(driver && driver->kind == Json::object, "run without tool.driver")) continue;
    need(driver->has("name") && driver->at("name").kind == Json::string && !driver->at("name").text.empty(),
         "tool.driver.name missing");
    std::vector<std::string> ids;
    if (const Json* rules = driver->get("rules")) {
      std::set<std::string> seen;
      for (const Json& r : rules->items) {
        std::string id = r.has("id") ? r.at("id").text : "";
        need(!id.empty(), "a rule without an id");
        need(seen.insert(id).second, "rule id '" + id + "' is not unique");
        need(r.get("shortDescription") && !r.at("shortDescription").at("text").text.empty(),
             "rule '" + id + "' has no shortDescription.text");
        need(r.get("help") && !r.at("help").at("text").text.empty(), "rule '" + id + "' has no help.text");
        ids.push_back(id);
      }
    }
    const Json* results = run.get("results");
    if (!need(results && results->kind == Json::array, "run without a results array")) continue;
    for (const Json& res : results->items) {
      std::string rule = res.has("ruleId") ? res.at("ruleId").text : "";
      auto it = std::find(ids.begin(), ids.end(), rule);
      need(it != ids.end(), "result ruleId '" + rule + "' is not a rule");
      if (it != ids.end() && res.has("ruleIndex"))
        need(res.at("ruleIndex").num() == double(it - ids.begin()), "ruleIndex of '" + rule + "' does not match");
      std::string level = res.has("level") ? res.at("level").text : "warning";
      need(level == "error" || level == "warning" || level == "note" || level == "none", "bad level '" + level + "'");
      need(res.get("message") && res.at("message").get("text") && !res.at("message").at("text").text.empty(),
           "a result without message.text");
      auto check_region = [&](const Json& loc) {
        const Json* phys = loc.get("physicalLocation");
        if (!phys) return;
        need(phys->get("artifactLocation") && phys->at("artifactLocation").has("uri"), "location without a uri");
        if (const Json* r = phys->get("region")) {
          need(r->has("startLine") && r->at("startLine").num() >= 1, "region startLine < 1");
          if (r->has("endLine")) need(r->at("endLine").num() >= r->at("startLine").num(), "region endLine < startLine");
          if (r->has("startColumn")) need(r->at("startColumn").num() >= 1, "region startColumn < 1");
        }
      };
      if (const Json* locs = res.get("locations"))
        for (const Json& l : locs->items) check_region(l);
      if (const Json* rel = res.get("relatedLocations"))
        for (const Json& l : rel->items) {
          need(l.get("message") && !l.at("message").at("text").text.empty(), "a related location without message");
          check_region(l);
        }
      if (const Json* fixes = res.get("fixes"))
        for (const Json& f : fixes->items) {
          const Json* changes = f.get("artifactChanges");
          need(changes && !changes->items.empty(), "a fix without artifactChanges");
          if (changes)
            for (const Json& c : changes->items) {
              need(c.get("artifactLocation") && c.at("artifactLocation").has("uri"), "a change without a uri");
              const Json* reps = c.get("replacements");
              need(reps && !reps->items.empty(), "a change without replacements");
              if (reps)
                for (const Json& r : reps->items) {
                  need(r.get("deletedRegion") && r.at("deletedRegion").at("startLine").num() >= 1,
                       "a replacement without deletedRegion.startLine >= 1");
                  need(r.get("insertedContent") && r.at("insertedContent").has("text"),
                       "a replacement without insertedContent.text");
                }
            }
        }
    }
  }
  return p;
}

// The models whose check reports something, and the error cases.
// Broken examples for the run-time monitors only (their first line says so): the static
// checks are rightly silent on some of them.
bool runtime_only(const std::string& model) { return is_runtime_example(model); }

std::vector<std::string> reporting_models() {
  auto ms = models_in("examples/broken");
  for (auto& m : models_in("tests/golden/errors")) ms.push_back(m);
  return ms;
}

}  // namespace

TEST_CASE("the SARIF validator rejects logs that miss required fields", "[diagout]") {
  CHECK(!sarif_problems(parse_json(R"({"version":"2.0.0","runs":[]})")).empty());
  auto bad = parse_json(R"({"$schema":"https://json.schemastore.org/sarif-2.1.0.json","version":"2.1.0","runs":[
    {"tool":{"driver":{"name":"kiln","rules":[{"id":"a","shortDescription":{"text":"x"},"help":{"text":"y"}},
                                                {"id":"a","shortDescription":{"text":"x"},"help":{"text":"y"}}]}},
     "results":[{"ruleId":"b","ruleIndex":0,"level":"fatal","message":{"text":""},
                 "locations":[{"physicalLocation":{"artifactLocation":{"uri":"f"},"region":{"startLine":0}}}]}]}]})");
  auto p = sarif_problems(bad);
  INFO(p.size());
  CHECK(p.size() >= 5);  // duplicate id, unknown ruleId, level, empty message, startLine
  auto good = parse_json(R"({"$schema":"https://json.schemastore.org/sarif-2.1.0.json","version":"2.1.0","runs":[
    {"tool":{"driver":{"name":"kiln","rules":[{"id":"a","shortDescription":{"text":"x"},"help":{"text":"y"}}]}},
     "results":[{"ruleId":"a","ruleIndex":0,"level":"note","message":{"text":"m"}}]}]})");
  CHECK(sarif_problems(good).empty());
}

TEST_CASE("check --format=sarif is valid SARIF 2.1.0 with one rule per id", "[diagout]") {
  for (auto& m : reporting_models()) {
    INFO(m);
    RunResult r = run_kiln({"check", m, "--format=sarif"});
    REQUIRE(r.signal == 0);
    CHECK(r.err.empty());  // the log is on stdout, nothing on stderr
    Json log = parse_json(r.out);
    auto problems = sarif_problems(log);
    for (auto& p : problems) FAIL_CHECK(p);
    const Json& run = log.at("runs").items.at(0);
    const Json& rules = run.at("tool").at("driver").at("rules");
    std::set<std::string> ids;
    for (auto& rule : rules.items) ids.insert(rule.at("id").text);
    for (auto& c : kiln::check_catalogue()) CHECK(ids.count(std::string(c.id)));
    for (auto id : {"syntax", "undefined", "redefined", "type", "shape"}) CHECK(ids.count(id));
    // A result per diagnostic: as many as the text output has "[id]" headers.
    RunResult text = run_kiln({"check", m, "--no-color"});
    CHECK(r.exit_code == text.exit_code);
    size_t headers = count(text.err, ": error: ") + count(text.err, ": warning: ");
    size_t results_not_notes = 0;
    for (auto& res : run.at("results").items) results_not_notes += res.at("level").text != "note";
    CHECK(results_not_notes == headers);
    CHECK((r.exit_code == 0 ? 1u : 0u) + results_not_notes > 0);
  }
}

TEST_CASE("check --format=json: one object per diagnostic with the documented fields", "[diagout]") {
  size_t fixits_with_range = 0, notes_seen = 0;
  for (auto& m : reporting_models()) {
    INFO(m);
    RunResult r = run_kiln({"check", m, "--format=json"});
    REQUIRE(r.signal == 0);
    CHECK(r.err.empty());
    Json arr = parse_json(r.out);
    REQUIRE(arr.kind == Json::array);
    if (!runtime_only(m)) CHECK(!arr.items.empty());
    for (const Json& d : arr.items) {
      for (auto key : {"id", "severity", "file", "line", "column", "end_line", "end_column", "message", "notes", "fixits"})
        CHECK(d.has(key));
      CHECK(d.at("file").text == m);
      std::string sev = d.at("severity").text;
      CHECK((sev == "error" || sev == "warning" || sev == "note"));
      CHECK(!d.at("message").text.empty());
      if (d.at("line").kind == Json::number) {
        CHECK(d.at("line").num() >= 1);
        CHECK(d.at("end_line").num() >= d.at("line").num());
      }
      for (const Json& n : d.at("notes").items) {
        ++notes_seen;
        CHECK(!n.at("message").text.empty());
        CHECK((n.at("line").kind == Json::null || n.at("line").num() >= 1));
      }
      for (const Json& f : d.at("fixits").items) {
        CHECK(!f.at("message").text.empty());
        if (f.at("line").kind == Json::number) {
          ++fixits_with_range;
          CHECK(f.at("replacement").kind == Json::string);
        }
      }
    }
  }
  CHECK(fixits_with_range > 0);
  CHECK(notes_seen > 0);
  if (!tool_or_skip("python3", "python3")) return;
  TempDir tmp;
  for (auto& m : reporting_models()) {
    for (std::string fmt : {"json", "sarif"}) {
      INFO(m << " --format=" << fmt);
      auto out = (tmp.path / "d.json").string();
      write_file(out, run_kiln({"check", m, "--format=" + fmt}).out);
      RunResult v = run_shell("python3 -c 'import json,sys; json.load(open(sys.argv[1]))' " + sh_quote(out));
      INFO(v.err);
      CHECK(v.exit_code == 0);
    }
  }
}

TEST_CASE("a clean model gives an empty JSON array and a SARIF log without results", "[diagout]") {
  RunResult j = run_kiln({"check", "examples/iris.model", "--format=json"});
  CHECK(j.exit_code == 0);
  CHECK(parse_json(j.out).items.empty());
  RunResult s = run_kiln({"check", "examples/iris.model", "--format=sarif"});
  CHECK(s.exit_code == 0);
  Json log = parse_json(s.out);
  CHECK(sarif_problems(log).empty());
  CHECK(log.at("runs").items.at(0).at("results").items.empty());
  CHECK(run_kiln({"check", "examples/iris.model", "--format=xml"}).exit_code == 2);
}

TEST_CASE("warning flags: -Werror, -Wno-<id> and -W<id> control the checks", "[diagout]") {
  const std::string m = "examples/broken/unstable-div.model";
  RunResult plain = run_kiln({"check", m, "--no-color"});
  REQUIRE(plain.exit_code == 0);
  REQUIRE(plain.err.find("warning: ") != std::string::npos);
  REQUIRE(plain.err.find("[unstable-div]") != std::string::npos);

  RunResult werror = run_kiln({"check", m, "--no-color", "-Werror"});
  CHECK(werror.exit_code == 1);
  CHECK(werror.err.find("error: ") != std::string::npos);
  CHECK(werror.err.find("warning: ") == std::string::npos);
  CHECK(werror.err.find("[unstable-div]") != std::string::npos);

  RunResult off = run_kiln({"check", m, "--no-color", "-Wno-unstable-div"});
  CHECK(off.exit_code == 0);
  CHECK(off.err.find("[unstable-div]") == std::string::npos);
  // Disabled, then -Werror: nothing left to promote.
  CHECK(run_kiln({"check", m, "-Wno-unstable-div", "-Werror"}).exit_code == (count(off.err, "warning: ") ? 1 : 0));
  // The last option for an id wins.
  RunResult back = run_kiln({"check", m, "--no-color", "-Wno-unstable-div", "-Wunstable-div"});
  CHECK(back.err.find("[unstable-div]") != std::string::npos);

  // Errors stay errors whatever the options; -Wno- on an error check silences it.
  CHECK(run_kiln({"check", "examples/broken/no-trainable.model"}).exit_code == 1);
  RunResult no_err = run_kiln({"check", "examples/broken/no-trainable.model", "--no-color", "-Wno-no-trainable"});
  CHECK(no_err.err.find("[no-trainable]") == std::string::npos);
}

TEST_CASE("unknown -W ids and misspelt options are usage errors (exit 2)", "[diagout]") {
  for (std::string opt : {"-Wunstable-lgo", "-Wno-nonsense", "-W", "-Wno-"}) {
    INFO(opt);
    RunResult r = run_kiln({"check", "examples/iris.model", opt});
    CHECK(r.exit_code == 2);
    CHECK(r.err.rfind("kiln: error: ", 0) == 0);
    CHECK(count(r.err, "\n") == 1);
  }
  RunResult r = run_kiln({"check", "examples/iris.model", "-Wunstable-lgo"});
  CHECK(r.err.find("unknown check 'unstable-lgo'") != std::string::npos);
  CHECK(run_kiln({"check", "examples/iris.model", "--W=error"}).exit_code == 2);
  CHECK(run_kiln({"predict", "examples/iris.model", "-Werror"}).exit_code == 2);  // not a checking command
  CHECK(run_kiln({"dump", "examples/iris.model", "-Wbogus"}).exit_code == 2);
}

TEST_CASE("a `# kiln: ignore[<id>]` comment silences that check on its line", "[diagout]") {
  TempDir tmp;
  size_t silenced = 0;
  for (auto& m : models_in("examples/broken")) {
    RunResult r = run_kiln({"check", m, "--format=json"});
    Json arr = parse_json(r.out);
    std::string text = read_file(fs::path(source_dir()) / m);
    std::vector<std::string> lines;
    for (size_t b = 0; b <= text.size();) {
      size_t e = text.find('\n', b);
      if (e == std::string::npos) e = text.size();
      lines.push_back(text.substr(b, e - b));
      b = e + 1;
    }
    for (const Json& d : arr.items) {
      if (d.at("severity").text != "warning" || d.at("line").kind != Json::number) continue;
      size_t line = size_t(d.at("line").num());
      std::string id = d.at("id").text;
      INFO(m << ":" << line << " [" << id << "]");
      REQUIRE(line <= lines.size());
      auto with = lines;
      with[line - 1] += "  # kiln: ignore[" + id + "]";
      std::string edited;
      for (auto& l : with) edited += l + "\n";
      auto path = (tmp.path / "m.model").string();
      write_file(path, edited);
      Json after = parse_json(run_kiln({"check", path, "--format=json"}).out);
      bool still = false;
      for (const Json& x : after.items)
        still = still || (x.at("id").text == id && x.at("line").kind == Json::number && size_t(x.at("line").num()) == line &&
                          x.at("severity").text != "note");
      CHECK(!still);
      ++silenced;
      // Another id in the comment does not silence it.
      with[line - 1] = lines[line - 1] + "  # kiln: ignore[no-such-check]";
      edited.clear();
      for (auto& l : with) edited += l + "\n";
      write_file(path, edited);
      Json other = parse_json(run_kiln({"check", path, "--format=json"}).out);
      bool kept = false;
      for (const Json& x : other.items) kept = kept || (x.at("id").text == id && x.at("severity").text == "warning");
      CHECK(kept);
    }
  }
  CHECK(silenced >= 15);
}

TEST_CASE("check --list prints the catalogue", "[diagout]") {
  RunResult r = run_kiln({"check", "--list"});
  CHECK(r.exit_code == 0);
  CHECK(r.out == kiln::check_list_text());
  for (auto& c : kiln::check_catalogue()) CHECK(r.out.find(std::string(c.id)) != std::string::npos);
  CHECK(run_kiln({"check", "--list", "examples/iris.model"}).exit_code == 2);
}

TEST_CASE("the rewrite is reported as a note, and --no-rewrite keeps the graph as written", "[diagout]") {
  const std::string m = "examples/broken/sigmoid_stack.model";
  RunResult r = run_kiln({"check", m, "--no-color"});
  CHECK(r.exit_code == 0);
  CHECK(r.err.find("note: rewrote ") != std::string::npos);
  CHECK(r.err.find("bce_with_logits") != std::string::npos);
  RunResult nr = run_kiln({"check", m, "--no-color", "--no-rewrite"});
  CHECK(nr.err.find("note: rewrote ") == std::string::npos);
  CHECK(nr.err.find("[unstable-log]") != std::string::npos);  // the warning stays

  RunResult opt = run_kiln({"dump", m, "--stage=opt"});
  RunResult opt_nr = run_kiln({"dump", m, "--stage=opt", "--no-rewrite"});
  REQUIRE(opt.exit_code == 0);
  REQUIRE(opt_nr.exit_code == 0);
  CHECK(opt.out.find("bce_with_logits") != std::string::npos);
  CHECK(opt_nr.out.find("bce_with_logits") == std::string::npos);
  CHECK(opt_nr.out.find(" = log %") != std::string::npos);
  CHECK(opt.out.find(" = log %") == std::string::npos);
  // The rewrite notes obey -Wno-<id> too.
  CHECK(run_kiln({"check", m, "--no-color", "-Wno-unstable-log"}).err.find("note: rewrote ") == std::string::npos);
}

TEST_CASE("train runs the checks first: warnings printed once, errors and -Werror stop it", "[diagout]") {
  const std::string m = "examples/broken/sigmoid_stack.model";
  // The checks run before the data is read: a missing file is only reached without errors.
  RunResult w = run_kiln({"train", m, "--data", "no-such-data.csv", "--no-color"});
  CHECK(w.exit_code == 2);
  CHECK(count(w.err, "[vanishing-gradient]") == 1);
  CHECK(count(w.err, "warning: ") >= 1);
  CHECK(w.err.find("no-such-data.csv") != std::string::npos);

  RunResult e = run_kiln({"train", m, "--data", "no-such-data.csv", "--no-color", "-Werror"});
  CHECK(e.exit_code == 1);
  CHECK(e.err.find("error: ") != std::string::npos);
  CHECK(e.err.find("no-such-data.csv") == std::string::npos);  // stopped before the data

  RunResult nt = run_kiln({"train", "examples/broken/no-trainable.model", "--data", "no-such-data.csv", "--no-color"});
  CHECK(nt.exit_code == 1);
  CHECK(nt.err.find("[no-trainable]") != std::string::npos);

  RunResult off = run_kiln({"train", m, "--data", "no-such-data.csv", "--no-color", "-Wno-vanishing-gradient",
                            "--no-rewrite"});
  CHECK(off.exit_code == 2);
  CHECK(off.err.find("[vanishing-gradient]") == std::string::npos);
  CHECK(off.err.find("note: rewrote") == std::string::npos);
  CHECK(run_kiln({"train", m, "--data", "x.csv", "-Wnope"}).exit_code == 2);
}

TEST_CASE("train trains the rewritten graph: finite where --no-rewrite goes NaN", "[diagout]") {
  // The hand-written cross-entropy over a saturating sigmoid stack, unnormalised data and a
  // large step: the sigmoid reaches exactly 0 or 1 and log gives -inf; bce_with_logits does not.
  std::vector<std::string> args = {"train", "examples/broken/sigmoid_stack.model", "--data",
                                   "examples/data/breast_cancer.csv", "--epochs", "20", "--lr", "0.5",
                                   "--engine", "interp", "--no-color"};
  RunResult rewritten = run_kiln(args);
  INFO(rewritten.err);
  CHECK(rewritten.exit_code == 0);
  CHECK(count(rewritten.err, "note: rewrote ") == 1);
  args.push_back("--no-rewrite");
  RunResult as_written = run_kiln(args);
  INFO(as_written.err);
  CHECK(as_written.exit_code == 1);
  std::string lower = as_written.err;
  for (char& c : lower) c = char(std::tolower(static_cast<unsigned char>(c)));
  CHECK(lower.find("nan") != std::string::npos);
  CHECK(as_written.err.find("note: rewrote ") == std::string::npos);
}

TEST_CASE("JSON quoting and SARIF columns in code points", "[diagout]") {
  CHECK(kiln::json_quote("a\"b\\c\nd\te\x01") == "\"a\\\"b\\\\c\\nd\\te\\u0001\"");
  CHECK(kiln::json_quote("µ") == "\"µ\"");
  // "µ" (bytes 9-10) is 2 bytes: 'z' at byte column 12 is code-point column 11.
  kiln::SourceFile f("dir with space/m.model", "x = 1 # µ z\n");
  kiln::Diagnostics d(&f);
  d.warning("unstable-div", {1, 12, 1, 13}, "msg \"quoted\"");
  d.report(kiln::Severity::note, "custom-id", {}, "no location");
  Json log = parse_json(kiln::diagnostics_sarif(d, "9.9"));
  CHECK(sarif_problems(log).empty());
  const Json& run = log.at("runs").items.at(0);
  CHECK(run.at("tool").at("driver").at("version").text == "9.9");
  const Json& res = run.at("results").items.at(0);
  CHECK(res.at("message").at("text").text == "msg \"quoted\"");
  const Json& loc = res.at("locations").items.at(0).at("physicalLocation");
  CHECK(loc.at("artifactLocation").at("uri").text == "dir%20with%20space/m.model");
  CHECK(loc.at("region").at("startColumn").num() == 11);
  CHECK(loc.at("region").at("endColumn").num() == 12);
  // An id outside the catalogue still gets a rule; a result without a location has no region.
  const Json& res2 = run.at("results").items.at(1);
  CHECK(res2.at("ruleId").text == "custom-id");
  CHECK(!res2.at("locations").items.at(0).at("physicalLocation").has("region"));
  Json arr = parse_json(kiln::diagnostics_json(d));
  REQUIRE(arr.items.size() == 2);
  CHECK(arr.items[0].at("column").num() == 12);  // JSON columns are bytes, as in the text output
  CHECK(arr.items[1].at("line").kind == Json::null);
}
