// Finite-difference gradient check of every model in examples/ (and examples/broken/):
// autodiff's gradient of the loss, evaluated in f64, against central differences.
#include "frontend/lower.hpp"
#include "ir/interpreter.hpp"
#include "passes/autodiff.hpp"
#include <catch2/catch.hpp>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

using namespace kiln;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> example_models() {
  std::vector<std::string> out;
  for (const char* dir : {"examples", "examples/broken"})
    for (auto& e : fs::directory_iterator(fs::path(KILN_SOURCE_DIR) / dir))
      if (e.path().extension() == ".model") out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

// The number of classes an i32 input is used with (one_hot's n, or the logits' width).
int64_t classes_of(const Graph& g, NodeId input) {
  int64_t n = 0;
  for (auto& node : g.nodes) {
    if (node.op == Op::one_hot && node.in[0] == input) n = n ? std::min(n, node.attrs.n) : node.attrs.n;
    if (node.op == Op::softmax_cross_entropy && node.in[1] == input) {
      int64_t c = g[node.in[0]].shape.back();
      n = n ? std::min(n, c) : c;
    }
  }
  return n ? n : 2;
}

double loss_of(const Graph& g, const ValueMap& v) {
  std::string err;
  auto vals = evaluate(g, v, Precision::f64, err);
  REQUIRE(vals);
  return (*vals)[*g.train.minimize].data[0];
}

}  // namespace

TEST_CASE("gradients of every example model match central differences", "[gradcheck][models]") {
  // Relative error |a - fd| / max(|a|, |fd|, 1e-3): the floor keeps the f64 rounding noise
  // of the difference quotient (~1e-10 absolute at h = 1e-6) from dominating tiny gradients.
  REQUIRE(example_models().size() >= 5);
  for (const std::string& path : example_models()) {
    DYNAMIC_SECTION(fs::path(path).filename().string()) {
      std::ifstream in(path, std::ios::binary);
      std::stringstream ss;
      ss << in.rdbuf();
      SourceFile file(path, ss.str());
      Diagnostics diags(&file);
      LowerOptions opts;
      opts.batch = 4;
      auto g = compile_source(file, diags, opts);
      REQUIRE(g);
      if (!g->train.minimize || g->params.empty()) {
        SUCCEED("no trainable params: nothing to check");
        continue;
      }
      // stop_gradient's derivative is zero by definition, not the function's: finite
      // differences see through it, so such a model (a broken one) has nothing to compare.
      bool stops = std::any_of(g->nodes.begin(), g->nodes.end(), [](const Node& n) { return n.op == Op::stop_gradient; });
      if (stops) {
        SUCCEED("the loss passes stop_gradient: skipped");
        continue;
      }
      REQUIRE(differentiate(*g, diags));
      REQUIRE(g->grads.size() == g->params.size());

      // Random points (not the initialisers' values, which may sit on a kink, e.g. zeros
      // before relu), scaled like a fan-in initialiser so activations stay moderate.
      ValueMap values = initial_values(*g, 7);
      std::mt19937_64 rng(11);
      std::normal_distribution<double> normal(0.0, 1.0);
      for (NodeId id : g->params) {
        const Node& n = (*g)[id];
        double scale = n.shape.size() >= 2 ? 1.0 / std::sqrt(double(n.shape[0])) : 0.3;
        for (auto& x : values[n.name].data) x = scale * normal(rng);
      }
      for (NodeId id : g->inputs) {
        const Node& n = (*g)[id];
        Tensor t(n.dtype, n.shape);
        if (n.dtype == DType::i32) {
          std::uniform_int_distribution<int64_t> label(0, classes_of(*g, id) - 1);
          for (auto& x : t.data) x = static_cast<double>(label(rng));
        } else {
          for (auto& x : t.data) x = normal(rng);
        }
        values[n.name] = std::move(t);
      }

      std::string err;
      auto vals = evaluate(*g, values, Precision::f64, err);
      REQUIRE(vals);
      bool broken = path.find("/broken/") != std::string::npos;
      if (broken && !std::isfinite((*vals)[*g->train.minimize].data[0])) {
        // e.g. log(relu(z)): a broken model whose loss is not finite has no gradient to check.
        SUCCEED("loss not finite at the check point (a broken model)");
        continue;
      }
      REQUIRE(std::isfinite((*vals)[*g->train.minimize].data[0]));
      const double h = 1e-6;
      double worst = 0;
      for (auto [param, grad] : g->grads) {
        const std::string& name = (*g)[param].name;
        const Tensor& analytic = (*vals)[grad];
        REQUIRE(analytic.shape == (*g)[param].shape);
        std::uniform_int_distribution<size_t> pick(0, analytic.size() - 1);
        for (int k = 0; k < 6; ++k) {
          size_t i = pick(rng);
          ValueMap v = values;
          double x = v[name].data[i];
          v[name].data[i] = x + h;
          double up = loss_of(*g, v);
          v[name].data[i] = x - h;
          double down = loss_of(*g, v);
          double fd = (up - down) / (2 * h), a = analytic.data[i];
          double rel = std::abs(a - fd) / std::max({std::abs(a), std::abs(fd), 1e-3});
          worst = std::max(worst, rel);
          INFO(name << "[" << i << "]: autodiff " << a << ", finite difference " << fd);
          CHECK(rel < 1e-6);
        }
      }
      INFO("worst relative error " << worst);
      CHECK(worst < 1e-6);
    }
  }
}
