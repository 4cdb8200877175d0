// The static checks and the stabilising rewrites as passes of the compile pipeline (stage
// `checked`, runtime/compile.hpp): the rewrites' notes filtered by the same -Wno-<id> and
// ignore comments as the checks' warnings.
#pragma once
#include "passes/diagnostics/check.hpp"
#include "passes/pass.hpp"
#include <memory>

namespace kiln {

// "checks": runs the static checks on a lowered graph (before autodiff); only reports.
// Fails when a check reported an error (no-trainable, or a warning under -Werror). The
// source for ignore comments is opts.source, else the Diagnostics' file.
std::unique_ptr<Pass> make_checks_pass(CheckOptions opts);

// "stabilize", reporting: applies every stabilising rewrite (they are exact) and reports
// each as a note (id unstable-log or unstable-exp) unless that id is disabled (-Wno-<id>)
// or ignored by a `# kiln: ignore` comment on the rewritten line.
std::unique_ptr<Pass> make_rewrite_pass(CheckOptions opts);

}  // namespace kiln
