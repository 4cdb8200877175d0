// Initial values of params, consts and states from their initialisers (ir/interpreter.hpp:
// initial_values), with a generator seeded from (seed, leaf name); and what each
// initialiser draws from (ir/init_dist.hpp), the one place of their formulas.
#include "ir/init_dist.hpp"
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
  std::mt19937_64 rng(leaf_seed(seed, n.name));
  const InitDist d = init_dist(g, id);
  switch (d.kind) {
    case InitDist::unset: break;
    case InitDist::constant:
      std::fill(t.data.begin(), t.data.end(), d.a);
      break;
    case InitDist::normal: {
      std::normal_distribution<double> dist(d.a, d.b);
      for (double& v : t.data) v = dist(rng);
      break;
    }
    case InitDist::uniform: {
      std::uniform_real_distribution<double> dist(d.a, d.b);
      for (double& v : t.data) v = dist(rng);
      break;
    }
    case InitDist::literal:
      for (size_t i = 0; i < t.data.size() && i < d.data->size(); ++i) t.data[i] = (*d.data)[i];
      break;
  }
  if (n.dtype == DType::i32)
    for (double& v : t.data) v = std::nearbyint(v);
  return t;
}

}  // namespace

InitDist init_dist(const Graph& g, NodeId id) {
  const Init& in = g[id].attrs.init;
  const Fans f = fans(g, id);
  auto normal = [](double mean, double var) { return InitDist{InitDist::normal, mean, std::sqrt(var), var}; };
  auto uniform = [](double lo, double hi, double var) { return InitDist{InitDist::uniform, lo, hi, var}; };
  auto symmetric_uniform = [](double denom, double var) {  // limit sqrt(6 / denom), var = limit^2 / 3
    double limit = std::sqrt(6.0 / denom);
    return InitDist{InitDist::uniform, -limit, limit, var};
  };
  switch (in.kind) {
    case InitKind::none: return {};
    case InitKind::zeros: return {InitDist::constant, 0, 0, 0};
    case InitKind::ones: return {InitDist::constant, 1, 0, 0};
    case InitKind::constant: return {InitDist::constant, in.a, 0, 0};
    case InitKind::normal: return {InitDist::normal, in.a, in.b, in.b * in.b};
    case InitKind::uniform: return uniform(in.a, in.b, (in.b - in.a) * (in.b - in.a) / 12);
    case InitKind::glorot_uniform: return symmetric_uniform(f.in + f.out, 2.0 / (f.in + f.out));
    case InitKind::glorot_normal: return normal(0, 2.0 / (f.in + f.out));
    case InitKind::he_normal: return normal(0, 2.0 / f.in);
    case InitKind::he_uniform: return symmetric_uniform(f.in, 2.0 / f.in);
    case InitKind::lecun_normal: return normal(0, 1.0 / f.in);
    case InitKind::literal: {
      InitDist d{InitDist::literal};
      d.data = &in.data;
      return d;
    }
  }
  return {};
}

ValueMap initial_values(const Graph& g, uint64_t seed) {
  ValueMap m;
  for (const auto* list : {&g.params, &g.consts, &g.states})
    for (NodeId id : *list) m[g[id].name] = initial_value(g, id, seed);
  return m;
}

}  // namespace kiln
