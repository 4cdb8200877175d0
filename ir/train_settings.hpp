// The train block's kinds and limits, one place for every layer: the optimizer and
// schedule kinds (enums, with their surface names and arguments in one table each) and
// the limits of every numeric setting (lr, momentum, ..., epochs, batch), with the one
// wording of their violation that the front end, the command-line flags and the
// optimizer pass all report.
#pragma once
#include "ir/types.hpp"
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiln {

enum class OptimizerKind : uint8_t { sgd, adam, adamw, rmsprop, adagrad };
// The schedules the step computes. LANGUAGE-2's training control adds rows here (a
// warm-up, cosine restarts, step_decay per epoch, reduce_on_plateau): a schedule that
// needs more than the step counter reads a scalar state the host writes (steps per
// epoch, a plateau factor), as the step counter is one (passes/schedule.cpp).
enum class ScheduleKind : uint8_t { constant, exponential_decay, step_decay, cosine };

// A numeric setting of the train block (or of a flag that overrides one).
enum class Setting : uint8_t {
  lr, momentum, beta1, beta2, eps, weight_decay, rho,  // optimizer arguments
  rate, every, total,                                  // schedule arguments
  clip_norm, epochs, seed, batch,                      // train-block settings and the batch dim
};

// One kind of optimizer or schedule: its surface name, its arguments in positional order
// (their Setting, or none for sgd's boolean `nesterov`), and how many of them (from the
// front) are required.
struct KindRow {
  std::string_view name;
  std::vector<std::string_view> params;
  size_t required = 0;
};
// Indexed by the enum.
const std::vector<KindRow>& optimizer_rows();
const std::vector<KindRow>& schedule_rows();
inline std::string_view name_of(OptimizerKind k) { return optimizer_rows()[size_t(k)].name; }
inline std::string_view name_of(ScheduleKind k) { return schedule_rows()[size_t(k)].name; }
// The kind a surface name names; nullopt when none.
std::optional<OptimizerKind> optimizer_kind(std::string_view name);
std::optional<ScheduleKind> schedule_kind(std::string_view name);
// Whether a kind takes an argument (a name of its row's params).
bool takes(OptimizerKind k, std::string_view param);
bool takes(ScheduleKind k, std::string_view param);

// A setting's name as an argument or setting ("lr", "every", "epochs"), and the setting
// an argument name names (nullopt: not numeric, e.g. nesterov).
std::string_view setting_name(Setting s);
std::optional<Setting> setting_of(std::string_view name);
// Whether the setting is an integer (every, total, epochs, seed, batch).
bool integer_setting(Setting s);
// The rule as words: "must be positive", "must be in [0, 1)", "must be from 1 to 1000000".
std::string setting_rule(Setting s);
// nullopt when v is within the setting's limits (finite, in range, integral where it
// must be), else "must be positive, got 0": what follows the setting's name in a message
// ("adam's lr must be positive, got 0", "option '--lr' must be positive, got 0").
std::optional<std::string> setting_error(Setting s, double v);

struct OptimizerSpec {
  OptimizerKind kind = OptimizerKind::sgd;
  double lr = 0.01, momentum = 0, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0, rho = 0.9;
  bool nesterov = false;
  SourceRange loc;
};

struct ScheduleSpec {
  ScheduleKind kind = ScheduleKind::constant;
  double rate = 1.0;
  int64_t every = 1, total = 0;
  SourceRange loc;
};

// A kind's defaults: adamw's weight_decay 0.01, rmsprop's and adagrad's eps 1e-7.
OptimizerSpec default_optimizer(OptimizerKind k);
// The value of a numeric argument in a spec (a Setting its kind takes).
double setting_value(const OptimizerSpec& o, Setting s);
double setting_value(const ScheduleSpec& s, Setting which);
// The first argument the kind takes that is out of its limits ("sgd's momentum must be
// in [0, 1), got 1"), or a rule between arguments (nesterov needs momentum); nullopt when
// the spec is valid. The front end reports the same per argument at its place.
std::optional<std::string> optimizer_error(const OptimizerSpec& o);
std::optional<std::string> schedule_error(const ScheduleSpec& s);
// sgd's rule between arguments, as the front end and optimizer_error() say it.
inline constexpr const char* kNesterovNeedsMomentum =
    "nesterov = true needs a momentum above 0, e.g. sgd(lr = 0.1, momentum = 0.9, nesterov = true)";

}  // namespace kiln
