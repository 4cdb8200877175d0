// The static checks: the catalogue (id, default severity, summary, help), the options
// (-W<id>, -Wno-<id>, -Werror, inline ignores) and the context every check runs in.
#pragma once
#include "ir/diagnostics.hpp"
#include "ir/graph.hpp"
#include "ir/source.hpp"
#include "passes/range.hpp"
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace kiln {

struct CheckOptions {
  std::set<std::string> enabled;   // -W<id>: wins over `disabled`
  std::set<std::string> disabled;  // -Wno-<id>
  bool werror = false;             // -Werror: warnings become errors
  // The model's text: `# kiln: ignore[<id>]` comments on the offending line, the user's
  // expressions in messages, and exact fix-it ranges. Without it, ignores are not seen
  // and expressions are rebuilt from the IR.
  const SourceFile* source = nullptr;
  // The stabilize pass will rewrite the unstable forms (false: --no-rewrite). Only the
  // wording of the unstable-log/unstable-exp fix-its depends on it.
  bool rewrite = true;
  // Rows of training data per epoch (lr-decay). Unknown at check time: the check then
  // assumes one batch per epoch, the fewest steps any data set gives, so it only fires
  // when the decay is too fast whatever the data.
  std::optional<int64_t> rows;
  // Leaf ranges (input_ranges, normalized_bound). The checks bound params by nothing
  // (weights move during training) except where a check says it uses the initialisers.
  RangeOptions ranges;
};

struct CheckContext;
using CheckFn = void (*)(CheckContext& ctx);

struct CheckInfo {
  std::string_view id;
  Severity severity;
  std::string_view summary;  // one line, for `kiln check --list` and SARIF shortDescription
  std::string_view help;     // a paragraph: why weights stop updating, how to fix
  CheckFn run;
};

// Every static check in catalogue order (passes/diagnostics/catalogue.cpp).
const std::vector<CheckInfo>& check_catalogue();
const CheckInfo* find_check(std::string_view id);  // nullptr when unknown
bool check_enabled(const CheckOptions& opts, std::string_view id);
// The ids of a `# kiln: ignore[a, b]` comment on a line (empty when none); "*" for a
// bare `# kiln: ignore`.
std::vector<std::string> ignored_ids(std::string_view line);

// An initialiser as the user writes it: "normal(0, 1)", "he_normal", "constant(0.5)".
std::string init_text(const Init& init);

// Runs every enabled check on a lowered graph (before autodiff). Reports into `diags`;
// returns false when it reported an error (no-trainable, or any warning under werror).
bool run_static_checks(const Graph& g, Diagnostics& diags, const CheckOptions& opts = {});

// What a check sees: the graph and analyses shared by the checks.
struct CheckContext {
  CheckContext(const Graph& g, Diagnostics& diags, const CheckOptions& opts);

  const Graph& g;
  Diagnostics& diags;
  const CheckOptions& opts;
  std::optional<NodeId> loss;                 // the minimised value, if there is a train block
  std::vector<Interval> ranges;               // params unbounded (any time in training)
  std::vector<Interval> init_ranges;          // params at their initialiser's range
  std::vector<char> feeds_loss;               // node i is used (transitively) by the loss
  std::vector<char> grad_reaches;             // gradient of the loss flows back to node i
  std::vector<std::vector<NodeId>> users;     // users[i]: nodes with i as an operand
  const CheckInfo* current = nullptr;         // the check being run
  size_t reported = 0;

  // Reports a diagnostic of the current check (its id and severity, promoted under
  // werror). Returns nullptr when the check is suppressed on that line by an ignore
  // comment; the caller then adds nothing.
  Diagnostic* report(SourceRange loc, std::string message);

  // The user's text of a node (from the source when its range is on one line), else an
  // expression rebuilt from the IR with subexpressions deeper than `depth` as `...`.
  std::string text(NodeId id, int depth = 2) const;
  // The IR expression of a node: names where the user bound one, `...` below `depth`.
  std::string expr(NodeId id, int depth = 2) const;
  // "p = sigmoid(...)" for a named node, "sigmoid(...)" otherwise.
  std::string describe(NodeId id) const;
  // A declaration's keyword range (`const`/`param`) when the source shows it.
  std::optional<SourceRange> keyword_range(NodeId leaf, std::string_view keyword) const;
  // The initialiser text range of a declaration (after `=`, before a comment).
  std::optional<SourceRange> init_text_range(NodeId leaf) const;
  // True when node `id` depends on a node of kind `op` (e.g. an input).
  bool depends_on(NodeId id, Op op) const;
  // Follows single-operand shape ops (reshape, transpose, broadcast_to, stop_gradient
  // excluded) back to the node that produced the value.
  NodeId through_shape(NodeId id) const;
};

// One function per check, one file each (passes/diagnostics/<id>.cpp).
void check_no_trainable(CheckContext& c);
void check_const_as_param(CheckContext& c);
void check_unused_param(CheckContext& c);
void check_blocked_gradient(CheckContext& c);
void check_unstable_log(CheckContext& c);
void check_unstable_exp(CheckContext& c);
void check_unstable_div(CheckContext& c);
void check_sqrt_at_zero(CheckContext& c);
void check_vanishing_gradient(CheckContext& c);
void check_init_scale(CheckContext& c);
void check_symmetric_init(CheckContext& c);
void check_batch_sum_loss(CheckContext& c);
void check_lr_range(CheckContext& c);
void check_lr_decay(CheckContext& c);
void check_linear_collapse(CheckContext& c);
void check_broadcast_mismatch(CheckContext& c);
void check_loss_activation_mismatch(CheckContext& c);

}  // namespace kiln
