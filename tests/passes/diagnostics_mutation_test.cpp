// Property tests of the checks and the stabilize pass ("[diag]", "[stabilize]") on seeded
// mutations of every model in the repository: activations, reductions and arithmetic
// operators swapped at random. The checks must not crash and must locate what they
// report; stabilize must give a verified graph whose loss equals the original's.
#include "ir/interpreter.hpp"
#include "ir/printer.hpp"
#include "passes/stabilize.hpp"
#include "tests/passes/diag_test_util.hpp"
#include <cmath>
#include <random>
#include <regex>

using namespace kiln;

namespace {

const std::vector<std::string> kUnary = {"sigmoid", "tanh", "relu", "exp", "log", "sqrt", "abs", "square",
                                         "softplus", "round", "stop_gradient", "log_sigmoid"};
const std::vector<std::string> kOps = {" + ", " - ", " * ", " / "};

// Replaces 1-3 unary function names or binary operators in expression lines.
std::string mutate(const std::string& text, std::mt19937& rng) {
  std::string out = text;
  int edits = 1 + int(rng() % 3);
  for (int e = 0; e < edits; ++e) {
    std::vector<std::pair<size_t, std::string>> spots;  // (offset, matched text)
    for (auto& f : kUnary)
      for (size_t p = out.find(f + "("); p != std::string::npos; p = out.find(f + "(", p + 1))
        if (p == 0 || !(std::isalnum(static_cast<unsigned char>(out[p - 1])) || out[p - 1] == '_')) spots.push_back({p, f});
    for (auto& o : kOps)
      for (size_t p = out.find(o); p != std::string::npos; p = out.find(o, p + 1)) spots.push_back({p, o});
    if (spots.empty()) break;
    auto [at, what] = spots[rng() % spots.size()];
    bool is_op = what.size() == 3 && what[0] == ' ';
    const auto& pool = is_op ? kOps : kUnary;
    std::string with = pool[rng() % pool.size()];
    out.replace(at, what.size(), with);
  }
  return out;
}

ValueMap leaves(const Graph& g, uint64_t seed) {
  ValueMap v = initial_values(g, seed);
  std::mt19937 rng(seed);
  std::normal_distribution<double> nd(0, 0.5);
  for (NodeId id : g.inputs) {
    const Node& n = g[id];
    Tensor t(n.dtype, n.shape);
    for (double& d : t.data) d = n.dtype == DType::i32 ? 0.0 : (n.name == "y" ? double(rng() % 2) : nd(rng));
    v[n.name] = t;
  }
  return v;
}

}  // namespace

TEST_CASE("checks and stabilize on seeded mutations of every model", "[diag][stabilize]") {
  namespace fs = std::filesystem;
  std::string root = KILN_SOURCE_DIR;
  std::mt19937 rng(2024);
  size_t compiled = 0, rewritten = 0, compared = 0;
  for (const char* dir : {"examples", "examples/broken", "tests/golden/lang"}) {
    for (auto& e : fs::directory_iterator(root + "/" + dir)) {
      if (e.path().extension() != ".model") continue;
      std::string rel = std::string(dir) + "/" + e.path().filename().string();
      std::string text = diagtest::read_source(rel);
      for (int k = 0; k < 40; ++k) {
        std::string m = mutate(text, rng);
        SourceFile f(rel, m);
        Diagnostics d(&f);
        auto g = compile_source(f, d);
        if (!g || d.has_errors()) continue;
        ++compiled;
        INFO(rel << " mutant:\n" << m);
        CheckOptions o;
        o.source = &f;
        run_static_checks(*g, d, o);
        for (auto& x : d.all()) {
          CHECK_FALSE(x.message.empty());
          if (x.loc.valid()) CHECK(x.loc.line <= f.line_count());
        }
        Graph s = *g;
        if (!stabilize(s, d)) continue;
        ++rewritten;
        std::vector<std::string> problems = verify_graph(s);
        INFO(print_ir_text(s));
        REQUIRE(problems.empty());
        if (!g->train.minimize) continue;
        std::string err;
        ValueMap v = leaves(*g, 5);
        auto a = evaluate(*g, v, Precision::f64, err);
        auto b = evaluate(s, v, Precision::f64, err);
        REQUIRE(a);
        REQUIRE(b);
        double la = (*a)[*g->train.minimize].data[0], lb = (*b)[*s.train.minimize].data[0];
        if (!std::isfinite(la)) continue;  // the rewrite may fix a non-finite original
        ++compared;
        CHECK(lb == Approx(la).epsilon(1e-9).margin(1e-12));
      }
    }
  }
  INFO(compiled << " compiled, " << rewritten << " rewritten, " << compared << " compared");
  CHECK(compiled > 300);
  CHECK(rewritten > 10);
  CHECK(compared > 5);
}
