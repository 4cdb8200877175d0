// Initial values of params, consts and states from their initialisers (ir/interpreter.hpp:
// initial_values), with a generator seeded from (seed, leaf name).
#include "ir/fans.hpp"
#include "ir/interpreter.hpp"
#include <cmath>
#include <random>

namespace kiln {

namespace {

// FNV-1a of the leaf's name mixed with the seed: the values of a leaf do not depend on
// which other leaves exist or on their order.
uint64_t leaf_seed(uint64_t seed, const std::string& name) {
  uint64_t h = 1469598103934665603ull ^ (seed * 0x9E3779B97F4A7C15ull);
  for (unsigned char ch : name) {
    h ^= ch;
    h *= 1099511628211ull;
  }
  return h;
}

Tensor initial_value(const Graph& g, NodeId id, uint64_t seed) {
  const Node& n = g[id];
  Tensor t(n.dtype, n.shape);
  const Init& in = n.attrs.init;
  std::mt19937_64 rng(leaf_seed(seed, n.name));
  const Fans f = fans(g, id);
  const double fan_in = f.in, fan_out = f.out;
  auto normal = [&](double mean, double sd) {
    std::normal_distribution<double> dist(mean, sd);
    for (double& v : t.data) v = dist(rng);
  };
  auto uniform = [&](double lo, double hi) {
    std::uniform_real_distribution<double> dist(lo, hi);
    for (double& v : t.data) v = dist(rng);
  };
  switch (in.kind) {
    case InitKind::none:
    case InitKind::zeros: break;
    case InitKind::ones: std::fill(t.data.begin(), t.data.end(), 1.0); break;
    case InitKind::constant: std::fill(t.data.begin(), t.data.end(), in.a); break;
    case InitKind::normal: normal(in.a, in.b); break;
    case InitKind::uniform: uniform(in.a, in.b); break;
    case InitKind::glorot_uniform: {
      double limit = std::sqrt(6.0 / (fan_in + fan_out));
      uniform(-limit, limit);
      break;
    }
    case InitKind::glorot_normal: normal(0, std::sqrt(2.0 / (fan_in + fan_out))); break;
    case InitKind::he_normal: normal(0, std::sqrt(2.0 / fan_in)); break;
    case InitKind::he_uniform: {
      double limit = std::sqrt(6.0 / fan_in);
      uniform(-limit, limit);
      break;
    }
    case InitKind::lecun_normal: normal(0, std::sqrt(1.0 / fan_in)); break;
    case InitKind::literal:
      for (size_t i = 0; i < t.data.size() && i < in.data.size(); ++i) t.data[i] = in.data[i];
      break;
  }
  if (n.dtype == DType::i32)
    for (double& v : t.data) v = std::nearbyint(v);
  return t;
}

}  // namespace

ValueMap initial_values(const Graph& g, uint64_t seed) {
  ValueMap m;
  for (const auto* list : {&g.params, &g.consts, &g.states})
    for (NodeId id : *list) m[g[id].name] = initial_value(g, id, seed);
  return m;
}

}  // namespace kiln
