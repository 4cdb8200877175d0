// The run-time examples of examples/broken/ through the binary ("[monitorout]"): every
// monitor has one, it fires on the interpreter and the JIT alike, the fixed variants are
// silent, the --log diagnostic lines, the control (-Wno-<id>, -W<id>, -Werror,
// `# kiln: ignore[<id>]`, --no-monitor) and the training-health table.
#include "json_value.hpp"
#include "runtime/monitor.hpp"
#include "support.hpp"
#include "train_output.hpp"
#include <catch2/catch.hpp>
#include <map>
#include <set>
#include <sstream>

using namespace kiln::test;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> runtime_examples() {
  std::vector<std::string> out;
  for (auto& m : models_in("examples/broken"))
    if (is_runtime_example(m)) out.push_back(m);
  return out;
}

// The monitor ids a header names: "# x (run-time monitors a and b): ..." -> {a, b}.
std::set<std::string> header_ids(const std::string& model) {
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
  std::vector<Json> diags;  // the {"kind":"diagnostic",...} lines of --log
  std::set<std::string> ids() const {
    std::set<std::string> s;
    for (auto& d : diags) s.insert(d.at("id").str);
    return s;
  }
  bool has(const std::string& id, double line = 0) const {
    for (auto& d : diags)
      if (d.at("id").str == id && (line == 0 || d.at("line").num == line)) return true;
    return false;
  }
};

// `kiln ARGS --log <tmp> --engine E --no-color [extra]`, with the log's diagnostic lines parsed.
TrainRun train(std::vector<std::string> args, const TempDir& tmp, const std::vector<std::string>& extra = {},
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
  for (std::string line; std::getline(in, line);)
    if (line.find("\"kind\":\"diagnostic\"") != std::string::npos) t.diags.push_back(parse_json(line));
  return t;
}

// The header command of a run-time example with its model replaced by `model`.
std::vector<std::string> header_args(const std::string& example, const TempDir& tmp, const std::string& model = "") {
  auto args = header_train_args(example, tmp.path.string());
  REQUIRE(args.size() >= 4);
  if (!model.empty()) args.at(1) = model;
  return args;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// A copy of `model` in tmp with `comment` appended to line `line` (1-based; 0: none) and,
// outside comments, every `from` replaced by its `to`.
using Edits = std::vector<std::pair<std::string, std::string>>;
std::string edited_copy(const std::string& model, const TempDir& tmp, size_t line, const std::string& comment,
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
std::set<std::string> static_ids(const std::string& model) {
  std::set<std::string> ids;
  for (auto& d : parse_json(run_kiln({"check", model, "--format=json"}).out).items) ids.insert(d.at("id").str);
  return ids;
}

struct HealthRow {
  std::string name, status;
  double grad_norm = -1, update_ratio = -1;
};

// The rows of the training-health table in `text` (empty when there is none).
std::vector<HealthRow> health_rows(const std::string& text) {
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
std::vector<std::string> param_names(const std::string& model) {
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

}  // namespace

TEST_CASE("monitor options: -W<id>, -Wno-<id> and -Werror for the run-time ids", "[monitorout]") {
  kiln::MonitorOptions o;
  CHECK(kiln::apply_monitor_option("-Wno-frozen-param", o));
  CHECK(o.disabled == std::set<std::string>{"frozen-param"});
  CHECK(kiln::apply_monitor_option("-Wno-vanishing-gradient", o));  // a static check's id too
  CHECK(kiln::apply_monitor_option("-Wfrozen-param", o));           // the last option wins
  CHECK(o.disabled == std::set<std::string>{"vanishing-gradient"});
  CHECK_FALSE(kiln::apply_monitor_option("-Wno-unstable-log", o));  // static only: not ours
  CHECK_FALSE(kiln::apply_monitor_option("-Wno-bogus", o));
  CHECK_FALSE(o.werror);
  CHECK_FALSE(kiln::apply_monitor_option("-Werror", o));  // not an id, but it applies
  CHECK(o.werror);
  CHECK(o.disabled == std::set<std::string>{"vanishing-gradient"});
  for (auto& id : kiln::monitor_ids()) {
    INFO(id);
    // Accepted by every command that takes -W flags; an unknown id names the monitors too.
    CHECK(run_kiln({"check", "examples/iris.model", "-Wno-" + id}).exit_code == 0);
  }
  RunResult bad = run_kiln({"check", "examples/iris.model", "-Wno-frozen-parm"});
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("the run-time monitors are: non-finite, frozen-param") != std::string::npos);
  CHECK(count_lines(bad.err) == 1);
}

TEST_CASE("Monitor::emit: disabled ids, ignore comments and -Werror", "[monitorout]") {
  kiln::SourceFile src("m.model", "input x : f32[batch, 30]\ninput z : f32[batch, 3]   # kiln: ignore[data-scale]\n"
                                  "input v : f32[batch, 3]   # kiln: ignore\ninput u : f32[batch, 3]   # kiln: ignore[dead-relu]\n");
  kiln::Graph g;
  auto at = [](uint32_t line) { return kiln::SourceRange{line, 1, line, 5}; };
  auto W = kiln::Severity::warning;
  {
    kiln::Monitor mon(g, {}, &src);
    CHECK(mon.emit(W, "data-scale", "x", at(1), "m", {}, 0));
    CHECK_FALSE(mon.emit(W, "data-scale", "x", at(1), "m", {}, 0));  // once per id and subject
    CHECK_FALSE(mon.emit(W, "data-scale", "z", at(2), "m", {}, 0));  // its ignore comment
    CHECK_FALSE(mon.emit(W, "data-scale", "v", at(3), "m", {}, 0));  // a bare ignore
    CHECK(mon.emit(W, "data-scale", "u", at(4), "m", {}, 0));        // another id's ignore
    CHECK(mon.emit(kiln::Severity::error, "non-finite", "step", at(2), "m", {}, 5));  // errors are not ignorable
    auto all = mon.take_new();
    REQUIRE(all.size() == 3);
    CHECK(all[0].diag.severity == W);
    CHECK(all[2].diag.severity == kiln::Severity::error);
    CHECK(all[2].step == 5);
    CHECK(mon.take_new().empty());
  }
  {
    kiln::MonitorOptions o;
    REQUIRE(kiln::apply_monitor_option("-Wno-data-scale", o));
    kiln::apply_monitor_option("-Werror", o);
    kiln::Monitor mon(g, {}, &src, {}, o);
    CHECK_FALSE(mon.enabled("data-scale"));
    CHECK(mon.enabled("dead-relu"));
    CHECK_FALSE(mon.emit(W, "data-scale", "x", at(1), "m", {}, 0));
    CHECK(mon.emit(W, "dead-relu", "7", at(1), "m", {}, 3));
    REQUIRE(mon.all().size() == 1);
    CHECK(mon.all()[0].diag.severity == kiln::Severity::error);  // promoted
  }
}

TEST_CASE("every monitor has a run-time example that makes it fire, on both engines", "[monitorout]") {
  std::set<std::string> covered;
  for (auto& m : runtime_examples()) {
    INFO(m);
    TempDir tmp;
    auto want = header_ids(m);
    REQUIRE(!want.empty());
    TrainRun r = train(header_args(m, tmp), tmp);
    CHECK(r.r.signal == 0);
    for (auto& id : want) CHECK(r.has(id));
    for (auto& id : r.ids()) CHECK(kiln::is_monitor_id(id));
    covered.insert(want.begin(), want.end());
    // The JIT (fused kernels) reports the same diagnostics at the same places.
    TrainRun j = train(header_args(m, tmp), tmp, {}, "jit");
    std::set<std::pair<std::string, double>> a, b;
    for (auto& d : r.diags) a.insert({d.at("id").str, d.at("line").num});
    for (auto& d : j.diags) b.insert({d.at("id").str, d.at("line").num});
    CHECK(a == b);
    CHECK(r.r.exit_code == j.r.exit_code);
  }
  for (auto& id : kiln::monitor_ids()) {
    INFO(id);
    CHECK(covered.count(id));
  }
}

TEST_CASE("the fixed variants of the run-time examples are silent", "[monitorout]") {
  struct Variant {
    std::string example, from, to;
    std::vector<std::string> extra;
    std::string only;  // "": no run-time diagnostic at all; else: not this id
  };
  const std::vector<Variant> variants = {
      {"examples/broken/nan_divergence.model", "", "", {"--lr", "0.01"}, ""},
      {"examples/broken/frozen_param.model", "stop_gradient(tanh(x @ w1 + b1))", "tanh(x @ w1 + b1)", {}, ""},
      {"examples/broken/exploding.model", "", "", {"--lr", "0.005"}, ""},
      {"examples/broken/dead_relu.model", "constant(-10.0)", "zeros", {}, ""},
      {"examples/broken/loss_plateau.model", "pred = sigmoid(x @ w + b)", "pred = x @ w + b", {}, ""},
      {"examples/broken/data_scale.model", "input x : f32[batch, 30]", "input x : f32[batch, 30] normalize", {}, ""},
      // The near miss: glorot weights keep the gradient of w1 about 100x below w4's (the
      // static check still warns), far from the monitor's 1e-4.
      {"examples/broken/vanishing_small_init.model", "normal(0, 0.01)", "glorot_uniform", {}, "vanishing-gradient"},
  };
  std::set<std::string> seen;
  for (auto& v : variants) {
    INFO(v.example << ": " << v.from << " -> " << v.to);
    seen.insert(v.example);
    TempDir tmp;
    std::string model = v.example;
    if (!v.from.empty()) model = edited_copy(v.example, tmp, 0, "", {{v.from, v.to}});
    TrainRun r = train(header_args(v.example, tmp, model), tmp, v.extra);
    CHECK(r.r.exit_code == 0);
    if (v.only.empty()) {
      CHECK(r.diags.empty());
    } else {
      CHECK(!r.has(v.only));
    }
  }
  // The vanishing model's real fix (relu with he_normal): silent throughout.
  {
    TempDir tmp;
    std::string m = "examples/broken/vanishing_small_init.model";
    auto path = edited_copy(m, tmp, 0, "", {{"normal(0, 0.01)", "he_normal"}, {"= sigmoid(", "= relu("}});
    TrainRun r = train(header_args(m, tmp, path), tmp);
    CHECK(r.r.exit_code == 0);
    CHECK(r.diags.empty());
  }
  // data-scale's near miss: the raw diabetes columns differ by about 69x, below 100x.
  {
    TempDir tmp;
    auto path = (tmp.path / "raw.model").string();
    write_file(path, "model raw\ndim batch = 32\ninput x : f32[batch, 10]\ninput y : f32[batch, 1]\n"
                     "param w : f32[10, 1] = zeros\nparam b : f32[1] = zeros\n"
                     "loss = mean(square(x @ w + b - y))\n"
                     "train { minimize loss; optimizer = adam(lr = 0.01); epochs = 2 }\n");
    TrainRun r = train({"train", path, "--data", "examples/data/diabetes.csv"}, tmp);
    CHECK(r.r.exit_code == 0);
    CHECK(!r.has("data-scale"));
  }
  // The static check's example (three sigmoid layers, glorot weights, adam) has 16 inputs:
  // on 16 breast-cancer columns it learns, and the monitor's 1e-4 bar is not reached
  // (docs/checks/vanishing-gradient.md, "At run time").
  {
    TempDir tmp;
    std::string csv;
    for (auto& l : lines_of(read_file(fs::path(source_dir()) / "examples/data/breast_cancer.csv"))) {
      std::vector<std::string> cells;
      std::istringstream in(l);
      for (std::string c; std::getline(in, c, ',');) cells.push_back(c);
      REQUIRE(cells.size() == 31);
      for (size_t k = 0; k < 16; ++k) csv += cells[k] + ",";
      csv += cells[30] + "\n";
    }
    auto data = (tmp.path / "bc16.csv").string();
    write_file(data, csv);
    TrainRun r = train({"train", "examples/broken/vanishing-gradient.model", "--data", data, "--batch", "32",
                        "--epochs", "10"},
                       tmp);
    CHECK(r.r.exit_code == 0);
    CHECK(r.diags.empty());
    CHECK(r.r.err.find("[vanishing-gradient]") != std::string::npos);  // the static warning
  }
  for (auto& m : runtime_examples()) {
    INFO(m << " has no fixed variant here");
    CHECK(seen.count(m));
  }
}

TEST_CASE("the --log diagnostic lines: the documented fields, pointing at the right line", "[monitorout]") {
  size_t checked = 0;
  for (auto& m : runtime_examples()) {
    INFO(m);
    TempDir tmp;
    TrainRun r = train(header_args(m, tmp), tmp);
    auto src = lines_of(read_file(fs::path(source_dir()) / m));
    int64_t steps = 0;
    for (auto& l : lines_of(r.r.err))
      if (l.rfind("epoch ", 0) == 0) steps = std::stoll(l.substr(l.find(" step ") + 6));
    for (auto& d : r.diags) {
      std::vector<std::string> keys;
      for (auto& [k, v] : d.fields) keys.push_back(k);
      CHECK(keys == std::vector<std::string>{"kind", "id", "severity", "message", "step", "file", "line", "column"});
      std::string id = d.at("id").str, sev = d.at("severity").str, msg = d.at("message").str;
      INFO(id << ": " << msg);
      CHECK(d.at("file").str == m);
      CHECK(sev == (id == "non-finite" ? "error" : "warning"));
      size_t line = size_t(d.at("line").num), col = size_t(d.at("column").num);
      REQUIRE(line >= 1);
      REQUIRE(line <= src.size());
      REQUIRE(col >= 1);
      std::string text = src[line - 1];
      // Where each monitor points: the param's declaration, the relu, the minimize line,
      // the input's declaration, the op that produced the NaN.
      if (id == "frozen-param" || id == "vanishing-gradient" || id == "exploding-gradient") {
        std::string name = msg.substr(msg.find('\'') + 1);
        name = name.substr(0, name.find('\''));
        CHECK(text.rfind("param " + name + " ", 0) == 0);
      } else if (id == "dead-relu") {
        CHECK(text.substr(col - 1, 5) == "relu(");
      } else if (id == "loss-plateau" || id == "loss-diverging") {
        CHECK(text.find("minimize") != std::string::npos);
      } else if (id == "data-scale") {
        CHECK(text.rfind("input x ", 0) == 0);
        CHECK(d.at("step").num == 0);
      } else if (id == "non-finite") {
        CHECK(text.substr(col - 1, 8) == "log(var)");
      }
      if (id != "data-scale") {
        CHECK(d.at("step").num >= 1);
        CHECK(d.at("step").num <= double(std::max<int64_t>(steps, 1)) + (id == "non-finite" ? 9 : 0));
      }
      if (id == "frozen-param") CHECK(d.at("step").num == 20);
      // The text on stderr is the same diagnostic: `file:line:col: severity: message [id]`.
      std::string header = m + ":" + std::to_string(line) + ":" + std::to_string(col) + ": " + sev + ": " + msg +
                           " [" + id + "]";
      CHECK(r.r.err.find(header) != std::string::npos);
      ++checked;
    }
  }
  CHECK(checked >= 12);
}

TEST_CASE("run-time control: -Wno-<id>, -W<id> and `# kiln: ignore[<id>]` apply to the run-time monitors", "[monitorout]") {
  size_t tried = 0;
  for (auto& m : runtime_examples()) {
    TempDir tmp;
    TrainRun base = train(header_args(m, tmp), tmp);
    std::map<std::string, double> first_line;  // id -> the line of its first diagnostic
    for (auto& d : base.diags) first_line.try_emplace(d.at("id").str, d.at("line").num);
    for (auto& [id, line] : first_line) {
      INFO(m << " [" << id << "] line " << line);
      ++tried;
      auto others = base.ids();
      others.erase(id);
      TrainRun off = train(header_args(m, tmp), tmp, {"-Wno-" + id});
      CHECK(!off.has(id));
      CHECK(off.r.err.find("[" + id + "]") == std::string::npos);
      if (id != "non-finite") {
        for (auto& o : others) CHECK(off.has(o));  // the others stay
        CHECK(off.r.exit_code == 0);
      } else {  // without the monitor a NaN loss still stops the run, with the plain message
        CHECK(off.r.exit_code == 1);
        CHECK(off.r.err.find("training diverged") != std::string::npos);
      }
      TrainRun back = train(header_args(m, tmp), tmp, {"-Wno-" + id, "-W" + id});
      CHECK(back.has(id));

      auto ignored = edited_copy(m, tmp, size_t(line), "  # kiln: ignore[" + id + "]");
      TrainRun ig = train(header_args(m, tmp, ignored), tmp);
      if (id == "non-finite") {
        CHECK(ig.has(id, line));  // an error has already stopped the run: not ignorable
      } else {
        CHECK(!ig.has(id, line));
        for (auto& d : base.diags)  // the diagnostics on other lines stay
          if (d.at("line").num != line) CHECK(ig.has(d.at("id").str, d.at("line").num));
        // A param whose warning is ignored keeps the status "ok" in the health table.
        std::string src_line = lines_of(read_file(fs::path(source_dir()) / m)).at(size_t(line) - 1);
        if (src_line.rfind("param ", 0) == 0) {
          std::istringstream w(src_line.substr(6));
          std::string name;
          w >> name;
          bool found = false;
          for (auto& h : health_rows(ig.r.err))
            if (h.name == name) {
              found = true;
              CHECK(h.status == "ok");
            }
          CHECK(found);
        }
      }
      auto other = edited_copy(m, tmp, size_t(line), "  # kiln: ignore[no-such-check]");
      CHECK(train(header_args(m, tmp, other), tmp).has(id, line));
    }
  }
  CHECK(tried >= 8);
}

TEST_CASE("run-time control: -Werror makes the first run-time warning an error that stops the training", "[monitorout]") {
  size_t stopped = 0;
  for (auto& m : runtime_examples()) {
    auto statics = static_ids(m);
    bool shared = false;
    std::vector<std::string> extra;
    for (auto& s : statics) {
      shared = shared || kiln::is_monitor_id(s);
      extra.push_back("-Wno-" + s);  // so that the static warnings do not stop it first
    }
    if (shared) continue;  // vanishing_small_init: its static warning has the monitor's id
    INFO(m);
    TempDir tmp;
    TrainRun base = train(header_args(m, tmp), tmp, extra);
    REQUIRE(!base.diags.empty());
    // The checkpoint: the header's --save (a file in tmp), else one added here.
    auto args = header_args(m, tmp);
    auto at = std::find(args.begin(), args.end(), "--save");
    std::string save = at != args.end() ? *(at + 1) : (tmp.path / "w.safetensors").string();
    extra.push_back("-Werror");
    if (at == args.end()) extra.insert(extra.end(), {"--save", save});
    fs::remove(save);
    TrainRun w = train(header_args(m, tmp), tmp, extra);
    CHECK(w.r.exit_code == 1);
    REQUIRE(!w.diags.empty());
    double step = w.diags.front().at("step").num;
    CHECK(step == base.diags.front().at("step").num);
    for (auto& d : w.diags) {
      CHECK(d.at("severity").str == "error");
      CHECK(d.at("step").num == step);  // nothing after the first
    }
    CHECK(w.r.err.find(": warning: ") == std::string::npos);
    if (base.diags.front().at("id").str == "non-finite") {
      CHECK(fs::exists(save));  // unchanged: the last finite params are saved
    } else {
      ++stopped;
      CHECK(!fs::exists(save));
      std::string why = step == 0 ? "kiln: error: training stopped before the first step: -Werror makes the run-time "
                                    "warning [" + w.diags.front().at("id").str + "] an error"
                                  : "kiln: error: training stopped at step " + std::to_string(int64_t(step)) +
                                        ": -Werror makes the run-time warning [" + w.diags.front().at("id").str +
                                        "] an error";
      CHECK(w.r.err.find(why) != std::string::npos);
      CHECK((step == 0 || w.r.err.find("training health") != std::string::npos));
      // With every monitor that fired turned off, -Werror lets it finish.
      auto all_off = extra;
      for (auto& id : base.ids()) all_off.push_back("-Wno-" + id);
      TrainRun done = train(header_args(m, tmp), tmp, all_off);
      CHECK(done.r.exit_code == 0);
      CHECK(fs::exists(save));
    }
  }
  CHECK(stopped >= 4);
}

TEST_CASE("run-time control: --no-monitor turns every monitor off", "[monitorout]") {
  for (auto& m : runtime_examples()) {
    INFO(m);
    TempDir tmp;
    TrainRun r = train(header_args(m, tmp), tmp, {"--no-monitor"});
    CHECK(r.diags.empty());
    CHECK(r.r.err.find("training health") == std::string::npos);
    for (auto& id : kiln::monitor_ids())
      if (!static_ids(m).count(id)) CHECK(r.r.err.find("[" + id + "]") == std::string::npos);
    bool nan = header_ids(m).count("non-finite") > 0;
    CHECK(r.r.exit_code == (nan ? 1 : 0));
    if (nan) CHECK(r.r.err.find("training diverged") != std::string::npos);
  }
}

TEST_CASE("the training-health table: every param, its figures and a status matching the diagnostics",
          "[monitorout]") {
  size_t not_ok = 0;
  for (auto& m : runtime_examples()) {
    INFO(m);
    TempDir tmp;
    TrainRun r = train(header_args(m, tmp), tmp);
    auto rows = health_rows(r.r.err);
    std::vector<std::string> names;
    for (auto& h : rows) names.push_back(h.name);
    CHECK(names == param_names(m));  // printed on a non-finite stop too
    for (auto& h : rows) {
      INFO(h.name << " " << h.status);
      CHECK(h.grad_norm >= 0);
      CHECK(h.update_ratio >= 0);
      auto about = [&](const std::string& id) {  // the param a message is about: its first quoted name
        for (auto& d : r.diags) {
          const std::string& msg = d.at("message").str;
          auto q = msg.find('\'');
          if (d.at("id").str == id && msg.compare(q + 1, h.name.size() + 1, h.name + "'") == 0) return true;
        }
        return false;
      };
      if (h.status == "ok") {
        CHECK(!about("frozen-param"));
        CHECK(!about("vanishing-gradient"));
        CHECK(!about("exploding-gradient"));
      } else {
        ++not_ok;
        std::map<std::string, std::string> id_of = {
            {"frozen", "frozen-param"}, {"vanishing", "vanishing-gradient"}, {"exploding", "exploding-gradient"}};
        REQUIRE(id_of.count(h.status));
        CHECK(about(id_of[h.status]));
      }
      if (h.status == "frozen") CHECK(h.update_ratio < 1e-7);
    }
    // --quiet prints no table.
    CHECK(health_rows(train(header_args(m, tmp), tmp, {"--quiet"}).r.err).empty());
  }
  CHECK(not_ok >= 9);  // frozen_param 2, dead_relu 3, vanishing_small_init 4, exploding 1
}

TEST_CASE("each monitor's docs page names its example and shows its golden output", "[monitorout]") {
  // id -> the run-time examples whose header names it
  std::map<std::string, std::set<std::string>> examples_of;
  for (auto& m : runtime_examples())
    for (auto& id : header_ids(m)) examples_of[id].insert(m);
  std::string runtime_md = read_file(fs::path(source_dir()) / "docs/checks/runtime.md");
  for (auto& id : kiln::monitor_ids()) {
    INFO(id);
    std::string page = read_file(fs::path(source_dir()) / ("docs/checks/" + id + ".md"));
    REQUIRE(!page.empty());
    CHECK(runtime_md.find("| " + id) != std::string::npos);  // in the examples table
    CHECK(runtime_md.find(id + "](") != std::string::npos);  // and linked from the monitors table
    // The page shows its example's command and a block of that example's golden output.
    size_t shown = 0;
    for (auto& m : examples_of[id]) {
      if (page.find("kiln train " + m + " --data ") == std::string::npos) continue;
      std::string golden = read_file(fs::path(source_dir()) / ("tests/golden/" + m.substr(0, m.size() - 6) +
                                                               ".train.expected"));
      auto golden_lines = lines_of(golden);
      std::set<std::string> have(golden_lines.begin(), golden_lines.end());
      auto lines = lines_of(page);
      for (size_t i = 0; i < lines.size(); ++i) {
        if (lines[i] != "```" || i + 1 >= lines.size() || lines[i + 1].rfind(m + ":", 0) != 0) continue;
        bool all = true;
        size_t k = i + 1;
        for (; k < lines.size() && lines[k] != "```"; ++k) {
          INFO(lines[k]);
          bool in = have.count(lines[k]) > 0;
          CHECK(in);
          all = all && in;
        }
        shown += all && lines[i + 1].find("[" + id + "]") != std::string::npos;
        i = k;
      }
    }
    CHECK(shown >= 1);
  }
  // examples/README.md lists every broken model.
  std::string readme = read_file(fs::path(source_dir()) / "examples/README.md");
  for (auto& m : models_in("examples/broken")) {
    INFO(m);
    CHECK(readme.find("`" + m.substr(std::string("examples/").size()) + "`") != std::string::npos);
  }
}
