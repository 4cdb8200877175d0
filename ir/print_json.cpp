// The IR as one JSON object for tools: header, nodes (op, type, operands, attributes,
// name, location), leaf lists, outputs, training configuration, grads and updates.
#include "ir/printer.hpp"
#include "ir/json_text.hpp"
#include <cmath>
#include <fmt/format.h>

namespace kiln {

namespace {


// Finite numbers as JSON numbers (shortest round-trip form); inf/nan as strings.
std::string jnum(double v) {
  if (std::isnan(v)) return "\"nan\"";
  if (std::isinf(v)) return v > 0 ? "\"inf\"" : "\"-inf\"";
  return fmt::format("{}", v);
}

template <class T>
std::string jints(const std::vector<T>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s + "]";
}

std::string jloc(const SourceRange& r) {
  return fmt::format("{{\"line\":{},\"col\":{},\"end_line\":{},\"end_col\":{}}}", r.line, r.col, r.end_line, r.end_col);
}

std::string jinit(const Init& in) {
  std::string s = fmt::format("{{\"kind\":{}", json_quote(init_name(in.kind)));
  if (in.kind == InitKind::constant || in.kind == InitKind::normal || in.kind == InitKind::uniform)
    s += fmt::format(",\"a\":{},\"b\":{}", jnum(in.a), jnum(in.b));
  if (in.kind == InitKind::literal) {
    s += ",\"data\":[";
    for (size_t i = 0; i < in.data.size(); ++i) s += (i ? "," : "") + jnum(in.data[i]);
    s += "]";
  }
  return s + "}";
}

// The attributes the op uses (all of them, defaults included).
std::string jattrs(const Node& n) {
  uint32_t m = op_row(n.op).attrs;
  std::vector<std::string> p;
  if (m & kAxes) p.push_back("\"axes\":" + jints(n.attrs.axes));
  if (m & kKeepdims) p.push_back(fmt::format("\"keepdims\":{}", n.attrs.keepdims));
  if (m & kShape) p.push_back("\"shape\":" + jints(n.attrs.shape));
  if (m & kAlpha) p.push_back("\"alpha\":" + jnum(n.attrs.alpha));
  if (m & kN) p.push_back(fmt::format("\"n\":{}", n.attrs.n));
  if (m & kNormalize) p.push_back(fmt::format("\"normalize\":{}", n.attrs.normalize));
  if (m & kInit) p.push_back("\"init\":" + jinit(n.attrs.init));
  std::string s = "{";
  for (size_t i = 0; i < p.size(); ++i) s += (i ? "," : "") + p[i];
  return s + "}";
}

std::string jnamed(const std::vector<std::pair<std::string, NodeId>>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i)
    s += fmt::format("{}{{\"name\":{},\"node\":{}}}", i ? "," : "", json_quote(v[i].first), v[i].second);
  return s + "]";
}

std::string jtrain(const TrainConfig& t) {
  const OptimizerSpec& o = t.optimizer;
  const ScheduleSpec& s = t.schedule;
  std::string out = fmt::format("{{\"present\":{},\"minimize\":{},\"minimize_loc\":{},", t.present,
                                t.minimize ? std::to_string(*t.minimize) : "null", jloc(t.minimize_loc));
  out += fmt::format(
      "\"optimizer\":{{\"kind\":{},\"lr\":{},\"momentum\":{},\"beta1\":{},\"beta2\":{},\"eps\":{},"
      "\"weight_decay\":{},\"rho\":{},\"nesterov\":{},\"loc\":{}}},",
      json_quote(name_of(o.kind)), jnum(o.lr), jnum(o.momentum), jnum(o.beta1), jnum(o.beta2), jnum(o.eps), jnum(o.weight_decay),
      jnum(o.rho), o.nesterov, jloc(o.loc));
  out += fmt::format("\"schedule\":{{\"kind\":{},\"rate\":{},\"every\":{},\"total\":{},\"loc\":{}}},", json_quote(name_of(s.kind)),
                     jnum(s.rate), s.every, s.total, jloc(s.loc));
  out += fmt::format("\"clip_norm\":{},\"epochs\":{},\"seed\":{},\"metrics\":{},\"loc\":{}}}",
                     t.clip_norm ? jnum(*t.clip_norm) : "null", t.epochs, t.seed, jnamed(t.metrics), jloc(t.loc));
  return out;
}

}  // namespace

std::string print_ir_json(const Graph& g) {
  std::string out = fmt::format("{{\n\"model\":{},\n\"file\":{},\n\"batch\":{},\n\"nodes\":[", json_quote(g.model_name),
                                json_quote(g.file), g.batch);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    bool known = static_cast<int>(n.op) < kNumOps;
    out += fmt::format("{}\n  {{\"id\":{},\"op\":{},\"dtype\":{},\"shape\":{},\"inputs\":{},\"attrs\":{},\"name\":{},"
                       "\"loc\":{}}}",
                       i ? "," : "", i, json_quote(known ? op_name(n.op) : "?"), json_quote(dtype_name(n.dtype)), jints(n.shape),
                       jints(n.in), known ? jattrs(n) : "{}", json_quote(n.name), jloc(n.loc));
  }
  out += "\n],\n";
  out += fmt::format("\"inputs\":{},\n\"params\":{},\n\"consts\":{},\n\"states\":{},\n", jints(g.inputs),
                     jints(g.params), jints(g.consts), jints(g.states));
  out += fmt::format("\"outputs\":{},\n\"train\":{},\n", jnamed(g.outputs), jtrain(g.train));
  std::string grads = "[", updates = "[";
  for (size_t i = 0; i < g.grads.size(); ++i)
    grads += fmt::format("{}{{\"param\":{},\"grad\":{}}}", i ? "," : "", g.grads[i].first, g.grads[i].second);
  for (size_t i = 0; i < g.updates.size(); ++i)
    updates += fmt::format("{}{{\"target\":{},\"value\":{}}}", i ? "," : "", g.updates[i].target, g.updates[i].value);
  out += fmt::format("\"grads\":{}],\n\"updates\":{}]\n}}\n", grads, updates);
  return out;
}

}  // namespace kiln
