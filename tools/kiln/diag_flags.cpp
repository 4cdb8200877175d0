// The warning options shared by check, dump and train: -W<id>, -Wno-<id>, -Werror and
// --no-rewrite, turned into the options of the static checks, the rewrite and the
// run-time monitors.
#include "runtime/monitor.hpp"
#include "tools/kiln/commands.hpp"
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

CheckAndRewriteOptions check_options(const Args& a, const SourceFile* src) {
  CheckAndRewriteOptions o;
  o.checks.source = src;
  o.rewrite = !a.has("no-rewrite");
  if (auto it = a.lists.find("W"); it != a.lists.end())
    for (const std::string& w : it->second) {
      std::string err;
      // A run-time monitor's id (frozen-param, ...) is valid everywhere and only matters
      // to train; vanishing-gradient names both a static check and a monitor.
      MonitorOptions scratch;
      bool runtime_id = apply_monitor_option(w, scratch);
      if (!apply_warning_option(w, o.checks, err) && !runtime_id) {
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

MonitorOptions monitor_options(const Args& a) {
  MonitorOptions o;
  if (auto it = a.lists.find("W"); it != a.lists.end())
    for (const std::string& w : it->second) apply_monitor_option(w, o);
  return o;
}

}  // namespace kiln::cli
