// The compile pipeline, source to compiled step: every stage of kiln as passes run in
// order up to a chosen stage. `check`, `dump`, `train`, `predict`, `eval` and the tests
// all compile through compile(); `dump --stage=S` prints its result after stage S.
#pragma once
#include "backend/codegen.hpp"
#include "ir/diagnostics.hpp"
#include "ir/graph.hpp"
#include "passes/diagnostics/check.hpp"
#include "passes/monitor_ir.hpp"
#include "passes/pass.hpp"
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kiln {

struct Parsed;  // frontend/parse.hpp

// The stages, in order; each runs the passes listed (runtime/compile.cpp):
//   ast      parse                                  the syntax tree
//   ir       lower, overrides [, memory-precheck]   the typed graph, with the train-block flags
//   checked  [train-block,] checks, stabilize       the static checks and the stabilising rewrites
//   grad     autodiff, optimizer                    the backward graph and the update
//   opt      fold, algebraic, cse, dce (to a fixed point), memory [, monitors]
//   fused    fusion                                 the kernel plans of the entry points, arena laid out
//   llvm     codegen, llvm-o3                       the LLVM module of the step, optimised
//   asm      assembly                               its host assembly (for dumps)
// For forward graphs (Goal::forward, Goal::outputs) `checked` drops the roots predict does
// not need and applies the rewrites silently, and `grad` is empty.
enum class Stage : uint8_t { ast, ir, checked, grad, opt, fused, llvm, assembly };
inline constexpr size_t kStages = 8;
std::string_view stage_name(Stage s);  // "ast" ... "asm"
std::optional<Stage> parse_stage(std::string_view name);
// "ast, ir, checked, grad, opt, fused, llvm or asm"
std::string stage_list();

// What graph to build from the model.
enum class Goal : uint8_t {
  train,    // the training step: forward, backward, the optimizer update (train, dump, check)
  forward,  // the loss, metrics and outputs (validation, eval, predict on labelled data)
  outputs,  // the outputs only (predict on data without labels)
};

// Everything that changes what is compiled, from the command line (tools/kiln parses it
// once for every command). The defaults compile what `kiln train` does without flags.
struct CompileOptions {
  Goal goal = Goal::train;
  // The train block's overrides: --batch (the `batch` dim, applied by lowering), --lr (the
  // optimizer's base lr; the schedule still applies), --epochs and --seed (they change no
  // node, but the IR text, the lr-decay check and the run read them).
  std::optional<int64_t> batch, epochs;
  std::optional<double> lr;
  std::optional<uint64_t> seed;
  // --rows (check and dump): the data's row count, for what depends on the data's size
  // (the steps per epoch, and so the planned steps the lr-decay check weighs the schedule
  // against). Train knows it from its data. Unset: unknown (the checks assume the fewest
  // steps any data gives).
  std::optional<int64_t> rows;
  // -W<id>, -Wno-<id>, -Werror; ignore comments are read from the source.
  CheckOptions checks;
  bool run_checks = true;  // the static checks (train goal)
  bool rewrite = true;     // false: --no-rewrite (train goal; forward graphs are always rewritten)
  bool monitors = true;    // the run-time monitors' roots (train goal; --no-monitor; dump: --monitors)
  // --max-memory: the graph's buffers and arena must fit (unset: the process's limit,
  // runtime/memory_limit.hpp). `memory_precheck` checks, right after lowering, that the
  // graph the later stages build fits, reporting only that ([memory]): check and dump
  // refuse an oversized model before its checks run.
  std::optional<uint64_t> max_memory;
  bool memory_precheck = false;
  // The code generator: the f32 lanes the GEMM assumes (0: the host's), fusion, and
  // whether the loaded code keeps its IR text (backend::CompileOptions).
  backend::CompileOptions codegen;
  // Test hook: called with each stage's pipeline before it runs (tests add passes to it).
  std::function<void(Stage, Pipeline&)> instrument;
};

// What compile() built, up to the stage it stopped after.
struct CompileResult {
  CompileOptions options;
  Stage reached = Stage::ast;          // the last stage run (every stage up to it succeeded)
  const SourceFile* source = nullptr;  // the model's text (null when compiled from a graph)
  std::shared_ptr<const Parsed> ast;   // ast
  Graph lowered;                       // the graph after stage ir
  Graph graph;                         // the graph after the last stage that changes it
  // With the monitors: the step without them (what --save writes, and what the
  // interpreter re-runs to locate a non-finite value), and their plan.
  std::optional<Graph> plain;
  std::optional<MonitorPlan> monitor_plan;
  std::array<size_t, kStages> nodes{};  // the graph's size after each stage run
  struct Stat {
    Stage stage;
    PassStat pass;
  };
  std::vector<Stat> stats;  // every pass run, in order
  std::optional<backend::EntryPlans> plans;         // fused: indexed by backend::Entry
  std::unique_ptr<backend::GeneratedModule> module;  // llvm: what the JIT loads
  std::string assembly;                              // asm
  double seconds = 0;                                // compile()'s wall time (and continue_compile's)

  size_t nodes_after(Stage s) const { return nodes[size_t(s)]; }
  // The statistics of the passes of one stage, in order.
  std::vector<PassStat> stage_stats(Stage s) const;
};

// Runs the stages from ast through stop_after on the model's text. Every failing pass has
// reported why into `diags` (warnings and notes go there too); then nullopt. The source
// must outlive the result.
std::optional<CompileResult> compile(const SourceFile& src, const CompileOptions& opts, Stage stop_after,
                                     Diagnostics& diags);
// The same from a graph of stage ir (a lowered graph, e.g. from the IR text): the
// overrides, then the stages from checked through stop_after.
std::optional<CompileResult> compile(Graph lowered, const CompileOptions& opts, Stage stop_after, Diagnostics& diags);

// Runs the stages after r.reached through stop_after on a result that stopped earlier (the
// trainer compiles its step to stage llvm once its data is ready): the same passes as one
// compile() to stop_after. False when a stage fails (r then stays as far as it got).
bool continue_compile(CompileResult& r, Stage stop_after, Diagnostics& diags);

// The last stage an engine needs: llvm for the JIT (engine "jit"), opt for the interpreter.
Stage engine_stage(std::string_view engine);

// The model compiled again with another batch size and goal (forward graphs for the
// validation rows, predict and eval): a function the caller of the trainer or predictor
// makes with forward_builder, so that the runtime never reads source itself. Its errors
// are one line ("cannot build the forward graph with batch 4096: <the first error>").
using ForwardBuilder = std::function<std::optional<CompileResult>(int64_t batch, Goal goal, std::string& err)>;
// compile(src, opts with that batch and goal, stop_after): `src` must outlive it.
ForwardBuilder forward_builder(const SourceFile& src, CompileOptions opts, Stage stop_after);

}  // namespace kiln
