// Constant folding: a node whose operands are all literals becomes a literal holding
// its value, computed with the op row's reference kernel (the interpreter's kernels).
//
// Algorithm:
//  1. Compute the live nodes; walk them in id order (operands before users).
//  2. Skip leaves (params, inputs, consts and states are never folded; literals already
//     are values), ops without a reference kernel, results of more than 1<<16 elements
//     (folding would bloat the program with data), and broadcast_to (it computes
//     nothing: folding would only store the repeated copies).
//  3. If every operand is a literal of at most 1<<20 elements (checked before any of them
//     is materialised: a sum of a huge param must cost nothing) with known data, evaluate
//     the op with its kernel on those values (in double, like the f64 interpreter) and
//     turn the node, in place, into a literal with that data. Its id, type, name and
//     source range are kept, so no use needs rewriting; the former operands may become
//     dead (DCE removes them).
//  4. Because users come after operands, chains of constants fold in one walk.
#include "ir/tensor.hpp"
#include "passes/simplify.hpp"

namespace kiln {

namespace {

constexpr int64_t kMaxFoldElements = int64_t(1) << 16;
// The largest operand folding materialises (a zeros or constant literal is stored as one
// value; its full data is built only to fold it).
constexpr int64_t kMaxFoldOperandElements = int64_t(1) << 20;

class Fold final : public Pass {
 public:
  std::string_view name() const override { return "fold"; }
  PassResult run(Graph& g, Diagnostics&) override {
    std::vector<char> live = live_nodes(g);
    bool changed = false;
    for (NodeId i = 0; i < static_cast<NodeId>(g.size()); ++i) {
      Node& n = g[i];
      const OpRow& row = op_row(n.op);
      if (!live[i] || row.cls == OpClass::leaf || !row.eval || n.in.empty() || n.op == Op::broadcast_to) continue;
      if (num_elements(n.shape) > kMaxFoldElements) continue;
      bool small_literals = true;
      for (NodeId in : n.in)
        small_literals = small_literals && g[in].op == Op::literal && num_elements(g[in].shape) <= kMaxFoldOperandElements;
      if (!small_literals) continue;
      std::vector<Tensor> args;
      args.reserve(n.in.size());
      bool all_literal = true;
      for (NodeId in : n.in) {
        Tensor t;
        t.dtype = g[in].dtype;
        t.shape = g[in].shape;
        if (!literal_values(g[in], t.data)) { all_literal = false; break; }
        args.push_back(std::move(t));
      }
      if (!all_literal) continue;
      std::vector<const Tensor*> ptrs;
      for (auto& t : args) ptrs.push_back(&t);
      Tensor out(n.dtype, n.shape);
      row.eval(ptrs, n, out);
      n.op = Op::literal;
      n.in.clear();
      n.attrs = Attrs{};
      n.attrs.init.kind = InitKind::literal;
      n.attrs.init.data = std::move(out.data);
      changed = true;
    }
    return PassResult::success(changed);
  }
};

}  // namespace

std::unique_ptr<Pass> make_fold_pass() { return std::make_unique<Fold>(); }

}  // namespace kiln
