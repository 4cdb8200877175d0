// Graph construction helpers: typed node creation through the op table, roots, remapping.
#include "ir/graph.hpp"
#include <cassert>
#include <cstdio>
#include <cstdlib>

namespace kiln {

NodeId Graph::append(Node n) {
  nodes.push_back(std::move(n));
  return static_cast<NodeId>(nodes.size() - 1);
}

std::optional<NodeId> Graph::add(Op op, std::vector<NodeId> in, Attrs attrs, SourceRange loc, std::string& err) {
  const OpRow& row = op_row(op);
  std::vector<ValueType> types;
  types.reserve(in.size());
  for (NodeId i : in) types.push_back(nodes[i].type());
  ValueType out;
  if (!row.infer(types, attrs, out, err)) return std::nullopt;
  Node n{op, out.dtype, std::move(out.shape), std::move(in), std::move(attrs), loc, {}};
  return append(std::move(n));
}

NodeId Graph::make(Op op, std::vector<NodeId> in, Attrs attrs, SourceRange loc) {
  std::string err;
  auto id = add(op, std::move(in), std::move(attrs), loc, err);
  if (!id) {
    std::fprintf(stderr, "kiln: internal error: building %s: %s\n", std::string(op_name(op)).c_str(), err.c_str());
    std::abort();
  }
  return *id;
}

NodeId Graph::scalar(double v, DType t, SourceRange loc) {
  Node n{Op::literal, t, {}, {}, {}, loc, {}};
  n.attrs.init.kind = InitKind::literal;
  n.attrs.init.data = {v};
  return append(std::move(n));
}

std::vector<NodeId> Graph::roots() const {
  std::vector<NodeId> r;
  if (train.minimize) r.push_back(*train.minimize);
  for (auto& [name, id] : outputs) r.push_back(id);
  for (auto& [name, id] : train.metrics) r.push_back(id);
  for (auto& [p, g] : grads) r.push_back(g);
  for (auto& u : updates) r.push_back(u.value);
  return r;
}

void Graph::remap_roots(const std::vector<NodeId>& map) {
  auto m = [&](NodeId& id) { id = map[id]; };
  for (auto& n : nodes)
    for (auto& i : n.in) m(i);
  if (train.minimize) m(*train.minimize);
  for (auto& [name, id] : outputs) m(id);
  for (auto& [name, id] : train.metrics) m(id);
  for (auto& [p, g] : grads) { m(p); m(g); }
  for (auto& u : updates) { m(u.target); m(u.value); }
  for (auto* v : {&inputs, &params, &consts, &states})
    for (auto& id : *v) m(id);
}

}  // namespace kiln
