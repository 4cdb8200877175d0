// The driver's command-line parser: `kiln [--no-color] COMMAND [FILE] [--flag[=value]]...`.
#include "tools/kiln/args.hpp"
#include "ir/printable.hpp"
#include <cstdio>
#include <charconv>

namespace kiln::cli {

std::optional<std::string> Args::get(const std::string& name) const {
  auto it = flags.find(name);
  if (it == flags.end()) return std::nullopt;
  return it->second;
}

const std::vector<FlagSpec>& global_flags() {
  static const std::vector<FlagSpec> flags = {
      {"no-color", false, "never colour diagnostics (default: colour when stderr is a terminal)", ""},
      {"help", false, "show help and exit", ""},
  };
  return flags;
}

namespace {
const FlagSpec* find_flag(const std::vector<FlagSpec>* specs, const std::string& name) {
  for (auto& f : global_flags())
    if (f.name == name) return &f;
  if (specs)
    for (auto& f : *specs)
      if (f.name == name) return &f;
  return nullptr;
}

}  // namespace

// (args.hpp) Quotes a user-supplied word for an error message, shortened, keeping the line printable.
std::string quote(const std::string& s) {
  std::string shown = printable(s);
  if (shown.size() > 60) shown = printable(s.substr(0, 60)) + "...";
  return "'" + shown + "'";
}

Args parse_args(int argc, char** argv, const std::vector<FlagSpec>* (*command_flags)(const std::string&)) {
  Args a;
  const std::vector<FlagSpec>* specs = nullptr;
  bool only_positional = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (!only_positional && arg == "--") {
      only_positional = true;
      continue;
    }
    bool is_flag = !only_positional && arg.size() > 1 && arg[0] == '-';
    if (!is_flag) {
      if (a.command.empty()) {
        specs = command_flags(arg);
        if (!specs) throw UsageError("unknown command " + quote(arg) + " (see 'kiln --help')");
        a.command = arg;
      } else {
        a.positional.push_back(arg);
      }
      continue;
    }
    if (arg == "-h") arg = "--help";
    // Warning options (-W<id>, -Wno-<id>, -Werror) of the commands that run the checks:
    // kept in order under lists["W"]; their ids are checked by the command.
    if (arg.rfind("-W", 0) == 0 && find_flag(specs, "W")) {
      a.lists["W"].push_back(arg);
      continue;
    }
    if (arg.rfind("--", 0) != 0)
      throw UsageError("unknown option " + quote(arg) +
                       (a.command.empty() ? " (see 'kiln --help')" : " (see 'kiln " + a.command + " --help')"));
    std::string name = arg.substr(2), value;
    bool has_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    if (a.command.empty() && name == "version") {
      if (has_value) throw UsageError("option '--version' takes no value");
      a.version = true;
      continue;
    }
    const FlagSpec* spec = find_flag(specs, name);
    if (!spec || name == "W") {
      std::string where = a.command.empty() ? "" : " for 'kiln " + a.command + "'";
      std::string see = a.command.empty() ? "kiln --help" : "kiln " + a.command + " --help";
      throw UsageError("unknown option " + quote("--" + name) + where + " (see '" + see + "')");
    }
    if (spec->takes_value && !has_value) {
      if (i + 1 >= argc) throw UsageError("option '--" + name + "' needs a value (--" + name + "=" + spec->value_name + ")");
      value = argv[++i];
    } else if (!spec->takes_value && has_value) {
      throw UsageError("option '--" + name + "' takes no value");
    }
    if (spec->repeatable) {
      a.lists[name].push_back(value);
      a.flags[name] = value;
      continue;
    }
    if (name == "help") a.help = true;
    else if (name == "no-color") a.no_color = true;
    else if (a.flags.count(name) && a.flags[name] != value)
      throw UsageError("option '--" + name + "' given twice with different values");
    else a.flags[name] = value;
  }
  return a;
}

void print_error(const std::string& message) { std::fprintf(stderr, "kiln: error: %s\n", printable(message).c_str()); }
void print_warning(const std::string& message) { std::fprintf(stderr, "kiln: warning: %s\n", printable(message).c_str()); }

long long parse_int_flag(const std::string& flag, const std::string& value, long long lo, long long hi) {
  long long v = 0;
  auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (ec != std::errc() || p != value.data() + value.size() || value.empty() || v < lo || v > hi)
    throw UsageError("option '--" + flag + "' needs an integer from " + std::to_string(lo) + " to " +
                     std::to_string(hi) + ", not " + quote(value));
  return v;
}

}  // namespace kiln::cli
