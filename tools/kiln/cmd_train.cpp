// `kiln train FILE --data D [...]`: compiles the training step and runs the training loop
// (runtime/trainer.hpp); progress on stderr, checkpoint with --save, log with --log.
#include "tools/kiln/cmd_train.hpp"
#include "runtime/from_source.hpp"
#include <charconv>
#include <cmath>
#include <fmt/format.h>
#include <thread>

namespace kiln::cli {

const char* const kTrainUsage =
    "usage: kiln train FILE --data D [--epochs N] [--batch N] [--lr X] [--seed S] [--no-shuffle]\n"
    "                  [--val-split F] [--load P.safetensors] [--save P.safetensors] [--log M.jsonl]\n"
    "                  [--log-every N] [--threads N] [--engine jit|interp] [--quiet]\n"
    "                  [--no-monitor] [--max-memory SIZE]\n"
    "\n"
    "Trains the model of FILE on the data: D is a CSV file with a header (columns map to the\n"
    "inputs in declaration order by width), or name=file.npy once per input. Flags override\n"
    "the train block. Progress goes to stderr (a live line on a terminal); --quiet prints only\n"
    "errors. Run-time monitors (non-finite, frozen-param, ...: docs/checks/runtime.md) watch\n"
    "the training and print a health table at the end; --no-monitor turns them off, -Wno-<id>\n"
    "one of them, and -Werror makes their warnings errors that stop the training. See\n"
    "docs/training.md. With --load the run continues the checkpoint's epochs (and shuffles):\n"
    "--epochs is the total, so '--epochs 2 --save c' then '--epochs 4 --load c' trains\n"
    "epochs 3 and 4, exactly as one run of 4 would. Ctrl-C (or SIGTERM) stops at the next\n"
    "step and saves to --save, marked with where it stopped; a second Ctrl-C exits at once.\n"
    "Exit status: 0 ok, 1 errors in the model or a failed run (a non-finite step, or a\n"
    "run-time warning under -Werror, included), 2 usage error or unusable data/checkpoint,\n"
    "130 (SIGINT) or 143 (SIGTERM) interrupted.\n";

const std::vector<FlagSpec>& train_flags() {
  static const std::vector<FlagSpec> flags = {
      {"data", true, "training data: data.csv, or name=file.npy per input (repeatable)", "D", true},
      {"epochs", true, "number of epochs, in all with --load (default: the train block's)", "N"},
      {"batch", true, "the batch size (overrides the 'batch' dim)", "N"},
      {"lr", true, "the base learning rate (overrides the optimizer's lr)", "X"},
      {"seed", true, "seed for initialisation and shuffling (default: the train block's)", "S"},
      {"no-shuffle", false, "take batches in file order (default: shuffled per epoch)", ""},
      {"val-split", true, "hold out the last fraction F of the rows for validation (0 <= F < 1)", "F"},
      {"load", true, "continue from a checkpoint: params, optimizer state, epoch and step", "P"},
      {"save", true, "save the params, optimizer state and normalisation to a checkpoint", "P"},
      {"log", true, "write JSON lines of metrics to M.jsonl", "M"},
      {"log-every", true, "with --log, a step line every N steps (default: epoch lines only)", "N"},
      {"threads", true, "threads for the jit engine (default: all cores)", "N"},
      {"engine", true, "jit | interp (default: " + default_engine() + ")", "E"},
      {"quiet", false, "print nothing but errors", ""},
      {"no-monitor", false, "turn the run-time monitors off (no extra work in the training step)", ""},
      memory_flag(),
  };
  return flags;
}

double parse_double_flag(const std::string& flag, const std::string& value, double lo, double hi, bool hi_open) {
  double v = 0;
  auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  bool ok = ec == std::errc() && p == value.data() + value.size() && !value.empty() && std::isfinite(v) && v >= lo &&
            (hi_open ? v < hi : v <= hi);
  if (!ok)
    throw UsageError(fmt::format("option '--{}' needs a number from {} to {}{}, not '{}'", flag, lo,
                                 hi_open ? "below " : "", hi, value));
  return v;
}

EngineOptions engine_options(const Args& a) {
  EngineOptions o;
  o.kind = a.get("engine").value_or(default_engine());
  if (o.kind != "jit" && o.kind != "interp")
    throw UsageError(fmt::format("option '--engine' needs jit or interp, not '{}'", o.kind));
  if (auto t = a.get("threads")) o.threads = int(parse_int_flag("threads", *t, 1, 1024));
  return o;
}

std::vector<std::string> data_args(const Args& a) {
  auto it = a.lists.find("data");
  if (it == a.lists.end() || it->second.empty())
    throw UsageError(fmt::format("'kiln {}' needs --data (a CSV file, or name=file.npy per input)", a.command));
  return it->second;
}

int run_train(const Args& a) {
  TrainOptions o;
  // Ctrl-C and SIGTERM: exit at once while reading and compiling; once training runs, stop
  // at the next step and save (runtime/interrupt.hpp).
  o.interrupt = &install_interrupt_handlers();
  o.data = data_args(a);
  CompileOptions copts = compile_options(a);  // --batch, --lr, --epochs, --seed, -W, --no-rewrite, --no-monitor
  o.shuffle = !a.has("no-shuffle");
  if (auto v = a.get("val-split")) o.val_split = parse_double_flag("val-split", *v, 0, 1, true);
  o.load = a.get("load").value_or("");
  o.save = a.get("save").value_or("");
  o.log = a.get("log").value_or("");
  {  // before anything is read or trained: where the checkpoint and the log may go
    std::vector<PathArg> outputs, inputs = data_paths(o.data);
    if (a.has("save")) outputs.push_back({"--save", o.save});
    if (a.has("log")) outputs.push_back({"--log", o.log});
    if (a.has("load")) inputs.push_back({"--load", o.load});
    if (!a.positional.empty()) inputs.push_back({"FILE", a.positional[0]});
    check_output_paths(outputs, inputs);
  }
  if (auto v = a.get("log-every")) {
    o.log_every = parse_int_flag("log-every", *v, 1, 1LL << 40);
    if (o.log.empty()) throw UsageError("option '--log-every' needs --log M.jsonl");
  }
  o.engine = engine_options(a);
  o.progress = detect_progress_mode(stderr, a.has("quiet"));
  o.progress_out = stderr;
  o.color = use_color(a);

  auto file = read_input(a);
  o.monitor_options = monitor_options(a);  // the same -W flags for the run-time monitors
  Diagnostics diags(file.get());
  RunError err;
  // Warnings are shown unless --quiet, as soon as the model compiled; errors always.
  bool printed = false, quiet = a.has("quiet");
  auto on_compiled = [&](const Diagnostics& d) {
    if (!quiet) print_diagnostics(d, use_color(a));
    printed = true;
  };
  auto res = train_source(*file, copts, o, diags, err, on_compiled);
  if (!printed || (quiet && diags.has_errors())) print_diagnostics(diags, use_color(a));
  if (!res) {
    if (!err.message.empty()) print_error(err.message);
    return err.exit_code;
  }
  if (res->signal) {  // printed even with --quiet: the run did not do what was asked
    fmt::print(stderr, "kiln: {}\n", res->stop_message);
    return 128 + res->signal;
  }
  return kOk;
}

}  // namespace kiln::cli
