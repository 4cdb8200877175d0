// A small helper for tests that build IR graphs by hand: leaves, literals and ops.
#pragma once
#include "ir/graph.hpp"
#include <string>
#include <vector>

namespace kiln::testing {

struct Builder {
  Graph g;
  NodeId leaf(Op op, std::string name, Shape s, DType t = DType::f64, Init init = {}) {
    Node n{op, t, std::move(s), {}, {}, {}, std::move(name)};
    n.attrs.init = std::move(init);
    NodeId id = g.append(std::move(n));
    if (op == Op::input) g.inputs.push_back(id);
    if (op == Op::param) g.params.push_back(id);
    if (op == Op::const_) g.consts.push_back(id);
    if (op == Op::state) g.states.push_back(id);
    return id;
  }
  NodeId input(std::string name, Shape s, DType t = DType::f64) { return leaf(Op::input, std::move(name), std::move(s), t); }
  NodeId param(std::string name, Shape s, DType t = DType::f64) { return leaf(Op::param, std::move(name), std::move(s), t); }
  NodeId lit(Shape s, std::vector<double> data, DType t = DType::f64) {
    Init in;
    in.kind = InitKind::literal;
    in.data = std::move(data);
    return leaf(Op::literal, "", std::move(s), t, std::move(in));
  }
  NodeId op(Op o, std::vector<NodeId> in, Attrs a = {}, SourceRange loc = {}) { return g.make(o, std::move(in), std::move(a), loc); }
  static Attrs axes(std::vector<int64_t> ax, bool keepdims = false) {
    Attrs a;
    a.axes = std::move(ax);
    a.keepdims = keepdims;
    return a;
  }
  static Attrs alpha(double v) {
    Attrs a;
    a.alpha = v;
    return a;
  }
};

}  // namespace kiln::testing
