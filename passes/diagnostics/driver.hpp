// What the driver runs after lowering: the static checks, then (unless --no-rewrite) the
// stabilising rewrites, their notes filtered by the same -Wno-<id> and ignore comments.
#pragma once
#include "passes/diagnostics/check.hpp"

namespace kiln {

struct CheckAndRewriteOptions {
  CheckOptions checks;    // -W<id>, -Wno-<id>, -Werror, the source for ignore comments
  bool run_checks = true; // false: only the rewrite
  bool rewrite = true;    // false: --no-rewrite
};

// Runs the static checks on a lowered graph (before autodiff) and, when they report no
// error and `rewrite` is set, the stabilize pass. Each rewrite is reported as a note (id
// unstable-log or unstable-exp) unless that id is disabled (-Wno-<id>) or ignored by a
// `# kiln: ignore` comment on the rewritten line; the rewrite itself is exact and always
// applied. Returns false when a check reported an error (or a warning under -Werror).
bool check_and_rewrite(Graph& g, Diagnostics& d, const CheckAndRewriteOptions& opts);

}  // namespace kiln
