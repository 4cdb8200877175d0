// Helpers of the tests of the run-time examples (monitor_output_test.cpp,
// monitor_control_test.cpp): the examples, their header's ids and command, runs with --log.
#pragma once
#include "json_value.hpp"
#include "runtime/monitor.hpp"
#include "support.hpp"
#include "train_output.hpp"
#include <catch2/catch.hpp>
#include <map>
#include <set>
#include <sstream>

namespace kiln::test {

namespace fs = std::filesystem;

inline std::vector<std::string> runtime_examples() {
  std::vector<std::string> out;
  for (auto& m : models_in("examples/broken"))
    if (is_runtime_example(m)) out.push_back(m);
  return out;
}

// The monitor ids a header names: "# x (run-time monitors a and b): ..." -> {a, b}.
inline std::set<std::string> header_ids(const std::string& model) {
  std::ifstream in(fs::path(source_dir()) / model);
  std::string first;
  std::getline(in, first);
  auto b = first.find("(run-time monitor"), e = first.find(')', b);
  std::istringstream words(first.substr(b, e - b));
  std::set<std::string> ids;
  for (std::string w; words >> w;) {
    while (!w.empty() && (w.back() == ',' || w.back() == ')')) w.pop_back();
    if (kiln::is_monitor_id(w)) ids.insert(w);
  }
  return ids;
}

struct TrainRun {
  RunResult r;
  std::vector<Json> diags;   // the {"kind":"diagnostic",...} lines of --log
  std::vector<Json> health;  // its {"kind":"health",...} lines
  std::set<std::string> ids() const {
    std::set<std::string> s;
    for (auto& d : diags) s.insert(d.at("id").text);
    return s;
  }
  bool has(const std::string& id, double line = 0) const {
    for (auto& d : diags)
      if (d.at("id").text == id && (line == 0 || d.at("line").num() == line)) return true;
    return false;
  }
};

// `kiln ARGS --log <tmp> --engine E --no-color [extra]`, with the log's diagnostic lines parsed.
inline TrainRun train(std::vector<std::string> args, const TempDir& tmp, const std::vector<std::string>& extra = {},
               const std::string& engine = "interp") {
  auto log = tmp.path / "m.jsonl";
  fs::remove(log);
  for (const std::string& a : {std::string("--log"), log.string(), std::string("--engine"), engine,
                               std::string("--no-color")})
    args.push_back(a);
  for (auto& a : extra) args.push_back(a);
  TrainRun t;
  t.r = run_kiln(args);
  std::istringstream in(read_file(log));
  for (std::string line; std::getline(in, line);) {
    if (line.find("\"kind\":\"diagnostic\"") != std::string::npos) t.diags.push_back(parse_json(line));
    if (line.find("\"kind\":\"health\"") != std::string::npos) t.health.push_back(parse_json(line));
  }
  return t;
}

// The header command of a run-time example with its model replaced by `model`.
inline std::vector<std::string> header_args(const std::string& example, const TempDir& tmp, const std::string& model = "") {
  auto args = header_train_args(example, tmp.path.string());
  REQUIRE(args.size() >= 4);
  if (!model.empty()) args.at(1) = model;
  return args;
}

inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// A copy of `model` in tmp with `comment` appended to line `line` (1-based; 0: none) and,
// outside comments, every `from` replaced by its `to`.
using Edits = std::vector<std::pair<std::string, std::string>>;
inline std::string edited_copy(const std::string& model, const TempDir& tmp, size_t line, const std::string& comment,
                        const Edits& edits = {}) {
  auto lines = lines_of(read_file(fs::path(source_dir()) / model));
  std::string text;
  size_t replaced = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string l = lines[i];
    if (l.rfind("#", 0) != 0)
      for (auto& [from, to] : edits)
        for (auto p = l.find(from); p != std::string::npos; p = l.find(from, p + to.size()), ++replaced)
          l.replace(p, from.size(), to);
    text += l + (i + 1 == line ? comment : "") + "\n";
  }
  CHECK(replaced >= edits.size());
  auto path = (tmp.path / fs::path(model).filename()).string();
  write_file(path, text);
  return path;
}

// The static checks' ids on a model (kiln check --format=json).
inline std::set<std::string> static_ids(const std::string& model) {
  std::set<std::string> ids;
  for (auto& d : parse_json(run_kiln({"check", model, "--format=json"}).out).items) ids.insert(d.at("id").text);
  return ids;
}

struct HealthRow {
  std::string name, status;
  double grad_norm = -1, update_ratio = -1;
};

// The rows of the training-health table in `text` (empty when there is none).
inline std::vector<HealthRow> health_rows(const std::string& text) {
  auto lines = lines_of(text);
  std::vector<HealthRow> rows;
  size_t i = 0;
  while (i < lines.size() && lines[i] != "training health (last step):") ++i;
  if (i + 1 >= lines.size()) return rows;
  std::istringstream head(lines[i + 1]);
  std::vector<std::string> words;
  for (std::string w; head >> w;) words.push_back(w);
  REQUIRE(words == std::vector<std::string>{"param", "grad", "norm", "update", "ratio", "status"});
  for (i += 2; i < lines.size() && lines[i].rfind("  ", 0) == 0; ++i) {
    std::istringstream row(lines[i]);
    HealthRow h;
    std::string g, u;
    row >> h.name >> g >> u >> h.status;
    h.grad_norm = std::stod(g);
    h.update_ratio = std::stod(u);
    rows.push_back(h);
  }
  return rows;
}

// The params of a model in declaration order ("param NAME : ...").
inline std::vector<std::string> param_names(const std::string& model) {
  std::vector<std::string> out;
  for (auto& l : lines_of(read_file(fs::path(source_dir()) / model)))
    if (l.rfind("param ", 0) == 0) {
      std::istringstream w(l.substr(6));
      std::string name;
      w >> name;
      out.push_back(name);
    }
  return out;
}

}  // namespace kiln::test
