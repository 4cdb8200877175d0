// kiln's command-line driver: dispatches to a command, turns usage errors into one line
// on stderr (exit 2) and any escaping exception into an internal error (exit 3).
#include "backend/thread_pool.hpp"
#include "ir/printable.hpp"
#include "tools/kiln/cmd_train.hpp"
#include "tools/kiln/commands.hpp"
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fmt/format.h>
#include <llvm/ADT/StringRef.h>
#include <llvm/Config/llvm-config.h>
#include <llvm/TargetParser/Host.h>
#include <new>
#include <system_error>

#ifndef KILN_VERSION
#define KILN_VERSION "unknown"
#endif

namespace kiln::cli {

const std::vector<Command>& commands() {
  static const std::vector<Command> cmds = {
      {"check", "parse and check a .model file", kCheckUsage, &check_flags(), run_check},
      {"dump", "print the program after a stage of the compiler (ast, ir, ... llvm, asm)", kDumpUsage, &dump_flags(), run_dump},
      {"train", "train a model on data (CSV or NPY)", kTrainUsage, &with_diagnostic_flags(train_flags()), run_train},
      {"predict", "write a trained model's outputs for data", kPredictUsage, &predict_flags(), run_predict},
      {"eval", "print a trained model's loss and metrics on data", kEvalUsage, &eval_flags(), run_eval},
  };
  return cmds;
}

namespace {
const Command* find_command(const std::string& name) {
  for (auto& c : commands())
    if (name == c.name) return &c;
  return nullptr;
}

const std::vector<FlagSpec>* flags_of(const std::string& name) {
  if (auto* c = find_command(name)) return c->flags;
  return nullptr;
}

void print_flags(const std::vector<FlagSpec>& flags) {
  for (auto& f : flags) {
    std::string lhs = f.name == "W" ? "-W<id>" : "--" + f.name + (f.takes_value ? "=" + f.value_name : "");
    fmt::print("  {:<18} {}\n", lhs, f.help);
  }
}

void print_help() {
  fmt::print("kiln {}: a compiler for neural-network training\n\n", KILN_VERSION);
  fmt::print("usage: kiln [--no-color] COMMAND FILE [options]\n       kiln --version | --help\n\ncommands:\n");
  for (auto& c : commands()) fmt::print("  {:<8} {}\n", c.name, c.summary);
  fmt::print("\nglobal options:\n");
  print_flags(global_flags());
  fmt::print("  {:<18} {}\n", "--version", "print the kiln and LLVM versions and the host CPU");
  fmt::print("\n'kiln COMMAND --help' describes a command. Exit status: 0 ok, 1 errors in the model,\n"
             "2 usage error or unusable input file, 3 internal error.\n");
}

void print_command_help(const Command& c) {
  fmt::print("{}\noptions:\n", c.usage);
  print_flags(*c.flags);
  print_flags(global_flags());
}

int run(int argc, char** argv) {
  Args a = parse_args(argc, argv, flags_of);
  if (a.version) {
    fmt::print("kiln {}\nLLVM {}\nhost CPU: {}\n", KILN_VERSION, LLVM_VERSION_STRING, llvm::sys::getHostCPUName().str());
    return kOk;
  }
  if (a.command.empty()) {
    if (a.help) {
      print_help();
      return kOk;
    }
    if (!a.positional.empty()) throw UsageError("unknown command '" + a.positional[0] + "' (see 'kiln --help')");
    throw UsageError("no command given (see 'kiln --help')");
  }
  const Command* c = find_command(a.command);
  if (a.help) {
    print_command_help(*c);
    return kOk;
  }
  return c->run(a);
}
}  // namespace
}  // namespace kiln::cli

int main(int argc, char** argv) {
  // A thread pool that could not start every thread runs with fewer (same results).
  kiln::ThreadPool::shortfall_handler() = [](const std::string& m) { kiln::cli::print_warning(m); };
  // Standard output that cannot be written (> /dev/full, a closed descriptor) is the
  // user's setup, not kiln's fault: one line, exit 2, however the write failed (fmt
  // throws system_error from a large print; a small one fails at the final flush).
  auto stdout_failed = [](int e) {
    kiln::cli::print_error(fmt::format("cannot write to standard output: {}", std::strerror(e)));
    return kiln::cli::kUsageError;
  };
  try {
    int rc = kiln::cli::run(argc, argv);
    if (std::fflush(stdout) != 0 || std::ferror(stdout)) return stdout_failed(errno ? errno : EIO);
    return rc;
  } catch (const std::system_error& e) {
    if (std::ferror(stdout)) return stdout_failed(e.code().value());
    std::fprintf(stderr, "kiln: internal error: %s (please report this)\n", kiln::printable(e.what()).c_str());
    return kiln::cli::kInternalError;
  } catch (const kiln::cli::UsageError& e) {
    kiln::cli::print_error(e.what());
    return kiln::cli::kUsageError;
  } catch (const std::bad_alloc&) {
    // Models and data beyond the memory limit are refused up front; this is a run that
    // fits the limit but not what the system grants (ulimit -v, other processes).
    kiln::cli::print_error("out of memory: the system would not grant what this run needs (see --max-memory)");
    return kiln::cli::kUsageError;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kiln: internal error: %s (please report this)\n", kiln::printable(e.what()).c_str());
    return kiln::cli::kInternalError;
  } catch (...) {
    std::fprintf(stderr, "kiln: internal error: unknown exception (please report this)\n");
    return kiln::cli::kInternalError;
  }
}
