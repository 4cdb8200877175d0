// `kiln check FILE`: parse and lower a model, run the static checks and the stabilising
// rewrite, print the diagnostics (text, JSON or SARIF); exit 1 on any error.
#include "passes/diagnostics/format.hpp"
#include "tools/kiln/commands.hpp"
#include <fmt/format.h>

#ifndef KILN_VERSION
#define KILN_VERSION "unknown"
#endif

namespace kiln::cli {

const char* const kCheckUsage =
    "usage: kiln check FILE [--batch N] [-W<id>] [-Wno-<id>] [-Werror] [--no-rewrite]\n"
    "                  [--format=text|json|sarif] [--max-memory SIZE] [--no-color]\n"
    "       kiln check --list\n"
    "\n"
    "Parses FILE (a .model file, or - for stdin) and lowers it to the typed IR: names,\n"
    "types, shapes, initialisers and the train block are checked. Then the static checks\n"
    "look for what keeps weights from updating (see --list and docs/checks/), and the\n"
    "stabilising rewrites are reported as notes (--no-rewrite: keep the graph as written).\n"
    "A `# kiln: ignore[<id>]` comment on a line silences that check there.\n"
    "Diagnostics go to stderr as text; --format=json or sarif prints them to stdout instead\n"
    "(docs/diagnostics.md). Exit status: 0 when there is no error (warnings allowed), 1 on\n"
    "any error or, with -Werror, any warning, 2 when FILE cannot be used (missing, a\n"
    "directory, empty, binary), for an unknown check id or on a usage error.\n";

const std::vector<FlagSpec>& check_flags() {
  static const std::vector<FlagSpec> flags = [] {
    std::vector<FlagSpec> f = {
        {"batch", true, "override the 'batch' dim (default: the file's, else 32)", "N"},
        {"format", true, "text | json | sarif (default: text, on stderr; json and sarif on stdout)", "FORMAT"},
        {"list", false, "print the catalogue of checks and exit", ""},
        memory_flag(),
    };
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
  apply_memory_limit(a);
  auto file = read_input(a);
  CheckAndRewriteOptions copts = check_options(a, file.get());
  LowerOptions opts = lower_options(a);
  Diagnostics diags(file.get());
  auto graph = compile_source(*file, diags, opts);
  bool ok = graph && !diags.has_errors();
  if (ok) ok = check_memory_limit(*graph, diags);  // the graph train (or predict) would run
  if (ok) ok = check_and_rewrite(*graph, diags, copts) && !diags.has_errors();
  if (format == "json") fmt::print("{}", diagnostics_json(diags));
  else if (format == "sarif") fmt::print("{}", diagnostics_sarif(diags, KILN_VERSION));
  else print_diagnostics(diags, use_color(a));
  return ok ? kOk : kCompileError;
}

}  // namespace kiln::cli
