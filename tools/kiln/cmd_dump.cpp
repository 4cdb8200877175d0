// `kiln dump FILE --stage=STAGE --format=FORMAT`: prints the program after a stage of the
// compile pipeline (runtime/compile.hpp), compiled with the flags 'kiln train' takes.
#include "frontend/ast_print.hpp"
#include "ir/printer.hpp"
#include "passes/fusion.hpp"
#include "tools/kiln/commands.hpp"
#include <fmt/format.h>
#include <algorithm>
#include <map>

namespace kiln::cli {

const char* const kDumpUsage =
    "usage: kiln dump FILE --stage=STAGE [--format=FORMAT] [--batch N] [--lr X] [--epochs N]\n"
    "                 [--seed S] [--rows N] [-W<id>] [-Wno-<id>] [-Werror] [--no-rewrite]\n"
    "                 [--monitors | --no-monitor] [--max-memory SIZE] [--no-color]\n"
    "\n"
    "Prints the program after one stage of the compile pipeline to stdout:\n"
    "  ast      the syntax tree, with source positions (text only)\n"
    "  ir       the typed IR graph after lowering (the default)\n"
    "  checked  ir after the static checks and the stabilising rewrites\n"
    "  grad     checked + the backward graph and the optimizer update\n"
    "  opt      grad after simplification (CSE, folding, algebraic rules, DCE)\n"
    "  fused    opt grouped into fused kernels (what each fuses) and the arena layout\n"
    "           (text or json)\n"
    "  llvm     the optimised LLVM IR of the compiled training step (text only)\n"
    "  asm      the host machine code of it, as assembly (text only)\n"
    "FORMAT: text (default; the canonical IR text), dot (Graphviz: kiln dump ... --format=dot\n"
    "| dot -Tsvg > graph.svg), json. For checked, grad and opt, text and dot start with a\n"
    "comment giving the node counts before and after the stage. The stages run as in 'kiln\n"
    "train', with the same flags: from checked on, the static checks report on stderr (an\n"
    "error stops the dump) and --no-rewrite keeps unstable expressions as written; --batch,\n"
    "--lr, --epochs and --seed override the model (--rows N: the data's row count, for the\n"
    "checks that depend on it). The run-time monitors' quantities, which\n"
    "'kiln train' adds unless --no-monitor, are shown only with --monitors (stages opt to asm;\n"
    "fused text then also shows the monitor entry, which sums the last step's lagged norms):\n"
    "'kiln dump FILE --stage=llvm --monitors FLAGS' prints the module 'kiln train FILE FLAGS'\n"
    "runs, and so does 'kiln dump FILE --stage=llvm FLAGS' for FLAGS with --no-monitor.\n"
    "Exit status as for 'kiln check'.\n";

const std::vector<FlagSpec>& dump_flags() {
  static const std::vector<FlagSpec> flags = [] {
    std::vector<FlagSpec> f = {
        {"stage", true, "ast | ir | checked | grad | opt | fused | llvm | asm (default: ir)", "STAGE"},
        {"format", true, "text | dot | json (default: text)", "FORMAT"},
    };
    for (auto& x : train_block_flags()) f.push_back(x);
    f.push_back({"monitors", false, "add the run-time monitors' quantities (as 'kiln train' does; stages opt and later)", ""});
    f.push_back({"no-monitor", false, "without the run-time monitors' quantities (the default of dump)", ""});
    f.push_back(memory_flag());
    for (auto& d : diagnostic_flags()) f.push_back(d);
    return f;
  }();
  return flags;
}

namespace {
std::string print_graph(const Graph& g, const std::string& format) {
  if (format == "dot") return print_ir_dot(g);
  if (format == "json") return print_ir_json(g);
  return print_ir_text(g);
}

// "fold changed 2x, cse changed 0x, dce changed 1x (-59 nodes)": per pass, summed over
// the pipeline's rounds.
std::string pass_summary(const std::vector<PassStat>& stats) {
  struct Sum {
    int changed = 0;
    long long delta = 0;
  };
  std::vector<std::string> order;
  std::map<std::string, Sum> sums;
  for (auto& s : stats) {
    if (!sums.count(s.name)) order.push_back(s.name);
    sums[s.name].changed += s.changed;
    sums[s.name].delta += static_cast<long long>(s.nodes_after) - static_cast<long long>(s.nodes_before);
  }
  std::string out;
  for (auto& n : order) {
    out += fmt::format("{}{} changed {}x", out.empty() ? "" : ", ", n, sums[n].changed);
    if (sums[n].delta != 0) out += fmt::format(" ({:+d} nodes)", sums[n].delta);
  }
  return out;
}
}  // namespace

int run_dump(const Args& a) {
  std::string name = a.get("stage").value_or("ir"), format = a.get("format").value_or("text");
  auto parsed_stage = parse_stage(name);
  if (!parsed_stage) throw UsageError(fmt::format("unknown stage '{}' (expected {})", name, stage_list()));
  const Stage stage = *parsed_stage;
  if (format != "text" && format != "dot" && format != "json")
    throw UsageError(fmt::format("unknown format '{}' (expected text, dot or json)", format));
  if (stage == Stage::ast && format != "text")
    throw UsageError(fmt::format("stage 'ast' is printed as text only, not as {}", format));
  if (stage == Stage::fused && format == "dot")
    throw UsageError("stage 'fused' is printed as text or json, not as dot");
  if (a.has("monitors") && stage < Stage::opt)
    throw UsageError(fmt::format("--monitors applies to the stages opt, fused, llvm and asm, not to {}", name));
  if ((stage == Stage::llvm || stage == Stage::assembly) && format != "text")
    throw UsageError(fmt::format("stage '{}' is printed as text only, not as {}", name, format));

  CompileOptions copts = compile_options(a);
  copts.goal = Goal::train;
  copts.memory_precheck = true;  // (an oversized model is refused before its checks run, as by check)
  auto file = read_input(a);
  bool color = use_color(a);
  Diagnostics diags(file.get());
  auto r = compile(*file, copts, stage, diags);
  print_diagnostics(diags, color);  // warnings, if any
  if (!r) return kCompileError;
  const Graph& g = r->graph;

  switch (stage) {
    case Stage::ast: fmt::print("{}", print_ast(*r->ast, *file)); return kOk;
    case Stage::llvm: fmt::print("{}", r->module->ir_text()); return kOk;
    case Stage::assembly: fmt::print("{}", r->assembly); return kOk;
    default: break;
  }
  // The header: node counts before and after the stage (after opt: before the monitors).
  std::string header;
  if (stage == Stage::checked)
    header = fmt::format("stage checked: {} nodes (ir: {})", r->nodes_after(Stage::checked), r->nodes_after(Stage::ir));
  if (stage == Stage::grad)
    header = fmt::format("stage grad: {} nodes (ir: {})", r->nodes_after(Stage::grad), r->nodes_after(Stage::ir));
  if (stage >= Stage::opt) {
    std::vector<PassStat> stats = r->stage_stats(Stage::opt), simplify;
    size_t monitor_nodes = 0;
    for (const PassStat& st : stats) {
      if (st.round >= 0) simplify.push_back(st);  // the fixed-point group
      if (st.name == "monitors") monitor_nodes = st.nodes_after - st.nodes_before;
    }
    header = fmt::format("stage opt: {} nodes (grad: {})", r->nodes_after(Stage::opt) - monitor_nodes,
                         r->nodes_after(Stage::grad));
    if (format == "text" && !simplify.empty()) header += "\n# passes: " + pass_summary(simplify);
    if (r->monitor_plan)
      header += fmt::format("\n# monitors: {} quantities, +{} nodes",
                            g.train.metrics.size() - r->monitor_plan->user_metrics - (r->monitor_plan->lr >= 0),
                            monitor_nodes);
  }
  if (stage == Stage::fused) {
    // The plan the backend compiles (with its kernel scratch in the arena).
    const KernelPlan& plan = (*r->plans)[size_t(g.train.minimize ? backend::Entry::step : backend::Entry::forward)];
    if (format == "json") {
      fmt::print("{}", print_kernel_plan_json(g, plan));
      return kOk;
    }
    fmt::print("# {}\n{}", header, print_kernel_plan(g, plan));
    // With --monitors: the entry that computes the last step's lagged sums (passes/monitor_ir.hpp).
    if (r->monitor_plan)
      if (const KernelPlan& lag = (*r->plans)[size_t(backend::Entry::monitor)]; !lag.kernels.empty())
        fmt::print("\n# the monitor entry: the last step's lagged sums, before the monitors read them\n{}",
                   print_kernel_plan(g, lag));
    return kOk;
  }
  if (!header.empty() && format == "text") fmt::print("# {}\n", header);
  if (!header.empty() && format == "dot") fmt::print("// {}\n", header);
  fmt::print("{}", print_graph(g, format));
  return kOk;
}

}  // namespace kiln::cli
