// The reference interpreter: runs every node of a graph with the op table's reference
// kernels, in f64 or rounding each result to f32.
#include "ir/interpreter.hpp"
#include <fmt/format.h>

namespace kiln {

namespace {

void round_to(Tensor& t, Precision p) {
  if (p == Precision::f32 && t.dtype != DType::i32)
    for (double& v : t.data) v = double(float(v));
}

std::string_view leaf_kind(Op op) {
  switch (op) {
    case Op::input: return "input";
    case Op::param: return "param";
    case Op::const_: return "const";
    default: return "state";
  }
}

}  // namespace

std::optional<std::vector<Tensor>> evaluate(const Graph& g, const ValueMap& leaves, Precision p, std::string& err) {
  std::vector<Tensor> vals(g.size());
  std::vector<const Tensor*> args;
  for (NodeId id = 0; id < NodeId(g.size()); ++id) {
    const Node& n = g[id];
    Tensor& out = vals[id];
    const OpRow& row = op_row(n.op);
    if (n.op == Op::literal) {
      out = Tensor(n.dtype, n.shape);
      const auto& d = n.attrs.init.data;
      if (d.size() == 1) std::fill(out.data.begin(), out.data.end(), d[0]);  // a splat
      else if (d.size() == out.size()) out.data = d;
      else {
        err = fmt::format("literal {} has {} values for {} elements", id, d.size(), out.size());
        return std::nullopt;
      }
    } else if (row.cls == OpClass::leaf) {
      auto it = leaves.find(n.name);
      if (it == leaves.end()) {
        err = fmt::format("missing value for {} '{}'", leaf_kind(n.op), n.name);
        return std::nullopt;
      }
      if (it->second.shape != n.shape || it->second.data.size() != size_t(num_elements(n.shape))) {
        err = fmt::format("{} '{}' expects {}, got {}", leaf_kind(n.op), n.name, type_str(n.dtype, n.shape),
                          it->second.shape.empty() ? "a scalar" : shape_str(it->second.shape));
        return std::nullopt;
      }
      out = Tensor(n.dtype, n.shape);
      out.data = it->second.data;
    } else {
      if (!row.eval) {
        err = fmt::format("internal error: op {} has no reference kernel", row.name);
        return std::nullopt;
      }
      out = Tensor(n.dtype, n.shape);
      args.clear();
      for (NodeId i : n.in) args.push_back(&vals[i]);
      row.eval(args, n, out);
    }
    round_to(out, p);
  }
  return vals;
}

bool train_step(const Graph& g, ValueMap& leaves, Precision p, std::string& err, double* loss) {
  auto vals = evaluate(g, leaves, p, err);
  if (!vals) return false;
  if (loss && g.train.minimize) {
    double s = 0;  // a non-scalar loss is reported as its sum (the gradient autodiff seeds)
    for (double v : (*vals)[*g.train.minimize].data) s += v;
    *loss = s;
  }
  for (const Update& u : g.updates) {
    Tensor t = (*vals)[u.value];
    t.dtype = g[u.target].dtype;
    leaves[g[u.target].name] = std::move(t);
  }
  return true;
}

}  // namespace kiln
