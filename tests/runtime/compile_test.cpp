// The compile pipeline in-process ("[compile]", runtime/compile.hpp): its stages and their
// passes in order, stopping after any stage, the verifier after every pass (a broken pass
// is caught where it breaks the graph), a failing pass stops it saying why, and the
// trainer's forward graphs come from its caller's builder.
#include "runtime/compile.hpp"
#include "runtime/from_source.hpp"
#include "tests/runtime/test_util.hpp"
#include "tests/runtime/train_util.hpp"
#include <catch2/catch.hpp>
#include <algorithm>
#include <regex>

using namespace kiln;

namespace {

SourceFile iris() {
  return SourceFile(std::string(KILN_SOURCE_DIR) + "/examples/iris.model",
                    test::get_file(std::string(KILN_SOURCE_DIR) + "/examples/iris.model"));
}

std::vector<std::string> pass_names(const CompileResult& r, Stage s) {
  std::vector<std::string> out;
  for (const PassStat& st : r.stage_stats(s))
    if (st.round <= 0) out.push_back(st.name);  // (a fixed-point group's first round)
  return out;
}

// A pass that breaks the graph (an operand that does not exist), or fails without a word.
struct Breaker final : Pass {
  bool mute;
  explicit Breaker(bool m = false) : mute(m) {}
  std::string_view name() const override { return mute ? "mute" : "breaker"; }
  PassResult run(Graph& g, Diagnostics&) override {
    if (mute) return PassResult::failure();
    g.nodes.back().in.push_back(NodeId(g.size() + 5));
    return PassResult::success(true);
  }
};

}  // namespace

TEST_CASE("every stage is a named pass, and compile stops after the stage asked for", "[compile]") {
  SourceFile src = iris();
  for (size_t k = 0; k < kStages; ++k) {
    const Stage stop = Stage(k);
    INFO(stage_name(stop));
    REQUIRE(parse_stage(stage_name(stop)) == stop);
    Diagnostics d(&src);
    auto r = compile(src, {}, stop, d);
    REQUIRE(r);
    CHECK(r->reached == stop);
    for (const CompileResult::Stat& st : r->stats) CHECK(st.stage <= stop);
    CHECK(bool(r->ast) == true);
    CHECK(bool(r->plans) == (stop >= Stage::fused));
    CHECK(bool(r->module) == (stop >= Stage::llvm));
    CHECK(r->assembly.empty() == (stop < Stage::assembly));
  }
  CHECK_FALSE(parse_stage("bogus"));
  CHECK(stage_list() == "ast, ir, checked, grad, opt, fused, llvm or asm");

  Diagnostics d(&src);
  auto r = compile(src, {}, Stage::llvm, d);
  REQUIRE(r);
  using V = std::vector<std::string>;
  CHECK(pass_names(*r, Stage::ast) == V{"parse"});
  CHECK(pass_names(*r, Stage::ir) == V{"lower", "overrides"});
  CHECK(pass_names(*r, Stage::checked) == V{"train-block", "checks", "stabilize"});
  CHECK(pass_names(*r, Stage::grad) == V{"autodiff", "optimizer"});
  CHECK(pass_names(*r, Stage::opt) == V{"fold", "algebraic", "cse", "dce", "memory", "monitors"});
  CHECK(pass_names(*r, Stage::fused) == V{"fusion"});
  CHECK(pass_names(*r, Stage::llvm) == V{"codegen", "llvm-o3"});
  // The graph after each stage: lowering's, the backward graph's, simplification's.
  CHECK(r->nodes_after(Stage::ir) == r->lowered.size());
  CHECK(r->nodes_after(Stage::grad) > r->nodes_after(Stage::checked));
  CHECK(r->nodes_after(Stage::fused) == r->graph.size());
  REQUIRE(r->plain);
  REQUIRE(r->monitor_plan);
  CHECK(r->graph.size() > r->plain->size());

  // Continued from opt (as the trainer does once its data is ready): the same passes, the
  // same module (but for the per-module name prefix kiln<N>).
  Diagnostics d3(&src);
  auto part = compile(src, {}, Stage::opt, d3);
  REQUIRE(part);
  CHECK_FALSE(part->module);
  REQUIRE(continue_compile(*part, Stage::llvm, d3));
  CHECK(part->reached == Stage::llvm);
  for (size_t k = 0; k <= size_t(Stage::llvm); ++k) CHECK(pass_names(*part, Stage(k)) == pass_names(*r, Stage(k)));
  auto unprefixed = [](std::string text) { return std::regex_replace(text, std::regex("kiln[0-9]+_"), "kiln_"); };
  CHECK(unprefixed(part->module->ir_text()) == unprefixed(r->module->ir_text()));

  // Forward graphs: the outputs alone for predict, no backward graph.
  CompileOptions fo;
  fo.goal = Goal::outputs;
  Diagnostics d2(&src);
  auto f = compile(src, fo, Stage::opt, d2);
  REQUIRE(f);
  CHECK(pass_names(*f, Stage::checked) == V{"outputs-only", "stabilize"});
  CHECK(pass_names(*f, Stage::grad).empty());
  CHECK_FALSE(f->graph.train.minimize);
  CHECK(f->graph.updates.empty());
  CHECK(f->lowered.train.minimize);  // (stage ir's graph, before)
}

TEST_CASE("the verifier runs after every pass: a pass that breaks the graph is caught there", "[compile]") {
  SourceFile src = iris();
  for (Stage at : {Stage::ir, Stage::checked, Stage::grad, Stage::opt, Stage::fused}) {
    INFO(stage_name(at));
    CompileOptions o;
    std::vector<Stage> ran;
    o.instrument = [&](Stage s, Pipeline& p) {
      ran.push_back(s);
      if (s == at) p.add(std::make_unique<Breaker>());
    };
    Diagnostics d(&src);
    auto r = compile(src, o, Stage::llvm, d);
    CHECK_FALSE(r);
    REQUIRE(d.error_count() == 1);
    CHECK(d.all().back().id == "internal");
    CHECK(d.all().back().message.rfind("the IR is malformed after pass 'breaker': %", 0) == 0);
    CHECK(ran.back() == at);  // no later stage ran
  }
  // A pass that fails without reporting why is an internal error naming it.
  CompileOptions o;
  o.instrument = [](Stage s, Pipeline& p) {
    if (s == Stage::grad) p.add(std::make_unique<Breaker>(true));
  };
  Diagnostics d(&src);
  CHECK_FALSE(compile(src, o, Stage::opt, d));
  REQUIRE(d.error_count() == 1);
  CHECK(d.all()[0].message == "pass 'mute' failed without reporting an error");
}

TEST_CASE("a failing stage stops the pipeline with its diagnostic", "[compile]") {
  struct Case {
    const char* what;
    std::string text;
    CompileOptions opts;
    Stage failing;
    const char* id;
  };
  const std::string head = "input x : f32[batch, 4]\ninput y : f32[batch, 1]\n";
  CompileOptions quiet;
  quiet.checks.disabled = {"no-trainable"};
  CompileOptions small;
  small.max_memory = 256;
  const std::vector<Case> cases = {
      {"parse", head + "loss = mean(x @\n", {}, Stage::ast, "syntax"},
      {"lower", head + "loss = mean(z)\ntrain { minimize loss }\n", {}, Stage::ir, "undefined"},
      {"train-block", head + "param w : f32[4, 1] = zeros\noutput o = x @ w\n", {}, Stage::checked, "train"},
      {"checks", head + "const w : f32[4, 1] = zeros\nloss = mean((x @ w - y) ^ 2)\ntrain { minimize loss }\n", {},
       Stage::checked, "no-trainable"},
      {"optimizer", head + "const w : f32[4, 1] = zeros\nloss = mean((x @ w - y) ^ 2)\ntrain { minimize loss }\n",
       quiet, Stage::grad, "train"},
      {"memory", head + "param w : f32[4, 1] = zeros\nloss = mean((x @ w - y) ^ 2)\ntrain { minimize loss }\n", small,
       Stage::opt, "memory"},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    SourceFile src("m.model", c.text);
    std::vector<Stage> ran;
    CompileOptions o = c.opts;
    o.instrument = [&](Stage s, Pipeline&) { ran.push_back(s); };
    Diagnostics d(&src);
    CHECK_FALSE(compile(src, o, Stage::llvm, d));
    REQUIRE(d.has_errors());
    std::string ids;
    for (auto& x : d.all())
      if (x.severity == Severity::error) ids += x.id + " ";
    INFO(ids);
    CHECK(ids == std::string(c.id) + " ");
    REQUIRE_FALSE(ran.empty());
    CHECK(ran.back() == c.failing);
  }
}

TEST_CASE("the trainer's validation graphs come from its caller's builder", "[compile]") {
  SourceFile src = iris();
  test::RunOptions o;
  o.data = {std::string(KILN_SOURCE_DIR) + "/examples/data/iris.csv"};
  o.val_split = 0.2;
  o.engine.kind = "interp";
  o.compile.epochs = 2;
  Diagnostics d(&src);
  auto step = compile(src, o.compile, Stage::opt, d);
  REQUIRE(step);
  // The trainer never reads source: every forward graph it runs is one its builder made.
  std::vector<std::pair<int64_t, Goal>> asked;
  ForwardBuilder inner = forward_builder(src, o.compile, Stage::opt);
  ForwardBuilder counting = [&](int64_t batch, Goal goal, std::string& err) {
    asked.push_back({batch, goal});
    return inner(batch, goal, err);
  };
  RunError err;
  auto res = Trainer(*step, counting, o).run(err);
  INFO(err.message);
  REQUIRE(res);
  REQUIRE(asked.size() == 1);  // one validation graph, its engine kept for both epochs
  CHECK(asked[0].first == 30);
  CHECK(asked[0].second == Goal::forward);
  CHECK(res->epochs.at(1).val_loss);

  // A builder that fails: the run says why.
  auto step2 = compile(src, o.compile, Stage::opt, d);
  REQUIRE(step2);
  ForwardBuilder failing = [](int64_t batch, Goal, std::string& err) -> std::optional<CompileResult> {
    err = "cannot build the forward graph with batch " + std::to_string(batch) + ": test";
    return std::nullopt;
  };
  RunError err2;
  CHECK_FALSE(Trainer(*step2, failing, o).run(err2));
  CHECK(err2.exit_code == 1);
  CHECK(err2.message == "cannot build the forward graph with batch 30: test");
}
