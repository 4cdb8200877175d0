// The canonical IR text form (see docs/ir.md): a header, one node a line, then the
// leaf lists (when not derivable), outputs, training configuration, grads and updates.
#include "ir/printer.hpp"
#include "ir/text_format.hpp"
#include <fmt/format.h>
#include <fmt/ranges.h>

namespace kiln {

namespace {

bool is_named_leaf(Op op) { return op == Op::input || op == Op::param || op == Op::const_ || op == Op::state; }

std::string int_list(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s + "]";
}

// The attributes in the op's mask: required ones always, optional ones when not default.
std::string attr_text(const Node& n) {
  const OpRow& row = op_row(n.op);
  std::vector<std::string> parts;
  bool axes_required = n.op == Op::softmax || n.op == Op::log_softmax || n.op == Op::argmax || n.op == Op::concat;
  if ((row.attrs & kAxes) && (axes_required || !n.attrs.axes.empty())) parts.push_back("axes=" + int_list(n.attrs.axes));
  if ((row.attrs & kKeepdims) && n.attrs.keepdims) parts.push_back("keepdims");
  if (row.attrs & kShape) parts.push_back("shape=" + int_list(n.attrs.shape));
  if (row.attrs & kAlpha) parts.push_back("alpha=" + text::number(n.attrs.alpha));
  if (row.attrs & kN) parts.push_back("n=" + std::to_string(n.attrs.n));
  if ((row.attrs & kNormalize) && n.attrs.normalize) parts.push_back("normalize");
  bool literal_value = n.op == Op::literal && n.attrs.init.kind == InitKind::literal;
  if ((row.attrs & kInit) && !literal_value && n.attrs.init.kind != InitKind::none)
    parts.push_back("init=" + text::init(n.attrs.init));
  if (parts.empty()) return {};
  std::string s = " {";
  for (size_t i = 0; i < parts.size(); ++i) s += (i ? ", " : "") + parts[i];
  return s + "}";
}

std::string id_list(const std::vector<NodeId>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += fmt::format("{}%{}", i ? ", " : " ", v[i]);
  return s;
}

void line_with_loc(std::string& out, const std::string& body, const Graph& g, const SourceRange& loc) {
  out += body;
  std::string c = text::loc_comment(g.file, loc);
  if (!c.empty()) out += "    " + c;
  out += '\n';
}

bool same_optimizer(const OptimizerSpec& a, const OptimizerSpec& b) {
  return a.kind == b.kind && a.lr == b.lr && a.momentum == b.momentum && a.beta1 == b.beta1 && a.beta2 == b.beta2 &&
         a.eps == b.eps && a.weight_decay == b.weight_decay && a.rho == b.rho && a.nesterov == b.nesterov &&
         a.loc == b.loc;
}

bool same_schedule(const ScheduleSpec& a, const ScheduleSpec& b) {
  return a.kind == b.kind && a.rate == b.rate && a.every == b.every && a.total == b.total && a.loc == b.loc;
}

// The optimizer's hyper-parameters: those its kind uses, and any other that is not default.
std::string optimizer_text(const OptimizerSpec& o) {
  const OptimizerSpec d;
  using K = OptimizerKind;
  const K k = o.kind;
  std::vector<std::string> parts;
  auto num = [&](const char* key, double v, double def, bool used) {
    if (used || v != def) parts.push_back(fmt::format("{}={}", key, text::number(v)));
  };
  bool adam = k == K::adam || k == K::adamw;
  num("lr", o.lr, d.lr, true);
  num("momentum", o.momentum, d.momentum, k == K::sgd || k == K::rmsprop);
  if (k == K::sgd || o.nesterov) parts.push_back(fmt::format("nesterov={}", o.nesterov));
  num("beta1", o.beta1, d.beta1, adam);
  num("beta2", o.beta2, d.beta2, adam);
  num("eps", o.eps, d.eps, adam || k == K::rmsprop || k == K::adagrad);
  num("weight_decay", o.weight_decay, d.weight_decay, k == K::adamw);
  num("rho", o.rho, d.rho, k == K::rmsprop);
  return fmt::format("optimizer {}({})", text::name(std::string(name_of(k))), fmt::join(parts, ", "));
}

std::string schedule_text(const ScheduleSpec& s) {
  const ScheduleSpec d;
  using K = ScheduleKind;
  const K k = s.kind;
  std::vector<std::string> parts;
  bool decay = k == K::exponential_decay || k == K::step_decay;
  if (decay || s.rate != d.rate) parts.push_back("rate=" + text::number(s.rate));
  if (decay || s.every != d.every) parts.push_back(fmt::format("every={}", s.every));
  if (k == K::cosine || s.total != d.total) parts.push_back(fmt::format("total={}", s.total));
  std::string out = "schedule " + text::name(std::string(name_of(k)));
  if (!parts.empty()) out += fmt::format("({})", fmt::join(parts, ", "));
  return out;
}

}  // namespace

std::string print_ir_text(const Graph& g) {
  std::string out = "model " + (g.model_name.empty() ? text::quote("") : text::name(g.model_name));
  if (!g.file.empty()) out += " file=" + text::quote(g.file);
  out += fmt::format(" batch={}\n", g.batch);

  std::vector<NodeId> derived[4];  // inputs, params, consts, states in node order
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (static_cast<int>(n.op) >= kNumOps) {  // not readable back; verify_graph reports it
      out += fmt::format("%{}:{} = <op {}>\n", i, type_str(n.dtype, n.shape), static_cast<int>(n.op));
      continue;
    }
    const OpRow& row = op_row(n.op);
    std::string s = fmt::format("%{}:{} = {}", i, type_str(n.dtype, n.shape), row.name);
    if (is_named_leaf(n.op)) s += " " + text::quote(n.name);
    if (n.op == Op::literal && n.attrs.init.kind == InitKind::literal) {
      const auto& d = n.attrs.init.data;
      s += " " + (n.shape.empty() && d.size() == 1 ? text::number(d[0]) : text::init(n.attrs.init));
    }
    for (size_t j = 0; j < n.in.size(); ++j) s += fmt::format("{}%{}", j ? ", " : " ", n.in[j]);
    s += attr_text(n);
    if (!is_named_leaf(n.op) && !n.name.empty()) s += " ; " + text::name(n.name);
    line_with_loc(out, s, g, n.loc);
    int k = n.op == Op::input ? 0 : n.op == Op::param ? 1 : n.op == Op::const_ ? 2 : n.op == Op::state ? 3 : -1;
    if (k >= 0) derived[k].push_back(static_cast<NodeId>(i));
  }

  const std::vector<NodeId>* lists[4] = {&g.inputs, &g.params, &g.consts, &g.states};
  const char* list_names[4] = {"inputs", "params", "consts", "states"};
  for (int k = 0; k < 4; ++k)
    if (*lists[k] != derived[k]) out += fmt::format("{}{}\n", list_names[k], id_list(*lists[k]));

  for (auto& [name, id] : g.outputs) out += fmt::format("output {} = %{}\n", text::name(name), id);

  const TrainConfig& t = g.train;
  if (t.present) {
    std::string s = fmt::format("train epochs={} seed={}", t.epochs, t.seed);
    if (t.clip_norm) s += " clip_norm=" + text::number(*t.clip_norm);
    line_with_loc(out, s, g, t.loc);
  }
  if (t.minimize) line_with_loc(out, fmt::format("minimize %{}", *t.minimize), g, t.minimize_loc);
  if (t.present || !same_optimizer(t.optimizer, OptimizerSpec{}))
    line_with_loc(out, optimizer_text(t.optimizer), g, t.optimizer.loc);
  if (t.present || !same_schedule(t.schedule, ScheduleSpec{}))
    line_with_loc(out, schedule_text(t.schedule), g, t.schedule.loc);
  for (auto& [name, id] : t.metrics) out += fmt::format("metric {} = %{}\n", text::name(name), id);

  for (auto& [p, gr] : g.grads) out += fmt::format("grad %{} = %{}\n", p, gr);
  for (auto& u : g.updates) out += fmt::format("update %{} = %{}\n", u.target, u.value);
  return out;
}

}  // namespace kiln
