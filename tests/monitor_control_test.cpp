// The user's control over the run-time monitors ("[monitorout]"): -W<id>, -Wno-<id>,
// -Werror, `# kiln: ignore[<id>]` and --no-monitor, on the run-time examples through the
// binary, and Monitor::emit's options in-process.
#include "monitor_examples.hpp"

using namespace kiln::test;
namespace fs = std::filesystem;

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

TEST_CASE("run-time control: -Wno-<id>, -W<id> and `# kiln: ignore[<id>]` apply to the run-time monitors", "[monitorout]") {
  size_t tried = 0;
  for (auto& m : runtime_examples()) {
    TempDir tmp;
    TrainRun base = train(header_args(m, tmp), tmp);
    std::map<std::string, double> first_line;  // id -> the line of its first diagnostic
    for (auto& d : base.diags) first_line.try_emplace(d.at("id").text, d.at("line").num());
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
          if (d.at("line").num() != line) CHECK(ig.has(d.at("id").text, d.at("line").num()));
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
    double step = w.diags.front().at("step").num();
    CHECK(step == base.diags.front().at("step").num());
    for (auto& d : w.diags) {
      CHECK(d.at("severity").text == "error");
      CHECK(d.at("step").num() == step);  // nothing after the first
    }
    CHECK(w.r.err.find(": warning: ") == std::string::npos);
    if (base.diags.front().at("id").text == "non-finite") {
      CHECK(fs::exists(save));  // unchanged: the last finite params are saved
    } else {
      ++stopped;
      CHECK(!fs::exists(save));
      std::string why = step == 0 ? "kiln: error: training stopped before the first step: -Werror makes the run-time "
                                    "warning [" + w.diags.front().at("id").text + "] an error"
                                  : "kiln: error: training stopped at step " + std::to_string(int64_t(step)) +
                                        ": -Werror makes the run-time warning [" + w.diags.front().at("id").text +
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
