// The optimizer pass: PyTorch's SGD (momentum, Nesterov), Adam, AdamW, RMSprop and
// Adagrad, with learning-rate schedules and global-norm clipping, built as IR updates.
//
// Algorithm:
//  1. Check the configuration (kind, hyperparameters, schedule, clip_norm, one element
//     type for all params) and that g.grads has a gradient of the right type per param.
//  2. Create the step counter state s (scalar, zeros) and the learning rate lr(s), a
//     metric root (kLearningRateMetric) that the runtime reads back.
//  3. With clip_norm c: total = sqrt(sum over grads of sum(g^2)),
//     k = min(c / (total + 1e-6), 1), and every gradient becomes g * k.
//  4. Per param p with gradient g (plus weight_decay * p for the L2 form of sgd, adam,
//     rmsprop, adagrad), create the kind's state leaves and build the new values of the
//     states and of p (always p - update: no f32 subtraction that cancels, e.g. Adam's
//     1 - beta^t is -expm1(t ln beta)); append Update{state, new value} and Update{p, new value}.
//  5. Append Update{s, s + 1}.
#include "passes/optimizer.hpp"
#include "passes/monitor_ir.hpp"
#include <algorithm>
#include <cmath>
#include <map>

namespace kiln {

namespace {

// Where two operands of one call build nodes, they are built in statements of their own,
// the last operand first: C++ leaves the order of a call's arguments unspecified (GCC
// builds the last first, clang the first), and the node numbers, and so every dump, would
// depend on the compiler.
struct Builder {
  Graph& g;
  DType t;
  SourceRange loc;
  NodeId lit(double v) { return g.scalar(v, t, loc); }
  NodeId mk(Op op, std::vector<NodeId> in) { return g.make(op, std::move(in), {}, loc); }
  NodeId add(NodeId a, NodeId b) { return mk(Op::add, {a, b}); }
  NodeId sub(NodeId a, NodeId b) { return mk(Op::sub, {a, b}); }
  NodeId mul(NodeId a, NodeId b) { return mk(Op::mul, {a, b}); }
  NodeId div(NodeId a, NodeId b) { return mk(Op::div, {a, b}); }
  NodeId sqrt(NodeId a) { return mk(Op::sqrt, {a}); }
  NodeId square(NodeId a) { return mk(Op::square, {a}); }
  // Adam's bias correction 1 - beta^t, as -expm1(t * ln(beta)) with ln(beta) computed in
  // double: 1 - pow(beta, t) in f32 cancels, and beta rounded to f32 (0.999f) is off by
  // 1.3e-8, 1.3e-5 of 1 - beta. Here the literal ln(beta) and the product are within u
  // relative, so the correction is within a few ulp for every t. -1 when beta = 0 (it is 1).
  NodeId bias_correction(double beta, NodeId t) {
    if (beta == 0) return -1;
    return mk(Op::neg, {mk(Op::expm1, {mul(t, lit(std::log(beta)))})});
  }
  // a * x + (1 - a) * y
  NodeId blend(double a, NodeId x, NodeId y) {
    NodeId y_part = mul(lit(1 - a), y);
    return add(mul(lit(a), x), y_part);
  }
  // lr * x / (sqrt(v) + eps)
  NodeId scaled_step(NodeId lr, NodeId x, NodeId v, double eps) {
    NodeId e = lit(eps);
    NodeId denom = add(sqrt(v), e);
    return div(mul(lr, x), denom);
  }
  NodeId state(const std::string& name, const Shape& shape) {
    Node n{Op::state, t, shape, {}, {}, loc, name};
    n.attrs.init.kind = InitKind::zeros;
    NodeId id = g.append(std::move(n));
    g.states.push_back(id);
    return id;
  }
};

bool check_config(const Graph& g, Diagnostics& d) {
  const OptimizerSpec& o = g.train.optimizer;
  const size_t errors_before = d.error_count();
  auto bad = [&](const std::string& msg) {
    d.error("optimizer", o.loc, msg);
    return false;
  };
  // The limits of ir/train_settings.hpp, as the front end and the flags apply them; a graph
  // from elsewhere (the IR text, a test) may still break them.
  if (auto e = optimizer_error(o)) return bad(*e);
  if (g.train.clip_norm)
    if (auto e = setting_error(Setting::clip_norm, *g.train.clip_norm)) d.error("optimizer", g.train.loc, "clip_norm " + *e);
  if (!check_schedule(g.train.schedule, d)) return false;
  if (d.error_count() != errors_before) return false;
  for (NodeId p : g.params)
    if (g[p].dtype != g[g.params[0]].dtype || !is_float(g[p].dtype))
      return bad("the optimizer needs all params to have one floating-point element type; '" + g[g.params[0]].name +
                 "' is " + std::string(dtype_name(g[g.params[0]].dtype)) + " and '" + g[p].name + "' is " +
                 std::string(dtype_name(g[p].dtype)));
  return true;
}

}  // namespace

PassResult add_optimizer(Graph& g, Diagnostics& d) {
  if (!g.train.present || !g.train.minimize || !g.updates.empty()) return PassResult::success(false);
  if (g.params.empty()) {  // (the check no-trainable says so first, unless it is turned off)
    auto& e = d.error("train", g.train.loc, "nothing to train: the model has no param for the optimizer to update");
    e.notes.push_back({"declare the weights that should learn with 'param' (a 'const' is never updated)", {}});
    return PassResult::failure();
  }
  if (!check_config(g, d)) return PassResult::failure();
  const OptimizerSpec& o = g.train.optimizer;
  // 1. The gradient of every param.
  std::map<NodeId, NodeId> grad_of;
  for (auto [p, gr] : g.grads) grad_of[p] = gr;
  for (NodeId p : g.params) {
    auto it = grad_of.find(p);
    if (it == grad_of.end() || g[it->second].type() != g[p].type()) {
      d.error("internal", o.loc, "optimizer: no gradient of the type of param '" + g[p].name + "'");
      return PassResult::failure();
    }
  }
  Builder b{g, g[g.params[0]].dtype, o.loc};
  // 2. The step counter and the learning rate.
  std::string step_name = "step";
  for (const Node& n : g.nodes)
    if (n.name == step_name && op_row(n.op).cls == OpClass::leaf) step_name = "optimizer.step";
  NodeId step = b.state(step_name, {});
  NodeId lr = build_learning_rate(g, o, g.train.schedule, step, b.t);
  // (handed back: the runtime's lr is this value, kLearningRateMetric)
  g.train.metrics.emplace_back(kLearningRateMetric, lr);
  // 3. Global-norm clipping (torch.nn.utils.clip_grad_norm_).
  NodeId clip = -1;
  if (g.train.clip_norm) {
    NodeId sum_sq = -1;
    for (NodeId p : g.params) {
      NodeId s = b.mk(Op::sum, {b.square(grad_of[p])});
      sum_sq = sum_sq < 0 ? s : b.add(sum_sq, s);
    }
    NodeId total = b.sqrt(sum_sq);
    NodeId denom = b.add(total, b.lit(1e-6));
    NodeId coef = b.div(b.lit(*g.train.clip_norm), denom);
    clip = b.mk(Op::minimum, {coef, b.lit(1.0)});
  }
  // 4. Per param.
  std::vector<Update> updates;
  for (NodeId p : g.params) {
    const std::string name = g[p].name;  // a copy: building nodes below may reallocate g.nodes
    const Shape shape = g[p].shape;
    NodeId gr = grad_of[p];
    if (clip >= 0) gr = b.mul(gr, clip);
    if (o.kind != OptimizerKind::adamw && o.weight_decay != 0) gr = b.add(gr, b.mul(b.lit(o.weight_decay), p));
    NodeId new_p = -1;
    if (o.kind == OptimizerKind::sgd) {
      if (o.momentum == 0) {
        new_p = b.sub(p, b.mul(lr, gr));
      } else {
        NodeId buf = b.state(name + ".momentum", shape);
        NodeId first = b.mk(Op::eq, {step, b.lit(0.0)});
        NodeId new_buf = b.mk(Op::where, {first, gr, b.add(b.mul(b.lit(o.momentum), buf), gr)});
        NodeId dir = o.nesterov ? b.add(gr, b.mul(b.lit(o.momentum), new_buf)) : new_buf;
        new_p = b.sub(p, b.mul(lr, dir));
        updates.push_back({buf, new_buf});
      }
    } else if (o.kind == OptimizerKind::adam || o.kind == OptimizerKind::adamw) {
      NodeId m = b.state(name + ".m", shape), v = b.state(name + ".v", shape);
      NodeId new_m = b.blend(o.beta1, m, gr);
      NodeId new_v = b.blend(o.beta2, v, b.square(gr));
      NodeId t = b.add(step, b.lit(1.0));
      NodeId bc1 = b.bias_correction(o.beta1, t);
      NodeId bc2 = b.bias_correction(o.beta2, t);
      NodeId mhat = bc1 < 0 ? new_m : b.div(new_m, bc1);
      NodeId vhat = bc2 < 0 ? new_v : b.div(new_v, bc2);
      NodeId dir = b.scaled_step(lr, mhat, vhat, o.eps);
      // adamw's decoupled decay p * (1 - lr * wd) as p - lr * wd * p: 1 - lr * wd rounded
      // to f32 would lose the digits of a small lr * wd (at lr * wd = 1e-5, up to 0.3% of the decay).
      if (o.kind == OptimizerKind::adamw && o.weight_decay != 0) {
        NodeId decay = b.mul(b.mul(lr, b.lit(o.weight_decay)), p);
        dir = b.add(decay, dir);
      }
      new_p = b.sub(p, dir);
      updates.push_back({m, new_m});
      updates.push_back({v, new_v});
    } else if (o.kind == OptimizerKind::rmsprop) {
      NodeId v = b.state(name + ".v", shape);
      NodeId new_v = b.blend(o.rho, v, b.square(gr));
      new_p = b.sub(p, b.scaled_step(lr, gr, new_v, o.eps));
      updates.push_back({v, new_v});
    } else {  // adagrad
      NodeId s = b.state(name + ".sum_sq", shape);
      NodeId new_s = b.add(s, b.square(gr));
      new_p = b.sub(p, b.scaled_step(lr, gr, new_s, o.eps));
      updates.push_back({s, new_s});
    }
    updates.push_back({p, new_p});
  }
  // 5. The counter.
  updates.push_back({step, b.add(step, b.lit(1.0))});
  g.updates.insert(g.updates.end(), updates.begin(), updates.end());
  return PassResult::success(true);
}

namespace {
class OptimizerPass final : public Pass {
 public:
  std::string_view name() const override { return "optimizer"; }
  PassResult run(Graph& g, Diagnostics& d) override { return add_optimizer(g, d); }
};
}  // namespace

std::unique_ptr<Pass> make_optimizer_pass() { return std::make_unique<OptimizerPass>(); }

}  // namespace kiln
