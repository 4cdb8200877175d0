// The flags that change what is compiled, parsed once for every command into the
// pipeline's CompileOptions (runtime/compile.hpp): --batch, --lr, --epochs, --seed, --rows,
// -W<id>/-Wno-<id>/-Werror, --no-rewrite, --monitors/--no-monitor and --max-memory; and the
// run-time monitors' options from the same -W flags. The train block's overrides are held
// to the limits the front end applies to the file (ir/train_settings.hpp).
#include "runtime/memory_limit.hpp"
#include "runtime/monitor.hpp"
#include "tools/kiln/commands.hpp"
#include <charconv>
#include <cmath>
#include <fmt/format.h>
#include <map>

namespace kiln::cli {

const std::vector<FlagSpec>& diagnostic_flags() {
  static const std::vector<FlagSpec> flags = {
      {"W", false, "-W<id> enables a check, -Wno-<id> disables it, -Werror makes warnings errors", "", true},
      {"no-rewrite", false, "keep unstable expressions as written (default: rewrite them to stable forms)", ""},
  };
  return flags;
}

const std::vector<FlagSpec>& with_diagnostic_flags(const std::vector<FlagSpec>& flags) {
  static std::map<const std::vector<FlagSpec>*, std::vector<FlagSpec>> all;
  auto [it, fresh] = all.try_emplace(&flags, flags);
  if (fresh)
    for (auto& d : diagnostic_flags()) it->second.push_back(d);
  return it->second;
}

const std::vector<FlagSpec>& train_block_flags() {
  static const std::vector<FlagSpec> flags = {
      {"batch", true, "override the 'batch' dim (default: the file's, else 32)", "N"},
      {"lr", true, "override the optimizer's base learning rate (as 'kiln train --lr')", "X"},
      {"epochs", true, "override the train block's epochs (as 'kiln train --epochs')", "N"},
      {"seed", true, "override the train block's seed (as 'kiln train --seed')", "S"},
      {"rows", true, "the data's row count, for what depends on it (steps per epoch; the lr-decay check)", "N"},
  };
  return flags;
}

namespace {

// The static checks' options from -W<id>/-Wno-<id>/-Werror. Throws UsageError for an
// unknown id (-Wfoo) or a malformed option.
CheckOptions check_options(const Args& a) {
  CheckOptions o;
  if (auto it = a.lists.find("W"); it != a.lists.end())
    for (const std::string& w : it->second) {
      std::string err;
      // A run-time monitor's id (frozen-param, ...) is valid everywhere and only matters
      // to train; vanishing-gradient names both a static check and a monitor.
      MonitorOptions scratch;
      bool runtime_id = apply_monitor_option(w, scratch);
      if (!apply_warning_option(w, o, err) && !runtime_id) {
        if (err.find("unknown check") != std::string::npos) {
          std::string ids;
          for (auto& m : monitor_ids()) ids += (ids.empty() ? "" : ", ") + m;
          err += "; the run-time monitors are: " + ids;
        }
        throw UsageError(err);
      }
    }
  return o;
}

// A train-block override (--lr, --epochs, --batch, --seed) within the limits of its setting,
// as the front end holds the file's value to them: "option '--lr' must be positive, got 0".
double setting_flag(const std::string& flag, Setting which, const std::string& v) {
  double x = 0;
  bool parsed = false;
  if (integer_setting(which)) {
    long long i = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), i);
    parsed = ec == std::errc() && p == v.data() + v.size() && !v.empty();
    x = double(i);
  } else {
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
    parsed = ec == std::errc() && p == v.data() + v.size() && !v.empty();
  }
  if (!parsed)
    throw UsageError(fmt::format("option '--{}' needs {}, not {}", flag, integer_setting(which) ? "an integer" : "a number",
                                 quote(v)));
  if (auto bad = setting_error(which, x)) throw UsageError(fmt::format("option '--{}' {}", flag, *bad));
  return x;
}

}  // namespace

CompileOptions compile_options(const Args& a) {
  CompileOptions o;
  if (auto v = a.get("max-memory")) {
    auto bytes = parse_memory_size(*v);
    if (!bytes) throw UsageError(fmt::format("option '--max-memory' needs a size such as 512M or 8G, not '{}'", *v));
    o.max_memory = *bytes;
    set_memory_limit(*bytes);  // the data readers' limit too
  }
  if (auto v = a.get("epochs")) o.epochs = int64_t(setting_flag("epochs", Setting::epochs, *v));
  if (auto v = a.get("batch")) o.batch = int64_t(setting_flag("batch", Setting::batch, *v));
  if (auto v = a.get("lr")) o.lr = setting_flag("lr", Setting::lr, *v);
  if (auto v = a.get("seed")) o.seed = uint64_t(setting_flag("seed", Setting::seed, *v));
  if (auto v = a.get("rows")) o.rows = parse_int_flag("rows", *v, 1, int64_t(1) << 62);
  o.checks = check_options(a);
  o.rewrite = !a.has("no-rewrite");
  if (a.has("monitors") && a.has("no-monitor")) throw UsageError("options '--monitors' and '--no-monitor' contradict each other");
  // train: on unless --no-monitor; dump: only with --monitors.
  o.monitors = a.has("monitors") || (a.command == "train" && !a.has("no-monitor"));
  return o;
}

MonitorOptions monitor_options(const Args& a) {
  MonitorOptions o;
  if (auto it = a.lists.find("W"); it != a.lists.end())
    for (const std::string& w : it->second) apply_monitor_option(w, o);
  return o;
}

}  // namespace kiln::cli
