// The fans of a param (ir/fans.hpp, "[fans]"): the shape rule, and that the initial values
// (ir/init.cpp, drawing from ir/init_dist.hpp) and the range analysis (passes/range.cpp, reading its bounds and moments) agree.
#include "ir/fans.hpp"
#include "ir/interpreter.hpp"
#include "passes/range.hpp"
#include "tests/ir/graph_builder.hpp"
#include <catch2/catch.hpp>
#include <cmath>
#include <fmt/format.h>

using namespace kiln;
using kiln::testing::Builder;
using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;

namespace {

Init init_of(InitKind k) {
  Init i;
  i.kind = k;
  return i;
}

}  // namespace

TEST_CASE("fans follow the shape: 2-D [in, out], 1-D n and n, scalar 1, rank > 2 shape[0] and the rest", "[fans]") {
  Builder b;
  struct Case {
    Shape shape;
    Fans want;
  };
  const Case cases[] = {{{}, {1, 1}},           {{7}, {7, 7}},           {{3, 4}, {3, 4}},
                        {{5, 1}, {5, 1}},       {{1, 9}, {1, 9}},        {{2, 3, 4}, {2, 12}},
                        {{3, 3, 16, 32}, {3, 3 * 16 * 32}}};
  for (const Case& c : cases) {
    NodeId id = b.leaf(Op::param, fmt::format("p{}", b.g.size()), c.shape, DType::f32, init_of(InitKind::he_normal));
    INFO("shape rank " << c.shape.size() << ", " << num_elements(c.shape) << " elements");
    CHECK(fans(b.g, id) == c.want);
  }
}

// Each initialiser that scales by the fans, on shapes of every rank: the range analysis's
// bound and moments are the documented formulas of fans(), and the initial values have that
// bound and spread. A second fan rule in either place (as passes/range.cpp had) fails here
// on the ranks where it differs.
TEST_CASE("the initial values and the range analysis scale by the same fans", "[fans]") {
  const Shape shapes[] = {{200, 100}, {4000}, {10, 20, 30}, {40, 5, 6, 7}};
  const InitKind kinds[] = {InitKind::glorot_uniform, InitKind::glorot_normal, InitKind::he_normal,
                            InitKind::he_uniform, InitKind::lecun_normal};
  for (const Shape& s : shapes)
    for (InitKind k : kinds) {
      Builder b;
      NodeId id = b.leaf(Op::param, "w", s, DType::f64, init_of(k));
      const Fans f = fans(b.g, id);
      INFO(init_name(k) << " on rank " << s.size() << ": fans " << f.in << ", " << f.out);
      double var = 0;
      switch (k) {
        case InitKind::glorot_uniform: case InitKind::glorot_normal: var = 2.0 / (f.in + f.out); break;
        case InitKind::he_normal: case InitKind::he_uniform: var = 2.0 / f.in; break;
        default: var = 1.0 / f.in; break;
      }
      double mean = -1, got_var = -1;
      init_moments(b.g, id, mean, got_var);
      CHECK(mean == 0);
      CHECK_THAT(got_var, WithinRel(var, 1e-12));
      const bool uniform = k == InitKind::glorot_uniform || k == InitKind::he_uniform;
      const double bound = uniform ? std::sqrt(3 * var) : 6 * std::sqrt(var);  // uniform(-l, l) has variance l^2 / 3
      Interval r = init_range(b.g, id);
      CHECK_THAT(r.hi, WithinRel(bound, 1e-12));
      CHECK_THAT(r.lo, WithinRel(-bound, 1e-12));

      const std::vector<double> v = initial_values(b.g, 11).at("w").data;
      double m = 0, sq = 0, hi = 0;
      for (double x : v) m += x, sq += x * x, hi = std::max(hi, std::fabs(x));
      m /= double(v.size());
      const double sd = std::sqrt(sq / double(v.size()) - m * m);
      CHECK(hi <= bound);
      CHECK_THAT(sd, WithinRel(std::sqrt(var), 0.05));
      if (uniform) CHECK_THAT(hi, WithinRel(bound, 0.01));
    }
}
