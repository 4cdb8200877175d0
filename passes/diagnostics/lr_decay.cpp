// Check lr-decay: the schedule drives the learning rate below 1% of its start before half
// of the planned steps (epochs x batches per epoch).
// The schedule is the step's own (passes/schedule.cpp, evaluated by ScheduleEvaluator).
#include "passes/diagnostics/check.hpp"
#include "passes/optimizer.hpp"
#include <fmt/format.h>

namespace kiln {

void check_lr_decay(CheckContext& c) {
  const Graph& g = c.g;
  if (!g.train.present) return;
  const ScheduleSpec& s = g.train.schedule;
  if (s.kind == ScheduleKind::constant || schedule_error(s)) return;  // (an invalid one is the optimizer's error)
  int64_t per_epoch = 1;
  if (c.opts.rows && *c.opts.rows > 0 && g.batch > 0) per_epoch = (*c.opts.rows + g.batch - 1) / g.batch;
  const int64_t planned = g.train.epochs * per_epoch;
  // The first step whose learning rate is below 1% of the start, if it comes before half
  // of the planned steps.
  auto t = ScheduleEvaluator(s).first_below(0.01, (planned + 1) / 2);
  if (!t) return;
  SourceRange loc = s.loc.valid() ? s.loc : g.train.loc;
  double lr = g.train.optimizer.lr;
  Diagnostic* d = c.report(loc, fmt::format("the schedule drives the learning rate below 1% of its start ({:g} -> {:g}) "
                                            "after {} steps, before half of the {} planned steps: learning "
                                            "stalls early",
                                            lr, lr / 100, *t, planned));
  if (!d) return;
  if (c.opts.rows)
    d->notes.push_back({fmt::format("planned steps: {} epochs x {} batches of {} ({} rows)", g.train.epochs, per_epoch,
                                    g.batch, *c.opts.rows), g.train.loc});
  else
    d->notes.push_back({fmt::format("planned steps: {} epochs x at least one batch each (the number of rows is not known "
                                    "here, so this counts the fewest steps any data set gives)", g.train.epochs),
                        g.train.loc});
  c.add_fixit(d, {s.kind == ScheduleKind::cosine ? "set total to the planned number of steps"
                                          : "decay more slowly: a rate closer to 1 or a larger 'every'",
                       {}, ""});
}

}  // namespace kiln
