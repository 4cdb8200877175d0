// `kiln check FILE`: the compile pipeline through stage `checked` (parse, lower, the static
// checks and the stabilising rewrites), the diagnostics printed (text, JSON or SARIF);
// exit 1 on any error.
#include "passes/diagnostics/format.hpp"
#include "tools/kiln/commands.hpp"
#include <fmt/format.h>

#ifndef KILN_VERSION
#define KILN_VERSION "unknown"
#endif

namespace kiln::cli {

const char* const kCheckUsage =
    "usage: kiln check FILE [--batch N] [--lr X] [--epochs N] [--seed S] [--rows N] [-W<id>]\n"
    "                  [-Wno-<id>] [-Werror] [--no-rewrite] [--format=text|json|sarif]\n"
    "                  [--max-memory SIZE] [--no-color]\n"
    "       kiln check --list\n"
    "\n"
    "Parses FILE (a .model file, or - for stdin) and lowers it to the typed IR: names,\n"
    "types, shapes, initialisers and the train block are checked. Then the static checks\n"
    "look for what keeps weights from updating (see --list and docs/checks/), and the\n"
    "stabilising rewrites are reported as notes (--no-rewrite: keep the graph as written).\n"
    "A `# kiln: ignore[<id>]` comment on a line silences that check there. --batch, --lr,\n"
    "--epochs and --seed override the model as 'kiln train' does (the checks see them), with\n"
    "the limits the file's values have; --rows N gives the data's row count, which train\n"
    "knows from its data, for what depends on it (the steps per epoch: lr-decay).\n"
    "Diagnostics go to stderr as text; --format=json or sarif prints them to stdout instead\n"
    "(docs/diagnostics.md). Exit status: 0 when there is no error (warnings allowed), 1 on\n"
    "any error or, with -Werror, any warning, 2 when FILE cannot be used (missing, a\n"
    "directory, empty, binary), for an unknown check id or on a usage error.\n";

const std::vector<FlagSpec>& check_flags() {
  static const std::vector<FlagSpec> flags = [] {
    std::vector<FlagSpec> f = train_block_flags();
    for (const FlagSpec& x : std::vector<FlagSpec>{
        {"format", true, "text | json | sarif (default: text, on stderr; json and sarif on stdout)", "FORMAT"},
        {"list", false, "print the catalogue of checks and exit", ""},
        memory_flag(),
    })
      f.push_back(x);
    for (auto& d : diagnostic_flags()) f.push_back(d);
    return f;
  }();
  return flags;
}

int run_check(const Args& a) {
  std::string format = a.get("format").value_or("text");
  if (format != "text" && format != "json" && format != "sarif")
    throw UsageError(fmt::format("unknown format '{}' (expected text, json or sarif)", format));
  if (a.has("list")) {
    if (!a.positional.empty()) throw UsageError("'kiln check --list' takes no FILE");
    fmt::print("{}", check_list_text());
    return kOk;
  }
  CompileOptions copts = compile_options(a);
  copts.memory_precheck = true;  // the graph train (or predict) would run must fit
  auto file = read_input(a);
  Diagnostics diags(file.get());
  bool ok = compile(*file, copts, Stage::checked, diags).has_value();
  if (format == "json") fmt::print("{}", diagnostics_json(diags));
  else if (format == "sarif") fmt::print("{}", diagnostics_sarif(diags, KILN_VERSION));
  else print_diagnostics(diags, use_color(a));
  return ok ? kOk : kCompileError;
}

}  // namespace kiln::cli
