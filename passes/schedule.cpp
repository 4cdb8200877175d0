// Learning-rate schedules as IR: constant, exponential_decay, step_decay and cosine, as
// functions of the step counter s (0 at the first update).
#include "passes/optimizer.hpp"
#include <cmath>
#include <numbers>

namespace kiln {

bool check_schedule(const ScheduleSpec& sc, Diagnostics& d) {
  const std::string& k = sc.kind;
  SourceRange loc = sc.loc;
  if (k == "constant") return true;
  if (k == "exponential_decay" || k == "step_decay") {
    if (sc.every <= 0) {
      d.error("schedule", loc, k + " needs every > 0 (the number of steps per decay), got " + std::to_string(sc.every));
      return false;
    }
    return true;
  }
  if (k == "cosine") {
    if (sc.total <= 0) {
      d.error("schedule", loc, "cosine needs total > 0 (the number of steps to decay over), got " + std::to_string(sc.total));
      return false;
    }
    return true;
  }
  d.error("schedule", loc, "unknown schedule '" + k + "'; expected constant, exponential_decay, step_decay or cosine");
  return false;
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
  if (sc.kind == "exponential_decay")  // lr0 * rate^(s/every)
    return mk(Op::mul, {lr0, power(mk(Op::div, {step, lit(double(sc.every))}))});
  if (sc.kind == "step_decay")  // lr0 * rate^floor(s/every)
    return mk(Op::mul, {lr0, power(mk(Op::floor, {mk(Op::div, {step, lit(double(sc.every))})}))});
  if (sc.kind == "cosine") {
    // lr0 * (1 + cos(pi * min(s, total) / total)) / 2, computed as
    // lr0 * sin(pi/2 * (total - min(s, total)) / total)^2: the same value, without the
    // cancellation of 1 + cos(x) near the end (x near pi), where it would lose the digits
    // of the small learning rate of the last steps.
    NodeId total = lit(double(sc.total));
    NodeId left = mk(Op::div, {mk(Op::sub, {total, mk(Op::minimum, {step, total})}), total});
    NodeId sn = mk(Op::sin, {mk(Op::mul, {lit(std::numbers::pi / 2), left})});
    return mk(Op::mul, {lr0, mk(Op::square, {sn})});
  }
  return lr0;  // constant
}

}  // namespace kiln
