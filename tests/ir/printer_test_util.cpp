// Graph builders and the exact comparison used by the printer tests.
#include "printer_test_util.hpp"
#include <cmath>
#include <fmt/format.h>
#include <limits>

namespace kiln::test {

Graph tiny_graph() {
  Graph g;
  g.model_name = "tiny";
  g.file = "models/tiny.model";
  g.batch = 4;
  auto leaf = [&](Op op, DType t, Shape s, std::string name, Attrs a, SourceRange loc) {
    return g.append(Node{op, t, std::move(s), {}, std::move(a), loc, std::move(name)});
  };
  Attrs norm;
  norm.normalize = true;
  Attrs he;
  he.init.kind = InitKind::he_normal;
  Attrs half;
  half.init = {InitKind::constant, 0.5, 0, {}};
  NodeId x = leaf(Op::input, DType::f32, {4, 3}, "x", norm, {3, 1, 3, 20});
  NodeId y = leaf(Op::input, DType::i32, {4}, "y", {}, {4, 1, 4, 16});
  NodeId w = leaf(Op::param, DType::f32, {3, 2}, "w", he, {6, 1, 6, 32});
  NodeId b = leaf(Op::param, DType::f32, {2}, "b", half, {7, 1, 7, 30});
  NodeId h = g.make(Op::matmul, {x, w}, {}, {10, 9, 10, 14});
  g[h].name = "h";
  NodeId z = g.make(Op::add, {h, b}, {}, {10, 9, 10, 18});
  NodeId r = g.make(Op::relu, {z}, {}, {11, 5, 11, 12});
  NodeId two = g.scalar(2, DType::f32);
  NodeId s = g.make(Op::mul, {r, two}, {}, {11, 5, 11, 16});
  g[s].name = "logits";
  NodeId ce = g.make(Op::softmax_cross_entropy, {s, y}, {}, {14, 8, 14, 40});
  NodeId loss = g.make(Op::mean, {ce}, {}, {14, 3, 14, 41});
  Attrs ax1;
  ax1.axes = {1};
  NodeId p = g.make(Op::softmax, {s}, ax1, {15, 10, 15, 20});
  NodeId am = g.make(Op::argmax, {s}, ax1);
  Attrs keep;
  keep.axes = {1};
  keep.keepdims = true;
  g.make(Op::sum, {s}, keep);
  g.inputs = {x, y};
  g.params = {w, b};
  g.outputs = {{"prob", p}};
  g.train.present = true;
  g.train.loc = {13, 1, 18, 2};
  g.train.minimize = loss;
  g.train.minimize_loc = {14, 3, 14, 41};
  g.train.optimizer.kind = kiln::OptimizerKind::adam;
  g.train.optimizer.lr = 0.001;
  g.train.optimizer.loc = {16, 3, 16, 30};
  g.train.epochs = 5;
  g.train.seed = 7;
  g.train.clip_norm = 1.5;
  g.train.metrics = {{"accuracy", am}};
  g.grads = {{w, h}};
  return g;
}

Graph all_ops_graph() {
  Graph g;
  g.model_name = "all ops";
  g.file = "/tmp/some dir/all.model";
  g.batch = 4;
  uint32_t line = 1;
  auto loc = [&] {
    ++line;
    return SourceRange{line, 3, line + 1, 17};
  };
  auto leaf = [&](Op op, DType t, Shape s, std::string name, Init init = {}) {
    Attrs a;
    a.init = std::move(init);
    return g.append(Node{op, t, std::move(s), {}, std::move(a), loc(), std::move(name)});
  };
  NodeId x = leaf(Op::input, DType::f32, {4, 3}, "x");
  g[x].attrs.normalize = true;
  NodeId lab = leaf(Op::input, DType::i32, {4}, "labels");
  NodeId v = leaf(Op::param, DType::f32, {3}, "v", {InitKind::normal, 0, 0.1, {}});
  NodeId w = leaf(Op::param, DType::f32, {3, 2}, "w \"quoted\" \\ and\nnewline", {InitKind::uniform, -1, 1, {}});
  NodeId c = leaf(Op::const_, DType::f32, {3}, "c#not a comment", {InitKind::literal, 0, 0, {1.5, -2, 1e-300}});
  NodeId st = leaf(Op::state, DType::f32, {3, 2}, "m_w", {InitKind::zeros, 0, 0, {}});
  NodeId d = leaf(Op::param, DType::f64, {2}, "", {InitKind::constant, 0.1, 0, {}});
  leaf(Op::const_, DType::f64, {2, 2}, "k", {InitKind::glorot_uniform, 0, 0, {}});
  for (InitKind k : {InitKind::ones, InitKind::glorot_normal, InitKind::he_normal, InitKind::he_uniform,
                     InitKind::lecun_normal, InitKind::none})
    leaf(Op::param, DType::f32, {2}, fmt::format("p_{}", init_name(k)), {k, 0, 0, {}});
  NodeId lit = g.scalar(0.1, DType::f32, loc());
  NodeId ilit = g.scalar(3, DType::i32);
  double inf = std::numeric_limits<double>::infinity();
  NodeId vlit = g.append(Node{Op::literal, DType::f32, {3}, {}, {}, {}, "three"});
  g[vlit].attrs.init = {InitKind::literal, 0, 0, {inf, -inf, std::nan("")}};
  g.append(Node{Op::literal, DType::f64, {1}, {}, {}, loc(), {}});
  g.nodes.back().attrs.init = {InitKind::literal, 0, 0, {-0.0}};

  int named = 0;
  auto mk = [&](Op op, std::vector<NodeId> in, Attrs a = {}) {
    NodeId id = g.make(op, std::move(in), std::move(a), ++named % 3 ? loc() : SourceRange{});
    if (named % 4 == 0) g[id].name = named % 8 ? fmt::format("t{}", named) : "na\xc3\xafve name";
    return id;
  };
  Attrs alpha;
  alpha.alpha = 0.2;
  NodeId soft = -1, pred = -1, sq = -1;
  for (int i = 0; i < kNumOps; ++i) {
    Op op = static_cast<Op>(i);
    const OpRow& row = op_row(op);
    Attrs a;
    switch (row.cls) {
      case OpClass::leaf: break;
      case OpClass::unary:
        if (row.attrs & kAlpha) a.alpha = op == Op::elu ? 1.0 : 0.01;
        mk(op, {x}, a);
        if (op == Op::stop_gradient) mk(op, {lab});
        if (op == Op::square) sq = mk(op, {d});
        break;
      case OpClass::binary:
        mk(op, {x, v});
        if (row.infer == op_row(Op::lt).infer) mk(op, {lab, ilit});
        break;
      case OpClass::ternary:
        if (op == Op::where) mk(op, {mk(Op::gt, {x, v}), x, lit});
        else mk(op, {x, lit, v});
        break;
      case OpClass::matmul: mk(op, {x, w}); mk(op, {v, w}); break;
      case OpClass::reduce:
        a.axes = {op == Op::argmax ? 1 : -1};
        if (op == Op::argmax) { pred = mk(op, {x}, a); break; }
        a.keepdims = op == Op::mean || op == Op::max;
        mk(op, {x}, a);
        mk(op, {x});
        break;
      case OpClass::shape:
        switch (op) {
          case Op::reshape: a.shape = {2, 6}; mk(op, {x}, a); a.shape = {}; mk(op, {lit}, a); break;
          case Op::concat: a.axes = {0}; mk(op, {x, x, x}, a); a.axes = {-1}; mk(op, {v}, a); break;
          case Op::one_hot: a.n = 3; mk(op, {lab}, a); break;
          case Op::broadcast_to: a.shape = {4, 3}; mk(op, {v}, a); break;
          case Op::sum_to: a.shape = {1, 3}; mk(op, {x}, a); break;
          case Op::slice: a.axes = {1}; a.n = 1; a.shape = {4, 2}; mk(op, {x}, a); break;
          default: mk(op, {x}); break;
        }
        break;
      case OpClass::nn: a.axes = {-1}; soft = mk(op, {x}, a); break;
      case OpClass::loss:
        if (op == Op::softmax_cross_entropy) { mk(op, {x, lab}); mk(op, {x, soft}); break; }
        if (row.attrs & kAlpha) a.alpha = 1.0;
        mk(op, {x, v}, a);
        break;
    }
  }
  NodeId loss = mk(Op::mean, {mk(Op::softmax_cross_entropy, {x, lab})});
  NodeId gv = mk(Op::sum, {x}, [] { Attrs a; a.axes = {0}; return a; }());
  NodeId gw = mk(Op::mul, {st, lit});

  for (NodeId i = 0; i < static_cast<NodeId>(g.size()); ++i) {
    Op op = g[i].op;
    if (op == Op::input) g.inputs.push_back(i);
    if (op == Op::param) g.params.push_back(i);
    if (op == Op::const_) g.consts.push_back(i);
    if (op == Op::state) g.states.push_back(i);
  }
  std::swap(g.params[0], g.params[1]);  // not in node order: printed as an explicit list
  g.outputs = {{"prob", soft}, {"weird \"out\"", x}, {"sq", sq}};
  TrainConfig& t = g.train;
  t.present = true;
  t.loc = loc();
  t.minimize = loss;
  t.minimize_loc = loc();
  t.optimizer = {kiln::OptimizerKind::adamw, 3e-4, 0, 0.85, 0.995, 1e-7, 0.01, 0.9, false, loc()};
  t.schedule = {kiln::ScheduleKind::exponential_decay, 0.96, 100, 0, loc()};
  t.clip_norm = 5;
  t.epochs = 30;
  t.seed = 18446744073709551615ull;
  t.metrics = {{"accuracy", pred}, {"loss", loss}};
  g.grads = {{v, gv}, {w, gw}};
  g.updates = {{v, gv}, {st, gw}};
  return g;
}

namespace {
bool same_num(double a, double b) {
  return (std::isnan(a) && std::isnan(b)) || (a == b && std::signbit(a) == std::signbit(b));
}
bool same_init(const Init& a, const Init& b) {
  if (a.kind != b.kind || !same_num(a.a, b.a) || !same_num(a.b, b.b) || a.data.size() != b.data.size()) return false;
  for (size_t i = 0; i < a.data.size(); ++i)
    if (!same_num(a.data[i], b.data[i])) return false;
  return true;
}
}  // namespace

std::string graph_difference(const Graph& a, const Graph& b) {
  if (a.model_name != b.model_name) return "model_name";
  if (a.file != b.file) return "file";
  if (a.batch != b.batch) return "batch";
  if (a.nodes.size() != b.nodes.size()) return fmt::format("{} vs {} nodes", a.nodes.size(), b.nodes.size());
  for (size_t i = 0; i < a.nodes.size(); ++i) {
    const Node &x = a.nodes[i], &y = b.nodes[i];
    Attrs ax = x.attrs, ay = y.attrs;
    ax.init = ay.init = {};
    if (x.op != y.op || x.dtype != y.dtype || x.shape != y.shape || x.in != y.in || !(ax == ay) ||
        !same_init(x.attrs.init, y.attrs.init) || x.loc != y.loc || x.name != y.name)
      return fmt::format("node %{}", i);
  }
  if (a.inputs != b.inputs || a.params != b.params || a.consts != b.consts || a.states != b.states) return "leaf lists";
  if (a.outputs != b.outputs) return "outputs";
  const TrainConfig &s = a.train, &t = b.train;
  if (s.present != t.present || s.minimize != t.minimize || s.minimize_loc != t.minimize_loc || s.loc != t.loc ||
      s.epochs != t.epochs || s.seed != t.seed || s.clip_norm != t.clip_norm || s.metrics != t.metrics)
    return "train";
  const OptimizerSpec &o = s.optimizer, &p = t.optimizer;
  if (o.kind != p.kind || o.lr != p.lr || o.momentum != p.momentum || o.beta1 != p.beta1 || o.beta2 != p.beta2 ||
      o.eps != p.eps || o.weight_decay != p.weight_decay || o.rho != p.rho || o.nesterov != p.nesterov || o.loc != p.loc)
    return "optimizer";
  const ScheduleSpec &c = s.schedule, &e = t.schedule;
  if (c.kind != e.kind || c.rate != e.rate || c.every != e.every || c.total != e.total || c.loc != e.loc)
    return "schedule";
  if (a.grads != b.grads) return "grads";
  if (a.updates.size() != b.updates.size()) return "updates";
  for (size_t i = 0; i < a.updates.size(); ++i)
    if (a.updates[i].target != b.updates[i].target || a.updates[i].value != b.updates[i].value) return "updates";
  return {};
}

}  // namespace kiln::test
