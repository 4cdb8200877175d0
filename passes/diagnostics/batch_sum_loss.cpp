// Check batch-sum-loss: the minimised loss is a sum over the batch dimension, so the
// gradient scale grows with the batch size.
#include "passes/diagnostics/check.hpp"
#include <fmt/format.h>

namespace kiln {

void check_batch_sum_loss(CheckContext& c) {
  if (!c.loss) return;
  const Graph& g = c.g;
  NodeId v = *c.loss;
  while (g[v].op == Op::neg) v = g[v].in[0];  // -sum(...); a division by a count is a mean
  const Node& s = g[v];
  if (s.op != Op::sum) return;
  const Node& x = g[s.in[0]];
  if (x.shape.empty() || x.shape[0] != g.batch || !c.depends_on(s.in[0], Op::input)) return;
  std::vector<int64_t> axes = s.attrs.axes;
  bool over_batch = axes.empty();
  if (!axes.empty() && normalize_axes(axes, x.shape.size()))
    for (int64_t a : axes) over_batch = over_batch || a == 0;
  if (!over_batch) return;
  Diagnostic* d = c.report(s.loc, fmt::format("the loss sums over the batch dimension ({} examples): the gradient, and "
                                              "the size of every update, grow with the batch size",
                                              g.batch));
  if (!d) return;
  FixIt f{"average over the batch: replace 'sum' with 'mean'", {}, "mean"};
  if (c.opts.source && s.loc.valid() && s.loc.line <= c.opts.source->line_count() &&
      c.opts.source->line_text(s.loc.line).substr(s.loc.col - 1, 3) == "sum")
    f.loc = SourceRange{s.loc.line, s.loc.col, s.loc.line, s.loc.col + 3};
  d->fixits.push_back(f);
}

}  // namespace kiln
