// One training step from a shared state on the JIT and on the interpreter (f32), both
// against the f64 reference within the rounding model's tolerances (tests/rounding_model.hpp):
// the loss, every gradient, every param and optimizer state after the step.
#pragma once
#include "jit_test_util.hpp"
#include "rounding_model.hpp"
#include <fmt/format.h>

namespace kiln::jit_test {

struct OneStep {
  double worst_jit = 0, worst_interp = 0;  // the largest |difference| / tolerance
  double param_ulps = 0;  // the JIT's params: the largest difference in ulps of the param's largest magnitude
  std::string worst_at;                    // where the JIT's worst is
};

// `leaves`: params, states and the batch. `lanes`: CompileOptions::lanes (0: the host's).
inline OneStep check_one_step(const Graph& g, const ValueMap& leaves, int lanes = 0) {
  OneStep r;
  std::string err;
  auto model = test::rounding_model(g, leaves, err);
  INFO(err);
  REQUIRE(model);
  auto interp = evaluate(g, leaves, Precision::f32, err);
  REQUIRE(interp);
  backend::CompileOptions co;
  co.lanes = lanes;
  auto cg = backend::compile_graph(g, co, err);
  REQUIRE(cg);
  backend::HostBuffers hb(*cg);
  REQUIRE(hb.set_leaves(leaves, err));
  hb.run(backend::Entry::step);
  ValueMap after = leaves;
  hb.get_state(after);

  // Every root compared: (what, node, the JIT's value).
  std::vector<std::tuple<std::string, NodeId, Tensor>> roots;
  if (g.train.minimize) roots.emplace_back("loss", *g.train.minimize, hb.get(size_t(cg->find(backend::BufferKind::loss, "loss"))));
  for (auto& [p, gr] : g.grads)
    roots.emplace_back("grad " + g[p].name, gr, hb.get(size_t(cg->find(backend::BufferKind::grad, g[p].name))));
  for (const Update& u : g.updates) roots.emplace_back("new " + g[u.target].name, u.value, after.at(g[u.target].name));
  for (auto& [what, node, jit] : roots) {
    test::Agreement a = test::agreement(*model, node, jit), b = test::agreement(*model, node, (*interp)[size_t(node)]);
    INFO(what << ": JIT " << fmt::format("{:.9g}", a.got) << " at element " << a.at << ", reference "
              << fmt::format("{:.9g}", a.want) << ", tolerance " << a.tol << " (" << a.worst << " of it); interpreter "
              << b.worst << " of its tolerance at element " << b.at);
    CHECK(a.worst <= 1);
    CHECK(b.worst <= 1);
    if (a.worst > r.worst_jit) {
      r.worst_jit = a.worst;
      r.worst_at = what;
    }
    r.worst_interp = std::max(r.worst_interp, b.worst);
  }
  for (const Update& u : g.updates) {
    if (g[u.target].op != Op::param) continue;
    const Tensor &want = model->value[size_t(u.value)], &got = after.at(g[u.target].name);
    double big = 0;
    for (double w : want.data) big = std::max(big, std::fabs(w));
    const float w = float(big);
    const double ulp = double(std::nextafter(w, INFINITY)) - double(w);
    for (size_t i = 0; i < want.size(); ++i) r.param_ulps = std::max(r.param_ulps, std::fabs(got.data[i] - want.data[i]) / ulp);
  }
  return r;
}

}  // namespace kiln::jit_test
