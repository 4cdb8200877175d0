// What the driver's commands share: their entry points, help texts, reading the input
// file once (refusing binary or empty files), and printing diagnostics.
#pragma once
#include "ir/source.hpp"
#include "runtime/compile.hpp"
#include "runtime/monitor.hpp"
#include "tools/kiln/args.hpp"
#include <memory>

namespace kiln::cli {

struct Command {
  const char* name;
  const char* summary;  // one line for `kiln --help`
  const char* usage;    // full text for `kiln COMMAND --help`
  const std::vector<FlagSpec>* flags;
  int (*run)(const Args&);
};
const std::vector<Command>& commands();

int run_check(const Args& a);
int run_dump(const Args& a);
extern const char* const kCheckUsage;
extern const char* const kDumpUsage;
const std::vector<FlagSpec>& check_flags();
const std::vector<FlagSpec>& dump_flags();

// Reads the one FILE argument ("-" = stdin) into memory. Throws UsageError when it is
// missing, unreadable, a directory, empty, or not UTF-8 text (NUL bytes, invalid UTF-8).
std::unique_ptr<SourceFile> read_input(const Args& a);

// --max-memory SIZE (check, dump, train, predict, eval): models and data beyond it are
// refused (runtime/memory_limit.hpp).
FlagSpec memory_flag();

// A path given on the command line: its flag ("--save", "--data"; "FILE" for the model).
struct PathArg {
  std::string flag, path;
};
// The output paths of a run (--save, --log, --output) before anything is read: each names
// a file (not ""; "-" only for --output, standard output), written through its symlinks
// to a regular file (runtime/output_path.hpp), and none names an input (the model, the
// data, the checkpoint read; --save may replace the --load checkpoint: it is written
// atomically after the load) or another output. Throws UsageError.
void check_output_paths(const std::vector<PathArg>& outputs, const std::vector<PathArg>& inputs);
// The files --data names: the CSV, or the FILE of each NAME=FILE.
std::vector<PathArg> data_paths(const std::vector<std::string>& data);

// Whether diagnostics on stderr get ANSI colour: stderr is a terminal, no --no-color, no NO_COLOR.
bool use_color(const Args& a);

// The flags of the commands that run the static checks: -W<id>/-Wno-<id>/-Werror
// (FlagSpec "W", collected in order in Args::lists["W"]) and --no-rewrite.
const std::vector<FlagSpec>& diagnostic_flags();
// `flags` followed by diagnostic_flags() (train's flags are extended this way).
const std::vector<FlagSpec>& with_diagnostic_flags(const std::vector<FlagSpec>& flags);
// The train block's overrides for check and dump (--batch, --lr, --epochs, --seed; train
// has its own wording of them): what they compile is what train compiles.
const std::vector<FlagSpec>& train_block_flags();
// Every flag that changes what is compiled, parsed once for any command (runtime/compile.hpp):
// --batch, --lr, --epochs, --seed, -W<id>/-Wno-<id>/-Werror (ignore comments are read from
// the source when it compiles), --no-rewrite, the monitors (train: on unless --no-monitor;
// dump: with --monitors), --max-memory (also the process's limit, for the data readers).
// Throws UsageError for a malformed value or an unknown check id.
CompileOptions compile_options(const Args& a);
// The run-time monitors' options from the same flags (-W<id>/-Wno-<id> of a monitor id,
// -Werror); call compile_options first, which rejects the unknown ids.
MonitorOptions monitor_options(const Args& a);

// Prints every diagnostic and, when there are any, a summary line ("1 error generated.").
void print_diagnostics(const Diagnostics& d, bool color);

}  // namespace kiln::cli
