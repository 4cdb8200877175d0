// The op table has one row per op, names are unique, every row has all its op needs, and
// shape rules behave.
#include "ir/graph.hpp"
#include <catch2/catch.hpp>
#include <set>

using namespace kiln;

TEST_CASE("every op has one row with a unique name", "[ir][op_table]") {
  std::set<std::string_view> names;
  for (int i = 0; i < kNumOps; ++i) {
    const OpRow& r = op_row(static_cast<Op>(i));
    CHECK(static_cast<int>(r.op) == i);
    CHECK(names.insert(r.name).second);
    CHECK(find_op(r.name) == &r);
    CHECK(r.infer != nullptr);
  }
}

TEST_CASE("every row has its surface, reference kernel, interval rule and derivative", "[ir][op_table]") {
  // The table refuses a row without them when first used (ir/op_table.cpp); this shows it.
  std::set<std::string_view> functions;
  for (int i = 0; i < kNumOps; ++i) {
    const OpRow& r = op_row(static_cast<Op>(i));
    const Surface& s = r.surface;
    INFO("op " << r.name);
    CHECK(s.kind != CallKind::unset);
    CHECK((s.kind == CallKind::declaration) == (r.cls == OpClass::leaf && r.op != Op::state));
    if (is_call(s.kind)) CHECK(functions.insert(s.name).second);
    else if (s.kind == CallKind::infix || s.kind == CallKind::prefix) CHECK(!s.name.empty());
    else CHECK(s.name.empty());
    if (r.cls == OpClass::leaf) continue;
    CHECK(r.eval != nullptr);
    CHECK(r.interval != nullptr);
    CHECK((r.grad == nullptr) == r.zero_grad);
  }
  CHECK(functions.count("leaky_relu"));
}

TEST_CASE("matmul and broadcasting shape rules", "[ir][op_table]") {
  Graph g;
  auto leaf = [&](Shape s) { return g.append(Node{Op::input, DType::f32, s, {}, {}, {}, "x"}); };
  std::string err;
  auto a = leaf({32, 4}), b = leaf({5, 3}), c = leaf({4, 3}), v = leaf({3});
  CHECK_FALSE(g.add(Op::matmul, {a, b}, {}, {}, err));
  CHECK(err == "cannot multiply f32[32,4] by f32[5,3]: inner dimensions 4 and 5 differ");
  auto m = g.add(Op::matmul, {a, c}, {}, {}, err);
  REQUIRE(m);
  CHECK(g[*m].shape == Shape{32, 3});
  auto s = g.add(Op::add, {*m, v}, {}, {}, err);
  REQUIRE(s);
  CHECK(g[*s].shape == Shape{32, 3});
  CHECK_FALSE(g.add(Op::add, {a, v}, {}, {}, err));
  CHECK(err == "shapes f32[32,4] and f32[3] cannot be broadcast together");
}
