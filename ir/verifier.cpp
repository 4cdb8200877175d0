// The IR verifier: structural checks the pass Pipeline runs after every pass, in every build.
// Each message starts with the node it is about ("%7: ...") or the root list it checks.
#include "ir/printer.hpp"
#include <fmt/format.h>
#include <set>

namespace kiln {

namespace {

// Attributes set on a node (not default) that its op does not use.
void check_unused_attrs(const Node& n, NodeId i, std::vector<std::string>& out) {
  const OpRow& row = op_row(n.op);
  const Attrs d;
  const std::pair<uint32_t, bool> used[] = {
      {kAxes, n.attrs.axes != d.axes},     {kKeepdims, n.attrs.keepdims != d.keepdims},
      {kShape, n.attrs.shape != d.shape},  {kAlpha, n.attrs.alpha != d.alpha},
      {kN, n.attrs.n != d.n},              {kNormalize, n.attrs.normalize != d.normalize},
      {kInit, !(n.attrs.init == d.init)}};
  const char* names[] = {"axes", "keepdims", "shape", "alpha", "n", "normalize", "init"};
  for (size_t k = 0; k < std::size(used); ++k)
    if (used[k].second && !(row.attrs & used[k].first))
      out.push_back(fmt::format("%{}: {} has attribute '{}' but does not use it", i, row.name, names[k]));
}

}  // namespace

std::vector<std::string> verify_graph(const Graph& g) {
  std::vector<std::string> out;
  const auto size = static_cast<NodeId>(g.nodes.size());
  auto in_range = [&](NodeId id) { return id >= 0 && id < size; };

  for (NodeId i = 0; i < size; ++i) {
    const Node& n = g.nodes[i];
    if (static_cast<int>(n.op) >= kNumOps) {
      out.push_back(fmt::format("%{}: op number {} is not in the op table", i, static_cast<int>(n.op)));
      continue;
    }
    const OpRow& row = op_row(n.op);
    bool operands_ok = true;
    for (NodeId x : n.in) {
      if (!in_range(x)) {
        out.push_back(fmt::format("%{}: operand %{} is out of range (the graph has {} nodes)", i, x, size));
        operands_ok = false;
      } else if (x >= i) {
        out.push_back(fmt::format("%{}: operand %{} is not defined before its use", i, x));
        operands_ok = false;
      }
    }
    check_unused_attrs(n, i, out);
    if (row.cls == OpClass::leaf) {
      if (!n.in.empty()) out.push_back(fmt::format("%{}: leaf {} has {} operands", i, row.name, n.in.size()));
      const Init& in = n.attrs.init;
      if (in.kind == InitKind::literal && static_cast<int64_t>(in.data.size()) != num_elements(n.shape))
        out.push_back(fmt::format("%{}: {} has {} values but its type {} holds {}", i, row.name, in.data.size(),
                                  type_str(n.dtype, n.shape), num_elements(n.shape)));
      continue;
    }
    size_t k = n.in.size();
    if (row.arity >= 0 ? k != static_cast<size_t>(row.arity) : k == 0) {
      out.push_back(fmt::format("%{}: {} takes {} operands, has {}", i, row.name,
                                row.arity >= 0 ? std::to_string(row.arity) : "one or more", k));
      continue;
    }
    if (!operands_ok) continue;
    std::vector<ValueType> types;
    for (NodeId x : n.in) types.push_back(g.nodes[x].type());
    ValueType t;
    std::string err;
    if (!row.infer(types, n.attrs, t, err))
      out.push_back(fmt::format("%{}: {}: {}", i, row.name, err));
    else if (t != n.type())
      out.push_back(fmt::format("%{}: has type {} but {} gives {}", i, type_str(n.dtype, n.shape), row.name,
                                type_str(t.dtype, t.shape)));
  }

  auto root = [&](const char* what, NodeId id) {
    if (!in_range(id)) out.push_back(fmt::format("{}: %{} is out of range", what, id));
  };
  if (g.train.minimize) root("minimize", *g.train.minimize);
  for (auto& [name, id] : g.outputs) root("output", id);
  for (auto& [name, id] : g.train.metrics) root("metric", id);
  for (auto& [p, gr] : g.grads) {
    if (!in_range(p) || g.nodes[p].op != Op::param) out.push_back(fmt::format("grad: %{} is not a param", p));
    root("grad", gr);
  }
  for (auto& u : g.updates) {
    if (!in_range(u.target) || (g.nodes[u.target].op != Op::param && g.nodes[u.target].op != Op::state))
      out.push_back(fmt::format("update: %{} is not a param or state", u.target));
    root("update", u.value);
  }

  const std::pair<const char*, const std::vector<NodeId>*> lists[] = {
      {"inputs", &g.inputs}, {"params", &g.params}, {"consts", &g.consts}, {"states", &g.states}};
  const Op ops[] = {Op::input, Op::param, Op::const_, Op::state};
  for (size_t k = 0; k < 4; ++k) {
    std::set<NodeId> seen;
    for (NodeId id : *lists[k].second) {
      if (!in_range(id) || g.nodes[id].op != ops[k])
        out.push_back(fmt::format("{}: %{} is not a {} leaf", lists[k].first, id, op_name(ops[k])));
      else if (!seen.insert(id).second)
        out.push_back(fmt::format("{}: %{} is listed twice", lists[k].first, id));
    }
    for (NodeId i = 0; i < size; ++i)
      if (g.nodes[i].op == ops[k] && !seen.count(i))
        out.push_back(fmt::format("{}: %{} is missing from the list", lists[k].first, i));
  }
  return out;
}

}  // namespace kiln
