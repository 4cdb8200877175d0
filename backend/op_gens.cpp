// The backend's generator table: the entries of the generator files indexed by op, checked
// complete (one generator per op but the leaves) when first used, as ir/op_table.cpp checks rows.
#include "backend/op_gens.hpp"
#include <array>
#include <cstdio>
#include <cstdlib>
#include <fmt/format.h>

namespace kiln::backend {

namespace {
struct Table {
  std::array<OpGen, kNumOps> gens{};
  std::array<int, kNumOps> count{};
  std::vector<std::string> problems;

  Table() {
    for (auto group : {elemental_gens, reduce_gens, shape_gens, nn_gens, matmul_gens})
      for (const OpGenEntry& e : group()) {
        auto i = static_cast<size_t>(e.op);
        if (++count[i] == 1) gens[i] = e.gen;
      }
    for (int i = 0; i < kNumOps; ++i) {
      const OpRow& row = op_row(Op(i));
      const OpGen& g = gens[i];
      bool leaf = row.cls == OpClass::leaf;
      if (count[i] > 1) problems.push_back(fmt::format("two generators for op {}", row.name));
      if (leaf && count[i]) problems.push_back(fmt::format("a generator for the leaf op {}", row.name));
      if (leaf) continue;
      if (!count[i]) {
        problems.push_back(fmt::format("no generator for op {}", row.name));
        continue;
      }
      bool elementwise = row.cls == OpClass::unary || row.cls == OpClass::binary || row.cls == OpClass::ternary;
      if (elementwise && !g.elem) problems.push_back(fmt::format("no element generator for the elementwise op {}", row.name));
      if (!g.kernel && !g.alias) problems.push_back(fmt::format("the generator of op {} emits no kernel", row.name));
    }
  }
};
const Table& table() {
  static const Table t;
  return t;
}
}  // namespace

std::vector<std::string> op_gen_problems() { return table().problems; }

const OpGen& op_gen(Op op) {
  static const Table& t = [] () -> const Table& {
    const Table& t = table();
    if (!t.problems.empty()) {
      for (const std::string& p : t.problems) std::fprintf(stderr, "kiln: internal error: backend generator table: %s\n", p.c_str());
      std::abort();
    }
    return t;
  }();
  return t.gens[static_cast<size_t>(op)];
}

}  // namespace kiln::backend
