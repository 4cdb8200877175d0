// Check lr-decay: the schedule drives the learning rate below 1% of its start before half
// of the planned steps (epochs x batches per epoch).
#include "passes/diagnostics/check.hpp"
#include <cmath>
#include <fmt/format.h>
#include <numbers>

namespace kiln {

// The first step at which the schedule's factor is below 1%; infinity when never.
static double steps_to_one_percent(const ScheduleSpec& s) {
  const double inf = std::numeric_limits<double>::infinity(), target = 0.01;
  if (s.kind == "exponential_decay") {  // rate^(t/every)
    if (s.rate <= 0) return 1;
    if (s.rate >= 1 || s.every <= 0) return inf;
    return double(s.every) * std::log(target) / std::log(s.rate);
  }
  if (s.kind == "step_decay") {  // rate^floor(t/every)
    if (s.rate <= 0) return double(s.every);
    if (s.rate >= 1 || s.every <= 0) return inf;
    double k = std::floor(std::log(target) / std::log(s.rate)) + 1;  // first k with rate^k < 1%
    return k * double(s.every);
  }
  if (s.kind == "cosine") {  // (1 + cos(pi min(t, total) / total)) / 2
    if (s.total <= 0) return inf;
    return double(s.total) * std::acos(2 * target - 1) / std::numbers::pi;
  }
  return inf;
}

void check_lr_decay(CheckContext& c) {
  const Graph& g = c.g;
  if (!g.train.present) return;
  const ScheduleSpec& s = g.train.schedule;
  double t = steps_to_one_percent(s);
  if (std::isinf(t)) return;
  int64_t per_epoch = 1;
  if (c.opts.rows && *c.opts.rows > 0 && g.batch > 0) per_epoch = (*c.opts.rows + g.batch - 1) / g.batch;
  double planned = double(g.train.epochs) * double(per_epoch);
  if (t >= planned / 2) return;
  SourceRange loc = s.loc.valid() ? s.loc : g.train.loc;
  double lr = g.train.optimizer.lr;
  Diagnostic* d = c.report(loc, fmt::format("the schedule drives the learning rate below 1% of its start ({:g} -> {:g}) "
                                            "after {:.0f} steps, before half of the {:.0f} planned steps: learning "
                                            "stalls early",
                                            lr, lr / 100, std::ceil(t), planned));
  if (!d) return;
  if (c.opts.rows)
    d->notes.push_back({fmt::format("planned steps: {} epochs x {} batches of {} ({} rows)", g.train.epochs, per_epoch,
                                    g.batch, *c.opts.rows), g.train.loc});
  else
    d->notes.push_back({fmt::format("planned steps: {} epochs x at least one batch each (the number of rows is not known "
                                    "here, so this counts the fewest steps any data set gives)", g.train.epochs),
                        g.train.loc});
  d->fixits.push_back({s.kind == "cosine" ? "set total to the planned number of steps"
                                          : "decay more slowly: a rate closer to 1 or a larger 'every'",
                       {}, ""});
}

}  // namespace kiln
