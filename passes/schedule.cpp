// Learning-rate schedules as IR: constant, exponential_decay, step_decay and cosine, as
// functions of the step counter s (0 at the first update).
#include "passes/optimizer.hpp"
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
  if (sc.kind == "exponential_decay") {  // lr0 * rate^(s/every)
    NodeId e = mk(Op::div, {step, lit(double(sc.every))});
    return mk(Op::mul, {lr0, mk(Op::pow, {lit(sc.rate), e})});
  }
  if (sc.kind == "step_decay") {  // lr0 * rate^floor(s/every)
    NodeId e = mk(Op::floor, {mk(Op::div, {step, lit(double(sc.every))})});
    return mk(Op::mul, {lr0, mk(Op::pow, {lit(sc.rate), e})});
  }
  if (sc.kind == "cosine") {  // lr0 * (1 + cos(pi * min(s, total) / total)) / 2
    NodeId total = lit(double(sc.total));
    NodeId frac = mk(Op::div, {mk(Op::minimum, {step, total}), total});
    NodeId c = mk(Op::cos, {mk(Op::mul, {lit(std::numbers::pi), frac})});
    return mk(Op::div, {mk(Op::mul, {lr0, mk(Op::add, {lit(1.0), c})}), lit(2.0)});
  }
  return lr0;  // constant
}

}  // namespace kiln
