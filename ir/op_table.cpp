// THE op table: the rows of ir/ops/*.cpp indexed by Op; every Op must have exactly one row.
#include "ir/ops/groups.hpp"
#include <array>
#include <cstdio>
#include <cstdlib>

namespace kiln {

namespace {
struct Table {
  std::array<OpRow, kNumOps> rows{};
  std::array<bool, kNumOps> have{};
  Table() {
    for (auto group : {ops::leaf_rows, ops::elementwise_rows, ops::linalg_rows, ops::shape_rows, ops::nn_rows})
      for (const OpRow& r : group()) {
        auto i = static_cast<size_t>(r.op);
        if (have[i]) fail("two rows for op", r.name);
        rows[i] = r;
        have[i] = true;
      }
    for (int i = 0; i < kNumOps; ++i)
      if (!have[i]) fail("no row for op number", std::to_string(i));
  }
  [[noreturn]] static void fail(const char* what, std::string_view name) {
    std::fprintf(stderr, "kiln: internal error: op table: %s %.*s\n", what, int(name.size()), name.data());
    std::abort();
  }
};
const Table& table() {
  static const Table t;
  return t;
}
}  // namespace

const OpRow& op_row(Op op) { return table().rows[static_cast<size_t>(op)]; }

const OpRow* find_op(std::string_view name) {
  for (const OpRow& r : table().rows)
    if (r.name == name) return &r;
  return nullptr;
}

std::string_view init_name(InitKind k) {
  static constexpr std::string_view names[] = {"none", "zeros", "ones", "constant", "normal", "uniform",
      "glorot_uniform", "glorot_normal", "he_normal", "he_uniform", "lecun_normal", "literal"};
  return names[static_cast<size_t>(k)];
}

}  // namespace kiln
