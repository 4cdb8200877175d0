// The catalogue of run-time monitors ("[monitor]", runtime/monitors/catalogue.cpp) against the
// docs: docs/checks/runtime.md's table (id, severity, summary, page, in order) and
// DIAGNOSTICS.md's run-time table name exactly its rules, every page (and anchor) exists, and
// the ids and options of `kiln train` are the catalogue's.
#include "runtime/monitor.hpp"
#include "runtime/monitors/rule.hpp"
#include "tests/runtime/test_util.hpp"
#include <catch2/catch.hpp>
#include <filesystem>
#include <regex>
#include <sstream>

using namespace kiln;

namespace {

std::string doc(const std::string& rel) { return test::get_file(std::string(KILN_SOURCE_DIR) + "/docs/" + rel); }

// The lines of `text` from the first line starting with `from` to the next line starting with
// "## " (exclusive).
std::vector<std::string> section(const std::string& text, const std::string& from) {
  std::vector<std::string> out;
  std::istringstream in(text);
  bool on = false;
  for (std::string line; std::getline(in, line);) {
    if (on && line.rfind("## ", 0) == 0) break;
    if (!on && line.rfind(from, 0) == 0) on = true;
    if (on) out.push_back(line);
  }
  return out;
}

// The slug of a markdown heading ("## At run time" -> "at-run-time").
std::string slug(std::string h) {
  while (!h.empty() && (h[0] == '#' || h[0] == ' ')) h.erase(0, 1);
  std::string s;
  for (char c : h) {
    if (std::isalnum(static_cast<unsigned char>(c))) s += char(std::tolower(static_cast<unsigned char>(c)));
    else if (c == ' ' || c == '-') s += '-';
  }
  return s;
}

}  // namespace

TEST_CASE("the run-time monitors' catalogue is docs/checks/runtime.md's table", "[monitor]") {
  struct Row {
    std::string id, severity, page, summary;
  };
  std::vector<Row> rows;
  const std::regex row(R"(^\| \[([a-z-]+)\]\(([^)]+)\) \| (error|warning) \| (.+) \|$)");
  for (const std::string& line : section(doc("checks/runtime.md"), "# Run-time monitors")) {
    std::smatch m;
    if (std::regex_match(line, m, row)) rows.push_back({m[1], m[3], m[2], m[4]});
  }
  const auto& cat = monitor_catalogue();
  REQUIRE(rows.size() == cat.size());
  for (size_t i = 0; i < cat.size(); ++i) {
    const MonitorRuleInfo& r = cat[i];
    INFO("catalogue entry " << i << ": " << r.id);
    CHECK(rows[i].id == r.id);
    CHECK(rows[i].severity == (r.severity == Severity::error ? "error" : "warning"));
    CHECK(rows[i].page == r.doc);
    CHECK(rows[i].summary == r.summary);
    // The page exists and, where the entry names an anchor, has that heading.
    std::string page(r.doc), anchor;
    if (auto h = page.find('#'); h != std::string::npos) anchor = page.substr(h + 1), page = page.substr(0, h);
    REQUIRE(std::filesystem::exists(std::string(KILN_SOURCE_DIR) + "/docs/checks/" + page));
    const std::string text = doc("checks/" + page);
    CHECK(text.find("# `" + std::string(r.id) + "`") == 0);
    if (!anchor.empty()) {
      bool found = false;
      std::istringstream in(text);
      for (std::string line; std::getline(in, line);)
        found = found || (line.rfind("#", 0) == 0 && slug(line) == anchor);
      CHECK(found);
    }
    CHECK(find_monitor_rule(r.id) == &r);
    // A rule object for every monitor but the one the trainer checks at load time.
    CHECK((r.make == nullptr) == (r.id == "data-scale"));
  }
  CHECK(find_monitor_rule("unstable-log") == nullptr);
}

TEST_CASE("DIAGNOSTICS.md's run-time table, the ids and the -W options are the catalogue's", "[monitor]") {
  std::vector<std::string> ids;
  const std::regex code("`([a-z-]+)`");
  for (const std::string& line : section(doc("DIAGNOSTICS.md"), "## Run-time monitors")) {
    if (line.rfind("| `", 0) != 0) continue;
    const std::string first = line.substr(0, line.find(" |", 2));
    for (auto it = std::sregex_iterator(first.begin(), first.end(), code); it != std::sregex_iterator(); ++it)
      ids.push_back((*it)[1]);
  }
  std::vector<std::string> cat;
  for (const MonitorRuleInfo& r : monitor_catalogue()) cat.emplace_back(r.id);
  CHECK(ids == cat);
  CHECK(monitor_ids() == cat);
  for (const std::string& id : cat) {
    CHECK(is_monitor_id(id));
    MonitorOptions o;
    CHECK(apply_monitor_option("-Wno-" + id, o));
    CHECK(o.disabled.count(id) == 1);
  }
}

// Every rule runs: a Monitor has one rule object per catalogue entry that has one, and each
// hook list holds exactly the rules naming that hook.
TEST_CASE("a Monitor runs the catalogue's rules", "[monitor]") {
  Graph g;
  Monitor mon(g, {}, nullptr);
  size_t with_rule = 0;
  for (const MonitorRuleInfo& r : monitor_catalogue())
    if (r.make) {
      ++with_rule;
      auto rule = r.make(mon);
      REQUIRE(rule);
      CHECK(rule->hooks() != 0);
    }
  CHECK(with_rule == monitor_catalogue().size() - 1);
  // With nothing to watch, every hook runs and finds nothing.
  mon.on_epoch(1, 1.0, 0, 0.1);
  mon.on_end(0);
  CHECK(mon.process() == 0);
  CHECK(mon.all().empty());
}
