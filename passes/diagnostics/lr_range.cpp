// Check lr-range: the learning rate is outside the usual range for its optimizer
// (sgd 1e-4 .. 1; adam, adamw, rmsprop, adagrad 1e-5 .. 0.1).
#include "passes/diagnostics/check.hpp"
#include <fmt/format.h>

namespace kiln {

void check_lr_range(CheckContext& c) {
  const Graph& g = c.g;
  if (!g.train.present) return;
  const OptimizerSpec& o = g.train.optimizer;
  double lo = 1e-5, hi = 0.1;
  if (o.kind == OptimizerKind::sgd) lo = 1e-4, hi = 1.0;
  if (o.lr >= lo && o.lr <= hi) return;
  SourceRange loc = o.loc.valid() ? o.loc : g.train.loc;
  std::string what = o.lr < lo ? fmt::format("below the usual range for {} ({:g} .. {:g}): each step moves the weights by "
                                             "about lr x gradient, so they barely change and learning looks frozen",
                                             name_of(o.kind), lo, hi)
                               : fmt::format("above the usual range for {} ({:g} .. {:g}): updates overshoot, the loss "
                                             "oscillates or grows and can become NaN",
                                             name_of(o.kind), lo, hi);
  Diagnostic* d = c.report(loc, fmt::format("learning rate {:g} is {}", o.lr, what));
  if (!d) return;
  c.add_fixit(d, {fmt::format("start from lr = {:g}", o.kind == OptimizerKind::sgd ? 0.01 : 0.001), {}, ""});
}

}  // namespace kiln
