// The run-time examples of examples/broken/ through the binary ("[monitorout]"): every
// monitor has one, it fires on the interpreter and the JIT alike, the fixed variants are
// silent, the --log diagnostic lines, the training-health table, and the docs pages that
// show their output. The control flags: monitor_control_test.cpp.
#include "monitor_examples.hpp"

using namespace kiln::test;
namespace fs = std::filesystem;

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
    for (auto& d : r.diags) a.insert({d.at("id").text, d.at("line").num()});
    for (auto& d : j.diags) b.insert({d.at("id").text, d.at("line").num()});
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
      for (auto& [k, v] : d.members) keys.push_back(k);
      CHECK(keys == std::vector<std::string>{"kind", "id", "severity", "message", "step", "file", "line", "column"});
      std::string id = d.at("id").text, sev = d.at("severity").text, msg = d.at("message").text;
      INFO(id << ": " << msg);
      CHECK(d.at("file").text == m);
      CHECK(sev == (id == "non-finite" ? "error" : "warning"));
      size_t line = size_t(d.at("line").num()), col = size_t(d.at("column").num());
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
        CHECK(d.at("step").num() == 0);
      } else if (id == "non-finite") {
        CHECK(text.substr(col - 1, 8) == "log(var)");
      }
      if (id != "data-scale") {
        CHECK(d.at("step").num() >= 1);
        CHECK(d.at("step").num() <= double(std::max<int64_t>(steps, 1)) + (id == "non-finite" ? 9 : 0));
      }
      if (id == "frozen-param") CHECK(d.at("step").num() == 20);
      // The text on stderr is the same diagnostic: `file:line:col: severity: message [id]`.
      std::string header = m + ":" + std::to_string(line) + ":" + std::to_string(col) + ": " + sev + ": " + msg +
                           " [" + id + "]";
      CHECK(r.r.err.find(header) != std::string::npos);
      ++checked;
    }
  }
  CHECK(checked >= 12);
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
    // The same rows in the log, as "health" lines (the table's figures are rounded).
    REQUIRE(r.health.size() == rows.size());
    for (size_t k = 0; k < rows.size(); ++k) {
      const Json& l = r.health[k];
      std::vector<std::string> keys;
      for (auto& [key, v] : l.members) keys.push_back(key);
      CHECK(keys == std::vector<std::string>{"kind", "step", "param", "grad_norm", "update_ratio", "status"});
      CHECK(l.at("param").text == rows[k].name);
      CHECK(l.at("status").text == rows[k].status);
      CHECK(l.at("grad_norm").num() == Approx(rows[k].grad_norm).epsilon(0.01).margin(1e-300));
      CHECK(l.at("update_ratio").num() == Approx(rows[k].update_ratio).epsilon(0.01).margin(1e-300));
      CHECK(l.at("step").num() >= 1);
    }
    for (auto& h : rows) {
      INFO(h.name << " " << h.status);
      CHECK(h.grad_norm >= 0);
      CHECK(h.update_ratio >= 0);
      auto about = [&](const std::string& id) {  // the param a message is about: its first quoted name
        for (auto& d : r.diags) {
          const std::string& msg = d.at("message").text;
          auto q = msg.find('\'');
          if (d.at("id").text == id && msg.compare(q + 1, h.name.size() + 1, h.name + "'") == 0) return true;
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
