// `kiln check FILE`: parse and lower a model, print its diagnostics; exit 1 on any error.
#include "tools/kiln/commands.hpp"

namespace kiln::cli {

const char* const kCheckUsage =
    "usage: kiln check FILE [--batch N] [--no-color]\n"
    "\n"
    "Parses FILE (a .model file, or - for stdin) and lowers it to the typed IR: names,\n"
    "types, shapes, initialisers and the train block are checked. Diagnostics go to\n"
    "stderr. Exit status: 0 when there is no error (warnings allowed), 1 on any error,\n"
    "2 when FILE cannot be used (missing, a directory, empty, binary) or on a usage error.\n";

const std::vector<FlagSpec>& check_flags() {
  static const std::vector<FlagSpec> flags = {
      {"batch", true, "override the 'batch' dim (default: the file's, else 32)", "N"},
  };
  return flags;
}

int run_check(const Args& a) {
  auto file = read_input(a);
  LowerOptions opts = lower_options(a);
  Diagnostics diags(file.get());
  auto graph = compile_source(*file, diags, opts);
  print_diagnostics(diags, use_color(a));
  return graph && !diags.has_errors() ? kOk : kCompileError;
}

}  // namespace kiln::cli
