// `kiln dump FILE --stage=STAGE --format=FORMAT`: prints the program after a stage of the
// pipeline (ast, ir, grad = ir + autodiff + optimizer update, opt = grad + simplify,
// fused = opt grouped into kernels with the arena layout).
#include "backend/codegen.hpp"
#include "frontend/ast_print.hpp"
#include "ir/printer.hpp"
#include "passes/autodiff.hpp"
#include "passes/fusion.hpp"
#include "passes/monitor_ir.hpp"
#include "passes/optimizer.hpp"
#include "passes/simplify.hpp"
#include "tools/kiln/commands.hpp"
#include <fmt/format.h>
#include <algorithm>
#include <map>

namespace kiln::cli {

const char* const kDumpUsage =
    "usage: kiln dump FILE --stage=STAGE [--format=FORMAT] [--batch N] [-W<id>] [-Wno-<id>]\n"
    "                 [-Werror] [--no-rewrite] [--monitors] [--max-memory SIZE] [--no-color]\n"
    "\n"
    "Prints the program after one stage of the pipeline to stdout:\n"
    "  ast    the syntax tree, with source positions (text only)\n"
    "  ir     the typed IR graph after lowering (the default)\n"
    "  grad   ir + the stabilising rewrites, the backward graph and the optimizer update\n"
    "  opt    grad after simplification (CSE, folding, algebraic rules, DCE)\n"
    "  fused  opt grouped into fused kernels (what each fuses) and the arena layout\n"
    "         (text or json)\n"
    "  llvm   the optimised LLVM IR of the compiled training step (text only)\n"
    "  asm    the host machine code of it, as assembly (text only)\n"
    "FORMAT: text (default; the canonical IR text), dot (Graphviz: kiln dump ... --format=dot\n"
    "| dot -Tsvg > graph.svg), json. For grad and opt, text and dot start with a comment\n"
    "giving the node counts before and after the stage. For grad and opt the static checks\n"
    "run first, as in 'kiln train' (their diagnostics on stderr; an error stops the dump),\n"
    "and --no-rewrite keeps unstable expressions as written. With --monitors, opt, fused,\n"
    "llvm and asm show the step 'kiln train' runs: with the run-time monitors' quantities\n"
    "(fused text then also shows the monitor entry, which sums the last step's lagged norms).\n"
    "Exit status as for 'kiln check'.\n";

const std::vector<FlagSpec>& dump_flags() {
  static const std::vector<FlagSpec> flags = [] {
    std::vector<FlagSpec> f = {
        {"stage", true, "ast | ir | grad | opt | fused | llvm | asm (default: ir)", "STAGE"},
        {"format", true, "text | dot | json (default: text)", "FORMAT"},
        {"batch", true, "override the 'batch' dim (default: the file's, else 32)", "N"},
        {"monitors", false, "add the run-time monitors' quantities (as 'kiln train' does; stages opt and later)", ""},
        memory_flag(),
    };
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
  std::string stage = a.get("stage").value_or("ir"), format = a.get("format").value_or("text");
  static const std::vector<std::string> stages = {"ast", "ir", "grad", "opt", "fused", "llvm", "asm"};
  if (std::find(stages.begin(), stages.end(), stage) == stages.end())
    throw UsageError(fmt::format("unknown stage '{}' (expected ast, ir, grad, opt, fused, llvm or asm)", stage));
  if (format != "text" && format != "dot" && format != "json")
    throw UsageError(fmt::format("unknown format '{}' (expected text, dot or json)", format));
  if (stage == "ast" && format != "text")
    throw UsageError(fmt::format("stage 'ast' is printed as text only, not as {}", format));
  if (stage == "fused" && format == "dot")
    throw UsageError("stage 'fused' is printed as text or json, not as dot");
  if (a.has("monitors") && (stage == "ast" || stage == "ir" || stage == "grad"))
    throw UsageError(fmt::format("--monitors applies to the stages opt, fused, llvm and asm, not to {}", stage));
  if ((stage == "llvm" || stage == "asm") && format != "text")
    throw UsageError(fmt::format("stage '{}' is printed as text only, not as {}", stage, format));

  apply_memory_limit(a);
  auto file = read_input(a);
  CheckAndRewriteOptions copts = check_options(a, file.get());
  LowerOptions opts = lower_options(a);
  bool color = use_color(a);
  Diagnostics diags(file.get());

  if (stage == "ast") {
    auto parsed = parse_model(*file, diags);
    print_diagnostics(diags, color);
    if (!parsed || diags.has_errors()) return kCompileError;
    fmt::print("{}", print_ast(*parsed, *file));
    return kOk;
  }

  auto graph = compile_source(*file, diags, opts);
  if (!graph || diags.has_errors() || !check_memory_limit(*graph, diags)) {
    print_diagnostics(diags, color);
    return kCompileError;
  }
  std::string header;
  std::string final_stage = stage;
  bool fused = stage == "fused";
  if (stage == "fused" || stage == "llvm" || stage == "asm") stage = "opt";
  if (stage == "grad" || stage == "opt") {
    size_t ir_nodes = graph->size();
    if (!check_and_rewrite(*graph, diags, copts) || diags.has_errors()) {
      print_diagnostics(diags, color);
      return kCompileError;
    }
    // Both return "changed" (false when there is nothing to do, e.g. no train block);
    // failures are the errors they report.
    differentiate(*graph, diags);
    if (!diags.has_errors()) add_optimizer(*graph, diags);
    if (diags.has_errors()) {
      print_diagnostics(diags, color);
      return kCompileError;
    }
    size_t grad_nodes = graph->size();
    header = fmt::format("stage grad: {} nodes (ir: {})", grad_nodes, ir_nodes);
    if (stage == "opt") {
      std::vector<PassStat> stats;
      Pipeline pipeline = make_simplify_pipeline();
      if (!pipeline.run(*graph, diags, &stats).ok || diags.has_errors()) {
        print_diagnostics(diags, color);
        return kCompileError;
      }
      header = fmt::format("stage opt: {} nodes (grad: {})", graph->size(), grad_nodes);
      if (format == "text" && !stats.empty()) header += "\n# passes: " + pass_summary(stats);
      if (a.has("monitors") && graph->train.minimize) {  // after simplification, as in kiln train
        size_t before = graph->size();
        MonitorPlan mp = add_monitor_roots(*graph);
        header += fmt::format("\n# monitors: {} quantities, +{} nodes", graph->train.metrics.size() - mp.user_metrics,
                              graph->size() - before);
      }
    }
  }
  print_diagnostics(diags, color);  // warnings, if any
  if (final_stage == "llvm" || final_stage == "asm") {
    std::string out, err;
    bool ok = final_stage == "llvm" ? backend::dump_llvm_ir(*graph, out, err) : backend::dump_assembly(*graph, out, err);
    if (!ok) {
      print_error(fmt::format("cannot compile {}: {}", graph->file, err));
      return kCompileError;
    }
    fmt::print("{}", out);
    return kOk;
  }
  if (fused) {
    // The plan the backend compiles (with its kernel scratch in the arena).
    KernelPlan plan = backend::codegen_plan(*graph, graph->train.minimize ? PlanScope::step : PlanScope::forward);
    if (format == "json") {
      fmt::print("{}", print_kernel_plan_json(*graph, plan));
      return kOk;
    }
    fmt::print("# {}\n{}", header, print_kernel_plan(*graph, plan));
    // With --monitors: the entry that computes the last step's lagged sums (passes/monitor_ir.hpp).
    if (a.has("monitors"))
      if (KernelPlan lag = backend::codegen_plan(*graph, PlanScope::monitor); !lag.kernels.empty())
        fmt::print("\n# the monitor entry: the last step's lagged sums, before the monitors read them\n{}",
                   print_kernel_plan(*graph, lag));
    return kOk;
  }
  if (!header.empty() && format == "text") fmt::print("# {}\n", header);
  if (!header.empty() && format == "dot") fmt::print("// {}\n", header);
  fmt::print("{}", print_graph(*graph, format));
  return kOk;
}

}  // namespace kiln::cli
