// The analyses shared by the static checks (ranges, loss cone, gradient reach, users)
// and the helpers that turn nodes into the user's text.
#include "passes/diagnostics/check.hpp"
#include <fmt/format.h>

namespace kiln {

CheckContext::CheckContext(const Graph& g, Diagnostics& diags, const CheckOptions& opts)
    : g(g), diags(diags), opts(opts), loss(g.train.minimize) {
  RangeOptions ro = opts.ranges;
  ro.params_at_init = true;
  init_ranges = compute_ranges(g, ro);
  ro.params_at_init = false;
  ranges = compute_ranges(g, ro);
  size_t n = g.size();
  users.assign(n, {});
  for (size_t i = 0; i < n; ++i)
    for (NodeId a : g.nodes[i].in) users[a].push_back(NodeId(i));
  feeds_loss.assign(n, 0);
  grad_reaches.assign(n, 0);
  if (loss && *loss >= 0 && size_t(*loss) < n) {
    feeds_loss[*loss] = grad_reaches[*loss] = 1;
    for (size_t i = n; i-- > 0;) {
      const Node& nd = g.nodes[i];
      if (feeds_loss[i])
        for (NodeId a : nd.in) feeds_loss[a] = 1;
      if (grad_reaches[i] && !op_row(nd.op).zero_grad)
        for (size_t k = 0; k < nd.in.size(); ++k)
          if (!(nd.op == Op::where && k == 0)) grad_reaches[nd.in[k]] = 1;  // no gradient to where's condition
    }
  }
}

std::string init_text(const Init& in) {
  switch (in.kind) {
    case InitKind::normal: return fmt::format("normal({}, {})", in.a, in.b);
    case InitKind::uniform: return fmt::format("uniform({}, {})", in.a, in.b);
    case InitKind::constant: return fmt::format("constant({})", in.a);
    case InitKind::literal: return "a literal";
    default: return std::string(init_name(in.kind));
  }
}

std::string CheckContext::expr(NodeId id, int depth) const {
  const Node& n = g[id];
  if (n.op == Op::literal) {
    if (n.attrs.init.kind == InitKind::literal && n.attrs.init.data.size() == 1)
      return fmt::format("{}", n.attrs.init.data[0]);
    return "[...]";
  }
  if (op_row(n.op).cls == OpClass::leaf) return n.name;
  if (depth <= 0) return "...";
  auto arg = [&](NodeId a) {
    const Node& x = g[a];
    if (!x.name.empty()) return x.name;
    std::string s = expr(a, depth - 1);
    bool infix = x.op == Op::add || x.op == Op::sub || x.op == Op::mul || x.op == Op::div || x.op == Op::matmul ||
                 x.op == Op::pow;
    return infix && s != "..." ? "(" + s + ")" : s;
  };
  const char* infix = nullptr;
  switch (n.op) {
    case Op::add: infix = " + "; break;
    case Op::sub: infix = " - "; break;
    case Op::mul: infix = " * "; break;
    case Op::div: infix = " / "; break;
    case Op::matmul: infix = " @ "; break;
    case Op::pow: infix = " ^ "; break;
    default: break;
  }
  if (infix && n.in.size() == 2) return arg(n.in[0]) + infix + arg(n.in[1]);
  if (n.op == Op::neg) return "-" + arg(n.in[0]);
  std::string s = std::string(op_name(n.op)) + "(";
  for (size_t i = 0; i < n.in.size(); ++i) s += (i ? ", " : "") + arg(n.in[i]);
  return s + ")";
}

std::string CheckContext::text(NodeId id, int depth) const {
  const Node& n = g[id];
  if (!n.name.empty()) return n.name;
  if (op_row(n.op).cls != OpClass::leaf && opts.source && n.loc.valid() && n.loc.line == n.loc.end_line &&
      n.loc.line <= opts.source->line_count()) {
    std::string_view line = opts.source->line_text(n.loc.line);
    if (n.loc.col >= 1 && n.loc.end_col > n.loc.col && n.loc.end_col - 1 <= line.size())
      return std::string(line.substr(n.loc.col - 1, n.loc.end_col - n.loc.col));
  }
  return expr(id, depth);
}

std::string CheckContext::describe(NodeId id) const {
  const Node& n = g[id];
  std::string call = op_row(n.op).cls == OpClass::leaf ? n.name : std::string(op_name(n.op)) + "(...)";
  if (!n.name.empty() && op_row(n.op).cls != OpClass::leaf) return n.name + " = " + call;
  return call;
}

std::optional<SourceRange> CheckContext::keyword_range(NodeId leaf, std::string_view keyword) const {
  const Node& n = g[leaf];
  if (!opts.source || !n.loc.valid() || n.loc.line > opts.source->line_count()) return std::nullopt;
  std::string_view line = opts.source->line_text(n.loc.line);
  if (n.loc.col == 0 || line.substr(n.loc.col - 1, keyword.size()) != keyword) return std::nullopt;
  return SourceRange{n.loc.line, n.loc.col, n.loc.line, uint32_t(n.loc.col + keyword.size())};
}

std::optional<SourceRange> CheckContext::init_text_range(NodeId leaf) const {
  const Node& n = g[leaf];
  if (!opts.source || !n.loc.valid() || n.loc.line != n.loc.end_line || n.loc.line > opts.source->line_count())
    return std::nullopt;
  std::string_view line = opts.source->line_text(n.loc.line);
  if (n.loc.col == 0 || n.loc.end_col - 1 > line.size()) return std::nullopt;
  std::string_view decl = line.substr(0, n.loc.end_col - 1);
  size_t eq = decl.find('=', n.loc.col - 1);
  if (eq == std::string_view::npos) return std::nullopt;
  size_t b = decl.find_first_not_of(" \t", eq + 1), e = decl.find_last_not_of(" \t");
  if (b == std::string_view::npos || e < b) return std::nullopt;
  return SourceRange{n.loc.line, uint32_t(b + 1), n.loc.line, uint32_t(e + 2)};
}

bool CheckContext::depends_on(NodeId id, Op op) const {
  std::vector<char> seen(g.size(), 0);
  std::vector<NodeId> stack{id};
  while (!stack.empty()) {
    NodeId x = stack.back();
    stack.pop_back();
    if (seen[x]) continue;
    seen[x] = 1;
    if (g[x].op == op) return true;
    for (NodeId a : g[x].in) stack.push_back(a);
  }
  return false;
}

NodeId CheckContext::through_shape(NodeId id) const {
  while (g[id].op == Op::reshape || g[id].op == Op::transpose || g[id].op == Op::broadcast_to) id = g[id].in[0];
  return id;
}

}  // namespace kiln
