// The compile pipeline (runtime/compile.hpp): the passes of each stage, and compile().
//
// Algorithm of compile():
//  1. For each stage from the first (ast from source; from a graph, ir without parsing and
//     lowering) through stop_after, build the stage's Pipeline for the goal and the options
//     (stage_pipeline below); the test hook may add passes to it.
//  2. Run it on the result's graph: its passes in order, the IR verifier after each (in
//     every build); the first pass that fails stops compile(), its diagnostics saying why.
//  3. After the stage: record the graph's size and the passes' statistics; after stage ir,
//     keep the graph as `lowered`.
//  4. The passes of fused, llvm and asm leave the graph as it is and build their artefacts
//     beside it in the result (the kernel plans, the LLVM module, the assembly).
#include "runtime/compile.hpp"
#include "frontend/lower.hpp"
#include "passes/autodiff.hpp"
#include "passes/diagnostics/driver.hpp"
#include "passes/fusion.hpp"
#include "passes/optimizer.hpp"
#include "passes/simplify.hpp"
#include "passes/stabilize.hpp"
#include "runtime/memory_limit.hpp"
#include <chrono>
#include <fmt/format.h>

namespace kiln {

namespace {

constexpr std::string_view kStageNames[kStages] = {"ast", "ir", "checked", "grad", "opt", "fused", "llvm", "asm"};

// parse: the syntax tree of the source, into the result.
class ParsePass final : public Pass {
 public:
  ParsePass(const SourceFile& src, CompileResult& r) : src_(src), r_(r) {}
  std::string_view name() const override { return "parse"; }
  PassResult run(Graph&, Diagnostics& d) override {
    auto parsed = parse_model(src_, d);
    if (!parsed) return PassResult::failure();
    r_.ast = std::make_shared<const Parsed>(std::move(*parsed));
    return PassResult::success(false);
  }

 private:
  const SourceFile& src_;
  CompileResult& r_;
};

// lower: the typed graph of the syntax tree, with --batch as the `batch` dim.
class LowerPass final : public Pass {
 public:
  LowerPass(const SourceFile& src, const CompileResult& r) : src_(src), r_(r) {}
  std::string_view name() const override { return "lower"; }
  PassResult run(Graph& g, Diagnostics& d) override {
    LowerOptions lo;
    lo.batch = r_.options.batch;
    auto lowered = lower_model(*r_.ast, src_, d, lo);
    if (!lowered || d.has_errors()) return PassResult::failure();
    g = std::move(*lowered);
    return PassResult::success(true);
  }

 private:
  const SourceFile& src_;
  const CompileResult& r_;
};

// overrides: --lr, --epochs and --seed into the train block.
class OverridesPass final : public Pass {
 public:
  explicit OverridesPass(const CompileOptions& o) : o_(o) {}
  std::string_view name() const override { return "overrides"; }
  PassResult run(Graph& g, Diagnostics&) override {
    if (o_.epochs) g.train.epochs = *o_.epochs;
    if (o_.seed) g.train.seed = *o_.seed;
    if (o_.lr) g.train.optimizer.lr = *o_.lr;
    return PassResult::success(o_.epochs || o_.seed || o_.lr);
  }

 private:
  const CompileOptions& o_;
};

// memory-precheck: the later stages on a copy, silently, to opt; only a [memory] error is
// reported (the training graph of a model with a loss, else its forward graph).
class MemoryPrecheckPass final : public Pass {
 public:
  explicit MemoryPrecheckPass(const CompileOptions& o) : o_(o) {}
  std::string_view name() const override { return "memory-precheck"; }
  PassResult run(Graph& g, Diagnostics& d) override {
    CompileOptions o;
    o.goal = o_.goal != Goal::train ? o_.goal : g.train.minimize ? Goal::train : Goal::forward;
    o.run_checks = false;
    o.monitors = false;
    o.max_memory = o_.max_memory;
    o.codegen = o_.codegen;
    Diagnostics scratch(d.file());
    compile(g, o, Stage::opt, scratch);
    for (const Diagnostic& x : scratch.all())
      if (x.id == "memory") {
        d.report(x.severity, x.id, x.loc, x.message).notes = x.notes;
        return PassResult::failure();
      }
    return PassResult::success(false);
  }

 private:
  const CompileOptions& o_;
};

// train-block: the training goal needs a loss to minimise.
class TrainBlockPass final : public Pass {
 public:
  std::string_view name() const override { return "train-block"; }
  PassResult run(Graph& g, Diagnostics& d) override {
    if (g.train.present && g.train.minimize) return PassResult::success(false);
    d.error("train", g.train.loc, "the model has no train block with 'minimize LOSS': nothing to train");
    return PassResult::failure();
  }
};

// outputs-only: drops the loss and the metrics (predict on data without labels).
class OutputsOnlyPass final : public Pass {
 public:
  std::string_view name() const override { return "outputs-only"; }
  PassResult run(Graph& g, Diagnostics&) override {
    bool changed = g.train.minimize || !g.train.metrics.empty();
    g.train.minimize.reset();
    g.train.metrics.clear();
    return PassResult::success(changed);
  }
};

// memory: the graph's buffers and arena within the limit (runtime/memory_limit.hpp).
class MemoryPass final : public Pass {
 public:
  explicit MemoryPass(uint64_t limit) : limit_(limit) {}
  std::string_view name() const override { return "memory"; }
  PassResult run(Graph& g, Diagnostics& d) override {
    return check_memory(g, limit_, d) ? PassResult::success(false) : PassResult::failure();
  }

 private:
  uint64_t limit_;
};

// monitors: the run-time monitors' quantities as roots of the step (passes/monitor_ir.hpp);
// the step without them is kept as `plain`.
class MonitorsPass final : public Pass {
 public:
  explicit MonitorsPass(CompileResult& r) : r_(r) {}
  std::string_view name() const override { return "monitors"; }
  PassResult run(Graph& g, Diagnostics&) override {
    if (!g.train.minimize || g.updates.empty()) return PassResult::success(false);
    r_.plain = g;
    r_.monitor_plan = add_monitor_roots(g);
    return PassResult::success(g.size() != r_.plain->size());
  }

 private:
  CompileResult& r_;
};

// fusion: the kernel plans of the four entry points, with the backend's scratch in the
// arena (backend::codegen_plans: fusion, then memory planning). The plans' own verifier
// (check_kernel_plan) runs on each, as the IR's does after every pass: 0.1 ms.
class FusionPass final : public Pass {
 public:
  explicit FusionPass(CompileResult& r) : r_(r) {}
  std::string_view name() const override { return "fusion"; }
  PassResult run(Graph& g, Diagnostics& d) override {
    r_.plans = backend::codegen_plans(g, r_.options.codegen.fuse);
    for (size_t e = 0; e < r_.plans->size(); ++e)
      if (std::vector<std::string> problems = check_kernel_plan(g, (*r_.plans)[e]); !problems.empty()) {
        constexpr const char* kScopes[] = {"step", "forward", "predict", "monitor"};
        auto& x = d.error("internal", {}, fmt::format("the kernel plan of entry '{}' is unsound: {}", kScopes[e],
                                                      problems.front()));
        for (size_t k = 1; k < problems.size() && k < 10; ++k) x.notes.push_back({problems[k], {}});
        return PassResult::failure();
      }
    return PassResult::success(false);
  }

 private:
  CompileResult& r_;
};

// codegen: the LLVM module of the plans (backend::generate_module).
class CodegenPass final : public Pass {
 public:
  explicit CodegenPass(CompileResult& r) : r_(r) {}
  std::string_view name() const override { return "codegen"; }
  PassResult run(Graph& g, Diagnostics& d) override {
    std::string err;
    r_.module = backend::generate_module(g, *r_.plans, r_.options.codegen, err);
    if (!r_.module) {
      d.error("jit", {}, "the jit cannot compile this model: " + err + " (use --engine interp)");
      return PassResult::failure();
    }
    return PassResult::success(false);
  }

 private:
  CompileResult& r_;
};

// llvm-o3: LLVM's O3 pipeline on the module.
class LlvmOptPass final : public Pass {
 public:
  explicit LlvmOptPass(CompileResult& r) : r_(r) {}
  std::string_view name() const override { return "llvm-o3"; }
  PassResult run(Graph&, Diagnostics&) override {
    backend::optimize_module(*r_.module);
    return PassResult::success(false);
  }

 private:
  CompileResult& r_;
};

// assembly: the module's host assembly, as text.
class AssemblyPass final : public Pass {
 public:
  explicit AssemblyPass(CompileResult& r) : r_(r) {}
  std::string_view name() const override { return "assembly"; }
  PassResult run(Graph&, Diagnostics& d) override {
    std::string err;
    if (!r_.module->assembly(r_.assembly, err)) {
      d.error("jit", {}, "cannot print the assembly: " + err);
      return PassResult::failure();
    }
    return PassResult::success(false);
  }

 private:
  CompileResult& r_;
};

// The passes of stage `s` for the result's goal and options (the table in compile.hpp).
Pipeline stage_pipeline(Stage s, Stage stop_after, CompileResult& r) {
  const CompileOptions& o = r.options;
  const bool train = o.goal == Goal::train;
  Pipeline p;
  switch (s) {
    case Stage::ast:
      p.add(std::make_unique<ParsePass>(*r.source, r));
      break;
    case Stage::ir:
      if (r.source) p.add(std::make_unique<LowerPass>(*r.source, r));
      p.add(std::make_unique<OverridesPass>(o));
      if (o.memory_precheck) p.add(std::make_unique<MemoryPrecheckPass>(o));
      break;
    case Stage::checked:
      if (train) {
        if (stop_after >= Stage::grad) p.add(std::make_unique<TrainBlockPass>());
        CheckOptions co = o.checks;
        co.rewrite = o.rewrite;
        if (o.rows) co.rows = o.rows;
        if (o.run_checks) p.add(make_checks_pass(co));
        if (o.rewrite) p.add(make_rewrite_pass(co));
      } else {
        if (o.goal == Goal::outputs) p.add(std::make_unique<OutputsOnlyPass>());
        p.add(make_stabilize_pass(StabilizeOptions{.report = false}));  // the forward pass of the graph trained
      }
      break;
    case Stage::grad:
      if (train) p.add(make_autodiff_pass()).add(make_optimizer_pass());
      break;
    case Stage::opt:
      p.add_fixed_point(simplify_passes());
      p.add(std::make_unique<MemoryPass>(o.max_memory.value_or(memory_limit())));
      if (train && o.monitors) p.add(std::make_unique<MonitorsPass>(r));
      break;
    case Stage::fused:
      p.add(std::make_unique<FusionPass>(r));
      break;
    case Stage::llvm:
      p.add(std::make_unique<CodegenPass>(r)).add(std::make_unique<LlvmOptPass>(r));
      break;
    case Stage::assembly:
      p.add(std::make_unique<AssemblyPass>(r));
      break;
  }
  return p;
}

bool run_stages(CompileResult& r, Stage first, Stage stop_after, Diagnostics& d) {
  auto t0 = std::chrono::steady_clock::now();
  bool ok = true;
  for (size_t k = size_t(first); k <= size_t(stop_after) && ok; ++k) {
    const Stage s = Stage(k);
    // 1.
    Pipeline p = stage_pipeline(s, stop_after, r);
    if (r.options.instrument) r.options.instrument(s, p);
    // 2.
    std::vector<PassStat> stats;
    ok = p.run(r.graph, d, &stats).ok;
    for (PassStat& st : stats) r.stats.push_back({s, std::move(st)});
    if (!ok) break;
    // 3.
    r.reached = s;
    r.nodes[k] = r.graph.size();
    if (s == Stage::ir) r.lowered = r.graph;
  }
  r.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return ok;
}

std::string first_error(const Diagnostics& d) {
  for (auto& x : d.all())
    if (x.severity == Severity::error) return x.message;
  return "unknown error";
}

}  // namespace

std::string_view stage_name(Stage s) { return kStageNames[size_t(s)]; }

std::optional<Stage> parse_stage(std::string_view name) {
  for (size_t k = 0; k < kStages; ++k)
    if (kStageNames[k] == name) return Stage(k);
  return std::nullopt;
}

std::string stage_list() {
  std::string out;
  for (size_t k = 0; k < kStages; ++k)
    out += fmt::format("{}{}", k == 0 ? "" : k + 1 == kStages ? " or " : ", ", kStageNames[k]);
  return out;
}

std::vector<PassStat> CompileResult::stage_stats(Stage s) const {
  std::vector<PassStat> out;
  for (const Stat& st : stats)
    if (st.stage == s) out.push_back(st.pass);
  return out;
}

std::optional<CompileResult> compile(const SourceFile& src, const CompileOptions& opts, Stage stop_after,
                                     Diagnostics& diags) {
  CompileResult r;
  r.options = opts;
  r.source = &src;
  if (!run_stages(r, Stage::ast, stop_after, diags)) return std::nullopt;
  return r;
}

std::optional<CompileResult> compile(Graph lowered, const CompileOptions& opts, Stage stop_after, Diagnostics& diags) {
  CompileResult r;
  r.options = opts;
  r.graph = std::move(lowered);
  if (!run_stages(r, Stage::ir, std::max(stop_after, Stage::ir), diags)) return std::nullopt;
  return r;
}

bool continue_compile(CompileResult& r, Stage stop_after, Diagnostics& diags) {
  if (stop_after <= r.reached) return true;
  return run_stages(r, Stage(size_t(r.reached) + 1), stop_after, diags);
}

Stage engine_stage(std::string_view engine) { return engine == "jit" ? Stage::llvm : Stage::opt; }

ForwardBuilder forward_builder(const SourceFile& src, CompileOptions opts, Stage stop_after) {
  opts.memory_precheck = false;
  return [&src, opts, stop_after](int64_t batch, Goal goal, std::string& err) -> std::optional<CompileResult> {
    CompileOptions o = opts;
    o.batch = batch;
    o.goal = goal;
    Diagnostics d(&src);
    auto r = compile(src, o, stop_after, d);
    if (!r) err = fmt::format("cannot build the forward graph with batch {}: {}", batch, first_error(d));
    return r;
  };
}

}  // namespace kiln
