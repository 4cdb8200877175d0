// Helpers of the JIT tests: graphs of random cases, running a CompiledGraph, and the
// JIT-vs-interpreter comparison (relative error with a floor; see docs/backend.md).
#pragma once
#include "backend/codegen.hpp"
#include "ir/interpreter.hpp"
#include <catch2/catch.hpp>
#include <cmath>
#include <ctime>
#include <optional>
#include <random>

namespace kiln::jit_test {

// Appends an input or param leaf (and lists it in g.inputs or g.params).
inline NodeId leaf(Graph& g, Op op, std::string name, Shape s, DType t = DType::f32, InitKind init = InitKind::none) {
  Node n{op, t, std::move(s), {}, {}, {}, std::move(name)};
  n.attrs.init.kind = init;
  NodeId id = g.append(std::move(n));
  (op == Op::input ? g.inputs : g.params).push_back(id);
  return id;
}

// CPU time of this thread (for the hidden timing tests: the machine is shared, so wall
// time overstates).
inline double cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

// Builds one graph holding many cases of an op: every case's operands are inputs with
// random values, every case's result is an output.
struct Cases {
  Graph g;
  ValueMap leaves;
  std::mt19937 rng{1234};
  int count = 0;
  DType ft = DType::f32;  // the float type of operands whose type is not given

  // Random input; `gen` draws one value (already representable in the dtype).
  template <class Gen>
  NodeId input(Shape s, Gen gen, DType t) {
    std::string name = "x" + std::to_string(g.inputs.size());
    Node n{Op::input, t, s, {}, {}, {}, name};
    NodeId id = g.append(std::move(n));
    g.inputs.push_back(id);
    Tensor v(t, s);
    for (double& x : v.data) x = gen();
    leaves[name] = std::move(v);
    return id;
  }
  NodeId uniform(Shape s, double lo, double hi, std::optional<DType> ty = {}) {
    DType t = ty.value_or(ft);
    std::uniform_real_distribution<double> d(lo, hi);
    return input(std::move(s), [&] { return t == DType::f32 ? double(float(d(rng))) : d(rng); }, t);
  }
  NodeId integers(Shape s, int lo, int hi, std::optional<DType> t = {}) {  // integer values in [lo, hi]
    std::uniform_int_distribution<int> d(lo, hi);
    return input(std::move(s), [&] { return double(d(rng)); }, t.value_or(ft));
  }
  NodeId lit(Shape s, std::vector<double> data, std::optional<DType> t = {}) {
    Node n{Op::literal, t.value_or(ft), std::move(s), {}, {}, {}, ""};
    n.attrs.init.kind = InitKind::literal;
    n.attrs.init.data = std::move(data);
    return g.append(std::move(n));
  }
  NodeId op(Op o, std::vector<NodeId> in, Attrs a = {}) {
    std::string err;
    auto id = g.add(o, std::move(in), std::move(a), {}, err);
    INFO(err);
    REQUIRE(id);
    return *id;
  }
  void out(NodeId id) { g.outputs.push_back({"c" + std::to_string(count++), id}); }
};

inline Attrs axes(std::vector<int64_t> ax, bool keepdims = false) {
  Attrs a;
  a.axes = std::move(ax);
  a.keepdims = keepdims;
  return a;
}

// |a - b| / max(|a|, |b|, floor); 0 when both are NaN or equal (infinities).
inline double rel_err(double a, double b, double floor) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b) ? 0 : INFINITY;
  if (a == b) return 0;
  if (std::isinf(a) || std::isinf(b)) return INFINITY;
  return std::fabs(a - b) / std::max({std::fabs(a), std::fabs(b), floor});
}

// The worst relative error of `got` against `want`; `scaled`: the floor is the largest
// magnitude in `want` (for results that accumulate: matmul, reductions, softmax family),
// else 1e-6.
inline double worst_err(const Tensor& got, const Tensor& want, bool scaled, size_t* where = nullptr) {
  double floor = 1e-6;
  if (scaled)
    for (double v : want.data)
      if (std::isfinite(v)) floor = std::max(floor, std::fabs(v));
  double worst = 0;
  for (size_t i = 0; i < want.data.size(); ++i) {
    double e = rel_err(got.data[i], want.data[i], floor);
    if (e > worst) {
      worst = e;
      if (where) *where = i;
    }
  }
  return worst;
}

}  // namespace kiln::jit_test
