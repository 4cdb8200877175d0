// The catalogue of run-time monitors (runtime/monitors/rule.hpp): ids, severities, summaries,
// docs pages and rule objects; the ids and the -W/-Wno options of `kiln train` for them.
#include "runtime/monitor.hpp"
#include "runtime/monitors/rule.hpp"

namespace kiln {

const std::vector<MonitorRuleInfo>& monitor_catalogue() {
  using S = Severity;
  static const std::vector<MonitorRuleInfo> table = {
      {"non-finite", S::error, "the loss, a gradient or an update is NaN or Inf: training stops", "non-finite.md",
       make_non_finite},
      {"frozen-param", S::warning, "a param's relative update stays below 1e-7 for 20 steps", "frozen-param.md",
       make_frozen_param},
      {"vanishing-gradient", S::warning, "a param's epoch-mean gradient norm is 1e-4 or less of the largest",
       "vanishing-gradient.md#at-run-time", make_vanishing_gradient},
      {"exploding-gradient", S::warning, "a gradient norm exceeds 1000x its running median", "exploding-gradient.md",
       make_exploding_gradient},
      {"dead-relu", S::warning, "a relu outputs 0 for more than 90% of its units over an epoch", "dead-relu.md",
       make_dead_relu},
      {"loss-plateau", S::warning, "the loss stopped improving (last 5 epochs) while still within 10% of its start",
       "loss-plateau.md", make_loss_plateau},
      {"loss-diverging", S::warning, "the epoch loss grew 3 epochs in a row to over 1.5x its best", "loss-diverging.md",
       make_loss_diverging},
      // At load time, by the trainer: runtime/monitors/data_scale.cpp (data_scale_message).
      {"data-scale", S::warning, "at load time: an input's columns differ in scale by more than 100x", "data-scale.md",
       nullptr},
  };
  return table;
}

const MonitorRuleInfo* find_monitor_rule(std::string_view id) {
  for (const MonitorRuleInfo& r : monitor_catalogue())
    if (r.id == id) return &r;
  return nullptr;
}

const std::vector<std::string>& monitor_ids() {
  static const std::vector<std::string> ids = [] {
    std::vector<std::string> v;
    for (const MonitorRuleInfo& r : monitor_catalogue()) v.emplace_back(r.id);
    return v;
  }();
  return ids;
}

bool is_monitor_id(std::string_view id) { return find_monitor_rule(id) != nullptr; }

bool apply_monitor_option(std::string_view option, MonitorOptions& o) {
  std::string_view w = option;
  while (!w.empty() && w[0] == '-') w.remove_prefix(1);
  if (w.substr(0, 1) != "W") return false;
  w.remove_prefix(1);
  if (w == "error") {
    o.werror = true;
    return false;
  }
  bool off = w.substr(0, 3) == "no-";
  std::string id(off ? w.substr(3) : w);
  if (!is_monitor_id(id)) return false;
  if (off) o.disabled.insert(id);
  else o.disabled.erase(id);
  return true;
}

}  // namespace kiln
