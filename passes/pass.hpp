// The pass interface and the Pipeline that runs passes (and fixed-point groups of passes)
// with the verifier between them.
#pragma once
#include "ir/diagnostics.hpp"
#include "ir/graph.hpp"
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace kiln {

// What a pass did, as two separate facts: whether it succeeded (a failed pass has reported
// an error saying why; the pipeline stops there) and whether it changed the graph (a
// fixed-point group repeats while one of its passes does).
struct PassResult {
  bool ok = true;
  bool changed = false;
  static PassResult success(bool changed) { return {true, changed}; }
  static PassResult failure() { return {false, false}; }
};

struct Pass {
  virtual ~Pass() = default;
  virtual std::string_view name() const = 0;
  virtual PassResult run(Graph& g, Diagnostics& diags) = 0;
};

struct PassStat {
  std::string name;
  size_t nodes_before = 0, nodes_after = 0;
  bool changed = false;
  int round = -1;  // the round of its fixed-point group (from 0); -1 for a pass run once
};

class Pipeline {
 public:
  Pipeline& add(std::unique_ptr<Pass> p);
  // A group repeated until none of its passes changes the graph (at most `max_rounds`).
  Pipeline& add_fixed_point(std::vector<std::unique_ptr<Pass>> group, int max_rounds = 16);
  bool empty() const { return stages_.empty(); }
  // Runs the passes in order and stops at the first that fails (a pass that reports an
  // error has failed, whatever it returns; one that fails without reporting an error gets
  // an internal error naming it). After every pass that succeeds, in every build, the IR
  // verifier runs: a malformed graph is an internal error naming the pass (diagnostic id
  // "internal"). ok: every pass succeeded; changed: some pass changed the graph.
  PassResult run(Graph& g, Diagnostics& diags, std::vector<PassStat>* stats = nullptr);

 private:
  struct Stage {
    std::vector<std::unique_ptr<Pass>> passes;
    int max_rounds;
    bool repeat;  // a fixed-point group (else a single pass)
  };
  std::vector<Stage> stages_;
};

// Runs one pass as the Pipeline does (statistics, the failure rules, the verifier).
PassResult run_pass(Pass& pass, Graph& g, Diagnostics& diags, std::vector<PassStat>* stats = nullptr, int round = -1);

}  // namespace kiln
