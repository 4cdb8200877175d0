// The driver's training commands: `kiln train`, `kiln predict`, `kiln eval`
// (tools/kiln/cmd_train.cpp, cmd_predict.cpp), and the flag parsing they share.
#pragma once
#include "runtime/engine.hpp"
#include "tools/kiln/commands.hpp"

namespace kiln::cli {

int run_train(const Args& a);
int run_predict(const Args& a);
int run_eval(const Args& a);
extern const char* const kTrainUsage;
extern const char* const kPredictUsage;
extern const char* const kEvalUsage;
const std::vector<FlagSpec>& train_flags();
const std::vector<FlagSpec>& predict_flags();
const std::vector<FlagSpec>& eval_flags();

// --engine and --threads; throws UsageError on a bad value.
EngineOptions engine_options(const Args& a);
// A finite number in [lo, hi] (hi_open: strictly below hi); throws UsageError naming the flag.
double parse_double_flag(const std::string& flag, const std::string& value, double lo, double hi, bool hi_open = false);
// Every --data value, in order; throws UsageError when there is none.
std::vector<std::string> data_args(const Args& a);

}  // namespace kiln::cli
