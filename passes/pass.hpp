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

struct Pass {
  virtual ~Pass() = default;
  virtual std::string_view name() const = 0;
  // Returns true when the graph changed.
  virtual bool run(Graph& g, Diagnostics& diags) = 0;
};

struct PassStat {
  std::string name;
  size_t nodes_before = 0, nodes_after = 0;
  bool changed = false;
};

class Pipeline {
 public:
  Pipeline& add(std::unique_ptr<Pass> p);
  // A group repeated until none of its passes changes the graph (at most `max_rounds`).
  Pipeline& add_fixed_point(std::vector<std::unique_ptr<Pass>> group, int max_rounds = 16);
  // Runs everything; verifies after each pass (a verifier failure is an internal error,
  // reported as a diagnostic with id "internal"). Returns false on any error.
  bool run(Graph& g, Diagnostics& diags, std::vector<PassStat>* stats = nullptr);

 private:
  struct Stage {
    std::vector<std::unique_ptr<Pass>> passes;
    int max_rounds;
  };
  std::vector<Stage> stages_;
};

}  // namespace kiln
