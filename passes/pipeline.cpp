// The Pipeline: runs passes and fixed-point groups of passes in order, records node
// counts, and runs the IR verifier after every pass.
#include "ir/printer.hpp"
#include "passes/pass.hpp"

namespace kiln {

Pipeline& Pipeline::add(std::unique_ptr<Pass> p) {
  std::vector<std::unique_ptr<Pass>> group;
  group.push_back(std::move(p));
  stages_.push_back(Stage{std::move(group), 1});
  return *this;
}

Pipeline& Pipeline::add_fixed_point(std::vector<std::unique_ptr<Pass>> group, int max_rounds) {
  stages_.push_back(Stage{std::move(group), max_rounds < 1 ? 1 : max_rounds});
  return *this;
}

// Runs one pass, records its statistics and verifies the result. False on any error.
static bool run_pass(Pass& pass, Graph& g, Diagnostics& diags, std::vector<PassStat>* stats, bool& changed) {
  PassStat st;
  st.name = std::string(pass.name());
  st.nodes_before = g.size();
  size_t errors_before = diags.error_count();
  st.changed = pass.run(g, diags);
  st.nodes_after = g.size();
  changed = st.changed;
  if (stats) stats->push_back(st);
  if (diags.error_count() > errors_before) return false;
  std::vector<std::string> problems = verify_graph(g);
  if (!problems.empty()) {
    auto& d = diags.error("internal", {}, "the IR is malformed after pass '" + st.name + "': " + problems.front());
    for (size_t k = 1; k < problems.size() && k < 10; ++k) d.notes.push_back({problems[k], {}});
    return false;
  }
  return true;
}

bool Pipeline::run(Graph& g, Diagnostics& diags, std::vector<PassStat>* stats) {
  for (Stage& stage : stages_) {
    // A single pass runs once; a group repeats until a whole round changes nothing.
    for (int round = 0; round < stage.max_rounds; ++round) {
      bool any = false;
      for (auto& pass : stage.passes) {
        bool changed = false;
        if (!run_pass(*pass, g, diags, stats, changed)) return false;
        any = any || changed;
      }
      if (!any) break;
    }
  }
  return true;
}

}  // namespace kiln
