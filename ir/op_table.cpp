// THE op table: the rows of ir/ops/*.cpp indexed by Op; every Op must have exactly one row,
// and every row all that its op needs (checked when the table is first used).
#include "ir/ops/groups.hpp"
#include <array>
#include <cstdio>
#include <cstdlib>
#include <fmt/format.h>
#include <set>
#include <utility>

namespace kiln {

namespace {
struct Table {
  std::array<OpRow, kNumOps> rows{};
  std::array<bool, kNumOps> have{};
  Table() {
    for (auto group : {ops::leaf_rows, ops::elementwise_rows, ops::linalg_rows, ops::shape_rows, ops::nn_rows})
      for (const OpRow& r : group()) {
        auto i = static_cast<size_t>(r.op);
        if (have[i]) fail(fmt::format("two rows for op {}", r.name));
        rows[i] = r;
        have[i] = true;
      }
    for (int i = 0; i < kNumOps; ++i)
      if (!have[i]) fail(fmt::format("no row for op number {}", i));
    std::set<std::pair<CallKind, std::string_view>> operators;
    std::set<std::string_view> functions;
    for (OpRow& r : rows) {
      check(r);
      Surface& s = r.surface;
      if (is_call(s.kind)) {
        if (s.name.empty()) s.name = r.name;
        if (!functions.insert(s.name).second) fail(fmt::format("two ops are called {}", s.name));
      } else if ((s.kind == CallKind::prefix || s.kind == CallKind::infix) && !operators.insert({s.kind, s.name}).second) {
        fail(fmt::format("two ops are the operator {}", s.name));
      }
    }
  }
  // What every row must say: how the language reaches its op, and for a non-leaf its
  // reference kernel, its interval rule and (unless no gradient flows through) its derivative.
  static void check(const OpRow& r) {
    const Surface& s = r.surface;
    bool leaf = r.cls == OpClass::leaf;
    if (s.kind == CallKind::unset)
      fail(fmt::format("the row of op {} does not say how the language reaches it (OpRow::surface: a call, an "
                       "operator, a declaration, or internal)", r.name));
    if ((s.kind == CallKind::declaration && !leaf) || (leaf && s.kind != CallKind::declaration && s.kind != CallKind::internal))
      fail(fmt::format("op {}: only leaves are declared, and leaves are only declared (or internal)", r.name));
    if ((s.kind == CallKind::prefix || s.kind == CallKind::infix) && s.name.empty())
      fail(fmt::format("op {} is an operator without a symbol", r.name));
    if (r.act.kind == ActKind::saturating && !(r.act.max_slope > 0 && !r.act.slope.empty()))
      fail(fmt::format("op {}: a saturating activation says its largest derivative", r.name));
    if (leaf) return;
    if (!r.eval) fail(fmt::format("op {} has no reference kernel (OpRow::eval)", r.name));
    if (!r.interval) fail(fmt::format("op {} has no interval rule (OpRow::interval)", r.name));
    if (!r.zero_grad && !r.grad) fail(fmt::format("op {} has no derivative rule (OpRow::grad)", r.name));
    if (r.zero_grad && r.grad) fail(fmt::format("op {} passes no gradient but has a derivative rule", r.name));
  }
  [[noreturn]] static void fail(const std::string& what) {
    std::fprintf(stderr, "kiln: internal error: op table: %s\n", what.c_str());
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
