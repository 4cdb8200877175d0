// The Pipeline: runs passes and fixed-point groups of passes in order, records node
// counts, and runs the IR verifier after every pass.
#include "ir/printer.hpp"
#include "passes/pass.hpp"

namespace kiln {

Pipeline& Pipeline::add(std::unique_ptr<Pass> p) {
  std::vector<std::unique_ptr<Pass>> group;
  group.push_back(std::move(p));
  stages_.push_back(Stage{std::move(group), 1, false});
  return *this;
}

Pipeline& Pipeline::add_fixed_point(std::vector<std::unique_ptr<Pass>> group, int max_rounds) {
  stages_.push_back(Stage{std::move(group), max_rounds < 1 ? 1 : max_rounds, true});
  return *this;
}

PassResult run_pass(Pass& pass, Graph& g, Diagnostics& diags, std::vector<PassStat>* stats, int round) {
  PassStat st;
  st.name = std::string(pass.name());
  st.round = round;
  st.nodes_before = g.size();
  size_t errors_before = diags.error_count();
  PassResult r = pass.run(g, diags);
  st.nodes_after = g.size();
  st.changed = r.changed;
  if (stats) stats->push_back(st);
  bool reported = diags.error_count() > errors_before;
  if (!r.ok || reported) {
    // A failure always says why: one that does not is the pass's bug, not the user's.
    if (!reported) diags.error("internal", {}, "pass '" + st.name + "' failed without reporting an error");
    return PassResult::failure();
  }
  std::vector<std::string> problems = verify_graph(g);
  if (!problems.empty()) {
    auto& d = diags.error("internal", {}, "the IR is malformed after pass '" + st.name + "': " + problems.front());
    for (size_t k = 1; k < problems.size() && k < 10; ++k) d.notes.push_back({problems[k], {}});
    return PassResult::failure();
  }
  return r;
}

PassResult Pipeline::run(Graph& g, Diagnostics& diags, std::vector<PassStat>* stats) {
  bool changed_any = false;
  for (Stage& stage : stages_) {
    // A single pass runs once; a group repeats until a whole round changes nothing.
    for (int round = 0; round < stage.max_rounds; ++round) {
      bool any = false;
      for (auto& pass : stage.passes) {
        PassResult r = run_pass(*pass, g, diags, stats, stage.repeat ? round : -1);
        if (!r.ok) return PassResult::failure();
        any = any || r.changed;
      }
      changed_any = changed_any || any;
      if (!any) break;
    }
  }
  return PassResult::success(changed_any);
}

}  // namespace kiln
