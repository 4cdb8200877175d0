// Learning-rate schedules as IR: constant, exponential_decay, step_decay and cosine, as
// functions of the step counter s (0 at the first update). This IR is the one definition
// of a schedule: the step computes it (and hands its value back as a metric cell), and
// the lr-decay check evaluates it (schedule_factor) rather than a formula of its own.
#include "ir/interpreter.hpp"
#include "passes/optimizer.hpp"
#include <cmath>
#include <numbers>

namespace kiln {

bool check_schedule(const ScheduleSpec& sc, Diagnostics& d) {
  // The limits of ir/train_settings.hpp, as the front end applies them.
  if (auto e = schedule_error(sc)) {
    d.error("schedule", sc.loc, *e);
    return false;
  }
  return true;
}

NodeId build_learning_rate(Graph& g, const OptimizerSpec& opt, const ScheduleSpec& sc, NodeId step, DType t) {
  SourceRange loc = sc.loc.valid() ? sc.loc : opt.loc;
  auto lit = [&](double v) { return g.scalar(v, t, loc); };
  auto mk = [&](Op op, std::vector<NodeId> in) { return g.make(op, std::move(in), {}, loc); };
  NodeId lr0 = lit(opt.lr);
  // rate^e, e the number of decays so far. pow(rate, e) is within an ulp or two when rate
  // is exact in the params' type (0.5); a rate that is not (0.96) is rounded first (by up
  // to 3e-8 relative in f32), and pow multiplies that by e: after 1000 decays 3e-5. Then
  // exp(e * ln(rate)) with ln(rate) computed in double, whose error grows only with
  // |e ln(rate)| = |ln(lr / lr0)|. (rate <= 0: pow, as written.)
  const bool exact = t != DType::f32 || double(float(sc.rate)) == sc.rate;
  auto power = [&](NodeId e) {
    if (sc.rate > 0 && !exact) return mk(Op::exp, {mk(Op::mul, {e, lit(std::log(sc.rate))})});
    return mk(Op::pow, {lit(sc.rate), e});
  };
  switch (sc.kind) {
    case ScheduleKind::constant:
      return lr0;
    case ScheduleKind::exponential_decay:  // lr0 * rate^(s/every)
      return mk(Op::mul, {lr0, power(mk(Op::div, {step, lit(double(sc.every))}))});
    case ScheduleKind::step_decay:  // lr0 * rate^floor(s/every)
      return mk(Op::mul, {lr0, power(mk(Op::floor, {mk(Op::div, {step, lit(double(sc.every))})}))});
    case ScheduleKind::cosine: {
      // lr0 * (1 + cos(pi * min(s, total) / total)) / 2, computed as
      // lr0 * sin(pi/2 * (total - min(s, total)) / total)^2: the same value, without the
      // cancellation of 1 + cos(x) near the end (x near pi), where it would lose the digits
      // of the small learning rate of the last steps.
      NodeId total = lit(double(sc.total));
      NodeId left = mk(Op::div, {mk(Op::sub, {total, mk(Op::minimum, {step, total})}), total});
      NodeId sn = mk(Op::sin, {mk(Op::mul, {lit(std::numbers::pi / 2), left})});
      return mk(Op::mul, {lr0, mk(Op::square, {sn})});
    }
  }
  return lr0;
}

ScheduleEvaluator::ScheduleEvaluator(const ScheduleSpec& sc) : g_(std::make_shared<Graph>()) {
  Node n{Op::state, DType::f64, {}, {}, {}, {}, "step"};
  n.attrs.init.kind = InitKind::zeros;
  NodeId step = g_->append(std::move(n));
  g_->states.push_back(step);
  OptimizerSpec unit;
  unit.lr = 1;
  lr_ = build_learning_rate(*g_, unit, sc, step, DType::f64);
}

double ScheduleEvaluator::factor(int64_t s) const {
  ValueMap leaves;
  Tensor t(DType::f64, {});
  t.data[0] = double(s);
  leaves["step"] = std::move(t);
  std::string err;
  auto vals = evaluate(*g_, leaves, Precision::f64, err);
  return vals ? (*vals)[size_t(lr_)].data.at(0) : 1.0;  // (the graph is built here: it evaluates)
}

std::optional<int64_t> ScheduleEvaluator::first_below(double fraction, int64_t limit) const {
  // Bisection: every schedule of ScheduleKind does not increase with s. (A warm-up would
  // search the steps after it.)
  if (limit <= 0 || !(factor(limit - 1) < fraction)) return std::nullopt;
  int64_t lo = 0, hi = limit - 1;  // factor(hi) < fraction
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (factor(mid) < fraction) hi = mid;
    else lo = mid + 1;
  }
  return hi;
}

}  // namespace kiln
