// `kiln predict FILE --params P --data D [--output out.csv]` (the outputs as CSV, and the
// metrics when the data has labels) and `kiln eval FILE --params P --data D` (loss, metrics).
#include "runtime/csv.hpp"
#include "runtime/from_source.hpp"
#include "tools/kiln/cmd_train.hpp"
#include <fmt/format.h>

namespace kiln::cli {

const char* const kPredictUsage =
    "usage: kiln predict FILE --params P.safetensors --data D [--output out.csv|-] [--engine jit|interp]\n"
    "                    [--max-memory SIZE]\n"
    "\n"
    "Runs the model's forward pass with the params of a checkpoint (saved by 'kiln train\n"
    "--save') on every row of D and writes every output as CSV with a header (an output of\n"
    "width k > 1 as columns NAME_0..NAME_k-1), to out.csv or stdout. When D holds the labels\n"
    "too, the loss and metrics are printed (to stderr when the CSV goes to stdout).\n";

const char* const kEvalUsage =
    "usage: kiln eval FILE --params P.safetensors --data D [--engine jit|interp] [--max-memory SIZE]\n"
    "\n"
    "Prints the loss and the metrics of the model with the params of a checkpoint over every\n"
    "row of D (which must hold every input, labels included).\n";

const std::vector<FlagSpec>& predict_flags() {
  static const std::vector<FlagSpec> flags = {
      {"params", true, "the checkpoint (.safetensors) to take the params from", "P"},
      {"data", true, "the data: data.csv, or name=file.npy per input (repeatable)", "D", true},
      {"output", true, "write the outputs to this CSV file (default, or -: stdout)", "F"},
      {"threads", true, "threads for the jit engine (default: all cores)", "N"},
      {"engine", true, "jit | interp (default: " + default_engine() + ")", "E"},
      memory_flag(),
  };
  return flags;
}

const std::vector<FlagSpec>& eval_flags() {
  static const std::vector<FlagSpec> flags = {
      {"params", true, "the checkpoint (.safetensors) to take the params from", "P"},
      {"data", true, "the data with labels: data.csv, or name=file.npy per input (repeatable)", "D", true},
      {"threads", true, "threads for the jit engine (default: all cores)", "N"},
      {"engine", true, "jit | interp (default: " + default_engine() + ")", "E"},
      memory_flag(),
  };
  return flags;
}

namespace {

std::string figures(const PredictResult& r) {
  std::string s = fmt::format("rows {}\n", r.rows);
  if (r.loss) s += fmt::format("loss {:.6g}\n", *r.loss);
  for (auto& [name, v] : r.metrics) s += fmt::format("{} {:.6g}\n", name, v);
  return s;
}

int run(const Args& a, bool predict) {
  PredictOptions o;
  auto params = a.get("params");
  if (!params) throw UsageError(fmt::format("'kiln {}' needs --params P.safetensors (saved by 'kiln train --save')", a.command));
  o.params = *params;
  o.data = data_args(a);
  CompileOptions copts = compile_options(a);
  o.engine = engine_options(a);
  o.want_outputs = predict;
  o.require_labels = !predict;
  auto out = a.get("output");
  if (out) {  // checked before anything is read: not the data, the checkpoint or the model
    std::vector<PathArg> inputs = data_paths(o.data);
    inputs.push_back({"--params", o.params});
    if (!a.positional.empty()) inputs.push_back({"FILE", a.positional[0]});
    check_output_paths({{"--output", *out}}, inputs);
    if (*out == "-") out.reset();  // standard output
  }
  auto file = read_input(a);
  Diagnostics diags(file.get());
  RunError err;
  auto res = predict_source(*file, copts, o, diags, err);
  print_diagnostics(diags, use_color(a));
  if (!res) {
    if (!err.message.empty()) print_error(err.message);
    return err.exit_code;
  }
  if (!predict) {
    fmt::print("{}", figures(*res));
    return kOk;
  }
  for (auto& s : res->skipped_outputs)
    print_warning(fmt::format("output '{}' has no row per sample (the batch dim first); not written", s));
  if (out) {
    std::string e;
    if (!write_csv(*out, res->columns, res->table, e)) {
      print_error(e);
      return kUsageError;
    }
  } else {
    fmt::print("{}", format_csv(res->columns, res->table));
  }
  if (res->has_labels) fmt::print(out ? stdout : stderr, "{}", figures(*res));
  return kOk;
}

}  // namespace

int run_predict(const Args& a) { return run(a, true); }
int run_eval(const Args& a) { return run(a, false); }

}  // namespace kiln::cli
