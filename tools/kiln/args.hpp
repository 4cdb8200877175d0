// The driver's tiny command-line parser: a command, positional arguments and --flags,
// checked against what each command accepts. Usage mistakes throw UsageError (exit 2).
#pragma once
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace kiln::cli {

// Exit codes of the driver.
enum Exit : int { kOk = 0, kCompileError = 1, kUsageError = 2, kInternalError = 3 };

// A mistake in how kiln was invoked, or an input it refuses (missing, unreadable, binary):
// printed as one line `kiln: error: <what>`, exit 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// What one flag of a command looks like.
struct FlagSpec {
  std::string name;       // without the dashes: "stage"
  bool takes_value;       // --stage=ir / --stage ir
  std::string help;       // one line for --help
  std::string value_name; // "STAGE"
  bool repeatable = false; // may be given several times (--data x=x.npy --data y=y.npy)
};

struct Args {
  std::string command;                       // "check", "dump", or "" (no command)
  std::vector<std::string> positional;       // FILE
  std::map<std::string, std::string> flags;  // name -> value ("" for switches)
  std::map<std::string, std::vector<std::string>> lists;  // every value of a repeatable flag, in order
  bool help = false, version = false, no_color = false;

  bool has(const std::string& name) const { return flags.count(name) != 0; }
  std::optional<std::string> get(const std::string& name) const;
};

// The flags every command accepts (--no-color, --help).
const std::vector<FlagSpec>& global_flags();

// Splits argv into an Args; `command_flags(cmd)` lists the flags of a command, or returns
// nullptr for an unknown command. Throws UsageError for unknown flags, missing values,
// values given to switches.
Args parse_args(int argc, char** argv, const std::vector<FlagSpec>* (*command_flags)(const std::string&));

// `kiln: error: MESSAGE` / `kiln: warning: MESSAGE` on stderr, one line: the message's
// control characters and invalid UTF-8 escaped (ir/printable.hpp), as it may quote bytes of
// files or arguments.
void print_error(const std::string& message);
void print_warning(const std::string& message);

// A user-supplied word quoted for an error message ('abc'), shortened, kept printable.
std::string quote(const std::string& s);

// Parses a positive integer flag value in [lo, hi]; throws UsageError naming the flag.
long long parse_int_flag(const std::string& flag, const std::string& value, long long lo, long long hi);

}  // namespace kiln::cli
